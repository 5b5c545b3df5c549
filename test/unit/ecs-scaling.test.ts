import {
  DeleteScalingPolicyCommand,
  DeregisterScalableTargetCommand,
  DescribeScalableTargetsCommand,
  DescribeScalingPoliciesCommand,
  PutScalingPolicyCommand,
  RegisterScalableTargetCommand,
  type TargetTrackingScalingPolicyConfiguration,
} from '@aws-sdk/client-application-auto-scaling';
import { beforeEach, describe, expect, it } from 'vitest';
import { ecsScalingStep } from '../../steps/ecs-scaling.js';
import type { ScalingState } from '../../steps/shared/target-tracking.js';
import { describeAwsError } from '../../src/core/errors.js';
import { autoscalingFixtures } from '../helpers/autoscaling.js';
import { awsError, mockAws, RecordingRecorder, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

const RESOURCE_ID = 'service/fintech-prod-cluster/fintech-api-svc';
const DIMENSION = 'ecs:service:DesiredCount';
const TARGET = `scalable target ${RESOURCE_ID} (${DIMENSION})`;
const on = (policyName: string) => `scaling policy ${policyName} on ${RESOURCE_ID}`;
const where = { ServiceNamespace: 'ecs', ResourceId: RESOURCE_ID, ScalableDimension: DIMENSION } as const;

const cpuConfig: TargetTrackingScalingPolicyConfiguration = {
  TargetValue: 70,
  PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
  ScaleOutCooldown: 60,
  ScaleInCooldown: 300,
};
const memConfig: TargetTrackingScalingPolicyConfiguration = { TargetValue: 75, PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageMemoryUtilization' } };

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});

const { target, policy, observed, acceptWrites, inputs } = autoscalingFixtures(() => aws, { where, serviceLinkedRole: 'ECSService' });

const cpuPolicy = policy('fintech-cpu-scaling', cpuConfig);
const memPolicy = policy('fintech-mem-scaling', memConfig);

