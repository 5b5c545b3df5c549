// `deploy <tag>` end to end (issue 12): the image gate before any write, then exactly the writes of
// the task-definition and service steps; the deployment alarms; the last good revision.
// moto scans nothing on push: the test (and the task simulator, the "pipeline") start the scan;
// moto then reports one fixed HIGH finding, or the findings set through its own API
// (/moto-api/static/ecr/scan-finding-results) — so findings above the threshold are real here.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient, DescribeAlarmsCommand, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import { ECRClient, PutImageCommand, StartImageScanCommand } from '@aws-sdk/client-ecr';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { DeregisterTargetsCommand, DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { describe, expect, it } from 'vitest';
import { emulatorEnv, fakeImageManifest } from '../../scripts/emulator.js';
import { readJournal } from '../../src/core/journal.js';
import { countingEndpoint, emulatorClientConfig, repoRoot, runCli, useEmulator, writesOf } from '../helpers/e2e.js';
import { fixtureEnv } from '../helpers/mock-aws.js';

const env = useEmulator();
const image = (tag: string) => `123456789012.dkr.ecr.us-east-1.amazonaws.com/fintech-api:${tag}`;
const alarmNames = ['fintech-api-svc-deploy-api-errors', 'fintech-api-svc-deploy-payment-latency', 'fintech-api-svc-deploy-target-5xx'];

/** What the release pipeline does: push the image; the repository's scan on push (moto: started by hand). */
async function push(tag: string): Promise<void> {
  const ecr = new ECRClient(emulatorClientConfig(env.emulator.endpoint));
  await ecr.send(new PutImageCommand({ repositoryName: 'fintech-api', imageTag: tag, imageManifest: fakeImageManifest() }));
  await ecr.send(new StartImageScanCommand({ repositoryName: 'fintech-api', imageId: { imageTag: tag } }));
  ecr.destroy();
}

/** moto's own API: the scan result DescribeImageScanFindings returns for that image. */
async function scanFindings(tag: string, findings: Array<{ name: string; severity: string }>): Promise<void> {
  const counts: Record<string, number> = {};
  for (const f of findings) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  const result = {
    registryId: '123456789012',
    repositoryName: 'fintech-api',
    imageId: { imageTag: tag },
    imageScanStatus: { status: 'COMPLETE', description: 'The scan was completed successfully.' },
    imageScanFindings: { findings: findings.map((f) => ({ ...f, uri: `https://nvd.nist.gov/vuln/detail/${f.name}` })), findingSeverityCounts: counts },
  };
  const response = await fetch(`${env.emulator.endpoint}/moto-api/static/ecr/scan-finding-results`, {
    method: 'POST',
    body: JSON.stringify({ results: [result], region: 'us-east-1' }),
  });
  expect(response.status).toBe(201);
}

async function runningTaskDefinition(): Promise<{ ref?: string; image?: string }> {
  const ecs = new ECSClient(emulatorClientConfig(env.emulator.endpoint));
  const { services = [] } = await ecs.send(new DescribeServicesCommand({ cluster: 'fintech-prod-cluster', services: ['fintech-api-svc'] }));
  const ref = services[0]?.taskDefinition?.split('task-definition/').pop();
  const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: ref }));
  ecs.destroy();
  return { ref, image: taskDefinition?.containerDefinitions?.find((c) => c.name === 'api-container')?.image };
}

const runStart = (file: string) => readJournal(file).find((e) => e.type === 'run-start') as Record<string, unknown>;

