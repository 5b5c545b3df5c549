// The runner (DESIGN.md §4): steps in order under listr2, the 4.1 checks after each step, and
// compensation of a failed apply driven by the journal. Fake steps, a real Journal in a temp dir,
// no AWS call (the clients are real but never used).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createClients } from '../../src/aws/clients.js';
import { ExitCode, HalfAppliedError, InterruptedError, RunbookError, StepError } from '../../src/core/errors.js';
import { Journal, readJournal, type JournalEntry } from '../../src/core/journal.js';
import { createContext, planSteps, runApply, runPlan, runValidate, type ApplyOptions, type RunReport, type RunnerOptions } from '../../src/core/runner.js';
import { fail, ok, passThroughRecorder, warn, type Change, type Finding, type Plan, type Step, type StepContext, type StepId } from '../../src/core/step.js';
import { awsError, testConfig } from '../helpers/mock-aws.js';

/** A writable that keeps what the runner prints. */
function collectingStream() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk) => (text += chunk.toString()));
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

interface FakeOptions {
  changes?: number;
  before?: unknown;
  outputs?: unknown;
  /** Writes apply makes through ctx.recorder; a function makes a failing write. */
  writes?: Array<'ok' | Error>;
  /** Thrown by apply after its writes. */
  applyError?: unknown;
  checks?: Finding[];
  validate?: Finding[];
  rollbackError?: unknown;
  /** Returned by rollback as a note (e.g. "kept: holds images"). */
  rollbackNote?: string;
  /** Runs inside apply, before the writes (e.g. abort the signal). */
  duringApply?: (ctx: StepContext) => void;
  /** Reads outputs of earlier steps during plan. */
  planReads?: StepId[];
}

const SECTIONS: Record<string, string> = { cluster: '1.1', ecr: '1.2', iam: '1.3', 'task-definition': '1.4', 'load-balancer': '1.5', service: '1.6' };

/** The order in which plan/apply/rollback/checks ran, across all fake steps. */
let events: string[];

function fakeStep(id: StepId, options: FakeOptions = {}) {
  const changes: Change[] = Array.from({ length: options.changes ?? 0 }, (_, i) => ({ resource: `${id} resource ${i}`, action: 'create' as const }));
  const seenInPlan: Record<string, unknown> = {};
  const step = {
    id,
    section: SECTIONS[id] ?? '9.9',
    title: `Fake ${id}`,
    plan: vi.fn(async (ctx: StepContext): Promise<Plan> => {
      events.push(`plan ${id}`);
      for (const earlier of options.planReads ?? []) seenInPlan[earlier] = ctx.outputs.get(earlier);
      const actions = changes.map((c, i) => ({ step: id, resourceId: `${id}-${i}`, resource: c.resource, kind: 'create' as const, service: 'ecs' as const, operation: `Create${i}`, input: {} }));
      return { changes, actions, before: (options.before ?? {}) as Plan['before'], outputs: options.outputs ?? { id } };
    }),
    apply: vi.fn(async (ctx: StepContext, plan: Plan) => {
      events.push(`apply ${id}`);
      options.duringApply?.(ctx);
      for (const [i, write] of (options.writes ?? (plan.changes.length ? ['ok'] : [])).entries()) {
        await ctx.recorder.write({ step: id, resource: `${id} resource ${i}`, resourceId: `${id}-${i}`, action: 'create', operation: `Create${i}` }, async () => {
          if (write instanceof Error) throw write;
          return { $metadata: { requestId: `req-${id}-${i}` } };
        });
      }
      if (options.applyError) throw options.applyError;
      return options.outputs ?? { id };
    }),
    needs: options.planReads ?? [],
    observe: vi.fn(async () => ({})),
    resources: () => [],
    outputs: () => options.outputs ?? { id },
    validate: vi.fn(async () => options.validate ?? []),
    rollback: vi.fn(async (_ctx: StepContext, _before: unknown, _created: ReadonlySet<string>): Promise<string[]> => {
      events.push(`rollback ${id}`);
      if (options.rollbackError) throw options.rollbackError;
      return options.rollbackNote ? [options.rollbackNote] : [];
    }),
    ...(options.checks
      ? {
          postDeployChecks: vi.fn(async (_ctx: StepContext, _opts?: { wait: boolean }) => {
            events.push(`checks ${id}`);
            return options.checks!;
          }),
        }
      : {}),
  };
  return Object.assign(step as unknown as Step & typeof step, { seenInPlan });
}

