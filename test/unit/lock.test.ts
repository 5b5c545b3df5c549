// The environment lock (issue 8): the lock file in the state directory, and the DynamoDB lock item
// (aws-sdk-client-mock). The e2e file test/e2e/lock.test.ts runs the DynamoDB lock against moto,
// across processes, with a holder killed by SIGKILL.
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createClients } from '../../src/aws/clients.js';
import type { RunbookConfig } from '../../src/config.js';
import { ExitCode, InterruptedError, UsageError } from '../../src/core/errors.js';
import {
  environmentLock,
  LOCK_POLL_MS,
  lockFilePath,
  LockHeldError,
  readLock,
  unlock,
  type EnvironmentLock,
  type LockHolder,
} from '../../src/core/lock.js';
import { ACCOUNT_ID, testConfig } from '../helpers/mock-aws.js';

const LOCK_ID = `${ACCOUNT_ID}/us-east-1/fintech-prod-cluster`;

let stateDir: string;
let config: RunbookConfig;
// The lock's own client, as src/commands/guard.ts and lock.ts pass it (never the run's read cache).
const clients = { dynamodb: createClients({ region: 'us-east-1' }).lock };
const held: EnvironmentLock[] = [];

function lockFor(runId: string, options: { command?: string; leaseSeconds?: number; cfg?: RunbookConfig } = {}): EnvironmentLock {
  const lock = environmentLock({ config: options.cfg ?? config, clients, stateDir, runId, command: options.command ?? 'apply', leaseSeconds: options.leaseSeconds });
  held.push(lock);
  return lock;
}

const lockFile = () => lockFilePath(config, stateDir);
const fileHolder = (): LockHolder => JSON.parse(readFileSync(lockFile(), 'utf8')) as LockHolder;

/** A holder written by hand, as another run (on another machine unless said) would have left it. */
function writeHolder(overrides: Partial<LockHolder>): LockHolder {
  const holder: LockHolder = {
    runId: 'run-other',
    user: 'alice',
    host: 'ops-box-7',
    pid: 4242,
    command: 'apply',
    startedAt: '2026-01-05T09:00:00.000Z',
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
    ...overrides,
  };
  writeFileSync(lockFile(), JSON.stringify(holder));
  return holder;
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

async function heldError(promise: Promise<unknown>): Promise<LockHeldError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LockHeldError);
  return error as LockHeldError;
}

beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'fintech-runbook-lock-'));
  config = testConfig();
});
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(held.splice(0).map((lock) => lock.release()));
  rmSync(stateDir, { recursive: true, force: true });
});

