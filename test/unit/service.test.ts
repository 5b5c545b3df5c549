import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateServiceCommand,
  type Deployment,
  type Service,
} from '@aws-sdk/client-ecs';
import { DescribeLogStreamsCommand, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { beforeEach, describe, expect, it } from 'vitest';
import { SERVICE_IGNORE, serviceStep } from '../../steps/service.js';
import { AmbiguousWriteError, ref } from '../../src/core/actions.js';
import { describeAwsError } from '../../src/core/errors.js';
import { Outputs, type Plan, type StepContext } from '../../src/core/step.js';
import { ACCOUNT_ID, RecordingRecorder, awsError, fixtureEnv, mockAws, testContext, writeCalls, type AwsMocks, createdDocument } from '../helpers/mock-aws.js';

const cluster = 'fintech-prod-cluster';
const serviceName = 'fintech-api-svc';
const resource = `ecs service ${cluster}/${serviceName}`;
const clusterArn = `arn:aws:ecs:us-east-1:${ACCOUNT_ID}:cluster/${cluster}`;
const serviceArn = `arn:aws:ecs:us-east-1:${ACCOUNT_ID}:service/${cluster}/${serviceName}`;
const tdArn = (revision: number) => `arn:aws:ecs:us-east-1:${ACCOUNT_ID}:task-definition/fintech-api-task:${revision}`;
const tgArn = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:targetgroup/fintech-prod-tg/73e2d6bc24d8a067`;
const listenerArn = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:listener/app/fintech-prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2`;
const subnetA = fixtureEnv.APP_SUB_A!;
const subnetB = fixtureEnv.APP_SUB_B!;
const ecsSg = fixtureEnv.ECS_SG!;
const deployedAt = new Date('2025-03-01T10:00:00.000Z');

/** The config's strategy with ECS's base/weight defaults filled in (both sides are normalised so). */
const strategy = [
  { capacityProvider: 'FARGATE_SPOT', weight: 2, base: 0 },
  { capacityProvider: 'FARGATE', weight: 1, base: 1 },
];
const privateNetwork = { awsvpcConfiguration: { subnets: [subnetA, subnetB], securityGroups: [ecsSg], assignPublicIp: 'DISABLED' } };
const publicNetwork = { awsvpcConfiguration: { subnets: [subnetA, subnetB], securityGroups: [ecsSg], assignPublicIp: 'ENABLED' as const } };
const ourLoadBalancer = { targetGroupArn: tgArn, containerName: 'api-container', containerPort: 8080 };
/** The deployment alarms production.yaml's deploy.alarms implies (steps/deployment-alarms.ts), on with rollback. */
const alarmNames = ['fintech-api-svc-deploy-api-errors', 'fintech-api-svc-deploy-payment-latency', 'fintech-api-svc-deploy-target-5xx'];
const ourAlarms = { alarmNames, enable: true, rollback: true };
const deploymentConfiguration = {
  deploymentCircuitBreaker: { enable: true, rollback: true },
  maximumPercent: 200,
  minimumHealthyPercent: 100,
  strategy: 'ROLLING' as const,
  alarms: ourAlarms,
};
const tags = [
  { key: 'Environment', value: 'Production' },
  { key: 'Project', value: 'FinTechGlobal' },
  { key: 'CostCenter', value: 'CC-Corp' },
];

const deployment = (id: string, revision: number, extra: Partial<Deployment> = {}): Deployment => ({
  id,
  status: 'PRIMARY',
  taskDefinition: tdArn(revision),
  desiredCount: 3,
  runningCount: 3,
  pendingCount: 0,
  rolloutState: 'COMPLETED',
  createdAt: deployedAt,
  ...extra,
});

/** The service as real ECS describes it when it matches production.yaml (revision 7). */
const inSync: Service = {
  serviceArn,
  serviceName,
  clusterArn,
  status: 'ACTIVE',
  taskDefinition: tdArn(7),
  desiredCount: 3,
  runningCount: 3,
  pendingCount: 0,
  // ECS reports base 0 explicitly; the subnets in another order than the config's.
  capacityProviderStrategy: strategy,
  platformVersion: 'LATEST',
  platformFamily: 'Linux',
  networkConfiguration: { awsvpcConfiguration: { subnets: [subnetB, subnetA], securityGroups: [ecsSg], assignPublicIp: 'DISABLED' } },
  loadBalancers: [ourLoadBalancer],
  serviceRegistries: [],
  placementConstraints: [],
  placementStrategy: [],
  healthCheckGracePeriodSeconds: 60,
  // The deployment alarms, names in another order than the config's.
  deploymentConfiguration: {
    deploymentCircuitBreaker: { enable: true, rollback: true },
    maximumPercent: 200,
    minimumHealthyPercent: 100,
    alarms: { alarmNames: [...alarmNames].reverse(), enable: true, rollback: true },
  },
  deploymentController: { type: 'ECS' },
  schedulingStrategy: 'REPLICA',
  enableECSManagedTags: true,
  propagateTags: 'SERVICE',
  enableExecuteCommand: false,
  availabilityZoneRebalancing: 'ENABLED',
  roleArn: `arn:aws:iam::${ACCOUNT_ID}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS`,
  createdAt: deployedAt,
  createdBy: `arn:aws:iam::${ACCOUNT_ID}:role/deployer`,
  deployments: [deployment('ecs-svc/1000000000000000007', 7)],
  events: [],
  // A tag someone else manages: not compared, never removed.
  tags: [...tags, { key: 'SecurityScan', value: 'weekly' }],
};

/** moto right after CreateService: it drops these fields and reports a made-up launchType EC2. */
const motoAfterCreate: Service = {
  ...inSync,
  capacityProviderStrategy: undefined,
  deploymentConfiguration: undefined,
  healthCheckGracePeriodSeconds: undefined,
  enableExecuteCommand: undefined,
  enableECSManagedTags: undefined,
  availabilityZoneRebalancing: undefined,
  launchType: 'EC2',
  platformFamily: undefined,
  roleArn: undefined,
  createdBy: undefined,
};
/** moto after the create's UpdateService: it keeps what UpdateService sent, EC2 beside the strategy. */
const motoConverged: Service = {
  ...motoAfterCreate,
  capacityProviderStrategy: strategy,
  deploymentConfiguration,
  healthCheckGracePeriodSeconds: 60,
  enableExecuteCommand: false,
  enableECSManagedTags: true,
  availabilityZoneRebalancing: 'ENABLED',
  taskDefinition: 'fintech-api-task:7', // moto after UpdateService: the literal string that was sent
};

/** Outputs of the steps before `service` in an apply that registered revision 7. */
function applyContext(revision = 7) {
  const outputs = new Outputs();
  outputs.set('task-definition', { taskDefinitionArn: tdArn(revision), logGroupName: '/ecs/fintech-api' });
  outputs.set('load-balancer', { targetGroupArn: tgArn, listenerArn });
  const reports: string[] = [];
  const recorder = new RecordingRecorder();
  const ctx = testContext({ outputs, recorder, report: (message) => reports.push(message) });
  return { ctx, reports, recorder };
}

const missing = { services: [], failures: [{ arn: serviceArn, reason: 'MISSING' }] };
const ops = (plan: Pick<Plan, 'actions'>) => plan.actions.map((a) => `${a.service}:${a.operation}`);
const inputOf = (command: typeof CreateServiceCommand | typeof UpdateServiceCommand, i = 0) =>
  aws.ecs.commandCalls(command as typeof UpdateServiceCommand)[i].args[0].input as unknown as Record<string, unknown>;

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});

