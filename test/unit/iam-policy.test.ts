// `iam-policy` (src/commands/iam-policy.ts): the table of what the tool sends is complete (every
// operation in the source is in it), each action is scoped to the resource types the Service
// Authorization Reference documents (test/fixtures/sar-resource-types.json), packing statements
// grants nothing more than the table, and the options select what they say. That every operation
// the e2e suite really sends is in the policy, and nothing else, is test/e2e/iam-policy-audit.test.ts.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  arnService,
  buildPolicy,
  configArns,
  GRANTS,
  grantedOperations,
  IAM_PREFIX,
  iamAction,
  iamPolicyCommand,
  MANAGED_POLICY_LIMIT,
  selectGrants,
  UNAUTHORISED_OPERATIONS,
  type IamPolicy,
} from '../../src/commands/iam-policy.js';
import { UsageError } from '../../src/core/errors.js';
import { STEP_IDS } from '../../src/core/step.js';
import { ACCOUNT_ID, fixtureEnv, productionYaml, testConfig } from '../helpers/mock-aws.js';
import { parseConfig } from '../../src/config.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const sar = JSON.parse(readFileSync(join(root, 'test/fixtures/sar-resource-types.json'), 'utf8')) as {
  actions: Record<string, Array<{ type: string; required: boolean; arn: string | null }>>;
};

/** production.yaml with everything optional switched on: a lock table and a change calendar. */
function fullConfig() {
  const yaml = `${productionYaml}\nlock:\n  dynamodbTable: fintech-runbook-locks\nchangeCalendar: fintech-prod-freeze\n`;
  return parseConfig(yaml, fixtureEnv, 'config/production.yaml');
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const MODULE_SERVICE: Record<string, string> = {
  '@aws-sdk/client-acm': 'acm',
  '@aws-sdk/client-application-auto-scaling': 'autoscaling',
  '@aws-sdk/client-cloudwatch': 'cloudwatch',
  '@aws-sdk/client-cloudwatch-logs': 'logs',
  '@aws-sdk/client-dynamodb': 'dynamodb',
  '@aws-sdk/client-ec2': 'ec2',
  '@aws-sdk/client-ecr': 'ecr',
  '@aws-sdk/client-ecs': 'ecs',
  '@aws-sdk/client-elastic-load-balancing-v2': 'elbv2',
  '@aws-sdk/client-iam': 'iam',
  '@aws-sdk/client-kms': 'kms',
  '@aws-sdk/client-rds': 'rds',
  '@aws-sdk/client-secrets-manager': 'secrets',
  '@aws-sdk/client-ssm': 'ssm',
  '@aws-sdk/client-sts': 'sts',
};

/**
 * Every AWS operation the tool's source can send, as IAM actions: the SDK commands and paginators
 * it imports, the plan actions it builds (`act('ecs', 'CreateCluster', …)`) and the action literals
 * (`service: 'ecs', operation: 'UpdateService'`). scripts/ (the emulator's own setup) is not the tool.
 */
function sourceOperations(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (action: string, file: string) => found.set(action, [...(found.get(action) ?? []), relative(root, file)]);
  for (const file of [...files(join(root, 'src')), ...files(join(root, 'steps'))]) {
    const text = readFileSync(file, 'utf8');
    for (const [, names, module] of text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'(@aws-sdk\/client-[a-z0-9-]+)'/g)) {
      const service = MODULE_SERVICE[module];
      if (!service) throw new Error(`${file}: ${module} is not a client this test knows`);
      for (const raw of names.split(',')) {
        const name = raw.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0];
        const command = /^([A-Z][A-Za-z0-9]+)Command$/.exec(name)?.[1];
        const paginator = /^paginate([A-Z][A-Za-z0-9]+)$/.exec(name)?.[1];
        const waiter = /^waitUntil/.test(name);
        if (waiter) throw new Error(`${file}: ${name}: a waiter sends operations this test cannot see; list them`);
        if (command || paginator) add(iamAction(service, (command ?? paginator)!), file);
      }
    }
    for (const [, service, operation] of text.matchAll(/\bact\(\s*'([a-z0-9]+)',\s*'([A-Za-z]+)'/g)) add(iamAction(service, operation), file);
    for (const [, service, operation] of text.matchAll(/\bservice:\s*'([a-z0-9]+)',\s*operation:\s*'([A-Z][A-Za-z]+)'/g)) add(iamAction(service, operation), file);
  }
  return found;
}

const actionsOf = (policy: IamPolicy) => new Set(policy.Statement.flatMap((s) => s.Action));