describe('deploy <tag>', () => {
  it('a reference that is no tag or digest, or latest: exit 2 naming it, no AWS call at all', async () => {
    const endpoint = await countingEndpoint();
    for (const [reference, message] of [
      ['latest', 'deploy: "latest": "latest" is refused'],
      ['fintech-api:prod-1', 'deploy: "fintech-api:prod-1": must be an image tag or a sha256:… digest'],
    ]) {
      const result = await runCli(['--config', 'config/local.yaml', '--endpoint-url', endpoint.url, 'deploy', reference, '--yes'], {
        env: { ...emulatorEnv(), ...fixtureEnv, FINTECH_RUNBOOK_STATE_DIR: mkdtempSync(join(tmpdir(), 'fintech-runbook-journal-')) },
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(message);
    }
    expect(endpoint.requests()).toBe(0);
    await endpoint.close();
  });

  it('refuses an image that is not in ECR with 0 writes; once pushed and scanned: a new revision, the service on it, the 4.1 checks OK, exactly the two steps\' writes', async () => {
    await env.fresh();
    const apply = await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env });
    expect(apply.code, apply.stderr).toBe(0);

    const absent = await runCli([...env.args, '--json', 'deploy', 'prod-1.1.0', '--yes'], { env: env.env });
    expect(absent.code, absent.stderr).toBe(1);
    expect(absent.stderr).toContain(`image gate: ${image('prod-1.1.0')} is not in repository fintech-api (push it first); nothing was changed`);
    expect(absent.json.calls.writes).toBe(0);
    expect((await runningTaskDefinition()).ref).toBe('fintech-api-task:1');

    await push('prod-1.1.0');
    const deploy = await runCli([...env.args, '--json', 'deploy', 'prod-1.1.0', '--yes'], { env: env.env });
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.stderr).toContain(`Image gate passed: ${image('prod-1.1.0')}: scan COMPLETE, nothing at or above CRITICAL: 1 HIGH (worst: CVE-9999-9999 HIGH)`);
    expect(writesOf(deploy.json).sort()).toEqual(['ecs:RegisterTaskDefinition', 'ecs:UpdateService']);
    expect(deploy.json.calls.writes).toBe(2);
    expect(deploy.json.steps.map((s: { id: string; status: string }) => `${s.id}:${s.status}`)).toEqual(['task-definition:applied', 'service:applied']);
    expect(deploy.json.findings.map((f: { check: string; status: string }) => `${f.check}:${f.status}`)).toEqual(['Service Stable:OK', 'Tasks Healthy:OK', 'Logs Flowing:OK']);
    expect(await runningTaskDefinition()).toEqual({ ref: 'fintech-api-task:2', image: image('prod-1.1.0') });

    // The journal: the image, the gate's verdict, and the revision the deploy left running (good).
    expect(runStart(deploy.json.journal)).toMatchObject({ command: 'deploy prod-1.1.0', image: 'prod-1.1.0', imageGate: { outcome: 'ok', counts: { HIGH: 1 } } });
    const history = await runCli([...env.args, '--json', 'history'], { env: env.env });
    expect(history.json.map((r: { command: string; revision?: string; good?: boolean }) => [r.command, r.revision, r.good])).toEqual([
      ['apply', 'fintech-api-task:1', true],
      ['deploy prod-1.1.0', 'fintech-api-task:2', true],
    ]);
  });

  it('refuses an image whose scan has a finding at or above CRITICAL (counts, CVE ids) with 0 writes; --accept-findings deploys it and the journal says so', async () => {
    await env.fresh();
    expect((await runCli([...env.args, 'apply', '--yes'], { env: env.env })).code).toBe(0);
    await push('prod-1.2.0');
    await scanFindings('prod-1.2.0', [
      { name: 'CVE-2024-3094', severity: 'CRITICAL' },
      { name: 'CVE-2023-4863', severity: 'HIGH' },
      { name: 'CVE-2023-0001', severity: 'MEDIUM' },
    ]);
    const refused = await runCli([...env.args, '--json', 'deploy', 'prod-1.2.0', '--yes'], { env: env.env });
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toContain(
      `image gate: ${image('prod-1.2.0')} has findings at or above CRITICAL (deploy.blockSeverity): 1 CRITICAL, 1 HIGH, 1 MEDIUM (worst: CVE-2024-3094 CRITICAL, CVE-2023-4863 HIGH, CVE-2023-0001 MEDIUM); nothing was changed`,
    );
    expect(refused.json.calls.writes).toBe(0);
    // apply with the same image is gated the same way (the image changes).
    const viaApply = await runCli([...env.args, '--json', 'apply', '--yes'], { env: { ...env.env, IMAGE_TAG: 'prod-1.2.0' } });
    expect(viaApply.code).toBe(1);
    expect(viaApply.stderr).toContain('has findings at or above CRITICAL');
    expect(viaApply.json.calls.writes).toBe(0);
    expect((await runningTaskDefinition()).ref).toBe('fintech-api-task:1');

    const accepted = await runCli([...env.args, '--json', 'deploy', 'prod-1.2.0', '--yes', '--accept-findings'], { env: env.env });
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.stderr).toContain(`Image gate REFUSED ${image('prod-1.2.0')}`);
    expect(runStart(accepted.json.journal)).toMatchObject({ imageGate: { outcome: 'findings', acceptedFindings: true, counts: { CRITICAL: 1, HIGH: 1, MEDIUM: 1 } } });
    expect((await runningTaskDefinition()).image).toBe(image('prod-1.2.0'));
  });

  it('deployment alarms: created with the configured thresholds, attached to the service with rollback; drift is planned and put back', async () => {
    await env.fresh();
    expect((await runCli([...env.args, 'apply', '--yes'], { env: env.env })).code).toBe(0);
    const cloudwatch = new CloudWatchClient(emulatorClientConfig(env.emulator.endpoint));
    const { MetricAlarms: described = [] } = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: alarmNames }));
    // The three are put side by side: in the config's order here, whatever order moto lists them in.
    const MetricAlarms = alarmNames.map((name) => described.find((a) => a.AlarmName === name)!);
    expect(MetricAlarms.map((a) => [a.AlarmName, a.Namespace, a.MetricName, a.Statistic ?? a.ExtendedStatistic, a.Threshold, a.EvaluationPeriods, a.DatapointsToAlarm])).toEqual([
      [alarmNames[0], 'FinTech/Business', 'APIErrors', 'Sum', 10, 3, 2],
      [alarmNames[1], 'FinTech/Business', 'PaymentLatency', 'p99', 1000, 3, 2],
      [alarmNames[2], 'AWS/ApplicationELB', 'HTTPCode_Target_5XX_Count', 'Sum', 10, 3, 2],
    ]);
    expect(MetricAlarms[2].Dimensions?.map((d) => d.Name).sort()).toEqual(['LoadBalancer', 'TargetGroup']);
    expect(MetricAlarms[2].Dimensions?.find((d) => d.Name === 'LoadBalancer')?.Value).toBe(env.prerequisites.ALB_ARN.split(':loadbalancer/')[1]);
    expect(MetricAlarms[2].Dimensions?.find((d) => d.Name === 'TargetGroup')?.Value).toMatch(/^targetgroup\/fintech-prod-tg\/[0-9a-f]+$/);
    // moto drops deploymentConfiguration on CreateService but keeps it from the follow-up UpdateService.
    const ecs = new ECSClient(emulatorClientConfig(env.emulator.endpoint));
    const { services = [] } = await ecs.send(new DescribeServicesCommand({ cluster: 'fintech-prod-cluster', services: ['fintech-api-svc'] }));
    ecs.destroy();
    expect(services[0].deploymentConfiguration?.alarms).toEqual({ alarmNames, enable: true, rollback: true });

    // Someone raises the latency threshold by hand.
    const { AlarmArn: _arn, StateValue: _s, StateReason: _r, StateReasonData: _d, StateUpdatedTimestamp: _t, AlarmConfigurationUpdatedTimestamp: _c, Metrics: _m, ...latency } = MetricAlarms[1];
    await cloudwatch.send(new PutMetricAlarmCommand({ ...latency, AlarmName: alarmNames[1], EvaluationPeriods: 3, ComparisonOperator: 'GreaterThanThreshold', Threshold: 5000 }));
    cloudwatch.destroy();
    const plan = await runCli([...env.args, '--json', 'plan'], { env: env.env });
    expect(plan.code, plan.stderr).toBe(4);
    const alarmStep = plan.json.steps.find((s: { id: string }) => s.id === 'deployment-alarms');
    expect(alarmStep.changes).toEqual([{ resource: `cloudwatch alarm ${alarmNames[1]}`, action: 'update', fields: [{ field: 'Threshold', from: 5000, to: 1000 }] }]);
    const fix = await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env });
    expect(fix.code, fix.stderr).toBe(0);
    expect(writesOf(fix.json)).toEqual(['cloudwatch:PutMetricAlarm']);
    expect((await runCli([...env.args, 'plan'], { env: env.env })).code).toBe(0);
  });

  it('after revisions 1 (good), 2 and 3 (failed their checks): --to previous goes to 2 and says it failed; --to last-good goes to 1', async () => {
    await env.fresh();
    // Failed checks fail fast: a 1 s wait for healthy targets.
    const file = join(mkdtempSync(join(tmpdir(), 'fintech-runbook-')), 'local-fast.yaml');
    writeFileSync(file, readFileSync(join(repoRoot, 'config/local.yaml'), 'utf8').replace('healthyTargetsTimeoutSeconds: 30', 'healthyTargetsTimeoutSeconds: 1'));
    const args = ['--config', file, '--endpoint-url', env.emulator.endpoint, '--poll-interval', '0.1'];
    env.simulator.settings.imageTags = ['prod-1.0.0', 'prod-1.1.0', 'prod-1.2.0']; // the pipeline pushed three releases (and scanned them)
    expect((await runCli([...args, 'apply', '--yes'], { env: env.env })).code).toBe(0); // revision 1: good

    // The next releases' tasks never become healthy targets.
    env.simulator.registerTargets = false;
    const elbv2 = new ElasticLoadBalancingV2Client(emulatorClientConfig(env.emulator.endpoint));
    const ecs = new ECSClient(emulatorClientConfig(env.emulator.endpoint));
    const { services = [] } = await ecs.send(new DescribeServicesCommand({ cluster: 'fintech-prod-cluster', services: ['fintech-api-svc'] }));
    ecs.destroy();
    const targetGroupArn = services[0].loadBalancers![0].targetGroupArn!;
    const { TargetHealthDescriptions = [] } = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
    await elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: TargetHealthDescriptions.map((t) => t.Target!) }));
    for (const tag of ['prod-1.1.0', 'prod-1.2.0']) {
      const failed = await runCli([...args, 'deploy', tag, '--yes', '--no-rollback'], { env: env.env });
      expect(failed.code, failed.stderr).toBe(1);
      expect(failed.stdout + failed.stderr).toMatch(/Tasks Healthy\s+FAIL/);
    }
    expect((await runningTaskDefinition()).ref).toBe('fintech-api-task:3');

    // previous = the next lower ACTIVE revision: 2, which failed (and fails again: its tasks still never get healthy).
    const previous = await runCli([...args, 'rollback', '--to', 'previous', '--yes'], { env: env.env });
    expect(previous.stdout + previous.stderr).toMatch(
      /--to previous: fintech-api-task:2, the next lower ACTIVE revision than fintech-api-task:3 \(not known good: its last recorded run says Tasks Healthy FAIL: [^\n]*\); the last good revision is fintech-api-task:1 \(--to last-good\)/,
    );
    expect(previous.code).toBe(1);
    expect((await runningTaskDefinition()).ref).toBe('fintech-api-task:2');

    env.simulator.registerTargets = true;
    const lastGood = await runCli([...args, '--json', 'rollback', '--to', 'last-good', '--yes'], { env: env.env });
    expect(lastGood.code, lastGood.stderr).toBe(0);
    expect(lastGood.json).toMatchObject({ ok: true, from: 'fintech-api-task:2', to: 'fintech-api-task:1', note: expect.stringMatching(/^--to last-good: fintech-api-task:1, which run .*-apply-.* left running and which passed its section 4.1 checks$/) });
    expect((await runningTaskDefinition()).ref).toBe('fintech-api-task:1');

    // history: the revision each run left running, and whether it was good.
    const history = await runCli([...args, '--json', 'history'], { env: env.env });
    expect(history.json.map((r: { revision?: string; good?: boolean }) => `${r.revision}:${r.good}`)).toEqual([
      'fintech-api-task:1:true',
      'fintech-api-task:2:false',
      'fintech-api-task:3:false',
      'fintech-api-task:2:false',
      'fintech-api-task:1:true',
    ]);
    elbv2.destroy();
  });
});
