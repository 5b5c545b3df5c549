import {
  DescribeLogStreamsCommand,
  FilterLogEventsCommand,
  type DescribeLogStreamsCommandInput,
  type FilterLogEventsCommandInput,
} from '@aws-sdk/client-cloudwatch-logs';
import { DescribeServicesCommand, type Deployment, type Service } from '@aws-sdk/client-ecs';
import {
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  type TargetHealthDescription,
  type TargetHealthReasonEnum,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { logsFlowing, serviceStable, tasksHealthy } from '../../src/checks/post-deploy.js';
import { Outputs } from '../../src/core/step.js';
import { ACCOUNT_ID, awsError, mockAws, testConfig, testContext, type AwsMocks } from '../helpers/mock-aws.js';

const cluster = 'fintech-prod-cluster';
const serviceName = 'fintech-api-svc';
const tgArn = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:targetgroup/fintech-prod-tg/73e2d6bc24d8a067`;
const listenerArn = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:listener/app/fintech-prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2`;
const tdArn = (revision: number) => `arn:aws:ecs:us-east-1:${ACCOUNT_ID}:task-definition/fintech-api-task:${revision}`;
const tgResource = 'target group fintech-prod-tg';
const logResource = 'log group /ecs/fintech-api (streams app*)';
const svcResource = `ecs service ${cluster}/${serviceName}`;
const ours = 'ecs-svc/2000000000000000008';
const deployedAt = new Date('2025-03-01T10:00:00.000Z');
const since = deployedAt.getTime();

const deployment = (id: string, revision: number, extra: Partial<Deployment> = {}): Deployment => ({
  id,
  status: 'PRIMARY',
  taskDefinition: tdArn(revision),
  desiredCount: 3,
  runningCount: 3,
  rolloutState: 'COMPLETED',
  createdAt: deployedAt,
  ...extra,
});

const service = (extra: Partial<Service> = {}): Service => ({
  serviceName,
  status: 'ACTIVE',
  taskDefinition: tdArn(8),
  desiredCount: 3,
  runningCount: 3,
  deployments: [deployment(ours, 8)],
  events: [],
  ...extra,
});

const target = (ip: string, state: 'healthy' | 'unhealthy' | 'initial' | 'draining' = 'healthy', reason?: TargetHealthReasonEnum): TargetHealthDescription => ({
  Target: { Id: ip, Port: 8080 },
  HealthCheckPort: '8080',
  TargetHealth: { State: state, ...(reason ? { Reason: reason, Description: 'Health checks failed' } : {}) },
});
const allHealthy = [target('10.0.1.10'), target('10.0.2.11'), target('10.0.1.12')];

function context(withLbOutputs = true) {
  const outputs = new Outputs();
  if (withLbOutputs) outputs.set('load-balancer', { targetGroupArn: tgArn, listenerArn });
  const reports: string[] = [];
  return { ctx: testContext({ outputs, report: (m) => reports.push(m) }), reports };
}

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Tasks Healthy', () => {
  it('OK when every registered target is healthy and there are as many as running tasks', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    aws.elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: allHealthy });
    const finding = await tasksHealthy(context().ctx, false);
    expect(finding).toEqual({ check: 'Tasks Healthy', status: 'OK', resource: tgResource, reason: '3/3 targets healthy' });
    expect(aws.elbv2.commandCalls(DescribeTargetHealthCommand)[0].args[0].input).toEqual({ TargetGroupArn: tgArn });
    expect(aws.ecs.commandCalls(DescribeServicesCommand)[0].args[0].input).toMatchObject({ cluster, services: [serviceName] });
  });

  it('FAIL naming the unhealthy target and the reason ELB gives', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    aws.elbv2
      .on(DescribeTargetHealthCommand)
      .resolves({ TargetHealthDescriptions: [target('10.0.1.10'), target('10.0.2.11', 'unhealthy', 'Target.FailedHealthChecks'), target('10.0.1.12')] });
    const finding = await tasksHealthy(context().ctx, false);
    expect(finding).toEqual({
      check: 'Tasks Healthy',
      status: 'FAIL',
      resource: tgResource,
      reason: '2/3 healthy; not healthy: 10.0.2.11:8080 unhealthy (Target.FailedHealthChecks)',
    });
  });

  it('FAIL when no target is registered', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    aws.elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [] });
    expect(await tasksHealthy(context().ctx, false)).toEqual({ check: 'Tasks Healthy', status: 'FAIL', resource: tgResource, reason: 'no targets registered' });
  });

  it('FAIL when fewer targets are healthy than the service runs tasks', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service({ desiredCount: 5, runningCount: 5 })] });
    aws.elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: allHealthy });
    expect(await tasksHealthy(context().ctx, false)).toEqual({
      check: 'Tasks Healthy',
      status: 'FAIL',
      resource: tgResource,
      reason: '3 healthy targets for 5 running tasks',
    });
  });

  it('FAIL when the target group does not exist (looked up by name when no earlier step handed on its ARN)', async () => {
    aws.elbv2.on(DescribeTargetGroupsCommand).rejects(awsError('TargetGroupNotFoundException', 'One or more target groups not found'));
    const finding = await tasksHealthy(context(false).ctx, true);
    expect(finding).toEqual({ check: 'Tasks Healthy', status: 'FAIL', resource: tgResource, reason: 'target group does not exist' });
    expect(aws.elbv2.commandCalls(DescribeTargetGroupsCommand)[0].args[0].input).toEqual({ Names: ['fintech-prod-tg'] });
    expect(aws.elbv2.commandCalls(DescribeTargetHealthCommand)).toHaveLength(0);
  });

  it('finds the target group by name under validate, and judges it', async () => {
    aws.elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [{ TargetGroupArn: tgArn, TargetGroupName: 'fintech-prod-tg' }] });
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    aws.elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: allHealthy });
    expect((await tasksHealthy(context(false).ctx, false)).status).toBe('OK');
    expect(aws.elbv2.commandCalls(DescribeTargetHealthCommand)[0].args[0].input).toEqual({ TargetGroupArn: tgArn });
  });

  it('wait=true polls until the targets are healthy, then OK', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    aws.elbv2
      .on(DescribeTargetHealthCommand)
      .resolvesOnce({ TargetHealthDescriptions: [] })
      .resolvesOnce({ TargetHealthDescriptions: [target('10.0.1.10', 'initial', 'Elb.RegistrationInProgress'), target('10.0.2.11'), target('10.0.1.12', 'initial')] })
      .resolves({ TargetHealthDescriptions: allHealthy });
    const { ctx, reports } = context();
    const finding = await tasksHealthy(ctx, true);
    expect(finding).toEqual({ check: 'Tasks Healthy', status: 'OK', resource: tgResource, reason: '3/3 targets healthy' });
    expect(aws.elbv2.commandCalls(DescribeTargetHealthCommand)).toHaveLength(3);
    expect(reports).toEqual([
      'waiting for healthy targets: no targets registered',
      'waiting for healthy targets: 1/3 healthy; not healthy: 10.0.1.10:8080 initial (Elb.RegistrationInProgress), 10.0.1.12:8080 initial',
    ]);
  });

  it('wait=true gives up after healthyTargetsTimeoutSeconds with what it saw', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    aws.elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [target('10.0.2.11', 'unhealthy', 'Target.Timeout')] });
    const config = testConfig();
    const outputs = new Outputs();
    outputs.set('load-balancer', { targetGroupArn: tgArn, listenerArn });
    const ctx = testContext({ config: { ...config, service: { ...config.service, healthyTargetsTimeoutSeconds: 2 } }, outputs, pollIntervalMs: 500 });
    const pending = tasksHealthy(ctx, true);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(await pending).toEqual({
      check: 'Tasks Healthy',
      status: 'FAIL',
      resource: tgResource,
      reason: 'timed out after 2s: 0/1 healthy; not healthy: 10.0.2.11:8080 unhealthy (Target.Timeout)',
    });
    expect(aws.elbv2.commandCalls(DescribeTargetHealthCommand)).toHaveLength(5); // 0, 0.5, 1, 1.5, 2 s
  });
});

