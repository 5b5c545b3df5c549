import { DescribeServicesCommand, ECSClient, type Deployment, type Service, type ServiceEvent } from '@aws-sdk/client-ecs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { describeService, judgeDeployment, taskDefinitionRef, waitForDeployment, type WaitOptions } from '../../src/aws/deployment.js';
import { ACCOUNT_ID, awsError, mockAws, type AwsMocks } from '../helpers/mock-aws.js';

const cluster = 'fintech-prod-cluster';
const serviceName = 'fintech-api-svc';
const tdArn = (revision: number) => `arn:aws:ecs:us-east-1:${ACCOUNT_ID}:task-definition/fintech-api-task:${revision}`;
const ours = 'ecs-svc/2000000000000000008';
const previous = 'ecs-svc/1000000000000000006';
const rollbackId = 'ecs-svc/3000000000000000009';

const deployment = (id: string, revision: number, extra: Partial<Deployment> = {}): Deployment => ({
  id,
  status: 'PRIMARY',
  taskDefinition: tdArn(revision),
  desiredCount: 3,
  runningCount: 3,
  rolloutState: 'COMPLETED',
  createdAt: new Date('2025-03-01T10:00:00.000Z'),
  ...extra,
});

const service = (extra: Partial<Service> = {}): Service => ({
  serviceName,
  status: 'ACTIVE',
  taskDefinition: tdArn(7),
  desiredCount: 3,
  runningCount: 3,
  deployments: [deployment(ours, 7)],
  events: [],
  ...extra,
});

/** Our deployment rolling out next to the previous one. */
const rollingOut = (running: number, extra: Partial<Service> = {}) =>
  service({
    runningCount: running,
    deployments: [deployment(ours, 7, { rolloutState: 'IN_PROGRESS', runningCount: running }), deployment(previous, 6, { status: 'ACTIVE' })],
    ...extra,
  });

describe('taskDefinitionRef', () => {
  it('reduces an ARN and moto\'s literal family:rev to the same family:rev', () => {
    expect(taskDefinitionRef(tdArn(2))).toBe('fintech-api-task:2');
    expect(taskDefinitionRef('fintech-api-task:2')).toBe('fintech-api-task:2');
    expect(taskDefinitionRef(tdArn(2))).toBe(taskDefinitionRef('fintech-api-task:2'));
    expect(taskDefinitionRef(tdArn(2))).not.toBe(taskDefinitionRef('fintech-api-task:12'));
    expect(taskDefinitionRef(undefined)).toBeUndefined();
  });
});

