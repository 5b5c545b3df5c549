// One factory builds every AWS client from one shared config (DESIGN.md §5), and one middleware
// counts every call per service and operation, read vs write. Reads retry longer than writes: a
// throttled Describe* is harmless to repeat, while a write retried many times only adds load (and
// a create retried after a lost reply answers "already exists").
import { AsyncLocalStorage } from 'node:async_hooks';
import { ACMClient } from '@aws-sdk/client-acm';
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { AdaptiveRetryStrategy } from '@smithy/core/retry';
import { registerCallSource } from './call-log.js';

export interface ClientSettings {
  region: string;
  profile?: string;
  endpointUrl?: string;
  /** Attempts per write call (default 5); also per read call unless readMaxAttempts is given. */
  maxAttempts?: number;
  /** Attempts per read call (default 10, or maxAttempts when only that is given). */
  readMaxAttempts?: number;
}

/** Default attempts per call (the first try included). */
export const DEFAULT_WRITE_ATTEMPTS = 5;
export const DEFAULT_READ_ATTEMPTS = 10;

export interface CallRecord {
  service: string;
  operation: string;
  /** `lock`: the environment lock's own item in its DynamoDB table, not a change to the environment. */
  kind: 'read' | 'write' | 'lock';
  count: number;
}

/** The client the environment lock uses: counted apart, so "0 writes" still means the environment. */
export const LOCK_SERVICE = 'lock';

const READ_PREFIXES = ['Describe', 'List', 'Get', 'BatchGet', 'Filter', 'Lookup'];

/** Read-only operations never change AWS state; everything else counts as a write. */
export function classifyOperation(operation: string): 'read' | 'write' {
  return READ_PREFIXES.some((prefix) => operation.startsWith(prefix)) ? 'read' : 'write';
}

export class CallCounter {
  private readonly calls = new Map<string, CallRecord>();

  record(service: string, operation: string): void {
    const key = `${service}:${operation}`;
    const existing = this.calls.get(key);
    if (existing) existing.count++;
    else this.calls.set(key, { service, operation, kind: service === LOCK_SERVICE ? 'lock' : classifyOperation(operation), count: 1 });
  }

  list(): CallRecord[] {
    return [...this.calls.values()].sort((a, b) => `${a.service}${a.operation}`.localeCompare(`${b.service}${b.operation}`));
  }

  total(kind?: CallRecord['kind']): number {
    return this.list()
      .filter((c) => !kind || c.kind === kind)
      .reduce((sum, c) => sum + c.count, 0);
  }

  writes(): CallRecord[] {
    return this.list().filter((c) => c.kind === 'write');
  }
}

