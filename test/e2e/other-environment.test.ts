// Another environment end to end (issue 11, "no hard-coded environment values"): other names,
// API port 9090, eu-west-1, another account (moto's MOTO_ACCOUNT_ID), other tags, metric
// dimensions and lifecycle tags. Nothing the tool sends to AWS, prints or journals may carry a
// value of config/local.yaml that this config changed, nor 8080, us-east-1, the emulator's
// default account or the old fixed lifecycle description. The config is local.yaml with those
// fields changed, so fields added later come along.
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dump as stringify, load } from 'js-yaml';
import { createPrerequisites, emulatorEnv, startEmulator, TaskSimulator, type Emulator } from '../../scripts/emulator.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { repoRoot, runCli } from '../helpers/e2e.js';

/** A config document, edited field by field. */
const parse = (text: string) => load(text) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const REGION = 'eu-west-1';
const ACCOUNT = '210987654321';
const PORT = 9090;

/** local.yaml with every environment-specific value changed. */
function otherEnvironment(): Record<string, any> {
  const config = parse(readFileSync(join(repoRoot, 'config/local.yaml'), 'utf8'));
  config.region = REGION;
  config.tags = { Environment: 'Staging', Project: 'AcmePay', CostCenter: 'CC-42' };
  Object.assign(config.inputs, { auroraClusterId: 'acme-pay-db', dynamodbTableName: 'AcmeLedger', dataLakeBucket: 'acme-pay-lake' });
  config.cluster.name = 'acme-pay-staging';
  config.ecr.repositoryName = 'acme/pay-api';
  config.ecr.lifecycle = { keepLast: 12, tagPrefixes: ['rel'] };
  config.iam.executionRole = { name: 'AcmePay-Exec', policyName: 'ExecAccess' };
  config.iam.taskRole = { name: 'AcmePay-Task', policyName: 'TaskAccess' };
  const td = config.taskDefinition;
  td.family = 'acme-pay-api';
  td.logGroup.name = '/acme/pay-api';
  Object.assign(td.api, { name: 'pay', port: PORT, environment: { ENV: 'staging', REGION }, logStreamPrefix: 'pay' });
  td.api.healthCheck.command = `curl -f http://localhost:${PORT}/health || exit 1`;
  td.logRouter.name = 'logrouter';
  Object.assign(config.loadBalancer.targetGroup, { name: 'acme-pay-tg', port: PORT });
  config.service.name = 'acme-pay-svc';
  config.scaling.ecs.cpu.policyName = 'acme-cpu';
  config.scaling.ecs.memory.policyName = 'acme-mem';
  config.scaling.aurora.policy.policyName = 'acme-reader';
  config.scaling.dynamodb.policy.policyName = 'acme-writes';
  config.metrics.namespace = 'Acme/Payments';
  config.metrics.dimensions = { TransactionsProcessed: { Service: 'Payments' }, LoginSuccess: { Service: 'Identity' } };
  return config;
}

/** Every string leaf, by path. */
function leaves(value: unknown, path = ''): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof value === 'string') out.set(path, value);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) for (const [p, s] of leaves(v, `${path}.${k}`)) out.set(p, s);
  return out;
}

