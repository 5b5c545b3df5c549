// Fault injection (issue 8, item 5): the built CLI's `apply` through a loopback proxy that
// injects throttling, 500/503, connection resets and lost replies (test/helpers/fault-proxy.ts)
// at FAULT_RATE (20 %) with a fixed seed per run, in front of moto. For each seed:
//
//   1. a fresh emulator (prerequisites created straight against moto, not through the proxy)
//   2. `apply --yes --json` through the proxy: exit 0, or exit 1 with a completed compensation;
//      never exit 3 (half-applied)
//   3. `apply` straight against moto: it converges (exit 0)
//   4. `apply` once more: 0 writes
//   5. moto holds exactly one of each runbook resource (no duplicates from retried creates), at
//      most one ACTIVE task definition revision, and every prerequisite still exists.
//
// FAULT_RUNS seeds (1..N, default 3: CI); `npm run test:faults` runs 20; FAULT_SEEDS="4,8" or
// "21-40" replays chosen seeds. A seed fixes the fault decision per request *index*: the same seed
// hits other operations once the tool sends a different sequence of requests. FAULT_RATE
// overrides the rate; FAULT_REPORT_DIR writes a JSON and a text report per scenario (proxy log
// without bodies, CLI output, journal). Then, deterministic: one lost reply on the first call of
// each create, and on each kind of delete while a failed apply is undone (FAULT_TARGETED=0 skips).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand, DescribeScalingPoliciesCommand, type ServiceNamespace } from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { DescribeClustersCommand, DescribeServicesCommand, ECSClient, ListClustersCommand, ListServicesCommand, ListTaskDefinitionsCommand } from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, DescribeLoadBalancersCommand, DescribeTargetGroupsCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, describe, expect, it } from 'vitest';
import { emulatorClientConfig, repoRoot, runCli, useEmulator, writesOf, type CliResult } from '../helpers/e2e.js';
import { ALL_FAULT_KINDS, startFaultProxy, type FaultProxyOptions, type FaultStats, type RequestRecord } from '../helpers/fault-proxy.js';

const RATE = Number(process.env.FAULT_RATE ?? 0.2);
/** FAULT_SEEDS="4,8" or "21-40" replays chosen seeds; else 1..FAULT_RUNS. */
const SEEDS = parseSeeds(process.env.FAULT_SEEDS) ?? Array.from({ length: Number(process.env.FAULT_RUNS ?? 3) }, (_, i) => i + 1);
/** The targeted lost-reply scenarios; FAULT_TARGETED=0 skips them. */
const TARGETED_ON = process.env.FAULT_TARGETED !== '0';
// A scenario is three applies; the faulted one retries with backoff. Measured on 2 cores: 3-25 s
// per scenario alone (the slowest seeds draw many throttles), 4-18 s with the rest of `npm test`
// running beside it. 300 s is more than 10x the slowest; each CLI run has its own timeout too.
const SEED_TIMEOUT_MS = Number(process.env.FAULT_SEED_TIMEOUT_MS ?? 300_000);
const FIRST_CLI_TIMEOUT_MS = 150_000;
const CLEAN_CLI_TIMEOUT_MS = 60_000;
const REPORT_DIR = process.env.FAULT_REPORT_DIR;

