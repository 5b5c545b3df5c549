// The step contract (DESIGN.md §3). One runbook section = one Step.
import type { AwsClients } from '../aws/clients.js';
import type { RunbookConfig } from '../config.js';

export const STEP_IDS = [
  'cluster',
  'ecr',
  'iam',
  'task-definition',
  'load-balancer',
  'service',
  'ecs-scaling',
  'aurora-scaling',
  'dynamodb-scaling',
  'business-metrics',
] as const;
export type StepId = (typeof STEP_IDS)[number];

/** What each step hands to the steps after it. */
export interface StepOutputs {
  cluster: { clusterArn: string; clusterName: string };
  ecr: { repositoryUri: string; repositoryArn: string };
  iam: { executionRoleArn: string; taskRoleArn: string };
  'task-definition': { taskDefinitionArn: string; logGroupName: string };
  'load-balancer': { targetGroupArn: string; listenerArn: string };
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

export interface Plan<Out = unknown, Before = unknown> {
  /** Empty means in sync. */
  changes: Change[];
  /** What existed before this run: what rollback restores. */
  before?: Before;
  /** Outputs known without writing (the resource already exists). */
  outputs?: Out;
}

export type FindingStatus = 'OK' | 'FAIL' | 'SKIP' | 'WARN';

export interface Finding {
  check: string;
  status: FindingStatus;
  resource: string;
  reason: string;
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
  action: 'create' | 'update' | 'delete';
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
}

export interface Step<Id extends StepId = StepId, Before = unknown> {
  id: Id;
  section: string;
  title: string;
  plan(ctx: StepContext): Promise<Plan<StepOutputs[Id], Before>>;
  apply(ctx: StepContext, plan: Plan<StepOutputs[Id], Before>): Promise<StepOutputs[Id]>;
  validate(ctx: StepContext): Promise<Finding[]>;
  /** Undo this run's change back to `before`. Safe to run twice. */
  rollback(ctx: StepContext, before: Before | undefined): Promise<void>;
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

/** Writes of one step go through the run's recorder (journal); steps call this, never `send` bare. */
export function stepWriter(ctx: StepContext, step: StepId) {
  return <T>(resource: string, action: WriteDescription['action'], operation: string, call: () => Promise<T>): Promise<T> =>
    ctx.recorder.write({ step, resource, action, operation }, call);
}

export const ok = (check: string, resource: string, reason: string): Finding => ({ check, status: 'OK', resource, reason });
export const fail = (check: string, resource: string, reason: string): Finding => ({ check, status: 'FAIL', resource, reason });
export const skip = (check: string, resource: string, reason: string): Finding => ({ check, status: 'SKIP', resource, reason });
export const warn = (check: string, resource: string, reason: string): Finding => ({ check, status: 'WARN', resource, reason });
