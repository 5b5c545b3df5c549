// Runbook 1.6: the ECS service — private subnets, no public IP, capacity provider strategy
// (not the runbook's --launch-type, DESIGN.md §8 row 1), circuit breaker, load balancer.
import {
  CreateServiceCommand,
  DeleteServiceCommand,
  TagResourceCommand,
  UpdateServiceCommand,
  type CapacityProviderStrategyItem,
  type Service,
  type UpdateServiceCommandInput,
} from '@aws-sdk/client-ecs';
import { serviceChecks } from '../src/checks/post-deploy.js';
import { describeService, taskDefinitionRef } from '../src/aws/deployment.js';
import { names } from '../src/config.js';
import { ecsTagList, missingTags, sameValue, tagsAsDiff } from '../src/core/diff.js';
import { fail, ok, stepWriter, type FieldDiff, type Finding, type Step, type StepContext } from '../src/core/step.js';

/** What rollback needs to put the service back. */
export interface ServiceState {
  exists: boolean;
  serviceArn?: string;
  taskDefinition?: string;
  desiredCount?: number;
  capacityProviderStrategy?: CapacityProviderStrategyItem[];
  networkConfiguration?: Service['networkConfiguration'];
  healthCheckGracePeriodSeconds?: number;
  circuitBreaker?: { enable: boolean; rollback: boolean };
}

const resourceName = (ctx: StepContext) => names.serviceResource(ctx.config);

/** The task definition to run: the one apply just registered, else the family's latest revision. */
function desiredTaskDefinition(ctx: StepContext): string {
  return ctx.outputs.find('task-definition')?.taskDefinitionArn ?? ctx.config.taskDefinition.family;
}

function desiredNetwork(ctx: StepContext) {
  return {
    awsvpcConfiguration: {
      subnets: [...ctx.config.inputs.appSubnetIds].sort(),
      securityGroups: [ctx.config.inputs.ecsSecurityGroupId],
      assignPublicIp: 'DISABLED' as const,
    },
  };
}

function normaliseNetwork(network: Service['networkConfiguration']) {
  const vpc = network?.awsvpcConfiguration;
  if (!vpc) return undefined;
  return {
    awsvpcConfiguration: {
      subnets: [...(vpc.subnets ?? [])].sort(),
      securityGroups: [...(vpc.securityGroups ?? [])].sort(),
      assignPublicIp: vpc.assignPublicIp ?? 'DISABLED',
    },
  };
}

const normaliseStrategy = (items: CapacityProviderStrategyItem[] | undefined) =>
  (items ?? []).map((i) => ({ capacityProvider: i.capacityProvider, weight: i.weight ?? 0, base: i.base ?? 0 }));

function observe(service: Service | undefined): ServiceState {
  if (!service) return { exists: false };
  const breaker = service.deploymentConfiguration?.deploymentCircuitBreaker;
  return {
    exists: true,
    serviceArn: service.serviceArn,
    taskDefinition: service.taskDefinition,
    desiredCount: service.desiredCount,
    capacityProviderStrategy: service.capacityProviderStrategy,
    networkConfiguration: service.networkConfiguration,
    healthCheckGracePeriodSeconds: service.healthCheckGracePeriodSeconds,
    circuitBreaker: breaker ? { enable: !!breaker.enable, rollback: !!breaker.rollback } : undefined,
  };
}

/**
 * Field-level drift. desiredCount is set at creation only: afterwards it belongs to auto scaling
 * (section 2.1), and re-applying must never scale production back in. Fields the endpoint does
 * not report are not compared (real ECS always reports them; moto drops some on CreateService).
 */
