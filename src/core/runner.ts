// The runner: steps in runbook order under listr2, the section 4.1 checks after each step, and
// compensation of a failed apply from the journal (DESIGN.md §4).
import { Listr, ListrLogger, ProcessOutput, type ListrBaseClassOptions, type ListrRendererValue, type ListrTask } from 'listr2';
import type { AwsClients, CallRecord } from '../aws/clients.js';
import type { RunbookConfig } from '../config.js';
import { describeAwsError, HalfAppliedError, InterruptedError, RunbookError, StepError } from './errors.js';
import type { Journal } from './journal.js';
import { LineRenderer } from './line-renderer.js';
import { Outputs, type Change, type Finding, type Observed, type Plan, type Step, type StepContext, type StepId, type WriteRecorder } from './step.js';

export type StepStatus = 'planned' | 'in-sync' | 'applied' | 'failed' | 'rolled-back' | 'rollback-failed' | 'not-run';

export interface StepReport {
  id: StepId;
  section: string;
  title: string;
  status: StepStatus;
  changes: Change[];
  findings: Finding[];
  /** Number of SDK commands the plan holds for this step. */
  actions?: number;
  notes?: string[];
  error?: string;
}

export interface RunReport {
  command: string;
  ok: boolean;
  steps: StepReport[];
  findings: Finding[];
  /** After a failed apply: what was undone, what a person must look at, and what was kept on purpose. */
  compensation?: Compensation;
  journal?: string;
  calls: { reads: number; writes: number; cachedReads?: number; byOperation: CallRecord[] };
  error?: string;
}

export interface Compensation {
  undone: string[];
  /** Rollbacks that failed: the environment may be half-applied. */
  needsPerson: string[];
  /** What the steps said while undoing (e.g. a repository kept because it holds images). */
  notes: string[];
}

export interface RunnerOptions {
  config: RunbookConfig;
  clients: AwsClients;
  recorder: WriteRecorder;
  signal: AbortSignal;
  pollIntervalMs?: number;
  /** Where human progress goes: stderr when stdout carries JSON. */
  humanStream: NodeJS.WriteStream;
  /** The line renderer instead of listr2's animated one (no TTY, CI, --json). */
  lineRenderer: boolean;
  /** The whole runbook, for the outputs of steps `--only` left out that a selected step needs. */
  runbook?: Step[];
}

export function createContext(options: RunnerOptions): StepContext {
  return {
    config: options.config,
    clients: options.clients,
    outputs: new Outputs(),
    recorder: options.recorder,
    report: () => {},
    signal: options.signal,
    pollIntervalMs: options.pollIntervalMs ?? 5000,
    bindings: new Map(),
  };
}

/** Reads, writes and per-operation counts of this process's AWS calls, for reports. */
export function callSummary(clients: AwsClients): RunReport['calls'] {
  return {
    reads: clients.counter.total('read'),
    writes: clients.counter.total('write'),
    // Identical reads answered from the per-run cache instead of being sent again.
    cachedReads: clients.cache?.hits ?? 0,
    byOperation: clients.counter.list(),
  };
}

const emptyReport = (step: Step): StepReport => ({
  id: step.id,
  section: step.section,
  title: step.title,
  status: 'not-run',
  changes: [],
  findings: [],
});

/** "Scaling Ready OK ×3, Logs Flowing WARN": one entry per check, its worst status. */
export function summariseChecks(findings: Finding[]): string {
  const rank = { FAIL: 3, WARN: 2, SKIP: 1, OK: 0 } as const;
  const byCheck = new Map<string, Finding[]>();
  for (const finding of findings) byCheck.set(finding.check, [...(byCheck.get(finding.check) ?? []), finding]);
  return [...byCheck]
    .map(([check, list]) => {
      const worst = list.reduce((a, b) => (rank[b.status] > rank[a.status] ? b : a)).status;
      return `${check} ${worst}${list.length > 1 ? ` ×${list.length}` : ''}`;
    })
    .join(', ');
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new InterruptedError();
}

/** A plan for the whole run: per step, exactly what apply will send. */
export interface StepPlan {
  step: Step;
  plan: Plan;
}

/**
 * Every selected step's observation, started at once: what a step reads never depends on another
 * step's outputs (only its desired documents do), so all reads go out together and the plans are
 * then made in graph order. A failed read is thrown where its step is planned or judged.
 */
export function observeAll(steps: Step[], ctx: StepContext): Map<StepId, Promise<Observed>> {
  const observations = new Map(steps.map((step) => [step.id, step.observe(ctx)] as const));
  for (const observation of observations.values()) observation.catch(() => {});
  return observations;
}

/**
 * Read-only: every step's plan, in runbook order. Later steps plan against the outputs of earlier
 * ones, ref tokens where a value only exists once apply has run (DESIGN.md §3).
 */
