// Runbook 1.3: the task execution role and the task role. A role this tool owns has exactly its
// trust policy and its one inline policy: any other inline policy, managed policy or permissions
// boundary is drift unless `iam.allowedManagedPolicies` names it (issue 7).
// The inline policies deviate from the runbook on purpose (DESIGN.md §8 rows 5–7): every resource is
// scoped to this account's ARNs, unused ssm is dropped, and the task role may write FireLens logs.
import { GetRoleCommand, GetRolePolicyCommand, paginateListAttachedRolePolicies, paginateListRolePolicies, type Role } from '@aws-sdk/client-iam';
import { names, type RunbookConfig } from '../src/config.js';
import { act, ref, type ActionSpec } from '../src/core/actions.js';
import { defineStep, documentFindings, refuseUnhandled } from '../src/core/converge.js';
import { normalisePolicy, parsePolicyDocument } from '../src/core/policy.js';
import { changedTopLevel, sameDocument, type Doc, type IgnoreList } from '../src/core/document.js';
import { isAwsError } from '../src/core/errors.js';
import { awsTags, managedTags, tagChanges, type TagMap } from '../src/core/tags.js';
import { fail, ok, type Finding, type Observed, type ResourceDef, type StepContext } from '../src/core/step.js';

/** The CreateRole input, plus what the role carries: its inline policies (by name) and attached managed policy ARNs. */
export interface RoleDoc extends Doc {
  RoleName: string;
  Path: string;
  /** Parsed and normalised (`normalisePolicy`), as every policy document here. */
  AssumeRolePolicyDocument: unknown;
  Description?: string;
  MaxSessionDuration: number;
  /** The boundary policy's ARN (CreateRole's spelling; GetRole nests it with a constant type). */
  PermissionsBoundary?: string;
  Tags: TagMap;
  inlinePolicies: Record<string, unknown>;
  /** Sorted ARNs. */
  attachedManagedPolicies: string[];
}

/** Fields IAM sets itself. Everything else is compared. */
export const ROLE_IGNORE: IgnoreList = [
  'Arn', // assigned by IAM; kept for the outputs
  'RoleId', // IAM's unique id
  'CreateDate', // timestamp
  'RoleLastUsed', // changes whenever a task assumes the role
];

/** IAM's default when CreateRole names none: both sides are normalised to it. */
const DEFAULT_MAX_SESSION_SECONDS = 3600;

