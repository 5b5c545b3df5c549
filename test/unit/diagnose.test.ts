import {
  DescribeScalableTargetsCommand,
  DescribeScalingActivitiesCommand,
  type ScalableTarget,
  type ScalingActivity,
} from '@aws-sdk/client-application-auto-scaling';
import { GetLogEventsCommand, type OutputLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeSubnetsCommand, type Subnet } from '@aws-sdk/client-ec2';
import { DescribeServicesCommand, DescribeTasksCommand, ListTasksCommand, type Deployment, type Service, type Task } from '@aws-sdk/client-ecs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { diagnoseCommand } from '../../src/commands/diagnose.js';
import type { Session } from '../../src/commands/shared.js';
import { passThroughRecorder } from '../../src/core/step.js';
import { diagnose, type Diagnosis } from '../../src/diagnose.js';
import { ACCOUNT_ID, awsError, fixtureEnv, mockAws, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

const CLUSTER = 'fintech-prod-cluster';
const SERVICE = 'fintech-api-svc';
const RESOURCE_ID = `service/${CLUSTER}/${SERVICE}`;
const DIMENSION = 'ecs:service:DesiredCount';
const SUBNET_A = fixtureEnv.APP_SUB_A!;
const SUBNET_B = fixtureEnv.APP_SUB_B!;
const taskDef = (revision: number) => `arn:aws:ecs:us-east-1:${ACCOUNT_ID}:task-definition/fintech-api-task:${revision}`;
const taskArn = (id: string) => `arn:aws:ecs:us-east-1:${ACCOUNT_ID}:task/${CLUSTER}/${id}`;
const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);

const T1 = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const T2 = 'b2c3d4e5f60718293a4b5c6d7e8f90a1';
const T3 = 'c3d4e5f60718293a4b5c6d7e8f90a1b2';
const T4 = 'd4e5f60718293a4b5c6d7e8f90a1b2c3';

function deployment(extra: Partial<Deployment> = {}): Deployment {
  return {
    id: 'ecs-svc/1111',
    status: 'PRIMARY',
    taskDefinition: taskDef(7),
    desiredCount: 3,
    runningCount: 3,
    failedTasks: 0,
    rolloutState: 'COMPLETED',
    rolloutStateReason: 'ECS deployment ecs-svc/1111 completed.',
    ...extra,
  };
}

function service(extra: Partial<Service> = {}): Service {
  return {
    serviceName: SERVICE,
    status: 'ACTIVE',
    desiredCount: 3,
    runningCount: 3,
    taskDefinition: taskDef(7),
    deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true }, maximumPercent: 200, minimumHealthyPercent: 100 },
    deployments: [deployment()],
    events: [],
    ...extra,
  };
}

function stoppedTask(id: string, extra: Partial<Task>): Task {
  return {
    taskArn: taskArn(id),
    taskDefinitionArn: taskDef(8),
    group: `service:${SERVICE}`,
    lastStatus: 'STOPPED',
    desiredStatus: 'STOPPED',
    ...extra,
  };
}

const target = (extra: Partial<ScalableTarget> = {}): ScalableTarget => ({
  ServiceNamespace: 'ecs',
  ResourceId: RESOURCE_ID,
  ScalableDimension: DIMENSION,
  MinCapacity: 3,
  MaxCapacity: 10,
  RoleARN: `arn:aws:iam::${ACCOUNT_ID}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService`,
  CreationTime: new Date('2024-01-01T00:00:00Z'),
  ...extra,
});

const subnet = (id: string, az: string, cidr: string, free: number): Subnet => ({ SubnetId: id, AvailabilityZone: az, CidrBlock: cidr, AvailableIpAddressCount: free });
const roomySubnets = [subnet(SUBNET_A, 'us-east-1a', '10.0.10.0/24', 240), subnet(SUBNET_B, 'us-east-1b', '10.0.11.0/24', 238)];

const activity = (extra: Partial<ScalingActivity>): ScalingActivity => ({
  ActivityId: 'act-1',
  ServiceNamespace: 'ecs',
  ResourceId: RESOURCE_ID,
  ScalableDimension: DIMENSION,
  Description: `Setting desired count to 6.`,
  Cause: 'monitor alarm TargetTracking-service/fintech-prod-cluster/fintech-api-svc-AlarmHigh in state ALARM triggered policy fintech-cpu-scaling',
  StartTime: new Date('2024-05-01T09:00:00Z'),
  StatusCode: 'Successful',
  StatusMessage: 'Successfully set desired count to 6. Change successfully fulfilled by ecs.',
  ...extra,
});