let dir: string;
let human: ReturnType<typeof collectingStream>;
let controller: AbortController;
let journal: Journal;

beforeEach(() => {
  events = [];
  dir = mkdtempSync(join(tmpdir(), 'runner-test-'));
  human = collectingStream();
  controller = new AbortController();
  journal = new Journal('run-under-test', dir);
});
afterEach(() => {
  journal.close();
  rmSync(dir, { recursive: true, force: true });
});

function runnerOptions(): RunnerOptions {
  const config = testConfig();
  return {
    config,
    clients: createClients({ region: 'us-east-1' }),
    recorder: passThroughRecorder,
    signal: controller.signal,
    pollIntervalMs: 1,
    humanStream: human.stream,
    lineRenderer: true,
  };
}

function applyOptions(overrides: Partial<ApplyOptions> = {}): ApplyOptions {
  return { ...runnerOptions(), journal, rollbackOnFailure: true, ...overrides };
}

/** Plan every step first (the preview), then apply exactly those plans, as `apply` does. */
async function apply(steps: Step[], overrides: Partial<ApplyOptions> = {}) {
  const options = applyOptions(overrides);
  const ctx = createContext(options);
  const plans = await planSteps(steps, ctx);
  return runApply(plans, { ...options, ctx });
}

/** runApply's rejection, with the report it carries. */
async function failedApply(steps: Step[], overrides: Partial<ApplyOptions> = {}) {
  const error = await apply(steps, overrides).then(
    () => {
      throw new Error('runApply should have failed');
    },
    (e: unknown) => e as RunbookError & { report: RunReport },
  );
  journal.close();
  return { error, report: error.report, entries: readJournal(journal.file) };
}

const ofType = <T extends JournalEntry['type']>(entries: JournalEntry[], type: T) =>
  entries.filter((e): e is Extract<JournalEntry, { type: T }> => e.type === type);

describe('runApply: success', () => {
  it('runs the steps in order, hands each step the outputs of the ones before, and journals plans and outcomes', async () => {
    const cluster = fakeStep('cluster', { changes: 1, before: { exists: false }, outputs: { clusterArn: 'arn:cluster', clusterName: 'c' } });
    const ecr = fakeStep('ecr', { changes: 2, before: { exists: false }, outputs: { repositoryUri: 'uri', repositoryArn: 'arn:repo' }, planReads: ['cluster'], writes: ['ok', 'ok'] });
    const iam = fakeStep('iam', { outputs: { executionRoleArn: 'e', taskRoleArn: 't' }, planReads: ['cluster', 'ecr'] });

    const report = await apply([cluster, ecr, iam]);
    journal.close();

    expect(events).toEqual(['plan cluster', 'plan ecr', 'plan iam', 'apply cluster', 'apply ecr', 'apply iam']);
    expect(ecr.seenInPlan).toEqual({ cluster: { clusterArn: 'arn:cluster', clusterName: 'c' } });
    expect(iam.seenInPlan).toEqual({ cluster: { clusterArn: 'arn:cluster', clusterName: 'c' }, ecr: { repositoryUri: 'uri', repositoryArn: 'arn:repo' } });
    // apply gets the plan it was made from, and the journal as its recorder.
    expect(ecr.apply.mock.calls[0][1]).toBe(await ecr.plan.mock.results[0].value);
    expect(ecr.apply.mock.calls[0][0].recorder).toBe(journal);

    expect(report).toMatchObject({ command: 'apply', ok: true, journal: journal.file, calls: { reads: 0, writes: 0 } });
    expect(report.steps.map((s) => [s.id, s.status, s.changes.length])).toEqual([
      ['cluster', 'applied', 1],
      ['ecr', 'applied', 2],
      ['iam', 'in-sync', 0],
    ]);
    expect(report.compensation).toBeUndefined();
    for (const step of [cluster, ecr, iam]) expect(step.rollback).not.toHaveBeenCalled();

    const entries = readJournal(journal.file);
    expect(entries.map((e) => ('step' in e ? `${e.type} ${e.step}` : e.type))).toEqual([
      'step-plan cluster',
      'write-start cluster',
      'write-done cluster',
      'step-done cluster',
      'step-plan ecr',
      'write-start ecr',
      'write-done ecr',
      'write-start ecr',
      'write-done ecr',
      'step-done ecr',
      'step-plan iam',
      'step-done iam',
      'run-end',
    ]);
    expect(ofType(entries, 'step-done').map((e) => e.outcome)).toEqual(['applied', 'applied', 'in-sync']);
    expect(ofType(entries, 'run-end')).toEqual([expect.objectContaining({ outcome: 'ok' })]);
  });

  it('a step with no changes still gets apply called (for its outputs), writes nothing and is in-sync', async () => {
    const cluster = fakeStep('cluster', { outputs: { clusterArn: 'arn:cluster', clusterName: 'c' } });
    const ecr = fakeStep('ecr', { planReads: ['cluster'] });

    const report = await apply([cluster, ecr]);
    journal.close();

    expect(cluster.apply).toHaveBeenCalledTimes(1);
    expect(cluster.apply.mock.calls[0][1]).toMatchObject({ changes: [] });
    expect(ecr.seenInPlan).toEqual({ cluster: { clusterArn: 'arn:cluster', clusterName: 'c' } });
    expect(report.steps.map((s) => s.status)).toEqual(['in-sync', 'in-sync']);
    const entries = readJournal(journal.file);
    expect(entries.filter((e) => e.type.startsWith('write-'))).toEqual([]);
    expect(ofType(entries, 'step-plan').map((e) => e.changes)).toEqual([0, 0]);
    expect(human.text()).toContain('up to date');
  });

  it('runs the 4.1 checks right after apply (wait: true) and reports their findings', async () => {
    const findings = [ok('Service Stable', 'ecs service x', 'ACTIVE')];
    const service = fakeStep('service', { changes: 1, checks: findings });
    const report = await apply([service]);
    expect(events).toEqual(['plan service', 'apply service', 'checks service']);
    expect(service.postDeployChecks).toHaveBeenCalledWith(expect.anything(), { wait: true });
    expect(report.ok).toBe(true);
    expect(report.steps[0]).toMatchObject({ status: 'applied', findings });
    expect(report.findings).toEqual(findings);
  });
});

