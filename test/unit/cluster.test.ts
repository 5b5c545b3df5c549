import {
  CreateClusterCommand,
  DeleteClusterCommand,
  DescribeClustersCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateClusterCommand,
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
        { capacityProvider: 'FARGATE_SPOT', weight: 2, base: 0 },
        { capacityProvider: 'FARGATE', weight: 1, base: 0 },
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

  it('reports drift field by field and converges only what drifted (UpdateCluster, not UpdateClusterSettings)', async () => {
    aws.ecs.on(DescribeClustersCommand).resolves({
      clusters: [{ ...inSync, settings: [{ name: 'containerInsights', value: 'disabled' }], tags: inSync.tags.slice(0, 2) }],
    });
    aws.ecs.on(UpdateClusterCommand).resolves({});
    aws.ecs.on(TagResourceCommand).resolves({});
    const ctx = testContext();
    const plan = await clusterStep.plan(ctx);
    expect(plan.changes[0].fields).toEqual([
      { field: 'settings.0.value', from: 'disabled', to: 'enabled' },
      { field: 'tags.CostCenter', from: undefined, to: 'CC-Corp' },
    ]);
    // The plan is executable: exactly these commands, and apply sends exactly them.
    expect(plan.actions.map((a) => `${a.service}:${a.operation}`)).toEqual(['ecs:UpdateCluster', 'ecs:TagResource']);
    await clusterStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecs:UpdateCluster', 'ecs:TagResource']);
    expect(aws.ecs.commandCalls(UpdateClusterCommand)[0].args[0].input).toEqual({
      cluster: 'fintech-prod-cluster',
      settings: [{ name: 'containerInsights', value: 'enabled' }],
    });
    expect(aws.ecs.commandCalls(TagResourceCommand)[0].args[0].input.tags).toEqual([{ key: 'CostCenter', value: 'CC-Corp' }]);
  });

  it('the ignore list is a deny-list: a field nobody thought of is drift, and one no call can change is refused', async () => {
    aws.ecs.on(DescribeClustersCommand).resolves({ clusters: [{ ...inSync, someNewField: { enabled: true } } as never] });
    const ctx = testContext();
    const error = await clusterStep.plan(ctx).catch((e: unknown) => e);
    expect(String(error)).toMatch(/someNewField differ\(s\) and cannot be changed in place/);
    // Fields ECS sets itself are not drift.
    aws.ecs.on(DescribeClustersCommand).resolves({ clusters: [{ ...inSync, runningTasksCount: 7, statistics: [{ name: 'x', value: '1' }] }] });
    expect((await clusterStep.plan(testContext())).changes).toEqual([]); // another run: its own read cache
  });

  it('rollback deletes a cluster this run created, and a second rollback does nothing', async () => {
    aws.ecs.on(DescribeClustersCommand).resolvesOnce({ clusters: [inSync] }).resolves({ clusters: [{ ...inSync, status: 'INACTIVE' }] });
    aws.ecs.on(DeleteClusterCommand).resolves({});
    const ctx = testContext();
    await clusterStep.rollback(ctx, { cluster: undefined }, new Set(['cluster']));
    await clusterStep.rollback(ctx, { cluster: undefined }, new Set(['cluster']));
    expect(aws.ecs.commandCalls(DeleteClusterCommand)).toHaveLength(1);
  });

  it('rollback never deletes a cluster this run did not provably create', async () => {
    aws.ecs.on(DescribeClustersCommand).resolves({ clusters: [inSync] });
    const notes = await clusterStep.rollback(testContext(), { cluster: undefined }, new Set());
    expect(writeCalls(aws)).toEqual([]);
    expect(notes.join()).toMatch(/not created by this run/);
  });

  it('rollback of a pre-existing cluster converges back to before (settings and tags), never deletes; twice is a no-op', async () => {
    const beforeCluster = { ...inSync, settings: [{ name: 'containerInsights' as const, value: 'disabled' }], tags: [{ key: 'Environment', value: 'Staging' }] };
    aws.ecs.on(DescribeClustersCommand).resolves({ clusters: [beforeCluster] });
    const before = (await clusterStep.plan(testContext())).before;
    aws.ecs.reset();
    aws.ecs.on(DescribeClustersCommand).resolvesOnce({ clusters: [inSync] }).resolves({ clusters: [beforeCluster] });
    aws.ecs.on(UpdateClusterCommand).resolves({});
    aws.ecs.on(UntagResourceCommand).resolves({});
    aws.ecs.on(TagResourceCommand).resolves({});
    const ctx = testContext();
    await clusterStep.rollback(ctx, before, new Set());
    expect(writeCalls(aws)).toEqual(['ecs:UpdateCluster', 'ecs:TagResource', 'ecs:UntagResource']);
    expect(aws.ecs.commandCalls(UntagResourceCommand)[0].args[0].input.tagKeys).toEqual(['Project', 'CostCenter']);
    await clusterStep.rollback(ctx, before, new Set());
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
    expect(findings.map((f) => f.status)).toEqual(['FAIL']);
    expect(findings[0].reason).toContain('settings.0.value');
  });
});