interface Observed {
  service?: Service | undefined;
  stopped?: Task[];
  targets?: ScalableTarget[];
  activities?: ScalingActivity[];
  subnets?: Subnet[];
  /** Log stream name -> its newest events. Any other stream does not exist. */
  logs?: Record<string, OutputLogEvent[]>;
}

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** What AWS shows; by default a healthy, converged service with room to scale. */
function observe(o: Observed = {}) {
  const svc = 'service' in o ? o.service : service();
  aws.ecs.on(DescribeServicesCommand).resolves({ services: svc ? [svc] : [], failures: svc ? [] : [{ arn: SERVICE, reason: 'MISSING' }] });
  const stopped = o.stopped ?? [];
  aws.ecs.on(ListTasksCommand).resolves({ taskArns: stopped.map((t) => t.taskArn!) });
  aws.ecs.on(DescribeTasksCommand).resolves({ tasks: stopped, failures: [] });
  aws.autoscaling.on(DescribeScalableTargetsCommand).resolves({ ScalableTargets: o.targets ?? [target()] });
  aws.autoscaling.on(DescribeScalingActivitiesCommand).resolves({ ScalingActivities: o.activities ?? [activity({})] });
  aws.ec2.on(DescribeSubnetsCommand).resolves({ Subnets: o.subnets ?? roomySubnets });
  aws.logs.on(GetLogEventsCommand).rejects(awsError('ResourceNotFoundException', 'The specified log stream does not exist.'));
  for (const [logStreamName, events] of Object.entries(o.logs ?? {})) {
    aws.logs.on(GetLogEventsCommand, { logStreamName }).resolves({ events });
  }
}

const byResource = (diagnoses: Diagnosis[], prefix: string): Diagnosis => {
  const found = diagnoses.find((d) => d.resource.startsWith(prefix));
  if (!found) throw new Error(`no diagnosis for ${prefix}: ${diagnoses.map((d) => d.resource).join(', ')}`);
  return found;
};
const crashLoop = (d: Diagnosis[]) => byResource(d, 'ecs service');
const capacity = (d: Diagnosis[]) => byResource(d, 'scalable target');
const activities = (d: Diagnosis[]) => byResource(d, 'scaling activities');
const subnets = (d: Diagnosis[]) => byResource(d, 'app subnets');
const inputsOf = <T>(mock: AwsMocks[keyof AwsMocks], command: new (...args: never) => { input: T }) =>
  mock.commandCalls(command as never).map((call) => call.args[0].input as T);

const CRASH_FIX = `aws ecs update-service --cluster ${CLUSTER} --service ${SERVICE} --force-new-deployment`;

