// The environment lock and the caller's account against moto (issue 8): `lock-table create`, the
// DynamoDB lock held by one process and refused to another with its own state directory (another
// machine), a holder killed with SIGKILL whose lease expires, `unlock` refusing a wrong id, and
// credentials of another account refused with exit 2 (moto: an STS AssumeRole of a role in another
// account gives credentials that moto maps to that account).
import { CreateTableCommand, DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient, ListTablesCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { emulatorEnv } from '../../scripts/emulator.js';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import { parseConfig, type RunbookConfig } from '../../src/config.js';
import { environmentLock, lockFilePath, LockHeldError, readLock, type EnvironmentLock, type LockHolder } from '../../src/core/lock.js';
import { emulatorClientConfig, repoRoot, runCli, useEmulator } from '../helpers/e2e.js';
import { ACCOUNT_ID, fixtureEnv } from '../helpers/mock-aws.js';

const fx = useEmulator();
const TABLE = 'fintech-runbook-locks';
const OTHER_ACCOUNT = '210987654321';
const localYaml = readFileSync(join(repoRoot, 'config', 'local.yaml'), 'utf8');
const configDir = mkdtempSync(join(tmpdir(), 'fintech-runbook-lock-config-'));

/** config/local.yaml with the DynamoDB lock (a 5 s lease: the schema's minimum). */
const dynamoConfigFile = join(configDir, 'dynamo-lock.yaml');
writeFileSync(dynamoConfigFile, `${localYaml}\nlock:\n  dynamodbTable: ${TABLE}\n  leaseSeconds: 5\n`);
const fileConfigFile = join(repoRoot, 'config', 'local.yaml');

let env: NodeJS.ProcessEnv;
// The locks get `clients.lock`, as src/commands/guard.ts passes it: the lock's reads never come from a run's read cache.
let clients: AwsClients;
let ddb: DynamoDBClient;
const locks: EnvironmentLock[] = [];
const children: ChildProcess[] = [];

const newStateDir = () => mkdtempSync(join(tmpdir(), 'fintech-runbook-state-'));
const config = (file: string): RunbookConfig => parseConfig(readFileSync(file, 'utf8'), { ...fixtureEnv }, file);
const cli = (file: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
  runCli(['--config', file, '--endpoint-url', fx.emulator.endpoint, ...args], { env: { ...env, ...extraEnv } });

function lockIn(stateDir: string, runId: string, cfg = config(dynamoConfigFile), leaseSeconds?: number): EnvironmentLock {
  const lock = environmentLock({ config: cfg, clients: { dynamodb: clients.lock }, stateDir, runId, command: 'apply', leaseSeconds });
  locks.push(lock);
  return lock;
}

async function createLockTable(): Promise<void> {
  await ddb.send(
    new CreateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [{ AttributeName: 'lockId', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'lockId', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}

/**
 * Another process (another machine: its own state directory) that takes the DynamoDB lock with
 * the built modules, says "held <holder json>" and keeps running (renewing) until killed.
 */
function holderProcess(runId: string, leaseSeconds: number): Promise<{ child: ChildProcess; holder: LockHolder }> {
  const script = `
    import { readFileSync } from 'node:fs';
    import { parseConfig } from ${JSON.stringify(join(repoRoot, 'dist/src/config.js'))};
    import { createClients } from ${JSON.stringify(join(repoRoot, 'dist/src/aws/clients.js'))};
    import { environmentLock } from ${JSON.stringify(join(repoRoot, 'dist/src/core/lock.js'))};
    const config = parseConfig(readFileSync(process.env.LOCK_CONFIG, 'utf8'), process.env, 'lock config');
    const clients = createClients({ region: config.region, endpointUrl: process.env.LOCK_ENDPOINT });
    const lock = environmentLock({ config, clients: { dynamodb: clients.lock }, stateDir: process.env.LOCK_STATE_DIR, runId: process.env.LOCK_RUN_ID, command: 'apply', leaseSeconds: Number(process.env.LOCK_LEASE) });
    await lock.acquire({ timeoutMs: 0 });
    process.stdout.write('held ' + JSON.stringify(lock.holder) + '\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      ...process.env,
      ...env,
      LOCK_CONFIG: dynamoConfigFile,
      LOCK_ENDPOINT: fx.emulator.endpoint,
      LOCK_STATE_DIR: newStateDir(),
      LOCK_RUN_ID: runId,
      LOCK_LEASE: String(leaseSeconds),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('held '));
      if (line) resolve({ child, holder: JSON.parse(line.slice(5)) as LockHolder });
    });
    child.once('exit', (code) => reject(new Error(`lock holder exited (${code}) before holding the lock:\n${out}\n${err}`)));
  });
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Polls until `check` returns a value (no fixed sleeps), or fails after timeoutMs. */
async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeEach(async () => {
  await fx.emulator.reset();
  env = { ...emulatorEnv(), ...fixtureEnv, FINTECH_RUNBOOK_STATE_DIR: newStateDir() };
  // The in-process locks' clients take the emulator's credentials from the SDK chain, as the CLI does.
  for (const [name, value] of Object.entries(emulatorEnv())) vi.stubEnv(name, value!);
  clients = createClients({ region: 'us-east-1', endpointUrl: fx.emulator.endpoint });
  ddb = new DynamoDBClient(emulatorClientConfig(fx.emulator.endpoint));
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) await kill9(child);
  await Promise.all(locks.splice(0).map((lock) => lock.release().catch(() => undefined)));
  clients.destroy();
  ddb.destroy();
  vi.unstubAllEnvs();
});

describe('lock-table create', () => {
  it('creates the lock table (lockId HASH, on-demand, TTL on expiresAtEpoch), ACTIVE; a second run writes nothing', async () => {
    const first = await cli(dynamoConfigFile, ['--json', 'lock-table', 'create']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json).toMatchObject({ command: 'lock-table create', ok: true, table: TABLE, created: true, status: 'ACTIVE', ttl: 'ENABLED' });
    expect(first.stderr).toContain(`Created ${TABLE}`);
    const { Table } = await ddb.send(new DescribeTableCommand({ TableName: TABLE }));
    expect(Table).toMatchObject({
      TableStatus: 'ACTIVE',
      KeySchema: [{ AttributeName: 'lockId', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'lockId', AttributeType: 'S' }],
      BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
    });
    const { TimeToLiveDescription } = await ddb.send(new DescribeTimeToLiveCommand({ TableName: TABLE }));
    expect(TimeToLiveDescription).toMatchObject({ AttributeName: 'expiresAtEpoch', TimeToLiveStatus: 'ENABLED' });

    const second = await cli(dynamoConfigFile, ['--json', 'lock-table', 'create']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.json).toMatchObject({ created: false, status: 'ACTIVE', calls: { writes: 0 } });
  });

  it('--table names the table; without one it is a usage error (exit 2)', async () => {
    const named = await cli(fileConfigFile, ['lock-table', 'create', '--table', 'team-locks']);
    expect(named.code, named.stderr).toBe(0);
    expect((await ddb.send(new ListTablesCommand({}))).TableNames).toEqual(['team-locks']);
    const none = await cli(fileConfigFile, ['lock-table', 'create']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Set lock.dynamodbTable in the config, or pass --table <name>');
  });
});

describe('the DynamoDB lock across processes and machines', () => {
  beforeEach(createLockTable);

  it('a lock held by one process is refused to another with its own state directory, naming the holder', async () => {
    const { child, holder } = await holderProcess('run-machine-a', 5);
    expect(holder.pid).toBe(child.pid);
    const error = await lockIn(newStateDir(), 'run-machine-b')
      .acquire({ timeoutMs: 0 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockHeldError);
    expect((error as LockHeldError).exitCode).toBe(5);
    expect((error as LockHeldError).holder).toMatchObject({ runId: 'run-machine-a', pid: child.pid, command: 'apply', startedAt: holder.startedAt });
    expect((error as Error).message).toContain(`${ACCOUNT_ID}/us-east-1/fintech-prod-cluster is locked by run run-machine-a (`);
    expect((error as Error).message).toContain(`pid ${child.pid}, "apply", since ${holder.startedAt}`);
  });

  it('the holder renews its lease while it runs: still refused after its first lease has passed', async () => {
    const { holder } = await holderProcess('run-renewing', 1.5);
    const renewed = await eventually(
      async () => {
        const now = await readLock({ config: config(dynamoConfigFile), clients: { dynamodb: clients.lock }, stateDir: newStateDir() });
        return now && Date.parse(now.expiresAt) > Date.parse(holder.expiresAt) + 1000 ? now : undefined;
      },
      20_000,
      'a renewal',
    );
    expect(renewed.runId).toBe('run-renewing');
    await eventually(async () => (Date.now() > Date.parse(holder.expiresAt) + 200 ? true : undefined), 10_000, 'the first lease to pass');
    await expect(lockIn(newStateDir(), 'run-other').acquire({ timeoutMs: 0 })).rejects.toBeInstanceOf(LockHeldError);
  });

  it('a holder killed with SIGKILL on another machine: its lease expires and the next acquire proceeds', async () => {
    const { child, holder } = await holderProcess('run-killed', 2);
    await kill9(child);
    // As seen from another machine: its pid cannot be checked there, only its lease.
    await ddb.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: { lockId: { S: `${ACCOUNT_ID}/us-east-1/fintech-prod-cluster` } },
        UpdateExpression: 'SET #host = :h',
        ExpressionAttributeNames: { '#host': 'host' },
        ExpressionAttributeValues: { ':h': { S: 'ops-box-elsewhere' } },
      }),
    );
    const stillLeased = await readLock({ config: config(dynamoConfigFile), clients: { dynamodb: clients.lock }, stateDir: newStateDir() });
    const leaseEnd = Date.parse(stillLeased!.expiresAt);
    expect(stillLeased).toMatchObject({ runId: 'run-killed', host: 'ops-box-elsewhere' });
    if (Date.now() < leaseEnd - 300) {
      await expect(lockIn(newStateDir(), 'run-too-early').acquire({ timeoutMs: 0 })).rejects.toBeInstanceOf(LockHeldError);
    }
    const next = lockIn(newStateDir(), 'run-next');
    await next.acquire({ timeoutMs: 20_000 });
    expect(Date.now()).toBeGreaterThanOrEqual(leaseEnd);
    expect(await readLock({ config: config(dynamoConfigFile), clients: { dynamodb: clients.lock }, stateDir: newStateDir() })).toMatchObject({ runId: 'run-next' });
    expect(Date.parse(holder.expiresAt)).toBeLessThanOrEqual(leaseEnd);
  });

  it('a holder killed with SIGKILL on this machine is stale at once (its pid is dead)', async () => {
    const { child } = await holderProcess('run-killed-here', 60);
    await kill9(child);
    const next = lockIn(newStateDir(), 'run-next');
    await next.acquire({ timeoutMs: 0 });
    expect((await readLock({ config: config(dynamoConfigFile), clients: { dynamodb: clients.lock }, stateDir: newStateDir() }))?.runId).toBe('run-next');
  });

  it('unlock refuses a wrong run id (exit 2) naming the holder, and removes the right one', async () => {
    const { child } = await holderProcess('run-dead', 60);
    const wrong = await cli(dynamoConfigFile, ['unlock', 'run-typo']);
    expect(wrong.code, wrong.stderr).toBe(2);
    expect(wrong.stderr).toContain('refused, the lock on');
    expect(wrong.stderr).toContain(`held by run run-dead (`);
    expect(wrong.stderr).toContain(`pid ${child.pid}`);
    await kill9(child);
    const right = await cli(dynamoConfigFile, ['unlock', 'run-dead']);
    expect(right.code, right.stderr).toBe(0);
    expect(right.stdout).toContain('Removed the lock on');
    expect(await readLock({ config: config(dynamoConfigFile), clients: { dynamodb: clients.lock }, stateDir: newStateDir() })).toBeUndefined();
  });
});

describe('the lock file (default)', () => {
  it('unlock refuses a wrong run id (exit 2) naming the holder, then removes the right one', async () => {
    const stateDir = env.FINTECH_RUNBOOK_STATE_DIR!;
    const cfg = config(fileConfigFile);
    const lock = lockIn(stateDir, 'run-holder', cfg);
    await lock.acquire({ timeoutMs: 0 });
    const wrong = await cli(fileConfigFile, ['unlock', 'run-typo']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`held by run run-holder (${lock.holder.user}@${lock.holder.host} pid ${process.pid}, "apply", since ${lock.holder.startedAt})`);
    expect(existsSync(lockFilePath(cfg, stateDir))).toBe(true);
    const right = await cli(fileConfigFile, ['--json', 'unlock', 'run-holder']);
    expect(right.code, right.stderr).toBe(0);
    expect(right.json).toMatchObject({ command: 'unlock', ok: true, removed: { runId: 'run-holder' }, calls: { reads: 0, writes: 0 } });
    expect(existsSync(lockFilePath(cfg, stateDir))).toBe(false);
  });
});

describe("credentials of another account (moto: an assumed role in that account)", () => {
  async function otherAccountEnv(): Promise<NodeJS.ProcessEnv> {
    const sts = new STSClient(emulatorClientConfig(fx.emulator.endpoint));
    try {
      const { Credentials } = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${OTHER_ACCOUNT}:role/staging-deployer`, RoleSessionName: 'e2e' }));
      return { AWS_ACCESS_KEY_ID: Credentials!.AccessKeyId, AWS_SECRET_ACCESS_KEY: Credentials!.SecretAccessKey, AWS_SESSION_TOKEN: Credentials!.SessionToken };
    } finally {
      sts.destroy();
    }
  }

  it('lock-table create and rollback exit 2 naming both accounts, and write nothing', async () => {
    const other = await otherAccountEnv();
    const create = await cli(dynamoConfigFile, ['--json', 'lock-table', 'create'], other);
    expect(create.code, create.stderr).toBe(2);
    expect(create.stderr).toContain(`credentials are for account ${OTHER_ACCOUNT} (arn:aws:sts::${OTHER_ACCOUNT}:assumed-role/staging-deployer/e2e), the config is for accountId ${ACCOUNT_ID}`);
    expect((await ddb.send(new ListTablesCommand({}))).TableNames).toEqual([]);

    const rollback = await cli(fileConfigFile, ['--json', 'rollback', '--to', '1', '--yes'], other);
    expect(rollback.code, rollback.stderr).toBe(2);
    expect(rollback.stderr).toContain(`credentials are for account ${OTHER_ACCOUNT}`);
    expect(rollback.stderr).toContain(`the config is for accountId ${ACCOUNT_ID}`);
    expect(rollback.json).toMatchObject({ ok: false, exitCode: 2 });
    expect(readdirSync(env.FINTECH_RUNBOOK_STATE_DIR!)).toEqual([]); // no journal, no lock: nothing was attempted
  });
});
