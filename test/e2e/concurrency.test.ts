// Production is not yours alone (issue "Safe when production is not yours alone"): two operators
// apply at once on a fresh environment — with the local lock (one machine) and with the DynamoDB
// lock (two machines: two state directories). Exactly one writes; the other exits 5 naming the
// holder without waiting; afterwards there is exactly one of everything and the next apply makes
// 0 writes. And credentials of another account: exit 2 naming both accounts, 0 writes.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeScalingPoliciesCommand, ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { DescribeClustersCommand, DescribeServicesCommand, ECSClient, ListClustersCommand, ListServicesCommand } from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, DescribeTargetGroupsCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { emulatorClientConfig, repoRoot, runCli, useEmulator, writesOf, type CliResult } from '../helpers/e2e.js';

const env = useEmulator();
const localYaml = readFileSync(join(repoRoot, 'config', 'local.yaml'), 'utf8');
const dynamoConfig = join(mkdtempSync(join(tmpdir(), 'fintech-runbook-')), 'team-lock.yaml');
writeFileSync(dynamoConfig, `${localYaml}\nlock:\n  dynamodbTable: fintech-runbook-locks\n  leaseSeconds: 10\n`);
const stateDir = () => mkdtempSync(join(tmpdir(), 'fintech-runbook-state-'));

/** Start both at once; resolve with each result and when it ended. */
async function together(a: () => Promise<CliResult>, b: () => Promise<CliResult>) {
  const timed = async (run: () => Promise<CliResult>) => {
    const result = await run();
    return { ...result, endedAt: Date.now() };
  };
  return Promise.all([timed(a), timed(b)]);
}

/** Exactly one of everything the runbook creates. */
async function expectOneOfEverything(): Promise<void> {
  const config = emulatorClientConfig(env.emulator.endpoint);
  const ecs = new ECSClient(config);
  const { clusterArns = [] } = await ecs.send(new ListClustersCommand({}));
  const { clusters = [] } = await ecs.send(new DescribeClustersCommand({ clusters: clusterArns }));
  expect(clusters.filter((c) => c.status === 'ACTIVE').map((c) => c.clusterName)).toEqual(['fintech-prod-cluster']);
  const { serviceArns = [] } = await ecs.send(new ListServicesCommand({ cluster: 'fintech-prod-cluster' }));
  const { services = [] } = await ecs.send(new DescribeServicesCommand({ cluster: 'fintech-prod-cluster', services: serviceArns }));
  expect(services.filter((s) => s.status === 'ACTIVE').map((s) => s.serviceName)).toEqual(['fintech-api-svc']);
  const { repositories = [] } = await new ECRClient(config).send(new DescribeRepositoriesCommand({}));
  expect(repositories.map((r) => r.repositoryName)).toEqual(['fintech-api']);
  const { Roles = [] } = await new IAMClient(config).send(new ListRolesCommand({}));
  expect(Roles.map((r) => r.RoleName).filter((n) => n?.startsWith('FinTech-')).sort()).toEqual(['FinTech-ECS-ExecRole', 'FinTech-ECS-TaskRole']);
  const elbv2 = new ElasticLoadBalancingV2Client(config);
  const { TargetGroups = [] } = await elbv2.send(new DescribeTargetGroupsCommand({}));
  expect(TargetGroups.map((t) => t.TargetGroupName)).toEqual(['fintech-prod-tg']);
  const { Listeners = [] } = await elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: env.prerequisites.ALB_ARN }));
  expect(Listeners.filter((l) => l.Port === 443)).toHaveLength(1);
  const autoscaling = new ApplicationAutoScalingClient(config);
  const names = async (ServiceNamespace: 'ecs' | 'rds' | 'dynamodb') =>
    ((await autoscaling.send(new DescribeScalingPoliciesCommand({ ServiceNamespace }))).ScalingPolicies ?? []).map((p) => p.PolicyName).sort();
  expect(await names('ecs')).toEqual(['fintech-cpu-scaling', 'fintech-mem-scaling']);
  expect(await names('rds')).toEqual(['aurora-read-scaling']);
  expect(await names('dynamodb')).toEqual(['dynamodb-write-scaling']);
}

async function race(args: string[], stateDirs: [string, string]) {
  const apply = (dir: string) => () => runCli([...args, '--json', 'apply', '--yes'], { env: { ...env.env, FINTECH_RUNBOOK_STATE_DIR: dir } });
  const results = await together(apply(stateDirs[0]), apply(stateDirs[1]));
  const winner = results.find((r) => r.code === 0);
  const loser = results.find((r) => r !== winner);
  expect(results.map((r) => r.code).sort(), results.map((r) => r.stderr).join('\n---\n')).toEqual([0, 5]);
  expect(loser!.stderr).toMatch(/is locked by run .*apply.* since /);
  expect(loser!.json).toMatchObject({ ok: false, exitCode: 5 });
  // The loser did not wait for the winner: it ended while the winner still ran.
  expect(loser!.endedAt).toBeLessThan(winner!.endedAt);
  expect(loser!.json.calls.writes).toBe(0);
  expect(winner!.json.calls.writes).toBeGreaterThan(10);
  await expectOneOfEverything();
  const next = await runCli([...args, '--json', 'apply', '--yes'], { env: { ...env.env, FINTECH_RUNBOOK_STATE_DIR: stateDirs[1] } });
  expect(next.code, next.stderr).toBe(0);
  expect(writesOf(next.json)).toEqual([]);
}

describe('two operators at once', () => {
  it('local lock: exactly one apply writes, the other exits 5 naming the holder; one of everything; the next apply makes 0 writes', async () => {
    await env.fresh();
    const dir = stateDir();
    await race(env.args, [dir, dir]);
  });

  it('DynamoDB lock, two machines (two state directories): the same', async () => {
    await env.fresh();
    const args = ['--config', dynamoConfig, '--endpoint-url', env.emulator.endpoint, '--poll-interval', '0.1'];
    const create = await runCli([...args, 'lock-table', 'create'], { env: env.env });
    expect(create.code, create.stderr).toBe(0);
    await race(args, [stateDir(), stateDir()]);
  });
});

describe('credentials of another account', () => {
  it('apply, plan and undo: exit 2 naming both accounts, 0 writes', async () => {
    await env.fresh();
    const sts = new STSClient(emulatorClientConfig(env.emulator.endpoint));
    // moto maps an assumed role's credentials to the role's account.
    const { Credentials } = await sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::210987654321:role/staging-deployer', RoleSessionName: 'e2e' }));
    sts.destroy();
    const other = { ...env.env, AWS_ACCESS_KEY_ID: Credentials!.AccessKeyId, AWS_SECRET_ACCESS_KEY: Credentials!.SecretAccessKey, AWS_SESSION_TOKEN: Credentials!.SessionToken };
    for (const command of [['apply', '--yes'], ['plan'], ['undo', 'some-run', '--yes']]) {
      const result = await runCli([...env.args, '--json', ...command], { env: other });
      if (command[0] === 'undo') {
        expect(result.code).toBe(2); // no such run: refused before anything else
        continue;
      }
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain('credentials are for account 210987654321');
      expect(result.stderr).toContain('the config is for accountId 123456789012');
      expect(result.json.calls.writes).toBe(0);
    }
    const plan = await runCli([...env.args, '--json', 'plan'], { env: env.env });
    expect(plan.code).toBe(4); // nothing was created by the refused apply
    expect(plan.stderr).toContain('Account 123456789012');
  });
});
