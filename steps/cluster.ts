// Runbook 1.1: the ECS cluster, its capacity providers and default strategy, Container Insights, tags.
import { DescribeClustersCommand, type Cluster } from '@aws-sdk/client-ecs';
import { act, ref, type ActionSpec } from '../src/core/actions.js';
import { defineStep, documentFindings, refuseUnhandled } from '../src/core/converge.js';
import { changedTopLevel, type Doc, type IgnoreList } from '../src/core/document.js';
import { ecsTags, managedTags, tagChanges, type TagMap } from '../src/core/tags.js';
import type { Observed, ResourceDef, StepContext } from '../src/core/step.js';

/** The CreateCluster input, with tags as a map of the managed keys. */
export interface ClusterDoc extends Doc {
  clusterName: string;
  capacityProviders: string[];
  defaultCapacityProviderStrategy: Array<{ capacityProvider: string; weight: number; base: number }>;
  settings: Array<{ name: string; value: string }>;
  tags: TagMap;
}

/** Fields ECS sets itself: identity, state and counters. Everything else is compared. */
export const CLUSTER_IGNORE: IgnoreList = [
  'clusterArn',
  'status',
  'registeredContainerInstancesCount',
  'runningTasksCount',
  'pendingTasksCount',
  'activeServicesCount',
  'statistics',
  'attachments',
  'attachmentsStatus',
];

const normaliseStrategy = (items: Array<{ capacityProvider?: string; weight?: number; base?: number }> | undefined) =>
  (items ?? []).map((i) => ({ capacityProvider: i.capacityProvider ?? '', weight: i.weight ?? 0, base: i.base ?? 0 }));

/** The cluster as described, in the CreateCluster input's shape: unknown fields stay, to be seen. */
export function clusterDoc(cluster: Cluster, managed: TagMap): ClusterDoc {
  return {
    ...(cluster as Doc),
    clusterName: cluster.clusterName ?? '',
    capacityProviders: [...(cluster.capacityProviders ?? [])].sort(),
    defaultCapacityProviderStrategy: normaliseStrategy(cluster.defaultCapacityProviderStrategy),
    settings: [...(cluster.settings ?? [])].map((s) => ({ name: s.name ?? '', value: s.value ?? '' })),
    tags: managedTags(cluster.tags, managed),
  };
}

function desiredCluster(ctx: StepContext): ClusterDoc {
  const c = ctx.config.cluster;
  return {
    clusterName: c.name,
    capacityProviders: [...c.capacityProviders].sort(),
    defaultCapacityProviderStrategy: normaliseStrategy(c.defaultStrategy),
    settings: [{ name: 'containerInsights', value: c.containerInsights }],
    tags: ctx.config.tags,
  };
}

async function describeCluster(ctx: StepContext): Promise<Cluster | undefined> {
  const { clusters } = await ctx.clients.ecs.send(
    new DescribeClustersCommand({ clusters: [ctx.config.cluster.name], include: ['SETTINGS', 'TAGS', 'CONFIGURATIONS'] }),
  );
  // A deleted cluster is still described, as INACTIVE, for a while: it does not exist for us.
  return clusters?.find((c) => c.status === 'ACTIVE' || c.status === 'PROVISIONING');
}

function clusterResource(ctx: StepContext, observed: Observed): ResourceDef<ClusterDoc> {
  const name = `ecs cluster ${ctx.config.cluster.name}`;
  return {
    id: 'cluster',
    name,
    desired: desiredCluster(ctx),
    observed: observed.cluster as ClusterDoc | undefined,
    ignore: CLUSTER_IGNORE,
    create: (d) => [
      act(
        'ecs',
        'CreateCluster',
        {
          clusterName: d.clusterName,
          capacityProviders: d.capacityProviders,
          defaultCapacityProviderStrategy: d.defaultCapacityProviderStrategy,
          settings: d.settings,
          tags: ecsTags(d.tags),
        },
        { binds: { clusterArn: 'cluster.clusterArn' }, adoptBinds: { clusterArn: 'clusterArn' } },
      ),
    ],
    update: (d, o, diffs) => {
      const changed = changedTopLevel(diffs);
      refuseUnhandled(name, diffs, ['capacityProviders', 'defaultCapacityProviderStrategy', 'settings', 'configuration', 'serviceConnectDefaults', 'tags']);
      const actions: ActionSpec[] = [];
      if (changed.has('capacityProviders') || changed.has('defaultCapacityProviderStrategy')) {
        actions.push(
          act('ecs', 'PutClusterCapacityProviders', {
            cluster: d.clusterName,
            capacityProviders: d.capacityProviders,
            defaultCapacityProviderStrategy: d.defaultCapacityProviderStrategy,
          }),
        );
      }
      // UpdateCluster with settings is the same change as UpdateClusterSettings on AWS, and moto
      // answers UpdateClusterSettings with HTTP 500.
      const update: Record<string, unknown> = {};
      if (changed.has('settings')) update.settings = d.settings;
      if (changed.has('configuration')) update.configuration = d.configuration ?? {};
      if (changed.has('serviceConnectDefaults')) update.serviceConnectDefaults = d.serviceConnectDefaults ?? { namespace: '' };
      if (Object.keys(update).length) actions.push(act('ecs', 'UpdateCluster', { cluster: d.clusterName, ...update }));
      const { tag, untag } = tagChanges(d.tags, o.tags);
      const resourceArn = o.clusterArn as string;
      if (Object.keys(tag).length) actions.push(act('ecs', 'TagResource', { resourceArn, tags: ecsTags(tag) }));
      if (untag.length) actions.push(act('ecs', 'UntagResource', { resourceArn, tagKeys: untag }));
      return actions;
    },
    // ECS refuses to delete a cluster with services left, which protects them.
    remove: (o) => [act('ecs', 'DeleteCluster', { cluster: o.clusterName }, { goneErrors: ['ClusterNotFoundException'] })],
  };
}

async function observe(ctx: StepContext): Promise<Observed> {
  const cluster = await describeCluster(ctx);
  return { cluster: cluster && clusterDoc(cluster, ctx.config.tags) };
}

export const clusterStep = defineStep<'cluster'>({
  id: 'cluster',
  section: '1.1',
  title: 'ECS cluster',
  needs: [],

  observe,

  resources: (ctx, observed) => [clusterResource(ctx, observed)],

  outputs: (ctx, observed) => ({
    clusterArn: (observed.cluster?.clusterArn as string | undefined) ?? ref('cluster', 'clusterArn'),
    clusterName: ctx.config.cluster.name,
  }),

  async validate(ctx) {
    return documentFindings('Cluster Ready', [clusterResource(ctx, await observe(ctx))], (r) => {
      const insights = (r.observed as ClusterDoc).settings.find((s) => s.name === 'containerInsights')?.value;
      return `ACTIVE, Container Insights ${insights}, capacity providers ${(r.observed as ClusterDoc).capacityProviders.join(', ')}`;
    });
  },
});
