// What every command that writes does first (DESIGN.md §4): check that the credentials belong to
// the config's account (STS), refuse while the change calendar is CLOSED (unless --emergency), then
// hold the environment lock for the whole command, released on success, failure and Ctrl-C.
import { checkChangeFreeze } from '../aws/change-calendar.js';
import { checkCallerIdentity, type CallerIdentity } from '../aws/identity.js';
import { UsageError } from '../core/errors.js';
import { defaultJournalDir, Journal, type JournalEntry } from '../core/journal.js';
import { environmentLock } from '../core/lock.js';
import type { Session } from './shared.js';

export function lockTimeoutMs(value: string | undefined): number {
  const seconds = value === undefined ? 0 : Number(value);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600) {
    throw new UsageError(`--lock-timeout: "${value}" is not a number of seconds between 0 and 3600`);
  }
  return seconds * 1000;
}

/** What the guard decided that the run's journal keeps (spread into its run-start entry). */
export interface GuardRecord {
  changeFreeze?: { calendar: string; state: string; emergency: boolean; error?: string };
}

export async function withWriteGuard<T>(
  session: Session,
  options: { runId: string; command: string; lockTimeoutMs: number; emergency?: boolean },
  run: (identity: CallerIdentity, record: GuardRecord) => Promise<T>,
): Promise<T> {
  const identity = await checkCallerIdentity(session.clients, session.config);
  const record: GuardRecord = {};
  const calendar = session.config.changeCalendar;
  if (calendar) {
    // ChangeFreezeError (exit 1) before the lock and any write, unless --emergency.
    const { state, emergency, error } = await checkChangeFreeze(session.clients.ssm, calendar, !!options.emergency);
    record.changeFreeze = { calendar, state, emergency, ...(error ? { error } : {}) };
    if (emergency) session.human.write(`EMERGENCY: change calendar ${calendar} is ${state}; changing production anyway (--emergency, journaled)\n`);
  } else if (options.emergency) {
    session.human.write('--emergency: no changeCalendar in the config, nothing to override\n');
  }
  const lock = environmentLock({
    config: session.config,
    // A getter: the lock's DynamoDB client is built only for a DynamoDB lock (lock.dynamodbTable).
    clients: {
      get dynamodb() {
        return session.clients.lock;
      },
    },
    stateDir: defaultJournalDir(session.config),
    runId: options.runId,
    command: options.command,
  });
  await lock.acquire({ timeoutMs: options.lockTimeoutMs, signal: session.runner.signal });
  try {
    return await run(identity, record);
  } finally {
    await lock.release();
  }
}

type RunStart = Extract<JournalEntry, { type: 'run-start' }>;

/**
 * The journal of a writing run, opened with its header: who ran it (the checked identity), where,
 * what, and what the guard decided. `header` adds the command's own fields.
 */
export function openRunJournal(
  session: Session,
  identity: CallerIdentity,
  guard: GuardRecord,
  header: Pick<RunStart, 'runId' | 'command' | 'steps'> & Partial<Omit<RunStart, 'type'>>,
): Journal {
  const journal = new Journal(header.runId, defaultJournalDir(session.config));
  journal.append({
    type: 'run-start',
    at: new Date().toISOString(),
    config: session.options.config,
    cluster: session.config.cluster.name,
    caller: identity.arn,
    account: identity.account,
    region: session.config.region,
    ...guard,
    ...header,
  });
  return journal;
}
