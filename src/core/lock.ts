// One lock per environment (account/region/cluster), held by every command that writes (DESIGN.md
// §4, issue 8): two operators, or an operator and CI, never change production at the same time.
//
// - Default: a lock file in the state directory, created atomically (a complete file is hard-linked
//   into place: link() fails when the name exists, and nobody ever reads a half-written holder).
// - `lock.dynamodbTable`: a lock item in that table, for a team on several machines and CI, taken
//   with a conditional PutItem, renewed and released with conditional writes on this run's id.
//
// The holder renews its lease on a timer while it runs; a lease that is not renewed (the holder was
// SIGKILLed, its machine died) expires and may be taken over. A holder on this host whose pid is
// dead is stale at once. `unlock <run-id>` removes a lock by its run id and refuses any other id.
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readlinkSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import type { RunbookConfig } from '../config.js';
import { ExitCode, InterruptedError, isAwsError, RunbookError, UsageError } from './errors.js';

export interface LockHolder {
  runId: string;
  user: string;
  host: string;
  pid: number;
  command: string;
  startedAt: string;
  /** When the lease ends unless the holder renews it (ISO 8601). */
  expiresAt: string;
  /**
   * Linux: the holder's pid namespace (`/proc/self/ns/pid`). Two containers may share a hostname
   * but not their pids: the dead-pid check only trusts a pid from the same host and namespace.
   */
  pidNamespace?: string;
}

export interface EnvironmentLock {
  /** Takes the lock, waiting up to timeoutMs (0: one try) while another run holds it; else LockHeldError. */
  acquire(options: { timeoutMs: number; signal?: AbortSignal }): Promise<void>;
  /** Releases it if this run still holds it; safe to call twice, or without acquire. */
  release(): Promise<void>;
  /** This run as holder (expiresAt moves with each renewal). */
  readonly holder: LockHolder;
  /** True once a renewal found the lock held by another run (this run's lease had expired). */
  readonly lost: boolean;
}

/** What the lock reads from the config. */
export type LockConfig = Pick<RunbookConfig, 'accountId' | 'region' | 'lock'> & { cluster: { name: string } };

export interface LockOptions {
  config: LockConfig;
  clients: { dynamodb: DynamoDBClient };
  /** The state directory (the journal's, `defaultJournalDir()`): where the lock file lives. */
  stateDir: string;
  runId: string;
  /** What the holder runs, for the message a second operator sees (e.g. "apply"). */
  command: string;
  /** Lease length; default `lock.leaseSeconds` from the config, else 60. */
  leaseSeconds?: number;
}

export const DEFAULT_LEASE_SECONDS = 60;
/** Poll interval while waiting for another run's lock. */
export const LOCK_POLL_MS = 200;

export function describeHolder(holder: LockHolder): string {
  return `run ${holder.runId} (${holder.user}@${holder.host} pid ${holder.pid}, "${holder.command}", since ${holder.startedAt})`;
}

/** Another run holds the environment lock: exit 5, naming the holder. */
export class LockHeldError extends RunbookError {
  override readonly exitCode: number = ExitCode.lockHeld;
  constructor(
    readonly lockId: string,
    readonly holder: LockHolder,
    where: string,
  ) {
    super(
      `${lockId} is locked by ${describeHolder(holder)}; its lease runs until ${holder.expiresAt}. ` +
        `Wait for that run to finish; if it died, the lock is free once the lease expires, or remove it with: fintech-runbook unlock ${holder.runId} (${where})`,
    );
  }
}

/** `<account>/<region>/<cluster>`: the environment a lock protects (the DynamoDB item's key). */
export function lockId(config: LockConfig): string {
  return `${config.accountId}/${config.region}/${config.cluster.name}`;
}

export function lockFilePath(config: LockConfig, stateDir: string): string {
  return join(stateDir, `lock-${config.accountId}-${config.region}-${config.cluster.name}.json`);
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? 'unknown';
  }
}

function currentPidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}
const PID_NAMESPACE = currentPidNamespace();

