// Saved plans, as Terraform's `plan -out`: `plan --out p.json` then `apply p.json` sends exactly
// the commands in the file; if the environment moved in between, `apply p.json` refuses with
// exit 1 and makes no write. The file carries no secret value.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECRClient, PutImageTagMutabilityCommand } from '@aws-sdk/client-ecr';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { emulatorClientConfig, runCli, useEmulator, writesOf } from '../helpers/e2e.js';

const env = useEmulator();
const planPath = () => join(mkdtempSync(join(tmpdir(), 'fintech-plan-')), 'plan.json');
type SavedPlan = { format: string; account: string; region: string; caller: string; config: { hash: string }; steps: Array<{ id: string; actions: Array<{ service: string; operation: string }> }> };

describe('saved plans', () => {
  it('apply p.json sends exactly the planned commands; the file carries no secret value', async () => {
    await env.fresh();
    const file = planPath();
    const plan = await runCli([...env.args, 'plan', '--out', file], { env: env.env });
    expect(plan.code, plan.stderr).toBe(4);
    expect(plan.stdout).toContain(`Saved the plan to ${file}`);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedPlan;
    expect(saved).toMatchObject({ format: 'fintech-runbook/plan@1', account: '123456789012', region: 'us-east-1', caller: expect.stringContaining('arn:aws:') });
    expect(saved.config.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    const planned = saved.steps.flatMap((s) => s.actions.map((a) => `${a.service}:${a.operation}`));
    expect(planned.length).toBeGreaterThan(10);

    const apply = await runCli([...env.args, '--json', 'apply', file, '--yes'], { env: env.env });
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stderr + apply.stdout).toContain('Applying the saved plan');
    // Every write counted is one of the file's actions, and every action was sent once.
    const counted = apply.json.calls.byOperation.filter((c: { kind: string }) => c.kind === 'write').flatMap((c: { service: string; operation: string; count: number }) => Array(c.count).fill(`${c.service}:${c.operation}`));
    expect(counted.sort()).toEqual([...planned].sort());

    // No secret value in the plan file (the tool never reads one; the test does, to grep for it).
    const secrets = new SecretsManagerClient(emulatorClientConfig(env.emulator.endpoint));
    const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: env.prerequisites.DB_SECRET_ARN }));
    secrets.destroy();
    const password = JSON.parse(SecretString!).password as string;
    expect(readFileSync(file, 'utf8')).not.toContain(password);

    const again = await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env });
    expect(writesOf(again.json)).toEqual([]);
  });

  it('apply p.json refuses with exit 1 and 0 writes when the environment changed after the plan', async () => {
    await env.fresh();
    expect((await runCli([...env.args, 'apply', '--yes'], { env: env.env })).code).toBe(0);
    const ecr = new ECRClient(emulatorClientConfig(env.emulator.endpoint));
    await ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'fintech-api', imageTagMutability: 'MUTABLE' }));
    const file = planPath();
    expect((await runCli([...env.args, 'plan', '--out', file], { env: env.env })).code).toBe(4);
    // Between the approval and the apply, someone fixes it by hand and changes something else.
    await ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'fintech-api', imageTagMutability: 'IMMUTABLE' }));
    ecr.destroy();

    const apply = await runCli([...env.args, '--json', 'apply', file, '--yes'], { env: env.env });
    expect(apply.code, apply.stderr).toBe(1);
    expect(apply.stderr).toMatch(/saved plan is stale/);
    expect(apply.stderr).toMatch(/ecr repository fintech-api: changed since the plan was made/);
    expect(apply.json.ok).toBe(false);

    // 0 writes: the next plan is in sync (the fix by hand stands), and no journal run recorded a write.
    const history = await runCli([...env.args, '--json', 'history'], { env: env.env });
    expect(history.json.filter((r: { writes: number }) => r.writes > 0)).toHaveLength(1); // the first apply only
    expect((await runCli([...env.args, 'plan'], { env: env.env })).code).toBe(0);
  });

  it('a plan made for another config is refused', async () => {
    await env.fresh();
    const file = planPath();
    expect((await runCli([...env.args, '--only', 'cluster', 'plan', '--out', file], { env: env.env })).code).toBe(4);
    const apply = await runCli([...env.args, '--only', 'cluster', 'apply', file, '--yes'], { env: { ...env.env, IMAGE_TAG: 'prod-9.9.9' } });
    expect(apply.code).toBe(1);
    expect(apply.stderr).toMatch(/the config changed since the plan was made/);
  });
});
