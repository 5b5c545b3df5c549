// `rollback --to <rev>` (runbook 4.3, DESIGN.md §5, §8 rows 9–10): everything verified read-only
// before the one UpdateService, the deployment judged by its id, then the 4.1 checks.
import { DescribeLogStreamsCommand, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { BatchGetImageCommand } from '@aws-sdk/client-ecr';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ListTaskDefinitionsCommand,
  UpdateServiceCommand,
  type ContainerDefinition,
  type Deployment,
  type Service,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { DescribeTargetGroupsCommand, DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createClients } from '../../src/aws/clients.js';
import { describeDifference, parseTarget, rollbackCommand, RollbackRefused, type RollbackFlags } from '../../src/commands/rollback.js';
import type { Session } from '../../src/commands/shared.js';
import { mask, redact } from '../../steps/task-definition.js';
import { ExitCode, InterruptedError, UsageError } from '../../src/core/errors.js';
import { environmentLock, LockHeldError } from '../../src/core/lock.js';
import { listRuns, readJournal } from '../../src/core/journal.js';
import { passThroughRecorder } from '../../src/core/step.js';
import { ACCOUNT_ID, awsError, mockAws, testConfig, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

const family = 'fintech-api-task';
const cluster = 'fintech-prod-cluster';
const serviceName = 'fintech-api-svc';
const registry = `${ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com`;
const fluentBit = 'public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4';
const secretArn = `arn:aws:secretsmanager:us-east-1:${ACCOUNT_ID}:secret:fintech/db-credentials-AbCdEf`;
const tdArn = (revision: number, fam = family) => `arn:aws:ecs:us-east-1:${ACCOUNT_ID}:task-definition/${fam}:${revision}`;
const tgArn = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:targetgroup/fintech-prod-tg/73e2d6bc24d8a067`;
const deployedAt = new Date('2025-03-01T10:00:00.000Z');

const api = (tag: string, extra: Partial<ContainerDefinition> = {}): ContainerDefinition => ({
  name: 'api-container',
  image: `${registry}/fintech-api:${tag}`,
  environment: [
    { name: 'ENV', value: 'production' },
    { name: 'REGION', value: 'us-east-1' },
  ],
  secrets: [{ name: 'DB_PASSWORD', valueFrom: `${secretArn}:password::` }],
  ...extra,
});
const logRouter: ContainerDefinition = { name: 'log_router', image: fluentBit, essential: true };

const taskDefinition = (revision: number, tag: string, extra: Partial<TaskDefinition> = {}): TaskDefinition => ({
  taskDefinitionArn: tdArn(revision),
  family,
  revision,
  status: 'ACTIVE',
  cpu: '1024',
  memory: '2048',
  containerDefinitions: [api(tag), logRouter],
  ...extra,
});

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

const running = (revision: number, deployments: Deployment[], extra: Partial<Service> = {}): Service => ({
  serviceName,
  status: 'ACTIVE',
  taskDefinition: tdArn(revision),
  desiredCount: 3,
  runningCount: 3,
  deployments,
  events: [],
  ...extra,
});

/** The service before the rollback: revision 7, settled. */
const onSeven = () => running(7, [deployment('ecs-svc/7777', 7)]);
/** Right after UpdateService to revision 6: the service names 6, our deployment is PRIMARY, the old one ACTIVE. */
const updating = () =>
  running(6, [deployment('ecs-svc/new', 6, { rolloutState: 'IN_PROGRESS', runningCount: 0 }), deployment('ecs-svc/7777', 7, { status: 'ACTIVE' })]);
/** Our deployment completed on revision 6. */
const onSix = () => running(6, [deployment('ecs-svc/new', 6)]);

function collectingStream() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk) => (text += chunk.toString()));
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

let aws: AwsMocks;
let stateDir: string;
let human: ReturnType<typeof collectingStream>;
let controller: AbortController;

function session(): Session {
  const config = testConfig();
  const clients = createClients({ region: 'us-east-1' });
  return {
    options: { config: 'x', json: false, pollInterval: '0.01' },
    config,
    clients,
    steps: [],
    human: human.stream,
    runner: { config, clients, recorder: passThroughRecorder, signal: controller.signal, pollIntervalMs: 1, humanStream: human.stream, lineRenderer: true },
  };
}

const rollback = (flags: Partial<RollbackFlags> & { to: string }) => rollbackCommand(session(), { yes: true, ...flags });

/** Read-only calls of a verified rollback from 7 to `targetRevision` (default 6). */
function mockVerification(options: { service?: Service; target?: TaskDefinition; current?: TaskDefinition } = {}) {
  const target = options.target ?? taskDefinition(6, 'prod-1.4.1');
  aws.ecs.on(DescribeServicesCommand).resolves({ services: [options.service ?? onSeven()], failures: [] });
  aws.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: `${family}:${target.revision}` }).resolves({ taskDefinition: target });
  aws.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: tdArn(7) }).resolves({ taskDefinition: options.current ?? taskDefinition(7, 'prod-1.4.2') });
  aws.ecr.on(BatchGetImageCommand).resolves({ images: [{ repositoryName: 'fintech-api', imageId: { imageTag: 'prod-1.4.1' }, imageManifest: '{}' }], failures: [] });
}

/** The 4.1 checks after a stable deployment: all OK. */
function mockHealthyChecks() {
  aws.elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [{ TargetGroupArn: tgArn, TargetGroupName: 'fintech-prod-tg' }] });
  aws.elbv2.on(DescribeTargetHealthCommand).resolves({
    TargetHealthDescriptions: ['10.0.1.10', '10.0.2.11', '10.0.1.12'].map((ip) => ({ Target: { Id: ip, Port: 8080 }, TargetHealth: { State: 'healthy' as const } })),
  });
  aws.logs.on(DescribeLogStreamsCommand).resolves({ logStreams: [{ logStreamName: 'app/api-container/0123456789abcdef' }] });
  aws.logs.on(FilterLogEventsCommand).resolves({ events: [{ message: 'listening on 8080', timestamp: deployedAt.getTime() + 1000 }] });
}

/** STS: the credentials are the config's account. */
const CALLER = `arn:aws:sts::${ACCOUNT_ID}:assumed-role/Operator/oncall`;
function mockCaller(account = ACCOUNT_ID) {
  aws.sts.on(GetCallerIdentityCommand).resolves({ Account: account, Arn: CALLER.replace(ACCOUNT_ID, account), UserId: 'AROAEXAMPLE:oncall' });
}

/** Every call made to any mocked client. */
const allCalls = () => Object.values(aws).flatMap((mock) => mock.calls());

beforeEach(() => {
  aws = mockAws();
  mockCaller();
  stateDir = mkdtempSync(join(tmpdir(), 'rollback-test-'));
  vi.stubEnv('FINTECH_RUNBOOK_STATE_DIR', stateDir);
  human = collectingStream();
  controller = new AbortController();
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('parseTarget', () => {
  it.each([
    ['7', { revision: 7 }],
    ['fintech-api-task:7', { revision: 7 }],
    [tdArn(12), { revision: 12 }],
    [' 7 ', { revision: 7 }],
    ['previous', { previous: true }],
  ])('%s', (to, expected) => {
    expect(parseTarget(to, family)).toEqual(expected);
  });

  it('refuses a revision of another family (usage error, exit 2), from a family:rev or an ARN', () => {
    for (const to of ['other-task:7', tdArn(7, 'other-task')]) {
      expect(() => parseTarget(to, family)).toThrow(UsageError);
      try {
        parseTarget(to, family);
      } catch (error) {
        expect((error as UsageError).exitCode).toBe(ExitCode.usage);
        expect((error as Error).message).toContain('family other-task');
      }
    }
  });

  it.each(['', 'latest', 'fintech-api-task:latest', 'seven', '7a', '-1', 'fintech-api-task:7:1', 'fintech api task:7'])('refuses garbage %j', (to) => {
    expect(() => parseTarget(to, family)).toThrow(UsageError);
  });
});

describe('rollback: success', () => {
  it('verifies, sends exactly one UpdateService in the configured cluster with the target ARN, waits for that deployment, runs the 4.1 checks', async () => {
    mockVerification();
    aws.ecs.on(UpdateServiceCommand).resolves({ service: updating() });
    aws.ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [onSeven()] }) // verification
      .resolvesOnce({ services: [updating()] }) // first poll: in progress
      .resolves({ services: [onSix()] });
    mockHealthyChecks();

    const code = await rollback({ to: '6' });

    expect(code).toBe(ExitCode.ok);
    expect(writeCalls(aws)).toEqual(['ecs:UpdateService']); // never DeregisterTaskDefinition
    expect(aws.ecs.commandCalls(UpdateServiceCommand)[0].args[0].input).toEqual({ cluster, service: serviceName, taskDefinition: tdArn(6) });
    expect(aws.ecs.commandCalls(DescribeServicesCommand).every((c) => c.args[0].input.cluster === cluster)).toBe(true);
    // Only our account's image is verified, by tag.
    expect(aws.ecr.commandCalls(BatchGetImageCommand).map((c) => c.args[0].input)).toEqual([
      { repositoryName: 'fintech-api', imageIds: [{ imageTag: 'prod-1.4.1' }] },
    ]);
    // The write comes after every verification read.
    const order = aws.ecs.calls().map((c) => (c.args[0] as object).constructor.name);
    expect(order.indexOf('UpdateServiceCommand')).toBeGreaterThan(order.lastIndexOf('DescribeTaskDefinitionCommand'));
    expect(aws.elbv2.commandCalls(DescribeTargetHealthCommand)).toHaveLength(1);
    expect(aws.logs.commandCalls(FilterLogEventsCommand)).toHaveLength(1);

    const text = human.text();
    expect(text).toContain(`Roll back ${cluster}/${serviceName}: ${family}:7 → ${family}:6`);
    expect(text).toContain(`~ api-container image: ${registry}/fintech-api:prod-1.4.2 → ${registry}/fintech-api:prod-1.4.1`);
    expect(text).toContain('Deployment ecs-svc/new started');
    expect(text).toMatch(/OK\s+Service Stable/);
    expect(text).toMatch(/OK\s+Tasks Healthy/);
    expect(text).toMatch(/OK\s+Logs Flowing/);
    expect(text).toContain(`Rolled back to ${family}:6.`);

    const [run] = listRuns(stateDir);
    expect(run).toMatchObject({ command: `rollback --to ${family}:6`, outcome: 'ok', writes: 1, failedWrites: 0, steps: ['service'] });
    const entries = readJournal(run.file);
    expect(entries.find((e) => e.type === 'write-done')).toMatchObject({ step: 'service', operation: 'UpdateService', action: 'update' });
  });

  it('accepts family:rev and an ARN the same way', async () => {
    for (const to of [`${family}:6`, tdArn(6)]) {
      aws = mockAws();
      mockCaller();
      mockVerification();
      aws.ecs.on(UpdateServiceCommand).resolves({ service: updating() });
      aws.ecs.on(DescribeServicesCommand).resolvesOnce({ services: [onSeven()] }).resolves({ services: [onSix()] });
      mockHealthyChecks();
      expect(await rollback({ to })).toBe(ExitCode.ok);
      expect(aws.ecs.commandCalls(UpdateServiceCommand).map((c) => c.args[0].input.taskDefinition)).toEqual([tdArn(6)]);
    }
  });

  it('a deployment the circuit breaker rolled back during rollback: exit 1 and the output says it was rolled back', async () => {
    mockVerification();
    aws.ecs.on(UpdateServiceCommand).resolves({ service: updating() });
    const rolledBack = running(7, [
      deployment('ecs-svc/rollback', 7, { rolloutState: 'IN_PROGRESS' }),
      deployment('ecs-svc/new', 6, { status: 'ACTIVE', rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.', runningCount: 0 }),
    ]);
    aws.ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [onSeven()] })
      .resolvesOnce({ services: [updating()] })
      .resolves({ services: [rolledBack] });

    const code = await rollback({ to: '6' });

    expect(code).toBe(ExitCode.failed);
    expect(writeCalls(aws)).toEqual(['ecs:UpdateService']); // no second attempt, no deregistration
    const text = human.text();
    expect(text).toMatch(/FAIL\s+Service Stable/);
    expect(text).toContain('deployment ecs-svc/new is no longer PRIMARY');
    expect(text).toContain('circuit breaker rolled back');
    expect(text).toContain('tasks failed to start');
    expect(text).toContain(`Rollback to ${family}:6 did not complete`);
    expect(text).not.toContain(`Rolled back to ${family}:6.`);
    // Tasks Healthy / Logs Flowing are not judged on a deployment that did not happen.
    expect(aws.elbv2.calls()).toHaveLength(0);
    expect(aws.logs.calls()).toHaveLength(0);
    expect(listRuns(stateDir)).toEqual([expect.objectContaining({ outcome: 'failed', writes: 1 })]);
  });

  it('a circuit-breaker rollback that already settled on the old revision is not called stable', async () => {
    mockVerification();
    aws.ecs.on(UpdateServiceCommand).resolves({ service: updating() });
    // One deployment, running == desired: the stock waiter would say "stable".
    aws.ecs.on(DescribeServicesCommand).resolvesOnce({ services: [onSeven()] }).resolves({ services: [running(7, [deployment('ecs-svc/rollback', 7)])] });
    expect(await rollback({ to: '6' })).toBe(ExitCode.failed);
    expect(human.text()).toContain('circuit breaker rolled back');
  });
});

describe('rollback: refused before any write', () => {
  async function expectRefused(flags: Partial<RollbackFlags> & { to: string }, pattern: RegExp) {
    const error = await rollback(flags).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RollbackRefused);
    expect((error as RollbackRefused).exitCode).toBe(ExitCode.failed);
    expect((error as Error).message).toMatch(pattern);
    expect(writeCalls(aws)).toEqual([]);
    expect(readdirSync(stateDir)).toEqual([]); // no journal: nothing was attempted
    return error as RollbackRefused;
  }

  it('target revision missing (ClientException)', async () => {
    mockVerification();
    aws.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: `${family}:99` }).rejects(awsError('ClientException', 'Unable to describe task definition.'));
    await expectRefused({ to: '99' }, /task definition fintech-api-task:99 does not exist/);
  });

  it('target revision INACTIVE (deregistered)', async () => {
    mockVerification({ target: taskDefinition(6, 'prod-1.4.1', { status: 'INACTIVE' }) });
    await expectRefused({ to: '6' }, /fintech-api-task:6 is INACTIVE/);
    expect(aws.ecr.calls()).toHaveLength(0);
  });

  it('target image expired from ECR (BatchGetImage: no images, ImageNotFound failure), naming the image', async () => {
    mockVerification();
    aws.ecr.on(BatchGetImageCommand).resolves({
      images: [],
      failures: [{ imageId: { imageTag: 'prod-1.4.1' }, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' }],
    });
    const error = await expectRefused({ to: '6' }, /no longer in ECR/);
    expect(error.message).toContain(`api-container: ${registry}/fintech-api:prod-1.4.1`);
  });

  it('target image repository deleted', async () => {
    mockVerification();
    aws.ecr.on(BatchGetImageCommand).rejects(awsError('RepositoryNotFoundException', "The repository with name 'fintech-api' does not exist"));
    await expectRefused({ to: '6' }, /repository fintech-api does not exist/);
  });

  it('an image pinned by digest is looked up by digest', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    mockVerification({ target: taskDefinition(6, 'x', { containerDefinitions: [api('x', { image: `${registry}/fintech-api@${digest}` })] }) });
    aws.ecr.on(BatchGetImageCommand).resolves({ images: [], failures: [{ failureCode: 'ImageNotFound' }] });
    await expectRefused({ to: '6' }, /fintech-api@sha256:a+/);
    expect(aws.ecr.commandCalls(BatchGetImageCommand)[0].args[0].input).toEqual({ repositoryName: 'fintech-api', imageIds: [{ imageDigest: digest }] });
  });

  it('a deployment in flight (2 deployments) is refused without --force', async () => {
    mockVerification({ service: running(7, [deployment('ecs-svc/8888', 8, { rolloutState: 'IN_PROGRESS' }), deployment('ecs-svc/7777', 7, { status: 'ACTIVE' })]) });
    await expectRefused({ to: '6' }, /deployment is in flight on fintech-api-svc \(2 deployments\).*--force/);
  });

  it('the service does not exist', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [], failures: [{ reason: 'MISSING' }] });
    await expectRefused({ to: '6' }, /service fintech-api-svc does not exist in cluster fintech-prod-cluster/);
  });

  it('"previous" with no older ACTIVE revision', async () => {
    mockVerification();
    aws.ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [tdArn(7), tdArn(8)] });
    await expectRefused({ to: 'previous' }, /no ACTIVE revision of fintech-api-task older than 7/);
  });
});

describe('rollback: identity and the environment lock (issue 8)', () => {
  it('credentials of another account: exit 2 naming both accounts, before any ECS call or lock', async () => {
    mockCaller('210987654321');
    const error = await rollback({ to: '6' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain(`credentials are for account 210987654321 (arn:aws:sts::210987654321:assumed-role/Operator/oncall), the config is for accountId ${ACCOUNT_ID}`);
    expect(aws.ecs.calls()).toHaveLength(0);
    expect(writeCalls(aws)).toEqual([]);
    expect(readdirSync(stateDir)).toEqual([]);
  });

  it('another run holds the lock: exit 5 naming it, before any ECS call', async () => {
    const other = environmentLock({ config: testConfig(), clients: createClients({ region: 'us-east-1' }), stateDir, runId: 'run-apply-1', command: 'apply' });
    await other.acquire({ timeoutMs: 0 });
    try {
      const error = await rollback({ to: '6' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockHeldError);
      expect((error as LockHeldError).exitCode).toBe(5);
      expect((error as Error).message).toContain('is locked by run run-apply-1 (');
      expect(aws.ecs.calls()).toHaveLength(0);
    } finally {
      await other.release();
    }
  });

  it('holds the lock during the run under the journal run id, records the caller, and releases it on success', async () => {
    mockVerification();
    let holderDuringWrite: string | undefined;
    aws.ecs.on(DescribeServicesCommand).resolvesOnce({ services: [onSeven()] }).resolves({ services: [onSix()] });
    aws.ecs.on(UpdateServiceCommand).callsFake(() => {
      holderDuringWrite = readdirSync(stateDir).find((f) => f.startsWith('lock-'));
      return { service: updating() };
    });
    mockHealthyChecks();
    expect(await rollback({ to: '6' })).toBe(ExitCode.ok);
    expect(holderDuringWrite).toBe(`lock-${ACCOUNT_ID}-us-east-1-${cluster}.json`);
    expect(readdirSync(stateDir).filter((f) => f.startsWith('lock-'))).toEqual([]);
    const [run] = listRuns(stateDir);
    const start = readJournal(run.file).find((e) => e.type === 'run-start');
    expect(start).toMatchObject({ caller: CALLER, account: ACCOUNT_ID, region: 'us-east-1' });
  });

  it('releases the lock when the rollback is refused or fails', async () => {
    mockVerification({ service: running(7, [deployment('ecs-svc/a', 7), deployment('ecs-svc/b', 6, { status: 'ACTIVE' })]) });
    await expect(rollback({ to: '6' })).rejects.toBeInstanceOf(RollbackRefused);
    expect(readdirSync(stateDir).filter((f) => f.startsWith('lock-'))).toEqual([]);
  });

  it('a bad --lock-timeout is refused before any AWS call', async () => {
    await expect(rollback({ to: '6', lockTimeout: 'soon' })).rejects.toThrow('--lock-timeout: "soon"');
    expect(allCalls()).toHaveLength(0);
  });
});

describe('rollback: other paths', () => {
  it('an image from another registry is not verified but mentioned', async () => {
    mockVerification();
    aws.ecs.on(UpdateServiceCommand).resolves({ service: updating() });
    aws.ecs.on(DescribeServicesCommand).resolvesOnce({ services: [onSeven()] }).resolves({ services: [onSix()] });
    mockHealthyChecks();
    expect(await rollback({ to: '6' })).toBe(ExitCode.ok);
    expect(aws.ecr.commandCalls(BatchGetImageCommand)).toHaveLength(1); // api-container only
    expect(human.text()).toContain(`images outside this account's ECR not verified: log_router: ${fluentBit}`);
  });

  it('with --force, a deployment in flight is rolled back over', async () => {
    mockVerification({ service: running(7, [deployment('ecs-svc/8888', 8, { rolloutState: 'IN_PROGRESS' }), deployment('ecs-svc/7777', 7, { status: 'ACTIVE' })]) });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: updating() });
    aws.ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [running(7, [deployment('ecs-svc/8888', 8, { rolloutState: 'IN_PROGRESS' }), deployment('ecs-svc/7777', 7, { status: 'ACTIVE' })])] })
      .resolves({ services: [onSix()] });
    mockHealthyChecks();
    expect(await rollback({ to: '6', force: true })).toBe(ExitCode.ok);
    expect(writeCalls(aws)).toEqual(['ecs:UpdateService']);
  });

  it('target == current: exit 0, says so, no write and no journal', async () => {
    mockVerification({ target: taskDefinition(7, 'prod-1.4.2') });
    expect(await rollback({ to: '7' })).toBe(ExitCode.ok);
    expect(writeCalls(aws)).toEqual([]);
    expect(human.text()).toContain(`already runs ${family}:7: nothing to roll back`);
    expect(readdirSync(stateDir)).toEqual([]);
  });

  it('"previous" picks the newest ACTIVE revision of the family lower than the current one, across pages', async () => {
    mockVerification({ target: taskDefinition(5, 'prod-1.4.0') });
    aws.ecr.on(BatchGetImageCommand).resolves({ images: [{ imageId: { imageTag: 'prod-1.4.0' } }] });
    aws.ecs
      .on(ListTaskDefinitionsCommand)
      .resolvesOnce({ taskDefinitionArns: [tdArn(4), tdArn(8), tdArn(6, 'fintech-api-task-canary'), tdArn(7)], nextToken: 'page-2' })
      .resolvesOnce({ taskDefinitionArns: [tdArn(5), tdArn(3)] });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: updating() });
    aws.ecs.on(DescribeServicesCommand).resolvesOnce({ services: [onSeven()] }).resolves({ services: [running(5, [deployment('ecs-svc/new', 5)])] });
    mockHealthyChecks();

    expect(await rollback({ to: 'previous' })).toBe(ExitCode.ok);

    // Both pages were read (the SDK paginator reuses one input object, so count them).
    expect(aws.ecs.commandCalls(ListTaskDefinitionsCommand)).toHaveLength(2);
    expect(aws.ecs.commandCalls(UpdateServiceCommand)[0].args[0].input.taskDefinition).toBe(tdArn(5));
    expect(human.text()).toContain(`${family}:7 → ${family}:5`);
  });

  it('without --yes and without a terminal: UsageError (exit 2) before any AWS call', async () => {
    const descriptor = Object.getOwnPropertyDescriptor(process.stdin, 'isTTY');
    Object.defineProperty(process.stdin, 'isTTY', { value: false, configurable: true, writable: true });
    try {
      mockVerification();
      const error = await rollbackCommand(session(), { to: '6', yes: false }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).exitCode).toBe(ExitCode.usage);
      expect((error as Error).message).toContain('--yes');
      expect(allCalls()).toHaveLength(0);
    } finally {
      if (descriptor) Object.defineProperty(process.stdin, 'isTTY', descriptor);
      else delete (process.stdin as { isTTY?: boolean }).isTTY;
    }
  });

  it('bad --to or --timeout: UsageError before any AWS call', async () => {
    mockVerification();
    await expect(rollback({ to: 'other-task:3' })).rejects.toBeInstanceOf(UsageError);
    await expect(rollback({ to: '6', timeout: '0' })).rejects.toBeInstanceOf(UsageError);
    await expect(rollback({ to: '6', timeout: 'soon' })).rejects.toBeInstanceOf(UsageError);
    expect(allCalls()).toHaveLength(0);
  });

  it('a deployment that does not settle within --timeout fails (exit 1) after the one write', async () => {
    mockVerification();
    aws.ecs.on(UpdateServiceCommand).resolves({ service: updating() });
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const start = Date.now();
      let polls = 0;
      aws.ecs.on(DescribeServicesCommand).callsFake(() => {
        polls++;
        if (polls > 2) vi.setSystemTime(start + 2_000); // time passes while we wait
        return { services: [polls === 1 ? onSeven() : updating()] };
      });
      expect(await rollback({ to: '6', timeout: '1' })).toBe(ExitCode.failed);
    } finally {
      vi.useRealTimers();
    }
    expect(writeCalls(aws)).toEqual(['ecs:UpdateService']);
    expect(human.text()).toContain('timed out after 1s');
  });
});