interface MiddlewareCapable {
  middlewareStack: {
    add(
      middleware: (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => Promise<unknown>,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

const clientConstructors = {
  acm: ACMClient,
  autoscaling: ApplicationAutoScalingClient,
  cloudwatch: CloudWatchClient,
  logs: CloudWatchLogsClient,
  dynamodb: DynamoDBClient,
  [LOCK_SERVICE]: DynamoDBClient,
  ec2: EC2Client,
  ecr: ECRClient,
  ecs: ECSClient,
  elbv2: ElasticLoadBalancingV2Client,
  iam: IAMClient,
  kms: KMSClient,
  rds: RDSClient,
  secrets: SecretsManagerClient,
  ssm: SSMClient, // the change calendar (changeCalendar)
  sts: STSClient,
} as const;

type ClientName = keyof typeof clientConstructors;
export type AwsClients = { readonly [K in ClientName]: InstanceType<(typeof clientConstructors)[K]> } & {
  readonly counter: CallCounter;
  /** The per-run read cache: an identical read is answered once until a write; polls read fresh. */
  readonly cache: ReadCache;
  /** The request id of each distinct read this run sent: the evidence `validate --report` cites. */
  readonly requests: RequestLog;
  destroy(): void;
};

/**
 * One read per resource per run (a client set lives for one command): an identical read (same
 * service, operation and input) is answered from the first reply, also while that reply is still
 * on its way. Any write empties it when it is sent and again when it is answered, so nothing read
 * before a write's effect is served after it. Reads inside `fresh` (a poll's next look, the
 * re-read after a lost reply) are sent, and their answer replaces the remembered one. The
 * environment lock's own calls never touch it.
 */
export class ReadCache {
  private readonly replies = new Map<string, Promise<unknown>>();
  private readonly freshReads = new AsyncLocalStorage<true>();
  /** Identical reads answered from the cache (not sent): what the bench lists as repeats avoided. */
  hits = 0;

  /** Forget every answer (after a pause, e.g. an operator's confirmation): the next reads ask AWS. */
  clear(): void {
    this.replies.clear();
  }

  /** Runs `fn` with every read sent (nested calls too): for polls and re-reads that must see now. */
  fresh<T>(fn: () => Promise<T>): Promise<T> {
    return this.freshReads.run(true, fn);
  }

  send(service: string, command: { constructor: { name: string }; input?: unknown }, sendNow: () => Promise<unknown>): Promise<unknown> {
    if (service === LOCK_SERVICE) return sendNow();
    const operation = command.constructor.name.replace(/Command$/, '');
    if (classifyOperation(operation) !== 'read') {
      this.clear();
      const reply = sendNow();
      const clear = () => this.clear();
      Promise.resolve(reply).then(clear, clear);
      return reply;
    }
    const key = `${service}:${operation}:${JSON.stringify(command.input ?? {})}`;
    const cached = this.freshReads.getStore() ? undefined : this.replies.get(key);
    if (cached) {
      this.hits++;
      return cached;
    }
    const reply = Promise.resolve(sendNow());
    this.replies.set(key, reply);
    // AWS's answer "there is none" (NoSuchEntity, a policy not found: HTTP 4xx) is remembered like
    // any answer; a throttled, failed or unanswered read is not: the next one asks again.
    reply.catch((error: unknown) => {
      if (!isDefinitiveAnswer(error) && this.replies.get(key) === reply) this.replies.delete(key);
    });
    return reply;
  }
}

/** An error that is AWS's answer about the resource (4xx), not a throttle, an outage or no answer. */
function isDefinitiveAnswer(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  const status = e?.$metadata?.httpStatusCode ?? 0;
  return status >= 400 && status < 500 && status !== 429 && !/throttl|toomanyrequests|limitexceeded|slowdown/i.test(e?.name ?? '');
}

/** Adds the counting middleware to a client (also used on mocked clients in tests). */
export function countCalls(client: unknown, service: string, counter: CallCounter): void {
  (client as MiddlewareCapable).middlewareStack.add(
    (next, context) => async (args) => {
      counter.record(service, (context.commandName ?? 'Unknown').replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'fintechRunbookCallCounter' },
  );
}

/** One read as sent: what it asked, and the request id of AWS's answer (or of its error). */
export interface ReadRecord {
  service: string;
  operation: string;
  /** The command's input, as JSON (reads carry names, ARNs and filters, never a secret value). */
  input: unknown;
  requestId?: string;
  httpStatusCode?: number;
  /** The error's name, when the read failed (a "not found" is evidence too). */
  error?: string;
  at: string;
}

/**
 * The last request id of each distinct read (service, operation, input) of this process: what a
 * finding cites as "the call that read it". A read the per-run cache answered was not sent: the
 * first reply's request id stands for it. Writes and the lock's own calls are not recorded.
 */
export class RequestLog {
  private readonly reads = new Map<string, ReadRecord>();

  record(read: ReadRecord): void {
    const key = `${read.service}:${read.operation}:${JSON.stringify(read.input ?? {})}`;
    this.reads.delete(key); // re-inserted: list() is in order of last use
    this.reads.set(key, read);
  }

  list(): ReadRecord[] {
    return [...this.reads.values()];
  }

  /** The request id of this read's last answer, if one was recorded. */
  find(requestId: string): ReadRecord | undefined {
    return this.list().find((r) => r.requestId === requestId);
  }
}

const jsonCopy = (value: unknown): unknown => {
  try {
    return JSON.parse(JSON.stringify(value ?? {}));
  } catch {
    return {};
  }
};

/** Adds the request-id recorder to a client: every read's input and the request id AWS answered with. */
export function recordRequestIds(client: unknown, service: string, log: RequestLog): void {
  (client as MiddlewareCapable).middlewareStack.add(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      if (service === LOCK_SERVICE || classifyOperation(operation) !== 'read') return next(args);
      const base = { service, operation, input: jsonCopy((args as { input?: unknown }).input) };
      try {
        const result = await next(args);
        const meta = (result as { output?: { $metadata?: { requestId?: string; httpStatusCode?: number } } }).output?.$metadata;
        log.record({ ...base, requestId: meta?.requestId, httpStatusCode: meta?.httpStatusCode, at: new Date().toISOString() });
        return result;
      } catch (error) {
        const e = error as { name?: string; $metadata?: { requestId?: string; httpStatusCode?: number } };
        log.record({ ...base, requestId: e.$metadata?.requestId, httpStatusCode: e.$metadata?.httpStatusCode, error: e.name, at: new Date().toISOString() });
        throw error;
      }
    },
    { step: 'initialize', name: 'fintechRunbookRequestIds' },
  );
}

/** The kind of the call being sent, for the retry strategy (set by the middleware below). */
const callKind = new AsyncLocalStorage<'read' | 'write'>();

/**
 * The SDK's adaptive strategy (client-side rate limiting on throttling, backoff with jitter), with
 * the number of attempts chosen per call: `reads` for a read operation, `writes` otherwise (and
 * outside a call, e.g. `client.config.maxAttempts()`).
 */
export function kindAwareRetryStrategy(attempts: { reads: number; writes: number }) {
  const maxAttempts = async () => (callKind.getStore() === 'read' ? attempts.reads : attempts.writes);
  return { strategy: failFastWhenRefused(new AdaptiveRetryStrategy(maxAttempts)), maxAttempts };
}

/**
 * Two answers no backoff will change, given one more try each, then reported at once instead of
 * after ten backed-off attempts: nothing listens at the endpoint (a wrong --endpoint-url, an
 * emulator that is down), and an HTTP 5xx whose body is no AWS error document (AWS always sends
 * one; moto answers so for an operation it does not implement). Throwing from the refresh makes
 * the SDK's retry middleware give up with the original error.
 */
function failFastWhenRefused(inner: AdaptiveRetryStrategy): AdaptiveRetryStrategy {
  const refresh = inner.refreshRetryTokenForRetry.bind(inner);
  inner.refreshRetryTokenForRetry = async (token, errorInfo) => {
    const error = errorInfo.error as { code?: string; name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
    const refused = error?.code === 'ECONNREFUSED';
    const notAws = error?.name === 'SyntaxError' && (error.$metadata?.httpStatusCode ?? 0) >= 500;
    if ((refused || notAws) && token.getRetryCount() >= 1) throw errorInfo.error;
    return refresh(token, errorInfo);
  };
  return inner;
}

/** Runs `call` as a call of that kind (what the middleware does for every command). */
export function withCallKind<T>(kind: 'read' | 'write', call: () => Promise<T>): Promise<T> {
  return callKind.run(kind, call);
}

/**
 * Marks each command as a read or a write for the retry strategy. It sits in `initialize`, above the
 * retry middleware (finalizeRequest), so the counter still sees one logical call per send.
 */
function markCallKind(client: unknown): void {
  (client as MiddlewareCapable).middlewareStack.add(
    (next, context) => (args) => withCallKind(classifyOperation((context.commandName ?? '').replace(/Command$/, '')), () => next(args)),
    { step: 'initialize', name: 'fintechRunbookCallKind' },
  );
}

/** Clients are created on first use: `--help` or a config error builds none. */
export function createClients(settings: ClientSettings, counter = new CallCounter()): AwsClients {
  const created = new Map<ClientName, { destroy(): void }>();
  const writes = settings.maxAttempts ?? DEFAULT_WRITE_ATTEMPTS;
  const reads = settings.readMaxAttempts ?? settings.maxAttempts ?? DEFAULT_READ_ATTEMPTS;
  const shared = () => {
    // One strategy per client, as the SDK makes it: its rate limiter learns that service's throttling.
    const { strategy, maxAttempts } = kindAwareRetryStrategy({ reads, writes });
    return {
      region: settings.region,
      ...(settings.profile ? { profile: settings.profile } : {}),
      ...(settings.endpointUrl ? { endpoint: settings.endpointUrl } : {}),
      maxAttempts,
      retryMode: 'adaptive',
      retryStrategy: strategy,
    };
  };
  const cache = new ReadCache();
  const requests = new RequestLog();
  registerCallSource(counter); // FINTECH_RUNBOOK_CALL_LOG (src/aws/call-log.ts)
  const clients = { counter, cache, requests, destroy: () => created.forEach((c) => c.destroy()) } as Record<string, unknown>;
  for (const name of Object.keys(clientConstructors) as ClientName[]) {
    Object.defineProperty(clients, name, {
      enumerable: true,
      get() {
        let client = created.get(name);
        if (!client) {
          const Ctor = clientConstructors[name] as unknown as new (config: object) => { destroy(): void };
          client = new Ctor(shared());
          countCalls(client, name, counter);
          recordRequestIds(client, name, requests);
          markCallKind(client);
          // The prototype's send is looked up per call: aws-sdk-client-mock replaces it in tests.
          const instance = client as unknown as { send: (command: never, ...rest: unknown[]) => Promise<unknown> };
          instance.send = (command: never, ...rest: unknown[]) =>
            cache.send(name, command, () => Object.getPrototypeOf(instance).send.call(instance, command, ...rest));
          created.set(name, client);
        }
        return client;
      },
    });
  }
  return clients as unknown as AwsClients;
}

/** Reads inside `fn` are sent, not answered from the run's cache (a client set without one just runs it). */
export function freshReads<T>(clients: Pick<AwsClients, 'cache'> | undefined, fn: () => Promise<T>): Promise<T> {
  return clients?.cache ? clients.cache.fresh(fn) : fn();
}

/** A poll's looks: the first may be answered by this run's reads (no write since), every later one asks AWS. */
export type PollLook = <T>(read: () => Promise<T>) => Promise<T>;

export function pollLooks(clients: Pick<AwsClients, 'cache'> | undefined): PollLook {
  let first = true;
  return (read) => {
    if (first) {
      first = false;
      return read();
    }
    return freshReads(clients, read);
  };
}
