// What every command that writes does first (DESIGN.md §4): check that the credentials belong to
// the config's account (STS), then hold the environment lock for the whole command, released on
// success, failure and Ctrl-C.
import { checkCallerIdentity, type CallerIdentity } from '../aws/identity.js';
import { UsageError } from '../core/errors.js';
import { defaultJournalDir } from '../core/journal.js';
import { environmentLock } from '../core/lock.js';
import type { Session } from './shared.js';

export function lockTimeoutMs(value: string | undefined): number {
  const seconds = value === undefined ? 0 : Number(value);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600) {
    throw new UsageError(`--lock-timeout: "${value}" is not a number of seconds between 0 and 3600`);
  }
  return seconds * 1000;
}

export async function withWriteGuard<T>(
  session: Session,
  options: { runId: string; command: string; lockTimeoutMs: number },
  run: (identity: CallerIdentity) => Promise<T>,
): Promise<T> {
  const identity = await checkCallerIdentity(session.clients, session.config);
  const lock = environmentLock({
    config: session.config,
    clients: { dynamodb: session.clients.lock },
    stateDir: defaultJournalDir(),
    runId: options.runId,
    command: options.command,
  });
  await lock.acquire({ timeoutMs: options.lockTimeoutMs, signal: session.runner.signal });
  try {
    return await run(identity);
  } finally {
    await lock.release();
  }
}
