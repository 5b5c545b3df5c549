import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UntagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  type Role,
} from '@aws-sdk/client-iam';
import { beforeEach, describe, expect, it } from 'vitest';
import { iamStep, type IamState } from '../../steps/iam.js';
import { normalisePolicy } from '../../src/core/diff.js';
import { describeAwsError } from '../../src/core/errors.js';
import { awsError, fixtureEnv, mockAws, RecordingRecorder, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

const EXEC = 'FinTech-ECS-ExecRole';
const TASK = 'FinTech-ECS-TaskRole';
const execArn = `arn:aws:iam::123456789012:role/${EXEC}`;
const taskArn = `arn:aws:iam::123456789012:role/${TASK}`;
const logGroup = 'arn:aws:logs:us-east-1:123456789012:log-group:/ecs/fintech-api';

const trust = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};

// The documents this tool must write, spelled out: the deviations of DESIGN.md §8 rows 5–7 are the point.
const execPolicy = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'EcrAuthorizationToken', Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' },
    {
      Sid: 'EcrPullImages',
      Effect: 'Allow',
      Action: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
      Resource: 'arn:aws:ecr:us-east-1:123456789012:repository/fintech-api',
    },
    { Sid: 'WriteContainerLogs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [logGroup, `${logGroup}:*`] },
    { Sid: 'ReadDbSecret', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: fixtureEnv.DB_SECRET_ARN },
  ],
};
const taskPolicy = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'TransactionsTable',
      Effect: 'Allow',
      Action: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:Query'],
      Resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/FinTechTransactions',
    },
    { Sid: 'DataLakeObjects', Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject'], Resource: 'arn:aws:s3:::fintech-data-lake-prod/*' },
    {
      Sid: 'FireLensCloudWatchLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      Resource: [logGroup, `${logGroup}:*`],
    },
  ],
};

// The runbook's own exec-policy.json (what an operator may already have in place).
const runbookExecPolicy = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: [
        'ecr:GetAuthorizationToken',
        'ecr:BatchCheckLayerAvailability',
        'ecr:GetDownloadUrlForLayer',
        'ecr:BatchGetImage',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'secretsmanager:GetSecretValue',
        'ssm:GetParameters',
      ],
      Resource: '*',
    },
  ],
};

const allTags = [
  { Key: 'Environment', Value: 'Production' },
  { Key: 'Project', Value: 'FinTechGlobal' },
  { Key: 'CostCenter', Value: 'CC-Corp' },
];
const tagMap = Object.fromEntries(allTags.map((t) => [t.Key, t.Value]));

/** IAM (and moto) return documents URL-encoded. */
const encoded = (doc: unknown) => encodeURIComponent(JSON.stringify(doc));
const role = (name: string, arn: string, trustDoc: unknown = trust): Role => ({
  Path: '/',
  RoleName: name,
  RoleId: `AROA${name.length}EXAMPLE`,
  Arn: arn,
  CreateDate: new Date('2026-01-23T00:00:00Z'),
  AssumeRolePolicyDocument: encoded(trustDoc),
});
const noSuchEntity = (what: string) => awsError('NoSuchEntityException', `${what} not found`);

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});

interface RoleMock {
  name: string;
  arn: string;
  policyName: string;
  trust?: unknown;
  policy?: unknown;
  tags?: typeof allTags;
}

function mockRole({ name, arn, policyName, trust: trustDoc = trust, policy, tags = allTags }: RoleMock) {
  aws.iam.on(GetRoleCommand, { RoleName: name }).resolves({ Role: role(name, arn, trustDoc) });
  if (policy === undefined) aws.iam.on(GetRolePolicyCommand, { RoleName: name }).rejects(noSuchEntity(`policy ${policyName}`));
  else aws.iam.on(GetRolePolicyCommand, { RoleName: name, PolicyName: policyName }).resolves({ RoleName: name, PolicyName: policyName, PolicyDocument: encoded(policy) });
  aws.iam.on(ListRoleTagsCommand, { RoleName: name }).resolves({ Tags: tags, IsTruncated: false });
}

const mockInSync = () => {
  mockRole({ name: EXEC, arn: execArn, policyName: 'ExecPermissions', policy: execPolicy });
  mockRole({ name: TASK, arn: taskArn, policyName: 'AppPermissions', policy: taskPolicy });
};

