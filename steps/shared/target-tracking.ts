// Runbook 2.1–2.3 share one shape: an Application Auto Scaling scalable target and target tracking
// policies on it. This module owns the documents, "Scaling Ready" and the input preflight for that
// shape; the three step files only say which resource, which range and which policies.
import {
  paginateDescribeScalableTargets,
  paginateDescribeScalingPolicies,
  type MetricType,
  type ScalableDimension,
  type ScalableTarget,
  type ScalingPolicy,
  type ServiceNamespace,
  type SuspendedState,
  type TargetTrackingScalingPolicyConfiguration,
} from '@aws-sdk/client-application-auto-scaling';
import type { RunbookConfig } from '../../src/config.js';
import { act, type ActionSpec } from '../../src/core/actions.js';
import { defineStep, refuseUnhandled } from '../../src/core/converge.js';
import { changedTopLevel, diffDocuments, sameDocument, type Doc, type IgnoreList } from '../../src/core/document.js';
import { PreflightError } from '../../src/core/errors.js';
import { fail, ok, warn, type Finding, type Observed, type ResourceDef, type Step, type StepContext, type StepId, type StepOutputs } from '../../src/core/step.js';

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

/** The config's target tracking section (scaling.*.cpu / .memory / .policy) as a policy spec. */
export function policySpec(section: RunbookConfig['scaling']['aurora']['policy'], predefinedMetricType: MetricType): TargetTrackingPolicySpec {
  return { ...section, predefinedMetricType };
}

export const targetResource = (spec: ScalableTargetSpec) => `scalable target ${spec.resourceId} (${spec.scalableDimension})`;
export const policyResource = (spec: ScalableTargetSpec, policyName: string) => `scaling policy ${policyName} on ${spec.resourceId}`;

const TARGET_ID = 'scalable-target';
const policyId = (policyName: string) => `policy:${policyName}`;

// ---------------------------------------------------------------------------------------------
// Documents

/** The three fields that name a scalable target in every Application Auto Scaling call. */
interface Scope {
  ServiceNamespace: ServiceNamespace;
  ResourceId: string;
  ScalableDimension: ScalableDimension;
}

/** The PutScalingPolicy input. */
export interface PolicyDoc extends Doc, Scope {
  PolicyName: string;
  PolicyType: string;
}

/**
 * The RegisterScalableTarget input, plus `UnconfiguredPolicies`: the policies on this target whose
 * names the config does not give (by name, as PolicyDocs). The config names every policy the target
 * should have, so any other one is drift: plan shows it, apply deletes it, rollback puts it back.
 * Tags are not in the document: DescribeScalableTargets does not return them (AWS reads them with
 * ListTagsForResource, which moto does not implement), so they could never be compared.
 */
export interface TargetDoc extends Doc, Scope {
  MinCapacity: number;
  MaxCapacity: number;
  SuspendedState: Required<SuspendedState>;
  UnconfiguredPolicies?: Record<string, PolicyDoc>;
}

/** Fields a policy's owner never sets: AWS assigns them. Everything else is compared. */
export const SCALING_POLICY_IGNORE: IgnoreList = [
  'PolicyARN', // assigned by AWS
  'Alarms', // the CloudWatch alarms target tracking creates and names itself
  'CreationTime',
];

/** Fields of a scalable target AWS sets itself. Everything else is compared. */
export const SCALABLE_TARGET_IGNORE: IgnoreList = [
  'ScalableTargetARN', // assigned by AWS
  'CreationTime',
  'PredictedCapacity', // forecast by predictive scaling, not configured
  'RoleARN', // AWS attaches the service-linked role itself (moto returns none)
  ...SCALING_POLICY_IGNORE.map((field) => `UnconfiguredPolicies.*.${field}`),
];

/**
 * A configured policy's ignore list: a cooldown the config leaves out is left to AWS (which fills
 * its own default per service), so it is not compared rather than guessed.
 */