describe('runApply: a failed step is compensated', () => {
  it('a FAIL from the 4.1 checks fails the step (StepError) and undoes the touched steps newest first with their before', async () => {
    const cluster = fakeStep('cluster', { changes: 1, before: { exists: false, name: 'c' } });
    const ecr = fakeStep('ecr', { changes: 1, before: { exists: true, scanOnPush: false } });
    const iam = fakeStep('iam', { before: { untouched: true } }); // in sync: nothing to undo
    const service = fakeStep('service', {
      changes: 1,
      before: { exists: true, taskDefinition: 'fintech-api-task:6' },
      checks: [ok('Logs Flowing', 'log group', 'fine'), fail('Service Stable', 'ecs service fintech-prod-cluster/fintech-api-svc', 'circuit breaker rolled back')],
    });
    const later = fakeStep('ecs-scaling', { changes: 1 });

    const { error, report, entries } = await failedApply([cluster, ecr, iam, service, later]);

    expect(error).toBeInstanceOf(StepError);
    expect(error).toMatchObject({ step: 'service', exitCode: ExitCode.failed });
    expect(error.message).toContain('Service Stable FAIL ecs service fintech-prod-cluster/fintech-api-svc: circuit breaker rolled back');
    expect(events).toEqual([
      'plan cluster', 'plan ecr', 'plan iam', 'plan service', 'plan ecs-scaling',
      'apply cluster', 'apply ecr', 'apply iam', 'apply service', 'checks service',
      'rollback service', 'rollback ecr', 'rollback cluster',
    ]);
    expect(service.rollback.mock.calls[0][1]).toEqual({ exists: true, taskDefinition: 'fintech-api-task:6' });
    expect(ecr.rollback.mock.calls[0][1]).toEqual({ exists: true, scanOnPush: false });
    expect(cluster.rollback.mock.calls[0][1]).toEqual({ exists: false, name: 'c' });
    expect(iam.rollback).not.toHaveBeenCalled();
    expect(later.apply).not.toHaveBeenCalled();
    // Compensation deletes only what the journal proves this run created.
    expect([...(cluster.rollback.mock.calls[0][2] as Set<string>)]).toEqual(['cluster-0']);

    expect(report.ok).toBe(false);
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ['cluster', 'rolled-back'],
      ['ecr', 'rolled-back'],
      ['iam', 'in-sync'],
      ['service', 'rolled-back'],
      ['ecs-scaling', 'not-run'],
    ]);
    expect(report.steps[3].error).toContain('Service Stable FAIL');
    expect(report.compensation).toEqual({ undone: ['1.6 Fake service', '1.2 Fake ecr', '1.1 Fake cluster'], needsPerson: [], notes: [] });
    expect(human.text()).toContain("Undoing this run's changes (3 step(s)), newest first");

    // The journal of the failed run: plan snapshots, what was undone, and the outcome.
    expect(ofType(entries, 'step-plan').map((e) => [e.step, e.changes, e.before])).toEqual([
      ['cluster', 1, { exists: false, name: 'c' }],
      ['ecr', 1, { exists: true, scanOnPush: false }],
      ['iam', 0, { untouched: true }],
      ['service', 1, { exists: true, taskDefinition: 'fintech-api-task:6' }],
    ]);
    expect(ofType(entries, 'step-done').filter((e) => e.outcome === 'rolled-back').map((e) => e.step)).toEqual(['service', 'ecr', 'cluster']);
    expect(ofType(entries, 'run-end')).toEqual([expect.objectContaining({ outcome: 'rolled-back', detail: expect.stringContaining('Service Stable FAIL') })]);
  });

  it('does not undo a step whose writes all failed (someone else may own that resource)', async () => {
    const cluster = fakeStep('cluster', { changes: 1, before: { exists: false } });
    const denied = awsError('RepositoryAlreadyExistsException', 'The repository already exists', 'req-ecr-exists');
    const ecr = fakeStep('ecr', { changes: 1, before: { exists: false }, writes: [denied], applyError: undefined });

    const { error, report, entries } = await failedApply([cluster, ecr]);

    expect(error).toBeInstanceOf(RunbookError);
    expect(error.cause).toBe(denied);
    expect(error.message).toContain('RepositoryAlreadyExistsException');
    expect(error.message).toContain('req-ecr-exists');
    expect(ecr.rollback).not.toHaveBeenCalled();
    expect(cluster.rollback).toHaveBeenCalledTimes(1);
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ['cluster', 'rolled-back'],
      ['ecr', 'failed'],
    ]);
    expect(report.steps[1].error).toContain('The repository already exists');
    expect(report.compensation).toEqual({ undone: ['1.1 Fake cluster'], needsPerson: [], notes: [] });
    expect(ofType(entries, 'write-failed')).toEqual([expect.objectContaining({ step: 'ecr', requestId: 'req-ecr-exists' })]);
    expect(ofType(entries, 'run-end')[0].outcome).toBe('rolled-back');
  });

  it('undoes a step that failed after one of its writes completed', async () => {
    const ecr = fakeStep('ecr', { changes: 2, before: { exists: false }, writes: ['ok', new Error('second write failed')] });
    const { report } = await failedApply([ecr]);
    expect(ecr.rollback).toHaveBeenCalledWith(expect.anything(), { exists: false }, new Set(['ecr-0']));
    expect(report.steps[0].status).toBe('rolled-back');
  });

  it('a rollback that throws → HalfAppliedError (exit 3) naming the step, the others still undone, report attached', async () => {
    const cluster = fakeStep('cluster', { changes: 1, before: { exists: false } });
    const ecr = fakeStep('ecr', { changes: 1, before: { exists: false }, rollbackError: awsError('RepositoryNotEmptyException', 'repository has images', 'req-rb-1') });
    const iam = fakeStep('iam', { changes: 1, before: { exists: false }, applyError: new Error('iam exploded') });

    const { error, report, entries } = await failedApply([cluster, ecr, iam]);

    expect(error).toBeInstanceOf(HalfAppliedError);
    expect(error.exitCode).toBe(ExitCode.halfApplied);
    expect(error.message).toContain('iam exploded');
    expect(error.report).toBe(report);
    expect(events.filter((e) => e.startsWith('rollback'))).toEqual(['rollback iam', 'rollback ecr', 'rollback cluster']);
    expect(report.compensation!.undone).toEqual(['1.3 Fake iam', '1.1 Fake cluster']);
    expect(report.compensation!.needsPerson).toHaveLength(1);
    expect(report.compensation!.needsPerson[0]).toContain('1.2 Fake ecr');
    expect(report.compensation!.needsPerson[0]).toContain('RepositoryNotEmptyException');
    expect(report.compensation!.needsPerson[0]).toContain('req-rb-1');
    expect(report.steps.map((s) => s.status)).toEqual(['rolled-back', 'rollback-failed', 'rolled-back']);
    expect(ofType(entries, 'step-done').filter((e) => e.outcome === 'rollback-failed')).toEqual([expect.objectContaining({ step: 'ecr' })]);
    expect(ofType(entries, 'run-end')).toEqual([expect.objectContaining({ outcome: 'half-applied' })]);
    expect(human.text()).toContain('1.2 Fake ecr');
  });

  it('rollbackOnFailure false: nothing is undone and the report says which step failed', async () => {
    const cluster = fakeStep('cluster', { changes: 1, before: { exists: false } });
    const ecr = fakeStep('ecr', { changes: 1, checks: [fail('Scaling Ready', 'target', 'no policy')] });

    const { error, report, entries } = await failedApply([cluster, ecr], { rollbackOnFailure: false });

    expect(error).toBeInstanceOf(StepError);
    expect(error.exitCode).toBe(ExitCode.failed);
    expect(cluster.rollback).not.toHaveBeenCalled();
    expect(ecr.rollback).not.toHaveBeenCalled();
    expect(report.ok).toBe(false);
    expect(report.compensation).toBeUndefined();
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ['cluster', 'applied'],
      ['ecr', 'failed'],
    ]);
    expect(report.error).toContain('Scaling Ready FAIL target: no policy');
    expect(ofType(entries, 'run-end')).toEqual([expect.objectContaining({ outcome: 'failed' })]);
    expect(human.text()).not.toContain('Undoing');
  });

  it('a non-RunbookError with rollbackOnFailure false is wrapped, keeping the cause', async () => {
    const boom = new TypeError('undefined is not a function');
    const ecr = fakeStep('ecr', { changes: 1, applyError: boom });
    const { error, report } = await failedApply([ecr], { rollbackOnFailure: false });
    expect(error).toBeInstanceOf(RunbookError);
    expect(error.cause).toBe(boom);
    expect(report.steps[0]).toMatchObject({ status: 'failed', error: 'undefined is not a function' });
  });
});