describe('the table is complete: every operation in the source is in the policy', () => {
  const policyActions = actionsOf(buildPolicy(fullConfig()));
  const operations = sourceOperations();

  it('found the operations (the scan works)', () => {
    expect(operations.size).toBeGreaterThan(90);
    expect(operations.get('ecs:CreateService')).toBeDefined();
    expect(operations.get('ecs:UpdateService')).toEqual(expect.arrayContaining(['src/commands/rollback.ts']));
    expect(operations.get('dynamodb:PutItem')).toEqual(expect.arrayContaining(['src/core/lock.ts']));
  });

  it.each([...sourceOperations().keys()].filter((a) => !UNAUTHORISED_OPERATIONS.includes(a)).sort())('%s', (action) => {
    expect(policyActions.has(action), `${action} (sent by ${operations.get(action)?.join(', ')}) is not in iam-policy's table`).toBe(true);
  });

  it('sts:GetCallerIdentity is in the source and deliberately not in the policy (it needs no permission)', () => {
    expect(operations.has('sts:GetCallerIdentity')).toBe(true);
    expect(policyActions.has('sts:GetCallerIdentity')).toBe(false);
  });

  it('nothing in the table that the source never sends, except the permissions AWS checks on its behalf', () => {
    const sent = new Set(operations.keys());
    const extra = GRANTS.filter((g) => !g.implied).flatMap((g) => g.operations.map((op) => iamAction(g.service, op))).filter((a) => !sent.has(a));
    expect(extra).toEqual([]);
  });
});

describe('each action on the resource types the Service Authorization Reference documents', () => {
  const config = fullConfig();
  const arns = configArns(config);
  // `${Partition}`, `${Account}`, … stand for one ARN segment value; our ARNs may end in `*`.
  const escape = (text: string) => text.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&');
  const template = (arn: string) => new RegExp(`^${arn.split(/\$\{[A-Za-z]+\}/).map(escape).join('.+')}$`);
  const fits = (ours: string, theirs: string) => template(theirs).test(ours.replace(/\*$/, 'x'));

  it.each(GRANTS.flatMap((g) => g.operations.map((op) => [iamAction(g.service, op), g.sid, g] as const)))('%s (%s)', (action, _sid, grant) => {
    const types = sar.actions[action];
    expect(types, `${action} is not in test/fixtures/sar-resource-types.json`).toBeDefined();
    const resources = grant.resources(arns);
    if (types.some((t) => t.required)) expect(resources, `${action} has a required resource type: it must be scoped, not "*"`).not.toBe('*');
    if (!types.length) expect(resources, `${action} has no resource type: "*"`).toBe('*');
    if (resources !== '*') {
      for (const arn of [resources].flat()) {
        expect(types.some((t) => t.arn && fits(arn, t.arn)), `${arn} is none of ${action}'s resource types (${types.map((t) => t.arn).join(', ')})`).toBe(true);
      }
    }
  });

  it('every scoped ARN is of its own service (what makes packing statements safe)', () => {
    for (const grant of GRANTS) {
      const resources = grant.resources(arns);
      if (resources === '*') continue;
      for (const arn of [resources].flat()) expect(arnService(arn), `${grant.sid}: ${arn}`).toBe(IAM_PREFIX[grant.service]);
    }
  });
});