type RoleKey = 'executionRole' | 'taskRole';
const ROLE_KEYS: RoleKey[] = ['executionRole', 'taskRole'];
const OUTPUT: Record<RoleKey, 'executionRoleArn' | 'taskRoleArn'> = { executionRole: 'executionRoleArn', taskRole: 'taskRoleArn' };

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
        Resource: names.arn(config, 'ecr', `repository/${config.ecr.repositoryName}`),
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
        Resource: names.arn(config, 'dynamodb', `table/${config.inputs.dynamodbTableName}`),
      },
      { Sid: 'DataLakeObjects', Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject'], Resource: names.arn(config, 's3', `${config.inputs.dataLakeBucket}/*`, { region: '', account: '' }) },
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

export const roleId = (roleName: string) => `role:${roleName}`;
const roleLabel = (roleName: string) => `iam role ${roleName}`;
const policyName = (arn: string) => arn.split('/').pop() ?? arn;

/** The role as GetRole and the policy lists describe it, in the CreateRole input's shape: unknown fields stay, to be seen. */
export function roleDoc(role: Role, inlinePolicies: Record<string, unknown>, attached: string[], managed: TagMap): RoleDoc {
  return {
    ...(role as unknown as Doc),
    RoleName: role.RoleName ?? '',
    Path: role.Path ?? '/',
    AssumeRolePolicyDocument: parsePolicyDocument(role.AssumeRolePolicyDocument),
    // A description cleared with UpdateRole is reported as "" (moto; AWS may omit it): both mean none.
    Description: role.Description || undefined,
    MaxSessionDuration: role.MaxSessionDuration ?? DEFAULT_MAX_SESSION_SECONDS,
    PermissionsBoundary: role.PermissionsBoundary?.PermissionsBoundaryArn,
    Tags: managedTags(role.Tags, managed),
    inlinePolicies,
    attachedManagedPolicies: [...attached].sort(),
  };
}

/** What the config implies. Allowed managed policies (and an allowed boundary) are desired where they are attached: never drift. */
function desiredRole(ctx: StepContext, key: RoleKey, observed: RoleDoc | undefined): RoleDoc {
  const { name, policyName: inline, policy } = roleSpec(ctx.config, key);
  const allowed = new Set(ctx.config.iam.allowedManagedPolicies);
  const boundary = observed?.PermissionsBoundary;
  return {
    RoleName: name,
    Path: '/',
    AssumeRolePolicyDocument: normalisePolicy(TRUST_POLICY),
    MaxSessionDuration: DEFAULT_MAX_SESSION_SECONDS,
    ...(boundary && allowed.has(boundary) ? { PermissionsBoundary: boundary } : {}),
    Tags: { ...ctx.config.tags },
    inlinePolicies: { [inline]: normalisePolicy(policy) },
    attachedManagedPolicies: (observed?.attachedManagedPolicies ?? []).filter((arn) => allowed.has(arn)),
  };
}

const putPolicy = (RoleName: string, PolicyName: string, document: unknown) =>
  act('iam', 'PutRolePolicy', { RoleName, PolicyName, PolicyDocument: JSON.stringify(document) });
const deletePolicy = (RoleName: string, PolicyName: string) =>
  act('iam', 'DeleteRolePolicy', { RoleName, PolicyName }, { goneErrors: ['NoSuchEntityException'] });
// Detaching is undoing an attachment: a retry after a lost reply answers NoSuchEntity, which means done.
const detach = (RoleName: string, PolicyArn: string) =>
  act('iam', 'DetachRolePolicy', { RoleName, PolicyArn }, { kind: 'delete', goneErrors: ['NoSuchEntityException'] });
const attach = (RoleName: string, PolicyArn: string) => act('iam', 'AttachRolePolicy', { RoleName, PolicyArn });

/** The fields some call converges; any other difference (Path, a new field) is refused. */
const HANDLED = [
  'AssumeRolePolicyDocument',
  'Description',
  'MaxSessionDuration',
  'PermissionsBoundary',
  'Tags',
  'inlinePolicies',
  'attachedManagedPolicies',
];

function roleResource(ctx: StepContext, key: RoleKey, observed: Observed): ResourceDef<RoleDoc> {
  const { name } = roleSpec(ctx.config, key);
  const id = roleId(name);
  const label = roleLabel(name);
  const seen = observed[id] as RoleDoc | undefined;
  return {
    id,
    name: label,
    after: [], // the two roles are independent: created side by side
    desired: desiredRole(ctx, key, seen),
    observed: seen,
    ignore: ROLE_IGNORE,
    // The inline policy is put by the action after CreateRole: a role adopted after a lost reply lacks it.
    adoptIgnore: ['inlinePolicies'],
    create: (d) => [
      act(
        'iam',
        'CreateRole',
        {
          RoleName: d.RoleName,
          Path: d.Path,
          AssumeRolePolicyDocument: JSON.stringify(d.AssumeRolePolicyDocument),
          MaxSessionDuration: d.MaxSessionDuration,
          ...(d.Description ? { Description: d.Description } : {}),
          ...(d.PermissionsBoundary ? { PermissionsBoundary: d.PermissionsBoundary } : {}),
          Tags: awsTags(d.Tags),
        },
        { binds: { [OUTPUT[key]]: 'Role.Arn' }, adoptBinds: { [OUTPUT[key]]: 'Arn' }, existsErrors: ['EntityAlreadyExistsException'] },
      ),
      ...Object.entries(d.inlinePolicies ?? {}).map(([policy, document]) => putPolicy(d.RoleName, policy, document)),
      ...(d.attachedManagedPolicies ?? []).map((arn) => attach(d.RoleName, arn)),
    ],
    // Both directions: apply removes what the config does not name; rollback puts back what `before` had.
    update: (d, o, diffs) => {
      refuseUnhandled(label, diffs, HANDLED);
      const changed = changedTopLevel(diffs);
      const RoleName = o.RoleName;
      const actions: ActionSpec[] = [];
      if (changed.has('AssumeRolePolicyDocument')) {
        actions.push(act('iam', 'UpdateAssumeRolePolicy', { RoleName, PolicyDocument: JSON.stringify(d.AssumeRolePolicyDocument) }));
      }
      const roleUpdate: Record<string, unknown> = {};
      if (changed.has('Description')) roleUpdate.Description = d.Description ?? '';
      if (changed.has('MaxSessionDuration')) roleUpdate.MaxSessionDuration = d.MaxSessionDuration ?? DEFAULT_MAX_SESSION_SECONDS;
      if (Object.keys(roleUpdate).length) actions.push(act('iam', 'UpdateRole', { RoleName, ...roleUpdate }));
      // What the role must not have goes first: its permissions shrink before anything is added.
      const want = d.inlinePolicies ?? {};
      const have = o.inlinePolicies ?? {};
      for (const policy of Object.keys(have).filter((p) => !(p in want))) actions.push(deletePolicy(RoleName, policy));
      const wantAttached = d.attachedManagedPolicies ?? [];
      const haveAttached = o.attachedManagedPolicies ?? [];
      for (const arn of haveAttached.filter((a) => !wantAttached.includes(a))) actions.push(detach(RoleName, arn));
      if (changed.has('PermissionsBoundary')) {
        actions.push(
          d.PermissionsBoundary
            ? act('iam', 'PutRolePermissionsBoundary', { RoleName, PermissionsBoundary: d.PermissionsBoundary })
            : act('iam', 'DeleteRolePermissionsBoundary', { RoleName }, { goneErrors: ['NoSuchEntityException'] }),
        );
      }
      for (const [policy, document] of Object.entries(want)) {
        if (!sameDocument(document, have[policy])) actions.push(putPolicy(RoleName, policy, document));
      }
      for (const arn of wantAttached.filter((a) => !haveAttached.includes(a))) actions.push(attach(RoleName, arn));
      const { tag, untag } = tagChanges(d.Tags, o.Tags);
      if (Object.keys(tag).length) actions.push(act('iam', 'TagRole', { RoleName, Tags: awsTags(tag) }));
      if (untag.length) actions.push(act('iam', 'UntagRole', { RoleName, TagKeys: untag }));
      return actions;
    },
    // IAM refuses DeleteRole while policies are attached or inline (DeleteConflict; moto too): those go first.
    remove: (o) => [
      ...Object.keys(o.inlinePolicies ?? {}).map((policy) => deletePolicy(o.RoleName, policy)),
      ...(o.attachedManagedPolicies ?? []).map((arn) => detach(o.RoleName, arn)),
      act('iam', 'DeleteRole', { RoleName: o.RoleName }, { goneErrors: ['NoSuchEntityException'] }),
    ],
  };
}

async function getRole(ctx: StepContext, name: string): Promise<Role | undefined> {
  try {
    return (await ctx.clients.iam.send(new GetRoleCommand({ RoleName: name }))).Role;
  } catch (error) {
    if (isAwsError(error, 'NoSuchEntityException')) return undefined;
    throw error;
  }
}

async function observeRole(ctx: StepContext, name: string): Promise<RoleDoc | undefined> {
  // GetRole returns the role's tags too: no ListRoleTags.
  const role = await getRole(ctx, name);
  if (!role) return undefined;
  const client = { client: ctx.clients.iam };
  // Independent reads go out together: the inline policies (names, then documents) and the attached list.
  const inline = async () => {
    const inlineNames: string[] = [];
    for await (const page of paginateListRolePolicies(client, { RoleName: name })) inlineNames.push(...(page.PolicyNames ?? []));
    const documents = await Promise.all(
      inlineNames.sort().map(async (policy) => {
        const { PolicyDocument } = await ctx.clients.iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: policy }));
        return [policy, parsePolicyDocument(PolicyDocument)] as const;
      }),
    );
    return Object.fromEntries(documents) as Record<string, unknown>;
  };
  const attachedPolicies = async () => {
    const attached: string[] = [];
    // moto attaches AWS managed policies (arn:aws:iam::aws:policy/…) only when started with MOTO_IAM_LOAD_MANAGED_POLICIES=true.
    for await (const page of paginateListAttachedRolePolicies(client, { RoleName: name })) {
      attached.push(...(page.AttachedPolicies ?? []).map((p) => p.PolicyArn ?? ''));
    }
    return attached;
  };
  const [inlinePolicies, attached] = await Promise.all([inline(), attachedPolicies()]);
  return roleDoc(role, inlinePolicies, attached, ctx.config.tags);
}

