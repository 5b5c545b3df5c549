// Two-person approval end to end (issue 12): saved plans approved by a second caller (moto: a
// second IAM user's access key is a second caller ARN), and a deploy through an approved plan.
// (The change freeze is unit-tested with mocks, test/unit/change-freeze.test.ts: moto has no
// Change Calendar, and its HTTP 500 for GetCalendarState is retried like any failed read.)
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { readJournal } from '../../src/core/journal.js';
import { emulatorClientConfig, repoRoot, runCli, useEmulator, writesOf } from '../helpers/e2e.js';

const env = useEmulator();

/** config/local.yaml with extra top-level settings. */
function configWith(extra: string): string[] {
  const file = join(mkdtempSync(join(tmpdir(), 'fintech-runbook-')), 'local-change-control.yaml');
  writeFileSync(file, `${readFileSync(join(repoRoot, 'config/local.yaml'), 'utf8')}\n${extra}\n`);
  return ['--config', file, '--endpoint-url', env.emulator.endpoint, '--poll-interval', '0.1'];
}

/** A second person: another IAM user with an access key of their own (another caller ARN). */
async function secondPerson(name: string): Promise<NodeJS.ProcessEnv> {
  const iam = new IAMClient(emulatorClientConfig(env.emulator.endpoint));
  await iam.send(new CreateUserCommand({ UserName: name }));
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
  iam.destroy();
  const { AWS_SESSION_TOKEN: _none, ...rest } = env.env;
  return { ...rest, AWS_ACCESS_KEY_ID: AccessKey!.AccessKeyId, AWS_SECRET_ACCESS_KEY: AccessKey!.SecretAccessKey };
}

const planFile = () => join(mkdtempSync(join(tmpdir(), 'fintech-plan-')), 'p.json');
const runStart = (file: string) => readJournal(file).find((e) => e.type === 'run-start') as Record<string, unknown>;

describe('two-person approval (approval.required: true)', () => {
  it('apply p.json: unapproved → refused; approved by the same caller → refused; by another → applied, and the journal names both', async () => {
    await env.fresh();
    const args = configWith('approval: { required: true }');
    const bob = await secondPerson('bob');

    const file = planFile();
    expect((await runCli([...args, 'plan', '--out', file], { env: env.env })).code).toBe(4);
    const unapproved = await runCli([...args, '--json', 'apply', file, '--yes'], { env: env.env });
    expect(unapproved.code).toBe(1);
    expect(unapproved.stderr).toContain(`approval.required: plan ${file} (sha256:`);
    expect(unapproved.stderr).toContain('has no approval: nothing was changed');
    expect(unapproved.json.calls.writes).toBe(0);

    const self = await runCli([...args, 'approve', file, '--yes'], { env: env.env });
    expect(self.code, self.stderr).toBe(0);
    expect(self.stdout).toContain('Approved by arn:aws:sts::123456789012:user/moto');
    const selfApplied = await runCli([...args, '--json', 'apply', file, '--yes'], { env: env.env });
    expect(selfApplied.code).toBe(1);
    expect(selfApplied.stderr).toContain('is approved only by arn:aws:sts::123456789012:user/moto, who is applying it');
    expect(selfApplied.json.calls.writes).toBe(0);

    const approved = await runCli([...args, '--json', 'approve', file, '--yes'], { env: bob });
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.json.approval).toMatchObject({ approver: 'arn:aws:iam::123456789012:user/bob', planHash: expect.stringMatching(/^sha256:/) });
    const applied = await runCli([...args, '--json', 'apply', file, '--yes'], { env: env.env });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.json.calls.writes).toBeGreaterThan(10);
    expect(runStart(applied.json.journal)).toMatchObject({
      caller: 'arn:aws:sts::123456789012:user/moto',
      approvals: [{ approver: 'arn:aws:iam::123456789012:user/bob', planHash: approved.json.approval.planHash }],
    });
  });

  it('deploy: refused directly; `deploy <tag> --out`, approved by another, then `apply` of that plan deploys exactly the two steps', async () => {
    await env.fresh();
    env.simulator.settings.imageTags = ['prod-1.0.0', 'prod-1.1.0'];
    expect((await runCli([...env.args, 'apply', '--yes'], { env: env.env })).code).toBe(0); // built before the team turned the rule on
    const args = configWith('approval: { required: true }');
    const bob = await secondPerson('bob');
    const deploy = await runCli([...args, '--json', 'deploy', 'prod-1.1.0', '--yes'], { env: env.env });
    expect(deploy.code).toBe(1);
    expect(deploy.stderr).toContain('approval.required: a deploy needs an approved plan');
    expect(deploy.json.calls.reads + deploy.json.calls.writes).toBe(0);
    const deployPlan = planFile();
    const saved = await runCli([...args, 'deploy', 'prod-1.1.0', '--out', deployPlan], { env: env.env });
    expect(saved.code, saved.stderr).toBe(4);
    expect(saved.stdout + saved.stderr).toContain('Image gate passed');
    expect(JSON.parse(readFileSync(deployPlan, 'utf8'))).toMatchObject({ image: 'prod-1.1.0', steps: [{ id: 'task-definition' }, { id: 'service' }] });
    expect((await runCli([...args, 'approve', deployPlan, '--yes'], { env: bob })).code).toBe(0);
    const shipped = await runCli([...args, '--json', 'apply', deployPlan, '--yes'], { env: env.env });
    expect(shipped.code, shipped.stderr).toBe(0);
    expect(writesOf(shipped.json).sort()).toEqual(['ecs:RegisterTaskDefinition', 'ecs:UpdateService']);
    expect(runStart(shipped.json.journal)).toMatchObject({ image: 'prod-1.1.0', imageGate: { outcome: 'ok' }, approvals: [{ approver: 'arn:aws:iam::123456789012:user/bob' }] });
    const ecs = new ECSClient(emulatorClientConfig(env.emulator.endpoint));
    const { services = [] } = await ecs.send(new DescribeServicesCommand({ cluster: 'fintech-prod-cluster', services: ['fintech-api-svc'] }));
    ecs.destroy();
    expect(services[0].taskDefinition).toMatch(/fintech-api-task:2$/);
  });
});