function drift(ctx: StepContext, service: Service): FieldDiff[] {
  const s = ctx.config.service;
  const fields: FieldDiff[] = [];
  const wantTaskDef = desiredTaskDefinition(ctx);
  const haveTaskDef = taskDefinitionRef(service.taskDefinition);
  // Before task-definition has run (plan), we only know the family: any revision of it matches.
  const taskDefMatches = wantTaskDef.includes(':')
    ? taskDefinitionRef(wantTaskDef) === haveTaskDef
    : haveTaskDef?.split(':')[0] === wantTaskDef;
  if (!taskDefMatches) fields.push({ field: 'taskDefinition', from: haveTaskDef, to: taskDefinitionRef(wantTaskDef) });

  const network = desiredNetwork(ctx);
  if (!sameValue(normaliseNetwork(service.networkConfiguration), network)) {
    fields.push({ field: 'networkConfiguration', from: normaliseNetwork(service.networkConfiguration), to: network });
  }
  if (service.capacityProviderStrategy?.length) {
    if (!sameValue(normaliseStrategy(service.capacityProviderStrategy), normaliseStrategy(s.capacityProviderStrategy))) {
      fields.push({ field: 'capacityProviderStrategy', from: normaliseStrategy(service.capacityProviderStrategy), to: normaliseStrategy(s.capacityProviderStrategy) });
    }
  } else if (service.launchType === 'FARGATE') {
    // A service created by pasting the runbook: --launch-type FARGATE means Spot is never used.
    fields.push({ field: 'capacityProviderStrategy', from: 'launchType FARGATE', to: normaliseStrategy(s.capacityProviderStrategy) });
  }
  if (service.healthCheckGracePeriodSeconds !== undefined && service.healthCheckGracePeriodSeconds !== s.healthCheckGracePeriodSeconds) {
    fields.push({ field: 'healthCheckGracePeriodSeconds', from: service.healthCheckGracePeriodSeconds, to: s.healthCheckGracePeriodSeconds });
  }
  const breaker = service.deploymentConfiguration?.deploymentCircuitBreaker;
  if (breaker && (breaker.enable !== s.circuitBreaker.enable || breaker.rollback !== s.circuitBreaker.rollback)) {
    fields.push({ field: 'deploymentCircuitBreaker', from: { enable: breaker.enable, rollback: breaker.rollback }, to: s.circuitBreaker });
  }
  const targetGroupArn = ctx.outputs.find('load-balancer')?.targetGroupArn;
  const lb = service.loadBalancers?.[0];
  const apiName = ctx.config.taskDefinition.api.name;
  const apiPort = ctx.config.taskDefinition.api.port;
  if (targetGroupArn && (lb?.targetGroupArn !== targetGroupArn || lb?.containerName !== apiName || lb?.containerPort !== apiPort)) {
    fields.push({ field: 'loadBalancers', from: lb, to: { targetGroupArn, containerName: apiName, containerPort: apiPort } });
  }
  fields.push(...tagsAsDiff(missingTags(ctx.config.tags, service.tags), service.tags));
  return fields;
}

function updateInput(ctx: StepContext, fields: Set<string>): UpdateServiceCommandInput {
  const s = ctx.config.service;
  const input: UpdateServiceCommandInput = { cluster: ctx.config.cluster.name, service: s.name };
  if (fields.has('taskDefinition')) input.taskDefinition = desiredTaskDefinition(ctx);
  if (fields.has('networkConfiguration')) input.networkConfiguration = desiredNetwork(ctx);
  if (fields.has('capacityProviderStrategy')) {
    input.capacityProviderStrategy = s.capacityProviderStrategy;
    input.forceNewDeployment = true; // ECS requires it to move tasks onto the new strategy
  }
  if (fields.has('healthCheckGracePeriodSeconds')) input.healthCheckGracePeriodSeconds = s.healthCheckGracePeriodSeconds;
  if (fields.has('deploymentCircuitBreaker')) input.deploymentConfiguration = { deploymentCircuitBreaker: s.circuitBreaker };
  if (fields.has('loadBalancers')) {
    input.loadBalancers = [
      {
        targetGroupArn: ctx.outputs.get('load-balancer').targetGroupArn,
        containerName: ctx.config.taskDefinition.api.name,
        containerPort: ctx.config.taskDefinition.api.port,
      },
    ];
  }
  return input;
}

const primaryDeploymentId = (service: Service | undefined) => service?.deployments?.find((d) => d.status === 'PRIMARY')?.id;

