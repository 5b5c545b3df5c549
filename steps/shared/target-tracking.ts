// Runbook 2.1–2.3 share one shape: an Application Auto Scaling scalable target and target tracking
// policies on it. This module owns plan/apply/rollback/"Scaling Ready" for that shape; the three
// step files only say which resource, which range and which policies.
import {
  DeleteScalingPolicyCommand,
  DeregisterScalableTargetCommand,
  DescribeScalableTargetsCommand,
  DescribeScalingPoliciesCommand,
  PutScalingPolicyCommand,
  RegisterScalableTargetCommand,
  type MetricType,
  type PolicyType,
  type PredictiveScalingPolicyConfiguration,
  type ScalableDimension,
  type ScalingPolicy,
  type ServiceNamespace,
  type StepScalingPolicyConfiguration,
  type TargetTrackingScalingPolicyConfiguration,
} from '@aws-sdk/client-application-auto-scaling';
import type { RunbookConfig } from '../../src/config.js';
import { diffFields, sameValue } from '../../src/core/diff.js';
import { PreflightError } from '../../src/core/errors.js';
import {
  fail,
  ok,
  stepWriter,
  warn,
  type Change,
  type FieldDiff,
  type Finding,
  type Plan,
  type Step,
  type StepContext,
  type StepOutputs,
} from '../../src/core/step.js';

export type ScalingStepId = 'ecs-scaling' | 'aurora-scaling' | 'dynamodb-scaling';

export interface TargetTrackingPolicySpec {
  policyName: string;
  predefinedMetricType: MetricType;
  targetValue: number;
  /** Compared only when configured: AWS applies its own default when they are left out. */
  scaleOutCooldown?: number;
  scaleInCooldown?: number;
}

export interface ScalableTargetSpec {
  serviceNamespace: ServiceNamespace;
  scalableDimension: ScalableDimension;
  resourceId: string;
  minCapacity: number;
  maxCapacity: number;
  policies: TargetTrackingPolicySpec[];
}

/** The three fields that name a scalable target in every Application Auto Scaling call. */
function scopeOf(spec: ScalableTargetSpec) {
  return { ServiceNamespace: spec.serviceNamespace, ResourceId: spec.resourceId, ScalableDimension: spec.scalableDimension };
}

/** A policy as it was before the run, in the shape PutScalingPolicy takes back. */
export interface SavedPolicy {
  PolicyType?: PolicyType;
  TargetTrackingScalingPolicyConfiguration?: TargetTrackingScalingPolicyConfiguration;
  StepScalingPolicyConfiguration?: StepScalingPolicyConfiguration;
  PredictiveScalingPolicyConfiguration?: PredictiveScalingPolicyConfiguration;
}

/** What rollback restores. Only the configured policy names are recorded: nothing else is touched. */
export interface ScalingState {
  registered: boolean;
  minCapacity?: number;
  maxCapacity?: number;
  policies: Record<string, SavedPolicy>;
}

/** The config's target tracking section (scaling.*.cpu / .memory / .policy) as a policy spec. */
export function policySpec(
  section: RunbookConfig['scaling']['aurora']['policy'],
  predefinedMetricType: MetricType,
): TargetTrackingPolicySpec {
  return { ...section, predefinedMetricType };
}

export const targetResource = (spec: ScalableTargetSpec) => `scalable target ${spec.resourceId} (${spec.scalableDimension})`;
export const policyResource = (spec: ScalableTargetSpec, policyName: string) => `scaling policy ${policyName} on ${spec.resourceId}`;

async function describeTarget(ctx: StepContext, spec: ScalableTargetSpec) {
  const { ScalableTargets } = await ctx.clients.autoscaling.send(
    new DescribeScalableTargetsCommand({
      ServiceNamespace: spec.serviceNamespace,
      ResourceIds: [spec.resourceId],
      ScalableDimension: spec.scalableDimension,
    }),
  );
  return ScalableTargets?.find((t) => t.ResourceId === spec.resourceId && t.ScalableDimension === spec.scalableDimension);
}