describe('rollback: interruption (DESIGN.md §4: SIGINT → no new write, exit 130)', () => {
  it('an interrupt during the verification reads stops before the UpdateService', async () => {
    mockVerification();
    aws.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: `${family}:6` }).callsFake(() => {
      controller.abort(); // SIGINT while the read is in flight: the CLI aborts its controller
      return { taskDefinition: taskDefinition(6, 'prod-1.4.1') };
    });
    aws.ecs.on(UpdateServiceCommand).resolves({ service: updating() });
    aws.ecs.on(DescribeServicesCommand).resolvesOnce({ services: [onSeven()] }).resolves({ services: [onSix()] });
    mockHealthyChecks();

    const outcome = await rollback({ to: '6' }).then(
      (code) => ({ code }),
      (error: unknown) => ({ error }),
    );

    expect(writeCalls(aws)).toEqual([]);
    expect(outcome).toEqual({ error: expect.any(InterruptedError) });
  });

  it('an interrupt while waiting for the deployment exits 130 and journals the run as interrupted', async () => {
    mockVerification();
    aws.ecs.on(UpdateServiceCommand).resolves({ service: updating() });
    let polls = 0;
    aws.ecs.on(DescribeServicesCommand).callsFake(() => {
      polls++;
      if (polls === 3) controller.abort(); // the operator presses Ctrl-C while we wait
      return { services: [polls === 1 ? onSeven() : updating()] };
    });

    const error = await rollback({ to: '6' }).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(writeCalls(aws)).toEqual(['ecs:UpdateService']);
    expect(listRuns(stateDir)).toEqual([expect.objectContaining({ outcome: 'interrupted', writes: 1 })]);
    expect(error).toBeInstanceOf(InterruptedError);
    expect((error as InterruptedError | undefined)?.exitCode).toBe(ExitCode.interrupted);
  });
});

