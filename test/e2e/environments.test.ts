// Several environments in one run (`--config` repeated, or a folder): one process, rate-controlled
// (--max-concurrency, --max-errors), one summary table or one JSON document; each environment its
// own session, lock and journal. Three environments share the emulator's VPC and ALB here, so each
// gets its own names and listener port (the sections that would share one Aurora cluster or one
// table are left out with --only).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli, useEmulator } from '../helpers/e2e.js';

const env = useEmulator();
const only = ['--only', 'cluster,ecr,iam,task-definition,load-balancer'];
const localYaml = readFileSync(join(repoRoot, 'config', 'local.yaml'), 'utf8');

/** config/local.yaml for environment n: every owned name suffixed, its own listener port. */
function environment(dir: string, n: number): string {
  const yaml = localYaml
    .replace('name: fintech-prod-cluster', `name: fintech-e${n}-cluster`)
    .replace('repositoryName: fintech-api', `repositoryName: fintech-api-e${n}`)
    .replace(/FinTech-ECS-(Exec|Task)Role/g, `FinTech-E${n}-$1Role`)
    .replace('family: fintech-api-task', `family: fintech-api-task-e${n}`)
    .replace('name: /ecs/fintech-api,', `name: /ecs/fintech-api-e${n},`)
    .replace('name: fintech-prod-tg', `name: fintech-e${n}-tg`)
    .replace(/port: 443\b/, `port: ${8440 + n}`);
  const file = join(dir, `env-${n}.yaml`);
  writeFileSync(file, yaml);
  return file;
}

describe('several environments in one run', () => {
  it('plan, apply and validate three environments from a folder: one table, one JSON document, each converged', async () => {
    await env.fresh();
    const dir = mkdtempSync(join(tmpdir(), 'fintech-envs-'));
    [1, 2, 3].forEach((n) => environment(dir, n));
    const args = ['--config', dir, '--endpoint-url', env.emulator.endpoint, '--poll-interval', '0.1', ...only];

    const plan = await runCli([...args, '--json', 'plan'], { env: env.env });
    expect(plan.code, plan.stderr).toBe(4);
    expect(plan.json.environments.map((e: { config: string; outcome: string }) => [e.config.split('/').pop(), e.outcome])).toEqual([
      ['env-1.yaml', expect.stringMatching(/change\(s\) pending/)],
      ['env-2.yaml', expect.stringMatching(/change\(s\) pending/)],
      ['env-3.yaml', expect.stringMatching(/change\(s\) pending/)],
    ]);
    expect(plan.stderr).toMatch(/^ENVIRONMENT\s+ACCOUNT\s+REGION\s+CLUSTER\s+OUTCOME\s+CHANGES\s+WRITES$/m);
    expect(plan.json.environments.every((e: { writes: number }) => e.writes === 0)).toBe(true);

    // They share the emulator's one ALB, whose security group admits 443 only, while each listens on
    // its own port: a documented exception (section 3 preflight), accepted and journaled.
    const apply = await runCli([...args, '--json', 'apply', '--yes', '--accept', 'RB.EC2.2'], { env: env.env });
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.json.environments.map((e: { cluster: string; outcome: string }) => [e.cluster, e.outcome])).toEqual([
      ['fintech-e1-cluster', 'applied 5 step(s)'],
      ['fintech-e2-cluster', 'applied 5 step(s)'],
      ['fintech-e3-cluster', 'applied 5 step(s)'],
    ]);
    // Each environment ran with its own journal.
    const journals = new Set(apply.json.environments.map((e: { report: { journal: string } }) => e.report.journal));
    expect(journals.size).toBe(3);

    const again = await runCli([...args, 'plan'], { env: env.env });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout.match(/in sync/g)).toHaveLength(3);
    // validate still judges each one on its own: the accepted exception is a FAIL, and the only one.
    const validate = await runCli([...args, '--json', 'validate'], { env: env.env });
    expect(validate.code, validate.stderr).toBe(1);
    for (const e of validate.json.environments as Array<{ outcome: string; report: { findings: Array<{ status: string; controls?: string[] }> } }>) {
      expect(e.outcome).toBe('1 check(s) FAILED');
      expect(e.report.findings.filter((f) => f.status === 'FAIL').map((f) => f.controls)).toEqual([expect.arrayContaining(['RB.EC2.2'])]);
    }
  });

  it('--max-errors stops scheduling after that many failures; a broken environment is named, the others are not hidden', async () => {
    await env.fresh();
    const dir = mkdtempSync(join(tmpdir(), 'fintech-envs-'));
    const good = environment(dir, 1);
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, localYaml.replace('cpu: "1024"', 'cpu: "1000"'));
    const args = ['--config', broken, '--config', good, '--endpoint-url', env.emulator.endpoint, ...only, '--max-concurrency', '1', '--max-errors', '1'];
    const plan = await runCli([...args, '--json', 'plan'], { env: env.env });
    expect(plan.code).toBe(2);
    expect(plan.json.environments).toEqual([
      expect.objectContaining({ config: broken, exitCode: 2, outcome: expect.stringMatching(/^failed: invalid config: taskDefinition\.cpu/) }),
      expect.objectContaining({ config: good, exitCode: null, outcome: 'not run' }),
    ]);
    expect(plan.stderr).toContain('1 environment(s) not run');
    // Without the limit, the good one runs.
    const all = await runCli(['--config', broken, '--config', good, '--endpoint-url', env.emulator.endpoint, ...only, '--json', 'plan'], { env: env.env });
    expect(all.json.environments[1]).toMatchObject({ exitCode: 4 });
  });

  it('refuses what needs one environment: a saved plan, rollback, apply without --yes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fintech-envs-'));
    const files = [environment(dir, 1), environment(dir, 2)].flatMap((f) => ['--config', f]);
    for (const command of [['plan', '--out', join(dir, 'p.json')], ['rollback', '--to', '1', '--yes'], ['apply']]) {
      const result = await runCli([...files, ...command], { env: env.env });
      expect(result.code, `${command.join(' ')}: ${result.stderr}`).toBe(2);
    }
  });
});
