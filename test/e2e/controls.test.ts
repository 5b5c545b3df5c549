// Issue 9: the controls by id against the emulator. One converged environment for the whole file:
// freshly applied it passes every control in the table; then each violation is planted out of band
// with the SDK, validate must FAIL naming the control id and the resource, and it is reverted.
// apply's preflight stops before the first write on a network that breaks section 3, unless
// --accept makes it a recorded exception. What moto cannot represent is in test/unit/controls.test.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudWatchLogsClient, PutRetentionPolicyCommand } from '@aws-sdk/client-cloudwatch-logs';
import { AuthorizeSecurityGroupIngressCommand, EC2Client, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { DeleteRepositoryPolicyCommand, ECRClient, SetRepositoryPolicyCommand } from '@aws-sdk/client-ecr';
import {
  DeregisterTaskDefinitionCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type ContainerDefinition,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import { CreateListenerCommand, DeleteListenerCommand, DescribeTargetGroupsCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { AttachRolePolicyCommand, DetachRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROLS } from '../../src/checks/controls.js';
import { emulatorClientConfig, runCli, useEmulator, writesOf } from '../helpers/e2e.js';

// moto attaches AWS managed policies (AdministratorAccess) only with this setting.
const env = useEmulator({ MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' });

type FindingJson = { check: string; status: string; resource: string; reason: string; controls?: string[]; checklist?: string[]; requestId?: string; observed?: unknown };

const service = { cluster: 'fintech-prod-cluster', service: 'fintech-api-svc' };
let ecs: ECSClient;
let ec2: EC2Client;
let ecr: ECRClient;
let elbv2: ElasticLoadBalancingV2Client;
let iam: IAMClient;
let logs: CloudWatchLogsClient;

async function validate() {
  const result = await runCli([...env.args, '--json', 'validate'], { env: env.env });
  return { ...result, findings: (result.json?.findings ?? []) as FindingJson[] };
}

const controlFindings = (findings: FindingJson[]) => findings.filter((f) => f.controls?.length === 1 && f.check.startsWith(`${f.controls[0]} `));

/** What the service runs now, as a register input, for out-of-band revisions. */
async function runningRevision(): Promise<{ arn: string; input: RegisterTaskDefinitionCommandInput }> {
  const { services = [] } = await ecs.send(new DescribeServicesCommand({ ...service, services: [service.service] }));
  const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: services[0].taskDefinition }));
  return { arn: taskDefinition!.taskDefinitionArn!, input: taskDefinition as RegisterTaskDefinitionCommandInput };
}

/** Register a revision with the api container changed and run it; returns the undo. */
async function plantRevision(change: (c: ContainerDefinition) => ContainerDefinition): Promise<() => Promise<void>> {
  const { arn, input } = await runningRevision();
  const { taskDefinition } = await ecs.send(
    new RegisterTaskDefinitionCommand({ ...input, containerDefinitions: input.containerDefinitions!.map((c) => (c.name === 'api-container' ? change(c) : c)) }),
  );
  await ecs.send(new UpdateServiceCommand({ ...service, taskDefinition: taskDefinition!.taskDefinitionArn }));
  return async () => {
    await ecs.send(new UpdateServiceCommand({ ...service, taskDefinition: arn }));
    // AWS judges the family's latest ACTIVE revision: the planted one goes, as a person would remove it.
    await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: taskDefinition!.taskDefinitionArn }));
  };
}

beforeAll(async () => {
  await env.fresh();
  const config = emulatorClientConfig(env.emulator.endpoint);
  [ecs, ec2, ecr, elbv2, iam, logs] = [new ECSClient(config), new EC2Client(config), new ECRClient(config), new ElasticLoadBalancingV2Client(config), new IAMClient(config), new CloudWatchLogsClient(config)];
  const apply = await runCli([...env.args, 'apply', '--yes'], { env: env.env });
  expect(apply.code, apply.stderr).toBe(0);
});

afterAll(() => {
  for (const client of [ecs, ec2, ecr, elbv2, iam, logs]) client?.destroy();
});

