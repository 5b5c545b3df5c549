// ecs-scaling (2.1) is the full test of steps/shared/target-tracking.ts: the aurora- and
// dynamodb-scaling tests cover what differs (their inputs, scope and range).
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
import { SCALABLE_TARGET_IGNORE, SCALING_POLICY_IGNORE } from '../../steps/shared/target-tracking.js';
import { AmbiguousWriteError } from '../../src/core/actions.js';
import { describeAwsError, UnsafeChangeError } from '../../src/core/errors.js';
import { autoscalingFixtures, NOT_SUSPENDED } from '../helpers/autoscaling.js';
import { awsError, mockAws, RecordingRecorder, testContext, writeCalls, type AwsMocks, createdDocument } from '../helpers/mock-aws.js';

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

const { target, policy, observed, observedThen, acceptWrites, beforeOf, inputs, registerInput, putInput } = autoscalingFixtures(() => aws, {
  where,
  serviceLinkedRole: 'ECSService',
});

const cpuPolicy = policy('fintech-cpu-scaling', cpuConfig);
const memPolicy = policy('fintech-mem-scaling', memConfig);
const stepPolicy = policy('someone-elses-step-policy', undefined, {
  PolicyType: 'StepScaling',
  StepScalingPolicyConfiguration: { AdjustmentType: 'ChangeInCapacity', StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 5 }] },
});
const NOT_OURS = 'not created by this run (no reply or token proves it), left as it is';
const ALL = new Set(['scalable-target', 'policy:fintech-cpu-scaling', 'policy:fintech-mem-scaling']);
const planned = (actions: Array<{ service: string; operation: string }>) => actions.map((a) => `${a.service}:${a.operation}`);

