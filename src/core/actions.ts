// Executable plans (DESIGN.md §3): an Action is one SDK command with its input, as data. `plan`
// returns them, `plan --out` saves them, `apply` sends exactly them through the journal. A value
// only known once an earlier action has run (the ARN of a target group created in this run) is a
// ref token, `{{ref:load-balancer.targetGroupArn}}`, bound from that action's reply.
import type { AwsClients } from '../aws/clients.js';
import { writeCommands } from './write-commands.js';
import { isAwsError } from './errors.js';
import type { Doc } from './document.js';
import type { StepId, WriteRecorder } from './step.js';

export type WriteService = keyof typeof writeCommands;

export type ActionKind = 'create' | 'update' | 'delete';

export interface Action {
  step: StepId;
  /** Stable id of the resource within its step (`cluster`, `role:FinTech-ECS-ExecRole`). */
  resourceId: string;
  /** Human name, as in the plan's changes. */
  resource: string;
  kind: ActionKind;
  service: WriteService;
  /** The SDK command's name without `Command`, e.g. `CreateCluster`. */
  operation: string;
  input: Record<string, unknown>;
  /** Values of the reply later actions need: binding name → dotted path in the reply. */
  binds?: Record<string, string>;
  /** For a create adopted after a lost reply: binding name → dotted path in the re-read document. */
  adoptBinds?: Record<string, string>;
  /** create: error names meaning "it exists already". */
  existsErrors?: string[];
  /** delete: error names meaning "it is gone already" (a retried delete after a lost reply). */
  goneErrors?: string[];
  /** The resources of this step whose actions must be done before this one's (ResourceDef.after); unset: every earlier one. */
  after?: string[];
}

/** What a resource's builders return; the step and resource fields are filled in by the planner. */
export type ActionSpec = Omit<Action, 'step' | 'resourceId' | 'resource' | 'kind' | 'after'> & { kind?: ActionKind };

export function kindOf(operation: string): ActionKind {
  if (/^(Create|Register)/.test(operation)) return 'create';
  if (/^(Delete|Deregister)/.test(operation)) return 'delete';
  return 'update';
}

/** One action spec: `act('ecs', 'CreateCluster', { … })`. */
export function act(service: WriteService, operation: string, input: Record<string, unknown>, extra: Partial<ActionSpec> = {}): ActionSpec {
  return { service, operation, input, ...extra };
}

// ---------------------------------------------------------------------------------------------
// Ref tokens

const REF = /\{\{ref:([a-z-]+\.[A-Za-z]+)\}\}/g;
export const ref = (step: StepId, name: string) => `{{ref:${step}.${name}}}`;
export const hasRef = (value: unknown): boolean => JSON.stringify(value ?? null).includes('{{ref:');
/** For people: `(known after apply: load-balancer.targetGroupArn)`. */
export const displayRefs = (text: string) => text.replace(REF, (_m, name: string) => `(known after apply: ${name})`);

export type Bindings = Map<string, string>;

/** Replace every ref token; one that no earlier action bound is a bug in the plan, never sent. */
export function resolveRefs<T>(value: T, bindings: Bindings): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      return v.replace(REF, (_m, name: string) => {
        const bound = bindings.get(name);
        if (bound === undefined) throw new Error(`plan refers to ${name}, which no earlier action produced`);
        return bound;
      });
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item)]));
    return v;
  };
  return walk(value) as T;
}

export function pathValue(value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, key) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), value);
}

// ---------------------------------------------------------------------------------------------
// Sending

/** A create whose request may have reached AWS but whose answer did not (HTTP 5xx, reset, timeout). */
export class AmbiguousWriteError extends Error {
  constructor(readonly original: unknown) {
    super(`no answer to the request: ${(original as Error)?.message ?? String(original)}`);
    this.name = 'AmbiguousWriteError';
  }
}

/** Did the request possibly take effect without us hearing back? Throttling never does. */
export function isAmbiguous(error: unknown): boolean {
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; message?: string };
  if (!e || typeof e !== 'object') return false;
  if ((e.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  if (e.$metadata?.httpStatusCode) return false; // an answer came back: AWS decided
  return (
    ['TimeoutError', 'RequestTimeout', 'AbortError'].includes(e.name ?? '') ||
    ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'ECONNABORTED'].includes(e.code ?? '') ||
    /socket hang up|ECONNRESET|EPIPE/i.test(e.message ?? '')
  );
}

interface Sendable {
  middlewareStack: { add(mw: unknown, options: Record<string, unknown>): void };
}

/** `ecs:CreateCluster`, …: every write a plan may hold (src/core/write-commands.ts). */
export const knownWriteOperations = (): string[] => Object.entries(writeCommands).flatMap(([service, operations]) => Object.keys(operations).map((op) => `${service}:${op}`));

/** Build the SDK command an action names. */
export function commandFor(action: Pick<Action, 'service' | 'operation'>, input: Record<string, unknown>): Sendable {
  const Ctor = (writeCommands[action.service] as unknown as Record<string, new (input: unknown) => Sendable> | undefined)?.[action.operation];
  if (!Ctor) throw new Error(`unknown operation ${action.service}:${action.operation}`);
  return new Ctor(input);
}