export const serviceStep: Step<'service', ServiceState> = {
  id: 'service',
  section: '1.6',
  title: 'ECS service',

  async plan(ctx) {
    const service = await describeService(ctx.clients.ecs, ctx.config.cluster.name, ctx.config.service.name);
    const before = observe(service);
    const resource = resourceName(ctx);
    if (!service) {
      const s = ctx.config.service;
      return {
        before,
        changes: [
          {
            resource,
            action: 'create',
            fields: [
              { field: 'taskDefinition', from: undefined, to: taskDefinitionRef(desiredTaskDefinition(ctx)) },
              { field: 'desiredCount', from: undefined, to: s.desiredCount },
              { field: 'capacityProviderStrategy', from: undefined, to: normaliseStrategy(s.capacityProviderStrategy) },
              { field: 'networkConfiguration', from: undefined, to: desiredNetwork(ctx) },
              { field: 'deploymentCircuitBreaker', from: undefined, to: s.circuitBreaker },
            ],
            note: 'first deployment: the circuit breaker has no earlier COMPLETED deployment to roll back to',
          },
        ],
      };
    }
    const fields = drift(ctx, service);
    return {
      before,
      changes: fields.length ? [{ resource, action: 'update', fields }] : [],
      outputs: { serviceArn: service.serviceArn!, serviceName: service.serviceName!, deploymentId: primaryDeploymentId(service) },
    };
  },

  async apply(ctx, plan) {
    const write = stepWriter(ctx, 'service');
    const s = ctx.config.service;
    const resource = resourceName(ctx);
    if (!plan.before?.exists) {
      ctx.report('first deployment of the service: the circuit breaker cannot roll it back (there is no earlier deployment)');
      const { service } = await write(resource, 'create', 'CreateService', () =>
        ctx.clients.ecs.send(
          new CreateServiceCommand({
            cluster: ctx.config.cluster.name,
            serviceName: s.name,
            taskDefinition: desiredTaskDefinition(ctx),
            desiredCount: s.desiredCount,
            capacityProviderStrategy: s.capacityProviderStrategy,
            networkConfiguration: desiredNetwork(ctx),
            loadBalancers: [
              {
                targetGroupArn: ctx.outputs.get('load-balancer').targetGroupArn,
                containerName: ctx.config.taskDefinition.api.name,
                containerPort: ctx.config.taskDefinition.api.port,
              },
            ],
            healthCheckGracePeriodSeconds: s.healthCheckGracePeriodSeconds,
            deploymentConfiguration: { deploymentCircuitBreaker: s.circuitBreaker },
            propagateTags: 'SERVICE',
            enableECSManagedTags: true,
            tags: ecsTagList(ctx.config.tags),
          }),
        ),
      );
      return { serviceArn: service!.serviceArn!, serviceName: s.name, deploymentId: primaryDeploymentId(service) };
    }
    const fields = new Set(plan.changes.flatMap((c) => c.fields ?? []).map((f) => f.field.split('.')[0]));
    let deploymentId = plan.outputs?.deploymentId;
    const update = updateInput(ctx, fields);
    if (Object.keys(update).length > 2) {
      const { service } = await write(resource, 'update', 'UpdateService', () => ctx.clients.ecs.send(new UpdateServiceCommand(update)));
      deploymentId = primaryDeploymentId(service) ?? deploymentId;
    }
    if (fields.has('tags')) {
      await write(resource, 'update', 'TagResource', () =>
        ctx.clients.ecs.send(new TagResourceCommand({ resourceArn: plan.before!.serviceArn, tags: ecsTagList(ctx.config.tags) })),
      );
    }
    return { serviceArn: plan.before.serviceArn!, serviceName: s.name, deploymentId };
  },

  async validate(ctx) {
    const resource = resourceName(ctx);
    const service = await describeService(ctx.clients.ecs, ctx.config.cluster.name, ctx.config.service.name);
    if (!service) return [fail('ECS Service', resource, 'service does not exist')];
    const fields = drift(ctx, service).filter((f) => f.field !== 'taskDefinition' || ctx.outputs.find('task-definition'));
    const findings: Finding[] = [
      fields.length === 0
        ? ok('ECS Service', resource, `matches the config (${taskDefinitionRef(service.taskDefinition)})`)
        : fail('ECS Service', resource, `differs from the config: ${fields.map((f) => f.field).join(', ')}`),
    ];
    return findings;
  },

  async postDeployChecks(ctx, options = { wait: true }) {
    const out = ctx.outputs.find('service');
    const expected = options.wait
      ? { deploymentId: out?.deploymentId, taskDefinition: ctx.outputs.find('task-definition')?.taskDefinitionArn }
      : {};
    return serviceChecks(ctx, options.wait, expected);
  },

  async rollback(ctx, before) {
    if (!before) return;
    const write = stepWriter(ctx, 'service');
    const resource = resourceName(ctx);
    const cluster = ctx.config.cluster.name;
    const now = await describeService(ctx.clients.ecs, cluster, ctx.config.service.name);
    if (!before.exists) {
      // Created by this run: scale to zero and delete (force, since it may still run tasks).
      if (now) {
        await write(resource, 'delete', 'DeleteService', () =>
          ctx.clients.ecs.send(new DeleteServiceCommand({ cluster, service: ctx.config.service.name, force: true })),
        );
      }
      return;
    }
    if (!now) return;
    const input: UpdateServiceCommandInput = { cluster, service: ctx.config.service.name };
    if (before.taskDefinition && taskDefinitionRef(now.taskDefinition) !== taskDefinitionRef(before.taskDefinition)) {
      input.taskDefinition = before.taskDefinition;
    }
    if (before.networkConfiguration && !sameValue(normaliseNetwork(now.networkConfiguration), normaliseNetwork(before.networkConfiguration))) {
      input.networkConfiguration = before.networkConfiguration;
    }
    if (before.capacityProviderStrategy?.length && !sameValue(normaliseStrategy(now.capacityProviderStrategy), normaliseStrategy(before.capacityProviderStrategy))) {
      input.capacityProviderStrategy = before.capacityProviderStrategy;
      input.forceNewDeployment = true;
    }
    if (before.healthCheckGracePeriodSeconds !== undefined && now.healthCheckGracePeriodSeconds !== before.healthCheckGracePeriodSeconds) {
      input.healthCheckGracePeriodSeconds = before.healthCheckGracePeriodSeconds;
    }
    const breaker = now.deploymentConfiguration?.deploymentCircuitBreaker;
    if (before.circuitBreaker && (breaker?.enable !== before.circuitBreaker.enable || breaker?.rollback !== before.circuitBreaker.rollback)) {
      input.deploymentConfiguration = { deploymentCircuitBreaker: before.circuitBreaker };
    }
    if (Object.keys(input).length > 2) {
      await write(resource, 'update', 'UpdateService', () => ctx.clients.ecs.send(new UpdateServiceCommand(input)));
    }
  },
};