describe('Logs Flowing', () => {
  it('OK when the app streams have events since the PRIMARY deployment started', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    aws.logs.on(DescribeLogStreamsCommand).resolves({ logStreams: [{ logStreamName: 'app/api-container-firelens-0a1b2c3d' }] });
    aws.logs.on(FilterLogEventsCommand).resolves({ events: [{ logStreamName: 'app/api-container-firelens-0a1b2c3d', timestamp: since + 4_000, message: 'listening on :8080' }] });
    const finding = await logsFlowing(context().ctx, false);
    expect(finding).toEqual({
      check: 'Logs Flowing',
      status: 'OK',
      resource: logResource,
      reason: `events since deployment ${ours} started (2025-03-01T10:00:00.000Z)`,
    });
    expect(aws.logs.commandCalls(DescribeLogStreamsCommand)[0].args[0].input).toMatchObject({ logGroupName: '/ecs/fintech-api', logStreamNamePrefix: 'app' });
    const filter = aws.logs.commandCalls(FilterLogEventsCommand)[0].args[0].input;
    expect(filter).toMatchObject({ logGroupName: '/ecs/fintech-api', logStreamNamePrefix: 'app', startTime: since });
  });

  it('compares against the PRIMARY deployment, not the older ACTIVE one still draining', async () => {
    const older = new Date('2025-02-01T08:00:00.000Z');
    aws.ecs.on(DescribeServicesCommand).resolves({
      services: [service({ deployments: [deployment('ecs-svc/1000000000000000007', 7, { status: 'ACTIVE', createdAt: older }), deployment(ours, 8)] })],
    });
    aws.logs.on(DescribeLogStreamsCommand).resolves({ logStreams: [{ logStreamName: 'app/api-container-firelens-0a1b2c3d' }] });
    aws.logs.on(FilterLogEventsCommand).resolves({ events: [] });
    const finding = await logsFlowing(context().ctx, false);
    expect(aws.logs.commandCalls(FilterLogEventsCommand)[0].args[0].input.startTime).toBe(since);
    expect(finding.reason).toContain(ours);
  });

  it('FAIL when there are streams but no event since the deployment started', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    aws.logs.on(DescribeLogStreamsCommand).resolves({
      logStreams: [{ logStreamName: 'app/api-container-firelens-0a1b2c3d', lastEventTimestamp: since - 3_600_000 }, { logStreamName: 'app/api-container-firelens-9f8e7d6c' }],
    });
    aws.logs.on(FilterLogEventsCommand).resolves({ events: [] });
    expect(await logsFlowing(context().ctx, false)).toEqual({
      check: 'Logs Flowing',
      status: 'FAIL',
      resource: logResource,
      reason: `2 stream(s) but no events since deployment ${ours} started (2025-03-01T10:00:00.000Z)`,
    });
  });

  it('follows nextToken when FilterLogEvents returns an empty page while its search goes on', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    aws.logs.on(DescribeLogStreamsCommand).resolves({ logStreams: [{ logStreamName: 'app/api-container-firelens-0a1b2c3d' }] });
    aws.logs
      .on(FilterLogEventsCommand)
      .resolvesOnce({ events: [], nextToken: 'page-2' })
      .resolvesOnce({ events: [], nextToken: 'page-3' })
      .resolves({ events: [{ timestamp: since + 10, message: 'started' }] });
    expect((await logsFlowing(context().ctx, false)).status).toBe('OK');
    // The SDK paginator reuses one input object, so count the pages: the events were on the third.
    expect(aws.logs.commandCalls(FilterLogEventsCommand)).toHaveLength(3);
  });

  it('FAIL when every page of the search is empty', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    aws.logs.on(DescribeLogStreamsCommand).resolves({ logStreams: [{ logStreamName: 'app/api-container-firelens-0a1b2c3d' }] });
    aws.logs.on(FilterLogEventsCommand).resolvesOnce({ events: [], nextToken: 'page-2' }).resolves({ events: [] });
    expect((await logsFlowing(context().ctx, false)).status).toBe('FAIL');
    expect(aws.logs.commandCalls(FilterLogEventsCommand)).toHaveLength(2);
  });

  it('FAIL when there is no stream under the prefix', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    aws.logs.on(DescribeLogStreamsCommand).resolves({ logStreams: [] });
    aws.logs.on(FilterLogEventsCommand).resolves({ events: [] });
    expect(await logsFlowing(context().ctx, false)).toEqual({ check: 'Logs Flowing', status: 'FAIL', resource: logResource, reason: 'no log streams under prefix "app"' });
    // The events are asked side by side with the streams (one round trip), once.
    expect(aws.logs.commandCalls(FilterLogEventsCommand)).toHaveLength(1);
  });

  it('FAIL when the log group does not exist', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    aws.logs.on(DescribeLogStreamsCommand).rejects(awsError('ResourceNotFoundException', 'The specified log group does not exist.'));
    expect(await logsFlowing(context().ctx, false)).toEqual({ check: 'Logs Flowing', status: 'FAIL', resource: logResource, reason: 'log group does not exist' });
  });

  it('other errors are not swallowed into a finding', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    aws.logs.on(DescribeLogStreamsCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform logs:DescribeLogStreams', 'req-logs-1'));
    await expect(logsFlowing(context().ctx, false)).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('SKIP when the service does not exist (nothing to compare against), without reading the logs', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [], failures: [{ reason: 'MISSING' }] });
    expect(await logsFlowing(context().ctx, true)).toEqual({
      check: 'Logs Flowing',
      status: 'SKIP',
      resource: logResource,
      reason: 'no deployment to compare against (service missing)',
    });
    expect(aws.logs.calls()).toHaveLength(0);
  });

  it('wait=true polls until the first events arrive', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    aws.logs
      .on(DescribeLogStreamsCommand)
      .resolvesOnce({ logStreams: [] })
      .resolves({ logStreams: [{ logStreamName: 'app/api-container-firelens-0a1b2c3d' }] });
    // Streams and events are asked side by side: the first look finds neither, the second a stream
    // without events, the third an event.
    aws.logs
      .on(FilterLogEventsCommand)
      .resolvesOnce({ events: [] })
      .resolvesOnce({ events: [] })
      .resolves({ events: [{ timestamp: since + 1, message: 'started' }] });
    const { ctx, reports } = context();
    expect((await logsFlowing(ctx, true)).status).toBe('OK');
    expect(reports).toEqual([
      'waiting for startup logs: no log streams under prefix "app"',
      `waiting for startup logs: 1 stream(s) but no events since deployment ${ours} started (2025-03-01T10:00:00.000Z)`,
    ]);
  });

  it('OK in a log group with many older streams: the current tasks\' streams are searched, not the first 50 by name', async () => {
    // A log group after months in production: one stream per task ever started, named by task id
    // (random hex), so the newest tasks' streams are anywhere in name order. CloudWatch Logs as
    // documented: DescribeLogStreams orders by name and returns at most `limit`; FilterLogEvents
    // searches the named streams, or those under a prefix, or the whole group.
    const hex = (n: number) => n.toString(16).padStart(32, '0');
    const streams = [
      ...Array.from({ length: 120 }, (_, i) => ({ name: `app/api-container-firelens-${hex(i)}`, last: since - 86_400_000 })),
      ...['f1', 'f2', 'f3'].map((id) => ({ name: `app/api-container-firelens-${id}${hex(0).slice(2)}`, last: since + 30_000 })),
      { name: 'log_router-firelens-0000', last: since + 30_000 },
    ].sort((a, b) => a.name.localeCompare(b.name));
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    aws.logs.on(DescribeLogStreamsCommand).callsFake((input: DescribeLogStreamsCommandInput) => ({
      logStreams: streams
        .filter((s) => s.name.startsWith(input.logStreamNamePrefix ?? ''))
        .slice(0, input.limit ?? 50)
        .map((s) => ({ logStreamName: s.name, lastEventTimestamp: s.last })),
    }));
    aws.logs.on(FilterLogEventsCommand).callsFake((input: FilterLogEventsCommandInput) => ({
      events: streams
        .filter((s) => (input.logStreamNames ? input.logStreamNames.includes(s.name) : s.name.startsWith(input.logStreamNamePrefix ?? '')))
        .filter((s) => s.last >= (input.startTime ?? 0))
        .map((s) => ({ logStreamName: s.name, timestamp: s.last, message: 'request served' }))
        .slice(0, input.limit ?? 10_000),
    }));
    const finding = await logsFlowing(context().ctx, false);
    expect(finding.status).toBe('OK');
    // Only the app's streams count: the log router's own stream is not evidence the app logs.
    const filter = aws.logs.commandCalls(FilterLogEventsCommand)[0].args[0].input;
    expect(filter).toMatchObject({ logGroupName: '/ecs/fintech-api', logStreamNamePrefix: 'app', startTime: since });
    expect(filter).not.toHaveProperty('logStreamNames');
  });
});

