// The run journal: one JSON line per event, appended and flushed (fsync) before and after every
// write and at the run's start and end, so a crashed or interrupted run leaves a record of exactly
// what it changed. The other entries (a step's plan, its outcome, the revision) are appended at
// once and reach the disk with the next flush: an fsync each cost a no-op apply ~40 ms. Failed-apply
// compensation and `history` read it. Values are resource names, ids and plan snapshots: never a
// secret value (the tool never reads one).
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
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
      /** `apply --accept <control>`: input control FAILs the operator made recorded exceptions (src/preflight.ts). */
      accepted?: Array<{ control: string; resource: string; reason: string; requestId?: string }>;
      /** `deploy <ref>` (or a saved deploy plan): the image it deploys. */
      image?: string;
      /** The image gate's verdict, and whether the operator accepted findings (--accept-findings). */
      imageGate?: { image: string; outcome: string; counts: Record<string, number>; acceptedFindings?: boolean; reason?: string };
      /** approval.required: who approved the saved plan (the applier is `caller`). */
      approvals?: Array<{ approver: string; at: string; planHash: string }>;
      /** changeCalendar: its state when the run started, and whether --emergency overrode it. */
      changeFreeze?: { calendar: string; state: string; emergency: boolean; error?: string };
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
  | { type: 'run-end'; at: string; outcome: 'ok' | 'failed' | 'interrupted' | 'rolled-back' | 'half-applied'; detail?: string }
  /**
   * The task definition revision a run left the service on, and whether it is good: its deployment
   * reached COMPLETED and the service's section 4.1 checks passed (`rollback --to last-good`).
   */
  | { type: 'revision'; at: string; revision: string; good: boolean; detail?: string };

/** The environment a state directory belongs to (a config has these fields): one journal and lock file each. */
export interface StateEnvironment {
  accountId: string;
  region: string;
  cluster: { name: string };
}

/**
 * Where every environment's state lives, whatever the current directory: the XDG state directory
 * (`$XDG_STATE_HOME`, default `~/.local/state`) + `fintech-runbook` (README "State directory").
 */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  // The XDG spec: a relative value is invalid and must be ignored.
  return join(xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.local', 'state'), 'fintech-runbook');
}

/**
 * The journal (and lock file) directory: `$FINTECH_RUNBOOK_STATE_DIR` exactly when set (tests, CI
 * with its own workspace), else `<stateRoot>/<account>/<region>/<cluster>`.
 */
export function defaultJournalDir(environment?: StateEnvironment): string {
  const override = process.env.FINTECH_RUNBOOK_STATE_DIR;
  if (override) return override;
  // Several environments may run in one process (`--config a --config b`): never a process-wide default.
  if (!environment) throw new Error('the state directory depends on the environment (account, region, cluster): pass the config');
  return join(stateRoot(), environment.accountId, environment.region, environment.cluster.name);
}

/** The directories `history` reads: the override, or every environment's under the state root. */
export function journalDirs(): string[] {
  const override = process.env.FINTECH_RUNBOOK_STATE_DIR;
  if (override) return [override];
  const root = stateRoot();
  const below = (dir: string) => (existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(dir, d.name)) : []);
  return below(root).flatMap(below).flatMap(below);
}

function requestIdOf(value: unknown): string | undefined {
  return (value as { $metadata?: { requestId?: string } } | undefined)?.$metadata?.requestId;
}

/** Entries on disk before the call returns: a write's intent and outcome, the run's start and end. */
const FLUSHED = new Set<JournalEntry['type']>(['run-start', 'write-start', 'write-done', 'write-failed', 'run-end']);

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
    // A random tail: several environments in one process may start a run in the same millisecond.
    return `${new Date().toISOString().replace(/[:.]/g, '-')}-${command}-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  append(entry: JournalEntry): void {
    this.fd ??= openSync(this.file, 'a', 0o600);
    writeSync(this.fd, `${JSON.stringify(entry)}\n`);
    if (FLUSHED.has(entry.type)) fsyncSync(this.fd);
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
    if (this.fd === undefined) return;
    fsyncSync(this.fd); // what was appended since the last flush (e.g. the revision entry)
    closeSync(this.fd);
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
  /** The task definition revision the run left the service on, whether it passed its checks, and why (not). */
  revision?: string;
  good?: boolean;
  revisionDetail?: string;
  /** From the run-start entry: where it ran and who ran it. */
  account?: string;
  region?: string;
  cluster?: string;
  caller?: string;
}

/** A run's `revision` entry (the last one, should there be several). */
function revisionOf(entries: JournalEntry[]): { revision?: string; good?: boolean; revisionDetail?: string } {
  const last = [...entries].reverse().find((e): e is Extract<JournalEntry, { type: 'revision' }> => e.type === 'revision');
  return last ? { revision: last.revision, good: last.good, ...(last.detail ? { revisionDetail: last.detail } : {}) } : {};
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
        ...revisionOf(entries),
        // Where and by whom, as the run-start entry recorded it (older journals lack some).
        ...(start?.type === 'run-start'
          ? Object.fromEntries(Object.entries({ account: start.account, region: start.region, cluster: start.cluster, caller: start.caller }).filter(([, v]) => v !== undefined))
          : {}),
      };
    });
}

/** Every run `history` can see (all environments, or the override directory), oldest first. */
export function listAllRuns(dirs: string[] = journalDirs()): RunSummary[] {
  return dirs.flatMap((dir) => listRuns(dir)).sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : 0));
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