/** The configured policies that exist, by name. */
async function describePolicies(ctx: StepContext, spec: ScalableTargetSpec): Promise<Map<string, ScalingPolicy>> {
  const wanted = new Set(spec.policies.map((p) => p.policyName));
  const found = new Map<string, ScalingPolicy>();
  let NextToken: string | undefined;
  do {
    const page = await ctx.clients.autoscaling.send(
      new DescribeScalingPoliciesCommand({
        ...scopeOf(spec),
        PolicyNames: [...wanted],
        NextToken,
      }),
    );
    // Filter again ourselves: moto ignores PolicyNames and matches ResourceId as a substring.
    for (const policy of page.ScalingPolicies ?? []) {
      if (
        policy.PolicyName &&
        wanted.has(policy.PolicyName) &&
        policy.ResourceId === spec.resourceId &&
        policy.ScalableDimension === spec.scalableDimension
      ) {
        found.set(policy.PolicyName, policy);
      }
    }
    NextToken = page.NextToken ?? undefined;
  } while (NextToken);
  return found;
}

async function observe(ctx: StepContext, spec: ScalableTargetSpec): Promise<ScalingState> {
  const [target, policies] = await Promise.all([describeTarget(ctx, spec), describePolicies(ctx, spec)]);
  return {
    registered: Boolean(target),
    ...(target ? { minCapacity: target.MinCapacity, maxCapacity: target.MaxCapacity } : {}),
    policies: Object.fromEntries([...policies].map(([name, policy]) => [name, savePolicy(policy)])),
  };
}

function savePolicy(policy: ScalingPolicy): SavedPolicy {
  const saved: SavedPolicy = { PolicyType: policy.PolicyType };
  if (policy.TargetTrackingScalingPolicyConfiguration) saved.TargetTrackingScalingPolicyConfiguration = policy.TargetTrackingScalingPolicyConfiguration;
  if (policy.StepScalingPolicyConfiguration) saved.StepScalingPolicyConfiguration = policy.StepScalingPolicyConfiguration;
  if (policy.PredictiveScalingPolicyConfiguration) saved.PredictiveScalingPolicyConfiguration = policy.PredictiveScalingPolicyConfiguration;
  return saved;
}

/** The fields of a policy this tool manages, named as they appear in FieldDiffs. */
function desiredPolicyFields(policy: TargetTrackingPolicySpec): Record<string, unknown> {
  return {
    policyType: 'TargetTrackingScaling',
    predefinedMetricType: policy.predefinedMetricType,
    targetValue: policy.targetValue,
    ...(policy.scaleOutCooldown !== undefined ? { scaleOutCooldown: policy.scaleOutCooldown } : {}),
    ...(policy.scaleInCooldown !== undefined ? { scaleInCooldown: policy.scaleInCooldown } : {}),
    // Target tracking that cannot scale in never gives capacity back; the runbook never disables it.
    disableScaleIn: false,
  };
}

function observedPolicyFields(policy: SavedPolicy): Record<string, unknown> {
  const tt = policy.TargetTrackingScalingPolicyConfiguration;
  return {
    policyType: policy.PolicyType,
    predefinedMetricType: tt?.PredefinedMetricSpecification?.PredefinedMetricType,
    targetValue: tt?.TargetValue,
    scaleOutCooldown: tt?.ScaleOutCooldown,
    scaleInCooldown: tt?.ScaleInCooldown,
    disableScaleIn: tt ? (tt.DisableScaleIn ?? false) : undefined,
  };
}

function policyDiff(policy: TargetTrackingPolicySpec, observed: SavedPolicy | undefined): FieldDiff[] {
  const desired = desiredPolicyFields(policy);
  if (!observed) delete desired.disableScaleIn; // a new policy: false is the default, not news
  return diffFields(desired, observed ? observedPolicyFields(observed) : {}).map((d) => ({
    ...d,
    field: `policy ${policy.policyName}.${d.field}`,
  }));
}

function targetDiff(spec: ScalableTargetSpec, state: ScalingState): FieldDiff[] {
  return diffFields({ minCapacity: spec.minCapacity, maxCapacity: spec.maxCapacity }, state as unknown as Record<string, unknown>);
}

function putPolicyInput(spec: ScalableTargetSpec, policy: TargetTrackingPolicySpec) {
  return {
    PolicyName: policy.policyName,
    ...scopeOf(spec),
    PolicyType: 'TargetTrackingScaling' as const,
    TargetTrackingScalingPolicyConfiguration: {
      TargetValue: policy.targetValue,
      PredefinedMetricSpecification: { PredefinedMetricType: policy.predefinedMetricType },
      ...(policy.scaleOutCooldown !== undefined ? { ScaleOutCooldown: policy.scaleOutCooldown } : {}),
      ...(policy.scaleInCooldown !== undefined ? { ScaleInCooldown: policy.scaleInCooldown } : {}),
    },
  };
}