describe('judgeDeployment', () => {
  it('stable: ACTIVE, one COMPLETED deployment, running == desired, on the expected task definition', () => {
    const verdict = judgeDeployment(service(), { deploymentId: ours, taskDefinition: tdArn(7) });
    expect(verdict.state).toBe('stable');
    expect(verdict.reason).toBe(`ACTIVE, deployment ${ours} COMPLETED, 3/3 running fintech-api-task:7`);
  });

  it('stable after a scale-out: runningCount == desiredCount, not the runbook\'s literal 3 (row 11)', () => {
    const scaled = service({ desiredCount: 5, runningCount: 5, deployments: [deployment(ours, 7, { desiredCount: 5, runningCount: 5 })] });
    expect(judgeDeployment(scaled, { deploymentId: ours, taskDefinition: tdArn(7) })).toMatchObject({ state: 'stable' });
    // ...and 3 running out of 5 is not stable, although 3 is what the runbook's check looks for.
    const short = service({ desiredCount: 5, runningCount: 3, deployments: [deployment(ours, 7, { desiredCount: 5 })] });
    expect(judgeDeployment(short, { deploymentId: ours })).toEqual({ state: 'in-progress', reason: '3 of 5 tasks running' });
  });

  it('stable for moto: no rolloutState reported, one deployment, running == desired, literal family:rev', () => {
    const moto = service({ taskDefinition: 'fintech-api-task:2', deployments: [deployment(ours, 2, { rolloutState: undefined, taskDefinition: 'fintech-api-task:2' })] });
    expect(judgeDeployment(moto, { deploymentId: ours, taskDefinition: tdArn(2) }).state).toBe('stable');
  });

  it('in progress: two deployments and fewer running than desired', () => {
    const verdict = judgeDeployment(rollingOut(1), { deploymentId: ours, taskDefinition: tdArn(7) });
    expect(verdict.state).toBe('in-progress');
    expect(verdict.reason).toBe(`deployment ${ours} IN_PROGRESS: 2 deployment(s), 1/3 running`);
  });

  it('in progress while the old deployment is still there, even with running == desired', () => {
    const draining = service({ deployments: [deployment(ours, 7), deployment(previous, 6, { status: 'ACTIVE', runningCount: 1 })] });
    expect(judgeDeployment(draining, { deploymentId: ours }).state).toBe('in-progress');
  });

  it('in progress while our deployment\'s rollout is IN_PROGRESS, even alone with running == desired', () => {
    const alone = service({ deployments: [deployment(ours, 7, { rolloutState: 'IN_PROGRESS' })] });
    expect(judgeDeployment(alone, { deploymentId: ours }).state).toBe('in-progress');
  });

  it('in progress when there is no PRIMARY deployment yet', () => {
    expect(judgeDeployment(service({ deployments: [] }))).toEqual({ state: 'in-progress', reason: 'no PRIMARY deployment yet' });
  });

  it('failed: rolloutState FAILED, with the reason ECS gives', () => {
    const failed = service({
      runningCount: 0,
      deployments: [deployment(ours, 7, { rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.', runningCount: 0 })],
    });
    expect(judgeDeployment(failed, { deploymentId: ours })).toEqual({
      state: 'failed',
      reason: `deployment ${ours} FAILED: ECS deployment circuit breaker: tasks failed to start.`,
    });
  });

  it('failed: our deployment replaced by the circuit breaker\'s rollback deployment, naming both', () => {
    const rolledBack = service({
      taskDefinition: tdArn(6),
      deployments: [
        deployment(rollbackId, 6, { rolloutState: 'IN_PROGRESS' }),
        deployment(ours, 7, { status: 'ACTIVE', rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: rolling back to deploymentId ' + rollbackId }),
      ],
    });
    const verdict = judgeDeployment(rolledBack, { deploymentId: ours, taskDefinition: tdArn(7) });
    expect(verdict.state).toBe('failed');
    expect(verdict.reason).toContain(`deployment ${ours} is no longer PRIMARY`);
    expect(verdict.reason).toContain(`${rollbackId} runs fintech-api-task:6`);
    expect(verdict.reason).toContain('ECS deployment circuit breaker: rolling back');
  });

  it('failed: the stock waiter\'s "stable" after a completed rollback (one deployment, 3/3, old task definition)', () => {
    // Our deployment is gone from the list; what is left looks stable to waitUntilServicesStable.
    const afterRollback = service({ taskDefinition: tdArn(6), deployments: [deployment(rollbackId, 6)] });
    const verdict = judgeDeployment(afterRollback, { deploymentId: ours, taskDefinition: tdArn(7) });
    expect(verdict.state).toBe('failed');
    expect(verdict.reason).toContain(ours);
    expect(verdict.reason).toContain(rollbackId);
  });

  it('failed: the service runs another task definition than the expected one', () => {
    const other = service({ taskDefinition: tdArn(6), deployments: [deployment(ours, 6)] });
    expect(judgeDeployment(other, { taskDefinition: tdArn(7) })).toEqual({
      state: 'failed',
      reason: 'service runs fintech-api-task:6, not fintech-api-task:7: the deployment was rolled back or replaced',
    });
  });

  it('failed: missing, INACTIVE or DRAINING service', () => {
    expect(judgeDeployment(undefined, { deploymentId: ours })).toEqual({ state: 'failed', reason: 'service is missing' });
    expect(judgeDeployment(service({ status: 'INACTIVE' }))).toEqual({ state: 'failed', reason: 'service is INACTIVE' });
    expect(judgeDeployment(service({ status: 'DRAINING' }))).toEqual({ state: 'failed', reason: 'service is DRAINING' });
  });
});

let aws: AwsMocks;
let ecs: ECSClient;
beforeEach(() => {
  aws = mockAws();
  ecs = new ECSClient({ region: 'us-east-1' });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('describeService', () => {
  it('asks the configured cluster for the service with its tags', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
    expect((await describeService(ecs, cluster, serviceName))?.serviceName).toBe(serviceName);
    expect(aws.ecs.commandCalls(DescribeServicesCommand)[0].args[0].input).toEqual({ cluster, services: [serviceName], include: ['TAGS'] });
  });

  it('is undefined for a MISSING or INACTIVE service and a missing cluster; other errors are thrown', async () => {
    aws.ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [], failures: [{ reason: 'MISSING' }] })
      .resolvesOnce({ services: [service({ status: 'INACTIVE' })] })
      .rejectsOnce(awsError('ClusterNotFoundException', 'Cluster not found.'))
      .rejectsOnce(awsError('AccessDeniedException', 'denied', 'req-d-1'));
    expect(await describeService(ecs, cluster, serviceName)).toBeUndefined();
    expect(await describeService(ecs, cluster, serviceName)).toBeUndefined();
    expect(await describeService(ecs, cluster, serviceName)).toBeUndefined();
    await expect(describeService(ecs, cluster, serviceName)).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });
});

const event = (n: number): ServiceEvent => ({ id: `ev-${n}`, createdAt: new Date(Date.UTC(2025, 2, 1, 10, n)), message: `message ${n}` });
/** ECS lists events newest first. */
const events = (...ns: number[]) => ns.sort((a, b) => b - a).map(event);

function options(extra: Partial<WaitOptions> = {}): WaitOptions & { seen: string[]; progress: string[] } {
  const seen: string[] = [];
  const progress: string[] = [];
  return {
    timeoutSeconds: 5,
    pollIntervalMs: 1,
    signal: new AbortController().signal,
    onEvent: (message) => seen.push(message),
    onProgress: (reason) => progress.push(reason),
    seen,
    progress,
    ...extra,
  };
}

describe('waitForDeployment', () => {
  it('polls until the deployment is stable', async () => {
    aws.ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [rollingOut(0)] })
      .resolvesOnce({ services: [rollingOut(2)] })
      .resolves({ services: [service()] });
    const opts = options();
    const verdict = await waitForDeployment(ecs, cluster, serviceName, { deploymentId: ours, taskDefinition: tdArn(7) }, opts);
    expect(verdict).toEqual({ state: 'stable', reason: `ACTIVE, deployment ${ours} COMPLETED, 3/3 running fintech-api-task:7` });
    expect(aws.ecs.commandCalls(DescribeServicesCommand)).toHaveLength(3);
    expect(opts.progress).toEqual([
      `deployment ${ours} IN_PROGRESS: 2 deployment(s), 0/3 running`,
      `deployment ${ours} IN_PROGRESS: 2 deployment(s), 2/3 running`,
    ]);
    for (const call of aws.ecs.commandCalls(DescribeServicesCommand)) expect(call.args[0].input).toMatchObject({ cluster, services: [serviceName] });
  });

  it('reports new service events oldest first, not the history seen at the first poll', async () => {
    aws.ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [rollingOut(0, { events: events(1, 2) })] })
      .resolvesOnce({ services: [rollingOut(1, { events: events(1, 2, 3, 4) })] })
      .resolvesOnce({ services: [rollingOut(2, { events: events(1, 2, 3, 4) })] })
      .resolves({ services: [service({ events: events(1, 2, 3, 4, 5) })] });
    const opts = options();
    const verdict = await waitForDeployment(ecs, cluster, serviceName, { deploymentId: ours }, opts);
    expect(verdict.state).toBe('stable');
    expect(opts.seen).toEqual(['message 3', 'message 4', 'message 5']);
  });

  it('returns a failure at once, without waiting, when the circuit breaker rolled back', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service({ taskDefinition: tdArn(6), deployments: [deployment(rollbackId, 6)] })] });
    const verdict = await waitForDeployment(ecs, cluster, serviceName, { deploymentId: ours, taskDefinition: tdArn(7) }, options());
    expect(verdict.state).toBe('failed');
    expect(verdict.reason).toContain(rollbackId);
    expect(aws.ecs.commandCalls(DescribeServicesCommand)).toHaveLength(1);
  });

  it('fails when the service disappears while waiting', async () => {
    aws.ecs.on(DescribeServicesCommand).resolvesOnce({ services: [rollingOut(1)] }).resolves({ services: [], failures: [{ reason: 'MISSING' }] });
    expect(await waitForDeployment(ecs, cluster, serviceName, { deploymentId: ours }, options())).toEqual({ state: 'failed', reason: 'service is missing' });
  });

  it('times out with a failure that says what it saw', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [rollingOut(1)] });
    const opts = options({ timeoutSeconds: 1, pollIntervalMs: 100 });
    const pending = waitForDeployment(ecs, cluster, serviceName, { deploymentId: ours }, opts);
    await vi.advanceTimersByTimeAsync(1_500);
    const verdict = await pending;
    expect(verdict).toEqual({ state: 'failed', reason: `timed out after 1s: deployment ${ours} IN_PROGRESS: 2 deployment(s), 1/3 running` });
    // Polled every 100 ms for 1 s: at 0, 100, ..., 1000 ms.
    expect(aws.ecs.commandCalls(DescribeServicesCommand)).toHaveLength(11);
  });

  it('stops polling when the AbortSignal aborts during the wait between polls', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [rollingOut(1)] });
    const controller = new AbortController();
    const reason = new Error('SIGINT');
    // 10 s between polls: only an abort that cuts the sleep short ends this within the test.
    const opts = options({ timeoutSeconds: 600, pollIntervalMs: 10_000, signal: controller.signal });
    const outcome = waitForDeployment(ecs, cluster, serviceName, { deploymentId: ours }, opts).then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await vi.advanceTimersByTimeAsync(15_000); // polls at 0 and 10 s, now sleeping until 20 s
    expect(aws.ecs.commandCalls(DescribeServicesCommand)).toHaveLength(2);
    controller.abort(reason);
    expect(await outcome).toBe(reason);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(aws.ecs.commandCalls(DescribeServicesCommand)).toHaveLength(2);
    expect(opts.progress).toHaveLength(2);
  });

  it('does not poll again when the signal is already aborted', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [rollingOut(1)] });
    const controller = new AbortController();
    controller.abort(new Error('interrupted before the wait'));
    await expect(waitForDeployment(ecs, cluster, serviceName, { deploymentId: ours }, options({ signal: controller.signal }))).rejects.toThrow(
      'interrupted before the wait',
    );
    expect(aws.ecs.commandCalls(DescribeServicesCommand)).toHaveLength(1);
  });
});
