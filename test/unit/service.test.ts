import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  TagResourceCommand,
  UpdateServiceCommand,
  type Deployment,
  type Service,
} from '@aws-sdk/client-ecs';
import { DescribeLogStreamsCommand, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { beforeEach, describe, expect, it } from 'vitest';
import { serviceStep, type ServiceState } from '../../steps/service.js';
import { describeAwsError } from '../../src/core/errors.js';
import { Outputs } from '../../src/core/step.js';
import { ACCOUNT_ID, RecordingRecorder, awsError, fixtureEnv, mockAws, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

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

const configStrategy = [
  { capacityProvider: 'FARGATE_SPOT', weight: 2 },
  { capacityProvider: 'FARGATE', weight: 1, base: 1 },
];
const privateNetwork = {
  awsvpcConfiguration: { subnets: [subnetA, subnetB], securityGroups: [ecsSg], assignPublicIp: 'DISABLED' },
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
  capacityProviderStrategy: [
    { capacityProvider: 'FARGATE_SPOT', weight: 2, base: 0 },
    { capacityProvider: 'FARGATE', weight: 1, base: 1 },
  ],
  networkConfiguration: { awsvpcConfiguration: { subnets: [subnetB, subnetA], securityGroups: [ecsSg], assignPublicIp: 'DISABLED' } },
  loadBalancers: [{ targetGroupArn: tgArn, containerName: 'api-container', containerPort: 8080 }],
  healthCheckGracePeriodSeconds: 60,
  deploymentConfiguration: {
    deploymentCircuitBreaker: { enable: true, rollback: true },
    maximumPercent: 200,
    minimumHealthyPercent: 100,
  },
  deployments: [deployment('ecs-svc/1000000000000000007', 7)],
  events: [],
  tags,
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

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});

describe('service step (1.6): fresh', () => {
  it('creates the service with a capacity provider strategy (no launch type), private subnets, circuit breaker and the LB', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves(missing);
    aws.ecs.on(CreateServiceCommand).resolves({ service: { ...inSync, deployments: [deployment('ecs-svc/0000000000000000001', 7, { rolloutState: 'IN_PROGRESS', runningCount: 0 })] } });
    const { ctx, reports, recorder } = applyContext();

    const plan = await serviceStep.plan(ctx);
    expect(plan.before).toEqual({ exists: false });
    expect(plan.changes).toHaveLength(1);
    expect(plan.changes[0]).toMatchObject({ resource, action: 'create' });
    expect(plan.changes[0].fields).toEqual([
      { field: 'taskDefinition', from: undefined, to: 'fintech-api-task:7' },
      { field: 'desiredCount', from: undefined, to: 3 },
      {
        field: 'capacityProviderStrategy',
        from: undefined,
        to: [
          { capacityProvider: 'FARGATE_SPOT', weight: 2, base: 0 },
          { capacityProvider: 'FARGATE', weight: 1, base: 1 },
        ],
      },
      { field: 'networkConfiguration', from: undefined, to: privateNetwork },
      { field: 'deploymentCircuitBreaker', from: undefined, to: { enable: true, rollback: true } },
    ]);
    // DESIGN.md §8 row 10: the runbook's "will auto-rollback" is not true for a first deployment.
    expect(plan.changes[0].note).toMatch(/first deployment/);
    expect(plan.changes[0].note).toMatch(/circuit breaker/);

    const out = await serviceStep.apply(ctx, plan);
    expect(out).toEqual({ serviceArn, serviceName, deploymentId: 'ecs-svc/0000000000000000001' });
    expect(reports.some((m) => /first deployment/.test(m) && /circuit breaker cannot roll it back/.test(m))).toBe(true);

    expect(writeCalls(aws)).toEqual(['ecs:CreateService']);
    const input = aws.ecs.commandCalls(CreateServiceCommand)[0].args[0].input;
    expect(input).toEqual({
      cluster,
      serviceName,
      taskDefinition: tdArn(7),
      desiredCount: 3,
      capacityProviderStrategy: configStrategy,
      networkConfiguration: privateNetwork,
      loadBalancers: [{ targetGroupArn: tgArn, containerName: 'api-container', containerPort: 8080 }],
      healthCheckGracePeriodSeconds: 60,
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } },
      propagateTags: 'SERVICE',
      enableECSManagedTags: true,
      tags,
    });
    // DESIGN.md §8 row 1: a launch type would override the Spot strategy.
    expect(input).not.toHaveProperty('launchType');
    expect(recorder.writes).toEqual([{ step: 'service', resource, action: 'create', operation: 'CreateService' }]);
    // Describe goes to the configured cluster and asks for tags (drift compares them).
    expect(aws.ecs.commandCalls(DescribeServicesCommand)[0].args[0].input).toEqual({ cluster, services: [serviceName], include: ['TAGS'] });
  });

  it('treats an INACTIVE service of the same name (deleted earlier) and a missing cluster as missing', async () => {
    aws.ecs.on(DescribeServicesCommand).resolvesOnce({ services: [{ ...inSync, status: 'INACTIVE' }] }).rejectsOnce(awsError('ClusterNotFoundException', 'Cluster not found.'));
    const { ctx } = applyContext();
    expect((await serviceStep.plan(ctx)).changes.map((c) => c.action)).toEqual(['create']);
    expect((await serviceStep.plan(ctx)).changes.map((c) => c.action)).toEqual(['create']);
    expect(writeCalls(aws)).toEqual([]);
  });
});