export async function planSteps(steps: Step[], ctx: StepContext, runbook: Step[] = steps, observations = observeAll(steps, ctx)): Promise<StepPlan[]> {
  await observeUnselectedNeeds(steps, ctx, runbook);
  const plans = new Map<StepId, Plan>();
  // A step is planned once the steps it needs are (their outputs go into its desired documents).
  await inGraphOrder(steps, ctx.signal, async (step) => {
    const plan = await step.plan(ctx, await observations.get(step.id)!);
    ctx.outputs.set(step.id, plan.outputs as never);
    plans.set(step.id, plan);
  });
  return steps.map((step) => ({ step, plan: plans.get(step.id)! }));
}

/** Concurrent steps at most (a limit keeps the API's rate limits and the report readable). */
export const STEP_CONCURRENCY = 4;

/**
 * Run `work` for every step once the selected steps it needs are done, at most STEP_CONCURRENCY at
 * a time, starting in runbook order. On the first failure no further step starts; the ones
 * running finish; then the first error is thrown.
 */
export async function inGraphOrder(steps: Step[], signal: AbortSignal, work: (step: Step) => Promise<void>, limit = STEP_CONCURRENCY): Promise<void> {
  const selected = new Set(steps.map((s) => s.id));
  const done = new Map<StepId, Promise<void>>();
  let failure: { error: unknown } | undefined;
  let running = 0;
  const slots: Array<() => void> = [];
  const slot = async () => {
    while (running >= limit) await new Promise<void>((resolve) => slots.push(resolve));
    running++;
  };
  const release = () => {
    running--;
    slots.shift()?.();
  };
  for (const step of steps) {
    const needs = step.needs.filter((id) => selected.has(id)).map((id) => done.get(id)!);
    done.set(
      step.id,
      (async () => {
        // A step whose need failed does not start.
        await Promise.all(needs).catch(() => {
          throw new SkippedStep();
        });
        await slot();
        try {
          if (failure) throw new SkippedStep();
          throwIfAborted(signal);
          await work(step);
        } catch (error) {
          if (!(error instanceof SkippedStep)) failure ??= { error };
          throw error;
        } finally {
          release();
        }
      })(),
    );
  }
  await Promise.allSettled(done.values());
  if (failure) throw failure.error;
}

/** A step not started because an earlier one failed. */
class SkippedStep extends Error {}

/**
 * `--only task-definition,service`: the service still needs the target group's ARN. Steps that a
 * selected step needs but that are not selected are observed (read-only) for their outputs.
 */
async function observeUnselectedNeeds(steps: Step[], ctx: StepContext, runbook: Step[]): Promise<void> {
  const selected = new Set(steps.map((s) => s.id));
  const wanted = new Set<StepId>();
  const visit = (step: Step) => {
    for (const id of step.needs) {
      if (wanted.has(id)) continue;
      wanted.add(id);
      const needed = runbook.find((s) => s.id === id);
      if (needed) visit(needed);
    }
  };
  steps.forEach(visit);
  const unselected = runbook.filter((s) => wanted.has(s.id) && !selected.has(s.id));
  const observed = await Promise.all(unselected.map((step) => step.observe(ctx)));
  unselected.forEach((step, i) => ctx.outputs.set(step.id, step.outputs(ctx, observed[i]) as never));
}

export function planReport(plans: StepPlan[], clients: AwsClients, command = 'plan'): RunReport {
  return {
    command,
    ok: true,
    steps: plans.map(({ step, plan }) => ({
      ...emptyReport(step),
      status: plan.actions.length || plan.changes.length ? 'planned' : 'in-sync',
      changes: plan.changes,
      ...(plan.notes?.length ? { notes: plan.notes } : {}),
      actions: plan.actions.length,
    })),
    findings: [],
    calls: callSummary(clients),
  };
}

/** `plan`: read-only. */
export async function runPlan(steps: Step[], options: RunnerOptions): Promise<RunReport & { plans: StepPlan[] }> {
  const ctx = createContext(options);
  const plans = await planSteps(steps, ctx, options.runbook);
  return { ...planReport(plans, options.clients), plans };
}

export interface ApplyOptions extends RunnerOptions {
  journal: Journal;
  /** Undo this run's changes when a step or its checks fail (default true). */
  rollbackOnFailure: boolean;
  /** The context the plans were made in (its outputs and bindings carry over). */
  ctx?: StepContext;
}