describe('controls by id (issue 9)', () => {
  it('a freshly applied environment passes every control in the table: validate exit 0, no FAIL, each control evaluated', async () => {
    const result = await validate();
    const failed = result.findings.filter((f) => f.status === 'FAIL');
    expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
    expect(result.code).toBe(0);
    const byControl = controlFindings(result.findings);
    for (const control of CONTROLS) {
      const mine = byControl.filter((f) => f.controls![0] === control.id);
      expect(mine.length, `${control.id} evaluated`).toBeGreaterThan(0);
      // SKIP only where AWS says not applicable: no task sets, no other HTTPS listener; never "could not see".
      for (const f of mine) expect(['OK', 'SKIP'], `${control.id} ${f.resource}: ${f.reason}`).toContain(f.status);
    }
    expect(byControl.filter((f) => f.status === 'SKIP').map((f) => f.controls![0])).toEqual(['ECS.16']);
    // Evidence: the request id of the read that decided it, and the section 3 item it implements.
    expect(byControl.find((f) => f.controls![0] === 'ECS.5')?.requestId).toBeTruthy();
    expect(byControl.find((f) => f.controls![0] === 'ECS.2')?.checklist).toEqual(['3.1']);
    // The checklist items name their controls; the text shows both numbers.
    const isolation = result.findings.find((f) => f.check.startsWith('3.1'));
    expect(isolation?.controls).toEqual(expect.arrayContaining(['ECS.2', 'EC2.15', 'RB.EC2.3']));
    const text = await runCli([...env.args, 'validate'], { env: env.env });
    expect(text.stdout).toMatch(/3\.4 .*\[.*RB\.EC2\.1.*\]/);
    expect(text.stdout).toMatch(/ECS\.2 .*\[3\.1\]/);
  });

  const ingress = (port: number) => ({ IpProtocol: 'tcp', FromPort: port, ToPort: port, IpRanges: [{ CidrIp: '0.0.0.0/0' }] });
  const violations: Array<{ what: string; controls: string[]; resource: RegExp; plant: () => Promise<() => Promise<unknown>> }> = [
    { what: 'a privileged container', controls: ['ECS.4'], resource: /task definition fintech-api-task:\d+/, plant: () => plantRevision((c) => ({ ...c, privileged: true })) },
    { what: 'readonlyRootFilesystem false', controls: ['ECS.5'], resource: /task definition fintech-api-task:\d+/, plant: () => plantRevision((c) => ({ ...c, readonlyRootFilesystem: false })) },
    { what: 'user root', controls: ['ECS.20'], resource: /task definition fintech-api-task:\d+/, plant: () => plantRevision((c) => ({ ...c, user: 'root' })) },
    {
      what: 'platformVersion 1.3.0',
      controls: ['ECS.10'],
      resource: /ecs service fintech-prod-cluster\/fintech-api-svc/,
      plant: async () => {
        await ecs.send(new UpdateServiceCommand({ ...service, platformVersion: '1.3.0' }));
        return () => ecs.send(new UpdateServiceCommand({ ...service, platformVersion: 'LATEST' }));
      },
    },
    {
      what: 'AWS_ACCESS_KEY_ID in environment',
      controls: ['ECS.8', 'RB.ECS.1'],
      resource: /task definition fintech-api-task:\d+/,
      plant: () => plantRevision((c) => ({ ...c, environment: [...(c.environment ?? []), { name: 'AWS_ACCESS_KEY_ID', value: 'AKIAPLANTEDNOTREAL00' }] })),
    },
    {
      what: 'a repository policy with Principal "*"',
      controls: ['RB.ECR.1'],
      resource: /ecr repository fintech-api/,
      plant: async () => {
        const policyText = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'Everyone', Effect: 'Allow', Principal: '*', Action: ['ecr:BatchGetImage'] }] });
        await ecr.send(new SetRepositoryPolicyCommand({ repositoryName: 'fintech-api', policyText }));
        return () => ecr.send(new DeleteRepositoryPolicyCommand({ repositoryName: 'fintech-api' }));
      },
    },
    {
      what: 'an HTTP:80 listener forwarding to the target group',
      controls: ['ELB.1'],
      resource: /load balancer fintech-prod-alb/,
      plant: async () => {
        const { TargetGroups = [] } = await elbv2.send(new DescribeTargetGroupsCommand({ Names: ['fintech-prod-tg'] }));
        const { Listeners = [] } = await elbv2.send(
          new CreateListenerCommand({ LoadBalancerArn: env.prerequisites.ALB_ARN, Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: TargetGroups[0].TargetGroupArn }] }),
        );
        return () => elbv2.send(new DeleteListenerCommand({ ListenerArn: Listeners[0].ListenerArn }));
      },
    },
    {
      what: "80 and 22 open to 0.0.0.0/0 on the ALB's security group",
      controls: ['RB.EC2.2', 'EC2.53', 'EC2.19'],
      resource: /security group sg-[0-9a-f]+ \(the ALB's\)/,
      plant: async () => {
        const rules = { GroupId: env.prerequisites.ALB_SG, IpPermissions: [ingress(80), ingress(22)] };
        await ec2.send(new AuthorizeSecurityGroupIngressCommand(rules));
        return () => ec2.send(new RevokeSecurityGroupIngressCommand(rules));
      },
    },
    {
      what: 'AdministratorAccess attached to the task role',
      controls: ['IAM.1', 'RB.IAM.1'],
      resource: /iam role FinTech-ECS-TaskRole/,
      plant: async () => {
        const attachment = { RoleName: 'FinTech-ECS-TaskRole', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' };
        await iam.send(new AttachRolePolicyCommand(attachment));
        return () => iam.send(new DetachRolePolicyCommand(attachment));
      },
    },
    {
      what: 'log retention 1 day',
      controls: ['CloudWatch.16'],
      resource: /log group \/ecs\/fintech-api/,
      plant: async () => {
        await logs.send(new PutRetentionPolicyCommand({ logGroupName: '/ecs/fintech-api', retentionInDays: 1 }));
        return () => logs.send(new PutRetentionPolicyCommand({ logGroupName: '/ecs/fintech-api', retentionInDays: 365 }));
      },
    },
  ];

  it.each(violations)('$what: validate exit 1, FAIL naming $controls and the resource', async ({ controls, resource, plant }) => {
    const revert = await plant();
    try {
      const result = await validate();
      expect(result.code, result.stderr).toBe(1);
      const failing = controlFindings(result.findings).filter((f) => f.status === 'FAIL');
      for (const id of controls) {
        const hit = failing.find((f) => f.controls![0] === id);
        expect(hit, `${id} FAIL among ${failing.map((f) => `${f.check} ${f.resource}`).join('; ')}`).toBeDefined();
        expect(hit!.resource).toMatch(resource);
      }
      // The human text names the control id and the resource on one line.
      const text = await runCli([...env.args, 'validate'], { env: env.env });
      expect(text.stdout).toMatch(new RegExp(`FAIL\\s+${controls[0].replace('.', '\\.')} .*${resource.source}`));
    } finally {
      await revert();
    }
  });

  it('after the reverts the environment passes every control again', async () => {
    const result = await validate();
    expect(result.findings.filter((f) => f.status === 'FAIL')).toEqual([]);
    expect(result.code).toBe(0);
  });

  it("apply stops in preflight when the tasks' security group admits 8080 from 0.0.0.0/0: exit 1, the rule named, 0 writes; --accept records the exception", async () => {
    const rule = { GroupId: env.prerequisites.ECS_SG, IpPermissions: [ingress(8080)] };
    await ec2.send(new AuthorizeSecurityGroupIngressCommand(rule));
    try {
      const refused = await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/preflight failed/);
      expect(refused.stderr).toMatch(new RegExp(`RB\\.EC2\\.1 security group ${env.prerequisites.ECS_SG} .*tcp 8080 from 0\\.0\\.0\\.0/0`));
      expect(refused.stderr).toMatch(/EC2\.19 .*tcp 8080 from 0\.0\.0\.0\/0/);
      expect(refused.json.calls.writes).toBe(0);

      // A control that is not an input is refused before any AWS call.
      const wrong = await runCli([...env.args, 'apply', '--yes', '--accept', 'ECS.5'], { env: env.env });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toMatch(/--accept ECS\.5: not evaluated before apply/);

      const accepted = await runCli([...env.args, '--json', 'apply', '--yes', '--accept', 'RB.EC2.1', '--accept', 'EC2.18', '--accept', 'EC2.19'], { env: env.env });
      expect(accepted.code, accepted.stderr).toBe(0);
      expect(accepted.stderr).toMatch(/Accepted exception \(--accept RB\.EC2\.1\): security group .*tcp 8080 from 0\.0\.0\.0\/0/);
      expect(writesOf(accepted.json)).toEqual([]); // converged: the exception only lets the run go on
      const journalDir = env.env.FINTECH_RUNBOOK_STATE_DIR!;
      const file = readdirSync(journalDir).filter((f) => f.endsWith('.jsonl')).sort().pop()!;
      const start = JSON.parse(readFileSync(join(journalDir, file), 'utf8').split('\n')[0]);
      expect(start.type).toBe('run-start');
      expect(start.accepted.map((a: { control: string }) => a.control).sort()).toEqual(['EC2.18', 'EC2.19', 'RB.EC2.1']);
      expect(start.accepted[0]).toMatchObject({ resource: expect.stringContaining(env.prerequisites.ECS_SG), reason: expect.stringContaining('8080') });
    } finally {
      await ec2.send(new RevokeSecurityGroupIngressCommand(rule));
    }
  });
});

