// Runbook 1.3: the task execution role and the task role, their trust policy and inline policies.
// The inline policies deviate from the runbook on purpose (DESIGN.md §8 rows 5–7): every resource is
// scoped to this account's ARNs, unused ssm is dropped, and the task role may write FireLens logs.
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
import { names, type RunbookConfig } from '../src/config.js';
import { awsTagList, missingTags, normalisePolicy, parsePolicyDocument, sameValue, tagsAsDiff, tagsToRestore } from '../src/core/diff.js';
import { isAwsError } from '../src/core/errors.js';
import { fail, ok, stepWriter, type Change, type FieldDiff, type Finding, type Step, type StepContext } from '../src/core/step.js';

export interface RoleState {
  exists: boolean;
  arn?: string;
  /** Trust policy as decoded JSON text, kept verbatim so a rollback puts back the same document. */
  trustPolicy?: string;
  /** This tool's inline policy as decoded JSON text; undefined = the role had none. */
  inlinePolicy?: string;
  tags?: Record<string, string>;
}

export interface IamState {
  executionRole: RoleState;
  taskRole: RoleState;
}

type RoleKey = keyof IamState;
const ROLE_KEYS: RoleKey[] = ['executionRole', 'taskRole'];

/** The one action that supports no resource scope, so the only one allowed on "*". */
const UNSCOPED_ACTIONS = new Set(['ecr:getauthorizationtoken']);

const TRUST_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};

function executionPolicy(config: RunbookConfig) {
  const logGroup = names.logGroupArn(config);
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'EcrAuthorizationToken', Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' },
      {
        Sid: 'EcrPullImages',
        Effect: 'Allow',
        Action: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
        Resource: `arn:aws:ecr:${config.region}:${config.accountId}:repository/${config.ecr.repositoryName}`,
      },
      { Sid: 'WriteContainerLogs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [logGroup, `${logGroup}:*`] },
      // Row 6: this secret only, not every secret in the account; ssm:GetParameters dropped (nothing uses it).
      { Sid: 'ReadDbSecret', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: config.inputs.dbSecretArn },
    ],
  };
}

function taskPolicy(config: RunbookConfig) {
  const logGroup = names.logGroupArn(config);
  return {
    Version: '2012-10-17',
    Statement: [
      {
        // Row 7: the runbook's `*` account is pinned to ours.
        Sid: 'TransactionsTable',
        Effect: 'Allow',
        Action: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:Query'],
        Resource: `arn:aws:dynamodb:${config.region}:${config.accountId}:table/${config.inputs.dynamodbTableName}`,
      },
      { Sid: 'DataLakeObjects', Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject'], Resource: `arn:aws:s3:::${config.inputs.dataLakeBucket}/*` },
      {
        // Row 5: FireLens's cloudwatch output runs with the task role; without this "Logs Flowing" fails.
        Sid: 'FireLensCloudWatchLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        Resource: [logGroup, `${logGroup}:*`],
      },
    ],
  };
}

function roleSpec(config: RunbookConfig, key: RoleKey) {
  const { name, policyName } = config.iam[key];
  return { name, policyName, policy: key === 'executionRole' ? executionPolicy(config) : taskPolicy(config) };
}

const roleResource = (name: string) => `iam role ${name}`;
/** IAM returns documents URL-encoded; keep the decoded JSON text. */
const decodeDocument = (document: string | undefined) =>
  document === undefined ? undefined : document.trim().startsWith('%') ? decodeURIComponent(document) : document;

async function getRole(ctx: StepContext, name: string): Promise<Role | undefined> {
  try {
    return (await ctx.clients.iam.send(new GetRoleCommand({ RoleName: name }))).Role;
  } catch (error) {
    if (isAwsError(error, 'NoSuchEntityException')) return undefined;
    throw error;
  }
}

async function getInlinePolicy(ctx: StepContext, name: string, policyName: string): Promise<string | undefined> {
  try {
    const { PolicyDocument } = await ctx.clients.iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: policyName }));
    return decodeDocument(PolicyDocument);
  } catch (error) {
    if (isAwsError(error, 'NoSuchEntityException')) return undefined;
    throw error;
  }
}