describe('buildPolicy', () => {
  it('packing statements grants each action exactly the resources (and condition) of the grants that hold it', () => {
    const config = fullConfig();
    const arns = configArns(config);
    const policy = buildPolicy(config);
    const key = (action: string, condition: unknown) => `${action} ${JSON.stringify(condition ?? null)}`;
    const expected = new Map<string, Set<string>>();
    for (const grant of selectGrants(config)) {
      const resources = grant.resources(arns);
      for (const op of grant.operations) {
        const k = key(iamAction(grant.service, op), grant.condition?.(config));
        const set = expected.get(k) ?? new Set<string>();
        for (const r of [resources].flat()) set.add(r);
        expected.set(k, set);
      }
    }
    const granted = new Map<string, Set<string>>();
    for (const statement of policy.Statement) {
      for (const action of statement.Action) {
        const k = key(action, statement.Condition);
        const set = granted.get(k) ?? new Set<string>();
        // An action is authorised only on "*" or on ARNs of its own service.
        for (const r of [statement.Resource].flat()) if (r === '*' || arnService(r) === action.split(':')[0]) set.add(r);
        granted.set(k, set);
      }
    }
    const sorted = (m: Map<string, Set<string>>) => Object.fromEntries([...m.entries()].map(([k, v]) => [k, [...v].sort()]).sort());
    expect(sorted(granted)).toEqual(sorted(expected));
  });

  it('is a valid policy document: unique alphanumeric Sids, Allow only, no duplicate action in a statement', () => {
    const policy = buildPolicy(fullConfig());
    expect(policy.Version).toBe('2012-10-17');
    const sids = policy.Statement.map((s) => s.Sid);
    expect(new Set(sids).size).toBe(sids.length);
    for (const s of policy.Statement) {
      expect(s.Sid).toMatch(/^[A-Za-z0-9]+$/);
      expect(s.Effect).toBe('Allow');
      expect(s.Action.length).toBeGreaterThan(0);
      expect(new Set(s.Action).size).toBe(s.Action.length);
      for (const a of s.Action) expect(a).toMatch(/^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$/);
    }
  });

  it("is scoped to the config's ARNs: the cluster, the repository, the two roles, the ALB's listeners", () => {
    const text = JSON.stringify(buildPolicy(testConfig()));
    expect(text).toContain(`arn:aws:ecs:us-east-1:${ACCOUNT_ID}:cluster/fintech-prod-cluster`);
    expect(text).toContain(`arn:aws:ecr:us-east-1:${ACCOUNT_ID}:repository/fintech-api`);
    expect(text).toContain(`arn:aws:iam::${ACCOUNT_ID}:role/FinTech-ECS-ExecRole`);
    expect(text).toContain(`arn:aws:iam::${ACCOUNT_ID}:role/FinTech-ECS-TaskRole`);
    expect(text).toContain(`arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:listener/app/fintech-prod-alb/50dc6c495c0c9188/*`);
    expect(text).toContain(fixtureEnv.DB_SECRET_ARN);
    // No account-wide write: every "*" statement is reads, DeregisterTaskDefinition, or conditioned.
    for (const s of buildPolicy(testConfig()).Statement.filter((st) => st.Resource === '*' && !st.Condition)) {
      expect(s.Action.filter((a) => !/:(Describe|List|Get)/.test(a))).toEqual(['ecs:DeregisterTaskDefinition']);
    }
  });

  it('passes the roles to ECS tasks only, and creates only the service-linked roles it needs', () => {
    const policy = buildPolicy(testConfig());
    const pass = policy.Statement.find((s) => s.Action.includes('iam:PassRole'))!;
    expect(pass.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
    expect(pass.Resource).toEqual([`arn:aws:iam::${ACCOUNT_ID}:role/FinTech-ECS-ExecRole`, `arn:aws:iam::${ACCOUNT_ID}:role/FinTech-ECS-TaskRole`]);
    const slr = policy.Statement.find((s) => s.Action.includes('iam:CreateServiceLinkedRole'))!;
    expect(slr.Resource).toBe(`arn:aws:iam::${ACCOUNT_ID}:role/aws-service-role/*`);
    expect(slr.Condition?.StringEquals['iam:AWSServiceName']).toContain('ecs.amazonaws.com');
  });

  it('PutMetricData only in the runbook\'s namespace', () => {
    const statement = buildPolicy(testConfig()).Statement.find((s) => s.Action.includes('cloudwatch:PutMetricData'))!;
    expect(statement).toMatchObject({ Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'FinTech/Business' } } });
  });
});

