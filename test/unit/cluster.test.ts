import {
  CreateClusterCommand,
  DeleteClusterCommand,
  DescribeClustersCommand,
  PutClusterCapacityProvidersCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateClusterSettingsCommand,
} from '@aws-sdk/client-ecs';
import { beforeEach, describe, expect, it } from 'vitest';
import { clusterStep } from '../../steps/cluster.js';
import { describeAwsError } from '../../src/core/errors.js';
import { awsError, mockAws, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

const clusterArn = 'arn:aws:ecs:us-east-1:123456789012:cluster/fintech-prod-cluster';
const inSync = {
  clusterArn,
  clusterName: 'fintech-prod-cluster',
  status: 'ACTIVE',
  capacityProviders: ['FARGATE', 'FARGATE_SPOT'],
  defaultCapacityProviderStrategy: [
    { capacityProvider: 'FARGATE_SPOT', weight: 2, base: 0 },
    { capacityProvider: 'FARGATE', weight: 1, base: 0 },
  ],
  settings: [{ name: 'containerInsights' as const, value: 'enabled' }],
  tags: [
    { key: 'Environment', value: 'Production' },
    { key: 'Project', value: 'FinTechGlobal' },
    { key: 'CostCenter', value: 'CC-Corp' },
  ],
};

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});

describe('cluster step (1.1)', () => {
  it('creates the cluster with capacity providers, strategy, insights and tags when missing', async () => {
    aws.ecs.on(DescribeClustersCommand).resolves({ clusters: [], failures: [{ reason: 'MISSING' }] });
    aws.ecs.on(CreateClusterCommand).resolves({ cluster: { clusterArn } });
    const ctx = testContext();
    const plan = await clusterStep.plan(ctx);
    expect(plan.changes).toEqual([expect.objectContaining({ action: 'create', resource: 'ecs cluster fintech-prod-cluster' })]);
    const out = await clusterStep.apply(ctx, plan);
    expect(out.clusterArn).toBe(clusterArn);
    expect(aws.ecs.commandCalls(CreateClusterCommand)[0].args[0].input).toEqual({
      clusterName: 'fintech-prod-cluster',
      capacityProviders: ['FARGATE', 'FARGATE_SPOT'],
      defaultCapacityProviderStrategy: [
        { capacityProvider: 'FARGATE_SPOT', weight: 2 },
        { capacityProvider: 'FARGATE', weight: 1 },
      ],
      settings: [{ name: 'containerInsights', value: 'enabled' }],
      tags: inSync.tags,
    });
  });

  it('plans nothing and writes nothing when the cluster matches the config', async () => {
    aws.ecs.on(DescribeClustersCommand).resolves({ clusters: [inSync] });
    const ctx = testContext();
    const plan = await clusterStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    await clusterStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual([]);
  });

  it('treats an INACTIVE cluster of the same name as missing', async () => {
    aws.ecs.on(DescribeClustersCommand).resolves({ clusters: [{ ...inSync, status: 'INACTIVE' }] });
    const plan = await clusterStep.plan(testContext());
    expect(plan.changes[0].action).toBe('create');
  });

  it('reports drift field by field and converges only what drifted', async () => {
    aws.ecs.on(DescribeClustersCommand).resolves({
      clusters: [{ ...inSync, settings: [{ name: 'containerInsights', value: 'disabled' }], tags: inSync.tags.slice(0, 2) }],
    });
    aws.ecs.on(UpdateClusterSettingsCommand).resolves({});
    aws.ecs.on(TagResourceCommand).resolves({});
    const ctx = testContext();
    const plan = await clusterStep.plan(ctx);
    expect(plan.changes[0].fields).toEqual([
      { field: 'containerInsights', from: 'disabled', to: 'enabled' },
      { field: 'tags.CostCenter', from: undefined, to: 'CC-Corp' },
    ]);
    await clusterStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecs:UpdateClusterSettings', 'ecs:TagResource']);
    expect(aws.ecs.commandCalls(TagResourceCommand)[0].args[0].input.tags).toEqual([{ key: 'CostCenter', value: 'CC-Corp' }]);
  });

  it('rollback deletes a cluster this run created, and a second rollback does nothing', async () => {
    aws.ecs.on(DescribeClustersCommand).resolvesOnce({ clusters: [inSync] }).resolves({ clusters: [{ ...inSync, status: 'INACTIVE' }] });
    aws.ecs.on(DeleteClusterCommand).resolves({});
    const ctx = testContext();
    await clusterStep.rollback(ctx, { exists: false });
    await clusterStep.rollback(ctx, { exists: false });
    expect(aws.ecs.commandCalls(DeleteClusterCommand)).toHaveLength(1);
  });

  it('rollback of a pre-existing cluster restores settings and tags, never deletes', async () => {
    const before = {
      exists: true,
      clusterArn,
      capacityProviders: ['FARGATE', 'FARGATE_SPOT'],
      defaultStrategy: [
        { capacityProvider: 'FARGATE_SPOT', weight: 2, base: 0 },
        { capacityProvider: 'FARGATE', weight: 1, base: 0 },
      ],
      containerInsights: 'disabled',
      tags: { Environment: 'Staging' },
    };
    aws.ecs
      .on(DescribeClustersCommand)
      .resolvesOnce({ clusters: [inSync] })
      .resolves({ clusters: [{ ...inSync, settings: [{ name: 'containerInsights', value: 'disabled' }], tags: [{ key: 'Environment', value: 'Staging' }] }] });
    aws.ecs.on(UpdateClusterSettingsCommand).resolves({});
    aws.ecs.on(UntagResourceCommand).resolves({});
    aws.ecs.on(TagResourceCommand).resolves({});
    aws.ecs.on(PutClusterCapacityProvidersCommand).resolves({});
    const ctx = testContext();
    await clusterStep.rollback(ctx, before);
    expect(writeCalls(aws)).toEqual(['ecs:UpdateClusterSettings', 'ecs:UntagResource', 'ecs:TagResource']);
    expect(aws.ecs.commandCalls(UntagResourceCommand)[0].args[0].input.tagKeys).toEqual(['Project', 'CostCenter']);
    await clusterStep.rollback(ctx, before);
    expect(writeCalls(aws)).toHaveLength(3);
    expect(aws.ecs.commandCalls(DeleteClusterCommand)).toHaveLength(0);
  });

  it('surfaces an AWS error with its name and request id', async () => {
    aws.ecs.on(DescribeClustersCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform ecs:DescribeClusters', 'req-42'));
    const error = await clusterStep.plan(testContext()).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('AccessDeniedException: not authorized to perform ecs:DescribeClusters — request id req-42');
  });

  it('validate fails when Container Insights is off', async () => {
    aws.ecs.on(DescribeClustersCommand).resolves({ clusters: [{ ...inSync, settings: [{ name: 'containerInsights', value: 'disabled' }] }] });
    const findings = await clusterStep.validate(testContext());
    expect(findings.map((f) => f.status)).toEqual(['FAIL', 'OK']);
    expect(findings[0].reason).toContain('Container Insights is disabled');
  });
});
