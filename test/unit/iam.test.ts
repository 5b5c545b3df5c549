import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRoleTagsCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UntagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
  type Role,
} from '@aws-sdk/client-iam';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { AmbiguousWriteError } from '../../src/core/actions.js';
import { normalisePolicy } from '../../src/core/policy.js';
import { describeAwsError } from '../../src/core/errors.js';
import type { Observed } from '../../src/core/step.js';
import { iamStep } from '../../steps/iam.js';
import { awsError, fixtureEnv, mockAws, productionYaml, RecordingRecorder, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

const EXEC = 'FinTech-ECS-ExecRole';
const TASK = 'FinTech-ECS-TaskRole';
const execArn = `arn:aws:iam::123456789012:role/${EXEC}`;
const taskArn = `arn:aws:iam::123456789012:role/${TASK}`;
const logGroup = 'arn:aws:logs:us-east-1:123456789012:log-group:/ecs/fintech-api';
const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';
const XRAY = 'arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess';
const BOUNDARY = 'arn:aws:iam::123456789012:policy/TeamBoundary';

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
const statements = (policy: unknown) => (normalisePolicy(policy) as { Statement: unknown }).Statement;
const everything = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

const allTags = [
  { Key: 'Environment', Value: 'Production' },
  { Key: 'Project', Value: 'FinTechGlobal' },
  { Key: 'CostCenter', Value: 'CC-Corp' },
];

// ---------------------------------------------------------------------------------------------
// A small in-memory IAM behind the mocks: reads answer from it, writes change it, so a test can
// apply and re-plan (0 changes) or roll back twice (0 writes the second time). It answers as IAM
// does: documents URL-encoded, tags on GetRole, NoSuchEntity for what is not there.

interface FakeRole {
  role: Role;
  inline: Record<string, string>;
  attached: string[];
}
type World = Map<string, FakeRole>;
interface SeedOptions {
  trustDoc?: unknown;
  inline?: Record<string, unknown>;
  attached?: string[];
  tags?: typeof allTags;
  /** Role fields to set or override, including ones IAM does not (yet) return. */
  extra?: Partial<Role> & Record<string, unknown>;
}

const noSuchEntity = (what: string) => awsError('NoSuchEntityException', `${what} not found`);

function seedRole(
  world: World,
  name: string,
  { trustDoc = trust, inline = {}, attached = [], tags = allTags, extra = {} }: SeedOptions = {},
) {
  world.set(name, {
    role: {
      Path: '/',
      RoleName: name,
      RoleId: `AROA${name.length}EXAMPLE`,
      Arn: `arn:aws:iam::123456789012:role/${name}`,
      CreateDate: new Date('2026-01-23T00:00:00Z'),
      AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(trustDoc)),
      MaxSessionDuration: 3600,
      Tags: tags.map((t) => ({ ...t })),
      RoleLastUsed: {},
      ...extra,
    },
    inline: Object.fromEntries(Object.entries(inline).map(([k, v]) => [k, JSON.stringify(v)])),
    attached: [...attached],
  });
}

