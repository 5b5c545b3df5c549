// Drift that makes the tool send the writes a fresh apply never needs: tags someone removed, a
// role's trust, session length, boundary and an attached policy changed out of band, the
// repository's scanning and policy, the log group's retention, the listener's TLS policy and extra
// certificate, the cluster's capacity providers. `apply` converges each (the write it sends is
// asserted), and `undo` of that run converges back (the inverse write). An empty repository a run
// created is deleted by its undo. Every run here holds a DynamoDB lock with a 5 s lease; the first
// apply, kept waiting for its tasks' logs, renews it. The IAM policy audit (test/e2e/iam-policy-audit.test.ts)
// counts on these calls: every operation in `iam-policy` is sent by the e2e suite at least once.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestCertificateCommand, ACMClient } from '@aws-sdk/client-acm';
import { CloudWatchClient, DescribeAlarmsCommand, UntagResourceCommand as UntagAlarmCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, DeleteRetentionPolicyCommand, UntagResourceCommand as UntagLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { ECRClient, PutImageScanningConfigurationCommand, SetRepositoryPolicyCommand } from '@aws-sdk/client-ecr';
import { DescribeClustersCommand, DescribeServicesCommand, ECSClient, PutClusterCapacityProvidersCommand, UntagResourceCommand as UntagEcsCommand } from '@aws-sdk/client-ecs';
import {
  AddListenerCertificatesCommand,
  DescribeListenersCommand,
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
  RemoveTagsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { AttachRolePolicyCommand, CreatePolicyCommand, IAMClient, PutRolePermissionsBoundaryCommand, UntagRoleCommand, UpdateAssumeRolePolicyCommand, UpdateRoleCommand } from '@aws-sdk/client-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { dump as stringify, load } from 'js-yaml';
import { emulatorClientConfig, repoRoot, runCli, useEmulator, writesOf } from '../helpers/e2e.js';

/** A config document, edited field by field. */
const parse = (text: string) => load(text) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const env = useEmulator();
const NAMES = { cluster: 'fintech-prod-cluster', service: 'fintech-api-svc', repository: 'fintech-api', logGroup: '/ecs/fintech-api', execRole: 'FinTech-ECS-ExecRole', targetGroup: 'fintech-prod-tg' };
const LOCK_TABLE = 'fintech-runbook-drift-locks';

let args: string[];
let config: ReturnType<typeof emulatorClientConfig>;
const lockCalls = new Set<string>();

/** config/local.yaml with a DynamoDB lock (5 s lease: renewed during every run), and `edit` applied. */
function writeConfig(name: string, edit: (c: Record<string, any>) => void = () => {}): string {
  const yaml = parse(readFileSync(join(repoRoot, 'config/local.yaml'), 'utf8'));
  yaml.lock = { dynamodbTable: LOCK_TABLE, leaseSeconds: 5 };
  edit(yaml);
  const file = join(mkdtempSync(join(tmpdir(), 'fintech-drift-')), name);
  writeFileSync(file, stringify(yaml));
  return file;
}

async function cli(extra: string[], configFile?: string) {
  const a = configFile ? args.map((x, i) => (args[i - 1] === '--config' ? configFile : x)) : args;
  const result = await runCli([...a, '--json', ...extra], { env: env.env });
  for (const c of result.json?.calls?.byOperation ?? []) if (c.service === 'lock') lockCalls.add(c.operation);
  return result;
}

/** apply, expecting these writes among what it sent; returns the run id for undo. */
async function applyExpecting(writes: string[]): Promise<string> {
  const applied = await cli(['apply', '--yes']);
  expect(applied.code, applied.stderr).toBe(0);
  expect(writesOf(applied.json)).toEqual(expect.arrayContaining(writes));
  return (applied.json.journal as string).split('/').pop()!.replace(/\.jsonl$/, '');
}

async function undoExpecting(runId: string, writes: string[]): Promise<void> {
  const undone = await cli(['undo', runId, '--yes']);
  expect(undone.code, undone.stderr).toBe(0);
  expect(writesOf(undone.json)).toEqual(expect.arrayContaining(writes));
}

beforeAll(async () => {
  await env.fresh();
  config = emulatorClientConfig(env.emulator.endpoint);
  args = env.args.map((a, i) => (env.args[i - 1] === '--config' ? writeConfig('local.yaml') : a));
  const table = await cli(['lock-table', 'create']);
  expect(table.code, table.stderr).toBe(0);
  // The new service's tasks log 2.5 s late: apply waits for them ("Logs Flowing") holding the
  // lock, whose 5 s lease it renews every 1.7 s meanwhile.
  env.simulator.shipLogs = false;
  const applying = cli(['apply', '--yes']);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  env.simulator.shipLogs = true;
  const apply = await applying;
  expect(apply.code, apply.stderr).toBe(0);
});

describe('drift apply converges and undo restores', () => {
  it('managed tags removed out of band: apply tags them again, undo removes them again', async () => {
    const ecs = new ECSClient(config);
    const elbv2 = new ElasticLoadBalancingV2Client(config);
    const iam = new IAMClient(config);
    const logs = new CloudWatchLogsClient(config);
    const cloudwatch = new CloudWatchClient(config);
    try {
      const cluster = (await ecs.send(new DescribeClustersCommand({ clusters: [NAMES.cluster] }))).clusters![0].clusterArn!;
      const service = (await ecs.send(new DescribeServicesCommand({ cluster: NAMES.cluster, services: [NAMES.service] }))).services![0].serviceArn!;
      const tg = (await elbv2.send(new DescribeTargetGroupsCommand({ Names: [NAMES.targetGroup] }))).TargetGroups![0].TargetGroupArn!;
      const listener = (await elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: env.prerequisites.ALB_ARN }))).Listeners!.find((l) => l.Protocol === 'HTTPS')!.ListenerArn!;
      const alarm = (await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNamePrefix: `${NAMES.service}-deploy-` }))).MetricAlarms![0].AlarmArn!;
      for (const resourceArn of [cluster, service]) await ecs.send(new UntagEcsCommand({ resourceArn, tagKeys: ['CostCenter'] }));
      await elbv2.send(new RemoveTagsCommand({ ResourceArns: [tg, listener], TagKeys: ['CostCenter'] }));
      await iam.send(new UntagRoleCommand({ RoleName: NAMES.execRole, TagKeys: ['CostCenter'] }));
      await logs.send(new UntagLogGroupCommand({ resourceArn: `arn:aws:logs:us-east-1:${env.prerequisites.ACCOUNT_ID}:log-group:${NAMES.logGroup}`, tagKeys: ['CostCenter'] }));
      await cloudwatch.send(new UntagAlarmCommand({ ResourceARN: alarm, TagKeys: ['CostCenter'] }));

      const runId = await applyExpecting(['ecs:TagResource', 'elbv2:AddTags', 'iam:TagRole', 'logs:TagResource', 'cloudwatch:TagResource']);
      await undoExpecting(runId, ['ecs:UntagResource', 'elbv2:RemoveTags', 'iam:UntagRole', 'logs:UntagResource', 'cloudwatch:UntagResource']);
      await applyExpecting([]);
    } finally {
      [ecs, elbv2, iam, logs, cloudwatch].forEach((c) => c.destroy());
    }
  });

  it("a role's trust, session length, permissions boundary and an attached policy: apply reverts them, undo puts them back", async () => {
    const iam = new IAMClient(config);
    try {
      const { Policy } = await iam.send(
        new CreatePolicyCommand({ PolicyName: 'drift-extra', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:ListBucket', Resource: '*' }] }) }),
      );
      const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: ['ecs-tasks.amazonaws.com', 'ec2.amazonaws.com'] }, Action: 'sts:AssumeRole' }] };
      await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: NAMES.execRole, PolicyDocument: JSON.stringify(trust) }));
      await iam.send(new UpdateRoleCommand({ RoleName: NAMES.execRole, MaxSessionDuration: 7200 }));
      await iam.send(new PutRolePermissionsBoundaryCommand({ RoleName: NAMES.execRole, PermissionsBoundary: Policy!.Arn! }));
      await iam.send(new AttachRolePolicyCommand({ RoleName: NAMES.execRole, PolicyArn: Policy!.Arn! }));

      const runId = await applyExpecting(['iam:UpdateAssumeRolePolicy', 'iam:UpdateRole', 'iam:DeleteRolePermissionsBoundary', 'iam:DetachRolePolicy']);
      await undoExpecting(runId, ['iam:UpdateAssumeRolePolicy', 'iam:UpdateRole', 'iam:PutRolePermissionsBoundary', 'iam:AttachRolePolicy']);
      await applyExpecting(['iam:DetachRolePolicy']);
    } finally {
      iam.destroy();
    }
  });

  it('scan on push off and a repository policy: validate reads the registry scanning, apply reverts, undo puts back', async () => {
    const ecr = new ECRClient(config);
    try {
      await ecr.send(new PutImageScanningConfigurationCommand({ repositoryName: NAMES.repository, imageScanningConfiguration: { scanOnPush: false } }));
      const policy = { Version: '2012-10-17', Statement: [{ Sid: 'pull', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${env.prerequisites.ACCOUNT_ID}:root` }, Action: 'ecr:BatchGetImage' }] };
      await ecr.send(new SetRepositoryPolicyCommand({ repositoryName: NAMES.repository, policyText: JSON.stringify(policy) }));
      // ECR.1 passes on a registry-wide scanning rule when the repository's own is off: validate reads it.
      const validated = await cli(['validate']);
      expect(validated.json.calls.byOperation).toContainEqual(expect.objectContaining({ service: 'ecr', operation: 'GetRegistryScanningConfiguration' }));

      const runId = await applyExpecting(['ecr:PutImageScanningConfiguration', 'ecr:DeleteRepositoryPolicy']);
      await undoExpecting(runId, ['ecr:PutImageScanningConfiguration', 'ecr:SetRepositoryPolicy']);
      await applyExpecting(['ecr:PutImageScanningConfiguration', 'ecr:DeleteRepositoryPolicy']);
    } finally {
      ecr.destroy();
    }
  });

  it("the log group's retention, the listener's TLS policy and an extra certificate, the cluster's capacity providers", async () => {
    const logs = new CloudWatchLogsClient(config);
    const elbv2 = new ElasticLoadBalancingV2Client(config);
    const ecs = new ECSClient(config);
    const acm = new ACMClient(config);
    try {
      await logs.send(new DeleteRetentionPolicyCommand({ logGroupName: NAMES.logGroup }));
      const listener = (await elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: env.prerequisites.ALB_ARN }))).Listeners!.find((l) => l.Protocol === 'HTTPS')!.ListenerArn!;
      await elbv2.send(new ModifyListenerCommand({ ListenerArn: listener, SslPolicy: 'ELBSecurityPolicy-TLS-1-2-2017-01' }));
      const { CertificateArn } = await acm.send(new RequestCertificateCommand({ DomainName: 'extra.fintech.example' }));
      await elbv2.send(new AddListenerCertificatesCommand({ ListenerArn: listener, Certificates: [{ CertificateArn }] }));
      await ecs.send(new PutClusterCapacityProvidersCommand({ cluster: NAMES.cluster, capacityProviders: ['FARGATE'], defaultCapacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] }));

      const runId = await applyExpecting(['logs:PutRetentionPolicy', 'elbv2:ModifyListener', 'elbv2:RemoveListenerCertificates', 'ecs:PutClusterCapacityProviders']);
      await undoExpecting(runId, ['logs:DeleteRetentionPolicy', 'elbv2:ModifyListener', 'elbv2:AddListenerCertificates', 'ecs:PutClusterCapacityProviders']);
      await applyExpecting(['logs:PutRetentionPolicy', 'elbv2:ModifyListener']);
    } finally {
      [logs, elbv2, ecs, acm].forEach((c) => c.destroy());
    }
  });

  it("undo deletes an empty repository its run created", async () => {
    const other = writeConfig('other-repository.yaml', (c) => {
      c.ecr.repositoryName = 'fintech-api-drift';
    });
    const applied = await cli(['--only', 'ecr', 'apply', '--yes'], other);
    expect(applied.code, applied.stderr).toBe(0);
    expect(writesOf(applied.json)).toContain('ecr:CreateRepository');
    const runId = (applied.json.journal as string).split('/').pop()!.replace(/\.jsonl$/, '');
    const undone = await cli(['--only', 'ecr', 'undo', runId, '--yes'], other);
    expect(undone.code, undone.stderr).toBe(0);
    expect(writesOf(undone.json)).toContain('ecr:DeleteRepository');
  });

  it('the first apply, waiting for its tasks\' logs, held the DynamoDB lock long enough to renew its lease', () => {
    expect([...lockCalls]).toEqual(expect.arrayContaining(['PutItem', 'UpdateItem']));
  });
});
