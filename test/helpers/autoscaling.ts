// Application Auto Scaling fixtures shared by the target tracking steps' unit tests (ecs-, aurora-
// and dynamodb-scaling): what AWS describes for one scalable target and its policies, and the
// mocks that serve it. Only the scope and the service-linked role differ between the steps.
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
  type TargetTrackingScalingPolicyConfiguration,
} from '@aws-sdk/client-application-auto-scaling';
import { ACCOUNT_ID, type AwsMocks } from './mock-aws.js';

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

/**
 * Fixtures for one scalable target. `aws` is read on every call, so pass a getter for the
 * test file's `aws` that beforeEach replaces.
 */
export function autoscalingFixtures(aws: () => AwsMocks, { where, serviceLinkedRole }: AutoscalingFixtureOptions) {
  const { ServiceNamespace: namespace, ResourceId: resourceId } = where;

  /** The registered target as DescribeScalableTargets returns it. */
  const target = (min: number, max: number): ScalableTarget => ({
    ...where,
    MinCapacity: min,
    MaxCapacity: max,
    RoleARN: `arn:aws:iam::${ACCOUNT_ID}:role/aws-service-role/${namespace}.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_${serviceLinkedRole}`,
    CreationTime: CREATED,
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

  /** Every Application Auto Scaling write succeeds. */
  function acceptWrites() {
    aws().autoscaling.on(RegisterScalableTargetCommand).resolves({ ScalableTargetARN: `arn:aws:application-autoscaling:us-east-1:${ACCOUNT_ID}:scalable-target/abc` });
    aws().autoscaling.on(PutScalingPolicyCommand).resolves({ PolicyARN: 'arn:policy', Alarms: [] });
    aws().autoscaling.on(DeleteScalingPolicyCommand).resolves({});
    aws().autoscaling.on(DeregisterScalableTargetCommand).resolves({});
  }

  /** The inputs of every call of `command`, in order. */
  const inputs = (command: Parameters<AwsMocks['autoscaling']['commandCalls']>[0]) =>
    aws().autoscaling.commandCalls(command).map((call) => call.args[0].input);

  return { target, policy, observed, acceptWrites, inputs };
}
