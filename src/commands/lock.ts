// `lock-table create` (the DynamoDB table of the team lock) and `unlock <run-id>` (a stale lock).
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { checkCallerIdentity } from '../aws/identity.js';
import { InterruptedError, isAwsError, RunbookError, UsageError } from '../core/errors.js';
import { defaultJournalDir } from '../core/journal.js';
import { describeHolder, lockId, LOCK_TABLE_KEY, LOCK_TABLE_TTL_ATTRIBUTE, unlock } from '../core/lock.js';
import { printJson, type Session } from './shared.js';

const TABLE_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;
/** How long `lock-table create` waits for the table to become ACTIVE. */
const ACTIVE_TIMEOUT_MS = 5 * 60_000;

function calls(session: Session) {
  const { counter } = session.clients;
  return { reads: counter.total('read'), writes: counter.total('write'), byOperation: counter.list() };
}

async function waitActive(session: Session, table: string, signal: AbortSignal): Promise<TableDescription> {
  const deadline = Date.now() + ACTIVE_TIMEOUT_MS;
  for (;;) {
    const { Table } = await session.clients.dynamodb.send(new DescribeTableCommand({ TableName: table }));
    if (Table?.TableStatus === 'ACTIVE') return Table;
    if (Date.now() > deadline) throw new RunbookError(`lock table ${table} is still ${Table?.TableStatus} after ${ACTIVE_TIMEOUT_MS / 1000}s`);
    if (signal.aborted) throw new InterruptedError();
    await new Promise((resolve) => setTimeout(resolve, session.runner.pollIntervalMs));
  }
}

/** The key schema the lock needs: `lockId` (S) as the only key. */
function keySchemaProblem(table: TableDescription): string | undefined {
  const keys = table.KeySchema ?? [];
  const type = table.AttributeDefinitions?.find((a) => a.AttributeName === LOCK_TABLE_KEY)?.AttributeType;
  if (keys.length === 1 && keys[0].AttributeName === LOCK_TABLE_KEY && keys[0].KeyType === 'HASH' && type === 'S') return undefined;
  return `its key is ${keys.map((k) => `${k.AttributeName} ${k.KeyType}`).join(', ') || '(none)'}, the lock needs ${LOCK_TABLE_KEY} HASH (S) alone`;
}

/**
 * Creates the lock table (key lockId, on-demand, the config's tags, TTL on expiresAtEpoch) and
 * waits until it is ACTIVE. An existing table with the right key is fine (exit 0): run it twice.
 */
export async function lockTableCreateCommand(session: Session, opts: { table?: string }): Promise<number> {
  const table = opts.table ?? session.config.lock?.dynamodbTable;
  if (!table) throw new UsageError('lock-table create: which table? Set lock.dynamodbTable in the config, or pass --table <name>');
  if (!TABLE_NAME.test(table)) throw new UsageError(`lock-table create: "${table}" is not a DynamoDB table name`);
  const out = session.human;
  const signal = session.runner.signal;
  await checkCallerIdentity(session.clients, session.config);

  // Described first: a second run makes no write at all.
  let created = false;
  const exists = await session.clients.dynamodb.send(new DescribeTableCommand({ TableName: table })).then(
    () => true,
    (error: unknown) => {
      if (isAwsError(error, 'ResourceNotFoundException')) return false;
      throw error;
    },
  );
  if (!exists) {
    try {
      await session.clients.dynamodb.send(
        new CreateTableCommand({
          TableName: table,
          AttributeDefinitions: [{ AttributeName: LOCK_TABLE_KEY, AttributeType: 'S' }],
          KeySchema: [{ AttributeName: LOCK_TABLE_KEY, KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
          Tags: Object.entries(session.config.tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
      created = true;
      out.write(`Creating lock table ${table} …\n`);
    } catch (error) {
      if (!isAwsError(error, 'ResourceInUseException')) throw error; // created meanwhile by someone else
    }
  }
  const description = await waitActive(session, table, signal);
  const problem = keySchemaProblem(description);
  if (problem) throw new RunbookError(`table ${table} exists but cannot hold the lock: ${problem}`);

  // TTL only tidies items of runs long gone; the lease condition does not depend on it.
  const { TimeToLiveDescription: ttl } = await session.clients.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: table }));
  let ttlStatus = ttl?.TimeToLiveStatus ?? 'DISABLED';
  if (ttlStatus === 'DISABLED') {
    await session.clients.dynamodb.send(
      new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { AttributeName: LOCK_TABLE_TTL_ATTRIBUTE, Enabled: true } }),
    );
    ttlStatus = 'ENABLED';
  } else if (ttl?.AttributeName && ttl.AttributeName !== LOCK_TABLE_TTL_ATTRIBUTE) {
    out.write(`  (TTL is on ${ttl.AttributeName}, not ${LOCK_TABLE_TTL_ATTRIBUTE}: old lock items stay until someone deletes them)\n`);
  }

  out.write(`${created ? 'Created' : 'Lock table exists:'} ${table} (${LOCK_TABLE_KEY} HASH, on-demand, ACTIVE, TTL ${ttlStatus.toLowerCase()}).\n`);
  out.write(`Set lock.dynamodbTable: ${table} in the config for the environment's lock to live there.\n`);
  if (session.options.json) printJson({ command: 'lock-table create', ok: true, table, created, status: 'ACTIVE', ttl: ttlStatus, calls: calls(session) });
  return 0;
}

/** Removes the environment's lock if `runId` holds it; any other id is refused (exit 2). */
export async function unlockCommand(session: Session, runId: string): Promise<number> {
  if (!runId.trim()) throw new UsageError('unlock: give the run id of the lock to remove (the error that refused your run names it)');
  // The file lock is local: no AWS call. The DynamoDB lock is a write in the config's account.
  if (session.config.lock?.dynamodbTable) await checkCallerIdentity(session.clients, session.config);
  const holder = await unlock({ config: session.config, clients: { dynamodb: session.clients.lock }, stateDir: defaultJournalDir(session.config), runId });
  const stale = Date.parse(holder.expiresAt) <= Date.now() ? 'its lease had expired' : `its lease ran until ${holder.expiresAt}`;
  session.human.write(`Removed the lock on ${lockId(session.config)} held by ${describeHolder(holder)}; ${stale}.\n`);
  if (session.options.json) printJson({ command: 'unlock', ok: true, lockId: lockId(session.config), removed: holder, calls: calls(session) });
  return 0;
}