/**
 * A create is sent once per try: the SDK's own retry would repeat a request that may already have
 * created the resource (a lost reply). Its first ambiguous failure comes back as
 * AmbiguousWriteError, and the executor re-reads before deciding. Throttling is still retried by
 * the SDK (AWS refused it, nothing was created).
 */
function singleAttempt(command: Sendable): void {
  command.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      try {
        return await next(args);
      } catch (error) {
        throw isAmbiguous(error) ? new AmbiguousWriteError(error) : error;
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: 'fintechSingleAttemptCreate' },
  );
}

export interface ExecuteOptions {
  clients: AwsClients;
  recorder: WriteRecorder;
  bindings: Bindings;
  /**
   * After an ambiguous create: re-read the resource. `adopt` is its document when it exists and
   * equals what the create would have made; `foreign` when something else exists there.
   */
  reread?: (action: Action) => Promise<{ gone?: boolean; adopt?: Doc; foreign?: string }>;
  /** Tries for a create whose reply was lost and that turned out not to exist (default 4). */
  createTries?: number;
  backoffMs?: number;
}

/**
 * Send the actions through the recorder (journal) and bind what later actions need. One resource's
 * actions go in order; a resource starts once the resources its `after` names are done (every
 * earlier one when it names none), so independent ones go out side by side. After a failure no
 * further action starts, the ones in flight finish, and the first error is thrown.
 */
export async function executeActions(actions: Action[], options: ExecuteOptions): Promise<void> {
  const byResource = new Map<string, Action[]>();
  for (const action of actions) byResource.set(action.resourceId, [...(byResource.get(action.resourceId) ?? []), action]);
  const ids = [...byResource.keys()];
  const done = new Map<string, Promise<void>>();
  let failure: { error: unknown } | undefined;
  for (const [index, id] of ids.entries()) {
    const group = byResource.get(id)!;
    const needs = (group[0].after ?? ids.slice(0, index)).flatMap((need) => (done.has(need) ? [done.get(need)!] : []));
    done.set(
      id,
      (async () => {
        await Promise.all(needs);
        for (const action of group) {
          if (failure) return;
          try {
            await executeAction(action, options);
          } catch (error) {
            failure ??= { error };
            throw error;
          }
        }
      })(),
    );
  }
  await Promise.allSettled(done.values());
  if (failure) throw failure.error;
}

async function executeAction(action: Action, options: ExecuteOptions): Promise<void> {
  const input = resolveRefs(action.input, options.bindings);
  const description = { step: action.step, resource: action.resource, resourceId: action.resourceId, action: action.kind, operation: action.operation };
  const reply = await options.recorder.write(description, () => send(action, input, options));
  const source = (reply as { $adopted?: Doc }).$adopted;
  const binds = source ? action.adoptBinds : action.binds;
  for (const [name, path] of Object.entries(binds ?? {})) {
    const value = pathValue(source ?? reply, path);
    if (typeof value === 'string' && value) options.bindings.set(`${action.step}.${name}`, value);
  }
}

async function send(action: Action, input: Record<string, unknown>, options: ExecuteOptions): Promise<unknown> {
  const client = options.clients[action.service] as unknown as { send(command: unknown): Promise<unknown> };
  if (action.kind !== 'create') {
    try {
      return await client.send(commandFor(action, input));
    } catch (error) {
      if (action.kind !== 'delete') throw error;
      // A retried delete whose first try took effect answers "not found" (or, on moto, some other
      // error): it is gone, as asked. Without a known "gone" error, re-read to be sure.
      if (action.goneErrors && isAwsError(error, ...action.goneErrors)) return { $gone: true };
      const retried = ((error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1) > 1;
      if ((retried || isAmbiguous(error)) && options.reread && (await options.reread(action)).gone) return { $gone: true };
      throw error;
    }
  }
  const tries = options.createTries ?? 4;
  for (let attempt = 1; ; attempt++) {
    const command = commandFor(action, input);
    singleAttempt(command);
    try {
      return await client.send(command);
    } catch (error) {
      // The middleware marks an ambiguous first try; a mocked or custom client may not run it.
      const ambiguous = error instanceof AmbiguousWriteError || isAmbiguous(error);
      const exists = action.existsErrors && isAwsError(error, ...action.existsErrors);
      // "Exists" on a first try with an answer means someone else made it: never ours.
      if (!ambiguous && !(exists && attempt > 1)) throw ambiguousCause(error);
      if (!options.reread) throw ambiguousCause(error);
      const found = await options.reread(action);
      if (found.adopt) return { $adopted: found.adopt };
      if (found.foreign) throw new Error(`${action.resource}: ${found.foreign}`, { cause: ambiguousCause(error) });
      if (attempt >= tries) throw ambiguousCause(error);
      await new Promise((resolve) => setTimeout(resolve, (options.backoffMs ?? 200) * 2 ** (attempt - 1)));
    }
  }
}

const ambiguousCause = (error: unknown) => (error instanceof AmbiguousWriteError ? error.original : error);
