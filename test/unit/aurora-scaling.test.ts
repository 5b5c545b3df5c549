import {
  DeleteScalingPolicyCommand,
  DeregisterScalableTargetCommand,
  PutScalingPolicyCommand,
  RegisterScalableTargetCommand,
  type TargetTrackingScalingPolicyConfiguration,
} from '@aws-sdk/client-application-auto-scaling';
import { DescribeDBClustersCommand, type DBCluster } from '@aws-sdk/client-rds';
import { beforeEach, describe, expect, it } from 'vitest';
import { auroraScalingStep } from '../../steps/aurora-scaling.js';
import { describeAwsError, PreflightError } from '../../src/core/errors.js';
import { autoscalingFixtures } from '../helpers/autoscaling.js';
import { awsError, mockAws, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

const RESOURCE_ID = 'cluster:fintech-db-cluster';
const DIMENSION = 'rds:cluster:ReadReplicaCount';
const POLICY = `scaling policy aurora-read-scaling on ${RESOURCE_ID}`;
const where = { ServiceNamespace: 'rds', ResourceId: RESOURCE_ID, ScalableDimension: DIMENSION } as const;
const policyConfig: TargetTrackingScalingPolicyConfiguration = { TargetValue: 60, PredefinedMetricSpecification: { PredefinedMetricType: 'RDSReaderAverageCPUUtilization' } };

const cluster = (overrides: Partial<DBCluster> = {}): DBCluster => ({
  DBClusterIdentifier: 'fintech-db-cluster',
  Engine: 'aurora-postgresql',
  Status: 'available',
  DBClusterMembers: [
    { DBInstanceIdentifier: 'fintech-db-1', IsClusterWriter: true, PromotionTier: 1 },
    { DBInstanceIdentifier: 'fintech-db-2', IsClusterWriter: false, PromotionTier: 1 },
  ],
  ...overrides,
});

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});

const { target, policy: namedPolicy, observed, observedThen, acceptWrites, beforeOf, inputs, registerInput, putInput } = autoscalingFixtures(() => aws, {
  where,
  serviceLinkedRole: 'RDSCluster',
});
const policy = (config: TargetTrackingScalingPolicyConfiguration) => namedPolicy('aurora-read-scaling', config);

async function preflightFailure() {
  const error = await auroraScalingStep.plan(testContext()).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PreflightError);
  // Checked before anything else: not a single Application Auto Scaling call, no write anywhere.
  expect(aws.autoscaling.calls()).toHaveLength(0);
  expect(writeCalls(aws)).toEqual([]);
  return error as PreflightError;
}