function parseSeeds(spec: string | undefined): number[] | undefined {
  if (!spec?.trim()) return undefined;
  return spec.split(',').flatMap((part) => {
    const [from, to] = part.split('-').map((n) => Number(n.trim()));
    if (!Number.isInteger(from) || (to !== undefined && !Number.isInteger(to))) throw new Error(`FAULT_SEEDS: not a seed list: ${spec}`);
    return to === undefined ? [from] : Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

// What config/local.yaml asks for.
const EXPECTED = {
  cluster: 'fintech-prod-cluster',
  repository: 'fintech-api',
  roles: ['FinTech-ECS-ExecRole', 'FinTech-ECS-TaskRole'],
  logGroup: '/ecs/fintech-api',
  family: 'fintech-api-task',
  targetGroup: 'fintech-prod-tg',
  listenerPort: 443,
  service: 'fintech-api-svc',
  /** At most this many ACTIVE revisions of the family: a retried RegisterTaskDefinition must not leave a second. */
  maxActiveRevisions: 1,
  policies: {
    ecs: ['fintech-cpu-scaling', 'fintech-mem-scaling'],
    rds: ['aurora-read-scaling'],
    dynamodb: ['dynamodb-write-scaling'],
  } as Record<ServiceNamespace & ('ecs' | 'rds' | 'dynamodb'), string[]>,
};

const env = useEmulator();

interface ScenarioSummary {
  label: string;
  faults: FaultStats;
  first: { code: number | null; outcome: string; error?: string };
  converged: boolean;
  secondCode: number | null;
  writesAfter: string[] | undefined;
  activeRevisions: number;
  totalRevisions: number;
  /** Creates whose reply was lost, and whether this run later deleted them (reported only). */
  ambiguous: string[];
  problems: string[];
  seconds: { first: number; total: number };
}
const summaries: ScenarioSummary[] = [];

function clients() {
  const config = emulatorClientConfig(env.emulator.endpoint);
  return {
    acm: new ACMClient(config),
    autoscaling: new ApplicationAutoScalingClient(config),
    logs: new CloudWatchLogsClient(config),
    dynamodb: new DynamoDBClient(config),
    ec2: new EC2Client(config),
    ecr: new ECRClient(config),
    ecs: new ECSClient(config),
    elbv2: new ElasticLoadBalancingV2Client(config),
    iam: new IAMClient(config),
    kms: new KMSClient(config),
    rds: new RDSClient(config),
    secrets: new SecretsManagerClient(config),
  };
}
type Clients = ReturnType<typeof clients>;

/** A describe that must find the thing: a problem string when it does not. */
async function exists(what: string, check: () => Promise<boolean>): Promise<string | undefined> {
  try {
    return (await check()) ? undefined : `${what} is gone`;
  } catch (error) {
    return `${what} is gone (${(error as Error).name}: ${(error as Error).message})`;
  }
}

/** Every prerequisite the harness created before the run still exists (none was deleted). */
async function missingPrerequisites(c: Clients): Promise<string[]> {
  const p = env.prerequisites;
  const checks = await Promise.all([
    exists(`VPC ${p.VPC_ID}`, async () => (await c.ec2.send(new DescribeVpcsCommand({ VpcIds: [p.VPC_ID] }))).Vpcs?.length === 1),
    ...[p.APP_SUB_A, p.APP_SUB_B, p.PUBLIC_SUB_A].map((id) =>
      exists(`subnet ${id}`, async () => (await c.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [id] }))).Subnets?.length === 1),
    ),
    ...[p.ECS_SG, p.ALB_SG].map((id) =>
      exists(`security group ${id}`, async () => (await c.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }))).SecurityGroups?.length === 1),
    ),
    exists(`ALB ${p.ALB_ARN}`, async () => (await c.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [p.ALB_ARN] }))).LoadBalancers?.length === 1),
    exists(`certificate ${p.CERT_ARN}`, async () => !!(await c.acm.send(new DescribeCertificateCommand({ CertificateArn: p.CERT_ARN }))).Certificate),
    exists(`KMS key ${p.LOGS_KMS_KEY_ARN} (enabled)`, async () => (await c.kms.send(new DescribeKeyCommand({ KeyId: p.LOGS_KMS_KEY_ARN }))).KeyMetadata?.KeyState === 'Enabled'),
    exists(`secret ${p.DB_SECRET_ARN}`, async () => !(await c.secrets.send(new DescribeSecretCommand({ SecretId: p.DB_SECRET_ARN }))).DeletedDate),
    exists('Aurora cluster fintech-db-cluster', async () => (await c.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'fintech-db-cluster' }))).DBClusters?.length === 1),
    exists('DynamoDB table FinTechTransactions', async () => !!(await c.dynamodb.send(new DescribeTableCommand({ TableName: 'FinTechTransactions' }))).Table),
  ]);
  return checks.filter((x): x is string => !!x);
}