function listrOptions(options: RunnerOptions): ListrBaseClassOptions<unknown, ListrRendererValue, ListrRendererValue> {
  const logger = new ListrLogger({ processOutput: new ProcessOutput(options.humanStream, options.humanStream) });
  // No TTY, CI, --json: one line per step outcome, no start line (src/core/line-renderer.ts).
  const lines = { stream: options.humanStream };
  return {
    ...(options.lineRenderer
      ? { renderer: LineRenderer, rendererOptions: lines }
      : { renderer: 'default' as const, rendererOptions: { logger, collapseSubtasks: false, showErrorMessage: true } }),
    fallbackRenderer: LineRenderer,
    fallbackRendererOptions: lines,
    registerSignalListeners: false, // the CLI owns SIGINT (DESIGN.md §4)
    exitOnError: true,
    collectErrors: false as const,
  };
}

/**
 * `apply`: send exactly the planned actions, step by step, through the journal; the section 4.1
 * checks after each step. On failure, converge every step this run wrote back to its `before`.
 */
export async function runApply(plans: StepPlan[], options: ApplyOptions): Promise<RunReport> {
  const ctx = options.ctx ?? createContext(options);
  ctx.recorder = options.journal;
  const reports: StepReport[] = plans.map(({ step, plan }) => ({ ...emptyReport(step), changes: plan.changes, actions: plan.actions.length }));
  const { journal } = options;
  journal.signal = options.signal;

  // Independent steps run concurrently (DESIGN.md §4); each waits for the steps it needs. After a
  // failure no further step starts, the running ones finish, then the run is compensated.
  const selected = new Set(plans.map(({ step }) => step.id));
  const finished = new Map<StepId, Promise<void>>();
  const settle = new Map<StepId, { resolve: () => void; reject: (e: unknown) => void }>();
  for (const { step } of plans) {
    const promise = new Promise<void>((resolve, reject) => settle.set(step.id, { resolve, reject }));
    promise.catch(() => {}); // observed through `failure`
    finished.set(step.id, promise);
  }
  let failure: unknown;
  const tasks: ListrTask[] = plans.map(({ step, plan }, index) => {
    const report = reports[index];
    return {
      title: `${step.section} ${step.title}`,
      task: async (_c, task) => {
        try {
          const needs = step.needs.filter((id) => selected.has(id)).map((id) => finished.get(id)!);
          const ready = await Promise.all(needs).then(
            () => !failure,
            () => false,
          );
          if (!ready) {
            task.skip(`${step.section} ${step.title}: not started (an earlier step failed)`);
            settle.get(step.id)!.reject(new Error('not started'));
            return;
          }
          throwIfAborted(options.signal);
          ctx.report = (message) => (task.output = message);
          journal.append({ type: 'step-plan', at: new Date().toISOString(), step: step.id, changes: plan.changes.length, actions: plan.actions.length, before: plan.before });
          if (plan.actions.length) task.title = `${step.section} ${step.title}: applying ${plan.actions.length} action(s)`;
          ctx.outputs.set(step.id, (await step.apply(ctx, plan as never)) as never);
          report.status = plan.actions.length ? 'applied' : 'in-sync';
          if (step.postDeployChecks) {
            throwIfAborted(options.signal);
            task.title = `${step.section} ${step.title}: section 4.1 checks`;
            report.findings = await step.postDeployChecks(ctx, { wait: true });
            const failed = report.findings.filter((f) => f.status === 'FAIL');
            if (failed.length) {
              report.status = 'failed';
              throw new StepError(step.id, failed.map((f) => `${f.check} FAIL ${f.resource}: ${f.reason}`).join('; '));
            }
          }
          journal.append({ type: 'step-done', at: new Date().toISOString(), step: step.id, outcome: report.status as 'applied' | 'in-sync' });
          const checks = report.findings.length ? `, ${summariseChecks(report.findings)}` : '';
          task.title = `${step.section} ${step.title}: ${plan.actions.length ? `${plan.changes.length} change${plan.changes.length === 1 ? '' : 's'} applied` : 'up to date'}${checks}`;
          settle.get(step.id)!.resolve();
        } catch (error) {
          report.status = 'failed';
          report.error = error instanceof Error ? describeAwsError(error) : String(error);
          failure ??= error;
          settle.get(step.id)!.reject(error);
          throw error;
        }
      },
    };
  });

  try {
    await new Listr(tasks, { ...listrOptions(options), concurrent: STEP_CONCURRENCY, exitOnError: false }).run();
  } catch (error) {
    failure ??= error;
  }
  if (failure && options.signal.aborted) failure = new InterruptedError();

  const runReport: RunReport = {
    command: 'apply',
    ok: !failure,
    steps: reports,
    findings: reports.flatMap((r) => r.findings),
    journal: journal.file,
    calls: callSummary(options.clients),
  };
  if (!failure) {
    journal.append({ type: 'run-end', at: new Date().toISOString(), outcome: 'ok' });
    return runReport;
  }
  runReport.error = failure instanceof Error ? describeAwsError(failure) : String(failure);
  if (failure instanceof InterruptedError) {
    // Interrupted: the step that was running did not fail, it was stopped.
    for (const r of reports) if (r.status === 'failed' && !r.findings.some((f) => f.status === 'FAIL')) r.status = 'not-run';
  }
  // Only steps with a completed write are undone: nothing else of this run touched AWS.
  const toUndo = plans.map((p, i) => ({ ...p, report: reports[i] })).filter(({ step }) => journal.wrote(step.id));

  // An interrupted run keeps its state: the operator asked to stop, not to undo (next apply converges).
  if (failure instanceof InterruptedError || !options.rollbackOnFailure || toUndo.length === 0) {
    journal.append({ type: 'run-end', at: new Date().toISOString(), outcome: failure instanceof InterruptedError ? 'interrupted' : 'failed', detail: runReport.error });
    throw Object.assign(failure instanceof RunbookError ? failure : new RunbookError(runReport.error, { cause: failure }), { report: runReport });
  }

  runReport.compensation = await compensate(ctx, toUndo, { ...options, created: (step) => journal.created(step) });
  const halfApplied = runReport.compensation.needsPerson.length > 0;
  journal.append({ type: 'run-end', at: new Date().toISOString(), outcome: halfApplied ? 'half-applied' : 'rolled-back', detail: runReport.error });
  runReport.calls = callSummary(options.clients);
  const error = halfApplied
    ? new HalfAppliedError(`apply failed (${runReport.error}) and undoing it did not complete`, { cause: failure })
    : failure instanceof RunbookError
      ? failure
      : new RunbookError(runReport.error, { cause: failure });
  throw Object.assign(error, { report: runReport });
}

