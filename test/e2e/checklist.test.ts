// Section 2 and a complete `validate` against the emulator: the whole runbook applies, each of
// the five section 3 checklist items is violated in turn (validate fails naming that item and the
// resource, and passes the other four), scaling preconditions stop apply before any write, and
// `metrics put` publishes one datum.
import { CloudWatchClient, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, CreateLogGroupCommand, DeleteLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { AuthorizeSecurityGroupIngressCommand, EC2Client, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { ECRClient, PutImageTagMutabilityCommand } from '@aws-sdk/client-ecr';
import { DescribeTaskDefinitionCommand, ECSClient, RegisterTaskDefinitionCommand, UpdateServiceCommand, type RegisterTaskDefinitionCommandInput } from '@aws-sdk/client-ecs';
import { ApplicationAutoScalingClient, DescribeScalingPoliciesCommand } from '@aws-sdk/client-application-auto-scaling';
import { describe, expect, it } from 'vitest';
import { emulatorClientConfig, runCli, useEmulator, writesOf } from '../helpers/e2e.js';

const env = useEmulator();
type FindingJson = { check: string; status: string; resource: string; reason: string };
const checklist = (findings: FindingJson[]) => findings.filter((f) => /^3\.\d/.test(f.check));

async function validateJson() {
  const result = await runCli([...env.args, '--json', 'validate'], { env: env.env });
  return { code: result.code, findings: result.json.findings as FindingJson[], writes: result.json.calls.writes as number, stdout: result.stdout, stderr: result.stderr };
}

describe('the whole runbook and validate', () => {
  it('applies 1.1–2.4, re-applies with zero writes and no second policy, and validates', async () => {
    await env.fresh();
    const apply = await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env });
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.json.steps).toHaveLength(11); // the ten runbook sections and the deployment alarms
    expect(apply.json.findings.filter((f: FindingJson) => f.check === 'Scaling Ready').every((f: FindingJson) => f.status === 'OK')).toBe(true);
    expect(writesOf(apply.json)).not.toContain('cloudwatch:PutMetricData'); // 2.4 publishes no fake values

    const again = await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.json.calls.writes).toBe(0);
    const autoscaling = new ApplicationAutoScalingClient(emulatorClientConfig(env.emulator.endpoint));
    const { ScalingPolicies = [] } = await autoscaling.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: 'ecs' }));
    expect(ScalingPolicies.map((p) => p.PolicyName).sort()).toEqual(['fintech-cpu-scaling', 'fintech-mem-scaling']);
    autoscaling.destroy();

    const validate = await validateJson();
    expect(validate.code, validate.stdout).toBe(0);
    expect(validate.writes).toBe(0); // validate never writes
    expect(checklist(validate.findings).map((f) => `${f.check}:${f.status}`)).toEqual([
      '3.1 Private subnets, no public IP:OK',
      '3.2 Secrets only via Secrets Manager:OK',
      '3.3 Log groups KMS-encrypted:OK',
      '3.4 Port 8080 only from ALB SG:OK',
      '3.5 ECR tags IMMUTABLE:OK',
    ]);
    const checks41 = new Set(validate.findings.map((f) => f.check));
    for (const check of ['Service Stable', 'Tasks Healthy', 'Scaling Ready', 'Logs Flowing']) expect(checks41).toContain(check);
    // Metrics with no data are warnings, not failures.
    expect(validate.findings.filter((f) => f.check === 'Business Metrics').map((f) => f.status)).toEqual(Array(5).fill('WARN'));
  });

  it('fails validate for each violated checklist item, naming it and the resource, and passes the other four', async () => {
    await env.fresh();
    expect((await runCli([...env.args, 'apply', '--yes'], { env: env.env })).code).toBe(0);
    const config = emulatorClientConfig(env.emulator.endpoint);
    const ecs = new ECSClient(config);
    const ec2 = new EC2Client(config);
    const logs = new CloudWatchLogsClient(config);
    const ecr = new ECRClient(config);
    const service = { cluster: 'fintech-prod-cluster', service: 'fintech-api-svc' };
    const network = (assignPublicIp: 'ENABLED' | 'DISABLED') => ({
      awsvpcConfiguration: { subnets: [env.prerequisites.APP_SUB_A, env.prerequisites.APP_SUB_B], securityGroups: [env.prerequisites.ECS_SG], assignPublicIp },
    });
    const { taskDefinition: current } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'fintech-api-task' }));
    const withPassword: RegisterTaskDefinitionCommandInput = {
      ...(current as RegisterTaskDefinitionCommandInput),
      containerDefinitions: current!.containerDefinitions!.map((c) =>
        c.name === 'api-container' ? { ...c, environment: [...(c.environment ?? []), { name: 'DB_PASSWORD', value: 'not-a-real-password' }] } : c,
      ),
    };
    const ingress8080World = { GroupId: env.prerequisites.ECS_SG, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] };

    const violations: Array<{ item: string; resource: RegExp; reason: RegExp; violate: () => Promise<unknown>; repair: () => Promise<unknown> }> = [
      {
        item: '3.1 Private subnets, no public IP',
        resource: /fintech-api-svc/,
        reason: /assignPublicIp is ENABLED/,
        violate: () => ecs.send(new UpdateServiceCommand({ ...service, networkConfiguration: network('ENABLED') })),
        repair: () => ecs.send(new UpdateServiceCommand({ ...service, networkConfiguration: network('DISABLED') })),
      },
      {
        item: '3.2 Secrets only via Secrets Manager',
        resource: /fintech-api-task:2/,
        reason: /api-container: DB_PASSWORD/,
        violate: async () => {
          const { taskDefinition } = await ecs.send(new RegisterTaskDefinitionCommand(withPassword));
          return ecs.send(new UpdateServiceCommand({ ...service, taskDefinition: taskDefinition!.taskDefinitionArn }));
        },
        repair: () => ecs.send(new UpdateServiceCommand({ ...service, taskDefinition: current!.taskDefinitionArn })),
      },
      {
        item: '3.3 Log groups KMS-encrypted',
        resource: /\/ecs\/fintech-api/,
        reason: /not encrypted with a KMS key/,
        violate: async () => {
          await logs.send(new DeleteLogGroupCommand({ logGroupName: '/ecs/fintech-api' }));
          return logs.send(new CreateLogGroupCommand({ logGroupName: '/ecs/fintech-api' }));
        },
        repair: async () => {
          await logs.send(new DeleteLogGroupCommand({ logGroupName: '/ecs/fintech-api' }));
          return logs.send(new CreateLogGroupCommand({ logGroupName: '/ecs/fintech-api', kmsKeyId: env.prerequisites.LOGS_KMS_KEY_ARN }));
        },
      },
      {
        item: '3.4 Port 8080 only from ALB SG',
        resource: new RegExp(env.prerequisites.ECS_SG),
        reason: /tcp 8080 from 0\.0\.0\.0\/0/,
        violate: () => ec2.send(new AuthorizeSecurityGroupIngressCommand(ingress8080World)),
        repair: () => ec2.send(new RevokeSecurityGroupIngressCommand(ingress8080World)),
      },
      {
        item: '3.5 ECR tags IMMUTABLE',
        resource: /fintech-api/,
        reason: /MUTABLE/,
        violate: () => ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'fintech-api', imageTagMutability: 'MUTABLE' })),
        repair: () => ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'fintech-api', imageTagMutability: 'IMMUTABLE' })),
      },
    ];

    for (const violation of violations) {
      await violation.violate();
      const result = await validateJson();
      expect(result.code, `${violation.item}\n${result.stdout}`).toBe(1);
      const items = checklist(result.findings);
      const failing = items.filter((f) => f.status === 'FAIL');
      expect(failing.map((f) => f.check), violation.item).toEqual([violation.item]);
      expect(failing[0].resource).toMatch(violation.resource);
      expect(failing[0].reason).toMatch(violation.reason);
      expect(items.filter((f) => f.status === 'OK')).toHaveLength(4);
      await violation.repair();
    }
    const clean = await validateJson();
    expect(checklist(clean.findings).every((f) => f.status === 'OK')).toBe(true);
    for (const client of [ecs, ec2, logs, ecr]) client.destroy();
  });

  it.each([
    ['an on-demand DynamoDB table', { dynamodbBillingMode: 'PAY_PER_REQUEST' as const }, /FinTechTransactions.*(on-demand|PAY_PER_REQUEST)/],
    ['a missing Aurora cluster', { withoutAurora: true }, /fintech-db-cluster.*(not found|does not exist)/i],
  ])('stops apply with a clear error before any write when it finds %s', async (_what, options, message) => {
    await env.fresh(options);
    const apply = await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env });
    expect(apply.code).toBe(1);
    expect(apply.stderr).toMatch(/preflight failed/);
    expect(apply.stderr).toMatch(message);
    expect(apply.json.calls.writes).toBe(0);
  });

  it('metrics put publishes one datum with the runbook namespace and dimensions', async () => {
    await env.fresh();
    const put = await runCli([...env.args, '--json', 'metrics', 'put', 'TransactionsProcessed', '150'], { env: env.env });
    expect(put.code, put.stderr).toBe(0);
    expect(put.json).toMatchObject({ namespace: 'FinTech/Business', metricName: 'TransactionsProcessed', value: 150, unit: 'Count' });
    const cloudwatch = new CloudWatchClient(emulatorClientConfig(env.emulator.endpoint));
    const { Metrics = [] } = await cloudwatch.send(new ListMetricsCommand({ Namespace: 'FinTech/Business' }));
    expect(Metrics).toEqual([expect.objectContaining({ MetricName: 'TransactionsProcessed', Dimensions: [{ Name: 'Service', Value: 'PaymentAPI' }] })]);
    cloudwatch.destroy();
  });
});