describe('service step (1.6): in sync', () => {
  it('plans nothing, writes nothing and hands on the current PRIMARY deployment', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [inSync] });
    const { ctx } = applyContext();
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    expect(plan.outputs).toEqual({ serviceArn, serviceName, deploymentId: 'ecs-svc/1000000000000000007' });
    const out = await serviceStep.apply(ctx, plan);
    expect(out).toEqual({ serviceArn, serviceName, deploymentId: 'ecs-svc/1000000000000000007' });
    expect(writeCalls(aws)).toEqual([]);
    const findings = await serviceStep.validate(ctx);
    expect(findings).toEqual([{ check: 'ECS Service', status: 'OK', resource, reason: 'matches the config (fintech-api-task:7)' }]);
  });

  it('does not revert a desiredCount that auto scaling raised to 7', async () => {
    const scaledOut = { ...inSync, desiredCount: 7, runningCount: 7, deployments: [deployment('ecs-svc/1000000000000000007', 7, { desiredCount: 7, runningCount: 7 })] };
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [scaledOut] });
    const { ctx } = applyContext();
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    await serviceStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual([]);
  });

  it('does not count fields the endpoint does not report as drift (moto drops them on CreateService), and reads moto\'s literal family:rev', async () => {
    const motoLike: Service = {
      ...inSync,
      taskDefinition: 'fintech-api-task:7', // moto after UpdateService: the literal string that was sent
      deploymentConfiguration: undefined,
      healthCheckGracePeriodSeconds: undefined,
      capacityProviderStrategy: undefined,
      launchType: undefined,
    };
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [motoLike] });
    const { ctx } = applyContext();
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    await serviceStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual([]);
  });

  it('in plan mode (no new revision registered yet) any revision of the family matches', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [{ ...inSync, taskDefinition: tdArn(4) }] });
    const outputs = new Outputs();
    outputs.set('load-balancer', { targetGroupArn: tgArn, listenerArn });
    const plan = await serviceStep.plan(testContext({ outputs }));
    expect(plan.changes).toEqual([]);
  });
});