interface Inventory {
  clusters: number;
  repositories: number;
  roles: Record<string, number>;
  logGroups: number;
  activeRevisions: string[];
  totalRevisions: number;
  targetGroups: number;
  listeners443: number;
  services: number;
  scalableTargets: Record<string, number>;
  policies: Record<string, string[]>;
}

/** What moto holds of the runbook's own resources, counted by name. */
async function inventory(c: Clients): Promise<Inventory> {
  const { clusterArns = [] } = await c.ecs.send(new ListClustersCommand({}));
  const { clusters = [] } = clusterArns.length ? await c.ecs.send(new DescribeClustersCommand({ clusters: clusterArns })) : { clusters: [] };
  const { repositories = [] } = await c.ecr.send(new DescribeRepositoriesCommand({}));
  const roleNames: string[] = [];
  for (let marker: string | undefined, first = true; first || marker; first = false) {
    const page = await c.iam.send(new ListRolesCommand({ Marker: marker }));
    roleNames.push(...(page.Roles ?? []).map((r) => r.RoleName!));
    marker = page.IsTruncated ? page.Marker : undefined;
  }
  const { logGroups = [] } = await c.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: EXPECTED.logGroup }));
  const { taskDefinitionArns: active = [] } = await c.ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: EXPECTED.family, status: 'ACTIVE' }));
  const { taskDefinitionArns: inactive = [] } = await c.ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: EXPECTED.family, status: 'INACTIVE' }));
  const { TargetGroups = [] } = await c.elbv2.send(new DescribeTargetGroupsCommand({}));
  const { Listeners = [] } = await c.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: env.prerequisites.ALB_ARN }));
  let services = 0;
  if (clusters.some((k) => k.clusterName === EXPECTED.cluster && k.status === 'ACTIVE')) {
    const { serviceArns = [] } = await c.ecs.send(new ListServicesCommand({ cluster: EXPECTED.cluster }));
    const described = serviceArns.length ? (await c.ecs.send(new DescribeServicesCommand({ cluster: EXPECTED.cluster, services: serviceArns }))).services ?? [] : [];
    services = described.filter((s) => s.serviceName === EXPECTED.service && s.status === 'ACTIVE').length;
  }
  const scalableTargets: Record<string, number> = {};
  const policies: Record<string, string[]> = {};
  for (const namespace of Object.keys(EXPECTED.policies) as ServiceNamespace[]) {
    const { ScalableTargets = [] } = await c.autoscaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: namespace }));
    scalableTargets[namespace] = ScalableTargets.length;
    const { ScalingPolicies = [] } = await c.autoscaling.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: namespace }));
    policies[namespace] = ScalingPolicies.map((p) => p.PolicyName!).sort();
  }
  return {
    clusters: clusters.filter((k) => k.clusterName === EXPECTED.cluster && k.status === 'ACTIVE').length,
    repositories: repositories.filter((r) => r.repositoryName === EXPECTED.repository).length,
    roles: Object.fromEntries(EXPECTED.roles.map((name) => [name, roleNames.filter((n) => n === name).length])),
    logGroups: logGroups.filter((g) => g.logGroupName === EXPECTED.logGroup).length,
    activeRevisions: active,
    totalRevisions: active.length + inactive.length,
    targetGroups: TargetGroups.filter((t) => t.TargetGroupName === EXPECTED.targetGroup).length,
    listeners443: Listeners.filter((l) => l.Port === EXPECTED.listenerPort).length,
    services,
    scalableTargets,
    policies,
  };
}

