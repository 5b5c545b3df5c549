// Issue 9 item 4: `validate --report` against the emulator. One applied environment for the file:
// the JSON and the Markdown report carry every field (the zod schema), cite request ids of reads
// the run really sent, are mode 0600 and leave validate read-only; a planted cleartext value and the
// Secrets Manager secret's value are in no report; bad flags and another account's credentials stop
// before any report is written.
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeregisterTaskDefinitionCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configHash } from '../../src/core/saved-plan.js';
import { loadConfig } from '../../src/config.js';
import { countingEndpoint, emulatorClientConfig, repoRoot, runCli, useEmulator, writesOf } from '../helpers/e2e.js';
import { evidenceSchema } from '../helpers/evidence-schema.js';

const env = useEmulator();
const service = { cluster: 'fintech-prod-cluster', service: 'fintech-api-svc' };
const packageVersion = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
let ecs: ECSClient;
let dir: string;

beforeAll(async () => {
  await env.fresh();
  ecs = new ECSClient(emulatorClientConfig(env.emulator.endpoint));
  dir = mkdtempSync(join(tmpdir(), 'fintech-evidence-'));
  const apply = await runCli([...env.args, 'apply', '--yes'], { env: env.env });
  expect(apply.code, apply.stderr).toBe(0);
});

afterAll(() => ecs?.destroy());