describe('service step (1.6): drift', () => {
  it('a new task definition revision: field diff and one UpdateService with only taskDefinition, in the configured cluster', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [{ ...inSync, taskDefinition: tdArn(6) }] });
    aws.ecs.on(UpdateServiceCommand).resolves({
      service: {
        ...inSync,
        deployments: [
          deployment('ecs-svc/2000000000000000008', 7, { rolloutState: 'IN_PROGRESS', runningCount: 0 }),
          deployment('ecs-svc/1000000000000000006', 6, { status: 'ACTIVE' }),
        ],
      },
    });
    const { ctx, recorder } = applyContext(7);
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes).toEqual([
      { resource, action: 'update', fields: [{ field: 'taskDefinition', from: 'fintech-api-task:6', to: 'fintech-api-task:7' }] },
    ]);
    expect((plan.before as ServiceState).taskDefinition).toBe(tdArn(6));
    const out = await serviceStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecs:UpdateService']);
    expect(aws.ecs.commandCalls(UpdateServiceCommand)[0].args[0].input).toEqual({ cluster, service: serviceName, taskDefinition: tdArn(7) });
    // The deployment apply started is the new PRIMARY: Service Stable judges by it.
    expect(out.deploymentId).toBe('ecs-svc/2000000000000000008');
    expect(recorder.writes).toEqual([{ step: 'service', resource, action: 'update', operation: 'UpdateService' }]);
  });

  it('a public IP: diff of the network configuration and UpdateService back to DISABLED', async () => {
    const publicIp = { awsvpcConfiguration: { subnets: [subnetB, subnetA], securityGroups: [ecsSg], assignPublicIp: 'ENABLED' as const } };
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [{ ...inSync, networkConfiguration: publicIp }] });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: inSync });
    const { ctx } = applyContext();
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes[0].fields).toEqual([
      {
        field: 'networkConfiguration',
        from: { awsvpcConfiguration: { subnets: [subnetA, subnetB], securityGroups: [ecsSg], assignPublicIp: 'ENABLED' } },
        to: privateNetwork,
      },
    ]);
    await serviceStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecs:UpdateService']);
    expect(aws.ecs.commandCalls(UpdateServiceCommand)[0].args[0].input).toEqual({ cluster, service: serviceName, networkConfiguration: privateNetwork });
  });

  it('a service created with --launch-type FARGATE (the runbook as written) moves to the capacity provider strategy with a forced deployment', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [{ ...inSync, launchType: 'FARGATE', capacityProviderStrategy: [] }] });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: inSync });
    const { ctx } = applyContext();
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes[0].fields).toEqual([
      {
        field: 'capacityProviderStrategy',
        from: 'launchType FARGATE',
        to: [
          { capacityProvider: 'FARGATE_SPOT', weight: 2, base: 0 },
          { capacityProvider: 'FARGATE', weight: 1, base: 1 },
        ],
      },
    ]);
    await serviceStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecs:UpdateService']);
    expect(aws.ecs.commandCalls(UpdateServiceCommand)[0].args[0].input).toEqual({
      cluster,
      service: serviceName,
      capacityProviderStrategy: configStrategy,
      forceNewDeployment: true,
    });
  });

  it('several drifted fields go into ONE UpdateService, which never carries desiredCount (scaled out to 7 stays 7)', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({
      services: [
        {
          ...inSync,
          taskDefinition: tdArn(6),
          desiredCount: 7,
          runningCount: 7,
          healthCheckGracePeriodSeconds: 0,
          deploymentConfiguration: { deploymentCircuitBreaker: { enable: false, rollback: false } },
        },
      ],
    });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: inSync });
    const { ctx } = applyContext(7);
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes[0].fields!.map((f) => f.field)).toEqual(['taskDefinition', 'healthCheckGracePeriodSeconds', 'deploymentCircuitBreaker']);
    expect(plan.changes[0].fields![1]).toEqual({ field: 'healthCheckGracePeriodSeconds', from: 0, to: 60 });
    expect(plan.changes[0].fields![2]).toEqual({ field: 'deploymentCircuitBreaker', from: { enable: false, rollback: false }, to: { enable: true, rollback: true } });
    await serviceStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecs:UpdateService']);
    const input = aws.ecs.commandCalls(UpdateServiceCommand)[0].args[0].input;
    expect(input).toEqual({
      cluster,
      service: serviceName,
      taskDefinition: tdArn(7),
      healthCheckGracePeriodSeconds: 60,
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } },
    });
    expect(input).not.toHaveProperty('desiredCount');
  });

  it('a service attached to another target group is pointed at this run\'s target group', async () => {
    const otherTg = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:targetgroup/other-tg/0123456789abcdef`;
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [{ ...inSync, loadBalancers: [{ targetGroupArn: otherTg, containerName: 'api-container', containerPort: 8080 }] }] });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: inSync });
    const { ctx } = applyContext();
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes[0].fields!.map((f) => f.field)).toEqual(['loadBalancers']);
    await serviceStep.apply(ctx, plan);
    expect(aws.ecs.commandCalls(UpdateServiceCommand)[0].args[0].input).toEqual({
      cluster,
      service: serviceName,
      loadBalancers: [{ targetGroupArn: tgArn, containerName: 'api-container', containerPort: 8080 }],
    });
  });

  it('a missing tag is a tag diff: TagResource on the service, no UpdateService (no needless deployment)', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [{ ...inSync, tags: tags.slice(0, 2) }] });
    aws.ecs.on(TagResourceCommand).resolves({});
    const { ctx } = applyContext();
    const plan = await serviceStep.plan(ctx);
    expect(plan.changes[0].fields).toEqual([{ field: 'tags.CostCenter', from: undefined, to: 'CC-Corp' }]);
    await serviceStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecs:TagResource']);
    const input = aws.ecs.commandCalls(TagResourceCommand)[0].args[0].input;
    expect(input.resourceArn).toBe(serviceArn);
    expect(input.tags).toContainEqual({ key: 'CostCenter', value: 'CC-Corp' });
  });

  it('validate names the drifted fields', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({
      services: [{ ...inSync, networkConfiguration: { awsvpcConfiguration: { ...inSync.networkConfiguration!.awsvpcConfiguration!, assignPublicIp: 'ENABLED' } } }],
    });
    const findings = await serviceStep.validate(applyContext().ctx);
    expect(findings).toEqual([{ check: 'ECS Service', status: 'FAIL', resource, reason: 'differs from the config: networkConfiguration' }]);
    expect(writeCalls(aws)).toEqual([]);
  });
});

describe('service step (1.6): rollback', () => {
  it('deletes (force) a service this run created, in the configured cluster; a second rollback writes nothing', async () => {
    aws.ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [inSync] })
      .resolves({ services: [{ ...inSync, status: 'INACTIVE' }] });
    aws.ecs.on(DeleteServiceCommand).resolves({ service: { ...inSync, status: 'DRAINING' } });
    const { ctx, recorder } = applyContext();
    await serviceStep.rollback(ctx, { exists: false });
    await serviceStep.rollback(ctx, { exists: false });
    expect(writeCalls(aws)).toEqual(['ecs:DeleteService']);
    expect(aws.ecs.commandCalls(DeleteServiceCommand)[0].args[0].input).toEqual({ cluster, service: serviceName, force: true });
    expect(recorder.writes).toEqual([{ step: 'service', resource, action: 'delete', operation: 'DeleteService' }]);
    for (const call of aws.ecs.commandCalls(DescribeServicesCommand)) expect(call.args[0].input.cluster).toBe(cluster);
  });

  it('puts a pre-existing service back on its previous task definition (UpdateService with the cluster, row 9); never deletes; twice is safe', async () => {
    const before = { ...inSync, taskDefinition: tdArn(6), deployments: [deployment('ecs-svc/1000000000000000006', 6)] };
    aws.ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [before] }) // plan
      .resolvesOnce({ services: [inSync] }) // first rollback: the run moved it to 7
      .resolves({ services: [before] }); // second rollback: already back on 6
    aws.ecs.on(UpdateServiceCommand).resolves({ service: before });
    const { ctx } = applyContext(7);
    const plan = await serviceStep.plan(ctx);
    expect(plan.before).toMatchObject({ exists: true, taskDefinition: tdArn(6) });

    await serviceStep.rollback(ctx, plan.before);
    expect(writeCalls(aws)).toEqual(['ecs:UpdateService']);
    expect(aws.ecs.commandCalls(UpdateServiceCommand)[0].args[0].input).toEqual({ cluster, service: serviceName, taskDefinition: tdArn(6) });

    await serviceStep.rollback(ctx, plan.before);
    expect(writeCalls(aws)).toEqual(['ecs:UpdateService']);
    expect(aws.ecs.commandCalls(DeleteServiceCommand)).toHaveLength(0);
  });

  it('restores the network configuration it changed on a pre-existing service', async () => {
    const publicIp = { awsvpcConfiguration: { subnets: [subnetA, subnetB], securityGroups: [ecsSg], assignPublicIp: 'ENABLED' as const } };
    const beforeService = { ...inSync, networkConfiguration: publicIp };
    aws.ecs.on(DescribeServicesCommand).resolvesOnce({ services: [beforeService] }).resolvesOnce({ services: [inSync] }).resolves({ services: [beforeService] });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: beforeService });
    const { ctx } = applyContext();
    const plan = await serviceStep.plan(ctx);
    await serviceStep.rollback(ctx, plan.before);
    await serviceStep.rollback(ctx, plan.before);
    expect(writeCalls(aws)).toEqual(['ecs:UpdateService']);
    expect(aws.ecs.commandCalls(UpdateServiceCommand)[0].args[0].input).toEqual({ cluster, service: serviceName, networkConfiguration: publicIp });
  });

  it('does nothing at all without a before state', async () => {
    await serviceStep.rollback(applyContext().ctx, undefined);
    expect(aws.ecs.calls()).toHaveLength(0);
  });
});

describe('service step (1.6): AWS errors', () => {
  it('surfaces a Describe error with its name and request id', async () => {
    aws.ecs.on(DescribeServicesCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform ecs:DescribeServices', 'req-svc-1'));
    const error = await serviceStep.plan(applyContext().ctx).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('AccessDeniedException: not authorized to perform ecs:DescribeServices — request id req-svc-1');
  });

  it('surfaces a CreateService error with its name and request id', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves(missing);
    aws.ecs
      .on(CreateServiceCommand)
      .rejects(awsError('InvalidParameterException', 'The target group does not have an associated load balancer.', 'req-svc-2'));
    const { ctx } = applyContext();
    const plan = await serviceStep.plan(ctx);
    const error = await serviceStep.apply(ctx, plan).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe(
      'InvalidParameterException: The target group does not have an associated load balancer. — request id req-svc-2',
    );
  });
});

describe('service step (1.6): section 4.1 checks after apply', () => {
  it('Service Stable fails when the circuit breaker rolled the deployment back', async () => {
    const ours = 'ecs-svc/2000000000000000008';
    const rollbackId = 'ecs-svc/3000000000000000009';
    const before = { ...inSync, taskDefinition: tdArn(6), deployments: [deployment('ecs-svc/1000000000000000006', 6)] };
    const started: Service = {
      ...inSync,
      deployments: [
        deployment(ours, 7, { rolloutState: 'IN_PROGRESS', runningCount: 0 }),
        deployment('ecs-svc/1000000000000000006', 6, { status: 'ACTIVE' }),
      ],
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
    const plan = await serviceStep.plan(ctx);
    const out = await serviceStep.apply(ctx, plan);
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
    const findings = await serviceStep.postDeployChecks!(ctx, { wait: true });
    expect(findings).toEqual([
      { check: 'Service Stable', status: 'FAIL', resource, reason: `deployment ${ours} FAILED: ECS deployment circuit breaker: tasks failed to start.` },
    ]);
    expect(aws.elbv2.calls()).toHaveLength(0);
    expect(aws.logs.calls()).toHaveLength(0);
  });

  it('a stable deployment goes on to Tasks Healthy and Logs Flowing', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [inSync] });
    const healthy = (ip: string) => ({ Target: { Id: ip, Port: 8080 }, TargetHealth: { State: 'healthy' as const } });
    aws.elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [healthy('10.0.1.10'), healthy('10.0.2.11'), healthy('10.0.1.12')] });
    aws.logs.on(DescribeLogStreamsCommand).resolves({ logStreams: [{ logStreamName: 'app/api-container-firelens-0a1b2c' }] });
    aws.logs.on(FilterLogEventsCommand).resolves({ events: [{ timestamp: deployedAt.getTime() + 5000, message: 'started' }] });
    const { ctx } = applyContext(7);
    ctx.outputs.set('service', { serviceArn, serviceName, deploymentId: 'ecs-svc/1000000000000000007' });
    const findings = await serviceStep.postDeployChecks!(ctx, { wait: true });
    expect(findings.map((f) => [f.check, f.status])).toEqual([
      ['Service Stable', 'OK'],
      ['Tasks Healthy', 'OK'],
      ['Logs Flowing', 'OK'],
    ]);
  });
});
