// The runner: steps in runbook order under listr2, the section 4.1 checks after each step, and
// compensation of a failed apply from the journal (DESIGN.md §4).
import { Listr, ListrLogger, ProcessOutput, type ListrTask } from 'listr2';
import type { AwsClients, CallRecord } from '../aws/clients.js';
import type { RunbookConfig } from '../config.js';
import { describeAwsError, HalfAppliedError, InterruptedError, RunbookError, StepError } from './errors.js';
import type { Journal } from './journal.js';
import { Outputs, type Change, type Finding, type Step, type StepContext, type StepId, type WriteRecorder } from './step.js';

export type StepStatus = 'planned' | 'in-sync' | 'applied' | 'failed' | 'rolled-back' | 'rollback-failed' | 'not-run';

export interface StepReport {
  id: StepId;
  section: string;
  title: string;
  status: StepStatus;
  changes: Change[];
  findings: Finding[];
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
  calls: { reads: number; writes: number; byOperation: CallRecord[] };
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
  };
}

/** Reads, writes and per-operation counts of this process's AWS calls, for reports. */
export function callSummary(clients: AwsClients): RunReport['calls'] {
  return { reads: clients.counter.total('read'), writes: clients.counter.total('write'), byOperation: clients.counter.list() };
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

/** Read-only: what would change. Outputs of steps that already exist feed the later plans. */
export async function runPlan(steps: Step[], options: RunnerOptions): Promise<RunReport> {
  const ctx = createContext(options);
  const reports: StepReport[] = [];
  for (const step of steps) {
    throwIfAborted(options.signal);
    const plan = await step.plan(ctx);
    if (plan.outputs) ctx.outputs.set(step.id, plan.outputs as never);
    reports.push({ ...emptyReport(step), status: plan.changes.length ? 'planned' : 'in-sync', changes: plan.changes });
  }
  return { command: 'plan', ok: true, steps: reports, findings: [], calls: callSummary(options.clients) };
}

export interface ApplyOptions extends RunnerOptions {
  journal: Journal;
  /** Undo this run's changes when a step or its checks fail (default true). */
  rollbackOnFailure: boolean;
  /** Checks run before the first write; a problem stops the run with no write made. */
  preflight?: (ctx: StepContext) => Promise<void>;
}

function listrOptions(options: RunnerOptions) {
  const logger = new ListrLogger({ processOutput: new ProcessOutput(options.humanStream, options.humanStream) });
  return {
    renderer: options.lineRenderer ? ('simple' as const) : ('default' as const),
    fallbackRenderer: 'simple' as const,
    rendererOptions: { logger, collapseSubtasks: false, showErrorMessage: true },
    fallbackRendererOptions: { logger },
    registerSignalListeners: false, // the CLI owns SIGINT (DESIGN.md §4)
    exitOnError: true,
    collectErrors: false as const,
  };
}

export async function runApply(steps: Step[], options: ApplyOptions): Promise<RunReport> {
  const ctx = createContext({ ...options, recorder: options.journal });
  const reports = steps.map(emptyReport);
  const touched: Array<{ step: Step; before: unknown; report: StepReport }> = [];
  const { journal } = options;
  journal.signal = options.signal;
  let preflightFailed = false;

  const tasks: ListrTask[] = [];
  if (options.preflight) {
    tasks.push({
      title: 'Preflight: inputs exist and are usable',
      task: async (_c, task) => {
        ctx.report = (m) => (task.output = m);
        try {
          await options.preflight!(ctx);
        } catch (error) {
          preflightFailed = true;
          throw error;
        }
      },
    });
  }
  steps.forEach((step, index) => {
    const report = reports[index];
    tasks.push({
      title: `${step.section} ${step.title}`,
      task: async (_c, task) => {
        throwIfAborted(options.signal);
        ctx.report = (message) => (task.output = message);
        const plan = await step.plan(ctx);
        report.changes = plan.changes;
        journal.append({ type: 'step-plan', at: new Date().toISOString(), step: step.id, changes: plan.changes.length, before: plan.before });
        if (plan.changes.length) {
          touched.push({ step, before: plan.before, report });
          task.title = `${step.section} ${step.title}: applying ${plan.changes.length} change(s)`;
        }
        ctx.outputs.set(step.id, (await step.apply(ctx, plan)) as never);
        report.status = plan.changes.length ? 'applied' : 'in-sync';
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
        task.title = `${step.section} ${step.title}: ${plan.changes.length ? `${plan.changes.length} change(s) applied` : 'up to date'}${checks}`;
      },
    });
  });

  let failure: unknown;
  try {
    await new Listr(tasks, listrOptions(options)).run();
  } catch (error) {
    failure = options.signal.aborted ? new InterruptedError() : error;
  }

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
  // A failed preflight ran no step: no step is to blame, and there is nothing to undo.
  const failedReport = preflightFailed ? undefined : reports.find((r) => r.status === 'not-run' || r.status === 'failed');
  if (failedReport && failedReport.status === 'not-run' && !(failure instanceof InterruptedError)) failedReport.status = 'failed';
  if (failedReport) failedReport.error = runReport.error;
  const toUndo = touched.filter(({ step }) => journal.wrote(step.id));

  // An interrupted run keeps its state: the operator asked to stop, not to undo (next apply converges).
  if (failure instanceof InterruptedError || !options.rollbackOnFailure || toUndo.length === 0) {
    journal.append({ type: 'run-end', at: new Date().toISOString(), outcome: failure instanceof InterruptedError ? 'interrupted' : 'failed', detail: runReport.error });
    throw Object.assign(failure instanceof RunbookError ? failure : new RunbookError(runReport.error, { cause: failure }), { report: runReport });
  }

  // Only steps with a completed write are undone: a create that failed (e.g. someone else made
  // the resource between our plan and our write) must not lead us to delete their resource.
  runReport.compensation = await compensate(ctx, toUndo, options);
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

/** Undo, newest first, every step this run changed; each step restores its own `before`. */
async function compensate(
  ctx: StepContext,
  touched: Array<{ step: Step; before: unknown; report: StepReport }>,
  options: ApplyOptions,
): Promise<Compensation> {
  const undone: string[] = [];
  const needsPerson: string[] = [];
  const notes: string[] = [];
  ctx.report = (message) => notes.push(message);
  options.humanStream.write(`\nUndoing this run's changes (${touched.length} step(s)), newest first:\n`);
  for (const { step, before, report } of [...touched].reverse()) {
    try {
      await step.rollback(ctx, before);
      report.status = 'rolled-back';
      undone.push(`${step.section} ${step.title}`);
      options.journal.append({ type: 'step-done', at: new Date().toISOString(), step: step.id, outcome: 'rolled-back' });
      options.humanStream.write(`  ↩ ${step.section} ${step.title}: restored\n`);
    } catch (error) {
      report.status = 'rollback-failed';
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
  const reports: StepReport[] = [];
  for (const step of steps) {
    throwIfAborted(options.signal);
    const findings = [...(await step.validate(ctx))];
    if (step.postDeployChecks) findings.push(...(await step.postDeployChecks(ctx, { wait: false })));
    reports.push({ ...emptyReport(step), status: findings.some((f) => f.status === 'FAIL') ? 'failed' : 'in-sync', findings });
  }
  const extra = (await Promise.all(extraChecks.map((check) => check(ctx)))).flat();
  const findings = [...reports.flatMap((r) => r.findings), ...extra];
  return {
    command: 'validate',
    ok: !findings.some((f) => f.status === 'FAIL'),
    steps: reports,
    findings,
    calls: callSummary(options.clients),
  };
}