describe('no secret value in any output (issue 9 item 5)', () => {
  // Planted out of band: a revision the service runs with a cleartext DB_PASSWORD (the section 3.2
  // violation) and a plain setting; and the Secrets Manager secret's own value, which the tool never reads.
  const password = `planted-${randomBytes(9).toString('hex')}`;
  const plain = `cleartext-${randomBytes(9).toString('hex')}`;
  let secretValues: string[] = [];
  let goodRevision = '';
  let badRevision = '';
  const outputs: string[] = [];
  const record = <T extends { stdout: string; stderr: string }>(r: T): T => {
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const leaks = (text: string) => [password, plain, ...secretValues].filter((v) => text.includes(v));

  beforeAll(async () => {
    const secrets = new SecretsManagerClient(emulatorClientConfig(env.emulator.endpoint));
    const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: env.prerequisites.DB_SECRET_ARN }));
    secrets.destroy();
    secretValues = [SecretString!, (JSON.parse(SecretString!) as { password: string }).password];
    goodRevision = (await runningRevision()).arn;
    await plantRevision((c) => ({ ...c, environment: [...(c.environment ?? []), { name: 'DB_PASSWORD', value: password }, { name: 'PLAIN_SETTING', value: plain }] }));
    badRevision = (await runningRevision()).arn;
  });

  it('plan and plan --out (the saved plan file) show the variable with its value masked', async () => {
    const planned = record(await runCli([...env.args, 'plan'], { env: env.env }));
    expect(planned.code).toBe(4);
    expect(planned.stdout).toMatch(/DB_PASSWORD/);
    expect(planned.stdout).toMatch(/\(redacted, sha256:[0-9a-f]{12}\)/);
    expect(planned.stdout).toMatch(/\(masked, sha256:[0-9a-f]{12}\)/);
    record(await runCli([...env.args, '--json', 'plan'], { env: env.env }));
    const file = join(mkdtempSync(join(tmpdir(), 'fintech-plan-')), 'plan.json');
    record(await runCli([...env.args, 'plan', '--out', file], { env: env.env }));
    outputs.push(readFileSync(file, 'utf8'));
    for (const text of outputs) expect(leaks(text)).toEqual([]);
  });

  it('validate names the variable, never its value', async () => {
    const validated = record(await runCli([...env.args, 'validate'], { env: env.env }));
    expect(validated.code).toBe(1);
    expect(validated.stdout).toMatch(/RB\.ECS\.1 .*DB_PASSWORD in cleartext environment/);
    record(await runCli([...env.args, '--json', 'validate'], { env: env.env }));
    for (const text of outputs) expect(leaks(text)).toEqual([]);
  });

  it('diagnose shows no value either', async () => {
    record(await runCli([...env.args, 'diagnose'], { env: env.env }));
    for (const text of outputs) expect(leaks(text)).toEqual([]);
  });

  it('rollback --to, apply, undo and history print env changes by name or masked; no journal file holds a value', async () => {
    const off = record(await runCli([...env.args, 'rollback', '--to', goodRevision, '--yes'], { env: env.env }));
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).toMatch(/api-container env DB_PASSWORD: unset \(secret-looking: value not shown\)/);
    expect(off.stdout).toMatch(/api-container env PLAIN_SETTING: \(masked, sha256:[0-9a-f]{12}\) → \(unset\)/);
    const back = record(await runCli([...env.args, 'rollback', '--to', badRevision, '--yes'], { env: env.env }));
    expect(back.stdout).toMatch(/api-container env DB_PASSWORD: set \(secret-looking: value not shown\)/);
    const applied = record(await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env }));
    expect(applied.code, applied.stderr).toBe(0);
    const runId = (applied.json.journal as string).split('/').pop()!.replace(/\.jsonl$/, '');
    record(await runCli([...env.args, 'undo', runId, '--yes'], { env: env.env }));
    record(await runCli([...env.args, 'history'], { env: env.env }));
    const dir = env.env.FINTECH_RUNBOOK_STATE_DIR!;
    const journals = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8'));
    expect(journals.join('\n')).toMatch(/DB_PASSWORD/); // the before snapshots name it...
    for (const text of [...outputs, ...journals]) expect(leaks(text)).toEqual([]); // ...never its value
  });
});
