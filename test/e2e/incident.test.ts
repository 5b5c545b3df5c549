// Incident operations against the emulator: `rollback --to`, its refusals, SIGINT in the middle
// of `apply`, and `history`.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationAutoScalingClient, DescribeScalingPoliciesCommand } from '@aws-sdk/client-application-auto-scaling';
import { BatchDeleteImageCommand, ECRClient } from '@aws-sdk/client-ecr';
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, DescribeTargetGroupsCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { describe, expect, it } from 'vitest';
import { emulatorClientConfig, runCli, useEmulator } from '../helpers/e2e.js';

const env = useEmulator();

async function runningTaskDefinition(): Promise<string | undefined> {
  const ecs = new ECSClient(emulatorClientConfig(env.emulator.endpoint));
  const { services = [] } = await ecs.send(new DescribeServicesCommand({ cluster: 'fintech-prod-cluster', services: ['fintech-api-svc'] }));
  ecs.destroy();
  return services[0]?.taskDefinition?.split('task-definition/').pop();
}

describe('rollback --to', () => {
  it('puts the service back on an earlier revision in the configured cluster, and refuses unusable targets before any write', async () => {
    await env.fresh();
    env.simulator.settings.imageTags = ['prod-1.0.0', 'prod-1.1.0']; // the pipeline pushed two releases
    expect((await runCli([...env.args, '--only', 'cluster,ecr,iam,task-definition,load-balancer,service', 'apply', '--yes'], { env: env.env })).code).toBe(0);
    const release = { ...env.env, IMAGE_TAG: 'prod-1.1.0' };
    const deploy = await runCli([...env.args, '--only', 'task-definition,service', '--json', 'apply', '--yes'], { env: release });
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(await runningTaskDefinition()).toBe('fintech-api-task:2');

    const rollback = await runCli([...env.args, '--json', 'rollback', '--to', '1', '--yes'], { env: env.env });
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(rollback.json).toMatchObject({ ok: true, from: 'fintech-api-task:2', to: 'fintech-api-task:1' });
    expect(rollback.json.calls.writes).toBe(1); // one UpdateService, no deregistration
    expect(rollback.stderr).toContain('prod-1.1.0 → ');
    expect(await runningTaskDefinition()).toBe('fintech-api-task:1');
    expect(rollback.json.findings.map((f: { check: string; status: string }) => `${f.check}:${f.status}`)).toEqual([
      'Service Stable:OK',
      'Tasks Healthy:OK',
      'Logs Flowing:OK',
    ]);

    // Forward again, then the lifecycle policy "expires" the old image: rolling back to it is refused.
    expect((await runCli([...env.args, 'rollback', '--to', 'fintech-api-task:2', '--yes'], { env: env.env })).code).toBe(0);
    env.simulator.settings.imageTags = ['prod-1.1.0'];
    const ecr = new ECRClient(emulatorClientConfig(env.emulator.endpoint));
    await ecr.send(new BatchDeleteImageCommand({ repositoryName: 'fintech-api', imageIds: [{ imageTag: 'prod-1.0.0' }] }));
    ecr.destroy();
    const imageGone = await runCli([...env.args, 'rollback', '--to', 'previous', '--yes'], { env: env.env });
    expect(imageGone.code).toBe(1);
    expect(imageGone.stderr).toMatch(/fintech-api-task:1 uses images that are no longer in ECR.*fintech-api:prod-1\.0\.0/);

    const missing = await runCli([...env.args, 'rollback', '--to', '99', '--yes'], { env: env.env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('task definition fintech-api-task:99 does not exist');
    expect(await runningTaskDefinition()).toBe('fintech-api-task:2');

    // Refusals wrote nothing: history shows exactly the runs that made changes.
    const history = await runCli([...env.args, '--json', 'history'], { env: env.env });
    const rollbacks = history.json.filter((run: { command: string }) => run.command.startsWith('rollback'));
    expect(rollbacks.map((run: { command: string; outcome: string; writes: number }) => [run.command, run.outcome, run.writes])).toEqual([
      ['rollback --to fintech-api-task:1', 'ok', 1],
      ['rollback --to fintech-api-task:2', 'ok', 1],
    ]);
  });
});

describe('diagnose (runbook 4.2)', () => {
  it('finds no crash loop and no scale-out problem on a healthy service, and writes nothing', async () => {
    await env.fresh();
    expect((await runCli([...env.args, 'apply', '--yes'], { env: env.env })).code).toBe(0);
    const result = await runCli([...env.args, '--json', 'diagnose'], { env: env.env });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.json.calls.writes).toBe(0);
    const byScenario = result.json.diagnoses.map((d: { scenario: string; status: string }) => `${d.scenario}:${d.status}`);
    expect(byScenario).toContain('task-crash-loop:OK');
    // moto has no DescribeScalingActivities: that one diagnosis is SKIP with the reason, never a false OK.
    expect(result.json.diagnoses.filter((d: { status: string }) => d.status === 'PROBLEM')).toEqual([]);
    const subnets = result.json.diagnoses.find((d: { resource: string }) => /subnet/.test(d.resource));
    expect(subnets).toMatchObject({ scenario: 'scale-out-failure', status: 'OK' });
    expect(subnets.evidence.join(' ')).toContain(env.prerequisites.APP_SUB_A);
  });
});

describe('interrupting apply', () => {
  it('exits 130 on SIGINT with a complete journal, and the next apply converges with no duplicates', async () => {
    await env.fresh();
    const journalDir = env.env.FINTECH_RUNBOOK_STATE_DIR!;
    const writesDone = () =>
      readdirSync(journalDir)
        .flatMap((file) => readFileSync(join(journalDir, file), 'utf8').split('\n'))
        .filter((line) => line.includes('"type":"write-done"')).length;
    const interrupted = await runCli([...env.args, '--json', 'apply', '--yes'], {
      env: env.env,
      onSpawn: (child) => {
        // Interrupt once the run is in its middle: a few writes done, section 1 not finished.
        const timer = setInterval(() => {
          if (writesDone() >= 4) {
            clearInterval(timer);
            child.kill('SIGINT');
          }
        }, 10);
        child.on('exit', () => clearInterval(timer));
      },
    });
    expect(interrupted.code, interrupted.stderr).toBe(130);
    expect(interrupted.stderr).toContain('interrupt');
    const [file] = readdirSync(journalDir);
    const entries = readFileSync(join(journalDir, file), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    const started = entries.filter((e) => e.type === 'write-start').map((e) => e.seq);
    const finished = entries.filter((e) => e.type === 'write-done' || e.type === 'write-failed').map((e) => e.seq);
    // No write left half-recorded (independent steps run concurrently: they finish in any order).
    const ascending = (seqs: number[]) => [...seqs].sort((a, b) => a - b);
    expect(ascending(finished)).toEqual(ascending(started));
    expect(entries.at(-1)).toMatchObject({ type: 'run-end', outcome: 'interrupted' });
    expect(interrupted.json.steps.some((s: { status: string }) => s.status === 'not-run')).toBe(true);

    const resumed = await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env });
    expect(resumed.code, resumed.stderr).toBe(0);
    const config = emulatorClientConfig(env.emulator.endpoint);
    const elbv2 = new ElasticLoadBalancingV2Client(config);
    const { TargetGroups = [] } = await elbv2.send(new DescribeTargetGroupsCommand({}));
    expect(TargetGroups.filter((tg) => tg.TargetGroupName === 'fintech-prod-tg')).toHaveLength(1);
    const { Listeners = [] } = await elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: env.prerequisites.ALB_ARN }));
    expect(Listeners.filter((l) => l.Port === 443)).toHaveLength(1);
    const autoscaling = new ApplicationAutoScalingClient(config);
    const { ScalingPolicies = [] } = await autoscaling.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: 'ecs' }));
    expect(ScalingPolicies.map((p) => p.PolicyName).sort()).toEqual(['fintech-cpu-scaling', 'fintech-mem-scaling']);
    elbv2.destroy();
    autoscaling.destroy();
    const again = await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env });
    expect(again.json.calls.writes).toBe(0);
  });
});