describe('runApply: interruption and notes', () => {
  it('an aborted signal → InterruptedError (exit 130), no compensation, journal run-end interrupted', async () => {
    const cluster = fakeStep('cluster', { changes: 1, before: { exists: false }, duringApply: () => controller.abort() });
    const ecr = fakeStep('ecr', { changes: 1 });

    const { error, report, entries } = await failedApply([cluster, ecr]);

    expect(error).toBeInstanceOf(InterruptedError);
    expect(error.exitCode).toBe(ExitCode.interrupted);
    // The write after the interrupt was refused by the journal; nothing is undone.
    expect(ofType(entries, 'write-start')).toEqual([]);
    expect(cluster.rollback).not.toHaveBeenCalled();
    expect(ecr.apply).not.toHaveBeenCalled();
    expect(report.compensation).toBeUndefined();
    expect(ofType(entries, 'run-end')).toEqual([expect.objectContaining({ outcome: 'interrupted' })]);
    expect(report.steps.map((s) => s.status)).toEqual(['not-run', 'not-run']);
  });

  it('an interrupt after a completed step stops before the next step and keeps what was applied', async () => {
    const cluster = fakeStep('cluster', { changes: 1, before: { exists: false }, checks: [ok('X', 'y', 'z')] });
    cluster.postDeployChecks!.mockImplementation(async () => {
      controller.abort();
      return [ok('X', 'y', 'z')];
    });
    const ecr = fakeStep('ecr', { changes: 1, planReads: ['cluster'] }); // needs cluster: starts after it
    const { error, entries } = await failedApply([cluster, ecr]);
    expect(error).toBeInstanceOf(InterruptedError);
    expect(ofType(entries, 'write-done').map((e) => e.step)).toEqual(['cluster']);
    expect(cluster.rollback).not.toHaveBeenCalled();
    expect(ecr.apply).not.toHaveBeenCalled();
    expect(ofType(entries, 'run-end')[0].outcome).toBe('interrupted');
  });

  it('an error thrown because of the abort (e.g. a wait cut short) is reported as an interruption', async () => {
    const service = fakeStep('service', { changes: 1, before: { exists: false }, checks: [] });
    service.postDeployChecks!.mockImplementation(async () => {
      controller.abort();
      throw new DOMException('This operation was aborted', 'AbortError');
    });
    const { error, entries } = await failedApply([service]);
    expect(error).toBeInstanceOf(InterruptedError);
    expect(service.rollback).not.toHaveBeenCalled();
    expect(ofType(entries, 'run-end')[0].outcome).toBe('interrupted');
  });

  it('what a step says while undoing is a note, not a half-applied environment', async () => {
    const ecr = fakeStep('ecr', { changes: 1, before: { exists: false }, rollbackNote: 'kept ecr repository fintech-api: it holds 1 image' });
    const service = fakeStep('service', { changes: 1, checks: [fail('Service Stable', 'svc', 'timed out')] });
    const { error, report, entries } = await failedApply([ecr, service]);
    expect(error).not.toBeInstanceOf(HalfAppliedError);
    expect(error.exitCode).toBe(ExitCode.failed);
    expect(report.compensation).toEqual({ undone: ['1.6 Fake service', '1.2 Fake ecr'], needsPerson: [], notes: ['kept ecr repository fintech-api: it holds 1 image'] });
    expect(entries.at(-1)).toMatchObject({ type: 'run-end', outcome: 'rolled-back' });
  });

});