describe('service step (1.6): fresh', () => {
  it('creates the service (strategy, no launch type; private subnets; breaker; LB) and re-sends what moto drops with one UpdateService', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves(missing);
    const created = { ...motoAfterCreate, deployments: [deployment('ecs-svc/0000000000000000001', 7, { rolloutState: 'IN_PROGRESS', runningCount: 0 })] };
    aws.ecs.on(CreateServiceCommand).resolves({ service: created });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: { ...created, ...motoConverged, deployments: created.deployments } });
    const { ctx, recorder } = applyContext();

    const plan = await serviceStep.plan(ctx);
    expect(plan.before).toEqual({ service: undefined });
    expect(plan.changes).toHaveLength(1);
    expect(plan.changes[0]).toMatchObject({ resource, action: 'create' });
    // DESIGN.md §8 row 10: the runbook's "will auto-rollback" is not true for a first deployment.
    expect(plan.changes[0].note).toMatch(/first deployment: the circuit breaker/);
    // The whole document is the change; desiredCount is create-only (on the ignore list), so not shown.
    expect(createdDocument(plan.changes[0])).toEqual(expect.objectContaining({ taskDefinition: 'fintech-api-task:7', capacityProviderStrategy: strategy, networkConfiguration: privateNetwork, loadBalancers: [ourLoadBalancer] }));
    expect(ops(plan)).toEqual(['ecs:CreateService', 'ecs:UpdateService']);

    const out = await serviceStep.apply(ctx, plan);
    expect(out).toEqual({ serviceArn, serviceName, deploymentId: 'ecs-svc/0000000000000000001' });
    // apply sent exactly the planned actions.
    expect(writeCalls(aws)).toEqual(ops(plan));
    expect(inputOf(CreateServiceCommand)).toEqual(plan.actions[0].input);
    expect(inputOf(UpdateServiceCommand)).toEqual(plan.actions[1].input);

    const input = inputOf(CreateServiceCommand);
    expect(input).toEqual({
      cluster,
      serviceName,
      taskDefinition: 'fintech-api-task:7',
      desiredCount: 3,
      capacityProviderStrategy: strategy,
      platformVersion: 'LATEST',
      networkConfiguration: privateNetwork,
      loadBalancers: [ourLoadBalancer],
      healthCheckGracePeriodSeconds: 60,
      deploymentConfiguration,
      deploymentController: { type: 'ECS' },
      schedulingStrategy: 'REPLICA',
      enableExecuteCommand: false,
      enableECSManagedTags: true,
      propagateTags: 'SERVICE',
      availabilityZoneRebalancing: 'ENABLED',
      tags,
      clientToken: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    // DESIGN.md §8 row 1: a launch type would override the Spot strategy.
    expect(input).not.toHaveProperty('launchType');
    // The same values once more, no forced deployment: nothing changes on AWS; moto then reports them.
    expect(inputOf(UpdateServiceCommand)).toEqual({
      cluster,
      service: serviceName,
      capacityProviderStrategy: strategy,
      deploymentConfiguration,
      healthCheckGracePeriodSeconds: 60,
      enableExecuteCommand: false,
      enableECSManagedTags: true,
      availabilityZoneRebalancing: 'ENABLED',
    });
    expect(recorder.writes).toEqual([
      { step: 'service', resource, resourceId: 'service', action: 'create', operation: 'CreateService' },
      { step: 'service', resource, resourceId: 'service', action: 'update', operation: 'UpdateService' },
    ]);
    // Describe goes to the configured cluster and asks for tags (the document compares them).
    expect(aws.ecs.commandCalls(DescribeServicesCommand)[0].args[0].input).toEqual({ cluster, services: [serviceName], include: ['TAGS'] });
  });

  it('the idempotency token is one per run and service: the same for every plan of a run, another for the next run', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves(missing);
    const { ctx } = applyContext();
    const token = async (c: StepContext) => (await serviceStep.plan(c)).actions[0].input.clientToken as string;
    const first = await token(ctx);
    expect(first.length).toBeLessThanOrEqual(36);
    expect(await token(ctx)).toBe(first);
    expect(await token(applyContext().ctx)).not.toBe(first);
  });

  it('a task definition and target group created in this run are known after apply: ref tokens in the plan, ARNs in the request', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves(missing);
    aws.ecs.on(CreateServiceCommand).resolves({ service: { ...inSync, taskDefinition: tdArn(8) } });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: { ...inSync, taskDefinition: tdArn(8) } });
    const outputs = new Outputs();
    outputs.set('task-definition', { taskDefinitionArn: ref('task-definition', 'taskDefinitionArn'), logGroupName: '/ecs/fintech-api' });
    outputs.set('load-balancer', { targetGroupArn: ref('load-balancer', 'targetGroupArn'), listenerArn: ref('load-balancer', 'listenerArn') });
    const ctx = testContext({ outputs });
    const plan = await serviceStep.plan(ctx);
    expect(createdDocument(plan.changes[0])).toMatchObject({
      taskDefinition: '{{ref:task-definition.taskDefinitionArn}}',
      loadBalancers: [{ ...ourLoadBalancer, targetGroupArn: '{{ref:load-balancer.targetGroupArn}}' }],
    });
    // What the earlier steps' actions bound during this apply.
    ctx.bindings.set('task-definition.taskDefinitionArn', tdArn(8));
    ctx.bindings.set('load-balancer.targetGroupArn', tgArn);
    await serviceStep.apply(ctx, plan);
    expect(inputOf(CreateServiceCommand)).toMatchObject({ taskDefinition: tdArn(8), loadBalancers: [ourLoadBalancer] });
  });

  it('a create whose reply was lost is adopted when the re-read service is ours (moto drops the fields the next UpdateService sets)', async () => {
    aws.ecs
      .on(DescribeServicesCommand)
      .resolvesOnce(missing) // plan
      .resolves({ services: [motoAfterCreate] }); // the re-read after the lost reply
    aws.ecs.on(CreateServiceCommand).rejects(new AmbiguousWriteError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
    aws.ecs.on(UpdateServiceCommand).resolves({ service: motoConverged });
    const { ctx } = applyContext();
    const out = await serviceStep.apply(ctx, await serviceStep.plan(ctx));
    expect(aws.ecs.commandCalls(CreateServiceCommand)).toHaveLength(1);
    expect(writeCalls(aws)).toEqual(['ecs:CreateService', 'ecs:UpdateService']);
    expect(out).toEqual({ serviceArn, serviceName, deploymentId: 'ecs-svc/1000000000000000007' });
  });

  it('treats an INACTIVE or DRAINING service of the same name and a missing cluster as missing', async () => {
    aws.ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [{ ...inSync, status: 'INACTIVE' }] })
      .resolvesOnce({ services: [{ ...inSync, status: 'DRAINING' }] })
      .rejectsOnce(awsError('ClusterNotFoundException', 'Cluster not found.'));
    const { ctx } = applyContext();
    for (let i = 0; i < 3; i++) expect((await serviceStep.plan(ctx)).changes.map((c) => c.action)).toEqual(['create']);
    expect(writeCalls(aws)).toEqual([]);
  });
});