function fakeIam(aws: AwsMocks, world: World) {
  const get = (name: string) => {
    const found = world.get(name);
    if (!found) throw noSuchEntity(`Role ${name}`);
    return found;
  };
  aws.iam.on(GetRoleCommand).callsFake(async ({ RoleName }) => ({ Role: structuredClone(get(RoleName).role) }));
  aws.iam.on(ListRolePoliciesCommand).callsFake(async ({ RoleName }) => ({ PolicyNames: Object.keys(get(RoleName).inline), IsTruncated: false }));
  aws.iam.on(GetRolePolicyCommand).callsFake(async ({ RoleName, PolicyName }) => {
    const document = get(RoleName).inline[PolicyName];
    if (document === undefined) throw noSuchEntity(`policy ${PolicyName}`);
    return { RoleName, PolicyName, PolicyDocument: encodeURIComponent(document) };
  });
  aws.iam.on(ListAttachedRolePoliciesCommand).callsFake(async ({ RoleName }) => ({
    AttachedPolicies: get(RoleName).attached.map((PolicyArn) => ({ PolicyArn, PolicyName: PolicyArn.split('/').pop() })),
    IsTruncated: false,
  }));
  aws.iam.on(CreateRoleCommand).callsFake(async (input) => {
    if (world.has(input.RoleName)) throw awsError('EntityAlreadyExistsException', `Role with name ${input.RoleName} already exists.`);
    seedRole(world, input.RoleName, { trustDoc: JSON.parse(input.AssumeRolePolicyDocument), tags: input.Tags ?? [] });
    return { Role: structuredClone(get(input.RoleName).role) };
  });
  aws.iam.on(PutRolePolicyCommand).callsFake(async ({ RoleName, PolicyName, PolicyDocument }) => {
    get(RoleName).inline[PolicyName] = PolicyDocument;
    return {};
  });
  aws.iam.on(DeleteRolePolicyCommand).callsFake(async ({ RoleName, PolicyName }) => {
    const role = get(RoleName);
    if (!(PolicyName in role.inline)) throw noSuchEntity(`policy ${PolicyName}`);
    delete role.inline[PolicyName];
    return {};
  });
  aws.iam.on(AttachRolePolicyCommand).callsFake(async ({ RoleName, PolicyArn }) => {
    const role = get(RoleName);
    if (!role.attached.includes(PolicyArn)) role.attached.push(PolicyArn);
    return {};
  });
  aws.iam.on(DetachRolePolicyCommand).callsFake(async ({ RoleName, PolicyArn }) => {
    const role = get(RoleName);
    if (!role.attached.includes(PolicyArn)) throw noSuchEntity(`Policy ${PolicyArn}`);
    role.attached = role.attached.filter((a) => a !== PolicyArn);
    return {};
  });
  aws.iam.on(UpdateAssumeRolePolicyCommand).callsFake(async ({ RoleName, PolicyDocument }) => {
    get(RoleName).role.AssumeRolePolicyDocument = encodeURIComponent(PolicyDocument);
    return {};
  });
  aws.iam.on(UpdateRoleCommand).callsFake(async ({ RoleName, Description, MaxSessionDuration }) => {
    const { role } = get(RoleName);
    if (Description !== undefined) role.Description = Description;
    if (MaxSessionDuration !== undefined) role.MaxSessionDuration = MaxSessionDuration;
    return {};
  });
  aws.iam.on(PutRolePermissionsBoundaryCommand).callsFake(async ({ RoleName, PermissionsBoundary }) => {
    get(RoleName).role.PermissionsBoundary = { PermissionsBoundaryType: 'PermissionsBoundaryPolicy', PermissionsBoundaryArn: PermissionsBoundary };
    return {};
  });
  aws.iam.on(DeleteRolePermissionsBoundaryCommand).callsFake(async ({ RoleName }) => {
    delete get(RoleName).role.PermissionsBoundary;
    return {};
  });
  aws.iam.on(TagRoleCommand).callsFake(async ({ RoleName, Tags }) => {
    const { role } = get(RoleName);
    const keys = new Set(Tags.map((t: { Key: string }) => t.Key));
    role.Tags = [...(role.Tags ?? []).filter((t) => !keys.has(t.Key)), ...Tags];
    return {};
  });
  aws.iam.on(UntagRoleCommand).callsFake(async ({ RoleName, TagKeys }) => {
    const { role } = get(RoleName);
    role.Tags = (role.Tags ?? []).filter((t) => !TagKeys.includes(t.Key));
    return {};
  });
  aws.iam.on(DeleteRoleCommand).callsFake(async ({ RoleName }) => {
    const role = get(RoleName);
    // IAM refuses while policies are left on the role (moto too).
    if (Object.keys(role.inline).length || role.attached.length) throw awsError('DeleteConflictException', 'Cannot delete entity, must detach all policies first.');
    world.delete(RoleName);
    return {};
  });
}

/** The writes sent, as operation + input: to compare with `plan.actions`. */
const sentWrites = (aws: AwsMocks) =>
  aws.iam
    .calls()
    .map((call) => ({ operation: (call.args[0] as object).constructor.name.replace(/Command$/, ''), input: (call.args[0] as { input: Record<string, unknown> }).input }))
    .filter((w) => !/^(Get|List)/.test(w.operation));
const summary = (items: Array<{ operation: string; input: Record<string, unknown> }>) =>
  items.map((a) => [a.operation, a.input.RoleName, a.input.PolicyName ?? a.input.PolicyArn].filter(Boolean).join(' '));

const configWith = (allowed: string[]) =>
  parseConfig(productionYaml.replace('  # allowedManagedPolicies: []', `  allowedManagedPolicies: ${JSON.stringify(allowed)}`), fixtureEnv);

let aws: AwsMocks;
let world: World;
beforeEach(() => {
  aws = mockAws();
  world = new Map();
  fakeIam(aws, world);
});

const seedInSync = () => {
  seedRole(world, EXEC, { inline: { ExecPermissions: execPolicy } });
  seedRole(world, TASK, { inline: { AppPermissions: taskPolicy } });
};