describe('runPlan', () => {
  it('plans every step in order, hands plan outputs forward and never applies', async () => {
    const cluster = fakeStep('cluster', { outputs: { clusterArn: 'arn:cluster', clusterName: 'c' } });
    const ecr = fakeStep('ecr', { changes: 2, planReads: ['cluster'] });
    const report = await runPlan([cluster, ecr], runnerOptions());
    expect(events).toEqual(['plan cluster', 'plan ecr']);
    expect(ecr.seenInPlan).toEqual({ cluster: { clusterArn: 'arn:cluster', clusterName: 'c' } });
    for (const step of [cluster, ecr]) {
      expect(step.apply).not.toHaveBeenCalled();
      expect(step.rollback).not.toHaveBeenCalled();
    }
    expect(report).toMatchObject({ command: 'plan', ok: true, calls: { reads: 0, writes: 0 } });
    expect(report.steps.map((s) => [s.id, s.status, s.changes.length])).toEqual([
      ['cluster', 'in-sync', 0],
      ['ecr', 'planned', 2],
    ]);
  });

  it('stops with InterruptedError once the signal is aborted', async () => {
    const cluster = fakeStep('cluster');
    controller.abort();
    await expect(runPlan([cluster], runnerOptions())).rejects.toBeInstanceOf(InterruptedError);
    expect(cluster.plan).not.toHaveBeenCalled();
  });
});