function inventoryProblems(inv: Inventory): string[] {
  const problems: string[] = [];
  const one = (what: string, n: number) => n !== 1 && problems.push(`${n} × ${what} (expected 1)`);
  one(`ECS cluster ${EXPECTED.cluster} (ACTIVE)`, inv.clusters);
  one(`ECR repository ${EXPECTED.repository}`, inv.repositories);
  for (const [role, n] of Object.entries(inv.roles)) one(`IAM role ${role}`, n);
  one(`log group ${EXPECTED.logGroup}`, inv.logGroups);
  one(`target group ${EXPECTED.targetGroup}`, inv.targetGroups);
  one(`:${EXPECTED.listenerPort} listener on the ALB`, inv.listeners443);
  one(`ECS service ${EXPECTED.service} (ACTIVE)`, inv.services);
  if (inv.activeRevisions.length === 0) problems.push(`no ACTIVE revision of ${EXPECTED.family}`);
  if (inv.activeRevisions.length > EXPECTED.maxActiveRevisions) {
    problems.push(`${inv.activeRevisions.length} ACTIVE revisions of ${EXPECTED.family} (expected at most ${EXPECTED.maxActiveRevisions}): ${inv.activeRevisions.map((a) => a.split('/').pop()).join(', ')}`);
  }
  for (const [namespace, names] of Object.entries(EXPECTED.policies)) {
    one(`${namespace} scalable target`, inv.scalableTargets[namespace]);
    const found = inv.policies[namespace];
    if (JSON.stringify(found) !== JSON.stringify([...names].sort())) problems.push(`${namespace} scaling policies ${JSON.stringify(found)} (expected ${JSON.stringify(names)})`);
  }
  return problems;
}

/** The run's journal, events only (compact): what it wrote, what failed, how it ended. */
function journalOf(dir: string | undefined): Array<Record<string, unknown>> {
  if (!dir) return [];
  const files: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(d, entry.name));
      else if (entry.name.endsWith('.jsonl')) files.push(join(d, entry.name));
    }
  };
  try {
    walk(dir);
  } catch {
    return [];
  }
  return files.sort().flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        try {
          const { before: _before, ...rest } = JSON.parse(line) as Record<string, unknown>;
          return { file: file.slice(dir.length + 1), ...rest };
        } catch {
          return { file, raw: line };
        }
      }),
  );
}

const journalLine = (e: Record<string, unknown>) =>
  [e.type, e.step, e.operation, e.resource, e.outcome, e.error, e.detail].filter((x) => x !== undefined && x !== '').join(' ');

function outcomeOf(result: CliResult): string {
  if (!result.json) return `no JSON on stdout (exit ${result.code})`;
  if (result.code === 0) return 'ok';
  const c = result.json.compensation;
  if (!c) return 'failed, nothing to undo';
  return c.needsPerson?.length ? `half-applied (needs a person: ${c.needsPerson.join('; ')})` : `rolled back (${c.undone?.length ?? 0} step(s) undone)`;
}

const faultLine = (r: RequestRecord) => `#${r.seq} ${r.service}:${r.operation || r.path} ${r.injected}${r.injected === 'lostReply' ? ` (moto answered ${r.status}${r.targetError ? ` ${r.targetError}` : ''})` : ''}`;
const faultCounts = (s: FaultStats) => ALL_FAULT_KINDS.map((k) => `${k}=${s[k]}`).join(' ');

/** Which body field names the resource, per create/delete operation (listeners and task definition revisions: not by name). */
const RESOURCE_FIELD: Record<string, string> = {
  CreateCluster: 'clusterName',
  DeleteCluster: 'cluster',
  CreateRepository: 'repositoryName',
  DeleteRepository: 'repositoryName',
  PutLifecyclePolicy: 'repositoryName',
  DeleteLifecyclePolicy: 'repositoryName',
  CreateRole: 'RoleName',
  DeleteRole: 'RoleName',
  PutRolePolicy: 'RoleName',
  DeleteRolePolicy: 'RoleName',
  CreateLogGroup: 'logGroupName',
  DeleteLogGroup: 'logGroupName',
  CreateService: 'serviceName',
  DeleteService: 'service',
  CreateTargetGroup: 'Name',
  DeleteTargetGroup: 'TargetGroupArn',
  RegisterScalableTarget: 'ResourceId',
  DeregisterScalableTarget: 'ResourceId',
  PutScalingPolicy: 'PolicyName',
  DeleteScalingPolicy: 'PolicyName',
};