describe('validate --report on a converged environment', () => {
  it('writes a JSON report with every field, mode 0600, citing reads this run sent; validate stays read-only', async () => {
    const file = join(dir, 'r.json');
    const started = Date.now();
    const result = await runCli([...env.args, '--json', 'validate', '--report', file], { env: env.env });
    expect(result.code, result.stderr).toBe(0);
    expect(writesOf(result.json)).toEqual([]);
    expect(result.json.evidenceReport).toEqual({ file, format: 'json' });
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const report = evidenceSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    const config = loadConfig(join(repoRoot, 'config/local.yaml'), env.env);
    expect(report).toMatchObject({
      tool: { name: 'fintech-runbook', version: packageVersion },
      config: { file: 'config/local.yaml', hash: configHash(config) },
      account: env.prerequisites.ACCOUNT_ID,
      region: 'us-east-1',
      cluster: 'fintech-prod-cluster',
      summary: { ok: true, FAIL: 0 },
      calls: { writes: 0 },
    });
    // moto's STS answers for its default user: the caller validate checked.
    expect(report.caller.arn).toMatch(new RegExp(`^arn:aws:sts::${env.prerequisites.ACCOUNT_ID}:`));
    expect(Date.parse(report.startedAt)).toBeGreaterThanOrEqual(started - 1000);
    expect(Date.parse(report.finishedAt)).toBeGreaterThanOrEqual(Date.parse(report.startedAt));
    expect(report.calls.reads).toBe(result.json.calls.reads);

    // Control ids and checklist numbers, ARNs and observed values where the checks have them.
    const byId = (id: string) => report.results.filter((r) => r.id === id);
    expect(byId('ECS.5')[0]).toMatchObject({ status: 'OK', resourceArn: expect.stringMatching(/:task-definition\/fintech-api-task:\d+$/), observed: { 'api-container': true, log_router: true }, requestIdSource: 'finding', readBy: 'ecs:DescribeTaskDefinition' });
    expect(byId('CloudWatch.16')).toContainEqual(expect.objectContaining({ status: 'OK', observed: { retentionInDays: 365 }, readBy: 'logs:DescribeLogGroups' }));
    expect(report.results.find((r) => r.checklist.includes('3.4'))).toBeDefined();
    expect(report.controls.map((c) => c.id)).toEqual(expect.arrayContaining(['ECS.2', 'ECS.5', 'ECS.20', 'ELB.17', 'CloudWatch.16']));

    // Every request id a result cites is one of this run's reads, as moto answered them.
    const sent = new Set(report.reads.map((r) => r.requestId));
    const cited = report.results.filter((r) => r.requestId);
    expect(cited.length).toBeGreaterThan(report.results.length / 2);
    for (const r of cited) expect(sent.has(r.requestId), `${r.id} ${r.resource}: ${r.requestId}`).toBe(true);
    expect(report.reads.some((r) => r.call === 'sts:GetCallerIdentity')).toBe(true);
  });

  it('--report-format markdown: one page with the same fields', async () => {
    const file = join(dir, 'evidence.txt');
    const result = await runCli([...env.args, 'validate', '--report', file, '--report-format', 'markdown'], { env: env.env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Evidence report (markdown): ${file}`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const page = readFileSync(file, 'utf8');
    const config = loadConfig(join(repoRoot, 'config/local.yaml'), env.env);
    for (const text of [
      '# Evidence report: `validate` of fintech-prod-cluster',
      `| Tool | fintech-runbook ${packageVersion} |`,
      configHash(config),
      `| Account | ${env.prerequisites.ACCOUNT_ID} |`,
      '| Region | us-east-1 |',
      `arn:aws:sts::${env.prerequisites.ACCOUNT_ID}:`,
      '| Started |',
      '| Finished |',
      '| OK | ECS.5 |',
      '## Controls',
      '## AWS reads',
    ]) {
      expect(page).toContain(text);
    }
    expect(page).toMatch(/\| OK \| [^|]+ \| 3\.4 \|/);
    expect(page).toMatch(/`[A-Za-z0-9]{20,}` ecs:DescribeTaskDefinition/);
  });

  it('several environments: --report names a folder and each writes its own; a file is refused before any AWS call', async () => {
    const configs = mkdtempSync(join(tmpdir(), 'fintech-evidence-configs-'));
    copyFileSync(join(repoRoot, 'config/local.yaml'), join(configs, 'blue.yaml'));
    copyFileSync(join(repoRoot, 'config/local.yaml'), join(configs, 'green.yaml'));
    const args = env.args.filter((a, i) => a !== '--config' && env.args[i - 1] !== '--config');
    const refused = await runCli(['--config', configs, ...args, 'validate', '--report', join(dir, 'one.json')], { env: env.env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--report: with 2 environments it names a folder/);

    const out = mkdtempSync(join(tmpdir(), 'fintech-evidence-out-'));
    const result = await runCli(['--config', configs, ...args, 'validate', '--report', out], { env: env.env });
    expect(result.code, result.stderr).toBe(0);
    for (const name of ['blue', 'green']) {
      const report = evidenceSchema.parse(JSON.parse(readFileSync(join(out, `${name}.evidence.json`), 'utf8')));
      expect(report.config.file).toBe(join(configs, `${name}.yaml`));
    }
  });
});

describe('validate --report refuses before anything is written', () => {
  it('a bad --report-format or a missing folder: exit 2, no AWS call', async () => {
    const endpoint = await countingEndpoint();
    try {
      const args = env.args.map((a) => (a === env.emulator.endpoint ? endpoint.url : a));
      const format = await runCli([...args, 'validate', '--report', join(dir, 'x.json'), '--report-format', 'pdf'], { env: env.env });
      expect(format.code).toBe(2);
      expect(format.stderr).toContain('--report-format: "pdf" is not json or markdown');
      const folder = await runCli([...args, 'validate', '--report', join(dir, 'missing', 'x.json')], { env: env.env });
      expect(folder.code).toBe(2);
      expect(folder.stderr).toMatch(/--report: folder .*missing does not exist/);
      expect(endpoint.requests()).toBe(0);
    } finally {
      await endpoint.close();
    }
  });

  it("another account's credentials: exit 2 after GetCallerIdentity alone, no report", async () => {
    const file = join(dir, 'other-account.json');
    // The config for another account (its ARNs too); the emulator's credentials stay its own.
    const other = Object.fromEntries(Object.entries(env.env).map(([k, v]) => [k, v?.replaceAll(env.prerequisites.ACCOUNT_ID, '210987654321')]));
    const result = await runCli([...env.args, '--json', 'validate', '--report', file], { env: other });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/credentials are for account \d{12} .* the config is for accountId 210987654321/);
    expect(result.json.calls.byOperation).toEqual([{ service: 'sts', operation: 'GetCallerIdentity', kind: 'read', count: 1 }]);
    expect(existsSync(file)).toBe(false);
  });
});

describe('no secret value in a report (a planted cleartext env value, the Secrets Manager secret)', () => {
  const password = `planted-${randomBytes(9).toString('hex')}`;
  const plain = `cleartext-${randomBytes(9).toString('hex')}`;
  let secretValues: string[] = [];

  beforeAll(async () => {
    const secrets = new SecretsManagerClient(emulatorClientConfig(env.emulator.endpoint));
    const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: env.prerequisites.DB_SECRET_ARN }));
    secrets.destroy();
    secretValues = [SecretString!, (JSON.parse(SecretString!) as { password: string }).password];
    const { services = [] } = await ecs.send(new DescribeServicesCommand({ ...service, services: [service.service] }));
    const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: services[0].taskDefinition }));
    const input = taskDefinition as RegisterTaskDefinitionCommandInput;
    const planted = await ecs.send(
      new RegisterTaskDefinitionCommand({
        ...input,
        containerDefinitions: input.containerDefinitions!.map((c) =>
          c.name === 'api-container' ? { ...c, environment: [...(c.environment ?? []), { name: 'DB_PASSWORD', value: password }, { name: 'PLAIN_SETTING', value: plain }] } : c,
        ),
      }),
    );
    await ecs.send(new UpdateServiceCommand({ ...service, taskDefinition: planted.taskDefinition!.taskDefinitionArn }));
    return async () => {
      await ecs.send(new UpdateServiceCommand({ ...service, taskDefinition: taskDefinition!.taskDefinitionArn }));
      await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: planted.taskDefinition!.taskDefinitionArn }));
    };
  });

  it('JSON and Markdown: the FAIL names DB_PASSWORD; neither file, stdout nor stderr holds a value', async () => {
    const json = join(dir, 'leak.json');
    const md = join(dir, 'leak.md');
    const a = await runCli([...env.args, 'validate', '--report', json], { env: env.env });
    const b = await runCli([...env.args, 'validate', '--report', md], { env: env.env });
    expect(a.code).toBe(1);
    expect(b.code).toBe(1);
    const report = evidenceSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
    const leak = report.results.find((r) => r.id === 'RB.ECS.1' && r.status === 'FAIL');
    expect(leak?.reason).toMatch(/DB_PASSWORD in cleartext environment/);
    expect(report.summary.ok).toBe(false);
    const page = readFileSync(md, 'utf8');
    expect(page).toMatch(/## Failed \(\d+\)/);
    expect(page).toContain('DB_PASSWORD');
    for (const text of [readFileSync(json, 'utf8'), page, a.stdout, a.stderr, b.stdout, b.stderr]) {
      expect([password, plain, ...secretValues].filter((v) => text.includes(v))).toEqual([]);
    }
  });
});