describe('service step (1.6): in sync', () => {
  it('plans nothing, writes nothing and hands on the current PRIMARY deployment', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [inSync] });
    const { ctx } = applyContext();
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    expect(plan.actions).toEqual([]);
    expect(plan.outputs).toEqual({ serviceArn, serviceName, deploymentId: 'ecs-svc/1000000000000000007' });
    expect(await serviceStep.apply(ctx, plan)).toEqual(plan.outputs);
    expect(writeCalls(aws)).toEqual([]);
    expect(await serviceStep.validate(ctx)).toEqual([{ check: 'ECS Service', status: 'OK', resource, reason: 'matches the config (fintech-api-task:7)' }]);
  });

  it('does not revert a desiredCount that auto scaling raised to 7 (create-only, on the ignore list)', async () => {
    expect(SERVICE_IGNORE).toContain('desiredCount');
    const scaledOut = { ...inSync, desiredCount: 7, runningCount: 7, deployments: [deployment('ecs-svc/1000000000000000007', 7, { desiredCount: 7, runningCount: 7 })] };
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [scaledOut] });
    const { ctx } = applyContext();
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    await serviceStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual([]);
  });

  it('moto after the create\'s UpdateService is in sync: launchType EC2 beside a strategy is moto\'s, family:rev is its literal task definition', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [motoConverged] });
    const plan = await serviceStep.plan(applyContext().ctx);
    expect(plan.changes).toEqual([]);
  });

  it('moto right after CreateService (fields dropped) is drift, which is why the create re-sends them', async () => {
    // Unit-tested: on moto the create's own UpdateService means no plan ever sees this state.
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [motoAfterCreate] });
    const plan = await serviceStep.plan(applyContext().ctx);
    expect(plan.changes[0].fields!.map((f) => f.field)).toEqual([
      'availabilityZoneRebalancing',
      'capacityProviderStrategy',
      'deploymentConfiguration.alarms', // moto drops them on create too: the follow-up UpdateService sets them
      'deploymentConfiguration.deploymentCircuitBreaker.enable',
      'deploymentConfiguration.deploymentCircuitBreaker.rollback',
      'enableECSManagedTags',
      'enableExecuteCommand',
      'healthCheckGracePeriodSeconds',
      'launchType',
    ]);
    expect(ops(plan)).toEqual(['ecs:UpdateService']);
  });
});