describe('ecs-scaling step (2.1)', () => {
  it('registers the target and puts the CPU and memory policies exactly as the runbook says when nothing exists', async () => {
    observed([], []);
    acceptWrites();
    const recorder = new RecordingRecorder();
    const ctx = testContext({ recorder });
    const plan = await ecsScalingStep.plan(ctx);
    expect(plan.outputs).toBeUndefined();
    expect(plan.changes).toEqual([
      {
        resource: TARGET,
        action: 'create',
        fields: [
          { field: 'minCapacity', from: undefined, to: 3 },
          { field: 'maxCapacity', from: undefined, to: 10 },
        ],
      },
      {
        resource: on('fintech-cpu-scaling'),
        action: 'create',
        fields: [
          { field: 'policy fintech-cpu-scaling.policyType', from: undefined, to: 'TargetTrackingScaling' },
          { field: 'policy fintech-cpu-scaling.predefinedMetricType', from: undefined, to: 'ECSServiceAverageCPUUtilization' },
          { field: 'policy fintech-cpu-scaling.targetValue', from: undefined, to: 70 },
          { field: 'policy fintech-cpu-scaling.scaleOutCooldown', from: undefined, to: 60 },
          { field: 'policy fintech-cpu-scaling.scaleInCooldown', from: undefined, to: 300 },
        ],
      },
      expect.objectContaining({ resource: on('fintech-mem-scaling'), action: 'create' }),
    ]);

    const out = await ecsScalingStep.apply(ctx, plan);

    expect(out).toEqual({ resourceId: RESOURCE_ID });
    expect(writeCalls(aws)).toEqual(['autoscaling:RegisterScalableTarget', 'autoscaling:PutScalingPolicy', 'autoscaling:PutScalingPolicy']);
    expect(inputs(RegisterScalableTargetCommand)).toEqual([{ ...where, MinCapacity: 3, MaxCapacity: 10 }]);
    expect(inputs(PutScalingPolicyCommand)).toEqual([
      { ...where, PolicyName: 'fintech-cpu-scaling', PolicyType: 'TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration: cpuConfig },
      { ...where, PolicyName: 'fintech-mem-scaling', PolicyType: 'TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration: memConfig },
    ]);
    // Reads ask for exactly this target and these policies.
    expect(inputs(DescribeScalableTargetsCommand)).toEqual([{ ServiceNamespace: 'ecs', ResourceIds: [RESOURCE_ID], ScalableDimension: DIMENSION }]);
    expect(inputs(DescribeScalingPoliciesCommand)).toEqual([{ ...where, PolicyNames: ['fintech-cpu-scaling', 'fintech-mem-scaling'] }]);
    // Every write went through the journal, named.
    expect(recorder.writes).toEqual([
      { step: 'ecs-scaling', resource: TARGET, action: 'create', operation: 'RegisterScalableTarget' },
      { step: 'ecs-scaling', resource: on('fintech-cpu-scaling'), action: 'create', operation: 'PutScalingPolicy' },
      { step: 'ecs-scaling', resource: on('fintech-mem-scaling'), action: 'create', operation: 'PutScalingPolicy' },
    ]);
  });

  it('plans nothing and writes nothing when target and both policies match (no second policy, no new alarms)', async () => {
    observed([target(3, 10)], [cpuPolicy, memPolicy]);
    const ctx = testContext();
    const plan = await ecsScalingStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    expect(plan.outputs).toEqual({ resourceId: RESOURCE_ID });
    expect(await ecsScalingStep.apply(ctx, plan)).toEqual({ resourceId: RESOURCE_ID });
    expect(writeCalls(aws)).toEqual([]);
  });

  it('is in sync when AWS reports DisableScaleIn false and cooldowns the config leaves to AWS defaults', async () => {
    observed(
      [target(3, 10)],
      [
        policy('fintech-cpu-scaling', { ...cpuConfig, DisableScaleIn: false }),
        policy('fintech-mem-scaling', { ...memConfig, ScaleOutCooldown: 300, ScaleInCooldown: 300 }),
      ],
    );
    const plan = await ecsScalingStep.plan(testContext());
    expect(plan.changes).toEqual([]);
  });

  it('reports drift field by field and writes only the target and the policy that drifted', async () => {
    observed([target(2, 10)], [policy('fintech-cpu-scaling', { ...cpuConfig, TargetValue: 50, ScaleInCooldown: 600, DisableScaleIn: true }), memPolicy]);
    acceptWrites();
    const ctx = testContext();
    const plan = await ecsScalingStep.plan(ctx);
    expect(plan.changes).toEqual([
      { resource: TARGET, action: 'update', fields: [{ field: 'minCapacity', from: 2, to: 3 }] },
      {
        resource: on('fintech-cpu-scaling'),
        action: 'update',
        fields: [
          { field: 'policy fintech-cpu-scaling.targetValue', from: 50, to: 70 },
          { field: 'policy fintech-cpu-scaling.scaleInCooldown', from: 600, to: 300 },
          { field: 'policy fintech-cpu-scaling.disableScaleIn', from: true, to: false },
        ],
      },
    ]);
    await ecsScalingStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['autoscaling:RegisterScalableTarget', 'autoscaling:PutScalingPolicy']);
    expect(inputs(RegisterScalableTargetCommand)).toEqual([{ ...where, MinCapacity: 3, MaxCapacity: 10 }]);
    expect(inputs(PutScalingPolicyCommand)).toEqual([
      { ...where, PolicyName: 'fintech-cpu-scaling', PolicyType: 'TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration: cpuConfig },
    ]);
  });

  it('puts only a missing memory policy when the target and CPU policy are in place', async () => {
    observed([target(3, 10)], [cpuPolicy]);
    acceptWrites();
    const ctx = testContext();
    const plan = await ecsScalingStep.plan(ctx);
    expect(plan.changes.map((c) => [c.resource, c.action])).toEqual([[on('fintech-mem-scaling'), 'create']]);
    await ecsScalingStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['autoscaling:PutScalingPolicy']);
    expect(inputs(PutScalingPolicyCommand)[0]).toMatchObject({ PolicyName: 'fintech-mem-scaling' });
  });

  it('ignores policies of other names or on other resources that a loose Describe returns (moto ignores PolicyNames)', async () => {
    observed(
      [target(3, 10)],
      [
        cpuPolicy,
        memPolicy,
        policy('someone-elses-step-policy', undefined, { PolicyType: 'StepScaling' }),
        policy('fintech-cpu-scaling', { ...cpuConfig, TargetValue: 10 }, { ResourceId: 'service/fintech-prod-cluster/fintech-api' }),
      ],
    );
    const plan = await ecsScalingStep.plan(testContext());
    expect(plan.changes).toEqual([]);
  });

  it('follows DescribeScalingPolicies pagination', async () => {
    aws.autoscaling.on(DescribeScalableTargetsCommand).resolves({ ScalableTargets: [target(3, 10)] });
    aws.autoscaling
      .on(DescribeScalingPoliciesCommand)
      .resolvesOnce({ ScalingPolicies: [cpuPolicy], NextToken: 'page-2' })
      .resolves({ ScalingPolicies: [memPolicy] });
    const plan = await ecsScalingStep.plan(testContext());
    expect(plan.changes).toEqual([]);
    expect(inputs(DescribeScalingPoliciesCommand).map((i) => i.NextToken)).toEqual([undefined, 'page-2']);
  });

  it('rollback of a target this run registered deletes its policies, then deregisters; a second rollback writes nothing', async () => {
    aws.autoscaling.on(DescribeScalableTargetsCommand).resolvesOnce({ ScalableTargets: [target(3, 10)] }).resolves({ ScalableTargets: [] });
    aws.autoscaling.on(DescribeScalingPoliciesCommand).resolvesOnce({ ScalingPolicies: [cpuPolicy, memPolicy] }).resolves({ ScalingPolicies: [] });
    acceptWrites();
    const ctx = testContext();
    const before: ScalingState = { registered: false, policies: {} };
    await ecsScalingStep.rollback(ctx, before);
    expect(writeCalls(aws)).toEqual(['autoscaling:DeleteScalingPolicy', 'autoscaling:DeleteScalingPolicy', 'autoscaling:DeregisterScalableTarget']);
    expect(inputs(DeleteScalingPolicyCommand)).toEqual([
      { ...where, PolicyName: 'fintech-cpu-scaling' },
      { ...where, PolicyName: 'fintech-mem-scaling' },
    ]);
    expect(inputs(DeregisterScalableTargetCommand)).toEqual([where]);
    await ecsScalingStep.rollback(ctx, before);
    expect(writeCalls(aws)).toHaveLength(3);
  });

  it('rollback of a pre-existing target restores min/max and the old policy, deletes the added one, never deregisters', async () => {
    const oldCpu: TargetTrackingScalingPolicyConfiguration = { TargetValue: 50, PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' } };
    const before: ScalingState = {
      registered: true,
      minCapacity: 2,
      maxCapacity: 8,
      policies: { 'fintech-cpu-scaling': { PolicyType: 'TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration: oldCpu } },
    };
    aws.autoscaling.on(DescribeScalableTargetsCommand).resolvesOnce({ ScalableTargets: [target(3, 10)] }).resolves({ ScalableTargets: [target(2, 8)] });
    aws.autoscaling
      .on(DescribeScalingPoliciesCommand)
      .resolvesOnce({ ScalingPolicies: [cpuPolicy, memPolicy] })
      .resolves({ ScalingPolicies: [policy('fintech-cpu-scaling', oldCpu)] });
    acceptWrites();
    const ctx = testContext();
    await ecsScalingStep.rollback(ctx, before);
    expect(writeCalls(aws)).toEqual(['autoscaling:PutScalingPolicy', 'autoscaling:DeleteScalingPolicy', 'autoscaling:RegisterScalableTarget']);
    expect(inputs(PutScalingPolicyCommand)).toEqual([
      { ...where, PolicyName: 'fintech-cpu-scaling', PolicyType: 'TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration: oldCpu },
    ]);
    expect(inputs(DeleteScalingPolicyCommand)).toEqual([{ ...where, PolicyName: 'fintech-mem-scaling' }]);
    expect(inputs(RegisterScalableTargetCommand)).toEqual([{ ...where, MinCapacity: 2, MaxCapacity: 8 }]);
    await ecsScalingStep.rollback(ctx, before);
    expect(writeCalls(aws)).toHaveLength(3);
    expect(aws.autoscaling.commandCalls(DeregisterScalableTargetCommand)).toHaveLength(0);
  });

  it('rollback leaves a pre-existing target alone when someone else removed it, and does nothing without a before', async () => {
    observed([], []);
    const ctx = testContext();
    await ecsScalingStep.rollback(ctx, { registered: true, minCapacity: 3, maxCapacity: 10, policies: {} });
    await ecsScalingStep.rollback(ctx, undefined);
    expect(writeCalls(aws)).toEqual([]);
    expect(aws.autoscaling.commandCalls(DescribeScalableTargetsCommand)).toHaveLength(1);
  });

  it('surfaces an AWS error on a read with its name and request id', async () => {
    aws.autoscaling
      .on(DescribeScalableTargetsCommand)
      .rejects(awsError('AccessDeniedException', 'not authorized to perform application-autoscaling:DescribeScalableTargets', 'req-71'));
    aws.autoscaling.on(DescribeScalingPoliciesCommand).resolves({ ScalingPolicies: [] });
    const error = await ecsScalingStep.plan(testContext()).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe(
      'AccessDeniedException: not authorized to perform application-autoscaling:DescribeScalableTargets — request id req-71',
    );
  });

  it('surfaces an AWS error on a write and stops before the policies', async () => {
    observed([], []);
    aws.autoscaling.on(RegisterScalableTargetCommand).rejects(awsError('ValidationException', `ECS service doesn't exist: ${RESOURCE_ID}`, 'req-72'));
    const ctx = testContext();
    const plan = await ecsScalingStep.plan(ctx);
    const error = await ecsScalingStep.apply(ctx, plan).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe(`ValidationException: ECS service doesn't exist: ${RESOURCE_ID} — request id req-72`);
    expect(aws.autoscaling.commandCalls(PutScalingPolicyCommand)).toHaveLength(0);
  });

  describe('Scaling Ready (4.1)', () => {
    it('passes when the target has the configured range and both policies exist', async () => {
      observed([target(3, 10)], [cpuPolicy, memPolicy]);
      const findings = await ecsScalingStep.postDeployChecks!(testContext());
      expect(findings).toEqual([
        { check: 'Scaling Ready', status: 'OK', resource: TARGET, reason: 'registered, min 3 max 10' },
        { check: 'Scaling Ready', status: 'OK', resource: on('fintech-cpu-scaling'), reason: 'target tracking ECSServiceAverageCPUUtilization target 70 in place' },
        { check: 'Scaling Ready', status: 'OK', resource: on('fintech-mem-scaling'), reason: 'target tracking ECSServiceAverageMemoryUtilization target 75 in place' },
      ]);
    });

    it('fails on a target at the wrong min/max and names the missing memory policy', async () => {
      observed([target(1, 10)], [cpuPolicy]);
      const findings = await ecsScalingStep.postDeployChecks!(testContext());
      expect(findings.map((f) => [f.status, f.reason])).toEqual([
        ['FAIL', 'registered with min 1 max 10, want min 3 max 10'],
        ['OK', 'target tracking ECSServiceAverageCPUUtilization target 70 in place'],
        ['FAIL', 'scaling policy fintech-mem-scaling (ECSServiceAverageMemoryUtilization target 75) is missing'],
      ]);
    });

    it('fails when the target is not registered at all', async () => {
      observed([], []);
      const findings = await ecsScalingStep.postDeployChecks!(testContext());
      expect(findings.map((f) => f.status)).toEqual(['FAIL', 'FAIL', 'FAIL']);
      expect(findings[0].reason).toBe('scalable target is not registered (want min 3 max 10)');
    });

    it('fails on a step scaling policy under the configured name, warns on a drifted target tracking policy', async () => {
      observed(
        [target(3, 10)],
        [
          policy('fintech-cpu-scaling', { ...cpuConfig, TargetValue: 90 }),
          policy('fintech-mem-scaling', undefined, { PolicyType: 'StepScaling', StepScalingPolicyConfiguration: { AdjustmentType: 'ChangeInCapacity' } }),
        ],
      );
      const findings = await ecsScalingStep.postDeployChecks!(testContext());
      expect(findings.map((f) => [f.status, f.reason])).toEqual([
        ['OK', 'registered, min 3 max 10'],
        ['WARN', 'scaling policy fintech-cpu-scaling exists but differs from the config: targetValue 90 (want 70)'],
        ['FAIL', 'scaling policy fintech-mem-scaling is StepScaling, not TargetTrackingScaling'],
      ]);
    });

    it('is not repeated by validate, which the validate command runs before the 4.1 checks', async () => {
      expect(await ecsScalingStep.validate(testContext())).toEqual([]);
      expect(aws.autoscaling.calls()).toHaveLength(0);
    });
  });
});