const putPolicyCall = (roleName: string) =>
  aws.iam.commandCalls(PutRolePolicyCommand).find((call) => call.args[0].input.RoleName === roleName)?.args[0].input;

describe('iam step (1.3)', () => {
  it('creates both roles with trust policy, tags and the scoped inline policies when missing', async () => {
    aws.iam.on(GetRoleCommand).rejects(noSuchEntity('role'));
    aws.iam.on(CreateRoleCommand, { RoleName: EXEC }).resolves({ Role: role(EXEC, execArn) });
    aws.iam.on(CreateRoleCommand, { RoleName: TASK }).resolves({ Role: role(TASK, taskArn) });
    aws.iam.on(PutRolePolicyCommand).resolves({});
    const recorder = new RecordingRecorder();
    const ctx = testContext({ recorder });

    const plan = await iamStep.plan(ctx);
    expect(plan.before).toEqual({ executionRole: { exists: false }, taskRole: { exists: false } });
    expect(plan.changes.map((c) => [c.resource, c.action])).toEqual([
      [`iam role ${EXEC}`, 'create'],
      [`iam role ${TASK}`, 'create'],
    ]);
    expect(plan.changes[1].fields?.map((f) => f.field)).toEqual([
      `${TASK}.trustPolicy`,
      `${TASK}.AppPermissions`,
      `${TASK}.tags.Environment`,
      `${TASK}.tags.Project`,
      `${TASK}.tags.CostCenter`,
    ]);
    expect(plan.outputs).toBeUndefined();

    const out = await iamStep.apply(ctx, plan);
    expect(out).toEqual({ executionRoleArn: execArn, taskRoleArn: taskArn });
    expect(writeCalls(aws)).toEqual(['iam:CreateRole', 'iam:PutRolePolicy', 'iam:CreateRole', 'iam:PutRolePolicy']);
    const creates = aws.iam.commandCalls(CreateRoleCommand).map((call) => call.args[0].input);
    expect(creates.map((input) => ({ ...input, AssumeRolePolicyDocument: JSON.parse(input.AssumeRolePolicyDocument!) }))).toEqual([
      { RoleName: EXEC, AssumeRolePolicyDocument: trust, Tags: allTags },
      { RoleName: TASK, AssumeRolePolicyDocument: trust, Tags: allTags },
    ]);
    const execPut = putPolicyCall(EXEC)!;
    const taskPut = putPolicyCall(TASK)!;
    expect(execPut.PolicyName).toBe('ExecPermissions');
    expect(JSON.parse(execPut.PolicyDocument!)).toEqual(execPolicy);
    expect(taskPut.PolicyName).toBe('AppPermissions');
    expect(JSON.parse(taskPut.PolicyDocument!)).toEqual(taskPolicy);
    // Row 6 and 7 in plain words: no ssm, no wildcard account anywhere.
    expect(execPut.PolicyDocument).not.toContain('ssm:');
    expect(`${execPut.PolicyDocument}${taskPut.PolicyDocument}`).not.toMatch(/arn:aws:[a-z0-9-]+:[a-z0-9-]*:\*:/);
    expect(recorder.writes.map((w) => `${w.resource}:${w.action}:${w.operation}`)).toEqual([
      `iam role ${EXEC}:create:CreateRole`,
      `iam role ${EXEC}:update:PutRolePolicy`,
      `iam role ${TASK}:create:CreateRole`,
      `iam role ${TASK}:update:PutRolePolicy`,
    ]);
  });

  it('plans nothing and writes nothing when both roles match (URL-encoded, differently spelled documents)', async () => {
    // Same content as desired: Action as a bare string, Resource order swapped, keys in another order.
    const execSpelledDifferently = {
      Statement: [
        { Resource: '*', Action: 'ecr:GetAuthorizationToken', Effect: 'Allow', Sid: 'EcrAuthorizationToken' },
        execPolicy.Statement[1],
        { ...execPolicy.Statement[2], Resource: [`${logGroup}:*`, logGroup] },
        { ...execPolicy.Statement[3], Resource: [fixtureEnv.DB_SECRET_ARN] },
      ],
      Version: '2012-10-17',
    };
    mockRole({ name: EXEC, arn: execArn, policyName: 'ExecPermissions', policy: execSpelledDifferently });
    mockRole({ name: TASK, arn: taskArn, policyName: 'AppPermissions', policy: taskPolicy, tags: [...allTags, { Key: 'Owner', Value: 'platform' }] });
    const ctx = testContext();
    const plan = await iamStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    expect(plan.outputs).toEqual({ executionRoleArn: execArn, taskRoleArn: taskArn });
    // before keeps the decoded documents, ready for a rollback.
    expect(JSON.parse(plan.before!.executionRole.trustPolicy!)).toEqual(trust);
    const out = await iamStep.apply(ctx, plan);
    expect(out).toEqual({ executionRoleArn: execArn, taskRoleArn: taskArn });
    expect(writeCalls(aws)).toEqual([]);
  });

  it('an extra statement in the task role policy: plan shows the document diff, apply puts the desired document only', async () => {
    const extra = { Sid: 'Everything', Effect: 'Allow', Action: 's3:*', Resource: '*' };
    const drifted = { ...taskPolicy, Statement: [...taskPolicy.Statement, extra] };
    mockRole({ name: EXEC, arn: execArn, policyName: 'ExecPermissions', policy: execPolicy });
    mockRole({ name: TASK, arn: taskArn, policyName: 'AppPermissions', policy: drifted });
    aws.iam.on(PutRolePolicyCommand).resolves({});
    const ctx = testContext();
    const plan = await iamStep.plan(ctx);
    expect(plan.changes).toEqual([
      {
        resource: `iam role ${TASK}`,
        action: 'update',
        fields: [{ field: `${TASK}.AppPermissions`, from: normalisePolicy(drifted), to: normalisePolicy(taskPolicy) }],
      },
    ]);
    const out = await iamStep.apply(ctx, plan);
    expect(out).toEqual({ executionRoleArn: execArn, taskRoleArn: taskArn });
    expect(writeCalls(aws)).toEqual(['iam:PutRolePolicy']);
    const put = putPolicyCall(TASK)!;
    expect(put.PolicyName).toBe('AppPermissions');
    expect(JSON.parse(put.PolicyDocument!)).toEqual(taskPolicy);
  });

  it('replaces the runbook\'s "*" exec policy, fixes a drifted trust policy and adds a missing tag, nothing else', async () => {
    const ec2Trust = { ...trust, Statement: [{ ...trust.Statement[0], Principal: { Service: 'ec2.amazonaws.com' } }] };
    mockRole({ name: EXEC, arn: execArn, policyName: 'ExecPermissions', trust: ec2Trust, policy: runbookExecPolicy, tags: allTags.slice(0, 2) });
    mockRole({ name: TASK, arn: taskArn, policyName: 'AppPermissions', policy: taskPolicy });
    aws.iam.on(UpdateAssumeRolePolicyCommand).resolves({});
    aws.iam.on(PutRolePolicyCommand).resolves({});
    aws.iam.on(TagRoleCommand).resolves({});
    const ctx = testContext();
    const plan = await iamStep.plan(ctx);
    expect(plan.changes).toHaveLength(1);
    expect(plan.changes[0].resource).toBe(`iam role ${EXEC}`);
    expect(plan.changes[0].fields).toEqual([
      { field: `${EXEC}.trustPolicy`, from: normalisePolicy(ec2Trust), to: normalisePolicy(trust) },
      { field: `${EXEC}.ExecPermissions`, from: normalisePolicy(runbookExecPolicy), to: normalisePolicy(execPolicy) },
      { field: `${EXEC}.tags.CostCenter`, from: undefined, to: 'CC-Corp' },
    ]);
    await iamStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['iam:UpdateAssumeRolePolicy', 'iam:PutRolePolicy', 'iam:TagRole']);
    const update = aws.iam.commandCalls(UpdateAssumeRolePolicyCommand)[0].args[0].input;
    expect(update.RoleName).toBe(EXEC);
    expect(JSON.parse(update.PolicyDocument!)).toEqual(trust);
    expect(JSON.parse(putPolicyCall(EXEC)!.PolicyDocument!)).toEqual(execPolicy);
    expect(aws.iam.commandCalls(TagRoleCommand)[0].args[0].input).toEqual({ RoleName: EXEC, Tags: [{ Key: 'CostCenter', Value: 'CC-Corp' }] });
  });

  it('creates only the role that is missing', async () => {
    mockRole({ name: EXEC, arn: execArn, policyName: 'ExecPermissions', policy: execPolicy });
    aws.iam.on(GetRoleCommand, { RoleName: TASK }).rejects(noSuchEntity('role'));
    aws.iam.on(CreateRoleCommand).resolves({ Role: role(TASK, taskArn) });
    aws.iam.on(PutRolePolicyCommand).resolves({});
    const ctx = testContext();
    const plan = await iamStep.plan(ctx);
    expect(plan.changes.map((c) => [c.resource, c.action])).toEqual([[`iam role ${TASK}`, 'create']]);
    const out = await iamStep.apply(ctx, plan);
    expect(out).toEqual({ executionRoleArn: execArn, taskRoleArn: taskArn });
    expect(writeCalls(aws)).toEqual(['iam:CreateRole', 'iam:PutRolePolicy']);
    expect(aws.iam.commandCalls(CreateRoleCommand)[0].args[0].input.RoleName).toBe(TASK);
  });

  it('rollback deletes the roles this run created (inline policy first), and a second rollback does nothing', async () => {
    for (const [name, arn, policyName, policy] of [
      [EXEC, execArn, 'ExecPermissions', execPolicy],
      [TASK, taskArn, 'AppPermissions', taskPolicy],
    ] as const) {
      aws.iam.on(GetRoleCommand, { RoleName: name }).resolvesOnce({ Role: role(name, arn) }).rejects(noSuchEntity('role'));
      aws.iam.on(GetRolePolicyCommand, { RoleName: name }).resolves({ RoleName: name, PolicyName: policyName, PolicyDocument: encoded(policy) });
      aws.iam.on(ListRoleTagsCommand, { RoleName: name }).resolves({ Tags: allTags });
    }
    aws.iam.on(DeleteRolePolicyCommand).resolves({});
    aws.iam.on(DeleteRoleCommand).resolves({});
    const before: IamState = { executionRole: { exists: false }, taskRole: { exists: false } };
    const ctx = testContext();
    await iamStep.rollback(ctx, before);
    expect(writeCalls(aws)).toEqual(['iam:DeleteRolePolicy', 'iam:DeleteRole', 'iam:DeleteRolePolicy', 'iam:DeleteRole']);
    expect(aws.iam.commandCalls(DeleteRolePolicyCommand).map((c) => c.args[0].input)).toEqual([
      { RoleName: EXEC, PolicyName: 'ExecPermissions' },
      { RoleName: TASK, PolicyName: 'AppPermissions' },
    ]);
    expect(aws.iam.commandCalls(DeleteRoleCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: EXEC }, { RoleName: TASK }]);
    await iamStep.rollback(ctx, before);
    expect(writeCalls(aws)).toHaveLength(4);
  });

  it('rollback restores a pre-existing role\'s documents and tags, never deletes it (and deletes the role this run created)', async () => {
    const before: IamState = {
      executionRole: {
        exists: true,
        arn: execArn,
        trustPolicy: JSON.stringify(trust),
        inlinePolicy: JSON.stringify(runbookExecPolicy),
        tags: { Environment: 'Production', Owner: 'platform' },
      },
      taskRole: { exists: false },
    };
    // First pass: the state apply left. Second pass: already restored / already gone.
    aws.iam.on(GetRoleCommand, { RoleName: EXEC }).resolves({ Role: role(EXEC, execArn) });
    aws.iam
      .on(GetRolePolicyCommand, { RoleName: EXEC })
      .resolvesOnce({ RoleName: EXEC, PolicyName: 'ExecPermissions', PolicyDocument: encoded(execPolicy) })
      .resolves({ RoleName: EXEC, PolicyName: 'ExecPermissions', PolicyDocument: encoded(runbookExecPolicy) });
    aws.iam
      .on(ListRoleTagsCommand, { RoleName: EXEC })
      .resolvesOnce({ Tags: [...allTags, { Key: 'Owner', Value: 'platform' }] })
      .resolves({ Tags: [allTags[0], { Key: 'Owner', Value: 'platform' }] });
    aws.iam.on(GetRoleCommand, { RoleName: TASK }).resolvesOnce({ Role: role(TASK, taskArn) }).rejects(noSuchEntity('role'));
    aws.iam.on(GetRolePolicyCommand, { RoleName: TASK }).resolves({ RoleName: TASK, PolicyName: 'AppPermissions', PolicyDocument: encoded(taskPolicy) });
    aws.iam.on(ListRoleTagsCommand, { RoleName: TASK }).resolves({ Tags: allTags });
    aws.iam.on(PutRolePolicyCommand).resolves({});
    aws.iam.on(UntagRoleCommand).resolves({});
    aws.iam.on(DeleteRolePolicyCommand).resolves({});
    aws.iam.on(DeleteRoleCommand).resolves({});

    const ctx = testContext();
    await iamStep.rollback(ctx, before);
    expect(writeCalls(aws)).toEqual(['iam:PutRolePolicy', 'iam:UntagRole', 'iam:DeleteRolePolicy', 'iam:DeleteRole']);
    const restored = putPolicyCall(EXEC)!;
    expect(restored.PolicyName).toBe('ExecPermissions');
    expect(restored.PolicyDocument).toBe(JSON.stringify(runbookExecPolicy));
    expect(aws.iam.commandCalls(UntagRoleCommand)[0].args[0].input).toEqual({ RoleName: EXEC, TagKeys: ['Project', 'CostCenter'] });
    expect(aws.iam.commandCalls(DeleteRoleCommand).map((c) => c.args[0].input.RoleName)).toEqual([TASK]);

    await iamStep.rollback(ctx, before);
    expect(writeCalls(aws)).toHaveLength(4);
    expect(aws.iam.commandCalls(DeleteRoleCommand).map((c) => c.args[0].input.RoleName)).not.toContain(EXEC);
  });

  it('rollback puts back a previous trust policy and removes an inline policy the role did not have', async () => {
    const oldTrust = { ...trust, Statement: [{ ...trust.Statement[0], Principal: { Service: ['ecs-tasks.amazonaws.com', 'ecs.amazonaws.com'] } }] };
    const before: IamState = {
      // The execution role is as the run left it: nothing to restore there.
      executionRole: { exists: true, arn: execArn, trustPolicy: JSON.stringify(trust), inlinePolicy: JSON.stringify(execPolicy), tags: tagMap },
      taskRole: { exists: true, arn: taskArn, trustPolicy: JSON.stringify(oldTrust), tags: tagMap },
    };
    mockRole({ name: EXEC, arn: execArn, policyName: 'ExecPermissions', policy: execPolicy });
    aws.iam.on(GetRoleCommand, { RoleName: TASK }).resolvesOnce({ Role: role(TASK, taskArn) }).resolves({ Role: role(TASK, taskArn, oldTrust) });
    aws.iam
      .on(GetRolePolicyCommand, { RoleName: TASK })
      .resolvesOnce({ RoleName: TASK, PolicyName: 'AppPermissions', PolicyDocument: encoded(taskPolicy) })
      .rejects(noSuchEntity('policy'));
    aws.iam.on(ListRoleTagsCommand, { RoleName: TASK }).resolves({ Tags: allTags });
    aws.iam.on(UpdateAssumeRolePolicyCommand).resolves({});
    aws.iam.on(DeleteRolePolicyCommand).resolves({});

    const ctx = testContext();
    await iamStep.rollback(ctx, before);
    await iamStep.rollback(ctx, before);
    expect(writeCalls(aws)).toEqual(['iam:UpdateAssumeRolePolicy', 'iam:DeleteRolePolicy']);
    expect(aws.iam.commandCalls(UpdateAssumeRolePolicyCommand)[0].args[0].input).toEqual({ RoleName: TASK, PolicyDocument: JSON.stringify(oldTrust) });
    expect(aws.iam.commandCalls(DeleteRolePolicyCommand)[0].args[0].input).toEqual({ RoleName: TASK, PolicyName: 'AppPermissions' });
    expect(aws.iam.commandCalls(DeleteRoleCommand)).toHaveLength(0);
  });

  it('rollback without a recorded before does nothing', async () => {
    await iamStep.rollback(testContext(), undefined);
    expect(aws.iam.calls()).toHaveLength(0);
  });

  it('surfaces an AWS error with its name and request id', async () => {
    aws.iam.on(GetRoleCommand).rejects(awsError('AccessDenied', 'User is not authorized to perform: iam:GetRole', 'req-iam-1'));
    const error = await iamStep.plan(testContext()).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('AccessDenied: User is not authorized to perform: iam:GetRole — request id req-iam-1');
  });

  it('surfaces a failed write with its name and request id', async () => {
    aws.iam.on(GetRoleCommand).rejects(noSuchEntity('role'));
    aws.iam.on(CreateRoleCommand).rejects(awsError('LimitExceeded', 'Cannot exceed quota for RolesPerAccount: 1000', 'req-iam-2'));
    const ctx = testContext();
    const error = await iamStep.apply(ctx, await iamStep.plan(ctx)).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('LimitExceeded: Cannot exceed quota for RolesPerAccount: 1000 — request id req-iam-2');
    expect(aws.iam.commandCalls(PutRolePolicyCommand)).toHaveLength(0);
  });

  it('validate: everything OK when in sync', async () => {
    mockInSync();
    const findings = await iamStep.validate(testContext());
    expect(findings.map((f) => [f.check, f.resource, f.status])).toEqual([
      ['IAM Roles', `iam role ${EXEC}`, 'OK'],
      ['IAM Roles', `iam role ${EXEC}`, 'OK'],
      ['Least Privilege', `iam role ${EXEC}`, 'OK'],
      ['IAM Roles', `iam role ${TASK}`, 'OK'],
      ['IAM Roles', `iam role ${TASK}`, 'OK'],
      ['Least Privilege', `iam role ${TASK}`, 'OK'],
    ]);
  });

  it('validate fails least privilege on the runbook\'s Resource "*" policy, naming every action but GetAuthorizationToken', async () => {
    mockRole({ name: EXEC, arn: execArn, policyName: 'ExecPermissions', policy: runbookExecPolicy });
    mockRole({
      name: TASK,
      arn: taskArn,
      policyName: 'AppPermissions',
      policy: { ...taskPolicy, Statement: [{ ...taskPolicy.Statement[0], Resource: 'arn:aws:dynamodb:us-east-1:*:table/FinTechTransactions' }] },
    });
    const findings = await iamStep.validate(testContext());
    const leastPrivilege = findings.filter((f) => f.check === 'Least Privilege');
    expect(leastPrivilege.map((f) => f.status)).toEqual(['FAIL', 'FAIL']);
    expect(leastPrivilege[0].reason).toBe(
      'ExecPermissions: statement #1 allows ecr:BatchCheckLayerAvailability, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, ' +
        'logs:CreateLogStream, logs:PutLogEvents, secretsmanager:GetSecretValue, ssm:GetParameters on Resource "*"',
    );
    expect(leastPrivilege[1].reason).toContain('statement TransactionsTable has a wildcard account in arn:aws:dynamodb:us-east-1:*:table/FinTechTransactions');
    expect(findings.filter((f) => f.check === 'IAM Roles' && f.status === 'FAIL').map((f) => f.reason)).toEqual([
      'inline policy ExecPermissions differs from the desired document (run plan)',
      'inline policy AppPermissions differs from the desired document (run plan)',
    ]);
  });

  it('validate fails a missing role, a wrong trust policy and a missing inline policy', async () => {
    aws.iam.on(GetRoleCommand, { RoleName: EXEC }).rejects(noSuchEntity('role'));
    mockRole({
      name: TASK,
      arn: taskArn,
      policyName: 'AppPermissions',
      trust: { ...trust, Statement: [{ ...trust.Statement[0], Principal: { AWS: 'arn:aws:iam::999999999999:root' } }] },
    });
    const findings = await iamStep.validate(testContext());
    expect(findings).toEqual([
      { check: 'IAM Roles', status: 'FAIL', resource: `iam role ${EXEC}`, reason: `role ${EXEC} does not exist` },
      { check: 'IAM Roles', status: 'FAIL', resource: `iam role ${TASK}`, reason: `trust policy of ${TASK} is not ecs-tasks.amazonaws.com sts:AssumeRole only` },
      { check: 'IAM Roles', status: 'FAIL', resource: `iam role ${TASK}`, reason: `role ${TASK} has no inline policy AppPermissions` },
    ]);
  });
});
