// Runbook 1.6: the ECS service — private subnets, no public IP, capacity provider strategy
// (not the runbook's --launch-type, DESIGN.md §8 row 1), circuit breaker, load balancer.
import { createHash, randomUUID } from 'node:crypto';
import type { CapacityProviderStrategyItem, DeploymentConfiguration, LoadBalancer, NetworkConfiguration, Service } from '@aws-sdk/client-ecs';
import { serviceChecks } from '../src/checks/post-deploy.js';
import { describeService, taskDefinitionRef } from '../src/aws/deployment.js';
import { names, type RunbookConfig } from '../src/config.js';
import { act, hasRef, ref, type ActionSpec } from '../src/core/actions.js';
import { defineStep, documentFindings, refuseUnhandled } from '../src/core/converge.js';
import { changedTopLevel, diffDocuments, type Doc, type IgnoreList } from '../src/core/document.js';
import { ecsTags, managedTags, tagChanges, type TagMap } from '../src/core/tags.js';
import { deploymentAlarmNames } from './deployment-alarms.js';
import { fail, type Observed, type ResourceDef, type StepContext } from '../src/core/step.js';

/** The CreateService input (clientToken aside), tags as a map of the managed keys. */
export interface ServiceDoc extends Doc {
  cluster: string;
  serviceName: string;
  /** `family:revision` on both sides (moto reports the literal string UpdateService was sent). */
  taskDefinition: string;
  desiredCount?: number;
  capacityProviderStrategy?: Array<{ capacityProvider: string; weight: number; base: number }>;
  platformVersion: string;
  networkConfiguration?: Doc;
  loadBalancers?: Doc[];
  healthCheckGracePeriodSeconds: number;
  deploymentConfiguration: Doc;
  tags: TagMap;
}

/** Fields ECS sets itself: identity, state, counters, history. Everything else is compared. */
export const SERVICE_IGNORE: IgnoreList = [
  'serviceArn', // identity (the builders' handle); the service is compared by cluster and name
  'clusterArn', // compared as `cluster`, by name
  'status', // ACTIVE / DRAINING: state (INACTIVE and DRAINING count as absent)
  // Create-only: afterwards the count belongs to auto scaling (2.1); re-applying must never
  // scale production back in.
  'desiredCount',
  'runningCount',
  'pendingCount',
  'deployments', // history; the PRIMARY one's Service Connect, volumes and Lattice are lifted out
  'primaryDeploymentId', // ours: the PRIMARY deployment's id, for outputs
  'events',
  'taskSets', // EXTERNAL / CODE_DEPLOY task sets: ECS's bookkeeping
  'currentServiceDeployment', // ARNs of ECS's service-deployment records
  'currentServiceRevisions',
  'createdAt',
  'createdBy',
  'roleArn', // the service-linked role ECS picks
  'platformFamily', // follows from the task definition's runtime platform
  'resourceManagementType', // CUSTOMER, or ECS for Express services: set by the API that created it
];

/**
 * What CreateService sets that moto drops (it keeps them from UpdateService): the create sends
 * them once more with UpdateService. On AWS the same values change nothing and start no
 * deployment (no forceNewDeployment; a strategy update "doesn't trigger a new service
 * deployment"). Not compared when adopting a create whose reply was lost: that UpdateService
 * sets them next.
 */
const CREATE_FOLLOW_UP = [
  'capacityProviderStrategy',
  'deploymentConfiguration',
  'healthCheckGracePeriodSeconds',
  'enableExecuteCommand',
  'enableECSManagedTags',
  'availabilityZoneRebalancing',
] as const;

const normaliseStrategy = (items: CapacityProviderStrategyItem[] | undefined) =>
  items?.map((i) => ({ ...i, capacityProvider: i.capacityProvider ?? '', weight: i.weight ?? 0, base: i.base ?? 0 }));

function normaliseNetwork(network: NetworkConfiguration | undefined): Doc | undefined {
  const vpc = network?.awsvpcConfiguration;
  if (!network || !vpc) return network as Doc | undefined;
  return {
    ...network,
    awsvpcConfiguration: {
      ...vpc,
      subnets: [...(vpc.subnets ?? [])].sort(),
      securityGroups: [...(vpc.securityGroups ?? [])].sort(),
      assignPublicIp: vpc.assignPublicIp ?? 'DISABLED', // AWS's default
    },
  };
}

const lbKey = (lb: LoadBalancer) => `${lb.targetGroupArn ?? lb.loadBalancerName}|${lb.containerName}|${lb.containerPort}`;
const normaliseLoadBalancers = (items: LoadBalancer[] | undefined) => [...(items ?? [])].sort((a, b) => lbKey(a).localeCompare(lbKey(b))) as Doc[];