export async function planTargetTracking(ctx: StepContext, spec: ScalableTargetSpec): Promise<Plan<{ resourceId: string }, ScalingState>> {
  const before = await observe(ctx, spec);
  const changes: Change[] = [];
  const fields = targetDiff(spec, before);
  if (fields.length) {
    changes.push({ resource: targetResource(spec), action: before.registered ? 'update' : 'create', fields });
  }
  for (const policy of spec.policies) {
    const observed = before.policies[policy.policyName];
    const diff = policyDiff(policy, observed);
    if (diff.length) changes.push({ resource: policyResource(spec, policy.policyName), action: observed ? 'update' : 'create', fields: diff });
  }
  return { before, changes, ...(before.registered ? { outputs: { resourceId: spec.resourceId } } : {}) };
}

/**
 * Writes exactly the plan's changes: the target first (policies need it), then each policy.
 * PutScalingPolicy on an existing name updates it in place, so no second policy appears; and a
 * policy in sync is never re-put (moto, unlike AWS, adds a new pair of alarms on every put).
 */
export async function applyTargetTracking(
  ctx: StepContext,
  step: ScalingStepId,
  spec: ScalableTargetSpec,
  plan: Plan<unknown, ScalingState>,
): Promise<{ resourceId: string }> {
  const write = stepWriter(ctx, step);
  const pending = new Map(plan.changes.map((c) => [c.resource, c]));
  const target = pending.get(targetResource(spec));
  if (target) {
    ctx.report(`${target.action === 'create' ? 'registering' : 'updating'} ${targetResource(spec)}`);
    await write(targetResource(spec), target.action, 'RegisterScalableTarget', () =>
      ctx.clients.autoscaling.send(
        new RegisterScalableTargetCommand({
          ...scopeOf(spec),
          MinCapacity: spec.minCapacity,
          MaxCapacity: spec.maxCapacity,
        }),
      ),
    );
  }
  for (const policy of spec.policies) {
    const resource = policyResource(spec, policy.policyName);
    const change = pending.get(resource);
    if (!change) continue;
    ctx.report(`${change.action === 'create' ? 'creating' : 'updating'} ${resource}`);
    await write(resource, change.action, 'PutScalingPolicy', () =>
      ctx.clients.autoscaling.send(new PutScalingPolicyCommand(putPolicyInput(spec, policy))),
    );
  }
  return { resourceId: spec.resourceId };
}

/**
 * Back to `before`, judged against what exists now so a second run writes nothing: policies this
 * run added are deleted, policies it changed get their old configuration back; a target this run
 * registered is deregistered (after its policies), a pre-existing one gets its old min/max.
 */
export async function rollbackTargetTracking(
  ctx: StepContext,
  step: ScalingStepId,
  spec: ScalableTargetSpec,
  before: ScalingState | undefined,
): Promise<void> {
  if (!before) return;
  const write = stepWriter(ctx, step);
  const now = await observe(ctx, spec);
  for (const { policyName } of spec.policies) {
    const resource = policyResource(spec, policyName);
    const was = before.policies[policyName];
    const is = now.policies[policyName];
    if (!was && is) {
      await write(resource, 'delete', 'DeleteScalingPolicy', () =>
        ctx.clients.autoscaling.send(
          new DeleteScalingPolicyCommand({
            PolicyName: policyName,
            ...scopeOf(spec),
          }),
        ),
      );
    } else if (was && !sameValue(was, is)) {
      await write(resource, 'update', 'PutScalingPolicy', () =>
        ctx.clients.autoscaling.send(
          new PutScalingPolicyCommand({
            PolicyName: policyName,
            ...scopeOf(spec),
            ...was,
          }),
        ),
      );
    }
  }
  const resource = targetResource(spec);
  if (!before.registered) {
    if (now.registered) {
      await write(resource, 'delete', 'DeregisterScalableTarget', () =>
        ctx.clients.autoscaling.send(
          new DeregisterScalableTargetCommand({
            ...scopeOf(spec),
          }),
        ),
      );
    }
    return;
  }
  // Pre-existing and gone now: someone else removed it; this run never deregisters it.
  if (!now.registered) return;
  if (now.minCapacity !== before.minCapacity || now.maxCapacity !== before.maxCapacity) {
    await write(resource, 'update', 'RegisterScalableTarget', () =>
      ctx.clients.autoscaling.send(
        new RegisterScalableTargetCommand({
          ...scopeOf(spec),
          MinCapacity: before.minCapacity,
          MaxCapacity: before.maxCapacity,
        }),
      ),
    );
  }
}