describe('service step (1.6): drift', () => {
  async function converge(service: Service, revision = 7) {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service] });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: inSync });
    aws.ecs.on(TagResourceCommand).resolves({});
    aws.ecs.on(UntagResourceCommand).resolves({});
    const { ctx } = applyContext(revision);
    const plan = await serviceStep.plan(ctx);
    const out = await serviceStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(ops(plan));
    return { plan, out, fields: plan.changes[0]?.fields ?? [] };
  }

  it('a new task definition revision: one UpdateService with only taskDefinition; the new PRIMARY deployment is handed on', async () => {
    aws.ecs.on(UpdateServiceCommand).resolves({});
    const started = {
      ...inSync,
      deployments: [deployment('ecs-svc/2000000000000000008', 7, { rolloutState: 'IN_PROGRESS', runningCount: 0 }), deployment('ecs-svc/1000000000000000006', 6, { status: 'ACTIVE' })],
    };
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [{ ...inSync, taskDefinition: tdArn(6) }] });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: started });
    const { ctx, recorder } = applyContext(7);
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes).toEqual([{ resource, action: 'update', fields: [{ field: 'taskDefinition', from: 'fintech-api-task:6', to: 'fintech-api-task:7' }] }]);
    expect(plan.outputs.deploymentId).toBe(ref('service', 'deploymentId'));
    const out = await serviceStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecs:UpdateService']);
    expect(inputOf(UpdateServiceCommand)).toEqual({ cluster, service: serviceName, taskDefinition: 'fintech-api-task:7' });
    // The deployment apply started is the new PRIMARY: Service Stable judges by it.
    expect(out.deploymentId).toBe('ecs-svc/2000000000000000008');
    expect(recorder.writes).toEqual([{ step: 'service', resource, resourceId: 'service', action: 'update', operation: 'UpdateService' }]);
  });

  it('a revision task-definition registers in this run shows as known after apply and is sent resolved', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [inSync] });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: inSync });
    const { ctx } = applyContext();
    ctx.outputs.set('task-definition', { taskDefinitionArn: ref('task-definition', 'taskDefinitionArn'), logGroupName: '/ecs/fintech-api' });
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes[0].fields).toEqual([{ field: 'taskDefinition', from: 'fintech-api-task:7', to: '{{ref:task-definition.taskDefinitionArn}}' }]);
    ctx.bindings.set('task-definition.taskDefinitionArn', tdArn(8));
    await serviceStep.apply(ctx, plan);
    expect(inputOf(UpdateServiceCommand)).toEqual({ cluster, service: serviceName, taskDefinition: tdArn(8) });
  });

  it('a public IP: the field is named and UpdateService puts DISABLED back', async () => {
    const { fields } = await converge({ ...inSync, networkConfiguration: publicNetwork });
    expect(fields).toEqual([{ field: 'networkConfiguration.awsvpcConfiguration.assignPublicIp', from: 'ENABLED', to: 'DISABLED' }]);
    expect(inputOf(UpdateServiceCommand)).toEqual({ cluster, service: serviceName, networkConfiguration: privateNetwork });
  });

  it('a service created with --launch-type FARGATE (the runbook as written) moves to the strategy with a forced deployment', async () => {
    const { fields } = await converge({ ...inSync, launchType: 'FARGATE', capacityProviderStrategy: [] });
    expect(fields).toEqual([
      { field: 'capacityProviderStrategy', from: undefined, to: strategy },
      { field: 'launchType', from: 'FARGATE', to: undefined },
    ]);
    expect(inputOf(UpdateServiceCommand)).toEqual({ cluster, service: serviceName, capacityProviderStrategy: strategy, forceNewDeployment: true });
  });

  it('issue 7 (f): minimumHealthyPercent 0 / maximumPercent 100 is drift that apply restores', async () => {
    const { fields } = await converge({ ...inSync, deploymentConfiguration: { ...inSync.deploymentConfiguration, minimumHealthyPercent: 0, maximumPercent: 100 } });
    expect(fields).toEqual([
      { field: 'deploymentConfiguration.maximumPercent', from: 100, to: 200 },
      { field: 'deploymentConfiguration.minimumHealthyPercent', from: 0, to: 100 },
    ]);
    expect(inputOf(UpdateServiceCommand)).toEqual({ cluster, service: serviceName, deploymentConfiguration });
  });

  it('deployment alarms replaced out of band, ECS Exec and a pinned platform version: one UpdateService turns them back', async () => {
    const { fields } = await converge({
      ...inSync,
      enableExecuteCommand: true,
      platformVersion: '1.3.0',
      deploymentConfiguration: { ...inSync.deploymentConfiguration, alarms: { alarmNames: ['x'], enable: true, rollback: false } },
    });
    expect(fields.map((f) => f.field)).toEqual([
      'deploymentConfiguration.alarms.alarmNames',
      'deploymentConfiguration.alarms.rollback',
      'enableExecuteCommand',
      'platformVersion',
    ]);
    expect(inputOf(UpdateServiceCommand)).toEqual({ cluster, service: serviceName, deploymentConfiguration, enableExecuteCommand: false, platformVersion: 'LATEST' });
  });

  it('issue 12: a service without deployment alarms (ECS reports them off, without names) gets ours, with rollback, in one UpdateService', async () => {
    const { fields } = await converge({ ...inSync, deploymentConfiguration: { ...inSync.deploymentConfiguration, alarms: { alarmNames: [], enable: false, rollback: false } } });
    expect(fields).toEqual([{ field: 'deploymentConfiguration.alarms', from: undefined, to: ourAlarms }]);
    expect(inputOf(UpdateServiceCommand)).toEqual({ cluster, service: serviceName, deploymentConfiguration });
  });

  it('issue 12: without deploy.alarms in the config, alarms added out of band are switched off explicitly (UpdateService keeps alarms it is not told about)', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [inSync] });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: { ...inSync, deployments: [deployment('ecs-svc/new', 7)] } });
    const ctx = applyContext().ctx;
    ctx.config = { ...ctx.config, deploy: { blockSeverity: 'CRITICAL' } };
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes[0].fields?.map((f) => f.field)).toEqual(['deploymentConfiguration.alarms']);
    await serviceStep.apply(ctx, plan);
    const { alarms, ...withoutAlarms } = deploymentConfiguration;
    expect(alarms).toBeDefined();
    expect(aws.ecs.commandCalls(UpdateServiceCommand)[0].args[0].input).toEqual({
      cluster,
      service: serviceName,
      deploymentConfiguration: { ...withoutAlarms, alarms: { alarmNames: [], enable: false, rollback: false } },
    });
  });

  it('an extra load balancer is drift: the service is left with exactly ours', async () => {
    const other = { targetGroupArn: `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:targetgroup/other-tg/0123456789abcdef`, containerName: 'api-container', containerPort: 8080 };
    const { fields } = await converge({ ...inSync, loadBalancers: [ourLoadBalancer, other] });
    expect(fields.map((f) => f.field)).toEqual(['loadBalancers']);
    expect(inputOf(UpdateServiceCommand)).toEqual({ cluster, service: serviceName, loadBalancers: [ourLoadBalancer] });
  });

  it('several drifted fields go into ONE UpdateService, which never carries desiredCount (scaled out to 7 stays 7)', async () => {
    const { fields } = await converge(
      {
        ...inSync,
        taskDefinition: tdArn(6),
        desiredCount: 7,
        runningCount: 7,
        healthCheckGracePeriodSeconds: 0,
        deploymentConfiguration: { ...inSync.deploymentConfiguration, deploymentCircuitBreaker: { enable: false, rollback: false } },
      },
      7,
    );
    expect(fields.map((f) => f.field)).toEqual([
      'deploymentConfiguration.deploymentCircuitBreaker.enable',
      'deploymentConfiguration.deploymentCircuitBreaker.rollback',
      'healthCheckGracePeriodSeconds',
      'taskDefinition',
    ]);
    const input = inputOf(UpdateServiceCommand);
    expect(input).toEqual({ cluster, service: serviceName, taskDefinition: 'fintech-api-task:7', healthCheckGracePeriodSeconds: 60, deploymentConfiguration });
    expect(input).not.toHaveProperty('desiredCount');
  });

  it('a missing tag is a tag diff: TagResource on the service, no UpdateService (no needless deployment); foreign tags stay', async () => {
    const { fields, out } = await converge({ ...inSync, tags: [tags[0], tags[1], { key: 'SecurityScan', value: 'weekly' }] });
    expect(fields).toEqual([{ field: 'tags.CostCenter', from: undefined, to: 'CC-Corp' }]);
    expect(writeCalls(aws)).toEqual(['ecs:TagResource']);
    expect(aws.ecs.commandCalls(TagResourceCommand)[0].args[0].input).toEqual({ resourceArn: serviceArn, tags: [{ key: 'CostCenter', value: 'CC-Corp' }] });
    // Tags start no deployment: the current one is still the one to judge.
    expect(out.deploymentId).toBe('ecs-svc/1000000000000000007');
  });

  it('validate names the drifted fields and writes nothing', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [{ ...inSync, networkConfiguration: publicNetwork }] });
    const findings = await serviceStep.validate(applyContext().ctx);
    expect(findings).toEqual([
      { check: 'ECS Service', status: 'FAIL', resource, reason: 'differs from the config: networkConfiguration.awsvpcConfiguration.assignPublicIp (run plan)' },
    ]);
    expect(writeCalls(aws)).toEqual([]);
  });

  it('validate without the outputs of task-definition and load-balancer cannot judge: FAIL, never OK', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [inSync] });
    const findings = await serviceStep.validate(testContext());
    expect(findings).toEqual([
      { check: 'ECS Service', status: 'FAIL', resource, reason: 'could not be evaluated: the outputs of task-definition, load-balancer are not known' },
    ]);
  });
});