describe('iam step (1.3)', () => {
  it('creates both roles with trust policy, tags and the scoped inline policies; apply sends exactly plan.actions', async () => {
    const recorder = new RecordingRecorder();
    const ctx = testContext({ recorder });
    const plan = await iamStep.plan(ctx);
    expect(plan.before).toEqual({ [`role:${EXEC}`]: undefined, [`role:${TASK}`]: undefined });
    expect(plan.changes.map((c) => [c.resource, c.action])).toEqual([
      [`iam role ${EXEC}`, 'create'],
      [`iam role ${TASK}`, 'create'],
    ]);
    // The ARNs are only known once the roles exist.
    expect(plan.outputs).toEqual({ executionRoleArn: '{{ref:iam.executionRoleArn}}', taskRoleArn: '{{ref:iam.taskRoleArn}}' });
    expect(summary(plan.actions)).toEqual([`CreateRole ${EXEC}`, `PutRolePolicy ${EXEC} ExecPermissions`, `CreateRole ${TASK}`, `PutRolePolicy ${TASK} AppPermissions`]);

    const out = await iamStep.apply(ctx, plan);
    expect(out).toEqual({ executionRoleArn: execArn, taskRoleArn: taskArn });
    // The two roles go out side by side (ResourceDef.after []): each role's own actions in order.
    const byRole = (writes: Array<{ operation: string; input: Record<string, unknown> }>, role: string) => writes.filter((w) => w.input.RoleName === role);
    const planned = plan.actions.map((a) => ({ operation: a.operation, input: a.input }));
    expect(sentWrites(aws)).toHaveLength(planned.length);
    for (const role of [EXEC, TASK]) expect(byRole(sentWrites(aws), role)).toEqual(byRole(planned, role));
    const create = aws.iam.commandCalls(CreateRoleCommand)[0].args[0].input;
    expect({ ...create, AssumeRolePolicyDocument: JSON.parse(create.AssumeRolePolicyDocument!) }).toEqual({
      RoleName: EXEC,
      Path: '/',
      AssumeRolePolicyDocument: normalisePolicy(trust),
      MaxSessionDuration: 3600,
      Tags: allTags,
    });
    const puts = aws.iam.commandCalls(PutRolePolicyCommand).map((c) => c.args[0].input);
    expect(normalisePolicy(JSON.parse(puts[0].PolicyDocument!))).toEqual(normalisePolicy(execPolicy));
    expect(normalisePolicy(JSON.parse(puts[1].PolicyDocument!))).toEqual(normalisePolicy(taskPolicy));
    // Rows 6 and 7 in plain words: no ssm, no wildcard account anywhere.
    expect(puts[0].PolicyDocument).not.toContain('ssm:');
    expect(`${puts[0].PolicyDocument}${puts[1].PolicyDocument}`).not.toMatch(/arn:aws:[a-z0-9-]+:[a-z0-9-]*:\*:/);
    // The journal sees the creates with the resource id compensation matches on.
    // (the roles side by side: each role's writes in order).
    const journaled = (role: string) => recorder.writes.filter((w) => w.resourceId === `role:${role}`).map((w) => `${w.action}:${w.operation}`);
    expect(recorder.writes).toHaveLength(4);
    expect(journaled(EXEC)).toEqual(['create:CreateRole', 'update:PutRolePolicy']);
    expect(journaled(TASK)).toEqual(['create:CreateRole', 'update:PutRolePolicy']);
    // Converged: the next plan is empty.
    expect((await iamStep.plan(ctx)).changes).toEqual([]);
  });

  it('plans nothing and writes nothing when both roles match (URL-encoded, differently spelled documents, foreign tags)', async () => {
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
    seedRole(world, EXEC, { inline: { ExecPermissions: execSpelledDifferently } });
    // MaxSessionDuration absent is IAM's default 3600; a tag someone else set is theirs.
    seedRole(world, TASK, { inline: { AppPermissions: taskPolicy }, tags: [...allTags, { Key: 'Owner', Value: 'platform' }], extra: { MaxSessionDuration: undefined } });
    const ctx = testContext();
    const plan = await iamStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    expect(plan.actions).toEqual([]);
    expect(plan.outputs).toEqual({ executionRoleArn: execArn, taskRoleArn: taskArn });
    await iamStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual([]);
    // Tags come with GetRole: no second read per role.
    expect(aws.iam.commandCalls(ListRoleTagsCommand)).toHaveLength(0);
  });

  it('an extra statement in the task role policy: plan names inlinePolicies.AppPermissions, apply puts the desired document only', async () => {
    const extra = { Sid: 'Backdoor', Effect: 'Allow', Action: 's3:*', Resource: '*' };
    const drifted = { ...taskPolicy, Statement: [...taskPolicy.Statement, extra] };
    seedRole(world, EXEC, { inline: { ExecPermissions: execPolicy } });
    seedRole(world, TASK, { inline: { AppPermissions: drifted } });
    const ctx = testContext();
    const plan = await iamStep.plan(ctx);
    expect(plan.changes).toEqual([
      {
        resource: `iam role ${TASK}`,
        action: 'update',
        fields: [{ field: 'inlinePolicies.AppPermissions.Statement', from: statements(drifted), to: statements(taskPolicy) }],
      },
    ]);
    expect(summary(plan.actions)).toEqual([`PutRolePolicy ${TASK} AppPermissions`]);
    await iamStep.apply(ctx, plan);
    // The two roles go out side by side (ResourceDef.after []): each role's own actions in order.
    const byRole = (writes: Array<{ operation: string; input: Record<string, unknown> }>, role: string) => writes.filter((w) => w.input.RoleName === role);
    const planned = plan.actions.map((a) => ({ operation: a.operation, input: a.input }));
    expect(sentWrites(aws)).toHaveLength(planned.length);
    for (const role of [EXEC, TASK]) expect(byRole(sentWrites(aws), role)).toEqual(byRole(planned, role));
    expect(normalisePolicy(JSON.parse(aws.iam.commandCalls(PutRolePolicyCommand)[0].args[0].input.PolicyDocument!))).toEqual(normalisePolicy(taskPolicy));
    expect((await iamStep.plan(ctx)).changes).toEqual([]);
  });

  it('replaces the runbook\'s "*" exec policy, fixes a drifted trust policy and adds a missing tag, nothing else', async () => {
    const ec2Trust = { ...trust, Statement: [{ ...trust.Statement[0], Principal: { Service: 'ec2.amazonaws.com' } }] };
    seedRole(world, EXEC, { trustDoc: ec2Trust, inline: { ExecPermissions: runbookExecPolicy }, tags: allTags.slice(0, 2) });
    seedRole(world, TASK, { inline: { AppPermissions: taskPolicy } });
    const ctx = testContext();
    const plan = await iamStep.plan(ctx);
    expect(plan.changes).toHaveLength(1);
    expect(plan.changes[0].resource).toBe(`iam role ${EXEC}`);
    expect(plan.changes[0].fields?.map((f) => f.field)).toEqual([
      'AssumeRolePolicyDocument.Statement.0.Principal.Service',
      'Tags.CostCenter',
      'inlinePolicies.ExecPermissions.Statement',
    ]);
    expect(plan.changes[0].fields?.[0]).toEqual({ field: 'AssumeRolePolicyDocument.Statement.0.Principal.Service', from: 'ec2.amazonaws.com', to: 'ecs-tasks.amazonaws.com' });
    await iamStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['iam:UpdateAssumeRolePolicy', 'iam:PutRolePolicy', 'iam:TagRole']);
    expect(JSON.parse(aws.iam.commandCalls(UpdateAssumeRolePolicyCommand)[0].args[0].input.PolicyDocument!)).toEqual(normalisePolicy(trust));
    expect(aws.iam.commandCalls(TagRoleCommand)[0].args[0].input).toEqual({ RoleName: EXEC, Tags: [{ Key: 'CostCenter', Value: 'CC-Corp' }] });
    expect((await iamStep.plan(ctx)).changes).toEqual([]);
  });

  it('AdministratorAccess attached to the task role: plan names it, apply detaches it, validate fails Least Privilege naming it', async () => {
    seedRole(world, EXEC, { inline: { ExecPermissions: execPolicy } });
    seedRole(world, TASK, { inline: { AppPermissions: taskPolicy }, attached: [ADMIN] });
    const ctx = testContext();
    const findings = await iamStep.validate(ctx);
    const task = findings.filter((f) => f.resource === `iam role ${TASK}`);
    expect(task).toEqual([
      { check: 'IAM Roles', status: 'FAIL', resource: `iam role ${TASK}`, reason: 'differs from the config: attachedManagedPolicies (run plan)' },
      { check: 'Least Privilege', status: 'FAIL', resource: `iam role ${TASK}`, reason: `attached AdministratorAccess (${ADMIN})` },
    ]);
    expect(findings.filter((f) => f.resource === `iam role ${EXEC}`).map((f) => f.status)).toEqual(['OK', 'OK']);

    const plan = await iamStep.plan(ctx);
    expect(plan.changes).toEqual([{ resource: `iam role ${TASK}`, action: 'update', fields: [{ field: 'attachedManagedPolicies', from: [ADMIN], to: undefined }] }]);
    expect(summary(plan.actions)).toEqual([`DetachRolePolicy ${TASK} ${ADMIN}`]);
    await iamStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['iam:DetachRolePolicy']);
    expect((await iamStep.plan(ctx)).changes).toEqual([]);
    expect((await iamStep.validate(ctx)).every((f) => f.status === 'OK')).toBe(true);
  });

  it('a second inline policy on the execution role: plan names it, apply deletes it, validate names it and its problems', async () => {
    seedRole(world, EXEC, { inline: { ExecPermissions: execPolicy, Backdoor: everything } });
    seedRole(world, TASK, { inline: { AppPermissions: taskPolicy } });
    const ctx = testContext();
    const leastPrivilege = (await iamStep.validate(ctx)).filter((f) => f.check === 'Least Privilege');
    expect(leastPrivilege.map((f) => [f.resource, f.status, f.reason])).toEqual([
      [`iam role ${EXEC}`, 'FAIL', 'extra inline policy Backdoor: statement #1 allows Action "*" on Resource "*"'],
      [`iam role ${TASK}`, 'OK', 'AppPermissions: every resource scoped, nothing on Resource "*"; no other inline policy; no managed policy or permissions boundary'],
    ]);
    const plan = await iamStep.plan(ctx);
    expect(plan.changes).toEqual([
      { resource: `iam role ${EXEC}`, action: 'update', fields: [{ field: 'inlinePolicies.Backdoor', from: normalisePolicy(everything), to: undefined }] },
    ]);
    expect(summary(plan.actions)).toEqual([`DeleteRolePolicy ${EXEC} Backdoor`]);
    await iamStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['iam:DeleteRolePolicy']);
    expect((await iamStep.plan(ctx)).changes).toEqual([]);
  });

  it('a permissions boundary, a description and a longer session: drift, converged by UpdateRole and DeleteRolePermissionsBoundary', async () => {
    seedRole(world, EXEC, {
      inline: { ExecPermissions: execPolicy },
      extra: {
        Description: 'edited by hand',
        MaxSessionDuration: 43200,
        PermissionsBoundary: { PermissionsBoundaryType: 'PermissionsBoundaryPolicy', PermissionsBoundaryArn: BOUNDARY },
      },
    });
    seedRole(world, TASK, { inline: { AppPermissions: taskPolicy } });
    const ctx = testContext();
    const exec = (await iamStep.validate(ctx)).filter((f) => f.resource === `iam role ${EXEC}`);
    expect(exec.map((f) => f.reason)).toEqual([
      'differs from the config: Description, MaxSessionDuration, PermissionsBoundary (run plan)',
      `permissions boundary TeamBoundary (${BOUNDARY}) not in iam.allowedManagedPolicies`,
    ]);
    const plan = await iamStep.plan(ctx);
    expect(plan.changes[0].fields).toEqual([
      { field: 'Description', from: 'edited by hand', to: undefined },
      { field: 'MaxSessionDuration', from: 43200, to: 3600 },
      { field: 'PermissionsBoundary', from: BOUNDARY, to: undefined },
    ]);
    expect(plan.actions.map((a) => [a.operation, a.input])).toEqual([
      ['UpdateRole', { RoleName: EXEC, Description: '', MaxSessionDuration: 3600 }],
      ['DeleteRolePermissionsBoundary', { RoleName: EXEC }],
    ]);
    await iamStep.apply(ctx, plan);
    // A cleared description reads back as "" (moto does so): that is no description.
    expect(world.get(EXEC)!.role.Description).toBe('');
    expect((await iamStep.plan(ctx)).changes).toEqual([]);
  });

  it('iam.allowedManagedPolicies: an allowed managed policy or boundary is not drift and never attached by apply; others still are', async () => {
    const ctx = testContext({ config: configWith([XRAY, BOUNDARY, 'arn:aws:iam::aws:policy/ReadOnlyAccess']) });
    seedRole(world, EXEC, { inline: { ExecPermissions: execPolicy } });
    seedRole(world, TASK, {
      inline: { AppPermissions: taskPolicy },
      attached: [XRAY, ADMIN],
      extra: { PermissionsBoundary: { PermissionsBoundaryType: 'PermissionsBoundaryPolicy', PermissionsBoundaryArn: BOUNDARY } },
    });
    const plan = await iamStep.plan(ctx);
    expect(plan.changes).toEqual([{ resource: `iam role ${TASK}`, action: 'update', fields: [{ field: 'attachedManagedPolicies', from: [XRAY, ADMIN], to: [XRAY] }] }]);
    // Sorted by ARN (code units). ReadOnlyAccess is allowed, not wanted: nothing attaches it.
    expect(summary(plan.actions)).toEqual([`DetachRolePolicy ${TASK} ${ADMIN}`]);
    await iamStep.apply(ctx, plan);
    const leastPrivilege = (await iamStep.validate(ctx)).filter((f) => f.check === 'Least Privilege');
    expect(leastPrivilege.map((f) => f.status)).toEqual(['OK', 'OK']);
    expect(leastPrivilege[1].reason).toMatch(/allowed by iam\.allowedManagedPolicies: AWSXRayDaemonWriteAccess, TeamBoundary$/);
    // The task role's reason speaks only of what the task role has.
    expect(leastPrivilege[1].reason).not.toContain('GetAuthorizationToken');
  });

  it('the config refuses an allowedManagedPolicies entry that is not an IAM policy ARN', () => {
    expect(() => configWith(['AdministratorAccess'])).toThrow(/iam\.allowedManagedPolicies\.0: must be an IAM policy ARN/);
    expect(() => configWith(['arn:aws:iam::*:policy/Anything'])).toThrow(/iam\.allowedManagedPolicies\.0/);
    expect(configWith(['arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy']).iam.allowedManagedPolicies).toHaveLength(1);
    expect(testContext().config.iam.allowedManagedPolicies).toEqual([]);
  });

  it('the ignore list is a deny-list: a field nobody thought of is refused, a Path change is refused, IAM\'s own fields are not drift', async () => {
    seedRole(world, EXEC, { inline: { ExecPermissions: execPolicy }, extra: { SomethingNew: { enabled: true } } });
    seedRole(world, TASK, { inline: { AppPermissions: taskPolicy } });
    const ctx = testContext();
    expect(String(await iamStep.plan(ctx).catch((e: unknown) => e))).toMatch(/iam role FinTech-ECS-ExecRole: SomethingNew differ\(s\) and cannot be changed in place/);
    // validate names it too (and never throws for it).
    expect((await iamStep.validate(ctx))[0].reason).toBe('differs from the config: SomethingNew (run plan)');

    // Each world below is read by a run of its own (a client set and read cache each).
    seedRole(world, EXEC, { inline: { ExecPermissions: execPolicy }, extra: { Path: '/team/' } });
    expect(String(await iamStep.plan(testContext()).catch((e: unknown) => e))).toMatch(/Path differ\(s\) and cannot be changed in place; a person must decide/);

    seedRole(world, EXEC, {
      inline: { ExecPermissions: execPolicy },
      extra: { RoleId: 'AROAOTHER', CreateDate: new Date('2020-01-01'), RoleLastUsed: { LastUsedDate: new Date(), Region: 'us-east-1' }, Arn: execArn },
    });
    expect((await iamStep.plan(testContext())).changes).toEqual([]);
    expect(writeCalls(aws)).toEqual([]);
  });

  it('creates only the role that is missing', async () => {
    seedRole(world, EXEC, { inline: { ExecPermissions: execPolicy } });
    const ctx = testContext();
    const plan = await iamStep.plan(ctx);
    expect(plan.changes.map((c) => [c.resource, c.action])).toEqual([[`iam role ${TASK}`, 'create']]);
    expect(plan.outputs).toEqual({ executionRoleArn: execArn, taskRoleArn: '{{ref:iam.taskRoleArn}}' });
    const out = await iamStep.apply(ctx, plan);
    expect(out).toEqual({ executionRoleArn: execArn, taskRoleArn: taskArn });
    expect(writeCalls(aws)).toEqual(['iam:CreateRole', 'iam:PutRolePolicy']);
  });

  // moto cannot lose a reply: the adoption of a role created by a CreateRole whose answer was lost is unit-tested.
  it('a CreateRole whose reply was lost is adopted from the re-read (ARN bound, inline policy then put)', async () => {
    seedRole(world, EXEC, { inline: { ExecPermissions: execPolicy } });
    const ctx = testContext();
    const plan = await iamStep.plan(ctx);
    aws.iam.on(CreateRoleCommand).callsFakeOnce(async (input) => {
      seedRole(world, input.RoleName, { trustDoc: JSON.parse(input.AssumeRolePolicyDocument), tags: input.Tags });
      throw new AmbiguousWriteError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    });
    const out = await iamStep.apply(ctx, plan);
    expect(out.taskRoleArn).toBe(taskArn);
    expect(writeCalls(aws)).toEqual(['iam:CreateRole', 'iam:PutRolePolicy']);
    expect((await iamStep.plan(ctx)).changes).toEqual([]);
  });

  it('rollback deletes the roles this run created (policies first, even one attached since), and a second rollback does nothing', async () => {
    const before: Observed = { [`role:${EXEC}`]: undefined, [`role:${TASK}`]: undefined };
    seedInSync();
    world.get(TASK)!.attached.push(ADMIN);
    const ctx = testContext();
    const created = new Set([`role:${EXEC}`, `role:${TASK}`]);
    const planned = await iamStep.planRollback(ctx, before, created);
    expect(planned.changes.map((c) => [c.resource, c.action])).toEqual([
      [`iam role ${TASK}`, 'delete'],
      [`iam role ${EXEC}`, 'delete'],
    ]);
    await iamStep.rollback(ctx, before, created);
    expect(summary(sentWrites(aws))).toEqual([
      `DeleteRolePolicy ${TASK} AppPermissions`,
      `DetachRolePolicy ${TASK} ${ADMIN}`,
      `DeleteRole ${TASK}`,
      `DeleteRolePolicy ${EXEC} ExecPermissions`,
      `DeleteRole ${EXEC}`,
    ]);
    expect(world.size).toBe(0);
    await iamStep.rollback(ctx, before, created);
    expect(writeCalls(aws)).toHaveLength(5);
  });

  it('rollback never deletes a role this run did not provably create', async () => {
    seedInSync();
    const notes = await iamStep.rollback(testContext(), { [`role:${EXEC}`]: undefined, [`role:${TASK}`]: undefined }, new Set([`role:${TASK}`]));
    expect(summary(sentWrites(aws))).toEqual([`DeleteRolePolicy ${TASK} AppPermissions`, `DeleteRole ${TASK}`]);
    expect(world.has(EXEC)).toBe(true);
    expect(notes).toEqual([`iam role ${EXEC}: not created by this run (no reply or token proves it), left as it is`]);
  });

  it('rollback of pre-existing roles converges back to before (trust, policies, attachments, boundary, tags), never deletes; twice is a no-op', async () => {
    const oldTrust = { ...trust, Statement: [{ ...trust.Statement[0], Principal: { Service: ['ecs-tasks.amazonaws.com', 'ecs.amazonaws.com'] } }] };
    // The roles as the team had them before the run.
    seedRole(world, EXEC, {
      trustDoc: oldTrust,
      inline: { ExecPermissions: runbookExecPolicy, Legacy: everything },
      attached: [ADMIN],
      tags: [allTags[0], { Key: 'Owner', Value: 'platform' }],
      extra: { PermissionsBoundary: { PermissionsBoundaryType: 'PermissionsBoundaryPolicy', PermissionsBoundaryArn: BOUNDARY } },
    });
    seedRole(world, TASK, { inline: {} });
    const ctx = testContext();
    const plan = await iamStep.plan(ctx);
    expect(summary(plan.actions)).toEqual([
      `UpdateAssumeRolePolicy ${EXEC}`,
      `DeleteRolePolicy ${EXEC} Legacy`,
      `DetachRolePolicy ${EXEC} ${ADMIN}`,
      `DeleteRolePermissionsBoundary ${EXEC}`,
      `PutRolePolicy ${EXEC} ExecPermissions`,
      `TagRole ${EXEC}`,
      `PutRolePolicy ${TASK} AppPermissions`,
    ]);
    await iamStep.apply(ctx, plan);
    expect((await iamStep.plan(ctx)).changes).toEqual([]);
    aws.iam.resetHistory();

    await iamStep.rollback(ctx, plan.before, new Set());
    expect(summary(sentWrites(aws))).toEqual([
      `DeleteRolePolicy ${TASK} AppPermissions`,
      `UpdateAssumeRolePolicy ${EXEC}`,
      `PutRolePermissionsBoundary ${EXEC}`,
      `PutRolePolicy ${EXEC} ExecPermissions`,
      `PutRolePolicy ${EXEC} Legacy`,
      `AttachRolePolicy ${EXEC} ${ADMIN}`,
      `UntagRole ${EXEC}`,
    ]);
    expect(aws.iam.commandCalls(UntagRoleCommand)[0].args[0].input.TagKeys).toEqual(['Project', 'CostCenter']);
    expect(aws.iam.commandCalls(PutRolePermissionsBoundaryCommand)[0].args[0].input.PermissionsBoundary).toBe(BOUNDARY);
    // What is there now is what was there before the run.
    expect(await iamStep.observe(ctx)).toEqual(plan.before);
    const second = await iamStep.planRollback(ctx, plan.before, new Set());
    expect(second.actions).toEqual([]);
    await iamStep.rollback(ctx, plan.before, new Set());
    expect(writeCalls(aws)).toHaveLength(7);
    expect(aws.iam.commandCalls(DeleteRoleCommand)).toHaveLength(0);
  });

  it('rollback of a role that no longer exists notes it and writes nothing', async () => {
    seedInSync();
    const before = (await iamStep.plan(testContext())).before;
    world.delete(TASK);
    const notes = await iamStep.rollback(testContext(), before, new Set());
    expect(notes).toEqual([`iam role ${TASK} no longer exists; nothing to restore`]);
    expect(writeCalls(aws)).toEqual([]);
  });

  it('surfaces an AWS error with its name and request id', async () => {
    aws.iam.on(GetRoleCommand).rejects(awsError('AccessDenied', 'User is not authorized to perform: iam:GetRole', 'req-iam-1'));
    const error = await iamStep.plan(testContext()).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('AccessDenied: User is not authorized to perform: iam:GetRole — request id req-iam-1');
  });

  it('surfaces a failed write with its name and request id, and sends nothing after it', async () => {
    aws.iam.on(CreateRoleCommand).rejects(awsError('LimitExceeded', 'Cannot exceed quota for RolesPerAccount: 1000', 'req-iam-2'));
    const ctx = testContext();
    const error = await iamStep.apply(ctx, await iamStep.plan(ctx)).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('LimitExceeded: Cannot exceed quota for RolesPerAccount: 1000 — request id req-iam-2');
    // The two roles' creates go out side by side; no PutRolePolicy follows either failed create.
    expect(writeCalls(aws)).toEqual(['iam:CreateRole', 'iam:CreateRole']);
  });

  it('validate: everything OK when in sync, each reason about that role only', async () => {
    seedInSync();
    const findings = await iamStep.validate(testContext());
    expect(findings.map((f) => [f.check, f.resource, f.status])).toEqual([
      ['IAM Roles', `iam role ${EXEC}`, 'OK'],
      ['Least Privilege', `iam role ${EXEC}`, 'OK'],
      ['IAM Roles', `iam role ${TASK}`, 'OK'],
      ['Least Privilege', `iam role ${TASK}`, 'OK'],
    ]);
    expect(findings[1].reason).toBe(
      'ExecPermissions: every resource scoped (only ecr:GetAuthorizationToken on "*"); no other inline policy; no managed policy or permissions boundary',
    );
    expect(findings[3].reason).not.toContain('ecr:GetAuthorizationToken');
  });

  it('validate fails least privilege on the runbook\'s Resource "*" policy and on a wildcard account, naming them', async () => {
    seedRole(world, EXEC, { inline: { ExecPermissions: runbookExecPolicy } });
    seedRole(world, TASK, {
      inline: { AppPermissions: { ...taskPolicy, Statement: [{ ...taskPolicy.Statement[0], Resource: 'arn:aws:dynamodb:us-east-1:*:table/FinTechTransactions' }] } },
    });
    const findings = await iamStep.validate(testContext());
    const leastPrivilege = findings.filter((f) => f.check === 'Least Privilege');
    expect(leastPrivilege.map((f) => f.status)).toEqual(['FAIL', 'FAIL']);
    expect(leastPrivilege[0].reason).toBe(
      'ExecPermissions: statement #1 allows ecr:BatchCheckLayerAvailability, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, ' +
        'logs:CreateLogStream, logs:PutLogEvents, secretsmanager:GetSecretValue, ssm:GetParameters on Resource "*"',
    );
    expect(leastPrivilege[1].reason).toBe('AppPermissions: statement TransactionsTable has a wildcard account in arn:aws:dynamodb:us-east-1:*:table/FinTechTransactions');
    expect(findings.filter((f) => f.check === 'IAM Roles').map((f) => f.reason)).toEqual([
      'differs from the config: inlinePolicies.ExecPermissions.Statement (run plan)',
      'differs from the config: inlinePolicies.AppPermissions.Statement (run plan)',
    ]);
  });

  it('validate fails a missing role (Least Privilege cannot be evaluated) and a wrong trust policy', async () => {
    seedRole(world, TASK, { trustDoc: { ...trust, Statement: [{ ...trust.Statement[0], Principal: { AWS: 'arn:aws:iam::999999999999:root' } }] }, inline: { AppPermissions: taskPolicy } });
    const findings = await iamStep.validate(testContext());
    expect(findings).toEqual([
      { check: 'IAM Roles', status: 'FAIL', resource: `iam role ${EXEC}`, reason: 'does not exist' },
      { check: 'Least Privilege', status: 'FAIL', resource: `iam role ${EXEC}`, reason: 'could not be evaluated: the role does not exist' },
      {
        check: 'IAM Roles',
        status: 'FAIL',
        resource: `iam role ${TASK}`,
        reason: 'differs from the config: AssumeRolePolicyDocument.Statement.0.Principal.AWS, AssumeRolePolicyDocument.Statement.0.Principal.Service (run plan)',
      },
      expect.objectContaining({ check: 'Least Privilege', status: 'OK', resource: `iam role ${TASK}` }),
    ]);
  });
});
