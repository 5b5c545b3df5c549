// The two roles the runbook owns (1.3): no administrator access, no whole-service wildcards, and no
// policy the config does not name. Security Hub evaluates IAM.1 and IAM.21 on customer managed
// policies; this runbook's roles hold their permissions inline, so the same rules are applied to
// the policies that actually grant these roles permissions (see `differs`).
import type { ControlReader, RolePolicy, RoleRead } from './read.js';
import { notEvaluated, type ControlSpec, type Evaluation } from './types.js';

interface Statement {
  Sid?: string;
  Effect?: string;
  Action?: string[];
  Resource?: string[];
}

const statements = (document: unknown): Statement[] => ((document as { Statement?: Statement[] } | undefined)?.Statement ?? []).filter((s) => s.Effect === 'Allow');

const roleKeys = ['executionRole', 'taskRole'] as const;

async function onRoles(read: ControlReader, judge: (role: RoleRead, base: Pick<Evaluation, 'resource' | 'resourceArn' | 'requestId'>, key: (typeof roleKeys)[number]) => Evaluation): Promise<Evaluation[]> {
  return Promise.all(
    roleKeys.map(async (key) => {
      const name = read.config.iam[key].name;
      const resource = `iam role ${name}`;
      const role = await read.role(name);
      if (!role) return notEvaluated(resource, 'the role does not exist');
      return judge(role, { resource, resourceArn: role.role.Arn, requestId: role.requestId }, key);
    }),
  );
}

const policyLabel = (p: RolePolicy) => (p.kind === 'inline' ? `inline policy ${p.name}` : `${p.kind === 'aws' ? 'AWS managed' : 'customer managed'} policy ${p.name}`);

/** FAIL naming each policy and statement that breaks the rule; the request id is the offending policy's read. */
function policyVerdict(base: Pick<Evaluation, 'resource' | 'resourceArn' | 'requestId'>, policies: RolePolicy[], offending: (s: Statement) => string | undefined, okReason: string): Evaluation {
  const problems: string[] = [];
  const observed: Array<Record<string, unknown>> = [];
  let requestId = base.requestId;
  for (const policy of policies) {
    statements(policy.document).forEach((s, i) => {
      const why = offending(s);
      if (!why) return;
      problems.push(`${policyLabel(policy)} statement ${s.Sid ?? `#${i + 1}`} ${why}`);
      observed.push({ policy: policy.arn ?? policy.name, Sid: s.Sid ?? null, Action: s.Action, Resource: s.Resource });
      requestId = policy.requestId ?? requestId;
    });
  }
  return problems.length ? { ...base, requestId, status: 'FAIL', reason: problems.join('; '), observed } : { ...base, status: 'OK', reason: okReason };
}

export const iamControls: ControlSpec[] = [
  {
    id: 'IAM.1',
    source: 'security-hub',
    title: 'IAM policies should not allow full "*" administrative privileges',
    short: 'No "*" admin policy',
    severity: 'high',
    passes: 'Fails if a policy has a statement with "Effect": "Allow", "Action": "*" over "Resource": "*".',
    resourceType: 'AWS::IAM::Role',
    reads: ['iam:GetRole', 'iam:ListRolePolicies', 'iam:GetRolePolicy', 'iam:ListAttachedRolePolicies', 'iam:GetPolicy', 'iam:GetPolicyVersion'],
    checklist: [],
    differs: 'AWS evaluates customer managed policies only; here every policy that grants an owned role permissions: inline, customer managed and AWS managed (AdministratorAccess attached to the task role is a FAIL).',
    steps: ['iam'],
    evaluate: (read) =>
      onRoles(read, (role, base) =>
        policyVerdict(
          base,
          role.policies,
          (s) => ((s.Action ?? []).includes('*') && (s.Resource ?? []).includes('*') ? 'allows Action "*" on Resource "*"' : undefined),
          `no policy allows "*" on "*" (${role.policies.length} polic${role.policies.length === 1 ? 'y' : 'ies'} read)`,
        ),
      ),
  },
  {
    id: 'IAM.21',
    source: 'security-hub',
    title: 'IAM customer managed policies that you create should not allow wildcard actions for services',
    short: 'No service:* actions',
    severity: 'low',
    passes: 'Fails if a policy has an Allow statement with a whole-service wildcard action such as "s3:*".',
    resourceType: 'AWS::IAM::Role',
    reads: ['iam:ListRolePolicies', 'iam:GetRolePolicy', 'iam:ListAttachedRolePolicies', 'iam:GetPolicyVersion'],
    checklist: [],
    differs: "AWS evaluates customer managed policies; here the owned roles' inline and customer managed policies (AWS managed ones are AWS's, and RB.IAM.1 fails any the config does not allow).",
    steps: ['iam'],
    evaluate: (read) =>
      onRoles(read, (role, base) =>
        policyVerdict(
          base,
          role.policies.filter((p) => p.kind !== 'aws'),
          (s) => {
            const wild = (s.Action ?? []).filter((a) => /^[A-Za-z0-9-]+:\*$/.test(a));
            return wild.length ? `allows ${wild.join(', ')}` : undefined;
          },
          'no whole-service wildcard action',
        ),
      ),
  },
  {
    id: 'RB.IAM.1',
    source: 'runbook',
    title: 'The owned roles carry only their own inline policy and the managed policies the config allows',
    short: 'No unexpected policy on roles',
    severity: 'high',
    passes: 'Fails if an owned role has another inline policy, a managed policy or a permissions boundary not listed in iam.allowedManagedPolicies.',
    resourceType: 'AWS::IAM::Role',
    reads: ['iam:GetRole PermissionsBoundary', 'iam:ListRolePolicies', 'iam:ListAttachedRolePolicies'],
    checklist: [],
    steps: ['iam'],
    evaluate: (read) =>
      onRoles(read, (role, base, key) => {
        const own = read.config.iam[key].policyName;
        const allowed = new Set(read.config.iam.allowedManagedPolicies);
        const unexpected = role.policies.filter((p) => (p.kind === 'inline' ? p.name !== own : !allowed.has(p.arn ?? '')));
        const boundary = role.role.PermissionsBoundary?.PermissionsBoundaryArn;
        const problems = unexpected.map((p) => (p.kind === 'inline' ? `extra inline policy ${p.name}` : `attached ${p.name} (${p.arn})`));
        if (boundary && !allowed.has(boundary)) problems.push(`permissions boundary ${boundary} not in iam.allowedManagedPolicies`);
        const observed = { policies: role.policies.map((p) => p.arn ?? `inline:${p.name}`), permissionsBoundary: boundary ?? null };
        const requestId = unexpected.find((p) => p.kind !== 'inline')?.requestId ?? base.requestId;
        return problems.length
          ? { ...base, requestId, status: 'FAIL', reason: problems.join('; '), observed }
          : { ...base, status: 'OK', reason: `only inline policy ${own}${allowed.size ? ' and allowed managed policies' : ''}`, observed };
      }),
  },
];
