import {
  AssociateKmsKeyCommand,
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  DeleteRetentionPolicyCommand,
  DescribeLogGroupsCommand,
  ListTagsForResourceCommand,
  PutRetentionPolicyCommand,
  TagResourceCommand as TagLogGroupCommand,
  UntagResourceCommand as UntagLogGroupCommand,
  type LogGroup,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  TagResourceCommand,
  type ContainerDefinition,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { beforeEach, describe, expect, it } from 'vitest';
import { desiredTaskDefinition, taskDefinitionStep, type TaskDefinitionState } from '../../steps/task-definition.js';
import { SECRET_LOOKING_NAME } from '../../src/config.js';
import { describeAwsError } from '../../src/core/errors.js';
import { Outputs } from '../../src/core/step.js';
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
};
const logRouter: ContainerDefinition = {
  name: 'log_router',
  image: 'public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4',
  essential: true,
  firelensConfiguration: { type: 'fluentbit' },
  memoryReservation: 50,
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
    volumes: [],
    placementConstraints: [],
  };
}

/** A revision as AWS describes it: our fields plus the defaults it fills in, in its own order. */
function awsRevision(revision: number, overrides: { api?: Partial<ContainerDefinition>; task?: Partial<TaskDefinition> } = {}): TaskDefinition {
  return {
    ...registeredRevision(revision),
    registeredAt: new Date('2026-01-23T10:00:00Z'),
    requiresAttributes: [{ name: 'ecs.capability.firelens.fluentbit' }],
    containerDefinitions: [
      {
        ...logRouter,
        cpu: 0,
        portMappings: [],
        environment: [],
        mountPoints: [],
        volumesFrom: [],
        systemControls: [],
        user: '0',
      },
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
        mountPoints: [],
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
  return {
    ...registeredRevision(revision),
    containerDefinitions: [
      { ...defaults, ...apiContainer },
      { ...defaults, ...logRouter },
    ],
  };
}

const inSyncLogGroup: LogGroup = {
  logGroupName,
  arn: `${logGroupArn}:*`,
  logGroupArn,
  retentionInDays: 365,
  kmsKeyId: kmsKey,
  creationTime: 1,
  storedBytes: 0,
};

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});