describe('Service Stable', () => {
  it('OK for a stable service under validate (no waiting)', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    expect(await serviceStable(context().ctx, false)).toEqual({
      check: 'Service Stable',
      status: 'OK',
      resource: svcResource,
      reason: `ACTIVE, deployment ${ours} COMPLETED, 3/3 running fintech-api-task:8`,
    });
    expect(aws.ecs.commandCalls(DescribeServicesCommand)).toHaveLength(1);
  });

  it('FAIL under validate while a deployment is still rolling out (no waiting)', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({
      services: [service({ runningCount: 1, deployments: [deployment(ours, 8, { rolloutState: 'IN_PROGRESS', runningCount: 1 }), deployment('ecs-svc/1', 7, { status: 'ACTIVE' })] })],
    });
    const finding = await serviceStable(context().ctx, false);
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).toBe(`deployment ${ours} IN_PROGRESS: 2 deployment(s), 1/3 running`);
    expect(aws.ecs.commandCalls(DescribeServicesCommand)).toHaveLength(1);
  });

  it('FAIL when the service is missing', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [], failures: [{ reason: 'MISSING' }] });
    expect(await serviceStable(context().ctx, false)).toEqual({ check: 'Service Stable', status: 'FAIL', resource: svcResource, reason: 'service is missing' });
  });

  it('after apply: waits for the deployment apply started, reporting its progress and new service events', async () => {
    const rolling = service({
      runningCount: 1,
      deployments: [deployment(ours, 8, { rolloutState: 'IN_PROGRESS', runningCount: 1 }), deployment('ecs-svc/1', 7, { status: 'ACTIVE' })],
      events: [{ id: 'old', createdAt: new Date(since - 1000), message: 'old history' }],
    });
    aws.ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [rolling] })
      .resolves({
        services: [
          service({
            events: [
              { id: 'e2', createdAt: new Date(since + 2000), message: `(service ${serviceName}) has reached a steady state.` },
              { id: 'e1', createdAt: new Date(since + 1000), message: `(service ${serviceName}) has started 2 tasks.` },
              { id: 'old', createdAt: new Date(since - 1000), message: 'old history' },
            ],
          }),
        ],
      });
    const { ctx, reports } = context();
    const finding = await serviceStable(ctx, true, { deploymentId: ours, taskDefinition: tdArn(8) });
    expect(finding.status).toBe('OK');
    expect(reports).toEqual([
      `waiting for deployment: deployment ${ours} IN_PROGRESS: 2 deployment(s), 1/3 running`,
      `service event: (service ${serviceName}) has started 2 tasks.`,
      `service event: (service ${serviceName}) has reached a steady state.`,
    ]);
  });
});