/** The resource a create or delete names, from its body ('' when not known): e.g. 'iam:role:FinTech-ECS-TaskRole'. */
function resourceOf(r: RequestRecord): string {
  const field = RESOURCE_FIELD[r.operation];
  if (!field || !r.body) return '';
  let fields: Record<string, unknown>;
  try {
    fields = r.protocol === 'json' ? (JSON.parse(r.body) as Record<string, unknown>) : Object.fromEntries(new URLSearchParams(r.body));
  } catch {
    return '';
  }
  let value = typeof fields[field] === 'string' ? (fields[field] as string) : '';
  if (field === 'TargetGroupArn') value = value.split('/')[1] ?? ''; // arn:...:targetgroup/<name>/<id>
  if (field === 'cluster' || field === 'service') value = value.split('/').pop() ?? '';
  // A policy is its own resource: DeleteRolePolicy must not look like DeleteRole.
  const kind = r.operation.replace(/^(Create|Delete|Put|Register|Deregister)/, '');
  return value ? `${r.service}:${kind}:${value}` : '';
}

/**
 * Reported, not asserted (issue 8 item 3 decides the rule): resources whose create got a lost
 * reply (the run never saw it succeed) and that the run's compensation then deleted.
 */
function ambiguousCreatesDeleted(log: RequestRecord[]): string[] {
  const notes: string[] = [];
  const isCreate = (op: string) => /^(Create|Register|Put)/.test(op) && op in RESOURCE_FIELD;
  const isDelete = (op: string) => /^(Delete|Deregister)/.test(op);
  log.forEach((r, i) => {
    if (r.injected !== 'lostReply' || !isCreate(r.operation)) return;
    const resource = resourceOf(r);
    if (!resource) return;
    const retry = log.slice(i + 1).find((n) => n.operation === r.operation && resourceOf(n) === resource);
    const deletedBy = log.slice(i + 1).find((n) => isDelete(n.operation) && resourceOf(n) === resource && (n.injected === null || n.injected === 'lostReply') && (n.status ?? 500) < 300);
    const retried = retry ? `retry answered ${retry.status}${retry.targetError ? ` ${retry.targetError}` : ''}` : 'not retried';
    notes.push(`${r.operation} ${resource}: reply lost (${retried})${deletedBy ? `; later deleted by this run's ${deletedBy.operation} (#${deletedBy.seq})` : ''}`);
  });
  return notes;
}

interface Scenario {
  /** 'seed 3' or 'lost reply on elasticloadbalancing:CreateListener'. */
  label: string;
  /** File name of the report. */
  id: string;
  seed: number;
  proxy: Omit<FaultProxyOptions, 'target' | 'seed'>;
  /**
   * Make the faulted apply fail at the service step ("Tasks Healthy": no targets register, 2 s
   * timeout), so that its compensation runs through the proxy too.
   */
  failService?: boolean;
}

/** config/local.yaml with a 2 s healthy-targets timeout, for a run that must fail at the service step. */
function failingServiceConfig(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'fintech-runbook-faults-')), 'local-unhealthy.yaml');
  const text = readFileSync(join(repoRoot, 'config/local.yaml'), 'utf8');
  if (!/healthyTargetsTimeoutSeconds: \d+/.test(text)) throw new Error('config/local.yaml has no service.healthyTargetsTimeoutSeconds to shorten');
  writeFileSync(file, text.replace(/healthyTargetsTimeoutSeconds: \d+/, 'healthyTargetsTimeoutSeconds: 2'));
  return file;
}