describe('runValidate', () => {
  it('collects validate and the 4.1 checks judged now (wait: false), plus the extra checks; ok false on any FAIL', async () => {
    const cluster = fakeStep('cluster', { validate: [ok('Cluster', 'c', 'exists')] });
    const service = fakeStep('service', {
      validate: [ok('Service', 's', 'exists')],
      checks: [fail('Service Stable', 's', '2 deployments')],
    });
    const extra = vi.fn(async () => [warn('3.1 checklist', 'sg', 'wide open egress')]);

    const report = await runValidate([cluster, service], runnerOptions(), [extra]);

    expect(service.postDeployChecks).toHaveBeenCalledWith(expect.anything(), { wait: false });
    expect(extra).toHaveBeenCalledTimes(1);
    expect(report.command).toBe('validate');
    expect(report.ok).toBe(false);
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ['cluster', 'in-sync'],
      ['service', 'failed'],
    ]);
    expect(report.findings.map((f) => `${f.check}:${f.status}`)).toEqual(['Cluster:OK', 'Service:OK', 'Service Stable:FAIL', '3.1 checklist:WARN']);
    for (const step of [cluster, service]) {
      expect(step.plan).not.toHaveBeenCalled();
      expect(step.apply).not.toHaveBeenCalled();
    }
  });

  it('ok true when nothing fails (WARN and SKIP are not failures)', async () => {
    const cluster = fakeStep('cluster', { validate: [ok('Cluster', 'c', 'exists'), { check: 'X', status: 'SKIP', resource: 'r', reason: 'n/a' }] });
    const report = await runValidate([cluster], runnerOptions(), [async () => [warn('W', 'r', 'w')]]);
    expect(report.ok).toBe(true);
    expect(report.findings).toHaveLength(3);
  });

  it('a FAIL from an extra check alone makes ok false', async () => {
    const cluster = fakeStep('cluster', { validate: [ok('Cluster', 'c', 'exists')] });
    const report = await runValidate([cluster], runnerOptions(), [async () => [fail('3.2 checklist', 'role', 'Resource *')]]);
    expect(report.ok).toBe(false);
    expect(report.steps[0].status).toBe('in-sync');
  });
});

