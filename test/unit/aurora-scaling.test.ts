import {
  DeleteScalingPolicyCommand,
  DeregisterScalableTargetCommand,
  DescribeScalableTargetsCommand,
  DescribeScalingPoliciesCommand,
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

const { target, policy: namedPolicy, observed, inputs } = autoscalingFixtures(() => aws, { where, serviceLinkedRole: 'RDSCluster' });
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
  it('checks the cluster, then registers 1–5 reader replicas and the reader CPU 60 policy', async () => {
    aws.rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster()] });
    observed([], []);
    aws.autoscaling.on(RegisterScalableTargetCommand).resolves({});
    aws.autoscaling.on(PutScalingPolicyCommand).resolves({ PolicyARN: 'arn:policy' });
    const ctx = testContext();
    const plan = await auroraScalingStep.plan(ctx);
    expect(aws.rds.commandCalls(DescribeDBClustersCommand)[0].args[0].input).toEqual({ DBClusterIdentifier: 'fintech-db-cluster' });
    expect(plan.changes.map((c) => [c.resource, c.action])).toEqual([
      [`scalable target ${RESOURCE_ID} (${DIMENSION})`, 'create'],
      [`scaling policy aurora-read-scaling on ${RESOURCE_ID}`, 'create'],
    ]);
    expect(await auroraScalingStep.apply(ctx, plan)).toEqual({ resourceId: RESOURCE_ID });
    expect(inputs(RegisterScalableTargetCommand)).toEqual([{ ...where, MinCapacity: 1, MaxCapacity: 5 }]);
    expect(inputs(PutScalingPolicyCommand)).toEqual([
      { ...where, PolicyName: 'aurora-read-scaling', PolicyType: 'TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration: policyConfig },
    ]);
  });

  it('writes nothing when target and policy are in sync', async () => {
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
    aws.autoscaling.on(RegisterScalableTargetCommand).resolves({});
    const ctx = testContext();
    const plan = await auroraScalingStep.plan(ctx);
    expect(plan.changes).toEqual([
      { resource: `scalable target ${RESOURCE_ID} (${DIMENSION})`, action: 'update', fields: [{ field: 'maxCapacity', from: 3, to: 5 }] },
    ]);
    await auroraScalingStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['autoscaling:RegisterScalableTarget']);
    expect(inputs(RegisterScalableTargetCommand)).toEqual([{ ...where, MinCapacity: 1, MaxCapacity: 5 }]);
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
      expect(await auroraScalingStep.preflight!(ctx)).toEqual([
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
      const failed = await auroraScalingStep.validate(ctx);
      expect(failed.map((f) => f.status)).toEqual(['FAIL']);
      expect(failed[0].reason).toContain('is "stopped", not "available"');
    });
  });

  it('rollback removes the policy then the target this run registered; a second rollback writes nothing', async () => {
    aws.autoscaling.on(DescribeScalableTargetsCommand).resolvesOnce({ ScalableTargets: [target(1, 5)] }).resolves({ ScalableTargets: [] });
    aws.autoscaling.on(DescribeScalingPoliciesCommand).resolvesOnce({ ScalingPolicies: [policy(policyConfig)] }).resolves({ ScalingPolicies: [] });
    aws.autoscaling.on(DeleteScalingPolicyCommand).resolves({});
    aws.autoscaling.on(DeregisterScalableTargetCommand).resolves({});
    const ctx = testContext();
    await auroraScalingStep.rollback(ctx, { registered: false, policies: {} });
    expect(writeCalls(aws)).toEqual(['autoscaling:DeleteScalingPolicy', 'autoscaling:DeregisterScalableTarget']);
    expect(inputs(DeleteScalingPolicyCommand)).toEqual([{ ...where, PolicyName: 'aurora-read-scaling' }]);
    expect(inputs(DeregisterScalableTargetCommand)).toEqual([where]);
    await auroraScalingStep.rollback(ctx, { registered: false, policies: {} });
    expect(writeCalls(aws)).toHaveLength(2);
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
