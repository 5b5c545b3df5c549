// Section 1 end to end, the built CLI against moto: plan → apply → re-apply (zero writes) →
// validate, and drift made out of band is planned field by field and restored.
import { ModifyTargetGroupAttributesCommand, DescribeTargetGroupsCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ECRClient, PutImageTagMutabilityCommand } from '@aws-sdk/client-ecr';
import { GetRolePolicyCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { runCli, useEmulator, writesOf } from '../helpers/e2e.js';

const env = useEmulator();
const section1 = 'cluster,ecr,iam,task-definition,load-balancer,service';
const clientConfig = () => ({
  region: 'us-east-1',
  endpoint: env.emulator.endpoint,
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
});

describe('section 1 against the emulator', () => {
  it('plans every resource of 1.1–1.6 with zero writes, applies, re-applies with zero writes, validates', async () => {
    await env.fresh();
    const plan = await runCli([...env.args, '--only', section1, '--json', 'plan'], { env: env.env });
    expect(plan.code, plan.stderr).toBe(4); // changes pending
    expect(writesOf(plan.json)).toEqual([]);
    const created = plan.json.steps.flatMap((s: { changes: Array<{ action: string; resource: string }> }) =>
      s.changes.filter((c) => c.action === 'create').map((c) => c.resource),
    );
    expect(created).toEqual(
      expect.arrayContaining([
        'ecs cluster fintech-prod-cluster',
        expect.stringContaining('fintech-api'), // the ECR repository
        expect.stringContaining('FinTech-ECS-ExecRole'),
        expect.stringContaining('FinTech-ECS-TaskRole'),
        expect.stringContaining('/ecs/fintech-api'),
        expect.stringContaining('fintech-api-task'),
        expect.stringContaining('fintech-prod-tg'),
        expect.stringContaining(':443'),
        'ecs service fintech-prod-cluster/fintech-api-svc',
      ]),
    );

    const apply = await runCli([...env.args, '--only', section1, '--json', 'apply', '--yes'], { env: env.env });
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.json.steps.map((s: { status: string }) => s.status)).toEqual(Array(6).fill('applied'));
    const checks = Object.fromEntries(apply.json.findings.map((f: { check: string; status: string }) => [f.check, f.status]));
    expect(checks).toMatchObject({ 'Service Stable': 'OK', 'Tasks Healthy': 'OK', 'Logs Flowing': 'OK' });
    expect(writesOf(apply.json)).toEqual(
      expect.arrayContaining(['ecs:CreateCluster', 'ecr:CreateRepository', 'iam:CreateRole', 'ecs:RegisterTaskDefinition', 'elbv2:CreateListener', 'ecs:CreateService']),
    );

    // Section 3.2: the registered task definition carries DB_PASSWORD only as a Secrets Manager reference.
    const ecs = new ECSClient(clientConfig());
    const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'fintech-api-task' }));
    ecs.destroy();
    const api = taskDefinition!.containerDefinitions!.find((c) => c.name === 'api-container')!;
    expect(api.environment?.map((e) => e.name).sort()).toEqual(['ENV', 'REGION']);
    expect(api.secrets).toEqual([{ name: 'DB_PASSWORD', valueFrom: `${env.prerequisites.DB_SECRET_ARN}:password::` }]);
    expect(api.image).toBe(`123456789012.dkr.ecr.us-east-1.amazonaws.com/fintech-api:${env.prerequisites.IMAGE_TAG}`);

    const again = await runCli([...env.args, '--only', section1, '--json', 'apply', '--yes'], { env: env.env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.json.calls.writes).toBe(0);
    expect(again.json.steps.map((s: { status: string }) => s.status)).toEqual(Array(6).fill('in-sync'));

    const validate = await runCli([...env.args, '--only', section1, 'validate'], { env: env.env });
    expect(validate.code, validate.stdout + validate.stderr).toBe(0);
    expect(validate.stdout).toContain('All checks passed');
    expect(validate.stdout).not.toMatch(/^\s+FAIL/m);
    expect(validate.stdout).toMatch(/AWS calls: \d+ read, 0 write/);
  });

  it('shows out-of-band drift field by field with the "changes pending" exit code, and apply restores it', async () => {
    await env.fresh();
    expect((await runCli([...env.args, '--only', section1, 'apply', '--yes'], { env: env.env })).code).toBe(0);

    // Someone changes production by hand.
    const ecr = new ECRClient(clientConfig());
    await ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'fintech-api', imageTagMutability: 'MUTABLE' }));
    const elbv2 = new ElasticLoadBalancingV2Client(clientConfig());
    const { TargetGroups } = await elbv2.send(new DescribeTargetGroupsCommand({ Names: ['fintech-prod-tg'] }));
    await elbv2.send(
      new ModifyTargetGroupAttributesCommand({
        TargetGroupArn: TargetGroups![0].TargetGroupArn,
        Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '300' }],
      }),
    );
    const iam = new IAMClient(clientConfig());
    const current = await iam.send(new GetRolePolicyCommand({ RoleName: 'FinTech-ECS-TaskRole', PolicyName: 'AppPermissions' }));
    const document = JSON.parse(decodeURIComponent(current.PolicyDocument!));
    document.Statement.push({ Sid: 'Backdoor', Effect: 'Allow', Action: 's3:*', Resource: '*' });
    await iam.send(new PutRolePolicyCommand({ RoleName: 'FinTech-ECS-TaskRole', PolicyName: 'AppPermissions', PolicyDocument: JSON.stringify(document) }));

    const plan = await runCli([...env.args, '--only', section1, '--json', 'plan'], { env: env.env });
    expect(plan.code, plan.stderr).toBe(4);
    const fields = plan.json.steps.flatMap((s: { changes: Array<{ fields?: Array<{ field: string; from: unknown; to: unknown }> }> }) =>
      s.changes.flatMap((c) => c.fields ?? []),
    );
    expect(fields).toEqual(
      expect.arrayContaining([
        { field: 'imageTagMutability', from: 'MUTABLE', to: 'IMMUTABLE' },
        { field: 'attributes.deregistration_delay.timeout_seconds', from: '300', to: '30' },
        expect.objectContaining({ field: 'inlinePolicies.AppPermissions.Statement' }),
      ]),
    );
    expect(fields).toHaveLength(3);
    // The human plan names each field too; --diff shows the policy document's lines.
    const human = await runCli([...env.args, '--only', section1, 'plan', '--diff'], { env: env.env });
    expect(human.stdout).toMatch(/imageTagMutability: "MUTABLE" → "IMMUTABLE"/);
    expect(human.stdout).toMatch(/deregistration_delay\.timeout_seconds: "300" → "30"/);
    expect(human.stdout).toMatch(/- .*"Sid": "Backdoor"/);

    const apply = await runCli([...env.args, '--only', section1, '--json', 'apply', '--yes'], { env: env.env });
    expect(apply.code, apply.stderr).toBe(0);
    expect(writesOf(apply.json).sort()).toEqual(['ecr:PutImageTagMutability', 'elbv2:ModifyTargetGroupAttributes', 'iam:PutRolePolicy']);

    const after = await runCli([...env.args, '--only', section1, 'plan'], { env: env.env });
    expect(after.code, after.stdout).toBe(0);
    for (const client of [ecr, elbv2, iam]) client.destroy();
  });

  it('works with a plain --endpoint-url and the runbook variables set by hand (production.yaml, no harness)', async () => {
    await env.fresh();
    await env.simulator.stop(); // a new user has no simulator: plan and the non-waiting steps only
    const byHand = ['--config', 'config/production.yaml', '--endpoint-url', env.emulator.endpoint];
    const plan = await runCli([...byHand, 'plan'], { env: env.env });
    expect(plan.code, plan.stderr).toBe(4);
    expect(plan.stdout).toMatch(/^  \+ ecs cluster fintech-prod-cluster /m);
    const apply = await runCli([...byHand, '--only', 'cluster,ecr,iam', '--json', 'apply', '--yes'], { env: env.env });
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.json.steps.map((s: { status: string }) => s.status)).toEqual(['applied', 'applied', 'applied']);
  });

  it("honours the SDK's own AWS_ENDPOINT_URL when --endpoint-url is not given", async () => {
    await env.fresh();
    const plan = await runCli(['--config', 'config/local.yaml', '--only', 'cluster', '--json', 'plan'], {
      env: { ...env.env, AWS_ENDPOINT_URL: env.emulator.endpoint },
    });
    expect(plan.code, plan.stderr).toBe(4);
    expect(plan.json.calls.reads).toBeGreaterThan(0);
  });
});