describe('service step (1.6): the ignore list is a deny-list', () => {
  it('a field nobody thought of is drift, and one no call can change is refused', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [{ ...inSync, someNewField: { enabled: true } } as Service] });
    const error = await serviceStep.plan(applyContext().ctx).catch((e: unknown) => e);
    expect(String(error)).toMatch(/someNewField differ\(s\) and cannot be changed in place; a person must decide/);
  });

  it('fields ECS sets itself are not drift', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({
      services: [
        {
          ...inSync,
          runningCount: 2,
          pendingCount: 1,
          events: [{ id: 'e1', message: 'steady state', createdAt: deployedAt }],
          createdBy: 'someone-else',
          roleArn: 'another-role',
          platformFamily: 'Windows',
          currentServiceDeployment: `arn:aws:ecs:us-east-1:${ACCOUNT_ID}:service-deployment/x`,
          taskSets: [{ id: 'ts-1' }],
          resourceManagementType: 'CUSTOMER',
        },
      ],
    });
    expect((await serviceStep.plan(applyContext().ctx)).changes).toEqual([]);
  });

  it('an updatable field AWS reports that the config does not set (AZ rebalancing off) is drift and converged', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [{ ...inSync, availabilityZoneRebalancing: 'DISABLED' }] });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: inSync });
    const { ctx } = applyContext();
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes[0].fields).toEqual([{ field: 'availabilityZoneRebalancing', from: 'DISABLED', to: 'ENABLED' }]);
    await serviceStep.apply(ctx, plan);
    expect(inputOf(UpdateServiceCommand)).toEqual({ cluster, service: serviceName, availabilityZoneRebalancing: 'ENABLED' });
  });

  it('Service Connect turned on out of band (reported on the PRIMARY deployment) is drift, and turned off', async () => {
    const connect = { enabled: true, namespace: 'arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-1' };
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [{ ...inSync, deployments: [deployment('ecs-svc/1000000000000000007', 7, { serviceConnectConfiguration: connect })] }] });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: inSync });
    const { ctx } = applyContext();
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes[0].fields).toEqual([{ field: 'serviceConnectConfiguration', from: connect, to: undefined }]);
    await serviceStep.apply(ctx, plan);
    expect(inputOf(UpdateServiceCommand)).toEqual({ cluster, service: serviceName, serviceConnectConfiguration: { enabled: false } });
  });

  it('fields UpdateService cannot change (scheduling strategy, deployment controller) are refused: a person must decide', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [{ ...inSync, schedulingStrategy: 'DAEMON', deploymentController: { type: 'CODE_DEPLOY' } }] });
    const error = await serviceStep.plan(applyContext().ctx).catch((e: unknown) => e);
    expect(String(error)).toMatch(/deploymentController, schedulingStrategy differ\(s\) and cannot be changed in place/);
    expect(writeCalls(aws)).toEqual([]);
  });
});

