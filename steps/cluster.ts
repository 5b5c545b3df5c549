// Runbook 1.1: the ECS cluster, its capacity providers and default strategy, Container Insights, tags.
import {
  CreateClusterCommand,
  DeleteClusterCommand,
  DescribeClustersCommand,
  PutClusterCapacityProvidersCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateClusterSettingsCommand,
  type Cluster,
} from '@aws-sdk/client-ecs';
import { diffFields, ecsTagList, missingTags, tagsAsDiff, tagsToRestore } from '../src/core/diff.js';
import { fail, ok, stepWriter, type Change, type Finding, type Step, type StepContext } from '../src/core/step.js';

export interface ClusterState {
  exists: boolean;
  clusterArn?: string;
  capacityProviders?: string[];
  defaultStrategy?: Array<{ capacityProvider: string; weight: number; base: number }>;
  containerInsights?: string;
  tags?: Record<string, string>;
}

async function describeCluster(ctx: StepContext): Promise<Cluster | undefined> {
  const { clusters } = await ctx.clients.ecs.send(
    new DescribeClustersCommand({ clusters: [ctx.config.cluster.name], include: ['SETTINGS', 'TAGS'] }),
  );
  // A deleted cluster is still described, as INACTIVE, for a while: it does not exist for us.
  return clusters?.find((c) => c.status === 'ACTIVE' || c.status === 'PROVISIONING');
}

function observe(cluster: Cluster | undefined): ClusterState {
  if (!cluster) return { exists: false };
  return {
    exists: true,
    clusterArn: cluster.clusterArn,
    capacityProviders: [...(cluster.capacityProviders ?? [])].sort(),
    defaultStrategy: normaliseStrategy(cluster.defaultCapacityProviderStrategy),
    containerInsights: cluster.settings?.find((s) => s.name === 'containerInsights')?.value,
    tags: Object.fromEntries((cluster.tags ?? []).map((t) => [t.key ?? '', t.value ?? ''])),
  };
}

function normaliseStrategy(items: Array<{ capacityProvider?: string; weight?: number; base?: number }> | undefined) {
  return (items ?? []).map((i) => ({ capacityProvider: i.capacityProvider ?? '', weight: i.weight ?? 0, base: i.base ?? 0 }));
}

function desired(ctx: StepContext) {
  const c = ctx.config.cluster;
  return {
    capacityProviders: [...c.capacityProviders].sort(),
    defaultStrategy: normaliseStrategy(c.defaultStrategy),
    containerInsights: c.containerInsights,
  };
}

const resourceName = (ctx: StepContext) => `ecs cluster ${ctx.config.cluster.name}`;