describe('ecs-scaling step (2.1)', () => {
  it('registers the target, then puts the CPU and memory policies when nothing exists; apply sends exactly plan.actions', async () => {
    observed([], []);
    acceptWrites();
    const recorder = new RecordingRecorder();
    const ctx = testContext({ recorder });
    const plan = await ecsScalingStep.plan(ctx);
    expect(plan.outputs).toEqual({ resourceId: RESOURCE_ID });
    expect(plan.changes.map((c) => [c.resource, c.action])).toEqual([
      [TARGET, 'create'],
      [on('fintech-cpu-scaling'), 'create'],
      [on('fintech-mem-scaling'), 'create'],
    ]);
    expect(createdDocument(plan.changes[0])).toEqual({ ...registerInput(3, 10) });
    expect(plan.actions.map((a) => [a.operation, a.kind, a.resourceId])).toEqual([
      ['RegisterScalableTarget', 'create', 'scalable-target'],
      ['PutScalingPolicy', 'create', 'policy:fintech-cpu-scaling'],
      ['PutScalingPolicy', 'create', 'policy:fintech-mem-scaling'],
    ]);

    expect(await ecsScalingStep.apply(ctx, plan)).toEqual({ resourceId: RESOURCE_ID });

    expect(writeCalls(aws)).toEqual(planned(plan.actions));
    expect(inputs(RegisterScalableTargetCommand)).toEqual([registerInput(3, 10)]);
    expect(inputs(PutScalingPolicyCommand)).toEqual([putInput('fintech-cpu-scaling', cpuConfig), putInput('fintech-mem-scaling', memConfig)]);
    expect([...inputs(RegisterScalableTargetCommand), ...inputs(PutScalingPolicyCommand)]).toEqual(plan.actions.map((a) => a.input));
    // Reads ask for exactly this target, and for every policy on it (not only the configured names).
    expect(inputs(DescribeScalableTargetsCommand)).toEqual([{ ServiceNamespace: 'ecs', ResourceIds: [RESOURCE_ID], ScalableDimension: DIMENSION }]);
    expect(inputs(DescribeScalingPoliciesCommand)).toEqual([where]);
    // Every write went through the journal as a creation: compensation may delete exactly these.
    expect(recorder.writes.map((w) => [w.resourceId, w.action, w.operation])).toEqual([
      ['scalable-target', 'create', 'RegisterScalableTarget'],
      ['policy:fintech-cpu-scaling', 'create', 'PutScalingPolicy'],
      ['policy:fintech-mem-scaling', 'create', 'PutScalingPolicy'],
    ]);
  });

  it('plans nothing and writes nothing when target and both policies match (no second policy, no new alarms)', async () => {
    observed([target(3, 10)], [cpuPolicy, memPolicy]);
    const ctx = testContext();
    const plan = await ecsScalingStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    expect(plan.actions).toEqual([]);
    expect(await ecsScalingStep.apply(ctx, plan)).toEqual({ resourceId: RESOURCE_ID });
    expect(writeCalls(aws)).toEqual([]);
  });

  it('normalises AWS defaults on both sides: DisableScaleIn, SuspendedState flags, cooldowns the config leaves out', async () => {
    observed(
      // moto returns only the suspended flags last sent and no RoleARN; AWS returns all three.
      [target(3, 10, { SuspendedState: { DynamicScalingInSuspended: false }, RoleARN: undefined })],
      [
        policy('fintech-cpu-scaling', { ...cpuConfig, DisableScaleIn: false }),
        // The config sets no cooldown for memory: whatever default AWS applied is not compared.
        policy('fintech-mem-scaling', { ...memConfig, ScaleOutCooldown: 300, ScaleInCooldown: 300 }),
      ],
    );
    expect((await ecsScalingStep.plan(testContext())).changes).toEqual([]);
  });

  it('reports drift field by field and sends exactly the converging commands', async () => {
    observed(
      [target(2, 10, { SuspendedState: { ...NOT_SUSPENDED, DynamicScalingInSuspended: true } })],
      [policy('fintech-cpu-scaling', { ...cpuConfig, TargetValue: 50, ScaleInCooldown: 600, DisableScaleIn: true }), memPolicy],
    );
    acceptWrites();
    const ctx = testContext();
    const plan = await ecsScalingStep.plan(ctx);
    expect(plan.changes).toEqual([
      {
        resource: TARGET,
        action: 'update',
        fields: [
          { field: 'MinCapacity', from: 2, to: 3 },
          { field: 'SuspendedState.DynamicScalingInSuspended', from: true, to: false },
        ],
      },
      {
        resource: on('fintech-cpu-scaling'),
        action: 'update',
        fields: [
          { field: 'TargetTrackingScalingPolicyConfiguration.DisableScaleIn', from: true, to: false },
          { field: 'TargetTrackingScalingPolicyConfiguration.ScaleInCooldown', from: 600, to: 300 },
          { field: 'TargetTrackingScalingPolicyConfiguration.TargetValue', from: 50, to: 70 },
        ],
      },
    ]);
    expect(plan.actions.map((a) => [a.operation, a.kind])).toEqual([
      ['RegisterScalableTarget', 'update'],
      ['PutScalingPolicy', 'update'],
    ]);
    await ecsScalingStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['autoscaling:RegisterScalableTarget', 'autoscaling:PutScalingPolicy']);
    expect(inputs(RegisterScalableTargetCommand)).toEqual([registerInput(3, 10)]);
    expect(inputs(PutScalingPolicyCommand)).toEqual([putInput('fintech-cpu-scaling', cpuConfig)]);
  });

  it('puts only a missing memory policy when the target and CPU policy are in place', async () => {
    observed([target(3, 10)], [cpuPolicy]);
    acceptWrites();
    const ctx = testContext();
    const plan = await ecsScalingStep.plan(ctx);
    expect(plan.changes.map((c) => [c.resource, c.action])).toEqual([[on('fintech-mem-scaling'), 'create']]);
    await ecsScalingStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['autoscaling:PutScalingPolicy']);
    expect(inputs(PutScalingPolicyCommand)).toEqual([putInput('fintech-mem-scaling', memConfig)]);
  });

  it('a policy on the target that the config does not name is drift: plan shows it, apply deletes it', async () => {
    observed(
      [target(3, 10)],
      [
        cpuPolicy,
        memPolicy,
        stepPolicy,
        // moto matches ResourceId as a substring and ignores PolicyNames: other targets' policies are not ours.
        policy('fintech-cpu-scaling', { ...cpuConfig, TargetValue: 10 }, { ResourceId: 'service/fintech-prod-cluster/fintech-api' }),
        policy('other-dimension', memConfig, { ScalableDimension: 'ecs:service:Other' as never }),
      ],
    );
    acceptWrites();
    const ctx = testContext();
    const plan = await ecsScalingStep.plan(ctx);
    expect(plan.changes).toEqual([
      { resource: TARGET, action: 'update', fields: [{ field: 'UnconfiguredPolicies', from: { 'someone-elses-step-policy': expect.objectContaining({ PolicyType: 'StepScaling' }) }, to: undefined }] },
    ]);
    await ecsScalingStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['autoscaling:DeleteScalingPolicy']);
    expect(inputs(DeleteScalingPolicyCommand)).toEqual([{ PolicyName: 'someone-elses-step-policy', ...where }]);
  });

  it('a configured name holding a step scaling policy is deleted and put again as target tracking', async () => {
    observed([target(3, 10)], [cpuPolicy, policy('fintech-mem-scaling', undefined, { PolicyType: 'StepScaling', StepScalingPolicyConfiguration: { AdjustmentType: 'ChangeInCapacity' } })]);
    acceptWrites();
    const ctx = testContext();
    const plan = await ecsScalingStep.plan(ctx);
    expect(plan.changes[0].fields?.map((f) => f.field)).toEqual(['PolicyType', 'StepScalingPolicyConfiguration', 'TargetTrackingScalingPolicyConfiguration']);
    await ecsScalingStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['autoscaling:DeleteScalingPolicy', 'autoscaling:PutScalingPolicy']);
    expect(inputs(PutScalingPolicyCommand)).toEqual([putInput('fintech-mem-scaling', memConfig)]);
  });

  describe('the ignore lists are deny-lists', () => {
    it('scalable target: a field nobody thought of is drift (refused at the top, converged inside SuspendedState); AWS-set fields are not', async () => {
      expect(SCALABLE_TARGET_IGNORE).toEqual(expect.arrayContaining(['ScalableTargetARN', 'CreationTime', 'PredictedCapacity', 'RoleARN']));
      observed([target(3, 10, { SomeNewField: 'x' } as never)], [cpuPolicy, memPolicy]);
      const error = await ecsScalingStep.plan(testContext()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnsafeChangeError);
      expect(String(error)).toMatch(/scalable target .*: SomeNewField differ\(s\) and cannot be changed in place; a person must decide/);

      aws = mockAws();
      observed([target(3, 10, { SuspendedState: { ...NOT_SUSPENDED, PredictiveScalingSuspended: true } as never })], [cpuPolicy, memPolicy]);
      const plan = await ecsScalingStep.plan(testContext());
      expect(plan.changes[0].fields).toEqual([{ field: 'SuspendedState.PredictiveScalingSuspended', from: true, to: undefined }]);
      expect(planned(plan.actions)).toEqual(['autoscaling:RegisterScalableTarget']);

      // PredictedCapacity is unit-tested: moto has no predictive scaling; nor does it return RoleARN.
      aws = mockAws();
      observed([target(3, 10, { PredictedCapacity: 7, RoleARN: 'arn:aws:iam::123456789012:role/other', ScalableTargetARN: 'arn:x', CreationTime: new Date() })], [cpuPolicy, memPolicy]);
      expect((await ecsScalingStep.plan(testContext())).changes).toEqual([]);
    });

    it('scaling policy: a field nobody thought of is drift (refused at the top, re-put inside the configuration); AWS-set fields are not', async () => {
      expect(SCALING_POLICY_IGNORE).toEqual(['PolicyARN', 'Alarms', 'CreationTime']);
      observed([target(3, 10)], [cpuPolicy, policy('fintech-mem-scaling', memConfig, { SomeNewField: 1 } as never)]);
      await expect(ecsScalingStep.plan(testContext())).rejects.toThrow(/scaling policy fintech-mem-scaling on .*: SomeNewField differ\(s\)/);

      aws = mockAws();
      observed(
        [target(3, 10)],
        [cpuPolicy, policy('fintech-mem-scaling', { ...memConfig, PredefinedMetricSpecification: { ...memConfig.PredefinedMetricSpecification!, ResourceLabel: 'app/x' }, NewKnob: 2 } as never)],
      );
      const plan = await ecsScalingStep.plan(testContext());
      expect(plan.changes[0].fields?.map((f) => f.field)).toEqual([
        'TargetTrackingScalingPolicyConfiguration.NewKnob',
        'TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.ResourceLabel',
      ]);
      expect(planned(plan.actions)).toEqual(['autoscaling:PutScalingPolicy']);

      aws = mockAws();
      observed([target(3, 10)], [cpuPolicy, policy('fintech-mem-scaling', memConfig, { PolicyARN: 'arn:other', Alarms: [], CreationTime: new Date() })]);
      expect((await ecsScalingStep.plan(testContext())).changes).toEqual([]);
    });

    it('a cooldown the config sets is compared, one it leaves out is not', async () => {
      observed([target(3, 10)], [policy('fintech-cpu-scaling', { ...cpuConfig, ScaleOutCooldown: undefined }), policy('fintech-mem-scaling', { ...memConfig, ScaleOutCooldown: 1 })]);
      const plan = await ecsScalingStep.plan(testContext());
      expect(plan.changes).toEqual([
        { resource: on('fintech-cpu-scaling'), action: 'update', fields: [{ field: 'TargetTrackingScalingPolicyConfiguration.ScaleOutCooldown', from: undefined, to: 60 }] },
      ]);
    });
  });

  it('follows pagination of both reads', async () => {
    aws.autoscaling.on(DescribeScalableTargetsCommand).resolvesOnce({ ScalableTargets: [], NextToken: 't2' }).resolves({ ScalableTargets: [target(3, 10)] });
    aws.autoscaling.on(DescribeScalingPoliciesCommand).resolvesOnce({ ScalingPolicies: [cpuPolicy], NextToken: 'page-2' }).resolves({ ScalingPolicies: [memPolicy] });
    expect((await ecsScalingStep.plan(testContext())).changes).toEqual([]);
    // The SDK's paginators (they reuse one input object, so only the count is asserted).
    expect(inputs(DescribeScalingPoliciesCommand)).toHaveLength(2);
    expect(inputs(DescribeScalableTargetsCommand)).toHaveLength(2);
  });

  it('adopts a policy whose PutScalingPolicy reply was lost once it reads back as planned (unit-tested: the lost reply is simulated)', async () => {
    observedThen([[target(3, 10)], [cpuPolicy]], [[target(3, 10)], [cpuPolicy, memPolicy]]);
    aws.autoscaling.on(PutScalingPolicyCommand).callsFakeOnce(async () => {
      throw new AmbiguousWriteError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    });
    const ctx = testContext();
    await ecsScalingStep.apply(ctx, await ecsScalingStep.plan(ctx));
    // Not put a second time: a second put would recreate the policy's alarms.
    expect(writeCalls(aws)).toEqual(['autoscaling:PutScalingPolicy']);
  });

  describe('rollback', () => {
    it('of what this run created: the policies, then the target; a second rollback writes nothing', async () => {
      observedThen([[target(3, 10)], [cpuPolicy, memPolicy]], [[], []]);
      acceptWrites();
      const ctx = testContext();
      const before = { 'scalable-target': undefined, 'policy:fintech-cpu-scaling': undefined, 'policy:fintech-mem-scaling': undefined };
      // AWS deletes a target's policies with it, moto leaves them: policies are deleted first.
      expect(await ecsScalingStep.rollback(ctx, before, ALL)).toEqual([]);
      expect(writeCalls(aws)).toEqual(['autoscaling:DeleteScalingPolicy', 'autoscaling:DeleteScalingPolicy', 'autoscaling:DeregisterScalableTarget']);
      expect(inputs(DeleteScalingPolicyCommand)).toEqual([
        { PolicyName: 'fintech-mem-scaling', ...where },
        { PolicyName: 'fintech-cpu-scaling', ...where },
      ]);
      expect(inputs(DeregisterScalableTargetCommand)).toEqual([where]);
      expect(await ecsScalingStep.rollback(ctx, before, ALL)).toEqual([]);
      expect(writeCalls(aws)).toHaveLength(3);
    });

    it('deletes only what the journal proves this run created; the rest is kept with a note', async () => {
      observed([target(3, 10)], [cpuPolicy, memPolicy]);
      acceptWrites();
      const none = await ecsScalingStep.rollback(testContext(), {}, new Set());
      expect(writeCalls(aws)).toEqual([]);
      expect(none).toEqual([`${on('fintech-mem-scaling')}: ${NOT_OURS}`, `${on('fintech-cpu-scaling')}: ${NOT_OURS}`, `${TARGET}: ${NOT_OURS}`]);
      const notes = await ecsScalingStep.rollback(testContext(), {}, new Set(['policy:fintech-mem-scaling']));
      expect(writeCalls(aws)).toEqual(['autoscaling:DeleteScalingPolicy']);
      expect(inputs(DeleteScalingPolicyCommand)).toEqual([{ PolicyName: 'fintech-mem-scaling', ...where }]);
      expect(notes).toEqual([`${on('fintech-cpu-scaling')}: ${NOT_OURS}`, `${TARGET}: ${NOT_OURS}`]);
    });

    it('of a pre-existing target: restores range, old policy and a deleted unconfigured policy; deletes the created one; never deregisters; twice is a no-op', async () => {
      const oldCpu: TargetTrackingScalingPolicyConfiguration = { TargetValue: 50, PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' }, ScaleOutCooldown: 120 };
      const before = await beforeOf(ecsScalingStep, [target(2, 8)], [policy('fintech-cpu-scaling', oldCpu), stepPolicy]);
      // After apply: range 3–10, the CPU policy changed, the memory policy created, the step policy deleted.
      observedThen([[target(3, 10)], [cpuPolicy, memPolicy]], [[target(2, 8)], [policy('fintech-cpu-scaling', oldCpu), stepPolicy]]);
      acceptWrites();
      const ctx = testContext();
      await ecsScalingStep.rollback(ctx, before, new Set(['policy:fintech-mem-scaling']));
      expect(writeCalls(aws)).toEqual([
        'autoscaling:DeleteScalingPolicy',
        'autoscaling:PutScalingPolicy',
        'autoscaling:RegisterScalableTarget',
        'autoscaling:PutScalingPolicy',
      ]);
      expect(inputs(DeleteScalingPolicyCommand)).toEqual([{ PolicyName: 'fintech-mem-scaling', ...where }]);
      expect(inputs(PutScalingPolicyCommand)).toEqual([
        putInput('fintech-cpu-scaling', oldCpu),
        { PolicyName: 'someone-elses-step-policy', ...where, PolicyType: 'StepScaling', StepScalingPolicyConfiguration: stepPolicy.StepScalingPolicyConfiguration },
      ]);
      expect(inputs(RegisterScalableTargetCommand)).toEqual([registerInput(2, 8)]);
      await ecsScalingStep.rollback(ctx, before, new Set(['policy:fintech-mem-scaling']));
      expect(writeCalls(aws)).toHaveLength(4);
      expect(aws.autoscaling.commandCalls(DeregisterScalableTargetCommand)).toHaveLength(0);
    });

    it('leaves a pre-existing target alone when someone else removed it, with a note', async () => {
      const before = await beforeOf(ecsScalingStep, [target(3, 10)], [cpuPolicy, memPolicy]);
      observed([], []);
      const notes = await ecsScalingStep.rollback(testContext(), before, ALL);
      expect(writeCalls(aws)).toEqual([]);
      expect(notes).toContain(`${TARGET} no longer exists; nothing to restore`);
    });

    it('a policy already gone when its delete is retried counts as deleted (ObjectNotFoundException; unit-tested: moto answers ValidationException)', async () => {
      observed([target(3, 10)], [cpuPolicy, memPolicy]);
      aws.autoscaling.on(DeleteScalingPolicyCommand).rejects(awsError('ObjectNotFoundException', 'No scaling policy found'));
      aws.autoscaling.on(DeregisterScalableTargetCommand).resolves({});
      await ecsScalingStep.rollback(testContext(), {}, ALL);
      expect(writeCalls(aws)).toEqual(['autoscaling:DeleteScalingPolicy', 'autoscaling:DeleteScalingPolicy', 'autoscaling:DeregisterScalableTarget']);
    });
  });

  it('surfaces an AWS error on a read with its name and request id', async () => {
    aws.autoscaling
      .on(DescribeScalableTargetsCommand)
      .rejects(awsError('AccessDeniedException', 'not authorized to perform application-autoscaling:DescribeScalableTargets', 'req-71'));
    aws.autoscaling.on(DescribeScalingPoliciesCommand).resolves({ ScalingPolicies: [] });
    const error = await ecsScalingStep.plan(testContext()).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('AccessDeniedException: not authorized to perform application-autoscaling:DescribeScalableTargets — request id req-71');
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

    it('fails on suspended scaling and on a policy the config does not name, naming them', async () => {
      observed([target(3, 10, { SuspendedState: { ...NOT_SUSPENDED, DynamicScalingOutSuspended: true } })], [cpuPolicy, memPolicy, stepPolicy]);
      const [targetFinding] = await ecsScalingStep.postDeployChecks!(testContext());
      expect(targetFinding.status).toBe('FAIL');
      expect(targetFinding.reason).toBe(
        'scaling policies not in the config: someone-elses-step-policy (apply deletes them); differs from the config: SuspendedState.DynamicScalingOutSuspended (run plan)',
      );
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
        ['WARN', 'scaling policy fintech-cpu-scaling exists but differs from the config: TargetTrackingScalingPolicyConfiguration.TargetValue 90 (want 70)'],
        ['FAIL', 'scaling policy fintech-mem-scaling is StepScaling, not TargetTrackingScaling'],
      ]);
    });

    it('is not repeated by validate, which the validate command runs before the 4.1 checks', async () => {
      expect(await ecsScalingStep.validate(testContext())).toEqual([]);
      expect(aws.autoscaling.calls()).toHaveLength(0);
    });
  });

  it('runs after the service it scales', () => {
    expect(ecsScalingStep.needs).toEqual(['service']);
  });
});