describe('summariseChecks', () => {
  it('shows each check once with its worst status and how many findings it has', async () => {
    const { summariseChecks } = await import('../../src/core/runner.js');
    expect(
      summariseChecks([
        ok('Scaling Ready', 'a', 'x'),
        warn('Scaling Ready', 'b', 'y'),
        ok('Scaling Ready', 'c', 'z'),
        fail('Logs Flowing', 'd', 'none'),
      ]),
    ).toBe('Scaling Ready WARN ×3, Logs Flowing FAIL');
  });
});

describe('the step graph (needs)', () => {
  it('independent steps apply concurrently; a step waits for the steps it needs; the report stays in runbook order', async () => {
    let releaseCluster!: () => void;
    const clusterGate = new Promise<void>((resolve) => (releaseCluster = resolve));
    const cluster = fakeStep('cluster', { changes: 1, before: {} });
    cluster.apply.mockImplementation(async () => {
      events.push('apply cluster start');
      await clusterGate;
      events.push('apply cluster end');
      return { clusterArn: 'a', clusterName: 'c' };
    });
    const ecr = fakeStep('ecr', { changes: 1 });
    ecr.apply.mockImplementation(async () => {
      events.push('apply ecr');
      releaseCluster(); // ecr ran while cluster was still applying
      return { repositoryUri: 'u', repositoryArn: 'r' };
    });
    const service = fakeStep('service', { changes: 1, planReads: ['cluster'] });
    const report = await apply([cluster, ecr, service]);
    expect(events.filter((e) => e.startsWith('apply'))).toEqual(['apply cluster start', 'apply ecr', 'apply cluster end', 'apply service']);
    expect(report.steps.map((s) => s.id)).toEqual(['cluster', 'ecr', 'service']);
  });

  it('after a failure no further step starts, the running ones finish, and only what ran is compensated', async () => {
    let releaseIam!: () => void;
    const iamGate = new Promise<void>((resolve) => (releaseIam = resolve));
    const iam = fakeStep('iam', { changes: 1, before: {} });
    iam.apply.mockImplementation(async (ctx: StepContext) => {
      events.push('apply iam start');
      await ctx.recorder.write({ step: 'iam', resource: 'role', resourceId: 'role:x', action: 'create', operation: 'CreateRole' }, async () => ({}));
      await iamGate;
      events.push('apply iam end');
      return { executionRoleArn: 'e', taskRoleArn: 't' };
    });
    const ecr = fakeStep('ecr', { changes: 1, applyError: new Error('ecr broke') });
    ecr.apply.mockImplementation(async () => {
      events.push('apply ecr');
      setTimeout(releaseIam, 20);
      throw new Error('ecr broke');
    });
    const service = fakeStep('service', { changes: 1, planReads: ['iam'] });
    const { error, report } = await failedApply([iam, ecr, service]);
    expect(String(error)).toContain('ecr broke');
    expect(events).toContain('apply iam end'); // the running step finished
    expect(service.apply).not.toHaveBeenCalled(); // its need finished after the failure: not started
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ['iam', 'rolled-back'],
      ['ecr', 'failed'],
      ['service', 'not-run'],
    ]);
  });

  it('plans independent steps concurrently and a step only after the steps it needs', async () => {
    const cluster = fakeStep('cluster', { outputs: { clusterArn: 'arn:cluster', clusterName: 'c' } });
    const ecr = fakeStep('ecr');
    const service = fakeStep('service', { planReads: ['cluster'] });
    const ctx = createContext(runnerOptions());
    await planSteps([cluster, ecr, service], ctx);
    expect(service.seenInPlan).toEqual({ cluster: { clusterArn: 'arn:cluster', clusterName: 'c' } });
    expect(events.indexOf('plan service')).toBeGreaterThan(events.indexOf('plan cluster'));
  });
});
