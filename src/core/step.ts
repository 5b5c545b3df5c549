// The step contract (DESIGN.md §3). One runbook section = one Step.
import type { AwsClients } from '../aws/clients.js';
import type { RunbookConfig } from '../config.js';
import type { Action, ActionSpec, Bindings } from './actions.js';
import type { Doc, IgnoreList } from './document.js';
import { UsageError } from './errors.js';

export const STEP_IDS = [
  'cluster',
  'ecr',
  'iam',
  'task-definition',
  'load-balancer',
  'deployment-alarms',
  'service',
  'ecs-scaling',
  'aurora-scaling',
  'dynamodb-scaling',
  'business-metrics',
] as const;
export type StepId = (typeof STEP_IDS)[number];

/** `--only cluster,ecr` (or `--steps`) → those ids, in runbook order; an unknown id is a usage error naming it. */
export function parseStepList(value: string | undefined, flag = '--steps'): StepId[] | undefined {
  if (value === undefined) return undefined;
  const wanted = value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = wanted.filter((s) => !(STEP_IDS as readonly string[]).includes(s));
  if (unknown.length || !wanted.length) {
    throw new UsageError(`${flag}: unknown step ${unknown.map((u) => `"${u}"`).join(', ') || '(none given)'}; steps are ${STEP_IDS.join(', ')}`);
  }
  return STEP_IDS.filter((s) => wanted.includes(s));
}

/** What each step hands to the steps after it. */
export interface StepOutputs {
  cluster: { clusterArn: string; clusterName: string };
  ecr: { repositoryUri: string; repositoryArn: string };
  iam: { executionRoleArn: string; taskRoleArn: string };
  'task-definition': { taskDefinitionArn: string; logGroupName: string };
  'load-balancer': { targetGroupArn: string; listenerArn: string };
  'deployment-alarms': { alarmNames: string[] };
  service: { serviceArn: string; serviceName: string; deploymentId?: string };
  'ecs-scaling': { resourceId: string };
  'aurora-scaling': { resourceId: string };
  'dynamodb-scaling': { resourceId: string };
  'business-metrics': { namespace: string };
}

/** One field that differs between what the config wants and what exists. */
export interface FieldDiff {
  field: string;
  from: unknown;
  to: unknown;
}

export interface Change {
  /** Human name of the resource, e.g. `ecs cluster fintech-prod-cluster`. */
  resource: string;
  action: 'create' | 'update' | 'delete';
  fields?: FieldDiff[];
  /** A sentence for changes whose fields do not tell the story. */
  note?: string;
}

/** What a step observed: one normalised document per resource id; undefined = it does not exist. */
export type Observed = Record<string, Doc | undefined>;

/**
 * A step's plan: `changes` for people, `actions` for apply (exactly what will be sent, in order),
 * `before` (what was observed: what rollback converges back to) and the outputs later steps read
 * (ref tokens where a value is only known after apply).
 */
export interface Plan<Out = unknown> {
  changes: Change[];
  actions: Action[];
  before: Observed;
  outputs: Out;
  /** Sentences for the operator that are not changes (e.g. an out-of-band revision left alone). */
  notes?: string[];
}

/**
 * One owned resource: its desired and observed documents (the same shape), what is not compared,
 * and how to converge it. Builders get documents, never the config: rollback calls them with the
 * `before` document as the desired one.
 */
export interface ResourceDef<D extends Doc = Doc> {
  id: string;
  /** Human name, e.g. `target group fintech-prod-tg`. */
  name: string;
  desired: D;
  observed: D | undefined;
  /** Paths AWS sets itself (ARNs, timestamps, revision, status): never compared. */
  ignore: IgnoreList;
  create(desired: D): ActionSpec[];
  /** Move `observed` to `desired` (either may lack a field: converge both ways). */
  update(desired: D, observed: D, diffs: FieldDiff[]): ActionSpec[];
  /** Delete what this run created (compensation); a string keeps it and says why. */
  remove(observed: D): ActionSpec[] | string;
  /** Fields set by this resource's later actions: not compared when adopting a create after a lost reply. */
  adoptIgnore?: IgnoreList;
  /**
   * The resources of this step (ids) whose actions apply must finish before this one's start:
   * `[]` when it needs none of them (two roles, three alarms go out side by side). Unset: every
   * resource listed before it, in order. Rollback always goes one resource at a time, newest first.
   */
  after?: string[];
  note?: string;
}

export type FindingStatus = 'OK' | 'FAIL' | 'SKIP' | 'WARN';

export interface Finding {
  check: string;
  status: FindingStatus;
  resource: string;
  reason: string;
  /** Control ids this finding evaluates or belongs to (src/checks/controls.ts), e.g. ['ECS.2', 'EC2.15']. */
  controls?: string[];
  /** Runbook section 3 items it implements, e.g. ['3.1']. */
  checklist?: string[];
  resourceArn?: string;
  /** The value that decided it; never a secret value (environment variables by name only). */
  observed?: unknown;
  /** `$metadata.requestId` of the read that returned `observed`. */
  requestId?: string;
}