describe('diagnose, 4.2.1 task crash loop', () => {
  it('is OK for a healthy service with no stopped tasks and a COMPLETED deployment, reading only', async () => {
    observe();
    const diagnoses = await diagnose(testContext());

    expect(diagnoses.map((d) => [d.scenario, d.status])).toEqual([
      ['task-crash-loop', 'OK'],
      ['scale-out-failure', 'OK'],
      ['scale-out-failure', 'OK'],
      ['scale-out-failure', 'OK'],
    ]);
    expect(crashLoop(diagnoses)).toEqual({
      scenario: 'task-crash-loop',
      status: 'OK',
      resource: `ecs service ${CLUSTER}/${SERVICE}`,
      evidence: [
        'no stopped tasks',
        'circuit breaker: enabled, rollback on',
        'deployment ecs-svc/1111 PRIMARY (fintech-api-task:7): COMPLETED, 3/3 running, 0 failed task(s) — ECS deployment ecs-svc/1111 completed.',
      ],
      fix: expect.stringContaining(CRASH_FIX),
    });
    expect(inputsOf(aws.ecs, ListTasksCommand)).toEqual([{ cluster: CLUSTER, serviceName: SERVICE, desiredStatus: 'STOPPED', maxResults: 100 }]);
    // Nothing stopped: no DescribeTasks (it rejects an empty list) and no log reads.
    expect(aws.ecs.commandCalls(DescribeTasksCommand)).toHaveLength(0);
    expect(aws.logs.commandCalls(GetLogEventsCommand)).toHaveLength(0);
    expect(writeCalls(aws)).toEqual([]);
  });

  it('lists crashed tasks with revision, stop code, reason, exit codes and their last log lines, and ends with the runbook fix', async () => {
    observe({
      stopped: [
        // Listed oldest first on purpose: the diagnosis sorts newest first.
        stoppedTask(T3, {
          stopCode: 'SpotInterruption',
          stoppedReason: 'Your Spot Task was interrupted.',
          stoppedAt: new Date('2024-05-01T09:50:00Z'),
          taskDefinitionArn: taskDef(7),
          containers: [{ name: 'api-container', exitCode: 143 }],
        }),
        stoppedTask(T2, {
          stopCode: 'ServiceSchedulerInitiated',
          stoppedReason: 'Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/fintech-prod-tg/abc)',
          stoppedAt: new Date('2024-05-01T09:55:00Z'),
          containers: [
            { name: 'api-container', exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' },
            { name: 'log_router', exitCode: 0 },
          ],
        }),
        stoppedTask(T1, {
          stopCode: 'EssentialContainerExited',
          stoppedReason: 'Essential container in task exited',
          stoppedAt: new Date('2024-05-01T10:00:00Z'),
          containers: [
            { name: 'api-container', exitCode: 1 },
            { name: 'log_router', exitCode: 0 },
          ],
        }),
        // moto ignores ListTasks' serviceName: a task of another group is not this service's.
        stoppedTask(T4, { group: 'family:batch-job', stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited', containers: [{ name: 'job', exitCode: 2 }] }),
      ],
      logs: {
        // FireLens: <log_stream_prefix><container>-firelens-<task id>
        [`appapi-container-firelens-${T1}`]: [
          { timestamp: 1, message: 'Starting fintech-api 1.5.0' },
          { timestamp: 2, message: 'Loading config' },
          { timestamp: 3, message: 'Connecting to fintech-db-cluster' },
          { timestamp: 4, message: 'Error: DB_PASSWORD is not valid JSON\n    at loadSecrets (/app/config.js:12)' },
          { timestamp: 5, message: 'process exited with code 1' },
        ],
        // The slash form (a prefix ending in "/", the emulator's simulator) is found too.
        [`app/api-container-firelens-${T2}`]: [{ timestamp: 6, message: 'java.lang.OutOfMemoryError: Java heap space' }],
      },
    });

    const diagnoses = await diagnose(testContext());
    const d = crashLoop(diagnoses);

    expect(d.status).toBe('PROBLEM');
    expect(d.evidence).toEqual([
      '2 of the 3 newest stopped task(s) crashed',
      `stopped task ${T1} (fintech-api-task:8) at 2024-05-01T10:00:00.000Z: EssentialContainerExited: Essential container in task exited; containers: api-container exit 1, log_router exit 0`,
      `stopped task ${T2} (fintech-api-task:8) at 2024-05-01T09:55:00.000Z: ServiceSchedulerInitiated: Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/fintech-prod-tg/abc); ` +
        'containers: api-container exit 137 (OutOfMemoryError: Container killed due to memory usage), log_router exit 0',
      `task ${T1} log appapi-container-firelens-${T1}: Starting fintech-api 1.5.0`,
      `task ${T1} log appapi-container-firelens-${T1}: Loading config`,
      `task ${T1} log appapi-container-firelens-${T1}: Connecting to fintech-db-cluster`,
      `task ${T1} log appapi-container-firelens-${T1}: Error: DB_PASSWORD is not valid JSON at loadSecrets (/app/config.js:12)`,
      `task ${T1} log appapi-container-firelens-${T1}: process exited with code 1`,
      `task ${T2} log app/api-container-firelens-${T2}: java.lang.OutOfMemoryError: Java heap space`,
      'circuit breaker: enabled, rollback on',
      'deployment ecs-svc/1111 PRIMARY (fintech-api-task:7): COMPLETED, 3/3 running, 0 failed task(s) — ECS deployment ecs-svc/1111 completed.',
    ]);
    // The Spot interruption (exit 143) is not a crash, and the other group's task is not ours.
    expect(d.evidence.join('\n')).not.toContain(T3);
    expect(d.evidence.join('\n')).not.toContain(T4);
    expect(d.fix).toBe(
      'Check the logs (aws logs get-log-events --log-group-name /ecs/fintech-api --log-stream-name <stream>) and fix the code or config; ' +
        'the circuit breaker rolls back a failing deployment when enabled (never the first deployment). ' +
        `After the fix: fintech-runbook apply (or ${CRASH_FIX})`,
    );
    // The newest lines of each stream, FireLens name first.
    expect(inputsOf(aws.logs, GetLogEventsCommand)).toEqual([
      { logGroupName: '/ecs/fintech-api', logStreamName: `appapi-container-firelens-${T1}`, startFromHead: false, limit: 5 },
      { logGroupName: '/ecs/fintech-api', logStreamName: `appapi-container-firelens-${T2}`, startFromHead: false, limit: 5 },
      { logGroupName: '/ecs/fintech-api', logStreamName: `app/api-container-firelens-${T2}`, startFromHead: false, limit: 5 },
    ]);
    expect(inputsOf(aws.ecs, DescribeTasksCommand)).toEqual([{ cluster: CLUSTER, tasks: [taskArn(T3), taskArn(T2), taskArn(T1), taskArn(T4)] }]);
    expect(writeCalls(aws)).toEqual([]);
  });

  it('says which streams it looked for when a crashed task left no logs', async () => {
    observe({
      stopped: [
        stoppedTask(T1, {
          stopCode: 'TaskFailedToStart',
          stoppedReason: 'CannotPullContainerError: pull image manifest has been retried 5 time(s): not found',
          stoppedAt: new Date('2024-05-01T10:00:00Z'),
          containers: [{ name: 'api-container' }, { name: 'log_router' }],
        }),
      ],
    });
    const d = crashLoop(await diagnose(testContext()));
    expect(d.status).toBe('PROBLEM');
    expect(d.evidence).toContain(
      `stopped task ${T1} (fintech-api-task:8) at 2024-05-01T10:00:00.000Z: TaskFailedToStart: CannotPullContainerError: pull image manifest has been retried 5 time(s): not found; containers: api-container exit none, log_router exit none`,
    );
    expect(d.evidence).toContain(
      `task ${T1}: no log stream in /ecs/fintech-api (looked for appapi-container-firelens-${T1}, app/api-container-firelens-${T1}): did the log router start?`,
    );
  });

  it('is a PROBLEM when the circuit breaker FAILED the deployment and rolled back, with the recent service events', async () => {
    observe({
      service: service({
        deployments: [
          deployment({ id: 'ecs-svc/2222', status: 'PRIMARY', taskDefinition: taskDef(7), rolloutState: 'IN_PROGRESS', rolloutStateReason: 'ECS deployment ecs-svc/2222 in progress.', runningCount: 2 }),
          deployment({
            id: 'ecs-svc/3333',
            status: 'ACTIVE',
            taskDefinition: taskDef(8),
            rolloutState: 'FAILED',
            rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
            runningCount: 0,
            failedTasks: 6,
          }),
        ],
        events: [
          { id: 'e3', createdAt: minutesAgo(2), message: `(service ${SERVICE}) rolling back to deployment ecs-svc/2222.` },
          { id: 'e2', createdAt: minutesAgo(3), message: `(service ${SERVICE}) (deployment ecs-svc/3333) deployment failed: tasks failed to start.` },
          { id: 'e1', createdAt: minutesAgo(4), message: `(service ${SERVICE}) has started 3 tasks: (task ${T1}).` },
          { id: 'e0', createdAt: minutesAgo(600), message: `(service ${SERVICE}) (deployment ecs-svc/0001) deployment failed: tasks failed to start.` },
        ],
      }),
    });

    const d = crashLoop(await diagnose(testContext()));

    expect(d.status).toBe('PROBLEM');
    expect(d.evidence[0]).toBe('the deployment is failing (no crashed task is still listed: ECS keeps stopped tasks about an hour)');
    expect(d.evidence).toEqual(
      expect.arrayContaining([
        'deployment ecs-svc/3333 ACTIVE (fintech-api-task:8): FAILED, 0/3 running, 6 failed task(s) — ECS deployment circuit breaker: tasks failed to start.',
        'rolled back: PRIMARY deployment ecs-svc/2222 runs fintech-api-task:7, not fintech-api-task:8',
        expect.stringMatching(/^service event .*: \(service fintech-api-svc\) rolling back to deployment ecs-svc\/2222\.$/),
        expect.stringMatching(/^service event .*\(deployment ecs-svc\/3333\) deployment failed: tasks failed to start\.$/),
        'circuit breaker: enabled, rollback on',
      ]),
    );
    // An event from ten hours ago is history, not this incident; "has started" is no failure.
    expect(d.evidence.join('\n')).not.toContain('ecs-svc/0001');
    expect(d.evidence.join('\n')).not.toContain('has started');
    expect(d.fix).toContain(CRASH_FIX);
  });

  it('says there is nothing to roll back to when the first deployment FAILED', async () => {
    observe({
      service: service({
        runningCount: 0,
        deployments: [deployment({ rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.', runningCount: 0, failedTasks: 3 })],
      }),
    });
    const d = crashLoop(await diagnose(testContext()));
    expect(d.status).toBe('PROBLEM');
    expect(d.evidence).toContain('deployment ecs-svc/1111 PRIMARY (fintech-api-task:7): FAILED, 0/3 running, 3 failed task(s) — ECS deployment circuit breaker: tasks failed to start.');
    expect(d.evidence).toContain('no rollback: deployment ecs-svc/1111 has no earlier COMPLETED deployment to return to (a first deployment cannot roll back)');
  });

  it('is a PROBLEM while a deployment is IN_PROGRESS with failed tasks, and says when the circuit breaker is off', async () => {
    observe({
      service: service({
        deploymentConfiguration: { deploymentCircuitBreaker: { enable: false, rollback: false } },
        deployments: [deployment({ rolloutState: 'IN_PROGRESS', rolloutStateReason: 'ECS deployment ecs-svc/1111 in progress.', runningCount: 1, failedTasks: 4 })],
      }),
    });
    const d = crashLoop(await diagnose(testContext()));
    expect(d.status).toBe('PROBLEM');
    expect(d.evidence).toContain('deployment ecs-svc/1111 PRIMARY (fintech-api-task:7): IN_PROGRESS, 1/3 running, 4 failed task(s) — ECS deployment ecs-svc/1111 in progress.');
    expect(d.evidence).toContain('circuit breaker: DISABLED, rollback OFF');
  });

  it('is SKIP when the service does not exist, and the scale-out checks still run', async () => {
    observe({ service: undefined, targets: [] });
    const diagnoses = await diagnose(testContext());
    expect(crashLoop(diagnoses)).toMatchObject({ status: 'SKIP', evidence: [`service not found in cluster ${CLUSTER}: nothing runs yet (fintech-runbook apply)`] });
    expect(aws.ecs.commandCalls(ListTasksCommand)).toHaveLength(0);
    expect(subnets(diagnoses).status).toBe('OK');
  });
});

describe('diagnose, 4.2.2 scale-out failure', () => {
  it('asks for exactly this scalable target, its newest activities (with not-scaled ones) and the two app subnets', async () => {
    observe();
    const diagnoses = await diagnose(testContext());
    expect(inputsOf(aws.autoscaling, DescribeScalableTargetsCommand)).toEqual([{ ServiceNamespace: 'ecs', ResourceIds: [RESOURCE_ID], ScalableDimension: DIMENSION }]);
    expect(inputsOf(aws.autoscaling, DescribeScalingActivitiesCommand)).toEqual([
      { ServiceNamespace: 'ecs', ResourceId: RESOURCE_ID, ScalableDimension: DIMENSION, MaxResults: 10, IncludeNotScaledActivities: true },
    ]);
    expect(inputsOf(aws.ec2, DescribeSubnetsCommand)).toEqual([{ SubnetIds: [SUBNET_A, SUBNET_B] }]);
    expect(capacity(diagnoses)).toMatchObject({ status: 'OK', evidence: ['desiredCount 3, running 3, MinCapacity 3, MaxCapacity 10'] });
    expect(activities(diagnoses).evidence[0]).toMatch(/^no failed activity in the newest 1; newest: activity 2024-05-01T09:00:00.000Z Successful/);
    expect(subnets(diagnoses).evidence).toEqual([
      'MaxCapacity 10 − 3 running = 7 more task(s), one IP each: 4 per subnet over 2 subnets; 478 free in total',
      `subnet ${SUBNET_A} (us-east-1a, 10.0.10.0/24): 240 free IPs, needs 4`,
      `subnet ${SUBNET_B} (us-east-1b, 10.0.11.0/24): 238 free IPs, needs 4`,
    ]);
  });

  it('is a PROBLEM at max capacity, with the MaxCapacity fix, and shows the not-scaled activity', async () => {
    observe({
      service: service({ desiredCount: 10, runningCount: 10 }),
      activities: [
        activity({
          StatusCode: 'Failed',
          Description: 'Attempting to scale-out ECS service service/fintech-prod-cluster/fintech-api-svc.',
          StatusMessage: undefined,
          NotScaledReasons: [{ Code: 'AlreadyAtMaxCapacity', MaxCapacity: 10, CurrentCapacity: 10 }],
        }),
      ],
    });
    const diagnoses = await diagnose(testContext());
    const d = capacity(diagnoses);
    expect(d).toEqual({
      scenario: 'scale-out-failure',
      status: 'PROBLEM',
      resource: `scalable target ${RESOURCE_ID} (${DIMENSION})`,
      evidence: ['at max capacity: desiredCount 10 >= MaxCapacity 10, scale-out cannot add tasks', 'desiredCount 10, running 10, MinCapacity 3, MaxCapacity 10'],
      fix: 'Raise MaxCapacity: scaling.ecs.maxCapacity in the config (now 10), then fintech-runbook apply',
    });
    const a = activities(diagnoses);
    expect(a.status).toBe('PROBLEM');
    expect(a.evidence[1]).toContain('not scaled: AlreadyAtMaxCapacity (max 10, current 10)');
    expect(a.fix).toBe('Raise MaxCapacity: scaling.ecs.maxCapacity in the config (now 10), then fintech-runbook apply');
    // At max, no more tasks are needed: the subnets are fine.
    expect(subnets(diagnoses).status).toBe('OK');
    expect(writeCalls(aws)).toEqual([]);
  });

  it('is a PROBLEM when dynamic scale-out is suspended on the target', async () => {
    observe({ targets: [target({ SuspendedState: { DynamicScalingOutSuspended: true } })] });
    const d = capacity(await diagnose(testContext()));
    expect(d.status).toBe('PROBLEM');
    expect(d.evidence[0]).toMatch(/^dynamic scale-out is SUSPENDED/);
  });

  it('reports a failed scaling activity with its cause and status message', async () => {
    observe({
      activities: [
        activity({
          StartTime: new Date('2024-05-01T10:05:00Z'),
          StatusCode: 'Failed',
          StatusMessage:
            'Failed to set desired count to 6. Reason: AccessDeniedException: User is not authorized to perform: ecs:UpdateService on resource service/fintech-prod-cluster/fintech-api-svc',
        }),
        activity({ ActivityId: 'act-0', StartTime: new Date('2024-05-01T08:00:00Z') }),
      ],
    });
    const d = activities(await diagnose(testContext()));
    expect(d.status).toBe('PROBLEM');
    expect(d.evidence).toEqual([
      '1 failed/unfulfilled and 0 at-max-capacity activit(ies) among the newest 2',
      'activity 2024-05-01T10:05:00.000Z Failed: Setting desired count to 6.; ' +
        'cause: monitor alarm TargetTracking-service/fintech-prod-cluster/fintech-api-svc-AlarmHigh in state ALARM triggered policy fintech-cpu-scaling; ' +
        'status: Failed to set desired count to 6. Reason: AccessDeniedException: User is not authorized to perform: ecs:UpdateService on resource service/fintech-prod-cluster/fintech-api-svc',
    ]);
    // The cause names neither capacity nor the network: both of the runbook's fixes.
    expect(d.fix).toContain('Raise MaxCapacity');
    expect(d.fix).toContain('Check subnet CIDR usage');
  });

  it('gives the subnet fix when an Unfulfilled activity blames the network', async () => {
    observe({
      activities: [activity({ StatusCode: 'Unfulfilled', StatusMessage: 'Unable to place tasks: no free IP addresses in subnet subnet-0aaaaaaaaaaaaaaaa.' })],
    });
    const d = activities(await diagnose(testContext()));
    expect(d.status).toBe('PROBLEM');
    expect(d.evidence[1]).toContain('status: Unable to place tasks: no free IP addresses in subnet subnet-0aaaaaaaaaaaaaaaa.');
    expect(d.fix).toMatch(/^Check subnet CIDR usage/);
    expect(d.fix).not.toContain('MaxCapacity');
  });

  it('is a PROBLEM naming the subnet with too few free IPs for its share of max capacity, with tasks that could not get an ENI', async () => {
    observe({
      subnets: [subnet(SUBNET_A, 'us-east-1a', '10.0.10.0/28', 2), subnet(SUBNET_B, 'us-east-1b', '10.0.11.0/24', 200)],
      stopped: [
        stoppedTask(T1, {
          stopCode: 'TaskFailedToStart',
          stoppedReason: `ResourceInitializationError: unable to create ENI: insufficient free IP addresses in subnet ${SUBNET_A}`,
          stoppedAt: new Date('2024-05-01T10:00:00Z'),
          containers: [{ name: 'api-container' }],
        }),
      ],
    });
    const diagnoses = await diagnose(testContext());
    const d = subnets(diagnoses);
    expect(d.status).toBe('PROBLEM');
    expect(d.resource).toBe(`app subnets ${SUBNET_A}, ${SUBNET_B}`);
    expect(d.evidence).toEqual([
      `subnet ${SUBNET_A} (us-east-1a, 10.0.10.0/28): 2 free IPs, needs 4: too few free IPs for its share of 10 tasks`,
      `network failure: stopped task ${T1} (fintech-api-task:8) at 2024-05-01T10:00:00.000Z: TaskFailedToStart: ResourceInitializationError: unable to create ENI: insufficient free IP addresses in subnet ${SUBNET_A}; containers: api-container exit none`,
      'MaxCapacity 10 − 3 running = 7 more task(s), one IP each: 4 per subnet over 2 subnets; 202 free in total',
      `subnet ${SUBNET_B} (us-east-1b, 10.0.11.0/24): 200 free IPs, needs 4`,
    ]);
    expect(d.fix).toBe(
      `Check subnet CIDR usage (aws ec2 describe-subnets --subnet-ids ${SUBNET_A} ${SUBNET_B}): free IPs (release unused ENIs), or add subnets / move to larger CIDRs (inputs.appSubnetIds, then fintech-runbook apply)`,
    );
    // A task that never got an IP is a scale-out problem, not a crash of the code.
    expect(crashLoop(diagnoses)).toMatchObject({
      status: 'OK',
      evidence: expect.arrayContaining(['1 stopped task(s), none crashed (1 could not get a network interface: see scale-out-failure)']),
    });
  });

  it('flags the total when the subnets together cannot hold max capacity', async () => {
    observe({ subnets: [subnet(SUBNET_A, 'us-east-1a', '10.0.10.0/28', 3), subnet(SUBNET_B, 'us-east-1b', '10.0.11.0/28', 1)] });
    const d = subnets(await diagnose(testContext()));
    expect(d.status).toBe('PROBLEM');
    expect(d.evidence.slice(0, 3)).toEqual([
      '4 free IPs in the app subnets, 7 needed to reach MaxCapacity 10',
      `subnet ${SUBNET_A} (us-east-1a, 10.0.10.0/28): 3 free IPs, needs 4: too few free IPs for its share of 10 tasks`,
      `subnet ${SUBNET_B} (us-east-1b, 10.0.11.0/28): 1 free IPs, needs 4: too few free IPs for its share of 10 tasks`,
    ]);
  });

  it('is SKIP when the scalable target is not registered, and checks the subnets against the config', async () => {
    observe({ targets: [] });
    const diagnoses = await diagnose(testContext());
    expect(capacity(diagnoses)).toMatchObject({
      status: 'SKIP',
      evidence: ['scalable target is not registered: section 2.1 (ecs-scaling) is not applied, so the service does not scale'],
    });
    expect(diagnoses.some((d) => d.resource.startsWith('scaling activities'))).toBe(false);
    expect(aws.autoscaling.commandCalls(DescribeScalingActivitiesCommand)).toHaveLength(0);
    expect(subnets(diagnoses)).toMatchObject({ status: 'OK' });
    expect(subnets(diagnoses).evidence[0]).toBe(
      'scaling.ecs.maxCapacity (no scalable target registered) 10 − 3 running = 7 more task(s), one IP each: 4 per subnet over 2 subnets; 478 free in total',
    );
  });

  it('makes an unreadable source a SKIP that says why (moto has no DescribeScalingActivities), and the rest still runs', async () => {
    observe();
    // What the SDK raises for moto's HTML 500 page.
    const motoAnswer = Object.assign(new SyntaxError(`Unexpected token '<', "<!doctype "... is not valid JSON`), { $metadata: { httpStatusCode: 500 } });
    aws.autoscaling.on(DescribeScalingActivitiesCommand).rejects(motoAnswer);
    aws.ec2.on(DescribeSubnetsCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 'req-42'));
    const diagnoses = await diagnose(testContext());
    expect(activities(diagnoses)).toMatchObject({
      status: 'SKIP',
      evidence: ['could not check: the endpoint answered HTTP 500 without an AWS error document (an emulator that does not implement this call?)'],
    });
    expect(subnets(diagnoses)).toMatchObject({
      status: 'SKIP',
      evidence: ['could not check: UnauthorizedOperation: You are not authorized to perform this operation. — request id req-42'],
    });
    expect(crashLoop(diagnoses).status).toBe('OK');
    expect(capacity(diagnoses).status).toBe('OK');
  });
});

describe('diagnoseCommand', () => {
  function session(json: boolean): { session: Session; human: () => string } {
    const ctx = testContext();
    let text = '';
    const human = { write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WriteStream;
    const runner = { config: ctx.config, clients: ctx.clients, recorder: passThroughRecorder, signal: ctx.signal, pollIntervalMs: 1, humanStream: human, lineRenderer: true };
    return {
      session: { options: { config: 'config/production.yaml', pollInterval: '1', json }, config: ctx.config, clients: ctx.clients, steps: [], human, runner },
      human: () => text,
    };
  }

  function captureStdout(): () => string {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    return () => out;
  }

  it('exits 0 and prints one JSON document when nothing is wrong', async () => {
    observe();
    const stdout = captureStdout();
    const { session: s, human } = session(true);

    expect(await diagnoseCommand(s)).toBe(0);

    const report = JSON.parse(stdout());
    expect(report).toMatchObject({ command: 'diagnose', ok: true, calls: { writes: 0 } });
    expect(report.diagnoses.map((d: Diagnosis) => `${d.scenario} ${d.status}`)).toEqual([
      'task-crash-loop OK',
      'scale-out-failure OK',
      'scale-out-failure OK',
      'scale-out-failure OK',
    ]);
    // Human text goes to the other stream; no fix is printed when nothing is wrong.
    expect(human()).toContain(`OK      4.2.1 Task crash loop    ecs service ${CLUSTER}/${SERVICE}`);
    expect(human()).toContain('No problem found.');
    expect(human()).not.toContain('fix:');
    expect(writeCalls(aws)).toEqual([]);
  });

  it('exits 1 when a finding is a problem, with the fix in the text and ok:false in the JSON', async () => {
    observe({ service: service({ desiredCount: 10, runningCount: 10 }) });
    const stdout = captureStdout();
    const { session: s, human } = session(true);

    expect(await diagnoseCommand(s)).toBe(1);

    const report = JSON.parse(stdout());
    expect(report.ok).toBe(false);
    expect(report.diagnoses).toContainEqual(
      expect.objectContaining({ scenario: 'scale-out-failure', status: 'PROBLEM', resource: `scalable target ${RESOURCE_ID} (${DIMENSION})` }),
    );
    expect(human()).toContain('PROBLEM 4.2.2 Scale-out failure');
    expect(human()).toContain('- at max capacity: desiredCount 10 >= MaxCapacity 10, scale-out cannot add tasks');
    expect(human()).toContain('fix: Raise MaxCapacity: scaling.ecs.maxCapacity in the config (now 10), then fintech-runbook apply');
    expect(human()).toContain(`1 problem(s): scalable target ${RESOURCE_ID} (${DIMENSION})`);
    expect(writeCalls(aws)).toEqual([]);
  });

  it('prints no JSON without --json', async () => {
    observe();
    const stdout = captureStdout();
    const { session: s, human } = session(false);
    expect(await diagnoseCommand(s)).toBe(0);
    expect(stdout()).toBe('');
    expect(human()).toContain('No problem found.');
  });
});