describe('aurora-scaling step (2.2)', () => {
  it('checks the cluster, then registers 1–5 reader replicas and the reader CPU 60 policy; apply sends exactly plan.actions', async () => {
    aws.rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster()] });
    observed([], []);
    acceptWrites();
    const ctx = testContext();
    const plan = await auroraScalingStep.plan(ctx);
    expect(aws.rds.commandCalls(DescribeDBClustersCommand)[0].args[0].input).toEqual({ DBClusterIdentifier: 'fintech-db-cluster' });
    expect(plan.changes.map((c) => [c.resource, c.action])).toEqual([
      [`scalable target ${RESOURCE_ID} (${DIMENSION})`, 'create'],
      [POLICY, 'create'],
    ]);
    expect(await auroraScalingStep.apply(ctx, plan)).toEqual({ resourceId: RESOURCE_ID });
    expect(writeCalls(aws)).toEqual(plan.actions.map((a) => `${a.service}:${a.operation}`));
    expect(inputs(RegisterScalableTargetCommand)).toEqual([registerInput(1, 5)]);
    expect(inputs(PutScalingPolicyCommand)).toEqual([putInput('aurora-read-scaling', policyConfig)]);
  });

  it('writes nothing when target and policy are in sync (the service-linked RoleARN AWS attaches is not compared)', async () => {
    aws.rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster()] });
    observed([target(1, 5)], [policy(policyConfig)]);
    const ctx = testContext();
    const plan = await auroraScalingStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    await auroraScalingStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual([]);
  });

  it('updates only a drifted max capacity', async () => {
    aws.rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster()] });
    observed([target(1, 3)], [policy(policyConfig)]);
    acceptWrites();
    const ctx = testContext();
    const plan = await auroraScalingStep.plan(ctx);
    expect(plan.changes).toEqual([
      { resource: `scalable target ${RESOURCE_ID} (${DIMENSION})`, action: 'update', fields: [{ field: 'MaxCapacity', from: 3, to: 5 }] },
    ]);
    await auroraScalingStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['autoscaling:RegisterScalableTarget']);
    expect(inputs(RegisterScalableTargetCommand)).toEqual([registerInput(1, 5)]);
  });

  it('the policy ignore list is a deny-list here too: a customized metric in place of the predefined one is drift, re-put', async () => {
    aws.rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster()] });
    const customized = { TargetValue: 60, CustomizedMetricSpecification: { MetricName: 'CPUUtilization', Namespace: 'AWS/RDS', Statistic: 'Average' as const } };
    observed([target(1, 5)], [policy(customized)]);
    acceptWrites();
    const ctx = testContext();
    const plan = await auroraScalingStep.plan(ctx);
    expect(plan.changes[0].fields?.map((f) => f.field)).toEqual([
      'TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification',
      'TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification',
    ]);
    await auroraScalingStep.apply(ctx, plan);
    expect(inputs(PutScalingPolicyCommand)).toEqual([putInput('aurora-read-scaling', policyConfig)]);
  });

  describe('precondition: the Aurora cluster', () => {
    it('a missing cluster is a PreflightError naming it, with zero writes', async () => {
      aws.rds.on(DescribeDBClustersCommand).rejects(awsError('DBClusterNotFoundFault', 'DBCluster fintech-db-cluster not found.'));
      const error = await preflightFailure();
      expect(error.problems).toEqual(['Aurora cluster fintech-db-cluster does not exist (inputs.auroraClusterId): create it before section 2.2']);
    });

    it('a cluster without a writer instance is refused', async () => {
      aws.rds.on(DescribeDBClustersCommand).resolves({
        DBClusters: [cluster({ DBClusterMembers: [{ DBInstanceIdentifier: 'fintech-db-2', IsClusterWriter: false }] })],
      });
      const error = await preflightFailure();
      expect(error.problems).toEqual([
        'Aurora cluster fintech-db-cluster has no writer instance: Aurora Auto Scaling adds readers only to a cluster with a primary',
      ]);
    });

    it('a cluster that is not available (and has no members yet) reports both problems at once', async () => {
      aws.rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ Status: 'creating', DBClusterMembers: [] })] });
      const error = await preflightFailure();
      expect(error.problems).toHaveLength(2);
      expect(error.message).toContain('Aurora cluster fintech-db-cluster is "creating", not "available"');
      expect(error.message).toContain('has no writer instance');
    });

    it('a non-Aurora DB cluster is refused', async () => {
      aws.rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ Engine: 'postgres' })] });
      const error = await preflightFailure();
      expect(error.problems).toEqual([
        'DB cluster fintech-db-cluster runs postgres: reader auto scaling (rds:cluster:ReadReplicaCount) needs an Aurora cluster',
      ]);
    });

    it('any other RDS error is surfaced as the AWS error, with its name and request id', async () => {
      aws.rds.on(DescribeDBClustersCommand).rejects(awsError('AccessDenied', 'not authorized to perform rds:DescribeDBClusters', 'req-rds-9'));
      const error = await auroraScalingStep.plan(testContext()).catch((e: unknown) => e);
      expect(error).not.toBeInstanceOf(PreflightError);
      expect(describeAwsError(error)).toBe('AccessDenied: not authorized to perform rds:DescribeDBClusters — request id req-rds-9');
    });

    it('is offered to the run preflight as a list of problems (empty when usable)', async () => {
      aws.rds
        .on(DescribeDBClustersCommand)
        .resolvesOnce({ DBClusters: [cluster()] })
        .rejects(awsError('DBClusterNotFoundFault', 'DBCluster fintech-db-cluster not found.'));
      const ctx = testContext();
      expect(await auroraScalingStep.preflight!(ctx)).toEqual([]);
      // A later run (its own client set and read cache) finds it gone.
      expect(await auroraScalingStep.preflight!(testContext())).toEqual([
        'Aurora cluster fintech-db-cluster does not exist (inputs.auroraClusterId): create it before section 2.2',
      ]);
    });

    it('validate reports the cluster OK or FAIL', async () => {
      aws.rds
        .on(DescribeDBClustersCommand)
        .resolvesOnce({ DBClusters: [cluster()] })
        .resolves({ DBClusters: [cluster({ Status: 'stopped' })] });
      const ctx = testContext();
      expect(await auroraScalingStep.validate(ctx)).toEqual([
        { check: 'Scaling Input', status: 'OK', resource: 'aurora cluster fintech-db-cluster', reason: 'aurora-postgresql cluster available, writer fintech-db-1' },
      ]);
      // A later run (its own client set and read cache) finds it stopped.
      const failed = await auroraScalingStep.validate(testContext());
      expect(failed.map((f) => f.status)).toEqual(['FAIL']);
      expect(failed[0].reason).toContain('is "stopped", not "available"');
    });
  });

  it('rollback removes the policy then the target this run registered (never asks for the cluster); a second rollback writes nothing', async () => {
    observedThen([[target(1, 5)], [policy(policyConfig)]], [[], []]);
    acceptWrites();
    const ctx = testContext();
    const created = new Set(['scalable-target', 'policy:aurora-read-scaling']);
    await auroraScalingStep.rollback(ctx, {}, created);
    expect(writeCalls(aws)).toEqual(['autoscaling:DeleteScalingPolicy', 'autoscaling:DeregisterScalableTarget']);
    expect(inputs(DeleteScalingPolicyCommand)).toEqual([{ PolicyName: 'aurora-read-scaling', ...where }]);
    expect(inputs(DeregisterScalableTargetCommand)).toEqual([where]);
    await auroraScalingStep.rollback(ctx, {}, created);
    expect(writeCalls(aws)).toHaveLength(2);
    expect(aws.rds.calls()).toHaveLength(0);
  });

  it('rollback of a pre-existing target converges back to its range; twice is a no-op', async () => {
    const before = await beforeOf(auroraScalingStep, [target(1, 3)], [policy(policyConfig)]);
    observedThen([[target(1, 5)], [policy(policyConfig)]], [[target(1, 3)], [policy(policyConfig)]]);
    acceptWrites();
    const ctx = testContext();
    await auroraScalingStep.rollback(ctx, before, new Set(['scalable-target']));
    expect(writeCalls(aws)).toEqual(['autoscaling:RegisterScalableTarget']);
    expect(inputs(RegisterScalableTargetCommand)).toEqual([registerInput(1, 3)]);
    await auroraScalingStep.rollback(ctx, before, new Set(['scalable-target']));
    expect(writeCalls(aws)).toHaveLength(1);
  });

  it('surfaces a PutScalingPolicy error with its name and request id', async () => {
    aws.rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster()] });
    observed([target(1, 5)], []);
    aws.autoscaling.on(PutScalingPolicyCommand).rejects(awsError('LimitExceededException', 'too many scaling policies', 'req-aas-3'));
    const ctx = testContext();
    const error = await auroraScalingStep.apply(ctx, await auroraScalingStep.plan(ctx)).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('LimitExceededException: too many scaling policies — request id req-aas-3');
  });

  describe('Scaling Ready (4.1)', () => {
    it('passes with the target at 1–5 and the policy in place', async () => {
      observed([target(1, 5)], [policy(policyConfig)]);
      const findings = await auroraScalingStep.postDeployChecks!(testContext());
      expect(findings.map((f) => [f.status, f.reason])).toEqual([
        ['OK', 'registered, min 1 max 5'],
        ['OK', 'target tracking RDSReaderAverageCPUUtilization target 60 in place'],
      ]);
    });

    it('fails on a target at the wrong range and on a missing policy', async () => {
      observed([target(0, 5)], []);
      const findings = await auroraScalingStep.postDeployChecks!(testContext());
      expect(findings.map((f) => [f.status, f.reason])).toEqual([
        ['FAIL', 'registered with min 0 max 5, want min 1 max 5'],
        ['FAIL', 'scaling policy aurora-read-scaling (RDSReaderAverageCPUUtilization target 60) is missing'],
      ]);
    });
  });
});