/** Typed hand-over of outputs between steps. */
export class Outputs {
  private readonly values = new Map<StepId, unknown>();

  set<K extends StepId>(id: K, value: StepOutputs[K]): void {
    this.values.set(id, value);
  }

  get<K extends StepId>(id: K): StepOutputs[K] {
    if (!this.values.has(id)) {
      throw new Error(`step "${id}" has not produced its outputs yet (is it before this step in the runbook?)`);
    }
    return this.values.get(id) as StepOutputs[K];
  }

  find<K extends StepId>(id: K): StepOutputs[K] | undefined {
    return this.values.get(id) as StepOutputs[K] | undefined;
  }
}

/** Something a step records before and after each write, so a failed run can be undone. */
export interface WriteRecorder {
  /** Called before a write; the returned function is called with the outcome. */
  write<T>(description: WriteDescription, call: () => Promise<T>): Promise<T>;
}

export interface WriteDescription {
  step: StepId;
  resource: string;
  /** The resource's id within its step: what compensation matches creations by. */
  resourceId?: string;
  action: 'create' | 'update' | 'delete';
  /** Derived from the SDK command, never typed by hand. */
  operation: string;
}

export interface StepContext {
  config: RunbookConfig;
  clients: AwsClients;
  outputs: Outputs;
  recorder: WriteRecorder;
  /** Progress text for the runner to show (steps never print). */
  report(message: string): void;
  /** Aborted on SIGINT: long waits stop early. */
  signal: AbortSignal;
  /** Poll interval for waits, ms (small in tests). */
  pollIntervalMs: number;
  /** Values bound by this run's actions (ARNs of what it created), for later ref tokens. */
  bindings: Bindings;
}

export interface Step<Id extends StepId = StepId> {
  id: Id;
  section: string;
  title: string;
  /** The steps whose outputs this one reads: they run (and are planned) before it. */
  needs: StepId[];
  /** Read-only: every owned resource, normalised into its desired document's shape. */
  observe(ctx: StepContext): Promise<Observed>;
  /** Pure: the owned resources with their desired documents, given what was observed. */
  resources(ctx: StepContext, observed: Observed): ResourceDef[];
  /** Pure: what later steps read, ref tokens where only apply can tell. */
  outputs(ctx: StepContext, observed: Observed): StepOutputs[Id];
  /** Sentences for the plan that are not changes. */
  notes?(ctx: StepContext, observed: Observed): string[];
  /** The plan against `observed` (what `observe` returned; read now when not given). */
  plan(ctx: StepContext, observed?: Observed): Promise<Plan<StepOutputs[Id]>>;
  /** Sends exactly `plan.actions`, then resolves the outputs. */
  apply(ctx: StepContext, plan: Plan<StepOutputs[Id]>): Promise<StepOutputs[Id]>;
  validate(ctx: StepContext): Promise<Finding[]>;
  /**
   * Converge back to `before` (compensation of a failed apply): the same diff and executor as
   * apply; deletes only resources in `created` (this run's creations, proven by the journal).
   * Returns notes (what was kept and why). Twice is a no-op.
   */
  rollback(ctx: StepContext, before: Observed, created: ReadonlySet<string>): Promise<string[]>;
  /** Plan of a rollback, without sending it. */
  planRollback(ctx: StepContext, before: Observed, created: ReadonlySet<string>): Promise<{ actions: Action[]; changes: Change[]; notes: string[] }>;
  /**
   * The runbook section 4.1 checks this step makes possible ("Service Stable" after `service`,
   * "Scaling Ready" after the scaling steps). The runner runs them right after apply; a FAIL
   * fails the step. `validate` runs them too, with `wait: false` (judge what is there now).
   */
  postDeployChecks?(ctx: StepContext, options?: { wait: boolean }): Promise<Finding[]>;
  /**
   * Read-only preconditions of this step (e.g. the Aurora cluster is available), run with the
   * input preflight before the first write of the run. Returns problems; empty means go.
   */
  preflight?(ctx: StepContext): Promise<string[]>;
}

/** A recorder that only runs the call: for plan-only contexts and unit tests. */
export const passThroughRecorder: WriteRecorder = {
  write: (_d, call) => call(),
};

export const ok = (check: string, resource: string, reason: string): Finding => ({ check, status: 'OK', resource, reason });
export const fail = (check: string, resource: string, reason: string): Finding => ({ check, status: 'FAIL', resource, reason });
export const skip = (check: string, resource: string, reason: string): Finding => ({ check, status: 'SKIP', resource, reason });
export const warn = (check: string, resource: string, reason: string): Finding => ({ check, status: 'WARN', resource, reason });