describe('options', () => {
  it('--steps: only those steps\' actions', () => {
    const cluster = actionsOf(buildPolicy(testConfig(), { steps: ['cluster'] }));
    expect(cluster.has('ecs:CreateCluster')).toBe(true);
    expect(cluster.has('iam:CreateRole')).toBe(false);
    expect(cluster.has('ecs:CreateService')).toBe(false);
    const iam = buildPolicy(testConfig(), { steps: ['iam'] });
    expect(actionsOf(iam).has('iam:PutRolePolicy')).toBe(true);
    expect(actionsOf(iam).has('ecs:CreateCluster')).toBe(false);
  });

  it('--read-only: reads only (plan, validate, diagnose): no write, no lock, no PassRole', () => {
    const policy = buildPolicy(fullConfig(), { readOnly: true });
    const actions = [...actionsOf(policy)];
    expect(actions.filter((a) => !/:(Describe|List|Get|BatchGet|Filter)/.test(a))).toEqual([]);
    expect(actions).toEqual(expect.arrayContaining(['ecs:DescribeClusters', 'iam:GetRole', 'logs:FilterLogEvents', 'ec2:DescribeSecurityGroups']));
    expect(actions).not.toContain('dynamodb:GetItem');
    expect(actions).not.toContain('ssm:GetCalendarState');
    expect(JSON.stringify(policy).length).toBeLessThan(MANAGED_POLICY_LIMIT);
  });

  it('the lock table and the change calendar only when the config has them', () => {
    const without = actionsOf(buildPolicy(testConfig()));
    expect(without.has('dynamodb:PutItem')).toBe(false);
    expect(without.has('ssm:GetCalendarState')).toBe(false);
    const policy = buildPolicy(fullConfig());
    const lock = policy.Statement.find((s) => s.Action.includes('dynamodb:PutItem'))!;
    expect([lock.Resource].flat()).toContain(`arn:aws:dynamodb:us-east-1:${ACCOUNT_ID}:table/fintech-runbook-locks`);
    const calendar = policy.Statement.find((s) => s.Action.includes('ssm:GetCalendarState'))!;
    expect([calendar.Resource].flat()).toContain(`arn:aws:ssm:us-east-1:${ACCOUNT_ID}:document/fintech-prod-freeze`);
  });

  it('KMS grants for ECR only with KMS encryption, and only through ECR', () => {
    const kms = buildPolicy(testConfig()).Statement.find((s) => s.Action.includes('kms:CreateGrant'))!;
    expect(kms.Condition).toEqual({ StringEquals: { 'kms:ViaService': 'ecr.us-east-1.amazonaws.com' } });
    const aes = parseConfig(productionYaml.replace('encryptionType: KMS', 'encryptionType: AES256'), fixtureEnv, 'p');
    expect(actionsOf(buildPolicy(aes)).has('kms:CreateGrant')).toBe(false);
  });

  it('grantedOperations lists SDK operations, not the permissions AWS checks on the side', () => {
    const ops = grantedOperations(fullConfig(), { everything: true });
    expect(ops).toContain('elbv2:CreateListener');
    expect(ops).toContain('lock:PutItem');
    expect(ops).not.toContain('iam:PassRole');
  });

  it('every step selects something', () => {
    for (const step of STEP_IDS) expect(buildPolicy(testConfig(), { steps: [step] }).Statement.length, step).toBeGreaterThan(0);
  });
});

describe('iamPolicyCommand', () => {
  const streams = () => {
    let out = '';
    let notes = '';
    return {
      out: { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream,
      notes: { write: (s: string) => ((notes += s), true) } as unknown as NodeJS.WritableStream,
      text: () => ({ out, notes }),
    };
  };

  it('prints the policy as JSON on stdout and the notes on stderr', () => {
    const s = streams();
    expect(iamPolicyCommand(testConfig(), {}, undefined, s.out, s.notes)).toBe(0);
    expect(JSON.parse(s.text().out)).toEqual(buildPolicy(testConfig()));
    expect(s.text().notes).toMatch(/sts:GetCallerIdentity .* needs no permission/);
    expect(s.text().notes).toMatch(/Resource "\*": the Service Authorization Reference lists no resource type for .*ec2:DescribeVpcs/);
    expect(s.text().notes).toMatch(/iam:PassRole: not sent by the tool/);
  });

  it('--steps takes step ids (or --only); a typo or both at once is a usage error naming the flag', () => {
    const s = streams();
    iamPolicyCommand(testConfig(), { steps: 'ecr' }, undefined, s.out, s.notes);
    expect(actionsOf(JSON.parse(s.text().out)).has('ecr:CreateRepository')).toBe(true);
    expect(() => iamPolicyCommand(testConfig(), { steps: 'ecr,clutser' }, undefined, s.out, s.notes)).toThrow(UsageError);
    expect(() => iamPolicyCommand(testConfig(), { steps: 'ecr,clutser' }, undefined, s.out, s.notes)).toThrow(/--steps: unknown step "clutser"/);
    expect(() => iamPolicyCommand(testConfig(), { steps: 'ecr' }, 'iam', s.out, s.notes)).toThrow(/give --steps or --only, not both/);
  });

  it('says when the policy is over the managed-policy limit, and how to split it', () => {
    const s = streams();
    iamPolicyCommand(testConfig(), {}, undefined, s.out, s.notes);
    const size = JSON.stringify(JSON.parse(s.text().out)).length;
    expect(s.text().notes).toContain(`${size} characters of ${MANAGED_POLICY_LIMIT}`);
    if (size > MANAGED_POLICY_LIMIT) expect(s.text().notes).toContain('split it with --steps');
    else expect(s.text().notes).not.toContain('warning');
  });
});