/** AWS's documented defaults for a REPLICA service, on both sides (moto reports only what UpdateService set). */
function normaliseDeploymentConfiguration(config: DeploymentConfiguration | undefined): Doc {
  const { alarms, ...rest } = config ?? {};
  const breaker = config?.deploymentCircuitBreaker;
  return {
    ...rest,
    deploymentCircuitBreaker: { ...breaker, enable: breaker?.enable ?? false, rollback: breaker?.rollback ?? false },
    maximumPercent: config?.maximumPercent ?? 200,
    minimumHealthyPercent: config?.minimumHealthyPercent ?? 100,
    strategy: config?.strategy ?? 'ROLLING',
    // "No alarms" is reported as disabled alarms without names.
    // Names sorted on both sides: ECS may list them in any order.
    ...(alarms && (alarms.enable || alarms.rollback || alarms.alarmNames?.length)
      ? { alarms: { ...alarms, alarmNames: [...(alarms.alarmNames ?? [])].sort() } }
      : {}),
  };
}

/** The alarms the config's deployment-alarms step owns, on with rollback; none without `deploy.alarms`. */
const deploymentAlarms = (config: RunbookConfig) => {
  const alarmNames = deploymentAlarmNames(config);
  return alarmNames.length ? { alarmNames, enable: true, rollback: true } : undefined;
};

/** The service as described, in the CreateService input's shape: unknown fields stay, to be seen. */
export function serviceDoc(service: Service, managed: TagMap): ServiceDoc {
  const primary = service.deployments?.find((d) => d.status === 'PRIMARY');
  const connect = primary?.serviceConnectConfiguration;
  const strategy = normaliseStrategy(service.capacityProviderStrategy);
  return {
    ...(service as Doc),
    cluster: service.clusterArn?.split('/').pop() ?? '',
    serviceName: service.serviceName ?? '',
    taskDefinition: taskDefinitionRef(service.taskDefinition) ?? '',
    capacityProviderStrategy: strategy,
    // AWS reports a launch type or a strategy, never both; moto keeps its made-up EC2 beside a strategy.
    launchType: strategy?.length ? undefined : service.launchType,
    platformVersion: service.platformVersion ?? 'LATEST',
    networkConfiguration: normaliseNetwork(service.networkConfiguration),
    loadBalancers: normaliseLoadBalancers(service.loadBalancers),
    healthCheckGracePeriodSeconds: service.healthCheckGracePeriodSeconds ?? 0,
    deploymentConfiguration: normaliseDeploymentConfiguration(service.deploymentConfiguration),
    deploymentController: service.deploymentController ?? { type: 'ECS' },
    schedulingStrategy: service.schedulingStrategy ?? 'REPLICA',
    propagateTags: service.propagateTags ?? 'NONE',
    // Reported per deployment only: the PRIMARY one's are the service's.
    serviceConnectConfiguration: connect?.enabled ? connect : undefined,
    volumeConfigurations: primary?.volumeConfigurations,
    vpcLatticeConfigurations: primary?.vpcLatticeConfigurations,
    tags: managedTags(service.tags, managed),
    primaryDeploymentId: primary?.id,
  };
}

function desiredService(ctx: StepContext): ServiceDoc {
  const { config } = ctx;
  const s = config.service;
  const api = config.taskDefinition.api;
  return {
    cluster: config.cluster.name,
    serviceName: s.name,
    // A ref token when task-definition registers a revision in this run: known after apply.
    // (find, not get: a rollback replaces this document with `before` and may run without them.)
    taskDefinition: taskDefinitionRef(ctx.outputs.find('task-definition')?.taskDefinitionArn ?? ref('task-definition', 'taskDefinitionArn')) ?? '',
    desiredCount: s.desiredCount,
    capacityProviderStrategy: normaliseStrategy(s.capacityProviderStrategy),
    platformVersion: s.platformVersion, // LATEST, or at least 1.4.0 (Security Hub ECS.10; the config refuses older)
    networkConfiguration: normaliseNetwork({
      awsvpcConfiguration: { subnets: config.inputs.appSubnetIds, securityGroups: [config.inputs.ecsSecurityGroupId], assignPublicIp: 'DISABLED' },
    }),
    loadBalancers: [{ targetGroupArn: ctx.outputs.find('load-balancer')?.targetGroupArn ?? ref('load-balancer', 'targetGroupArn'), containerName: api.name, containerPort: api.port }],
    healthCheckGracePeriodSeconds: s.healthCheckGracePeriodSeconds,
    // The deployment alarms (steps/deployment-alarms.ts) fail and roll back a deployment in ALARM.
    deploymentConfiguration: normaliseDeploymentConfiguration({ deploymentCircuitBreaker: s.circuitBreaker, alarms: deploymentAlarms(config) }),
    deploymentController: { type: 'ECS' },
    schedulingStrategy: 'REPLICA',
    enableExecuteCommand: false,
    enableECSManagedTags: true,
    propagateTags: 'SERVICE',
    availabilityZoneRebalancing: 'ENABLED', // AWS's CreateService default
    tags: config.tags,
  };
}

