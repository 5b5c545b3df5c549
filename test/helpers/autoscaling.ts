// Application Auto Scaling fixtures shared by the target tracking steps' unit tests (ecs-, aurora-
// and dynamodb-scaling): what AWS describes for one scalable target and its policies, the mocks
// that serve it, and the write inputs the steps are expected to send.
import {
  DeleteScalingPolicyCommand,
  DeregisterScalableTargetCommand,
  DescribeScalableTargetsCommand,
  DescribeScalingPoliciesCommand,
  PutScalingPolicyCommand,
  RegisterScalableTargetCommand,
  type ScalableDimension,
  type ScalableTarget,
  type ScalingPolicy,
  type ServiceNamespace,
  type SuspendedState,
  type TargetTrackingScalingPolicyConfiguration,
} from '@aws-sdk/client-application-auto-scaling';
import type { Observed, Step } from '../../src/core/step.js';
import { ACCOUNT_ID, testContext, type AwsMocks } from './mock-aws.js';

/** The scalable target every call names. */
export interface ScalingScope {
  ServiceNamespace: ServiceNamespace;
  ResourceId: string;
  ScalableDimension: ScalableDimension;
}

export interface AutoscalingFixtureOptions {
  where: ScalingScope;
  /** Suffix of the service-linked role AWS attaches, e.g. 'ECSService' for AWSServiceRoleForApplicationAutoScaling_ECSService. */
  serviceLinkedRole: string;
}

const CREATED = new Date('2024-01-01T00:00:00Z');

/** What AWS reports for a target nobody suspended (and what the steps register). */
export const NOT_SUSPENDED: Required<SuspendedState> = { DynamicScalingInSuspended: false, DynamicScalingOutSuspended: false, ScheduledScalingSuspended: false };

/**
 * Fixtures for one scalable target. `aws` is read on every call, so pass a getter for the
 * test file's `aws` that beforeEach replaces.
 */
export function autoscalingFixtures(aws: () => AwsMocks, { where, serviceLinkedRole }: AutoscalingFixtureOptions) {
  const { ServiceNamespace: namespace, ResourceId: resourceId } = where;

  /** The registered target as DescribeScalableTargets returns it on AWS; `extra` overrides any field. */
  const target = (min: number, max: number, extra: Partial<ScalableTarget> = {}): ScalableTarget => ({
    ...where,
    MinCapacity: min,
    MaxCapacity: max,
    RoleARN: `arn:aws:iam::${ACCOUNT_ID}:role/aws-service-role/${namespace}.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_${serviceLinkedRole}`,
    CreationTime: CREATED,
    SuspendedState: NOT_SUSPENDED,
    ScalableTargetARN: `arn:aws:application-autoscaling:us-east-1:${ACCOUNT_ID}:scalable-target/0123abcd`,
    ...extra,
  });

  /** A target tracking policy on the target as DescribeScalingPolicies returns it; `extra` overrides any field. */
  const policy = (name: string, config: TargetTrackingScalingPolicyConfiguration | undefined, extra: Partial<ScalingPolicy> = {}): ScalingPolicy => ({
    ...where,
    PolicyARN: `arn:aws:autoscaling:us-east-1:${ACCOUNT_ID}:scalingPolicy:0000:resource/${namespace}/${resourceId}:policyName/${name}`,
    PolicyName: name,
    PolicyType: 'TargetTrackingScaling',
    TargetTrackingScalingPolicyConfiguration: config,
    Alarms: [{ AlarmName: `TargetTracking-${resourceId}-AlarmHigh-1`, AlarmARN: `arn:aws:cloudwatch:us-east-1:${ACCOUNT_ID}:alarm:x` }],
    CreationTime: CREATED,
    ...extra,
  });

  /** Both reads answer with these, however often they are asked. */
  function observed(targets: ScalableTarget[], policies: ScalingPolicy[]) {
    aws().autoscaling.on(DescribeScalableTargetsCommand).resolves({ ScalableTargets: targets });
    aws().autoscaling.on(DescribeScalingPoliciesCommand).resolves({ ScalingPolicies: policies });
  }

  /** The reads answer `first` once (what apply or rollback sees), then `then` (what a second run sees). */
  function observedThen(first: [ScalableTarget[], ScalingPolicy[]], then: [ScalableTarget[], ScalingPolicy[]]) {
    aws().autoscaling.on(DescribeScalableTargetsCommand).resolvesOnce({ ScalableTargets: first[0] }).resolves({ ScalableTargets: then[0] });
    aws().autoscaling.on(DescribeScalingPoliciesCommand).resolvesOnce({ ScalingPolicies: first[1] }).resolves({ ScalingPolicies: then[1] });
  }

  /** Every Application Auto Scaling write succeeds. */
  function acceptWrites() {
    aws().autoscaling.on(RegisterScalableTargetCommand).resolves({ ScalableTargetARN: `arn:aws:application-autoscaling:us-east-1:${ACCOUNT_ID}:scalable-target/abc` });
    aws().autoscaling.on(PutScalingPolicyCommand).resolves({ PolicyARN: 'arn:policy', Alarms: [] });
    aws().autoscaling.on(DeleteScalingPolicyCommand).resolves({});
    aws().autoscaling.on(DeregisterScalableTargetCommand).resolves({});
  }

  /**
   * The `before` a plan would record for this state: the step's own observe, then the mocks are
   * reset so the test can serve what exists after apply.
   */
  async function beforeOf(step: Step, targets: ScalableTarget[], policies: ScalingPolicy[]): Promise<Observed> {
    observed(targets, policies);
    const before = await step.observe(testContext());
    aws().autoscaling.reset();
    aws().autoscaling.onAnyCommand().rejects(new Error('unmocked autoscaling call: mock it in the test'));
    return before;
  }

  /** The inputs of every call of `command`, in order. */
  const inputs = (command: Parameters<AwsMocks['autoscaling']['commandCalls']>[0]) =>
    aws().autoscaling.commandCalls(command).map((call) => call.args[0].input);

  /** The RegisterScalableTarget input the steps send. */
  const registerInput = (min: number, max: number, suspended: Required<SuspendedState> = NOT_SUSPENDED) => ({
    ...where,
    MinCapacity: min,
    MaxCapacity: max,
    SuspendedState: suspended,
  });

  /** The PutScalingPolicy input the steps send for a target tracking policy (DisableScaleIn spelled out). */
  const putInput = (name: string, config: TargetTrackingScalingPolicyConfiguration) => ({
    PolicyName: name,
    ...where,
    PolicyType: 'TargetTrackingScaling',
    TargetTrackingScalingPolicyConfiguration: { DisableScaleIn: false, ...config },
  });

  return { target, policy, observed, observedThen, acceptWrites, beforeOf, inputs, registerInput, putInput };
}