async function listRoleTags(ctx: StepContext, name: string): Promise<Record<string, string>> {
  const tags: Record<string, string> = {};
  let marker: string | undefined;
  do {
    const page = await ctx.clients.iam.send(new ListRoleTagsCommand({ RoleName: name, ...(marker ? { Marker: marker } : {}) }));
    for (const tag of page.Tags ?? []) tags[tag.Key ?? ''] = tag.Value ?? '';
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return tags;
}

async function observeRole(ctx: StepContext, key: RoleKey): Promise<RoleState> {
  const { name, policyName } = roleSpec(ctx.config, key);
  const role = await getRole(ctx, name);
  if (!role) return { exists: false };
  const [inlinePolicy, tags] = await Promise.all([getInlinePolicy(ctx, name, policyName), listRoleTags(ctx, name)]);
  return { exists: true, arn: role.Arn, trustPolicy: decodeDocument(role.AssumeRolePolicyDocument), inlinePolicy, tags };
}

async function observe(ctx: StepContext): Promise<IamState> {
  const [executionRole, taskRole] = await Promise.all(ROLE_KEYS.map((key) => observeRole(ctx, key)));
  return { executionRole, taskRole };
}

/** One FieldDiff per differing document (compared parsed and normalised), one per missing tag. */
function roleFields(ctx: StepContext, key: RoleKey, state: RoleState): FieldDiff[] {
  const { name, policyName, policy } = roleSpec(ctx.config, key);
  const fields: FieldDiff[] = [];
  const documents: Array<[string, string | undefined, unknown]> = [
    ['trustPolicy', state.trustPolicy, TRUST_POLICY],
    [policyName, state.inlinePolicy, policy],
  ];
  for (const [field, observed, wanted] of documents) {
    const from = parsePolicyDocument(observed);
    const to = normalisePolicy(wanted);
    if (!sameValue(from, to)) fields.push({ field: `${name}.${field}`, from, to });
  }
  const observedTags = awsTagList(state.tags ?? {});
  for (const diff of tagsAsDiff(missingTags(ctx.config.tags, observedTags), observedTags)) {
    fields.push({ ...diff, field: `${name}.${diff.field}` });
  }
  return fields;
}

/** Why a policy is broader than it must be: "*" resources (bar GetAuthorizationToken), wildcard accounts. */
function leastPrivilegeProblems(document: unknown): string[] {
  const statements = ((normalisePolicy(document) as { Statement?: Array<Record<string, unknown>> }).Statement ?? []).filter(
    (s) => s.Effect === 'Allow',
  );
  const problems: string[] = [];
  statements.forEach((statement, i) => {
    const label = typeof statement.Sid === 'string' && statement.Sid ? statement.Sid : `#${i + 1}`;
    const actions = (statement.Action as string[] | undefined) ?? [];
    const resources = (statement.Resource as string[] | undefined) ?? [];
    if (statement.NotAction) problems.push(`statement ${label} uses NotAction`);
    if (statement.NotResource) problems.push(`statement ${label} uses NotResource`);
    if (resources.includes('*')) {
      const broad = actions.filter((action) => !UNSCOPED_ACTIONS.has(action.toLowerCase()));
      if (broad.length) problems.push(`statement ${label} allows ${broad.join(', ')} on Resource "*"`);
    }
    for (const resource of resources) {
      if (resource.split(':')[4]?.includes('*')) problems.push(`statement ${label} has a wildcard account in ${resource}`);
    }
  });
  return problems;
}

export const iamStep: Step<'iam', IamState> = {
  id: 'iam',
  section: '1.3',
  title: 'IAM roles',

  async plan(ctx) {
    const before = await observe(ctx);
    const changes: Change[] = [];
    for (const key of ROLE_KEYS) {
      const state = before[key];
      const fields = roleFields(ctx, key, state);
      if (fields.length) changes.push({ resource: roleResource(roleSpec(ctx.config, key).name), action: state.exists ? 'update' : 'create', fields });
    }
    if (!before.executionRole.exists || !before.taskRole.exists) return { before, changes };
    return {
      before,
      changes,
      outputs: {
        executionRoleArn: before.executionRole.arn ?? names.roleArn(ctx.config, ctx.config.iam.executionRole.name),
        taskRoleArn: before.taskRole.arn ?? names.roleArn(ctx.config, ctx.config.iam.taskRole.name),
      },
    };
  },

  async apply(ctx, plan) {
    const write = stepWriter(ctx, 'iam');
    const arns = {} as Record<RoleKey, string>;
    for (const key of ROLE_KEYS) {
      const { name, policyName, policy } = roleSpec(ctx.config, key);
      const resource = roleResource(name);
      const state = plan.before?.[key];
      const putPolicy = () =>
        write(resource, 'update', 'PutRolePolicy', () =>
          ctx.clients.iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: policyName, PolicyDocument: JSON.stringify(policy) })),
        );

      if (!state?.exists) {
        const { Role } = await write(resource, 'create', 'CreateRole', () =>
          ctx.clients.iam.send(
            new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(TRUST_POLICY), Tags: awsTagList(ctx.config.tags) }),
          ),
        );
        await putPolicy();
        arns[key] = Role?.Arn ?? names.roleArn(ctx.config, name);
        continue;
      }

      const changed = new Set(plan.changes.filter((c) => c.resource === resource).flatMap((c) => c.fields ?? []).map((f) => f.field));
      if (changed.has(`${name}.trustPolicy`)) {
        await write(resource, 'update', 'UpdateAssumeRolePolicy', () =>
          ctx.clients.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: JSON.stringify(TRUST_POLICY) })),
        );
      }
      if (changed.has(`${name}.${policyName}`)) await putPolicy();
      if ([...changed].some((field) => field.startsWith(`${name}.tags.`))) {
        const tags = missingTags(ctx.config.tags, awsTagList(state.tags ?? {}));
        await write(resource, 'update', 'TagRole', () => ctx.clients.iam.send(new TagRoleCommand({ RoleName: name, Tags: awsTagList(tags) })));
      }
      arns[key] = state.arn ?? names.roleArn(ctx.config, name);
    }
    return { executionRoleArn: arns.executionRole, taskRoleArn: arns.taskRole };
  },

  async validate(ctx) {
    const check = 'IAM Roles';
    const findings: Finding[] = [];
    const state = await observe(ctx);
    for (const key of ROLE_KEYS) {
      const { name, policyName, policy } = roleSpec(ctx.config, key);
      const resource = roleResource(name);
      const role = state[key];
      if (!role.exists) {
        findings.push(fail(check, resource, `role ${name} does not exist`));
        continue;
      }
      findings.push(
        sameValue(parsePolicyDocument(role.trustPolicy), normalisePolicy(TRUST_POLICY))
          ? ok(check, resource, 'exists; trusted by ecs-tasks.amazonaws.com (sts:AssumeRole)')
          : fail(check, resource, `trust policy of ${name} is not ecs-tasks.amazonaws.com sts:AssumeRole only`),
      );
      if (role.inlinePolicy === undefined) {
        findings.push(fail(check, resource, `role ${name} has no inline policy ${policyName}`));
        continue;
      }
      const document = parsePolicyDocument(role.inlinePolicy);
      findings.push(
        sameValue(document, normalisePolicy(policy))
          ? ok(check, resource, `inline policy ${policyName} is the desired one`)
          : fail(check, resource, `inline policy ${policyName} differs from the desired document (run plan)`),
      );
      const problems = leastPrivilegeProblems(document);
      findings.push(
        problems.length === 0
          ? ok('Least Privilege', resource, `${policyName}: every resource scoped (only ecr:GetAuthorizationToken on "*")`)
          : fail('Least Privilege', resource, `${policyName}: ${problems.join('; ')}`),
      );
    }
    return findings;
  },

  async rollback(ctx, before) {
    if (!before) return;
    const write = stepWriter(ctx, 'iam');
    for (const key of ROLE_KEYS) {
      const was = before[key];
      if (!was) continue;
      const { name, policyName } = roleSpec(ctx.config, key);
      const resource = roleResource(name);
      const now = await observeRole(ctx, key);

      if (!was.exists) {
        // Created by this run. Only our inline policy goes first; anything else someone attached makes DeleteRole fail loudly.
        if (!now.exists) continue;
        if (now.inlinePolicy !== undefined) {
          await write(resource, 'delete', 'DeleteRolePolicy', () =>
            ctx.clients.iam.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: policyName })),
          );
        }
        await write(resource, 'delete', 'DeleteRole', () => ctx.clients.iam.send(new DeleteRoleCommand({ RoleName: name })));
        continue;
      }

      // Existed before: put its documents and tags back, never delete it.
      if (!now.exists) {
        ctx.report(`${resource} no longer exists; nothing to restore`);
        continue;
      }
      if (was.trustPolicy !== undefined && !sameValue(parsePolicyDocument(now.trustPolicy), parsePolicyDocument(was.trustPolicy))) {
        await write(resource, 'update', 'UpdateAssumeRolePolicy', () =>
          ctx.clients.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: was.trustPolicy })),
        );
      }
      if (was.inlinePolicy === undefined) {
        if (now.inlinePolicy !== undefined) {
          await write(resource, 'delete', 'DeleteRolePolicy', () =>
            ctx.clients.iam.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: policyName })),
          );
        }
      } else if (!sameValue(parsePolicyDocument(now.inlinePolicy), parsePolicyDocument(was.inlinePolicy))) {
        await write(resource, 'update', 'PutRolePolicy', () =>
          ctx.clients.iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: policyName, PolicyDocument: was.inlinePolicy })),
        );
      }
      const { untag, retag } = tagsToRestore(was.tags ?? {}, now.tags ?? {}, ctx.config.tags);
      if (untag.length) {
        await write(resource, 'update', 'UntagRole', () => ctx.clients.iam.send(new UntagRoleCommand({ RoleName: name, TagKeys: untag })));
      }
      if (Object.keys(retag).length) {
        await write(resource, 'update', 'TagRole', () => ctx.clients.iam.send(new TagRoleCommand({ RoleName: name, Tags: awsTagList(retag) })));
      }
    }
  },
};