export function policyIgnore(policy: TargetTrackingPolicySpec): IgnoreList {
  return [
    ...SCALING_POLICY_IGNORE,
    ...(policy.scaleOutCooldown === undefined ? ['TargetTrackingScalingPolicyConfiguration.ScaleOutCooldown'] : []),
    ...(policy.scaleInCooldown === undefined ? ['TargetTrackingScalingPolicyConfiguration.ScaleInCooldown'] : []),
  ];
}

const scopeOf = (doc: Scope) => ({ ServiceNamespace: doc.ServiceNamespace, ResourceId: doc.ResourceId, ScalableDimension: doc.ScalableDimension });

// AWS reports each flag as false unless it was suspended; moto returns only the flags last sent.
const suspendedState = (state: SuspendedState | undefined): Required<SuspendedState> => ({
  ...state,
  DynamicScalingInSuspended: state?.DynamicScalingInSuspended ?? false,
  DynamicScalingOutSuspended: state?.DynamicScalingOutSuspended ?? false,
  ScheduledScalingSuspended: state?.ScheduledScalingSuspended ?? false,
});

// DisableScaleIn defaults to false: target tracking that cannot scale in never gives capacity back.
const trackingConfig = (tt: TargetTrackingScalingPolicyConfiguration | undefined) => tt && { ...tt, DisableScaleIn: tt.DisableScaleIn ?? false };

/** A policy as described, in the PutScalingPolicy input's shape: unknown fields stay, to be seen. */
export function policyDoc(policy: ScalingPolicy): PolicyDoc {
  return {
    ...(policy as unknown as Doc),
    PolicyName: policy.PolicyName ?? '',
    ServiceNamespace: policy.ServiceNamespace as ServiceNamespace,
    ResourceId: policy.ResourceId ?? '',
    ScalableDimension: policy.ScalableDimension as ScalableDimension,
    PolicyType: policy.PolicyType ?? '',
    TargetTrackingScalingPolicyConfiguration: trackingConfig(policy.TargetTrackingScalingPolicyConfiguration),
  };
}

/** A target as described, in the RegisterScalableTarget input's shape. */
export function targetDoc(target: ScalableTarget, unconfigured: ScalingPolicy[]): TargetDoc {
  return {
    ...(target as unknown as Doc),
    ServiceNamespace: target.ServiceNamespace as ServiceNamespace,
    ResourceId: target.ResourceId ?? '',
    ScalableDimension: target.ScalableDimension as ScalableDimension,
    MinCapacity: target.MinCapacity ?? 0,
    MaxCapacity: target.MaxCapacity ?? 0,
    SuspendedState: suspendedState(target.SuspendedState),
    UnconfiguredPolicies: Object.fromEntries(unconfigured.map((p) => [p.PolicyName ?? '', policyDoc(p)])),
  };
}

function scope(spec: ScalableTargetSpec): Scope {
  return { ServiceNamespace: spec.serviceNamespace, ResourceId: spec.resourceId, ScalableDimension: spec.scalableDimension };
}

function desiredTarget(spec: ScalableTargetSpec): TargetDoc {
  return { ...scope(spec), MinCapacity: spec.minCapacity, MaxCapacity: spec.maxCapacity, SuspendedState: suspendedState(undefined) };
}

