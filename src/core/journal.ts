// The run journal: one JSON line per event, appended and flushed (fsync) before and after every
// write, so a crashed or interrupted run leaves a record of exactly what it changed. Failed-apply
// compensation and `history` read it. Values are resource names, ids and plan snapshots: never a
// secret value (the tool never reads one).
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { InterruptedError } from './errors.js';
import type { StepId, WriteDescription, WriteRecorder } from './step.js';

export type JournalEntry =
  | {
      type: 'run-start';
      runId: string;
      command: string;
      at: string;
      config: string;
      cluster: string;
      steps: string[];
      /** Who ran it (STS GetCallerIdentity) and where. */
      caller?: string;
      account?: string;
      region?: string;
      /** `apply plan.json`: the saved plan executed, by hash. */
      planFile?: string;
      planHash?: string;
    }
  | { type: 'step-plan'; at: string; step: StepId; changes: number; actions?: number; before: unknown }
  | ({ type: 'write-start'; at: string; seq: number } & WriteDescription)
  | ({
      type: 'write-done';
      at: string;
      seq: number;
      requestId?: string;
      /** A create whose reply was lost, re-read and found equal to what it makes, under the lock. */
      adopted?: string;
    } & WriteDescription)
  | ({ type: 'write-failed'; at: string; seq: number; error: string; requestId?: string } & WriteDescription)
  | { type: 'step-done'; at: string; step: StepId; outcome: 'applied' | 'in-sync' | 'failed' | 'rolled-back' | 'rollback-failed'; detail?: string }
  | { type: 'run-end'; at: string; outcome: 'ok' | 'failed' | 'interrupted' | 'rolled-back' | 'half-applied'; detail?: string };

export const defaultJournalDir = () => process.env.FINTECH_RUNBOOK_STATE_DIR ?? join(process.cwd(), '.fintech-runbook', 'journal');

function requestIdOf(value: unknown): string | undefined {
  return (value as { $metadata?: { requestId?: string } } | undefined)?.$metadata?.requestId;
}

export class Journal implements WriteRecorder {
  readonly file: string;
  private fd: number | undefined;
  private seq = 0;
  private readonly stepsWritten = new Set<StepId>();
  private readonly creations = new Map<StepId, Set<string>>();
  /** Set by the runner: once aborted (SIGINT), no new write starts. */
  signal?: AbortSignal;

  constructor(
    readonly runId: string,
    dir = defaultJournalDir(),
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, `${runId}.jsonl`);
  }

  static newRunId(command: string): string {
    return `${new Date().toISOString().replace(/[:.]/g, '-')}-${command}-${process.pid}`;
  }

  append(entry: JournalEntry): void {
    this.fd ??= openSync(this.file, 'a', 0o600);
    writeSync(this.fd, `${JSON.stringify(entry)}\n`);
    fsyncSync(this.fd);
  }

  async write<T>(description: WriteDescription, call: () => Promise<T>): Promise<T> {
    if (this.signal?.aborted) throw new InterruptedError();
    const seq = ++this.seq;
    this.append({ type: 'write-start', at: new Date().toISOString(), seq, ...description });
    try {
      const result = await call();
      const adopted = (result as { $adopted?: unknown } | undefined)?.$adopted
        ? 'no reply received (lost); re-read: it exists and equals what this create makes, and the lock was held'
        : undefined;
      this.append({ type: 'write-done', at: new Date().toISOString(), seq, requestId: requestIdOf(result), ...(adopted ? { adopted } : {}), ...description });
      this.stepsWritten.add(description.step);
      // Proof of creation: the reply was received (or the create adopted as above). A Put on a
      // resource absent before the run (a lifecycle policy) creates it too: compensation deletes a
      // resource only when it was absent in `before` AND this run completed a write to it.
      if (description.action !== 'delete' && description.resourceId) {
        this.creations.set(description.step, (this.creations.get(description.step) ?? new Set()).add(description.resourceId));
      }
      return result;
    } catch (error) {
      this.append({
        type: 'write-failed',
        at: new Date().toISOString(),
        seq,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        requestId: requestIdOf(error),
        ...description,
      });
      throw error;
    }
  }

  /** Did any write of this step complete in this run? Only those steps are compensated. */
  wrote(step: StepId): boolean {
    return this.stepsWritten.has(step);
  }

  /**
   * The resources of a step this run completed a write to (reply received, or adopted). With
   * "absent in before", that is the proof of creation compensation needs to delete one.
   */
  created(step: StepId): ReadonlySet<string> {
    return this.creations.get(step) ?? new Set();
  }

  /** Writes that completed, in order: what this run changed. */
  completedWrites(): Array<Extract<JournalEntry, { type: 'write-done' }>> {
    return readJournal(this.file).filter((e): e is Extract<JournalEntry, { type: 'write-done' }> => e.type === 'write-done');
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export function readJournal(file: string): JournalEntry[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as JournalEntry];
      } catch {
        return []; // a line cut short by a crash
      }
    });
}

export interface RunSummary {
  runId: string;
  command: string;
  startedAt: string;
  outcome: string;
  writes: number;
  failedWrites: number;
  steps: string[];
  file: string;
}

export function listRuns(dir = defaultJournalDir()): RunSummary[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .map((name) => {
      const file = join(dir, name);
      const entries = readJournal(file);
      const start = entries.find((e) => e.type === 'run-start');
      const end = [...entries].reverse().find((e) => e.type === 'run-end');
      return {
        runId: name.replace(/\.jsonl$/, ''),
        command: start?.type === 'run-start' ? start.command : '?',
        startedAt: start?.at ?? '?',
        outcome: end?.type === 'run-end' ? end.outcome : 'incomplete (crashed or still running)',
        writes: entries.filter((e) => e.type === 'write-done').length,
        failedWrites: entries.filter((e) => e.type === 'write-failed').length,
        steps: start?.type === 'run-start' ? start.steps : [],
        file,
      };
    });
}

/** What one recorded run did: per step its `before` and the resources it provably created. */
export interface RunRecord {
  start?: Extract<JournalEntry, { type: 'run-start' }>;
  end?: Extract<JournalEntry, { type: 'run-end' }>;
  before: Map<StepId, unknown>;
  created: Map<StepId, Set<string>>;
  wrote: Set<StepId>;
}

export function readRun(file: string): RunRecord {
  const record: RunRecord = { before: new Map(), created: new Map(), wrote: new Set() };
  for (const entry of readJournal(file)) {
    if (entry.type === 'run-start') record.start = entry;
    if (entry.type === 'run-end') record.end = entry;
    if (entry.type === 'step-plan') record.before.set(entry.step, entry.before);
    if (entry.type === 'write-done') {
      record.wrote.add(entry.step);
      if (entry.action !== 'delete' && entry.resourceId) {
        record.created.set(entry.step, (record.created.get(entry.step) ?? new Set()).add(entry.resourceId));
      }
    }
  }
  return record;
}

export function findRun(runId: string, dir = defaultJournalDir()): string | undefined {
  return listRuns(dir).find((r) => r.runId === runId)?.file;
}