describe('the lock file', () => {
  it('acquire creates the file with the holder; release removes it', async () => {
    const lock = lockFor('run-1', { command: 'rollback --to 7' });
    await lock.acquire({ timeoutMs: 0 });
    expect(lockFile()).toBe(join(stateDir, `lock-${ACCOUNT_ID}-us-east-1-fintech-prod-cluster.json`));
    expect(fileHolder()).toEqual({
      runId: 'run-1',
      user: expect.any(String),
      host: hostname(),
      pid: process.pid,
      command: 'rollback --to 7',
      startedAt: lock.holder.startedAt,
      expiresAt: lock.holder.expiresAt,
      ...(process.platform === 'linux' ? { pidNamespace: expect.stringMatching(/^pid:\[\d+\]$/) } : {}),
    });
    expect(Date.parse(lock.holder.expiresAt) - Date.now()).toBeGreaterThan(55_000); // default lease 60 s
    expect(await readLock({ config, clients, stateDir })).toEqual(lock.holder);

    await lock.release();
    expect(existsSync(lockFile())).toBe(false);
    await lock.release(); // twice is harmless
    expect(await readLock({ config, clients, stateDir })).toBeUndefined();
  });

  it('a second run is refused at once with exit 5, naming the holder, its command and since when', async () => {
    const first = lockFor('run-first', { command: 'apply' });
    await first.acquire({ timeoutMs: 0 });
    const error = await heldError(lockFor('run-second').acquire({ timeoutMs: 0 }));
    const { user, startedAt, expiresAt } = first.holder;
    expect(error.exitCode).toBe(ExitCode.lockHeld);
    expect(error.exitCode).toBe(5);
    expect(error.holder).toEqual(first.holder);
    expect(error.message).toContain(`${LOCK_ID} is locked by run run-first (${user}@${hostname()} pid ${process.pid}, "apply", since ${startedAt})`);
    expect(error.message).toContain(`lease runs until ${expiresAt}`);
    expect(error.message).toContain('fintech-runbook unlock run-first');
    expect(error.message).toContain(lockFile());
    expect(fileHolder().runId).toBe('run-first'); // the refused run changed nothing
  });

  it('waits while the lock is held and takes it once it is released', async () => {
    const first = lockFor('run-first');
    await first.acquire({ timeoutMs: 0 });
    const second = lockFor('run-second');
    const waiting = second.acquire({ timeoutMs: 30_000 });
    await first.release();
    await waiting;
    expect(fileHolder().runId).toBe('run-second');
  });

  it('gives up after the timeout, polling meanwhile', async () => {
    await lockFor('run-first').acquire({ timeoutMs: 0 });
    const started = Date.now();
    const error = await heldError(lockFor('run-second').acquire({ timeoutMs: 3 * LOCK_POLL_MS }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * LOCK_POLL_MS - 5);
    expect(error.holder.runId).toBe('run-first');
  });

  it('an interrupt while waiting stops the wait (exit 130), holding nothing', async () => {
    await lockFor('run-first').acquire({ timeoutMs: 0 });
    const controller = new AbortController();
    const waiting = lockFor('run-second').acquire({ timeoutMs: 30_000, signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(InterruptedError);
    expect(fileHolder().runId).toBe('run-first');
  });

  it('takes over a lock whose lease expired (its holder died on another machine)', async () => {
    writeHolder({ expiresAt: new Date(Date.now() - 1000).toISOString() });
    const lock = lockFor('run-new');
    await lock.acquire({ timeoutMs: 0 });
    expect(fileHolder()).toEqual(lock.holder);
  });

  it('refuses a lock with a running lease on another machine, even if nothing renews it here', async () => {
    const other = writeHolder({});
    const error = await heldError(lockFor('run-new').acquire({ timeoutMs: 0 }));
    expect(error.holder).toEqual(other);
    expect(error.message).toContain('run run-other (alice@ops-box-7 pid 4242, "apply", since 2026-01-05T09:00:00.000Z)');
  });

  it('takes over a lock whose holder pid is dead on this host, lease or not', async () => {
    writeHolder({ host: hostname(), pid: deadPid() });
    const lock = lockFor('run-new');
    await lock.acquire({ timeoutMs: 0 });
    expect(fileHolder().runId).toBe('run-new');
  });

  it.runIf(process.platform === 'linux')('a dead pid on this hostname but in another pid namespace (another container) is not trusted: its lease rules', async () => {
    writeHolder({ host: hostname(), pid: deadPid(), pidNamespace: 'pid:[1]' });
    expect((await heldError(lockFor('run-new').acquire({ timeoutMs: 0 }))).holder.runId).toBe('run-other');
  });

  it('a live pid on this host keeps its lock', async () => {
    writeHolder({ host: hostname(), pid: process.pid, runId: 'run-live' });
    expect((await heldError(lockFor('run-new').acquire({ timeoutMs: 0 }))).holder.runId).toBe('run-live');
  });

  it('of many runs that find the same stale lock, exactly one takes it over', async () => {
    writeHolder({ expiresAt: new Date(Date.now() - 1000).toISOString() });
    const locks = Array.from({ length: 8 }, (_, i) => lockFor(`run-${i}`));
    const results = await Promise.allSettled(locks.map((lock) => lock.acquire({ timeoutMs: 0 })));
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [`run-${i}`] : []));
    expect(winners).toHaveLength(1);
    expect(fileHolder().runId).toBe(winners[0]);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(LockHeldError);
  });

  it('renews the lease while it runs (lease/3), so a live holder never looks expired', async () => {
    vi.useFakeTimers({ now: new Date('2026-02-01T12:00:00.000Z') });
    const lock = lockFor('run-1', { leaseSeconds: 6 });
    await lock.acquire({ timeoutMs: 0 });
    expect(fileHolder().expiresAt).toBe('2026-02-01T12:00:06.000Z');
    await vi.advanceTimersByTimeAsync(2000);
    expect(fileHolder().expiresAt).toBe('2026-02-01T12:00:08.000Z');
    expect(lock.holder.expiresAt).toBe('2026-02-01T12:00:08.000Z');
    await vi.advanceTimersByTimeAsync(10_000); // far past the first lease
    expect(Date.parse(fileHolder().expiresAt)).toBe(Date.parse('2026-02-01T12:00:18.000Z'));
    expect((await heldError(lockFor('run-2').acquire({ timeoutMs: 0 }))).holder.runId).toBe('run-1');
    await lock.release();
    expect(existsSync(lockFile())).toBe(false);
  });

  it('a holder whose lock was taken over stops renewing and never removes the new holder', async () => {
    vi.useFakeTimers({ now: new Date('2026-02-01T12:00:00.000Z') });
    const lock = lockFor('run-1', { leaseSeconds: 6 });
    await lock.acquire({ timeoutMs: 0 });
    const other = writeHolder({ runId: 'run-2' }); // as after run-1 stalled past its lease
    await vi.advanceTimersByTimeAsync(2000);
    expect(lock.lost).toBe(true);
    await lock.release();
    expect(fileHolder()).toEqual(other);
  });

  it('takes lock.leaseSeconds from the config', async () => {
    const lock = lockFor('run-1', { cfg: { ...config, lock: { leaseSeconds: 5 } } });
    await lock.acquire({ timeoutMs: 0 });
    expect(Date.parse(lock.holder.expiresAt) - Date.parse(lock.holder.startedAt)).toBeLessThanOrEqual(5_100);
  });
});

describe('unlock', () => {
  it('refuses a wrong run id (exit 2), naming the real holder, and leaves the lock', async () => {
    const first = lockFor('run-first');
    await first.acquire({ timeoutMs: 0 });
    const error = await unlock({ config, clients, stateDir, runId: 'run-typo' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    expect((error as Error).message).toContain(`refused, the lock on ${LOCK_ID} is held by run run-first (`);
    expect((error as Error).message).toContain('not by run-typo');
    expect(fileHolder().runId).toBe('run-first');
  });

  it('removes the lock of the run named, and says who held it', async () => {
    const dead = writeHolder({ runId: 'run-dead' });
    expect(await unlock({ config, clients, stateDir, runId: 'run-dead' })).toEqual(dead);
    expect(existsSync(lockFile())).toBe(false);
    await lockFor('run-next').acquire({ timeoutMs: 0 });
  });

  it('says so when no run holds the lock (exit 2)', async () => {
    const error = await unlock({ config, clients, stateDir, runId: 'run-x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain(`no run holds the lock on ${LOCK_ID}`);
  });
});

describe('the DynamoDB lock item (lock.dynamodbTable)', () => {
  const ddb = mockClient(DynamoDBClient);
  const TABLE = 'fintech-runbook-locks';
  const dynamoConfig = () => ({ ...config, lock: { dynamodbTable: TABLE, leaseSeconds: 30 } });
  const conditionFailed = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 } });
  const item = (holder: Partial<LockHolder> = {}) => ({
    lockId: { S: LOCK_ID },
    runId: { S: holder.runId ?? 'run-ci-118' },
    user: { S: holder.user ?? 'ci' },
    host: { S: holder.host ?? 'runner-3' },
    pid: { N: String(holder.pid ?? 77) },
    command: { S: holder.command ?? 'apply' },
    startedAt: { S: holder.startedAt ?? '2026-01-05T09:00:00.000Z' },
    expiresAt: { S: holder.expiresAt ?? '2026-01-05T09:01:00.000Z' },
  });

  beforeEach(() => {
    ddb.reset();
    ddb.onAnyCommand().rejects(new Error('unmocked dynamodb call'));
    ddb.on(DeleteItemCommand).resolves({}); // the release in afterEach
  });

  it('takes the lock with a conditional PutItem (absent, expired, or already ours), keyed account/region/cluster', async () => {
    ddb.on(PutItemCommand).resolves({});
    const lock = lockFor('run-1', { cfg: dynamoConfig(), command: 'apply' });
    await lock.acquire({ timeoutMs: 0 });
    const [put] = ddb.commandCalls(PutItemCommand);
    const input = put.args[0].input;
    expect(input.TableName).toBe(TABLE);
    expect(input.ConditionExpression).toBe('attribute_not_exists(#id) OR #lease < :now OR #run = :run');
    expect(input.ExpressionAttributeNames).toEqual({ '#id': 'lockId', '#lease': 'leaseExpiresMs', '#run': 'runId' });
    expect(Number(input.ExpressionAttributeValues?.[':now'].N)).toBeLessThanOrEqual(Date.now());
    const expiresMs = Date.parse(lock.holder.expiresAt);
    expect(input.Item).toEqual({
      lockId: { S: LOCK_ID },
      runId: { S: 'run-1' },
      user: { S: lock.holder.user },
      host: { S: hostname() },
      pid: { N: String(process.pid) },
      command: { S: 'apply' },
      startedAt: { S: lock.holder.startedAt },
      expiresAt: { S: lock.holder.expiresAt },
      leaseExpiresMs: { N: String(expiresMs) },
      expiresAtEpoch: { N: String(Math.ceil(expiresMs / 1000)) },
      ...(lock.holder.pidNamespace ? { pidNamespace: { S: lock.holder.pidNamespace } } : {}),
    });
    expect(expiresMs - Date.now()).toBeGreaterThan(25_000); // lock.leaseSeconds: 30
  });

  it('a conditional-check failure means held: exit 5 naming the holder from the item', async () => {
    ddb.on(PutItemCommand).rejects(conditionFailed());
    ddb.on(GetItemCommand).resolves({ Item: item() });
    const error = await heldError(lockFor('run-1', { cfg: dynamoConfig() }).acquire({ timeoutMs: 0 }));
    expect(error.exitCode).toBe(5);
    expect(error.holder).toEqual({ runId: 'run-ci-118', user: 'ci', host: 'runner-3', pid: 77, command: 'apply', startedAt: '2026-01-05T09:00:00.000Z', expiresAt: '2026-01-05T09:01:00.000Z' });
    expect(error.message).toContain('is locked by run run-ci-118 (ci@runner-3 pid 77, "apply", since 2026-01-05T09:00:00.000Z)');
    expect(error.message).toContain(`DynamoDB table ${TABLE}`);
    expect(ddb.commandCalls(GetItemCommand)[0].args[0].input).toEqual({ TableName: TABLE, Key: { lockId: { S: LOCK_ID } }, ConsistentRead: true });
  });

  it('a lock table that does not exist is a usage error telling how to create it', async () => {
    ddb.on(PutItemCommand).rejects(Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException' }));
    const error = await lockFor('run-1', { cfg: dynamoConfig() }).acquire({ timeoutMs: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain(`table ${TABLE} does not exist in this account and region; create it with: fintech-runbook lock-table create`);
  });

  it('takes over an item whose holder pid is dead on this host, conditioned on that same holder', async () => {
    const stale = item({ host: hostname(), pid: deadPid(), expiresAt: new Date(Date.now() + 60_000).toISOString() });
    ddb.on(PutItemCommand).rejectsOnce(conditionFailed()).resolves({});
    ddb.on(GetItemCommand).resolves({ Item: stale });
    await lockFor('run-1', { cfg: dynamoConfig() }).acquire({ timeoutMs: 0 });
    const puts = ddb.commandCalls(PutItemCommand);
    expect(puts).toHaveLength(2);
    expect(puts[1].args[0].input).toMatchObject({
      ConditionExpression: '#run = :theirs AND #exp = :theirExpiry',
      ExpressionAttributeValues: { ':theirs': { S: 'run-ci-118' }, ':theirExpiry': stale.expiresAt },
    });
  });

  it('renews with a conditional UpdateItem on its run id, and releases with a conditional DeleteItem', async () => {
    vi.useFakeTimers({ now: new Date('2026-02-01T12:00:00.000Z') });
    ddb.on(PutItemCommand).resolves({});
    ddb.on(UpdateItemCommand).resolves({});
    ddb.on(DeleteItemCommand).resolves({});
    const lock = lockFor('run-1', { cfg: dynamoConfig() });
    await lock.acquire({ timeoutMs: 0 });
    await vi.advanceTimersByTimeAsync(10_000); // lease 30 s: renewed every 10 s
    const [update] = ddb.commandCalls(UpdateItemCommand);
    expect(update.args[0].input).toMatchObject({
      TableName: TABLE,
      Key: { lockId: { S: LOCK_ID } },
      ConditionExpression: '#run = :run',
      ExpressionAttributeValues: { ':run': { S: 'run-1' }, ':exp': { S: '2026-02-01T12:00:40.000Z' } },
    });
    expect(lock.holder.expiresAt).toBe('2026-02-01T12:00:40.000Z');
    await lock.release();
    expect(ddb.commandCalls(DeleteItemCommand)[0].args[0].input).toEqual({
      TableName: TABLE,
      Key: { lockId: { S: LOCK_ID } },
      ConditionExpression: '#run = :run',
      ExpressionAttributeNames: { '#run': 'runId' },
      ExpressionAttributeValues: { ':run': { S: 'run-1' } },
    });
  });

  it('a renewal whose condition fails marks the lock lost; release then deletes nothing', async () => {
    vi.useFakeTimers({ now: new Date('2026-02-01T12:00:00.000Z') });
    ddb.on(PutItemCommand).resolves({});
    ddb.on(UpdateItemCommand).rejects(conditionFailed());
    const lock = lockFor('run-1', { cfg: dynamoConfig() });
    await lock.acquire({ timeoutMs: 0 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(lock.lost).toBe(true);
    await lock.release();
    expect(ddb.commandCalls(DeleteItemCommand)).toHaveLength(0);
  });

  it('unlock refuses a wrong id naming the holder, and deletes the right one conditionally', async () => {
    ddb.on(GetItemCommand).resolvesOnce({ Item: item() }).resolvesOnce({ Item: item() }).resolves({});
    ddb.on(DeleteItemCommand).resolves({});
    const error = await unlock({ config: dynamoConfig(), clients, stateDir, runId: 'run-typo' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain('held by run run-ci-118 (ci@runner-3 pid 77');
    expect(ddb.commandCalls(DeleteItemCommand)).toHaveLength(0);

    const removed = await unlock({ config: dynamoConfig(), clients, stateDir, runId: 'run-ci-118' });
    expect(removed.runId).toBe('run-ci-118');
    expect(ddb.commandCalls(DeleteItemCommand)[0].args[0].input).toMatchObject({ ConditionExpression: '#run = :run', ExpressionAttributeValues: { ':run': { S: 'run-ci-118' } } });
  });
});