async function observe(ctx: StepContext): Promise<Observed> {
  const roleNames = ROLE_KEYS.map((key) => ctx.config.iam[key].name);
  const docs = await Promise.all(roleNames.map((name) => observeRole(ctx, name)));
  return Object.fromEntries(roleNames.map((name, i) => [roleId(name), docs[i]]));
}

const resources = (ctx: StepContext, observed: Observed) => ROLE_KEYS.map((key) => roleResource(ctx, key, observed));

interface Statement {
  Sid?: string;
  Effect?: string;
  Action?: string[];
  NotAction?: unknown;
  Resource?: string[];
  NotResource?: unknown;
}
const allowStatements = (document: unknown) =>
  (((normalisePolicy(document) as { Statement?: Statement[] } | undefined)?.Statement ?? []) as Statement[]).filter((s) => s.Effect === 'Allow');

/** Why a policy is broader than it must be: "*" resources (bar GetAuthorizationToken), wildcard actions or accounts. */
function leastPrivilegeProblems(document: unknown): string[] {
  const problems: string[] = [];
  allowStatements(document).forEach((statement, i) => {
    const label = statement.Sid ? statement.Sid : `#${i + 1}`;
    const actions = statement.Action ?? [];
    const resources = statement.Resource ?? [];
    if (statement.NotAction) problems.push(`statement ${label} uses NotAction`);
    if (statement.NotResource) problems.push(`statement ${label} uses NotResource`);
    const onStar = resources.includes('*');
    if (onStar) {
      const broad = actions.filter((action) => !UNSCOPED_ACTIONS.has(action.toLowerCase()));
      if (broad.length) problems.push(`statement ${label} allows ${broad.map((a) => (a === '*' ? 'Action "*"' : a)).join(', ')} on Resource "*"`);
    } else {
      const wildcards = actions.filter((action) => action.includes('*'));
      if (wildcards.length) problems.push(`statement ${label} allows wildcard action ${wildcards.join(', ')}`);
    }
    for (const resource of resources) {
      if (resource.split(':')[4]?.includes('*')) problems.push(`statement ${label} has a wildcard account in ${resource}`);
    }
  });
  return problems;
}