function desiredPolicy(spec: ScalableTargetSpec, policy: TargetTrackingPolicySpec): PolicyDoc {
  return {
    PolicyName: policy.policyName,
    ...scope(spec),
    PolicyType: 'TargetTrackingScaling',
    TargetTrackingScalingPolicyConfiguration: {
      TargetValue: policy.targetValue,
      PredefinedMetricSpecification: { PredefinedMetricType: policy.predefinedMetricType },
      ...(policy.scaleOutCooldown !== undefined ? { ScaleOutCooldown: policy.scaleOutCooldown } : {}),
      ...(policy.scaleInCooldown !== undefined ? { ScaleInCooldown: policy.scaleInCooldown } : {}),
      DisableScaleIn: false,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Reading

/** The target and every policy on it, filtered here: moto ignores PolicyNames and matches ResourceId as a substring. */
async function observeTarget(ctx: StepContext, spec: ScalableTargetSpec): Promise<Observed> {
  const client = ctx.clients.autoscaling;
  const same = (x: { ResourceId?: string; ScalableDimension?: string }) => x.ResourceId === spec.resourceId && x.ScalableDimension === spec.scalableDimension;
  const targets = async () => {
    const found: ScalableTarget[] = [];
    const pages = paginateDescribeScalableTargets(
      { client },
      { ServiceNamespace: spec.serviceNamespace, ResourceIds: [spec.resourceId], ScalableDimension: spec.scalableDimension },
    );
    for await (const page of pages) found.push(...(page.ScalableTargets ?? []).filter(same));
    return found;
  };
  // All policies of the target, not only the configured names: the others are drift.
  const policies = async () => {
    const found: ScalingPolicy[] = [];
    for await (const page of paginateDescribeScalingPolicies({ client }, scope(spec))) found.push(...(page.ScalingPolicies ?? []).filter(same));
    return found;
  };
  const [[target], all] = await Promise.all([targets(), policies()]);
  const configured = new Set(spec.policies.map((p) => p.policyName));
  const observed: Observed = {
    // A policy cannot exist without its target on AWS; moto keeps them after a deregister: not seen here.
    [TARGET_ID]: target && targetDoc(target, all.filter((p) => !configured.has(p.PolicyName ?? ''))),
  };
  for (const { policyName } of spec.policies) {
    const policy = all.find((p) => p.PolicyName === policyName);
    observed[policyId(policyName)] = policy && policyDoc(policy);
  }
  return observed;
}

// ---------------------------------------------------------------------------------------------
// Actions

const registerInput = (d: TargetDoc) => ({ ...scopeOf(d), MinCapacity: d.MinCapacity, MaxCapacity: d.MaxCapacity, SuspendedState: d.SuspendedState });

const putInput = (d: PolicyDoc) => ({
  PolicyName: d.PolicyName,
  ...scopeOf(d),
  PolicyType: d.PolicyType,
  ...(d.TargetTrackingScalingPolicyConfiguration ? { TargetTrackingScalingPolicyConfiguration: d.TargetTrackingScalingPolicyConfiguration } : {}),
  ...(d.StepScalingPolicyConfiguration ? { StepScalingPolicyConfiguration: d.StepScalingPolicyConfiguration } : {}),
  ...(d.PredictiveScalingPolicyConfiguration ? { PredictiveScalingPolicyConfiguration: d.PredictiveScalingPolicyConfiguration } : {}),
});

const GONE = { goneErrors: ['ObjectNotFoundException'] }; // AWS's not-found; moto answers ValidationException

const deletePolicy = (d: PolicyDoc) => act('autoscaling', 'DeleteScalingPolicy', { PolicyName: d.PolicyName, ...scopeOf(d) }, GONE);

/**
 * Move a policy to `d`. PutScalingPolicy on an existing name updates it in place (a policy in sync
 * is never put: AWS recreates its alarms, moto adds a second set). A change of policy type is a
 * delete and a new put: an update leaves the other type's configuration in place.
 */
function convergePolicy(d: PolicyDoc, o: PolicyDoc | undefined): ActionSpec[] {
  const put = act('autoscaling', 'PutScalingPolicy', putInput(d), { kind: 'update' });
  return o && o.PolicyType !== d.PolicyType ? [deletePolicy(o), put] : [put];
}

const POLICY_FIELDS = ['PolicyType', 'TargetTrackingScalingPolicyConfiguration', 'StepScalingPolicyConfiguration', 'PredictiveScalingPolicyConfiguration'];

function targetDef(spec: ScalableTargetSpec, observed: Observed): ResourceDef<TargetDoc> {
  const name = targetResource(spec);
  return {
    id: TARGET_ID,
    name,
    desired: desiredTarget(spec),
    observed: observed[TARGET_ID] as TargetDoc | undefined,
    ignore: SCALABLE_TARGET_IGNORE,
    // RegisterScalableTarget on an existing target updates it: there is no "already exists" error.
    create: (d) => [act('autoscaling', 'RegisterScalableTarget', registerInput(d))],
    update: (d, o, diffs) => {
      const changed = changedTopLevel(diffs);
      refuseUnhandled(name, diffs, ['MinCapacity', 'MaxCapacity', 'SuspendedState', 'UnconfiguredPolicies']);
      const actions: ActionSpec[] = [];
      if (changed.has('MinCapacity') || changed.has('MaxCapacity') || changed.has('SuspendedState')) {
        actions.push(act('autoscaling', 'RegisterScalableTarget', registerInput(d), { kind: 'update' }));
      }
      // Policies the config does not name: deleted by apply, put back by rollback (d = before).
      const want = d.UnconfiguredPolicies ?? {};
      const have = o.UnconfiguredPolicies ?? {};
      for (const [policyName, policy] of Object.entries(have)) if (!(policyName in want)) actions.push(deletePolicy(policy));
      for (const [policyName, policy] of Object.entries(want)) {
        if (!sameDocument(policy, have[policyName], SCALING_POLICY_IGNORE)) actions.push(...convergePolicy(policy, have[policyName]));
      }
      return actions;
    },
    // Policies first: AWS deletes them with the target, moto leaves them behind.
    remove: (o) => [
      ...Object.values(o.UnconfiguredPolicies ?? {}).map(deletePolicy),
      act('autoscaling', 'DeregisterScalableTarget', { ...scopeOf(o) }, GONE),
    ],
  };
}

function policyDef(spec: ScalableTargetSpec, policy: TargetTrackingPolicySpec, observed: Observed): ResourceDef<PolicyDoc> {
  const name = policyResource(spec, policy.policyName);
  return {
    id: policyId(policy.policyName),
    after: [TARGET_ID], // each policy needs the target, not the other policies
    name,
    desired: desiredPolicy(spec, policy),
    observed: observed[policyId(policy.policyName)] as PolicyDoc | undefined,
    ignore: policyIgnore(policy),
    // A put that creates: recorded as a creation, so compensation may delete it.
    create: (d) => [act('autoscaling', 'PutScalingPolicy', putInput(d), { kind: 'create' })],
    update: (d, o, diffs) => {
      refuseUnhandled(name, diffs, POLICY_FIELDS);
      return convergePolicy(d, o);
    },
    remove: (o) => [deletePolicy(o)],
  };
}

/** The target first (a policy needs it), then the policies; rollback walks them in reverse. */
function resourcesOf(spec: ScalableTargetSpec, observed: Observed): ResourceDef[] {
  return [targetDef(spec, observed), ...spec.policies.map((p) => policyDef(spec, p, observed))] as ResourceDef[];
}

// ---------------------------------------------------------------------------------------------
// Runbook 4.1 "Scaling Ready"

const SCALING_READY = 'Scaling Ready';

/**
 * The target is registered as configured (range, nothing suspended, no policy the config does not
 * name) and every configured policy exists as target tracking. A policy that exists but drifted
 * still scales: WARN naming the fields.
 */
export async function scalingReady(ctx: StepContext, spec: ScalableTargetSpec): Promise<Finding[]> {
  const [target, ...policies] = resourcesOf(spec, await observeTarget(ctx, spec));
  const findings: Finding[] = [];
  const want = `min ${spec.minCapacity} max ${spec.maxCapacity}`;
  const t = target.observed as TargetDoc | undefined;
  if (!t) findings.push(fail(SCALING_READY, target.name, `scalable target is not registered (want ${want})`));
  else {
    const diffs = diffDocuments(target.desired, t, target.ignore);
    const problems: string[] = [];
    if (diffs.some((d) => d.field === 'MinCapacity' || d.field === 'MaxCapacity')) problems.push(`registered with min ${t.MinCapacity} max ${t.MaxCapacity}, want ${want}`);
    const unconfigured = Object.keys(t.UnconfiguredPolicies ?? {});
    if (unconfigured.length) problems.push(`scaling policies not in the config: ${unconfigured.join(', ')} (apply deletes them)`);
    const rest = diffs.filter((d) => !['MinCapacity', 'MaxCapacity'].includes(d.field) && !d.field.startsWith('UnconfiguredPolicies'));
    if (rest.length) problems.push(`differs from the config: ${rest.map((d) => d.field).join(', ')} (run plan)`);
    findings.push(problems.length ? fail(SCALING_READY, target.name, problems.join('; ')) : ok(SCALING_READY, target.name, `registered, ${want}`));
  }

  spec.policies.forEach((policy, i) => {
    const resource = policies[i];
    const name = policy.policyName;
    const o = resource.observed as PolicyDoc | undefined;
    const what = `${policy.predefinedMetricType} target ${policy.targetValue}`;
    if (!o) {
      findings.push(fail(SCALING_READY, resource.name, `scaling policy ${name} (${what}) is missing`));
    } else if (o.PolicyType !== 'TargetTrackingScaling') {
      findings.push(fail(SCALING_READY, resource.name, `scaling policy ${name} is ${o.PolicyType || 'of unknown type'}, not TargetTrackingScaling`));
    } else {
      const drift = diffDocuments(resource.desired, o, resource.ignore);
      findings.push(
        drift.length
          ? warn(SCALING_READY, resource.name, `scaling policy ${name} exists but differs from the config: ${drift.map((d) => `${d.field} ${String(d.from)} (want ${String(d.to)})`).join(', ')}`)
          : ok(SCALING_READY, resource.name, `target tracking ${what} in place`),
      );
    }
  });
  return findings;
}

// ---------------------------------------------------------------------------------------------
// The step

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
  needs?: StepId[];
  target(config: RunbookConfig): ScalableTargetSpec;
  /** Read-only look at the step's input; AWS errors other than "not found" are thrown. */
  input?(ctx: StepContext): Promise<InputState>;
}

const SCALING_INPUT = 'Scaling Input';

/**
 * A runbook step made of one scalable target and its target tracking policies.
 * - preflight and plan: the input must be usable before any write (plan throws PreflightError
 *   before any Application Auto Scaling call). Rollback does not ask: it only undoes this run.
 * - postDeployChecks: "Scaling Ready". The validate command runs them after `validate`, so
 *   `validate` reports only the input, not Scaling Ready a second time.
 */
export function targetTrackingStep<Id extends ScalingStepId>(definition: TargetTrackingStepDefinition<Id>): Step<Id> {
  const { id, section, title, input } = definition;
  const spec = (ctx: StepContext) => definition.target(ctx.config);
  const step = defineStep<Id>({
    id,
    section,
    title,
    needs: definition.needs ?? [],
    observe: (ctx) => observeTarget(ctx, spec(ctx)),
    resources: (ctx, observed) => resourcesOf(spec(ctx), observed),
    // The resource id is the config's: known before anything exists.
    outputs: (ctx) => ({ resourceId: spec(ctx).resourceId }) as StepOutputs[Id],
    ...(input ? { preflight: async (ctx: StepContext) => (await input(ctx)).problems } : {}),
    async validate(ctx) {
      if (!input) return [];
      const state = await input(ctx);
      return state.problems.length
        ? state.problems.map((problem) => fail(SCALING_INPUT, state.resource, problem))
        : [ok(SCALING_INPUT, state.resource, state.summary)];
    },
    postDeployChecks: (ctx) => scalingReady(ctx, spec(ctx)),
  });
  if (!input) return step;
  return {
    ...step,
    async plan(ctx) {
      const { problems } = await input(ctx);
      if (problems.length) throw new PreflightError(problems);
      return step.plan(ctx);
    },
  };
}