/** Is this holder's process gone? Only knowable for a holder on this host, in this pid namespace. */
function holderIsDead(holder: LockHolder): boolean {
  if (holder.host !== hostname() || !Number.isInteger(holder.pid) || holder.pid <= 0) return false;
  if (holder.pidNamespace && PID_NAMESPACE && holder.pidNamespace !== PID_NAMESPACE) return false; // another container
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'; // EPERM: alive, another user's
  }
}

function isStale(holder: LockHolder, now: number): boolean {
  return Date.parse(holder.expiresAt) <= now || holderIsDead(holder);
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.runId !== 'string' || typeof value.expiresAt !== 'string') return undefined;
    return value as LockHolder;
  } catch {
    return undefined;
  }
}

/** The backend: one attempt to take, renew, release, read, remove. */
interface LockStore {
  /** Takes the lock for `holder`, or returns who holds it. */
  tryAcquire(holder: LockHolder): Promise<{ acquired: true } | { acquired: false; holder: LockHolder }>;
  /** Extends the lease; false when another run holds the lock now. */
  renew(holder: LockHolder): Promise<boolean>;
  release(holder: LockHolder): Promise<void>;
  /** For a process that exits without awaiting release (a second Ctrl-C): best effort, synchronous. */
  releaseSync?(holder: LockHolder): void;
  read(): Promise<LockHolder | undefined>;
  /** Removes the lock if `runId` holds it; returns the holder found (undefined: none). */
  removeIf(runId: string): Promise<{ removed: boolean; holder?: LockHolder }>;
  where: string;
}

// ---------------------------------------------------------------------------------------------
// The lock file.

/** Holding this short-lived file serialises take-overs of a stale lock and `unlock`. */
const TAKEOVER_STALE_MS = 10_000;

class FileLockStore implements LockStore {
  readonly where: string;
  private readonly takeoverPath: string;

  constructor(
    private readonly path: string,
    private readonly leaseMs: number,
  ) {
    this.where = `lock file ${path}`;
    this.takeoverPath = `${path}.takeover`;
  }