/** The actions this document allows on Resource "*" (for an OK reason that says only what the role has). */
const actionsOnStar = (document: unknown) =>
  allowStatements(document).flatMap((s) => ((s.Resource ?? []).includes('*') ? (s.Action ?? []) : []));

function leastPrivilege(ctx: StepContext, key: RoleKey, resource: ResourceDef<RoleDoc>): Finding {
  const check = 'Least Privilege';
  const o = resource.observed;
  if (!o) return fail(check, resource.name, 'could not be evaluated: the role does not exist');
  const { policyName: own } = roleSpec(ctx.config, key);
  const allowed = new Set(ctx.config.iam.allowedManagedPolicies);
  const problems: string[] = [];
  const inline = o.inlinePolicies ?? {};
  if (own in inline) {
    const found = leastPrivilegeProblems(inline[own]);
    if (found.length) problems.push(`${own}: ${found.join('; ')}`);
  }
  for (const [policy, document] of Object.entries(inline).filter(([p]) => p !== own)) {
    const found = leastPrivilegeProblems(document);
    problems.push(`extra inline policy ${policy}${found.length ? `: ${found.join('; ')}` : ''}`);
  }
  const attached = o.attachedManagedPolicies ?? [];
  for (const arn of attached.filter((a) => !allowed.has(a))) problems.push(`attached ${policyName(arn)} (${arn})`);
  if (o.PermissionsBoundary && !allowed.has(o.PermissionsBoundary)) {
    problems.push(`permissions boundary ${policyName(o.PermissionsBoundary)} (${o.PermissionsBoundary}) not in iam.allowedManagedPolicies`);
  }
  if (problems.length) return fail(check, resource.name, problems.join('; '));

  const parts: string[] = [];
  if (own in inline) {
    const star = [...new Set(actionsOnStar(inline[own]))];
    parts.push(`${own}: every resource scoped${star.length ? ` (only ${star.join(', ')} on "*")` : ', nothing on Resource "*"'}`);
  } else {
    parts.push(`no inline policy ${own} (see IAM Roles)`);
  }
  parts.push('no other inline policy');
  const kept = [...attached, ...(o.PermissionsBoundary ? [o.PermissionsBoundary] : [])];
  parts.push(kept.length ? `allowed by iam.allowedManagedPolicies: ${kept.map(policyName).join(', ')}` : 'no managed policy or permissions boundary');
  return ok(check, resource.name, parts.join('; '));
}

export const iamStep = defineStep<'iam'>({
  id: 'iam',
  section: '1.3',
  title: 'IAM roles',
  needs: [],

  observe,

  resources,

  outputs: (ctx, observed) => {
    const arn = (key: RoleKey) => (observed[roleId(ctx.config.iam[key].name)]?.Arn as string | undefined) ?? ref('iam', OUTPUT[key]);
    return { executionRoleArn: arn('executionRole'), taskRoleArn: arn('taskRole') };
  },

  async validate(ctx) {
    const roles = resources(ctx, await observe(ctx));
    return ROLE_KEYS.flatMap((key, i) => [
      ...documentFindings(
        'IAM Roles',
        [roles[i]],
        () => `trusted by ecs-tasks.amazonaws.com (sts:AssumeRole) only; inline policy ${ctx.config.iam[key].policyName} as desired`,
      ),
      leastPrivilege(ctx, key, roles[i]),
    ]);
  },
});
