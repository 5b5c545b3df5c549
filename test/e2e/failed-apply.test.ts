// A failed apply undoes what THIS run created and nothing else. The emulator here reports no
// running tasks (MOTO_ECS_SERVICE_RUNNING=0), so the service never stabilises and the `service`
// step fails its "Service Stable" check after a 2 s timeout.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateRepositoryCommand, DescribeImagesCommand, GetLifecyclePolicyCommand, DescribeRepositoriesCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { DescribeClustersCommand, ECSClient, ListTaskDefinitionsCommand } from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, DescribeLoadBalancersCommand, DescribeTargetGroupsCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { fakeImageManifest } from '../../scripts/emulator.js';
import { emulatorClientConfig, repoRoot, runCli, useEmulator, writesOf } from '../helpers/e2e.js';

const env = useEmulator({ MOTO_ECS_SERVICE_RUNNING: '0' });

function shortTimeoutConfig(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'fintech-runbook-')), 'local-fast-fail.yaml');
  writeFileSync(file, readFileSync(join(repoRoot, 'config/local.yaml'), 'utf8').replace('deployTimeoutSeconds: 60', 'deployTimeoutSeconds: 2'));
  return file;
}

describe('a failed apply', () => {
  it('removes every resource this run created and leaves pre-existing ones (a repository with an image) untouched', async () => {
    await env.fresh();
    const config = emulatorClientConfig(env.emulator.endpoint);
    const ecr = new ECRClient(config);
    // The team created the repository before this tool existed, and pushed a release into it.
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'fintech-api', imageTagMutability: 'IMMUTABLE', imageScanningConfiguration: { scanOnPush: true }, encryptionConfiguration: { encryptionType: 'KMS' } }));
    await ecr.send(new PutImageCommand({ repositoryName: 'fintech-api', imageTag: 'prod-0.9.0', imageManifest: fakeImageManifest() }));

    const args = ['--config', shortTimeoutConfig(), '--endpoint-url', env.emulator.endpoint, '--poll-interval', '0.1'];
    const apply = await runCli([...args, '--json', 'apply', '--yes'], { env: env.env });
    expect(apply.code).toBe(1);
    expect(apply.stderr).toMatch(/Service Stable FAIL .*timed out after 2s/);
    const status = Object.fromEntries(apply.json.steps.map((s: { id: string; status: string }) => [s.id, s.status]));
    expect(status).toMatchObject({
      cluster: 'rolled-back',
      ecr: 'rolled-back', // it added the lifecycle policy and tags: those are undone, the repository stays
      iam: 'rolled-back',
      'task-definition': 'rolled-back',
      'load-balancer': 'rolled-back',
      service: 'rolled-back',
      'ecs-scaling': 'not-run',
    });
    expect(apply.json.compensation.needsPerson).toEqual([]);

    const ecs = new ECSClient(config);
    const { clusters = [] } = await ecs.send(new DescribeClustersCommand({ clusters: ['fintech-prod-cluster'] }));
    expect(clusters.filter((c) => c.status === 'ACTIVE')).toEqual([]);
    const { taskDefinitionArns = [] } = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'fintech-api-task', status: 'ACTIVE' }));
    expect(taskDefinitionArns).toEqual([]);
    const elbv2 = new ElasticLoadBalancingV2Client(config);
    await expect(elbv2.send(new DescribeTargetGroupsCommand({ Names: ['fintech-prod-tg'] }))).rejects.toThrow(/not found/i);
    const { Listeners = [] } = await elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: env.prerequisites.ALB_ARN }));
    expect(Listeners).toEqual([]);
    const iam = new IAMClient(config);
    for (const role of ['FinTech-ECS-ExecRole', 'FinTech-ECS-TaskRole']) {
      await expect(iam.send(new GetRoleCommand({ RoleName: role }))).rejects.toMatchObject({ name: 'NoSuchEntityException' });
    }
    const logs = new CloudWatchLogsClient(config);
    const { logGroups = [] } = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/ecs/fintech-api' }));
    expect(logGroups).toEqual([]);

    // What existed before the run survives as it was.
    const { repositories = [] } = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['fintech-api'] }));
    expect(repositories).toHaveLength(1);
    const { imageDetails = [] } = await ecr.send(new DescribeImagesCommand({ repositoryName: 'fintech-api' }));
    expect(imageDetails.flatMap((d) => d.imageTags ?? [])).toContain('prod-0.9.0');
    // The lifecycle policy this run added to it is gone again: the repository is as the team left it.
    await expect(ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'fintech-api' }))).rejects.toMatchObject({ name: 'LifecyclePolicyNotFoundException' });
    const { LoadBalancers = [] } = await elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [env.prerequisites.ALB_ARN] }));
    expect(LoadBalancers).toHaveLength(1);

    // The journal recorded both the run's writes and their undoing.
    const history = await runCli([...args, '--json', 'history'], { env: env.env });
    expect(history.json).toEqual([expect.objectContaining({ command: 'apply', outcome: 'rolled-back' })]);

    // Rolling back a second time (converging that run back to its `before` again) plans nothing.
    const second = await runCli([...args, '--json', 'undo', history.json[0].runId, '--yes'], { env: env.env });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('Nothing to undo');
    expect(writesOf(second.json)).toEqual([]);
    for (const client of [ecr, ecs, elbv2, iam, logs]) client.destroy();
  });

  it('keeps the partial state with --no-rollback and says so', async () => {
    await env.fresh();
    const args = ['--config', shortTimeoutConfig(), '--endpoint-url', env.emulator.endpoint, '--poll-interval', '0.1'];
    const apply = await runCli([...args, '--json', 'apply', '--yes', '--no-rollback'], { env: env.env });
    expect(apply.code).toBe(1);
    expect(apply.json.compensation).toBeUndefined();
    const ecs = new ECSClient(emulatorClientConfig(env.emulator.endpoint));
    const { clusters = [] } = await ecs.send(new DescribeClustersCommand({ clusters: ['fintech-prod-cluster'] }));
    expect(clusters.map((c) => c.status)).toEqual(['ACTIVE']);

    // `undo <run>` converges that run back later, deleting only what it created; twice is a no-op.
    const history = await runCli([...args, '--json', 'history'], { env: env.env });
    const runId = history.json.find((r: { command: string }) => r.command === 'apply').runId;
    const undo = await runCli([...args, '--json', 'undo', runId, '--yes'], { env: env.env });
    expect(undo.code, undo.stderr).toBe(0);
    expect(writesOf(undo.json)).toEqual(expect.arrayContaining(['ecs:DeleteCluster', 'ecs:DeleteService', 'iam:DeleteRole', 'elbv2:DeleteListener', 'elbv2:DeleteTargetGroup']));
    const { clusters: after = [] } = await ecs.send(new DescribeClustersCommand({ clusters: ['fintech-prod-cluster'] }));
    expect(after.filter((c) => c.status === 'ACTIVE')).toEqual([]);
    const twice = await runCli([...args, '--json', 'undo', runId, '--yes'], { env: env.env });
    expect(twice.code, twice.stderr).toBe(0);
    expect(writesOf(twice.json)).toEqual([]);
    ecs.destroy();
  });
});