const runNonces = new WeakMap<StepContext, string>();
/** CreateService's idempotency token: one per run (its context) and service, 32 hex characters. */
function clientToken(ctx: StepContext): string {
  if (!runNonces.has(ctx)) runNonces.set(ctx, randomUUID());
  return createHash('sha256').update(`${runNonces.get(ctx)}/${ctx.config.cluster.name}/${ctx.config.service.name}`).digest('hex').slice(0, 32);
}

// ECS lists a service's deployments newest first, and the newest is the PRIMARY one.
const deploymentBinds = { deploymentId: 'service.deployments.0.id', deploymentStatus: 'service.deployments.0.status' };

/**
 * UpdateService input per document field, moving to `d`. undefined: UpdateService cannot reach
 * `d` (the field is then refused). A field absent from `d` is cleared.
 */
const UPDATES: Record<string, (d: ServiceDoc, o: ServiceDoc) => Record<string, unknown> | undefined> = {
  taskDefinition: (d) => (d.taskDefinition ? { taskDefinition: d.taskDefinition } : undefined),
  // ECS needs a new deployment to move tasks; an empty strategy goes back to the launch type.
  capacityProviderStrategy: (d) => ({ capacityProviderStrategy: d.capacityProviderStrategy ?? [], forceNewDeployment: true }),
  platformVersion: (d) => ({ platformVersion: d.platformVersion }),
  networkConfiguration: (d) => (d.networkConfiguration ? { networkConfiguration: d.networkConfiguration } : undefined),
  loadBalancers: (d) => ({ loadBalancers: d.loadBalancers ?? [] }),
  healthCheckGracePeriodSeconds: (d) => ({ healthCheckGracePeriodSeconds: d.healthCheckGracePeriodSeconds }),
  deploymentConfiguration: (d, o) => ({
    deploymentConfiguration: {
      ...d.deploymentConfiguration,
      // UpdateService keeps alarms it is not told about.
      ...(!d.deploymentConfiguration.alarms && o.deploymentConfiguration.alarms ? { alarms: { alarmNames: [], enable: false, rollback: false } } : {}),
    },
  }),
  enableExecuteCommand: (d) => ({ enableExecuteCommand: d.enableExecuteCommand ?? false }),
  enableECSManagedTags: (d) => ({ enableECSManagedTags: d.enableECSManagedTags ?? false }),
  propagateTags: (d) => ({ propagateTags: d.propagateTags ?? 'NONE' }),
  availabilityZoneRebalancing: (d) => (d.availabilityZoneRebalancing ? { availabilityZoneRebalancing: d.availabilityZoneRebalancing } : undefined),
  serviceRegistries: (d) => ({ serviceRegistries: d.serviceRegistries ?? [] }),
  placementConstraints: (d) => ({ placementConstraints: d.placementConstraints ?? [] }),
  placementStrategy: (d) => ({ placementStrategy: d.placementStrategy ?? [] }),
  serviceConnectConfiguration: (d) => ({ serviceConnectConfiguration: d.serviceConnectConfiguration ?? { enabled: false } }),
  volumeConfigurations: (d) => ({ volumeConfigurations: d.volumeConfigurations ?? [] }),
  vpcLatticeConfigurations: (d) => ({ vpcLatticeConfigurations: d.vpcLatticeConfigurations ?? [] }),
};