describe('describeDifference', () => {
  it('shows image and environment changes, and secrets by name only (never a valueFrom)', () => {
    const current = taskDefinition(7, 'prod-1.4.2', {
      containerDefinitions: [
        api('prod-1.4.2', {
          environment: [
            { name: 'ENV', value: 'production' },
            { name: 'FEATURE_X', value: 'on' },
          ],
          secrets: [
            { name: 'DB_PASSWORD', valueFrom: `${secretArn}:password::` },
            { name: 'API_KEY', valueFrom: `arn:aws:ssm:us-east-1:${ACCOUNT_ID}:parameter/fintech/api-key` },
          ],
        }),
        logRouter,
      ],
    });
    const target = taskDefinition(6, 'prod-1.4.1', {
      containerDefinitions: [
        api('prod-1.4.1', {
          environment: [
            { name: 'ENV', value: 'staging' },
            { name: 'REGION', value: 'us-east-1' },
          ],
          secrets: [{ name: 'DB_PASSWORD', valueFrom: `${secretArn}:old-password::` }],
        }),
        logRouter,
      ],
    });

    // taskDefinition.showEnvironmentValues: true shows values; secrets stay names.
    const lines = describeDifference(current, target, { secretNames: new Set(), showValues: true });

    expect(lines).toEqual([
      `  ~ api-container image: ${registry}/fintech-api:prod-1.4.2 → ${registry}/fintech-api:prod-1.4.1`,
      '  ~ api-container env ENV: production → staging',
      '  ~ api-container env FEATURE_X: on → (unset)',
      '  ~ api-container env REGION: (unset) → us-east-1',
      '  ~ api-container secrets: [API_KEY,DB_PASSWORD] → [DB_PASSWORD]',
    ]);
    const text = lines.join('\n');
    expect(text).not.toContain('arn:aws:secretsmanager');
    expect(text).not.toContain('arn:aws:ssm');
    expect(text).not.toContain('password::');
    expect(text).not.toContain('valueFrom');
  });

  it('issue 9: by default values are masked; a secret-looking (or configured secret) name is shown by name only, never a value or its hash', () => {
    const current = taskDefinition(7, 'a', {
      containerDefinitions: [api('a', { environment: [{ name: 'ENV', value: 'production' }, { name: 'DB_PASSWORD', value: 'hunter2' }, { name: 'DB_USER', value: 'admin-x' }] }), logRouter],
    });
    const target = taskDefinition(6, 'a', {
      containerDefinitions: [api('a', { environment: [{ name: 'ENV', value: 'staging' }, { name: 'AWS_ACCESS_KEY_ID', value: 'AKIAXXXX' }] }), logRouter],
    });
    const lines = describeDifference(current, target, { secretNames: new Set(['DB_USER']) });
    expect(lines).toEqual([
      `  ~ api-container env ENV: ${mask('production')} → ${mask('staging')}`,
      '  ~ api-container env DB_PASSWORD: unset (secret-looking: value not shown)',
      '  ~ api-container env DB_USER: unset (secret-looking: value not shown)',
      '  ~ api-container env AWS_ACCESS_KEY_ID: set (secret-looking: value not shown)',
    ]);
    const text = lines.join('\n');
    for (const value of ['production', 'staging', 'hunter2', 'admin-x', 'AKIAXXXX', redact('hunter2')]) expect(text).not.toContain(value);
  });

  it('names containers added and removed, and a cpu/memory change', () => {
    const current = taskDefinition(7, 'a', { containerDefinitions: [api('a'), logRouter] });
    const target = taskDefinition(6, 'a', { cpu: '512', memory: '1024', containerDefinitions: [api('a'), { name: 'xray', image: 'public.ecr.aws/xray/aws-xray-daemon:3.3.7' }] });
    expect(describeDifference(current, target)).toEqual([
      '  - container log_router (not in the target revision)',
      '  + container xray',
      '  ~ cpu/memory: 1024/2048 → 512/1024',
    ]);
  });

  it('says so when nothing differs', () => {
    expect(describeDifference(taskDefinition(7, 'a'), taskDefinition(6, 'a'))).toEqual(['  (same containers, images and environment)']);
  });
});