/**
 * Undo, newest first, every step this run wrote: each converges back to its `before` with the
 * same diff and executor as apply, and deletes only what the journal proves this run created.
 */
export async function compensate(
  ctx: StepContext,
  touched: Array<StepPlan & { report?: StepReport }>,
  options: Pick<ApplyOptions, 'journal' | 'humanStream'> & { created: (step: StepId) => ReadonlySet<string> },
): Promise<Compensation> {
  const undone: string[] = [];
  const needsPerson: string[] = [];
  const notes: string[] = [];
  ctx.recorder = options.journal;
  options.humanStream.write(`\nUndoing this run's changes (${touched.length} step(s)), newest first:\n`);
  for (const { step, plan, report } of [...touched].reverse()) {
    try {
      notes.push(...(await step.rollback(ctx, plan.before, options.created(step.id))));
      if (report) report.status = 'rolled-back';
      undone.push(`${step.section} ${step.title}`);
      options.journal.append({ type: 'step-done', at: new Date().toISOString(), step: step.id, outcome: 'rolled-back' });
      options.humanStream.write(`  ↩ ${step.section} ${step.title}: restored\n`);
    } catch (error) {
      if (report) report.status = 'rollback-failed';
      const message = `${step.section} ${step.title}: ${describeAwsError(error)}`;
      needsPerson.push(message);
      options.journal.append({ type: 'step-done', at: new Date().toISOString(), step: step.id, outcome: 'rollback-failed', detail: message });
      options.humanStream.write(`  ✖ ${message}\n`);
    }
  }
  for (const note of notes) options.humanStream.write(`  · ${note}\n`);
  return { undone, needsPerson, notes };
}

/** Every step's validate plus its 4.1 checks judged as they are now; never writes. */
export async function runValidate(
  steps: Step[],
  options: RunnerOptions,
  extraChecks: Array<(ctx: StepContext) => Promise<Finding[]>> = [],
): Promise<RunReport> {
  const ctx = createContext(options);
  const byStep = new Map<StepId, StepReport>();
  // Read-only: one read per resource (the read cache); every step's reads and the extra checks
  // (the checklist, the controls) go out together.
  const observations = observeAll(steps, ctx);
  const extraFindings = Promise.all(extraChecks.map((check) => check(ctx)));
  extraFindings.catch(() => {});
  await observeUnselectedNeeds(steps, ctx, options.runbook ?? steps);
  await inGraphOrder(steps, options.signal, async (step) => {
    // Later steps judge against what earlier ones own (the service against the task definition).
    ctx.outputs.set(step.id, step.outputs(ctx, await observations.get(step.id)!) as never);
    const findings = [...(await step.validate(ctx))];
    if (step.postDeployChecks) findings.push(...(await step.postDeployChecks(ctx, { wait: false })));
    byStep.set(step.id, { ...emptyReport(step), status: findings.some((f) => f.status === 'FAIL') ? 'failed' : 'in-sync', findings });
  });
  const extra = (await extraFindings).flat();
  const reports = steps.map((step) => byStep.get(step.id)!);
  const findings = [...reports.flatMap((r) => r.findings), ...extra];
  return {
    command: 'validate',
    ok: !findings.some((f) => f.status === 'FAIL'),
    steps: reports,
    findings,
    calls: callSummary(options.clients),
  };
}