function serviceResource(ctx: StepContext, observed: Observed): ResourceDef<ServiceDoc> {
  const name = names.serviceResource(ctx.config);
  const o = observed.service as ServiceDoc | undefined;
  return {
    id: 'service',
    name,
    desired: desiredService(ctx),
    observed: o,
    ignore: SERVICE_IGNORE,
    adoptIgnore: [...CREATE_FOLLOW_UP, 'launchType'],
    // DESIGN.md §8 row 10: the runbook's "will auto-rollback" is not true for a first deployment.
    ...(o ? {} : { note: 'first deployment: the circuit breaker has no earlier COMPLETED deployment to roll back to' }),
    create: (d) => {
      const { cluster, serviceName, tags, ...rest } = d;
      return [
        act(
          'ecs',
          'CreateService',
          // AWS answers a retry with the same token with the same service; another token gets
          // InvalidParameterException "Creation of service was not idempotent". moto has no
          // tokens and silently replaces a service of the same name.
          { cluster, serviceName, ...rest, tags: ecsTags(tags), clientToken: clientToken(ctx) },
          {
            binds: { serviceArn: 'service.serviceArn', ...deploymentBinds },
            adoptBinds: { serviceArn: 'serviceArn', deploymentId: 'primaryDeploymentId' },
            existsErrors: ['InvalidParameterException'],
          },
        ),
        act('ecs', 'UpdateService', { cluster, service: serviceName, ...Object.fromEntries(CREATE_FOLLOW_UP.map((f) => [f, d[f]])) }, { binds: deploymentBinds }),
      ];
    },
    update: (d, o, diffs) => {
      const changed = changedTopLevel(diffs);
      const input: Record<string, unknown> = {};
      const handled = ['tags'];
      for (const field of changed) {
        const part = Object.hasOwn(UPDATES, field) ? UPDATES[field](d, o) : undefined;
        if (!part) continue;
        Object.assign(input, part);
        handled.push(field);
      }
      // A launch type changes only with the strategy (a strategy replaces it, an empty one restores it).
      if (input.capacityProviderStrategy) handled.push('launchType');
      refuseUnhandled(name, diffs, handled);
      const actions: ActionSpec[] = [];
      if (Object.keys(input).length) actions.push(act('ecs', 'UpdateService', { cluster: d.cluster, service: d.serviceName, ...input }, { binds: deploymentBinds }));
      const { tag, untag } = tagChanges(d.tags, o.tags);
      const resourceArn = o.serviceArn as string;
      if (Object.keys(tag).length) actions.push(act('ecs', 'TagResource', { resourceArn, tags: ecsTags(tag) }));
      if (untag.length) actions.push(act('ecs', 'UntagResource', { resourceArn, tagKeys: untag }));
      return actions;
    },
    // force: it may still run tasks. A retried delete finds it gone or already draining.
    remove: (o) => [
      act('ecs', 'DeleteService', { cluster: o.cluster, service: o.serviceName, force: true }, { goneErrors: ['ServiceNotFoundException', 'ServiceNotActiveException'] }),
    ],
  };
}

async function observe(ctx: StepContext): Promise<Observed> {
  const service = await describeService(ctx.clients.ecs, ctx.config.cluster.name, ctx.config.service.name);
  // A DRAINING service is being deleted: it does not exist for us (describeService drops INACTIVE).
  return { service: service && service.status !== 'DRAINING' ? serviceDoc(service, ctx.config.tags) : undefined };
}

const known = (value: string | undefined) => (value && !hasRef(value) ? value : undefined);

export const serviceStep = defineStep<'service'>({
  id: 'service',
  section: '1.6',
  title: 'ECS service',
  needs: ['cluster', 'task-definition', 'load-balancer', 'deployment-alarms'],

  observe,

  resources: (ctx, observed) => [serviceResource(ctx, observed)],

  outputs: (ctx, observed) => {
    const resource = serviceResource(ctx, observed);
    const o = resource.observed;
    // Any UpdateService (or the create) starts the deployment Service Stable must judge: its id is
    // bound from the reply. Tags alone start none.
    const deploys = !o || diffDocuments(resource.desired, o, resource.ignore).some((d) => d.field.split('.')[0] !== 'tags');
    return {
      serviceArn: (o?.serviceArn as string | undefined) ?? ref('service', 'serviceArn'),
      serviceName: ctx.config.service.name,
      deploymentId: deploys ? ref('service', 'deploymentId') : (o?.primaryDeploymentId as string | undefined),
    };
  },

  async validate(ctx) {
    const unknown = (['task-definition', 'load-balancer'] as const).filter((id) => !ctx.outputs.find(id));
    if (unknown.length) {
      return [fail('ECS Service', names.serviceResource(ctx.config), `could not be evaluated: the outputs of ${unknown.join(', ')} are not known`)];
    }
    return documentFindings('ECS Service', [serviceResource(ctx, await observe(ctx))], (r) => `matches the config (${r.observed!.taskDefinition})`);
  },

  async postDeployChecks(ctx, options = { wait: true }) {
    if (!options.wait) return serviceChecks(ctx, false, {});
    // Judge the deployment apply started, on the task definition it deployed (resolved outputs).
    // Should a reply ever list a non-PRIMARY deployment first, judge by the PRIMARY one instead.
    const status = ctx.bindings.get('service.deploymentStatus');
    const deploymentId = status && status !== 'PRIMARY' ? undefined : known(ctx.outputs.find('service')?.deploymentId);
    return serviceChecks(ctx, true, { deploymentId, taskDefinition: known(ctx.outputs.find('task-definition')?.taskDefinitionArn) });
  },
});