describe('service step (1.6): rollback', () => {
  it('deletes (force) a service this run created, in the configured cluster; a second rollback writes nothing', async () => {
    aws.ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [inSync] })
      .resolves({ services: [{ ...inSync, status: 'DRAINING' }] }); // AWS drains before INACTIVE
    aws.ecs.on(DeleteServiceCommand).resolves({ service: { ...inSync, status: 'DRAINING' } });
    const { ctx, recorder } = applyContext();
    await serviceStep.rollback(ctx, { service: undefined }, new Set(['service']));
    await serviceStep.rollback(ctx, { service: undefined }, new Set(['service']));
    expect(writeCalls(aws)).toEqual(['ecs:DeleteService']);
    expect(aws.ecs.commandCalls(DeleteServiceCommand)[0].args[0].input).toEqual({ cluster, service: serviceName, force: true });
    expect(recorder.writes).toEqual([{ step: 'service', resource, resourceId: 'service', action: 'delete', operation: 'DeleteService' }]);
    for (const call of aws.ecs.commandCalls(DescribeServicesCommand)) expect(call.args[0].input.cluster).toBe(cluster);
  });

  it('a retried delete that finds the service gone is done', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [inSync] });
    aws.ecs.on(DeleteServiceCommand).rejects(awsError('ServiceNotFoundException', 'Service not found.'));
    await expect(serviceStep.rollback(applyContext().ctx, { service: undefined }, new Set(['service']))).resolves.toEqual([]);
  });

  it('never deletes a service this run did not provably create', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [inSync] });
    const notes = await serviceStep.rollback(applyContext().ctx, { service: undefined }, new Set());
    expect(writeCalls(aws)).toEqual([]);
    expect(notes.join()).toMatch(/not created by this run/);
  });

  it('a pre-existing service goes back to before (revision, public IP, tags; UpdateService with the cluster, row 9); never deleted; twice is a no-op', async () => {
    const beforeService: Service = {
      ...inSync,
      taskDefinition: tdArn(6),
      networkConfiguration: publicNetwork,
      deployments: [deployment('ecs-svc/1000000000000000006', 6)],
      tags: [{ key: 'Environment', value: 'Staging' }],
    };
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [beforeService] });
    const { ctx } = applyContext(7);
    const before = (await serviceStep.plan(ctx)).before;
    aws.ecs.reset();
    aws.ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [inSync] }) // the run moved it to 7, private, tagged
      .resolves({ services: [beforeService] }); // after the first rollback
    aws.ecs.on(UpdateServiceCommand).resolves({ service: beforeService });
    aws.ecs.on(TagResourceCommand).resolves({});
    aws.ecs.on(UntagResourceCommand).resolves({});

    // The run's own writes (not sent here: the mocks stand for them) emptied its read cache.
    const undo = applyContext(7).ctx;
    await serviceStep.rollback(undo, before, new Set());
    expect(writeCalls(aws)).toEqual(['ecs:UpdateService', 'ecs:TagResource', 'ecs:UntagResource']);
    expect(inputOf(UpdateServiceCommand)).toEqual({ cluster, service: serviceName, taskDefinition: 'fintech-api-task:6', networkConfiguration: publicNetwork });
    expect(aws.ecs.commandCalls(TagResourceCommand)[0].args[0].input.tags).toEqual([{ key: 'Environment', value: 'Staging' }]);
    // Only managed keys are untagged: SecurityScan is someone else's.
    expect(aws.ecs.commandCalls(UntagResourceCommand)[0].args[0].input.tagKeys).toEqual(['Project', 'CostCenter']);

    await serviceStep.rollback(undo, before, new Set());
    expect(writeCalls(aws)).toHaveLength(3);
    expect(aws.ecs.commandCalls(DeleteServiceCommand)).toHaveLength(0);
  });

  it('a service that had a launch type goes back to it: an empty strategy, with a forced deployment', async () => {
    const onLaunchType = { ...inSync, launchType: 'FARGATE' as const, capacityProviderStrategy: undefined };
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [onLaunchType] });
    const { ctx } = applyContext();
    const before = (await serviceStep.plan(ctx)).before;
    aws.ecs.reset();
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [inSync] });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: onLaunchType });
    // The run's own writes (not sent here: the mocks stand for them) emptied its read cache.
    const undo = applyContext().ctx;
    const planned = await serviceStep.planRollback(undo, before, new Set());
    expect(planned.changes[0].fields!.map((f) => f.field)).toEqual(['capacityProviderStrategy', 'launchType']);
    await serviceStep.rollback(undo, before, new Set());
    expect(inputOf(UpdateServiceCommand)).toEqual({ cluster, service: serviceName, capacityProviderStrategy: [], forceNewDeployment: true });
  });
});