const SCALING_READY = 'Scaling Ready';

/**
 * Runbook 4.1 "Scaling Ready": the target is registered with the configured range and every
 * configured policy exists as target tracking. A policy that exists but drifted still scales: WARN.
 */
export async function scalingReady(ctx: StepContext, spec: ScalableTargetSpec): Promise<Finding[]> {
  const state = await observe(ctx, spec);
  const findings: Finding[] = [];
  const resource = targetResource(spec);
  const want = `min ${spec.minCapacity} max ${spec.maxCapacity}`;
  if (!state.registered) findings.push(fail(SCALING_READY, resource, `scalable target is not registered (want ${want})`));
  else if (targetDiff(spec, state).length) {
    findings.push(fail(SCALING_READY, resource, `registered with min ${state.minCapacity} max ${state.maxCapacity}, want ${want}`));
  } else findings.push(ok(SCALING_READY, resource, `registered, ${want}`));

  for (const policy of spec.policies) {
    const name = policy.policyName;
    const policyRes = policyResource(spec, name);
    const observed = state.policies[name];
    const what = `${policy.predefinedMetricType} target ${policy.targetValue}`;
    if (!observed) {
      findings.push(fail(SCALING_READY, policyRes, `scaling policy ${name} (${what}) is missing`));
    } else if (observed.PolicyType !== 'TargetTrackingScaling') {
      findings.push(fail(SCALING_READY, policyRes, `scaling policy ${name} is ${observed.PolicyType ?? 'of unknown type'}, not TargetTrackingScaling`));
    } else {
      const drift = policyDiff(policy, observed);
      findings.push(
        drift.length
          ? warn(
              SCALING_READY,
              policyRes,
              `scaling policy ${name} exists but differs from the config: ${drift
                .map((d) => `${d.field.slice(`policy ${name}.`.length)} ${String(d.from)} (want ${String(d.to)})`)
                .join(', ')}`,
            )
          : ok(SCALING_READY, policyRes, `target tracking ${what} in place`),
      );
    }
  }
  return findings;
}

/** The state of what a scaling step assumes exists (the Aurora cluster, the DynamoDB table). */
export interface InputState {
  resource: string;
  /** Empty means usable. */
  problems: string[];
  /** Said when there is no problem, e.g. `available, writer fintech-db-1`. */
  summary: string;
}

export interface TargetTrackingStepDefinition<Id extends ScalingStepId> {
  id: Id;
  section: string;
  title: string;
  target(config: RunbookConfig): ScalableTargetSpec;
  /** Read-only look at the step's input; AWS errors other than "not found" are thrown. */
  input?(ctx: StepContext): Promise<InputState>;
}

const SCALING_INPUT = 'Scaling Input';

/**
 * A runbook step made of one scalable target and its target tracking policies.
 * - preflight/plan: the input must be usable before any write (plan throws PreflightError).
 * - postDeployChecks: "Scaling Ready". The validate command runs them after `validate`, so
 *   `validate` reports only the input, not Scaling Ready a second time.
 */
export function targetTrackingStep<Id extends ScalingStepId>(definition: TargetTrackingStepDefinition<Id>): Step<Id, ScalingState> {
  const { id, section, title, input } = definition;
  const spec = (ctx: StepContext) => definition.target(ctx.config);
  return {
    id,
    section,
    title,
    ...(input ? { preflight: async (ctx: StepContext) => (await input(ctx)).problems } : {}),
    async plan(ctx) {
      if (input) {
        const { problems } = await input(ctx);
        if (problems.length) throw new PreflightError(problems);
      }
      return (await planTargetTracking(ctx, spec(ctx))) as Plan<StepOutputs[Id], ScalingState>;
    },
    async apply(ctx, plan) {
      return (await applyTargetTracking(ctx, id, spec(ctx), plan)) as StepOutputs[Id];
    },
    async validate(ctx) {
      if (!input) return [];
      const state = await input(ctx);
      return state.problems.length
        ? state.problems.map((problem) => fail(SCALING_INPUT, state.resource, problem))
        : [ok(SCALING_INPUT, state.resource, state.summary)];
    },
    postDeployChecks: (ctx) => scalingReady(ctx, spec(ctx)),
    rollback: (ctx, before) => rollbackTargetTracking(ctx, id, spec(ctx), before),
  };
}