export const clusterStep: Step<'cluster', ClusterState> = {
  id: 'cluster',
  section: '1.1',
  title: 'ECS cluster',

  async plan(ctx) {
    const cluster = await describeCluster(ctx);
    const before = observe(cluster);
    const resource = resourceName(ctx);
    if (!before.exists) {
      return {
        before,
        changes: [{ resource, action: 'create', fields: diffFields({ ...desired(ctx), tags: ctx.config.tags }, {}) }],
      };
    }
    const fields = [
      ...diffFields(desired(ctx), before as unknown as Record<string, unknown>),
      ...tagsAsDiff(missingTags(ctx.config.tags, cluster?.tags), cluster?.tags),
    ];
    const changes: Change[] = fields.length ? [{ resource, action: 'update', fields }] : [];
    return { before, changes, outputs: { clusterArn: before.clusterArn!, clusterName: ctx.config.cluster.name } };
  },

  async apply(ctx, plan) {
    const write = stepWriter(ctx, 'cluster');
    const c = ctx.config.cluster;
    const resource = resourceName(ctx);
    if (!plan.before?.exists) {
      const { cluster } = await write(resource, 'create', 'CreateCluster', () =>
        ctx.clients.ecs.send(
          new CreateClusterCommand({
            clusterName: c.name,
            capacityProviders: c.capacityProviders,
            defaultCapacityProviderStrategy: c.defaultStrategy,
            settings: [{ name: 'containerInsights', value: c.containerInsights }],
            tags: ecsTagList(ctx.config.tags),
          }),
        ),
      );
      return { clusterArn: cluster!.clusterArn!, clusterName: c.name };
    }
    const changed = new Set(plan.changes.flatMap((change) => change.fields ?? []).map((f) => f.field.split('.')[0]));
    if (changed.has('capacityProviders') || changed.has('defaultStrategy')) {
      await write(resource, 'update', 'PutClusterCapacityProviders', () =>
        ctx.clients.ecs.send(
          new PutClusterCapacityProvidersCommand({
            cluster: c.name,
            capacityProviders: c.capacityProviders,
            defaultCapacityProviderStrategy: c.defaultStrategy,
          }),
        ),
      );
    }
    if (changed.has('containerInsights')) {
      await write(resource, 'update', 'UpdateClusterSettings', () =>
        ctx.clients.ecs.send(
          new UpdateClusterSettingsCommand({ cluster: c.name, settings: [{ name: 'containerInsights', value: c.containerInsights }] }),
        ),
      );
    }
    if (changed.has('tags')) {
      const tags = missingTags(ctx.config.tags, ecsTagList(plan.before.tags ?? {}));
      await write(resource, 'update', 'TagResource', () =>
        ctx.clients.ecs.send(new TagResourceCommand({ resourceArn: plan.before!.clusterArn, tags: ecsTagList(tags) })),
      );
    }
    return { clusterArn: plan.before.clusterArn!, clusterName: c.name };
  },

  async validate(ctx) {
    const check = 'Cluster Ready';
    const resource = resourceName(ctx);
    const state = observe(await describeCluster(ctx));
    if (!state.exists) return [fail(check, resource, 'cluster does not exist or is not ACTIVE')];
    const findings: Finding[] = [];
    const want = desired(ctx);
    findings.push(
      state.containerInsights === want.containerInsights
        ? ok(check, resource, `ACTIVE, Container Insights ${state.containerInsights}`)
        : fail(check, resource, `Container Insights is ${state.containerInsights ?? 'unset'}, want ${want.containerInsights}`),
    );
    const missing = want.capacityProviders.filter((p) => !state.capacityProviders?.includes(p));
    findings.push(
      missing.length === 0
        ? ok('Capacity Providers', resource, `capacity providers ${state.capacityProviders?.join(', ')}`)
        : fail('Capacity Providers', resource, `capacity providers missing: ${missing.join(', ')}`),
    );
    return findings;
  },

  async rollback(ctx, before) {
    if (!before) return;
    const write = stepWriter(ctx, 'cluster');
    const c = ctx.config.cluster;
    const resource = resourceName(ctx);
    const now = await describeCluster(ctx);
    if (!before.exists) {
      // Created by this run: remove it (ECS refuses while services remain, which protects them).
      if (now) {
        await write(resource, 'delete', 'DeleteCluster', () => ctx.clients.ecs.send(new DeleteClusterCommand({ cluster: c.name })));
      }
      return;
    }
    if (!now) return; // someone else deleted it; nothing of ours to restore
    const current = observe(now);
    if (diffFields({ capacityProviders: before.capacityProviders, defaultStrategy: before.defaultStrategy }, current as never).length > 0) {
      await write(resource, 'update', 'PutClusterCapacityProviders', () =>
        ctx.clients.ecs.send(
          new PutClusterCapacityProvidersCommand({
            cluster: c.name,
            capacityProviders: before.capacityProviders ?? [],
            defaultCapacityProviderStrategy: before.defaultStrategy ?? [],
          }),
        ),
      );
    }
    if (before.containerInsights && current.containerInsights !== before.containerInsights) {
      await write(resource, 'update', 'UpdateClusterSettings', () =>
        ctx.clients.ecs.send(
          new UpdateClusterSettingsCommand({ cluster: c.name, settings: [{ name: 'containerInsights', value: before.containerInsights }] }),
        ),
      );
    }
    const { untag, retag } = tagsToRestore(before.tags ?? {}, current.tags ?? {}, ctx.config.tags);
    if (untag.length) {
      await write(resource, 'update', 'UntagResource', () =>
        ctx.clients.ecs.send(new UntagResourceCommand({ resourceArn: current.clusterArn, tagKeys: untag })),
      );
    }
    if (Object.keys(retag).length) {
      await write(resource, 'update', 'TagResource', () =>
        ctx.clients.ecs.send(new TagResourceCommand({ resourceArn: current.clusterArn, tags: ecsTagList(retag) })),
      );
    }
  },
};