describe('service step (1.6): AWS errors', () => {
  it('surfaces a Describe error with its name and request id', async () => {
    aws.ecs.on(DescribeServicesCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform ecs:DescribeServices', 'req-svc-1'));
    const error = await serviceStep.plan(applyContext().ctx).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('AccessDeniedException: not authorized to perform ecs:DescribeServices — request id req-svc-1');
  });

  it('surfaces a CreateService error with its name and request id, and sends nothing after it', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves(missing);
    aws.ecs.on(CreateServiceCommand).rejects(awsError('InvalidParameterException', 'The target group does not have an associated load balancer.', 'req-svc-2'));
    const { ctx } = applyContext();
    const error = await serviceStep.apply(ctx, await serviceStep.plan(ctx)).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('InvalidParameterException: The target group does not have an associated load balancer. — request id req-svc-2');
    expect(writeCalls(aws)).toEqual(['ecs:CreateService']);
  });
});

describe('service step (1.6): section 4.1 checks after apply', () => {
  // Unit-tested: moto never fails a deployment or rolls one back (DESIGN.md §9).
  it('Service Stable fails when the circuit breaker rolled the deployment back', async () => {
    const ours = 'ecs-svc/2000000000000000008';
    const rollbackId = 'ecs-svc/3000000000000000009';
    const before = { ...inSync, taskDefinition: tdArn(6), deployments: [deployment('ecs-svc/1000000000000000006', 6)] };
    const started: Service = {
      ...inSync,
      deployments: [deployment(ours, 7, { rolloutState: 'IN_PROGRESS', runningCount: 0 }), deployment('ecs-svc/1000000000000000006', 6, { status: 'ACTIVE' })],
    };
    // What the stock waitUntilServicesStable calls stable: one deployment, 3/3 running — on revision 6.
    const rolledBack: Service = {
      ...inSync,
      taskDefinition: tdArn(6),
      deployments: [deployment(rollbackId, 6)],
      events: [{ id: 'ev-2', createdAt: new Date(), message: `(service ${serviceName}) (deployment ${ours}) deployment failed: tasks failed to start.` }],
    };
    aws.ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [before] }) // plan
      .resolvesOnce({ services: [started] }) // first poll: our deployment in progress
      .resolves({ services: [rolledBack] }); // then: the circuit breaker's rollback deployment completed
    aws.ecs.on(UpdateServiceCommand).resolves({ service: started });
    const { ctx, reports } = applyContext(7);

    // What the runner does: plan, apply, hand the outputs on, run the checks.
    const out = await serviceStep.apply(ctx, await serviceStep.plan(ctx));
    expect(out.deploymentId).toBe(ours);
    ctx.outputs.set('service', out);
    const findings = await serviceStep.postDeployChecks!(ctx, { wait: true });

    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ check: 'Service Stable', status: 'FAIL', resource });
    expect(findings[0].reason).toContain(ours);
    expect(findings[0].reason).toContain(rollbackId);
    expect(findings[0].reason).toContain('fintech-api-task:6');
    expect(findings[0].reason).toContain('circuit breaker');
    expect(reports).toContain(`service event: ${rolledBack.events![0].message}`);
    // The targets and logs of a rolled-back deployment are not judged: no call was made for them.
    expect(aws.elbv2.calls()).toHaveLength(0);
    expect(aws.logs.calls()).toHaveLength(0);
    expect(writeCalls(aws)).toEqual(['ecs:UpdateService']);
  });

  it('Service Stable fails when our deployment is still PRIMARY but its rollout FAILED', async () => {
    const ours = 'ecs-svc/2000000000000000008';
    aws.ecs.on(DescribeServicesCommand).resolves({
      services: [{ ...inSync, deployments: [deployment(ours, 7, { rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.', runningCount: 0 })] }],
    });
    const { ctx } = applyContext(7);
    ctx.outputs.set('service', { serviceArn, serviceName, deploymentId: ours });
    expect(await serviceStep.postDeployChecks!(ctx, { wait: true })).toEqual([
      { check: 'Service Stable', status: 'FAIL', resource, reason: `deployment ${ours} FAILED: ECS deployment circuit breaker: tasks failed to start.` },
    ]);
    expect(aws.elbv2.calls()).toHaveLength(0);
    expect(aws.logs.calls()).toHaveLength(0);
  });

  function healthyTargetsAndLogs() {
    const healthy = (ip: string) => ({ Target: { Id: ip, Port: 8080 }, TargetHealth: { State: 'healthy' as const } });
    aws.elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [healthy('10.0.1.10'), healthy('10.0.2.11'), healthy('10.0.1.12')] });
    aws.logs.on(DescribeLogStreamsCommand).resolves({ logStreams: [{ logStreamName: 'app/api-container-firelens-0a1b2c' }] });
    aws.logs.on(FilterLogEventsCommand).resolves({ events: [{ timestamp: deployedAt.getTime() + 5000, message: 'started' }] });
  }

  it('a stable deployment goes on to Tasks Healthy and Logs Flowing', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [inSync] });
    healthyTargetsAndLogs();
    const { ctx } = applyContext(7);
    ctx.outputs.set('service', { serviceArn, serviceName, deploymentId: 'ecs-svc/1000000000000000007' });
    const findings = await serviceStep.postDeployChecks!(ctx, { wait: true });
    expect(findings.map((f) => [f.check, f.status])).toEqual([
      ['Service Stable', 'OK'],
      ['Tasks Healthy', 'OK'],
      ['Logs Flowing', 'OK'],
    ]);
  });

  it('should a reply list a non-PRIMARY deployment first, the checks judge by the PRIMARY one rather than a wrong id', async () => {
    const ours = 'ecs-svc/2000000000000000008';
    const reply: Service = { ...inSync, deployments: [deployment('ecs-svc/1000000000000000006', 6, { status: 'ACTIVE' }), deployment(ours, 7, { rolloutState: 'IN_PROGRESS' })] };
    const stable: Service = { ...inSync, deployments: [deployment(ours, 7)] };
    aws.ecs.on(DescribeServicesCommand).resolvesOnce({ services: [{ ...inSync, taskDefinition: tdArn(6) }] }).resolves({ services: [stable] });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: reply });
    healthyTargetsAndLogs();
    const { ctx } = applyContext(7);
    ctx.outputs.set('service', await serviceStep.apply(ctx, await serviceStep.plan(ctx)));
    const findings = await serviceStep.postDeployChecks!(ctx, { wait: true });
    expect(findings[0]).toMatchObject({ check: 'Service Stable', status: 'OK' });
    expect(findings[0].reason).toContain(ours);
  });
});