function mockInSync(revision: TaskDefinition = awsRevision(3)) {
  aws.logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [inSyncLogGroup] });
  aws.logs.on(ListTagsForResourceCommand).resolves({ tags: logTags });
  aws.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: revision, tags: ecsTags });
}

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
  it('creates the KMS log group with retention, then registers the task definition with DB_PASSWORD only as a secret', async () => {
    aws.logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
    aws.ecs.on(DescribeTaskDefinitionCommand).rejects(notFound());
    aws.logs.on(CreateLogGroupCommand).resolves({});
    aws.logs.on(PutRetentionPolicyCommand).resolves({});
    aws.ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: revisionArn(1), revision: 1 } });
    const ctx = testContext();
    const plan = await taskDefinitionStep.plan(ctx);
    expect(plan.changes.map((c) => [c.resource, c.action])).toEqual([
      ['log group /ecs/fintech-api', 'create'],
      ['task definition fintech-api-task', 'create'],
    ]);
    expect(plan.outputs).toBeUndefined();
    expect(plan.before).toEqual({ logGroup: { exists: false }, latestArn: undefined, tags: undefined });

    const out = await taskDefinitionStep.apply(ctx, plan);
    expect(out).toEqual({ taskDefinitionArn: revisionArn(1), logGroupName });
    expect(writeCalls(aws)).toEqual(['logs:CreateLogGroup', 'logs:PutRetentionPolicy', 'ecs:RegisterTaskDefinition']);
    // Row 2: the runbook creates it without KMS; section 3.3 wants KMS.
    expect(aws.logs.commandCalls(CreateLogGroupCommand)[0].args[0].input).toEqual({ logGroupName, kmsKeyId: kmsKey, tags: logTags });
    expect(aws.logs.commandCalls(PutRetentionPolicyCommand)[0].args[0].input).toEqual({ logGroupName, retentionInDays: 365 });
    const input = aws.ecs.commandCalls(RegisterTaskDefinitionCommand)[0].args[0].input;
    expect(input).toEqual({
      family,
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '1024',
      memory: '2048',
      executionRoleArn: execRole,
      taskRoleArn: taskRole,
      containerDefinitions: [apiContainer, logRouter],
      tags: ecsTags,
    });
    const api = input.containerDefinitions!.find((c) => c.name === 'api-container')!;
    expect(api.secrets).toEqual([
      { name: 'DB_PASSWORD', valueFrom: `arn:aws:secretsmanager:us-east-1:${ACCOUNT_ID}:secret:fintech/db-credentials-AbCdEf:password::` },
    ]);
    const environment = input.containerDefinitions!.flatMap((c) => c.environment ?? []);
    expect(environment.map((e) => e.name)).not.toContain('DB_PASSWORD');
    expect(environment.filter((e) => SECRET_LOOKING_NAME.test(e.name ?? ''))).toEqual([]);
  });

  it('the log group is created before the task definition that names it', async () => {
    const order: string[] = [];
    aws.logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
    aws.ecs.on(DescribeTaskDefinitionCommand).rejects(notFound());
    aws.logs.on(CreateLogGroupCommand).callsFake(() => (order.push('CreateLogGroup'), {}));
    aws.logs.on(PutRetentionPolicyCommand).callsFake(() => (order.push('PutRetentionPolicy'), {}));
    aws.ecs.on(RegisterTaskDefinitionCommand).callsFake(() => (order.push('RegisterTaskDefinition'), { taskDefinition: { taskDefinitionArn: revisionArn(1) } }));
    const ctx = testContext();
    await taskDefinitionStep.apply(ctx, await taskDefinitionStep.plan(ctx));
    expect(order).toEqual(['CreateLogGroup', 'PutRetentionPolicy', 'RegisterTaskDefinition']);
  });

  it.each([
    ['as AWS describes it (defaults, hostPort, other order)', awsRevision(3)],
    ['as moto describes it', motoRevision(3)],
  ])('registers nothing and writes nothing when the latest revision matches the config, %s', async (_label, revision) => {
    mockInSync(revision);
    const ctx = testContext();
    const plan = await taskDefinitionStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    expect(plan.outputs).toEqual({ taskDefinitionArn: revisionArn(3), logGroupName });
    const out = await taskDefinitionStep.apply(ctx, plan);
    expect(out.taskDefinitionArn).toBe(revisionArn(3));
    expect(writeCalls(aws)).toEqual([]);
    expect(aws.ecs.commandCalls(DescribeTaskDefinitionCommand)[0].args[0].input).toEqual({ taskDefinition: family, include: ['TAGS'] });
  });

  it('uses the role ARNs the iam step produced', async () => {
    mockInSync();
    const outputs = new Outputs();
    outputs.set('iam', { executionRoleArn: execRole.replace('ExecRole', 'ExecRole2'), taskRoleArn: taskRole });
    const plan = await taskDefinitionStep.plan(testContext({ outputs }));
    expect(plan.changes[0].fields).toEqual([{ field: 'executionRoleArn', from: execRole, to: execRole.replace('ExecRole', 'ExecRole2') }]);
  });

  it('looks past an INACTIVE highest revision (moto describes it) to the latest ACTIVE one', async () => {
    aws.logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [inSyncLogGroup] });
    aws.logs.on(ListTagsForResourceCommand).resolves({ tags: logTags });
    aws.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: family }).resolves({ taskDefinition: { ...motoRevision(4), status: 'INACTIVE' } });
    aws.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: revisionArn(3) }).resolves({ taskDefinition: motoRevision(3), tags: ecsTags });
    aws.ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [revisionArn(1), revisionArn(3)] });
    const plan = await taskDefinitionStep.plan(testContext());
    expect(plan.changes).toEqual([]);
    expect(plan.before?.latestArn).toBe(revisionArn(3));
    expect(aws.ecs.commandCalls(ListTaskDefinitionsCommand)[0].args[0].input).toMatchObject({ familyPrefix: family, status: 'ACTIVE' });
  });

  it('reports drift field by field and writes only what drifted', async () => {
    aws.logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [{ ...inSyncLogGroup, retentionInDays: 30, kmsKeyId: undefined }] });
    aws.logs.on(ListTagsForResourceCommand).resolves({ tags: { Environment: 'Production', Project: 'FinTechGlobal' } });
    const oldImage = image.replace('prod-1.4.2', 'prod-1.4.1');
    const drifted = awsRevision(3, {
      api: { image: oldImage, environment: [...apiContainer.environment!, { name: 'LOG_LEVEL', value: 'debug' }] },
    });
    aws.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: drifted, tags: ecsTags });
    aws.logs.on(PutRetentionPolicyCommand).resolves({});
    aws.logs.on(AssociateKmsKeyCommand).resolves({});
    aws.logs.on(TagLogGroupCommand).resolves({});
    aws.ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: revisionArn(4), revision: 4 } });
    const ctx = testContext();
    const plan = await taskDefinitionStep.plan(ctx);
    expect(plan.changes).toEqual([
      {
        resource: 'log group /ecs/fintech-api',
        action: 'update',
        fields: [
          { field: 'retentionInDays', from: 30, to: 365 },
          { field: 'kmsKeyId', from: undefined, to: kmsKey },
          { field: 'tags.CostCenter', from: undefined, to: 'CC-Corp' },
        ],
      },
      {
        resource: 'task definition fintech-api-task',
        action: 'update',
        note: 'registers a new revision (current fintech-api-task:3)',
        fields: [
          { field: 'containerDefinitions.api-container.image', from: oldImage, to: image },
          {
            field: 'containerDefinitions.api-container.environment',
            from: [
              { name: 'ENV', value: 'production' },
              { name: 'LOG_LEVEL', value: 'debug' },
              { name: 'REGION', value: 'us-east-1' },
            ],
            to: apiContainer.environment,
          },
        ],
      },
    ]);
    // A new revision is coming: its ARN is not known yet.
    expect(plan.outputs).toBeUndefined();
    const out = await taskDefinitionStep.apply(ctx, plan);
    expect(out.taskDefinitionArn).toBe(revisionArn(4));
    expect(writeCalls(aws)).toEqual(['logs:PutRetentionPolicy', 'logs:AssociateKmsKey', 'logs:TagResource', 'ecs:RegisterTaskDefinition']);
    expect(aws.logs.commandCalls(AssociateKmsKeyCommand)[0].args[0].input).toEqual({ logGroupName, kmsKeyId: kmsKey });
    expect(aws.logs.commandCalls(TagLogGroupCommand)[0].args[0].input).toEqual({ resourceArn: logGroupArn, tags: { CostCenter: 'CC-Corp' } });
  });

  it('tags the current revision instead of registering a new one when only its tags drifted', async () => {
    aws.logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [inSyncLogGroup] });
    aws.logs.on(ListTagsForResourceCommand).resolves({ tags: logTags });
    aws.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: awsRevision(3), tags: ecsTags.slice(0, 1) });
    aws.ecs.on(TagResourceCommand).resolves({});
    const ctx = testContext();
    const plan = await taskDefinitionStep.plan(ctx);
    expect(plan.changes[0].fields?.map((f) => f.field)).toEqual(['tags.Project', 'tags.CostCenter']);
    expect(plan.outputs?.taskDefinitionArn).toBe(revisionArn(3));
    await taskDefinitionStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecs:TagResource']);
    expect(aws.ecs.commandCalls(TagResourceCommand)[0].args[0].input).toEqual({ resourceArn: revisionArn(3), tags: ecsTags.slice(1) });
  });

  it('rollback deregisters only the revision this run registered and deletes the log group it created; twice is safe', async () => {
    const before: TaskDefinitionState = { logGroup: { exists: false }, latestArn: revisionArn(3), tags: logTags };
    // First rollback sees the run's revision 4 and its log group; afterwards revision 3 is the latest again.
    aws.ecs
      .on(DescribeTaskDefinitionCommand)
      .resolvesOnce({ taskDefinition: awsRevision(4), tags: ecsTags })
      .resolves({ taskDefinition: awsRevision(3), tags: ecsTags });
    aws.logs.on(DescribeLogGroupsCommand).resolvesOnce({ logGroups: [inSyncLogGroup] }).resolves({ logGroups: [] });
    aws.logs.on(ListTagsForResourceCommand).resolves({ tags: logTags });
    aws.ecs.on(DeregisterTaskDefinitionCommand).resolves({});
    aws.logs.on(DeleteLogGroupCommand).resolves({});
    const ctx = testContext();
    await taskDefinitionStep.rollback(ctx, before);
    expect(writeCalls(aws)).toEqual(['logs:DeleteLogGroup', 'ecs:DeregisterTaskDefinition']);
    expect(aws.ecs.commandCalls(DeregisterTaskDefinitionCommand)[0].args[0].input).toEqual({ taskDefinition: revisionArn(4) });
    expect(aws.logs.commandCalls(DeleteLogGroupCommand)[0].args[0].input).toEqual({ logGroupName });
    await taskDefinitionStep.rollback(ctx, before);
    expect(writeCalls(aws)).toHaveLength(2);
  });

  it('rollback of a pre-existing log group restores retention and tags, never deletes it or an older revision', async () => {
    const before: TaskDefinitionState = {
      logGroup: { exists: true, retentionInDays: undefined, kmsKeyId: kmsKey, tags: { Environment: 'Staging' } },
      latestArn: revisionArn(5), // someone deregistered 5 since: revision 3 is older and not ours
      tags: {},
    };
    const restored = { ...inSyncLogGroup, retentionInDays: undefined };
    aws.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: awsRevision(3), tags: ecsTags });
    aws.logs.on(DescribeLogGroupsCommand).resolvesOnce({ logGroups: [inSyncLogGroup] }).resolves({ logGroups: [restored] });
    aws.logs
      .on(ListTagsForResourceCommand)
      .resolvesOnce({ tags: logTags })
      .resolves({ tags: { Environment: 'Staging' } });
    aws.logs.on(DeleteRetentionPolicyCommand).resolves({});
    aws.logs.on(UntagLogGroupCommand).resolves({});
    aws.logs.on(TagLogGroupCommand).resolves({});
    const ctx = testContext();
    await taskDefinitionStep.rollback(ctx, before);
    expect(writeCalls(aws)).toEqual(['logs:DeleteRetentionPolicy', 'logs:UntagResource', 'logs:TagResource']);
    expect(aws.logs.commandCalls(UntagLogGroupCommand)[0].args[0].input).toEqual({ resourceArn: logGroupArn, tagKeys: ['Project', 'CostCenter'] });
    expect(aws.logs.commandCalls(TagLogGroupCommand)[0].args[0].input).toEqual({ resourceArn: logGroupArn, tags: { Environment: 'Staging' } });
    await taskDefinitionStep.rollback(ctx, before);
    expect(writeCalls(aws)).toHaveLength(3);
    expect(aws.logs.commandCalls(DeleteLogGroupCommand)).toHaveLength(0);
    expect(aws.ecs.commandCalls(DeregisterTaskDefinitionCommand)).toHaveLength(0);
  });

  it('rollback puts a previous retention back with PutRetentionPolicy', async () => {
    const before: TaskDefinitionState = { logGroup: { exists: true, retentionInDays: 90, kmsKeyId: kmsKey, tags: logTags }, latestArn: revisionArn(3) };
    mockInSync();
    aws.logs.on(PutRetentionPolicyCommand).resolves({});
    await taskDefinitionStep.rollback(testContext(), before);
    expect(writeCalls(aws)).toEqual(['logs:PutRetentionPolicy']);
    expect(aws.logs.commandCalls(PutRetentionPolicyCommand)[0].args[0].input).toEqual({ logGroupName, retentionInDays: 90 });
  });

  it('surfaces an AWS error with its name and request id', async () => {
    aws.logs.on(DescribeLogGroupsCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform logs:DescribeLogGroups', 'req-77'));
    const error = await taskDefinitionStep.plan(testContext()).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('AccessDeniedException: not authorized to perform logs:DescribeLogGroups — request id req-77');
  });

  it('does not mistake another ECS ClientException for "no revision yet"', async () => {
    aws.logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [inSyncLogGroup] });
    aws.logs.on(ListTagsForResourceCommand).resolves({ tags: logTags });
    aws.ecs.on(DescribeTaskDefinitionCommand).rejects(awsError('ClientException', 'Rate exceeded for account', 'req-88'));
    const error = await taskDefinitionStep.plan(testContext()).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('ClientException: Rate exceeded for account — request id req-88');
    expect(writeCalls(aws)).toEqual([]);
  });

  it('validate: all OK when the revision and the log group match the config', async () => {
    mockInSync();
    const findings = await taskDefinitionStep.validate(testContext());
    expect(findings.map((f) => [f.check, f.status])).toEqual([
      ['Task Definition', 'OK'],
      ['Task Definition Secrets', 'OK'],
      ['Log Group Encryption', 'OK'],
      ['Log Retention', 'OK'],
    ]);
    expect(findings[1].reason).toContain('api-container/DB_PASSWORD');
  });

  it('validate: FAIL naming the container and variable for a secret in cleartext, an unencrypted log group and a wrong retention', async () => {
    const leaky = awsRevision(6, {
      api: {
        environment: [...apiContainer.environment!, { name: 'DB_PASSWORD', value: 'hunter2' }, { name: 'STRIPE_API_KEY', value: 'sk_live' }],
        secrets: [],
      },
    });
    aws.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: leaky, tags: ecsTags });
    aws.logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [{ ...inSyncLogGroup, kmsKeyId: undefined, retentionInDays: undefined }] });
    const findings = await taskDefinitionStep.validate(testContext());
    const byCheck = Object.fromEntries(findings.map((f) => [f.check, f]));
    expect(byCheck['Task Definition']).toMatchObject({ status: 'FAIL' });
    expect(byCheck['Task Definition'].reason).toContain('containerDefinitions.api-container.secrets');
    expect(byCheck['Task Definition Secrets']).toMatchObject({ status: 'FAIL' });
    expect(byCheck['Task Definition Secrets'].reason).toContain('container api-container has DB_PASSWORD in cleartext environment');
    expect(byCheck['Task Definition Secrets'].reason).toContain('container api-container has STRIPE_API_KEY in cleartext environment');
    expect(byCheck['Log Group Encryption']).toMatchObject({ status: 'FAIL', reason: 'not encrypted with KMS (no kmsKeyId)' });
    expect(byCheck['Log Retention']).toMatchObject({ status: 'FAIL', reason: 'retention is never expire, want 365 days' });
  });

  it('validate: FAIL when there is no revision and no log group', async () => {
    aws.ecs.on(DescribeTaskDefinitionCommand).rejects(notFound());
    aws.logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [{ ...inSyncLogGroup, logGroupName: '/ecs/fintech-api-old' }] });
    const findings = await taskDefinitionStep.validate(testContext());
    expect(findings.map((f) => [f.check, f.status, f.reason])).toEqual([
      ['Task Definition', 'FAIL', 'no ACTIVE revision of family fintech-api-task'],
      ['Task Definition Secrets', 'SKIP', 'no task definition to inspect'],
      ['Log Group Encryption', 'FAIL', 'log group does not exist'],
    ]);
  });
});