  private writeTemp(holder: LockHolder): string {
    const temp = `${this.path}.${holder.runId}.${process.pid}.tmp`;
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(holder, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return temp;
  }

  /** Creates the lock file with the holder in it, atomically; false when it exists. */
  private create(holder: LockHolder): boolean {
    const temp = this.writeTemp(holder);
    try {
      linkSync(temp, this.path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      unlinkSync(temp);
    }
  }

  private readFile(): { holder?: LockHolder; ageMs: number } | undefined {
    try {
      const text = readFileSync(this.path, 'utf8');
      const ageMs = Date.now() - statSync(this.path).mtimeMs;
      return { holder: parseHolder(text), ageMs };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Runs `critical` holding the take-over file; undefined when another process holds it now. */
  private withTakeover<T>(critical: () => T): T | undefined {
    let fd: number;
    try {
      fd = openSync(this.takeoverPath, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Left by a process killed inside its (millisecond-long) take-over: clear it; retry later.
      try {
        if (Date.now() - statSync(this.takeoverPath).mtimeMs > TAKEOVER_STALE_MS) unlinkSync(this.takeoverPath);
      } catch {
        // gone meanwhile
      }
      return undefined;
    }
    closeSync(fd);
    try {
      return critical();
    } finally {
      try {
        unlinkSync(this.takeoverPath);
      } catch {
        // already cleared
      }
    }
  }

  async tryAcquire(holder: LockHolder): Promise<{ acquired: true } | { acquired: false; holder: LockHolder }> {
    for (let round = 0; round < 5; round++) {
      if (this.create(holder)) return { acquired: true };
      const found = this.readFile();
      if (!found) continue; // released meanwhile
      const current = found.holder;
      if (current?.runId === holder.runId) return { acquired: true };
      // An unreadable lock file older than a lease is debris (a full disk, a hand edit): stale too.
      const stale = current ? isStale(current, Date.now()) : found.ageMs > this.leaseMs;
      if (!stale) return { acquired: false, holder: current ?? unknownHolder(found.ageMs) };
      const took = this.withTakeover(() => {
        // Re-checked under the take-over file: another process may have taken it over already.
        const again = this.readFile();
        if (again && again.holder?.runId !== current?.runId) return false;
        if (again) unlinkSync(this.path);
        return this.create(holder); // a plain acquire may win the free name first: then it holds
      });
      if (took) return { acquired: true };
    }
    const found = this.readFile();
    return { acquired: false, holder: found?.holder ?? unknownHolder(found?.ageMs ?? 0) };
  }

  // Renewal and release check "still ours?" and act under the take-over file, so a take-over of
  // this lock (possible only once its lease expired) cannot slip between the check and the act.

  async renew(holder: LockHolder): Promise<boolean> {
    const renewed = this.withTakeover(() => {
      const found = this.readFile();
      if (found?.holder?.runId !== holder.runId) return false;
      renameSync(this.writeTemp(holder), this.path); // atomic replace: readers see the old or the new lease
      return true;
    });
    if (renewed === undefined) throw new Error('lock file busy: renewed at the next tick');
    return renewed;
  }

  async release(holder: LockHolder): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      if (this.withTakeover(() => this.removeOwn(holder)) !== undefined) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    this.removeOwn(holder);
  }

  releaseSync(holder: LockHolder): void {
    for (let attempt = 0; attempt < 1000; attempt++) if (this.withTakeover(() => this.removeOwn(holder)) !== undefined) return;
    this.removeOwn(holder);
  }

  private removeOwn(holder: LockHolder): true {
    const found = this.readFile();
    if (found?.holder?.runId !== holder.runId) return true; // never remove another run's lock
    try {
      unlinkSync(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return true;
  }

  async read(): Promise<LockHolder | undefined> {
    const found = this.readFile();
    return found ? (found.holder ?? unknownHolder(found.ageMs)) : undefined;
  }

  async removeIf(runId: string): Promise<{ removed: boolean; holder?: LockHolder }> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const result = this.withTakeover(() => {
        const found = this.readFile();
        if (!found) return { removed: false };
        if (found.holder?.runId !== runId) return { removed: false, holder: found.holder ?? unknownHolder(found.ageMs) };
        unlinkSync(this.path);
        return { removed: true, holder: found.holder };
      });
      if (result) return result;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new RunbookError(`${this.where}: another process keeps taking it over; try again`);
  }
}

function unknownHolder(ageMs: number): LockHolder {
  const since = new Date(Date.now() - ageMs).toISOString();
  return { runId: '(unreadable lock file)', user: 'unknown', host: 'unknown', pid: 0, command: 'unknown', startedAt: since, expiresAt: 'unknown' };
}

// ---------------------------------------------------------------------------------------------
// The DynamoDB lock item: key lockId (S); the holder's fields; leaseExpiresMs (N) for the
// conditions; expiresAtEpoch (N, seconds) for the table's TTL, which clears old items.

export const LOCK_TABLE_KEY = 'lockId';
export const LOCK_TABLE_TTL_ATTRIBUTE = 'expiresAtEpoch';

function toItem(id: string, holder: LockHolder): Record<string, AttributeValue> {
  const expiresMs = Date.parse(holder.expiresAt);
  return {
    [LOCK_TABLE_KEY]: { S: id },
    runId: { S: holder.runId },
    user: { S: holder.user },
    host: { S: holder.host },
    pid: { N: String(holder.pid) },
    command: { S: holder.command },
    startedAt: { S: holder.startedAt },
    expiresAt: { S: holder.expiresAt },
    leaseExpiresMs: { N: String(expiresMs) },
    [LOCK_TABLE_TTL_ATTRIBUTE]: { N: String(Math.ceil(expiresMs / 1000)) },
    ...(holder.pidNamespace ? { pidNamespace: { S: holder.pidNamespace } } : {}),
  };
}

function fromItem(item: Record<string, AttributeValue> | undefined): LockHolder | undefined {
  if (!item?.runId?.S) return undefined;
  return {
    runId: item.runId.S,
    user: item.user?.S ?? 'unknown',
    host: item.host?.S ?? 'unknown',
    pid: Number(item.pid?.N ?? 0),
    command: item.command?.S ?? 'unknown',
    startedAt: item.startedAt?.S ?? 'unknown',
    expiresAt: item.expiresAt?.S ?? new Date(Number(item.leaseExpiresMs?.N ?? 0)).toISOString(),
    ...(item.pidNamespace?.S ? { pidNamespace: item.pidNamespace.S } : {}),
  };
}

const conditionFailed = (error: unknown) => error instanceof ConditionalCheckFailedException || isAwsError(error, 'ConditionalCheckFailedException');

class DynamoDbLockStore implements LockStore {
  readonly where: string;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly id: string,
  ) {
    this.where = `DynamoDB table ${table}, item ${LOCK_TABLE_KEY}=${id}`;
  }

  private key() {
    return { [LOCK_TABLE_KEY]: { S: this.id } };
  }

  async tryAcquire(holder: LockHolder): Promise<{ acquired: true } | { acquired: false; holder: LockHolder }> {
    let current: LockHolder | undefined;
    for (let round = 0; round < 3 && !current; round++) {
      try {
        await this.client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: toItem(this.id, holder),
            ConditionExpression: 'attribute_not_exists(#id) OR #lease < :now OR #run = :run',
            ExpressionAttributeNames: { '#id': LOCK_TABLE_KEY, '#lease': 'leaseExpiresMs', '#run': 'runId' },
            ExpressionAttributeValues: { ':now': { N: String(Date.now()) }, ':run': { S: holder.runId } },
          }),
        );
        return { acquired: true };
      } catch (error) {
        if (isAwsError(error, 'ResourceNotFoundException')) {
          throw new UsageError(`lock.dynamodbTable: table ${this.table} does not exist in this account and region; create it with: fintech-runbook lock-table create`, { cause: error });
        }
        if (!conditionFailed(error)) throw error;
      }
      current = await this.read(); // undefined: released meanwhile, try again
    }
    if (!current) return { acquired: false, holder: unknownHolder(0) };
    if (!holderIsDead(current)) return { acquired: false, holder: current };
    // Its lease is still running but its process is gone (this host): take it over, if it is
    // still that same holder and lease (another process may be taking it over too).
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: toItem(this.id, holder),
          ConditionExpression: '#run = :theirs AND #exp = :theirExpiry',
          ExpressionAttributeNames: { '#run': 'runId', '#exp': 'expiresAt' },
          ExpressionAttributeValues: { ':theirs': { S: current.runId }, ':theirExpiry': { S: current.expiresAt } },
        }),
      );
      return { acquired: true };
    } catch (error) {
      if (!conditionFailed(error)) throw error;
      return { acquired: false, holder: (await this.read()) ?? current };
    }
  }

  async renew(holder: LockHolder): Promise<boolean> {
    const expiresMs = Date.parse(holder.expiresAt);
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: this.key(),
          UpdateExpression: 'SET #exp = :exp, #lease = :lease, #ttl = :ttl',
          ConditionExpression: '#run = :run',
          ExpressionAttributeNames: { '#exp': 'expiresAt', '#lease': 'leaseExpiresMs', '#ttl': LOCK_TABLE_TTL_ATTRIBUTE, '#run': 'runId' },
          ExpressionAttributeValues: {
            ':exp': { S: holder.expiresAt },
            ':lease': { N: String(expiresMs) },
            ':ttl': { N: String(Math.ceil(expiresMs / 1000)) },
            ':run': { S: holder.runId },
          },
        }),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw error;
    }
  }

  async release(holder: LockHolder): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: this.key(),
          ConditionExpression: '#run = :run',
          ExpressionAttributeNames: { '#run': 'runId' },
          ExpressionAttributeValues: { ':run': { S: holder.runId } },
        }),
      );
    } catch (error) {
      if (!conditionFailed(error)) throw error; // another run's lock now (ours expired): leave it
    }
  }

  async read(): Promise<LockHolder | undefined> {
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: this.key(), ConsistentRead: true }));
    return fromItem(Item);
  }

  async removeIf(runId: string): Promise<{ removed: boolean; holder?: LockHolder }> {
    const holder = await this.read();
    if (!holder || holder.runId !== runId) return { removed: false, holder };
    try {
      await this.release(holder);
      const after = await this.read();
      return after?.runId === runId ? { removed: false, holder: after } : { removed: true, holder };
    } catch (error) {
      if (!conditionFailed(error)) throw error;
      return { removed: false, holder: await this.read() };
    }
  }
}