/** One scenario: faulted apply, clean re-apply, no-op apply, then inventory; every problem found. */
async function runScenario(scenario: Scenario): Promise<void> {
  const started = Date.now();
  await env.fresh();
  const c = clients();
  const proxy = await startFaultProxy({ target: env.emulator.endpoint, seed: scenario.seed, recordBodies: true, ...scenario.proxy });
  const faultedArgs = ['--config', scenario.failService ? failingServiceConfig() : 'config/local.yaml', '--endpoint-url', proxy.url, '--poll-interval', '0.1'];
  let first: CliResult;
  if (scenario.failService) env.simulator.registerTargets = false;
  try {
    first = await runCli([...faultedArgs, '--json', 'apply', '--yes'], { env: env.env, timeoutMs: FIRST_CLI_TIMEOUT_MS });
  } catch (error) {
    // Killed after FIRST_CLI_TIMEOUT_MS: still a finding to report with the proxy's log.
    first = { code: null, stdout: '', stderr: (error as Error).message };
  } finally {
    env.simulator.registerTargets = true;
    await proxy.close();
  }
  const firstSeconds = (Date.now() - started) / 1000;
  const faults = proxy.stats();
  const log = proxy.log();
  const firstJournal = journalOf(env.env.FINTECH_RUNBOOK_STATE_DIR);
  const problems: string[] = [];

  // 2. The faulted apply: success, or a failure whose compensation completed.
  if (first.code === null) problems.push(`first apply did not finish within ${FIRST_CLI_TIMEOUT_MS / 1000} s (killed)`);
  else if (first.code === 3) problems.push(`first apply exit 3: half-applied — ${outcomeOf(first)}`);
  else if (first.code !== 0 && first.code !== 1) problems.push(`first apply exit ${first.code} (expected 0, or 1 with a completed compensation)`);
  if (scenario.failService && first.code === 0) problems.push('first apply was meant to fail at the service step (no healthy targets) but succeeded');
  if (!first.json) problems.push(`first apply printed no JSON report (exit ${first.code})`);
  else if (first.code === 1 && first.json.compensation?.needsPerson?.length) problems.push(`first apply's compensation needs a person: ${first.json.compensation.needsPerson.join('; ')}`);
  const prerequisitesAfterFirst = await missingPrerequisites(c);
  problems.push(...prerequisitesAfterFirst.map((m) => `after the faulted apply: prerequisite ${m}`));

  // 3. Without faults (straight to moto), apply converges.
  const second = await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env, timeoutMs: CLEAN_CLI_TIMEOUT_MS });
  if (second.code !== 0) problems.push(`re-apply without faults did not converge: exit ${second.code}: ${second.json?.error ?? second.stderr.trim().split('\n').slice(-3).join(' | ')}`);

  // 4. And then nothing is left to do.
  const third = await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env, timeoutMs: CLEAN_CLI_TIMEOUT_MS });
  const writesAfter = third.json ? writesOf(third.json) : undefined;
  if (third.code !== 0) problems.push(`third apply exit ${third.code}: ${third.json?.error ?? third.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  if (!writesAfter) problems.push('third apply printed no JSON report');
  else if (writesAfter.length) problems.push(`third apply made writes: ${writesAfter.join(', ')}`);

  // 5. Exactly one of each, nothing that existed before deleted.
  const inv = await inventory(c);
  problems.push(...inventoryProblems(inv));
  problems.push(...(await missingPrerequisites(c)).filter((m) => !prerequisitesAfterFirst.includes(m)).map((m) => `after the re-apply: prerequisite ${m}`));
  for (const client of Object.values(c)) client.destroy();

  const ambiguous = ambiguousCreatesDeleted(log);
  const summary: ScenarioSummary = {
    label: scenario.label,
    faults,
    first: { code: first.code, outcome: outcomeOf(first), error: first.json?.error },
    converged: second.code === 0,
    secondCode: second.code,
    writesAfter,
    activeRevisions: inv.activeRevisions.length,
    totalRevisions: inv.totalRevisions,
    ambiguous,
    problems,
    seconds: { first: firstSeconds, total: (Date.now() - started) / 1000 },
  };
  summaries.push(summary);
  console.log(`[faults] ${summaryLine(summary)}`);

  const faultList = log.filter((r) => r.injected);
  const journalEvents = firstJournal.filter((e) => e.type === 'write-failed' || e.type === 'run-end' || (e.type === 'step-done' && e.outcome !== 'applied' && e.outcome !== 'in-sync'));
  const stepStatus = first.json?.steps?.map((s: { id: string; status: string }) => `${s.id}=${s.status}`).join(' ');
  const details = [
    `${scenario.label}: ${problems.length} problem(s)`,
    ...problems.map((p) => `  ✖ ${p}`),
    `first apply: exit ${first.code}, ${summary.first.outcome}${first.json?.error ? `, error: ${first.json.error}` : ''}`,
    `  steps: ${stepStatus ?? '?'}`,
    ...(first.json?.compensation ? [`  compensation: ${JSON.stringify(first.json.compensation)}`] : []),
    `faults injected (${faultList.length} of ${faults.total} requests):`,
    ...faultList.map((r) => `  ${faultLine(r)}`),
    ...(ambiguous.length ? ['creates whose reply was lost:', ...ambiguous.map((a) => `  ${a}`)] : []),
    'journal of the faulted apply (failures and outcomes):',
    ...journalEvents.map((e) => `  ${journalLine(e)}`),
    'stderr of the faulted apply (last 15 lines):',
    ...first.stderr.trim().split('\n').slice(-15).map((l) => `  ${l}`),
  ].join('\n');
  if (REPORT_DIR) {
    mkdirSync(REPORT_DIR, { recursive: true });
    const report = {
      summary,
      inventory: inv,
      // Bodies stay out of the report file: only what identifies the request.
      proxyLog: log.map(({ body: _body, ...r }) => ({ ...r, resource: resourceOf({ ...r, body: _body }) || undefined })),
      first: { code: first.code, json: first.json, stderr: first.stderr },
      second: { code: second.code, error: second.json?.error, writes: second.json ? writesOf(second.json) : undefined, stderr: second.code ? second.stderr : undefined },
      third: { code: third.code, writes: writesAfter },
      journal: journalOf(env.env.FINTECH_RUNBOOK_STATE_DIR),
    };
    writeFileSync(join(REPORT_DIR, `${scenario.id}.json`), JSON.stringify(report, null, 2));
    writeFileSync(join(REPORT_DIR, `${scenario.id}.txt`), `${details}\n`);
  }
  if (problems.length || ambiguous.length) console.log(details);
  expect(problems, details).toEqual([]);
}

const summaryLine = (s: ScenarioSummary) =>
  `${s.label}: ${faultCounts(s.faults)} of ${s.faults.total} requests | first apply exit ${s.first.code} (${s.first.outcome}) | converged ${s.converged ? 'yes' : `NO (exit ${s.secondCode})`} | writes after ${s.writesAfter ? s.writesAfter.length : '?'} | task-def ACTIVE ${s.activeRevisions} of ${s.totalRevisions} | ${s.seconds.first.toFixed(1)} s faulted + ${(s.seconds.total - s.seconds.first).toFixed(1)} s${s.ambiguous.length ? ` | lost create replies ${s.ambiguous.length} (then deleted by this run: ${s.ambiguous.filter((a) => a.includes('later deleted')).length})` : ''} | ${s.problems.length ? `FAIL (${s.problems.length})` : 'PASS'}`;

afterAll(() => {
  if (!summaries.length) return;
  const passed = summaries.filter((s) => !s.problems.length).length;
  console.log(`\nfault injection summary (${passed}/${summaries.length} passed, ${Math.round(RATE * 100)} % for the seeded runs):\n${summaries.map(summaryLine).join('\n')}\n`);
});

describe(`apply under ${Math.round(RATE * 100)} % injected faults (all kinds, lost replies included), seeds ${SEEDS.join(', ')}`, () => {
  it.each(SEEDS)(
    'seed %i: the faulted apply succeeds or compensates cleanly, a re-apply converges with no duplicates, the next makes 0 writes, no prerequisite is deleted',
    (seed) => runScenario({ label: `seed ${seed}`, id: `seed-${seed}`, seed, proxy: { rate: RATE } }),
    SEED_TIMEOUT_MS,
  );
});

// One lost reply on the first call of one write: deterministic, and each create's own behaviour
// under a retry (the seeded runs reach some of these only by chance).
const TARGETED: Array<{ target: string; operations: string[] }> = [
  { target: 'ecs:CreateCluster', operations: ['CreateCluster'] },
  { target: 'ecr:CreateRepository', operations: ['CreateRepository'] },
  { target: 'iam:CreateRole', operations: ['CreateRole'] },
  { target: 'logs:CreateLogGroup', operations: ['CreateLogGroup'] },
  { target: 'ecs:RegisterTaskDefinition', operations: ['RegisterTaskDefinition'] },
  { target: 'elbv2:CreateTargetGroup', operations: ['CreateTargetGroup'] },
  { target: 'elbv2:CreateListener', operations: ['CreateListener'] },
  { target: 'ecs:CreateService', operations: ['CreateService'] },
  { target: 'autoscaling:RegisterScalableTarget', operations: ['RegisterScalableTarget'] },
  { target: 'autoscaling:PutScalingPolicy', operations: ['PutScalingPolicy'] },
  { target: 'cloudwatch:PutMetricAlarm', operations: ['PutMetricAlarm'] }, // idempotent: the SDK's retry puts the same alarm
];

/** Every delete compensation may send, from the service back to the cluster. */
const COMPENSATION_DELETES = [
  'DeleteScalingPolicy',
  'DeregisterScalableTarget',
  'DeleteService',
  'DeleteAlarms',
  'DeleteListener',
  'DeleteTargetGroup',
  'DeregisterTaskDefinition',
  'DeleteLogGroup',
  'DeleteRolePolicy',
  'DeleteRole',
  'DeleteLifecyclePolicy',
  'DeleteRepository',
  'DeleteCluster',
];

describe.runIf(TARGETED_ON)('apply with one lost reply on a chosen write', () => {
  // A run that fails at the service step and whose compensation loses the reply of the first
  // delete of each kind: the SDK's retry of a delete that took effect finds nothing to delete.
  it(
    'lost reply on every kind of delete while a failed apply is undone: the compensation completes, then a re-apply converges',
    () => {
      const hit = new Set<string>();
      return runScenario({
        label: 'lost reply on each compensation delete',
        id: 'lost-reply-compensation-deletes',
        seed: 1,
        failService: true,
        proxy: {
          rate: 1,
          kinds: ['lostReply'],
          match: (r) => COMPENSATION_DELETES.includes(r.operation) && !hit.has(r.operation),
          onRequest: (r) => void (r.injected && hit.add(r.operation)),
        },
      });
    },
    SEED_TIMEOUT_MS,
  );

  it.each(TARGETED)(
    'lost reply on $target: succeeds or compensates cleanly, then converges with no duplicates and 0 writes after',
    ({ target, operations }) => {
      const hit = new Set<string>();
      return runScenario({
        label: `lost reply on ${target}`,
        id: `lost-reply-${target.replace(/[^A-Za-z0-9]+/g, '-')}`,
        seed: 1,
        proxy: {
          rate: 1,
          kinds: ['lostReply'],
          match: (r) => operations.includes(r.operation) && !hit.has(r.operation),
          onRequest: (r) => void (r.injected && hit.add(r.operation)),
        },
      });
    },
    SEED_TIMEOUT_MS,
  );
});
