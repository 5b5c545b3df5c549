// The run journal (DESIGN.md §4): JSONL, flushed before and after every write, the record that
// compensation of a failed apply and `history` read.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExitCode, InterruptedError } from '../../src/core/errors.js';
import { Journal, defaultJournalDir, listRuns, readJournal, type JournalEntry } from '../../src/core/journal.js';
import type { WriteDescription } from '../../src/core/step.js';
import { awsError } from '../helpers/mock-aws.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'journal-test-'));
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

const createCluster: WriteDescription = { step: 'cluster', resource: 'ecs cluster fintech-prod-cluster', action: 'create', operation: 'CreateCluster' };
const createRepository: WriteDescription = { step: 'ecr', resource: 'ecr repository fintech-api', action: 'create', operation: 'CreateRepository' };

/** The file's lines parsed one by one (no tolerance: every line the journal writes must be JSON). */
const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as JournalEntry & Record<string, unknown>);

describe('Journal.write', () => {
  it('appends write-start before the call and write-done after it, with the request id of the result', async () => {
    const journal = new Journal('run-1', dir);
    const seenDuringCall: string[] = [];
    const result = await journal.write(createCluster, async () => {
      // The start is on disk before the call goes out: a crash mid-call still leaves a record.
      seenDuringCall.push(...lines(journal.file).map((e) => e.type));
      return { cluster: { clusterName: 'fintech-prod-cluster' }, $metadata: { requestId: 'req-create-1', httpStatusCode: 200 } };
    });
    journal.close();

    expect(result.cluster.clusterName).toBe('fintech-prod-cluster');
    expect(seenDuringCall).toEqual(['write-start']);
    const entries = lines(journal.file);
    expect(entries.map((e) => e.type)).toEqual(['write-start', 'write-done']);
    expect(entries[0]).toMatchObject({ seq: 1, ...createCluster });
    expect(entries[0]).not.toHaveProperty('requestId');
    expect(entries[1]).toMatchObject({ seq: 1, requestId: 'req-create-1', ...createCluster });
    expect(Date.parse(entries[1].at as string)).not.toBeNaN();
    expect(journal.completedWrites()).toEqual([entries[1]]);
  });

  it('appends write-failed with the error name, message and request id, and rethrows the same error', async () => {
    const journal = new Journal('run-2', dir);
    const error = awsError('AccessDeniedException', 'not authorized to perform ecs:CreateCluster', 'req-denied-9');
    await expect(journal.write(createCluster, () => Promise.reject(error))).rejects.toBe(error);
    journal.close();

    const entries = lines(journal.file);
    expect(entries.map((e) => e.type)).toEqual(['write-start', 'write-failed']);
    expect(entries[1]).toMatchObject({
      seq: 1,
      error: 'AccessDeniedException: not authorized to perform ecs:CreateCluster',
      requestId: 'req-denied-9',
      ...createCluster,
    });
    expect(journal.completedWrites()).toEqual([]);
  });

  it('records a non-Error rejection as text', async () => {
    const journal = new Journal('run-2b', dir);
    await expect(journal.write(createCluster, () => Promise.reject('socket hang up'))).rejects.toBe('socket hang up');
    journal.close();
    expect(lines(journal.file)[1]).toMatchObject({ type: 'write-failed', error: 'socket hang up' });
  });

  it('numbers writes so that start and outcome pair up, even when concurrent writes finish out of order', async () => {
    const journal = new Journal('run-3', dir);
    let releaseFirst!: () => void;
    const first = journal.write(createCluster, () => new Promise<{ $metadata: { requestId: string } }>((resolve) => (releaseFirst = () => resolve({ $metadata: { requestId: 'req-a' } }))));
    const second = journal.write(createRepository, async () => ({ $metadata: { requestId: 'req-b' } }));
    await second;
    releaseFirst();
    await first;
    await expect(journal.write(createRepository, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    journal.close();

    const entries = lines(journal.file);
    expect(entries.map((e) => `${e.type}#${e.seq}:${e.operation}`)).toEqual([
      'write-start#1:CreateCluster',
      'write-start#2:CreateRepository',
      'write-done#2:CreateRepository',
      'write-done#1:CreateCluster',
      'write-start#3:CreateRepository',
      'write-failed#3:CreateRepository',
    ]);
    expect(entries.find((e) => e.type === 'write-done' && e.seq === 1)?.requestId).toBe('req-a');
    expect(entries.find((e) => e.type === 'write-done' && e.seq === 2)?.requestId).toBe('req-b');
  });

  it('wrote(step) is true only for a step with a completed write', async () => {
    const journal = new Journal('run-4', dir);
    expect(journal.wrote('cluster')).toBe(false);
    await expect(journal.write(createRepository, () => Promise.reject(awsError('RepositoryAlreadyExistsException', 'exists')))).rejects.toThrow();
    expect(journal.wrote('ecr')).toBe(false); // only failed writes: nothing of ours to undo
    await journal.write(createCluster, async () => ({}));
    expect(journal.wrote('cluster')).toBe(true);
    expect(journal.wrote('ecr')).toBe(false);
    expect(journal.wrote('iam')).toBe(false);
    journal.close();
  });

  it('refuses to start a write once the signal is aborted: InterruptedError, the call is not made, nothing appended', async () => {
    const journal = new Journal('run-5', dir);
    const controller = new AbortController();
    journal.signal = controller.signal;
    await journal.write(createCluster, async () => ({}));
    controller.abort();
    const call = vi.fn(async () => ({}));
    const refused = journal.write(createRepository, call);
    await expect(refused).rejects.toBeInstanceOf(InterruptedError);
    await expect(refused).rejects.toMatchObject({ exitCode: ExitCode.interrupted });
    expect(call).not.toHaveBeenCalled();
    journal.close();
    expect(lines(journal.file).map((e) => `${e.type}:${e.operation}`)).toEqual(['write-start:CreateCluster', 'write-done:CreateCluster']);
    expect(journal.wrote('ecr')).toBe(false);
  });

  it('an aborted signal on a fresh journal creates no file at all', async () => {
    const journal = new Journal('run-5b', dir);
    const controller = new AbortController();
    controller.abort();
    journal.signal = controller.signal;
    await expect(journal.write(createCluster, async () => ({}))).rejects.toBeInstanceOf(InterruptedError);
    expect(existsSync(journal.file)).toBe(false);
  });
});

describe('journal file', () => {
  it('is created with mode 0600 (owner only) in the given directory, created if missing', () => {
    const nested = join(dir, 'state', 'journal');
    const journal = new Journal('run-6', nested);
    expect(journal.file).toBe(join(nested, 'run-6.jsonl'));
    journal.append({ type: 'run-end', at: new Date().toISOString(), outcome: 'ok' });
    journal.close();
    expect(statSync(journal.file).mode & 0o777).toBe(0o600);
  });

  it('keeps appending after close (reopens) without losing earlier lines', () => {
    const journal = new Journal('run-7', dir);
    journal.append({ type: 'step-done', at: 't1', step: 'cluster', outcome: 'applied' });
    journal.close();
    journal.append({ type: 'run-end', at: 't2', outcome: 'ok' });
    journal.close();
    expect(readJournal(journal.file).map((e) => e.type)).toEqual(['step-done', 'run-end']);
  });

  it('defaults to FINTECH_RUNBOOK_STATE_DIR', () => {
    const stateDir = join(dir, 'from-env');
    vi.stubEnv('FINTECH_RUNBOOK_STATE_DIR', stateDir);
    expect(defaultJournalDir()).toBe(stateDir);
    const journal = new Journal('run-8');
    expect(journal.file).toBe(join(stateDir, 'run-8.jsonl'));
    expect(existsSync(stateDir)).toBe(true);
  });

  it('newRunId names the command and sorts by time', () => {
    const id = Journal.newRunId('apply');
    expect(id).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-apply-\d+-[0-9a-f]{6}$/);
    expect(id).not.toMatch(/[:.]/); // a file name on every OS
  });
});

describe('readJournal', () => {
  it('tolerates a last line cut short by a crash', () => {
    const file = join(dir, 'crashed.jsonl');
    const start = { type: 'write-start', at: 't', seq: 1, ...createCluster };
    writeFileSync(file, `${JSON.stringify(start)}\n{"type":"write-done","at":"t","se`);
    expect(readJournal(file)).toEqual([start]);
  });

  it('returns nothing for a journal that does not exist', () => {
    expect(readJournal(join(dir, 'nope.jsonl'))).toEqual([]);
  });
});

describe('listRuns', () => {
  function writeRun(name: string, entries: unknown[], tail = '') {
    writeFileSync(join(dir, `${name}.jsonl`), entries.map((e) => `${JSON.stringify(e)}\n`).join('') + tail);
  }

  it('summarises each run: command, start, outcome, completed and failed writes, steps', () => {
    writeRun('2025-03-01T10-00-00-000Z-apply-100', [
      { type: 'run-start', runId: 'a', command: 'apply', at: '2025-03-01T10:00:00.000Z', config: 'c.yaml', cluster: 'fintech-prod-cluster', steps: ['cluster', 'ecr'] },
      { type: 'write-start', at: 't', seq: 1, ...createCluster },
      { type: 'write-done', at: 't', seq: 1, ...createCluster },
      { type: 'write-start', at: 't', seq: 2, ...createRepository },
      { type: 'write-failed', at: 't', seq: 2, error: 'X: y', ...createRepository },
      { type: 'run-end', at: 't', outcome: 'failed' },
      { type: 'run-end', at: 't', outcome: 'rolled-back' }, // the last one wins
    ]);
    writeRun(
      '2025-03-01T11-00-00-000Z-rollback-200',
      [
        { type: 'run-start', runId: 'b', command: 'rollback --to fintech-api-task:6', at: '2025-03-01T11:00:00.000Z', config: 'c.yaml', cluster: 'fintech-prod-cluster', steps: ['service'] },
        { type: 'write-start', at: 't', seq: 1, step: 'service', resource: 'svc', action: 'update', operation: 'UpdateService' },
      ],
      '{"type":"write-do', // crashed mid-line: no run-end
    );
    writeFileSync(join(dir, 'notes.txt'), 'not a journal');

    const runs = listRuns(dir);
    expect(runs).toEqual([
      {
        runId: '2025-03-01T10-00-00-000Z-apply-100',
        command: 'apply',
        startedAt: '2025-03-01T10:00:00.000Z',
        outcome: 'rolled-back',
        writes: 1,
        failedWrites: 1,
        steps: ['cluster', 'ecr'],
        file: join(dir, '2025-03-01T10-00-00-000Z-apply-100.jsonl'),
        cluster: 'fintech-prod-cluster', // from run-start, for history's environment column
      },
      {
        runId: '2025-03-01T11-00-00-000Z-rollback-200',
        command: 'rollback --to fintech-api-task:6',
        startedAt: '2025-03-01T11:00:00.000Z',
        outcome: expect.stringMatching(/^incomplete/),
        writes: 0,
        failedWrites: 0,
        steps: ['service'],
        file: join(dir, '2025-03-01T11-00-00-000Z-rollback-200.jsonl'),
        cluster: 'fintech-prod-cluster', // from run-start, for history's environment column
      },
    ]);
  });

  it('reports a run with no run-start as "?" rather than failing', () => {
    writeRun('headless', [{ type: 'run-end', at: 't', outcome: 'ok' }]);
    expect(listRuns(dir)).toEqual([expect.objectContaining({ runId: 'headless', command: '?', startedAt: '?', outcome: 'ok', steps: [] })]);
  });

  it('returns no runs for a directory that does not exist', () => {
    expect(listRuns(join(dir, 'missing'))).toEqual([]);
  });

  it('lists what a real Journal wrote', async () => {
    const sub = join(dir, 'real');
    mkdirSync(sub);
    const journal = new Journal('2025-03-02T00-00-00-000Z-apply-1', sub);
    journal.append({ type: 'run-start', runId: journal.runId, command: 'apply', at: '2025-03-02T00:00:00.000Z', config: 'x', cluster: 'c', steps: ['cluster'] });
    await journal.write(createCluster, async () => ({ $metadata: { requestId: 'r' } }));
    journal.append({ type: 'run-end', at: 't', outcome: 'ok' });
    journal.close();
    expect(listRuns(sub)).toEqual([expect.objectContaining({ command: 'apply', outcome: 'ok', writes: 1, failedWrites: 0 })]);
  });
});