function leaseMsOf(config: LockConfig, leaseSeconds?: number): number {
  return (leaseSeconds ?? config.lock?.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
}

function storeFor(opts: { config: LockConfig; clients: { dynamodb: DynamoDBClient }; stateDir: string; leaseMs: number }): LockStore {
  const table = opts.config.lock?.dynamodbTable;
  if (table) return new DynamoDbLockStore(opts.clients.dynamodb, table, lockId(opts.config));
  mkdirSync(opts.stateDir, { recursive: true });
  return new FileLockStore(lockFilePath(opts.config, opts.stateDir), opts.leaseMs);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new InterruptedError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function environmentLock(opts: LockOptions): EnvironmentLock {
  const leaseMs = leaseMsOf(opts.config, opts.leaseSeconds);
  const store = storeFor({ ...opts, leaseMs });
  const id = lockId(opts.config);
  const startedAt = new Date().toISOString();
  let holder: LockHolder = {
    runId: opts.runId,
    user: currentUser(),
    host: hostname(),
    pid: process.pid,
    command: opts.command,
    startedAt,
    expiresAt: new Date(Date.parse(startedAt) + leaseMs).toISOString(),
    ...(PID_NAMESPACE ? { pidNamespace: PID_NAMESPACE } : {}),
  };
  let timer: NodeJS.Timeout | undefined;
  let held = false;
  let lost = false;
  let renewing: Promise<void> | undefined;
  const onExit = () => {
    if (held) store.releaseSync?.(holder);
  };

  const withLease = (): LockHolder => ({ ...holder, expiresAt: new Date(Date.now() + leaseMs).toISOString() });

  async function renewOnce(): Promise<void> {
    if (!held) return;
    const next = withLease();
    try {
      if (await store.renew(next)) holder = next;
      else {
        lost = true;
        held = false;
        stopTimer();
      }
    } catch {
      // A failed renewal (network, throttling) is retried at the next tick; the lease has room.
    }
  }

  function stopTimer(): void {
    if (timer) clearInterval(timer);
    timer = undefined;
    process.off('exit', onExit);
  }

  return {
    get holder() {
      return holder;
    },
    get lost() {
      return lost;
    },
    async acquire({ timeoutMs, signal }) {
      if (held) return;
      const deadline = Date.now() + Math.max(0, timeoutMs);
      for (;;) {
        if (signal?.aborted) throw new InterruptedError();
        const candidate = withLease();
        const result = await store.tryAcquire(candidate);
        if (result.acquired) {
          holder = candidate;
          held = true;
          lost = false;
          // Renew three times per lease: two renewals may fail before it expires.
          timer = setInterval(() => {
            renewing ??= renewOnce().finally(() => (renewing = undefined));
          }, Math.max(50, Math.floor(leaseMs / 3)));
          timer.unref();
          process.once('exit', onExit);
          return;
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new LockHeldError(id, result.holder, store.where);
        await sleep(Math.min(LOCK_POLL_MS, remaining), signal);
      }
    },
    async release() {
      stopTimer();
      await renewing;
      if (!held) return;
      held = false;
      await store.release(holder);
    },
  };
}

/** Who holds the environment's lock now, if anyone (expired leases included). */
export async function readLock(opts: { config: LockConfig; clients: { dynamodb: DynamoDBClient }; stateDir: string }): Promise<LockHolder | undefined> {
  return storeFor({ ...opts, leaseMs: leaseMsOf(opts.config) }).read();
}

/**
 * `fintech-runbook unlock <run-id>`: removes the lock if that run holds it (a holder that died
 * with a long lease). Any other id is refused (UsageError, exit 2) naming the real holder.
 */
export async function unlock(opts: { config: LockConfig; clients: { dynamodb: DynamoDBClient }; stateDir: string; runId: string }): Promise<LockHolder> {
  const store = storeFor({ ...opts, leaseMs: leaseMsOf(opts.config) });
  const id = lockId(opts.config);
  const { removed, holder } = await store.removeIf(opts.runId);
  if (removed && holder) return holder;
  if (!holder) throw new UsageError(`unlock ${opts.runId}: no run holds the lock on ${id} (${store.where})`);
  throw new UsageError(`unlock ${opts.runId}: refused, the lock on ${id} is held by ${describeHolder(holder)}, not by ${opts.runId} (${store.where})`);
}