/** What must not appear: local.yaml's values this config changed, and the runbook's fixed ones. */
function forbidden(other: Record<string, any>): Array<string | RegExp> {
  const theirs = leaves(other);
  const changed = [...leaves(parse(readFileSync(join(repoRoot, 'config/local.yaml'), 'utf8')))]
    .filter(([path, value]) => theirs.get(path) !== value && value.length >= 5 && !value.includes('${'))
    .map(([, value]) => value);
  return [
    ...new Set(changed),
    '8080',
    'us-east-1',
    '123456789012',
    /production/i,
    'Keep last',
    'PaymentAPI',
    'Service=Auth',
    // The runbook's names and the emulator's defaults; the tool's own name may appear.
    /fintech(?!-runbook)/i,
  ];
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

let emulator: Emulator;
let proxy: FaultProxy;
let simulator: TaskSimulator;
let env: NodeJS.ProcessEnv;
let args: string[];
const stateHome = mkdtempSync(join(tmpdir(), 'fintech-runbook-other-'));
const config = otherEnvironment();
/** Everything printed, by command. */
const printed: Array<{ command: string; text: string }> = [];

beforeAll(async () => {
  emulator = await startEmulator({ account: ACCOUNT });
  // Every request the CLI sends, bodies included: "anything written to AWS".
  proxy = await startFaultProxy({ target: emulator.endpoint, rate: 0, seed: 1, recordBodies: true });
  const prerequisites = await createPrerequisites(emulator.endpoint, {
    region: REGION,
    account: ACCOUNT,
    apiPort: PORT,
    imageTag: 'rel-2.3.4',
    names: {
      alb: 'acme-pay-alb',
      albSecurityGroup: 'acme-alb-sg',
      ecsSecurityGroup: 'acme-tasks-sg',
      domain: 'pay.acme.example',
      secret: 'acme/pay-db',
      auroraCluster: 'acme-pay-db',
      auroraWriter: 'acme-pay-db-1',
      table: 'AcmeLedger',
    },
  });
  simulator = new TaskSimulator(emulator.endpoint, {
    region: REGION,
    cluster: config.cluster.name,
    service: config.service.name,
    repository: config.ecr.repositoryName,
    imageTags: [prerequisites.IMAGE_TAG],
    logGroup: config.taskDefinition.logGroup.name,
    logStreamPrefix: config.taskDefinition.api.logStreamPrefix,
    containerPort: PORT,
  }).start(100);
  const file = join(mkdtempSync(join(tmpdir(), 'fintech-runbook-other-config-')), 'acme-staging.yaml');
  writeFileSync(file, stringify(config));
  env = { ...emulatorEnv(REGION), ...prerequisites, XDG_STATE_HOME: stateHome };
  args = ['--config', file, '--endpoint-url', proxy.url, '--poll-interval', '0.1'];
}, 60_000);

afterAll(async () => {
  await simulator?.stop();
  await proxy?.close();
  await emulator?.stop();
});

async function run(command: string[], expectedCode: number) {
  const result = await runCli([...args, ...command], { env });
  expect(result.code, `${command.join(' ')}:\n${result.stdout}\n${result.stderr}`).toBe(expectedCode);
  printed.push({ command: command.join(' '), text: `${result.stdout}\n${result.stderr}` });
  return result;
}

describe('another environment: other names, port 9090, eu-west-1, another account', () => {
  it('plans and applies with its own values', async () => {
    const plan = await run(['plan'], 4);
    expect(plan.stdout).toContain(`Account ${ACCOUNT} (arn:aws:sts::${ACCOUNT}:user/moto), region ${REGION}, cluster acme-pay-staging`);
    await run(['apply', '--yes'], 0);
    // The lifecycle rule and the policies as sent.
    const bodies = proxy.log().map((r) => r.body ?? '').join('\n');
    expect(bodies).toContain('Keep the last 12 images tagged rel*');
    expect(decodeURIComponent(bodies)).toContain(`arn:aws:ecr:${REGION}:${ACCOUNT}:repository/acme/pay-api`);
  });

  // The environment the test above applied.
  it('publishes a metric with its dimensions and validates', async () => {
    await run(['metrics', 'put', 'TransactionsProcessed', '3'], 0);
    const validate = await run(['validate'], 0);
    expect(validate.stdout).toMatch(/OK +3\.4 Port 9090 only from ALB SG +security group sg-\S+: admits only tcp 9090 from sg-/);
    expect(validate.stdout).toMatch(/OK +Business Metrics +metric Acme\/Payments TransactionsProcessed \(Service=Payments\): received 1 datapoint/);
  });

  it('re-plans in sync and lists its runs', async () => {
    await run(['plan'], 0);
    await run(['history'], 0);
    const runs = JSON.parse((await runCli(['--json', 'history'], { env })).stdout);
    await run(['history', runs[0].runId], 0);
  });

  it('leaves no production name, 8080, us-east-1, default account or fixed description in what it sent, printed or journaled', () => {
    const sources = [
      ...proxy.log().map((r) => ({ where: `request ${r.seq} ${r.service}:${r.operation}`, text: decodeURIComponent((r.body ?? '').replace(/\+/g, ' ')) })),
      ...printed.map((p) => ({ where: `output of ${p.command}`, text: p.text })),
      ...filesUnder(join(stateHome, 'fintech-runbook')).map((file) => ({ where: file, text: readFileSync(file, 'utf8') })),
    ];
    expect(sources.filter((s) => s.where.endsWith('.jsonl'))).not.toHaveLength(0);
    expect(filesUnder(join(stateHome, 'fintech-runbook')).every((f) => f.includes(join(ACCOUNT, REGION, 'acme-pay-staging')))).toBe(true);
    const found: string[] = [];
    for (const needle of forbidden(config)) {
      for (const source of sources) {
        const at = typeof needle === 'string' ? source.text.indexOf(needle) : source.text.search(needle);
        if (at >= 0) found.push(`${String(needle)} in ${source.where}: …${source.text.slice(Math.max(0, at - 60), at + 60)}…`);
      }
    }
    expect(found).toEqual([]);
  });
});
