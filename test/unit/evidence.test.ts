// The evidence report of `validate --report` (src/commands/evidence.ts) and the request-id recorder
// it cites (src/aws/clients.ts). The recorder runs inside the SDK's real send (aws-sdk-client-mock
// would bypass it), so those tests send real commands to a local HTTP server on 127.0.0.1.
import { DescribeClustersCommand, UpdateClusterCommand } from '@aws-sdk/client-ecs';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createClients, RequestLog } from '../../src/aws/clients.js';
import { buildEvidence, evidenceResult, lastReadOf, renderMarkdown, reportTargets, scrub, toolVersion, writeEvidence, type EvidenceInput } from '../../src/commands/evidence.js';
import { UsageError } from '../../src/core/errors.js';
import type { RunReport } from '../../src/core/runner.js';
import type { Finding } from '../../src/core/step.js';
import { evidenceSchema } from '../helpers/evidence-schema.js';

const packageVersion = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('reportTargets: where the report goes, checked before any AWS call', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'evidence-targets-'));
  });

  it('is nothing without --report, and --report-format alone is a usage error', () => {
    expect(reportTargets({}, ['config/production.yaml'])).toBeUndefined();
    expect(() => reportTargets({ reportFormat: 'markdown' }, ['config/production.yaml'])).toThrow(/--report-format: needs --report/);
  });

  it('takes json or markdown, and the format from a .md name; anything else names the flag', () => {
    expect(reportTargets({ report: join(dir, 'r.json') }, ['a.yaml'])?.('a.yaml')).toEqual({ file: join(dir, 'r.json'), format: 'json' });
    expect(reportTargets({ report: join(dir, 'r.md') }, ['a.yaml'])?.('a.yaml').format).toBe('markdown');
    expect(reportTargets({ report: join(dir, 'r.txt'), reportFormat: 'markdown' }, ['a.yaml'])?.('a.yaml').format).toBe('markdown');
    const error = (() => {
      try {
        reportTargets({ report: join(dir, 'r.json'), reportFormat: 'pdf' }, ['a.yaml']);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe('--report-format: "pdf" is not json or markdown');
  });

  it('refuses a file in a folder that does not exist', () => {
    expect(() => reportTargets({ report: join(dir, 'missing', 'r.json') }, ['a.yaml'])).toThrow(/--report: folder .*missing does not exist/);
  });

  it('with several environments needs a folder, and names each report after its config file', () => {
    expect(() => reportTargets({ report: join(dir, 'r.json') }, ['envs/prod.yaml', 'envs/staging.yaml'])).toThrow(/with 2 environments it names a folder/);
    const target = reportTargets({ report: dir, reportFormat: 'markdown' }, ['envs/prod.yaml', 'envs/staging.yaml'])!;
    expect(target('envs/prod.yaml')).toEqual({ file: join(dir, 'prod.evidence.md'), format: 'markdown' });
    expect(target('envs/staging.yaml')).toEqual({ file: join(dir, 'staging.evidence.md'), format: 'markdown' });
    expect(() => reportTargets({ report: dir }, ['a/prod.yaml', 'b/prod.yaml'])).toThrow(/two configs would write .*prod\.evidence\.json/);
  });

  it('one environment and a folder: the report is named after the config', () => {
    expect(reportTargets({ report: dir }, ['config/production.yaml'])?.('config/production.yaml')).toEqual({ file: join(dir, 'production.evidence.json'), format: 'json' });
  });
});

// --- Building ----------------------------------------------------------------------------------

const SECRET = 'hunter2-s3cr3t-value';
const ENV_VALUE = 'https://internal.example/payments';

function sampleFindings(): Finding[] {
  return [
    {
      check: 'ECS.5 Read-only root filesystem',
      status: 'FAIL',
      resource: 'task definition fintech-api-task:3',
      reason: 'api-container: readonlyRootFilesystem false',
      controls: ['ECS.5'],
      resourceArn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/fintech-api-task:3',
      observed: { 'api-container': false },
      requestId: 'req-td-1',
    },
    {
      check: 'RB.ECS.1 Secrets only via Secrets Manager',
      status: 'FAIL',
      resource: 'task definition fintech-api-task:3',
      reason: 'DB_PASSWORD in cleartext environment (move to secrets)',
      controls: ['RB.ECS.1'],
      // A check that recorded too much: the report masks it anyway.
      observed: { environment: [{ name: 'DB_PASSWORD', value: SECRET }, { name: 'API_URL', value: ENV_VALUE }], DB_PASSWORD: SECRET },
      requestId: 'req-td-1',
    },
    { check: '3.4 Port 8080 only from ALB SG', status: 'OK', resource: 'security group sg-0ec5000000000000a', reason: 'only from sg-0a1b' },
    { check: 'Cluster Ready', status: 'OK', resource: 'ecs cluster fintech-prod-cluster', reason: 'ACTIVE' },
    { check: 'Business Metrics', status: 'WARN', resource: 'metric FinTech/Business FraudFlags', reason: 'no data' },
  ];
}

function sampleRequests(): RequestLog {
  const log = new RequestLog();
  const at = '2026-01-05T03:12:09.000Z';
  log.record({ service: 'sts', operation: 'GetCallerIdentity', input: {}, requestId: 'req-sts', httpStatusCode: 200, at });
  log.record({ service: 'ecs', operation: 'DescribeClusters', input: { clusters: ['fintech-prod-cluster'], include: ['SETTINGS'] }, requestId: 'req-cluster', httpStatusCode: 200, at });
  log.record({ service: 'ecs', operation: 'DescribeServices', input: { cluster: 'fintech-prod-cluster', services: ['fintech-api-svc'] }, requestId: 'req-service', httpStatusCode: 200, at });
  log.record({ service: 'ecs', operation: 'DescribeTaskDefinition', input: { taskDefinition: 'arn:aws:ecs:us-east-1:123456789012:task-definition/fintech-api-task:3' }, requestId: 'req-td-1', httpStatusCode: 200, at });
  log.record({ service: 'ec2', operation: 'DescribeSecurityGroups', input: { GroupIds: ['sg-0ec5000000000000a', 'sg-0a1b0000000000000'] }, requestId: 'req-sg', httpStatusCode: 200, at });
  return log;
}

function sampleInput(findings = sampleFindings()): EvidenceInput {
  const report: RunReport = { command: 'validate', ok: false, steps: [], findings, calls: { reads: 5, writes: 0, byOperation: [] } };
  return {
    configFile: 'config/production.yaml',
    configHash: `sha256:${'a'.repeat(64)}`,
    account: '123456789012',
    region: 'us-east-1',
    cluster: 'fintech-prod-cluster',
    identity: { account: '123456789012', arn: 'arn:aws:sts::123456789012:assumed-role/Operator/alice', userId: 'AROAEXAMPLE:alice' },
    startedAt: new Date('2026-01-05T03:12:08.000Z'),
    finishedAt: new Date('2026-01-05T03:12:11.000Z'),
    steps: ['cluster', 'task-definition'],
    report,
    requests: sampleRequests(),
  };
}

describe('buildEvidence', () => {
  it('has every field an auditor needs, by the schema', () => {
    const evidence = evidenceSchema.parse(buildEvidence(sampleInput()));
    expect(evidence.tool).toEqual({ name: 'fintech-runbook', version: packageVersion });
    expect(evidence).toMatchObject({
      config: { file: 'config/production.yaml', hash: `sha256:${'a'.repeat(64)}` },
      account: '123456789012',
      region: 'us-east-1',
      caller: { arn: 'arn:aws:sts::123456789012:assumed-role/Operator/alice' },
      startedAt: '2026-01-05T03:12:08.000Z',
      finishedAt: '2026-01-05T03:12:11.000Z',
      summary: { ok: false, total: 5, OK: 2, FAIL: 2, WARN: 1, SKIP: 0 },
      calls: { reads: 5, writes: 0 },
    });
    expect(evidence.reads.map((r) => r.call)).toEqual(['sts:GetCallerIdentity', 'ecs:DescribeClusters', 'ecs:DescribeServices', 'ecs:DescribeTaskDefinition', 'ec2:DescribeSecurityGroups']);
  });

  it('a control result: its id, title from the control table, ARN, observed value and the request id the check recorded', () => {
    const [ecs5] = buildEvidence(sampleInput()).results;
    expect(ecs5).toEqual({
      id: 'ECS.5',
      controls: ['ECS.5'],
      checklist: [],
      check: 'ECS.5 Read-only root filesystem',
      title: expect.stringMatching(/read-only access to root filesystems/),
      resource: 'task definition fintech-api-task:3',
      resourceArn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/fintech-api-task:3',
      status: 'FAIL',
      reason: 'api-container: readonlyRootFilesystem false',
      observed: { 'api-container': false },
      requestId: 'req-td-1',
      requestIdSource: 'finding',
      readBy: 'ecs:DescribeTaskDefinition',
    });
  });

  it('a checklist result carries its section 3 number and the controls that implement it', () => {
    const result = buildEvidence(sampleInput()).results.find((r) => r.check.startsWith('3.4'))!;
    expect(result.id).toBe('3.4');
    expect(result.checklist).toEqual(['3.4']);
    expect(result.controls.length).toBeGreaterThan(0);
    // It recorded no request id: the last read of its security group stands for it, and says so.
    expect(result).toMatchObject({ requestId: 'req-sg', requestIdSource: 'last-read', readBy: 'ec2:DescribeSecurityGroups' });
  });

  it('a check without a request id of its own cites the last read of that kind of resource, not any read naming it', () => {
    const cluster = buildEvidence(sampleInput()).results.find((r) => r.check === 'Cluster Ready')!;
    // DescribeServices names the cluster too (and came later); DescribeClusters reads clusters.
    expect(cluster).toMatchObject({ requestId: 'req-cluster', requestIdSource: 'last-read', readBy: 'ecs:DescribeClusters' });
  });

  it('no read of the resource: the request id is null and says none', () => {
    const metric = buildEvidence(sampleInput()).results.find((r) => r.check === 'Business Metrics')!;
    expect(metric).toMatchObject({ requestId: null, requestIdSource: 'none', readBy: null, observed: null, resourceArn: null });
  });

  it('masks environment values and values under secret-looking keys, whatever a check recorded', () => {
    const text = JSON.stringify(buildEvidence(sampleInput()));
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(ENV_VALUE);
    const leak = buildEvidence(sampleInput()).results.find((r) => r.id === 'RB.ECS.1')!;
    expect(leak.observed).toEqual({ environment: [{ name: 'DB_PASSWORD', value: '(masked)' }, { name: 'API_URL', value: '(masked)' }], DB_PASSWORD: '(masked)' });
  });

  it('scrub masks a value under a secret-looking key, and leaves names, ARNs and other values alone', () => {
    expect(scrub({ environment: ['ENV', 'REGION'], SecretId: 'arn:aws:secretsmanager:us-east-1:1:secret:x', ApiToken: 'abc123', retentionInDays: 365 })).toEqual({
      environment: ['ENV', 'REGION'],
      SecretId: 'arn:aws:secretsmanager:us-east-1:1:secret:x',
      ApiToken: '(masked)',
      retentionInDays: 365,
    });
    expect(scrub({ platformVersion: 'LATEST', users: { api: '1000:1000' } })).toEqual({ platformVersion: 'LATEST', users: { api: '1000:1000' } });
  });

  it('lists the definition of every control a result cites', () => {
    const ids = buildEvidence(sampleInput()).controls.map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining(['ECS.5', 'RB.ECS.1']));
    expect(buildEvidence(sampleInput()).controls.every((c) => c.passes.length > 0)).toBe(true);
  });
});

describe('lastReadOf', () => {
  const at = '2026-01-05T03:12:09.000Z';
  it('prefers the read naming more of the resource: both cluster and service', () => {
    const reads = [
      { service: 'ecs', operation: 'DescribeServices', input: { cluster: 'prod-cluster', services: ['api-svc'] }, requestId: 'both', at },
      { service: 'ecs', operation: 'DescribeClusters', input: { clusters: ['prod-cluster'] }, requestId: 'cluster-only', at },
    ];
    expect(lastReadOf({ check: 'ECS Service', status: 'OK', resource: 'ecs service prod-cluster/api-svc', reason: '' }, reads)?.requestId).toBe('both');
  });

  it('a read naming the resource inside another id (a scaling policy of the service) loses to the read of the resource itself', () => {
    const reads = [
      { service: 'ecs', operation: 'DescribeServices', input: { cluster: 'prod-cluster', services: ['api-svc'] }, requestId: 'service', at },
      { service: 'autoscaling', operation: 'DescribeScalingPolicies', input: { ServiceNamespace: 'ecs', ResourceId: 'service/prod-cluster/api-svc' }, requestId: 'policies', at },
    ];
    expect(lastReadOf({ check: 'ECS Service', status: 'OK', resource: 'ecs service prod-cluster/api-svc', reason: '' }, reads)?.requestId).toBe('service');
  });

  it('the kind is the words before "of": a lifecycle policy of a repository is GetLifecyclePolicy', () => {
    const reads = [
      { service: 'ecr', operation: 'GetLifecyclePolicy', input: { repositoryName: 'fintech-api' }, requestId: 'lifecycle', at },
      { service: 'ecr', operation: 'GetRepositoryPolicy', input: { repositoryName: 'fintech-api' }, requestId: 'policy', at },
    ];
    expect(lastReadOf({ check: 'ECR', status: 'OK', resource: 'lifecycle policy of ecr repository fintech-api', reason: '' }, reads)?.requestId).toBe('lifecycle');
    expect(lastReadOf({ check: 'ECR', status: 'OK', resource: 'repository policy of ecr repository fintech-api', reason: '' }, reads)?.requestId).toBe('policy');
  });

  it('matches a name inside an ARN, and never a plain word like "ecs"', () => {
    const reads = [
      { service: 'logs', operation: 'DescribeLogGroups', input: { logGroupNamePrefix: '/ecs/fintech-api' }, requestId: 'group', at },
      { service: 'ecs', operation: 'DescribeClusters', input: { clusters: ['arn:aws:ecs:us-east-1:1:cluster/other'] }, requestId: 'other', at },
    ];
    expect(lastReadOf({ check: 'Logs', status: 'OK', resource: 'log group /ecs/fintech-api (streams app*)', reason: '' }, reads)?.requestId).toBe('group');
    expect(lastReadOf({ check: 'Role', status: 'OK', resource: 'iam role Nobody', reason: '' }, reads)).toBeUndefined();
  });
});

describe('renderMarkdown', () => {
  it('shows the same fields on one page: tool, config hash, account, region, caller, times, and each result', () => {
    const evidence = buildEvidence(sampleInput());
    const page = renderMarkdown(evidence);
    for (const text of [
      `fintech-runbook ${packageVersion}`,
      evidence.config.hash,
      'Account | 123456789012',
      'Region | us-east-1',
      'arn:aws:sts::123456789012:assumed-role/Operator/alice',
      '2026-01-05T03:12:08.000Z',
      '2026-01-05T03:12:11.000Z',
      '## Failed (2)',
      '| FAIL | ECS.5 |',
      'arn:aws:ecs:us-east-1:123456789012:task-definition/fintech-api-task:3',
      '`req-td-1` ecs:DescribeTaskDefinition',
      '`req-sg` ec2:DescribeSecurityGroups (last read of it)',
      '| 3.4 |',
      '`{"api-container":false}`',
      '## Controls',
      '## AWS reads (5)',
    ]) {
      expect(page).toContain(text);
    }
    expect(page).not.toContain(SECRET);
    expect(page).not.toContain(ENV_VALUE);
  });

  it('escapes pipes in cells: a reason with | stays in its column', () => {
    const findings: Finding[] = [{ check: 'X', status: 'OK', resource: 'thing a|b', reason: 'one | two' }];
    const page = renderMarkdown(buildEvidence(sampleInput(findings)));
    expect(page).toContain('| OK | X |  | X | thing a\\|b | one \\| two |');
  });
});

describe('writeEvidence', () => {
  it('writes mode 0600, replacing an existing file (and its mode), leaving no temporary file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'evidence-write-'));
    const file = join(dir, 'r.json');
    writeFileSync(file, 'old', { mode: 0o644 });
    writeEvidence({ file, format: 'json' }, buildEvidence(sampleInput()));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(evidenceSchema.parse(JSON.parse(readFileSync(file, 'utf8'))).results).toHaveLength(5);
    expect(existsSync(join(dir, `.r.json.${process.pid}.tmp`))).toBe(false);
  });
});

describe('toolVersion', () => {
  it("is package.json's", () => {
    expect(toolVersion()).toEqual({ name: 'fintech-runbook', version: packageVersion });
  });
});

describe('evidenceResult on a finding with an unknown request id', () => {
  it('keeps the id the check recorded, without a call name', () => {
    const result = evidenceResult({ check: 'ECS.2 x', status: 'OK', resource: 'ecs service c/s', reason: '', controls: ['ECS.2'], requestId: 'req-elsewhere' }, new RequestLog());
    expect(result).toMatchObject({ requestId: 'req-elsewhere', requestIdSource: 'finding', readBy: null });
  });
});

// --- The recorder, on real sends --------------------------------------------------------------

describe('the request-id recorder (real sends to a loopback server)', () => {
  let server: Server;
  let endpointUrl: string;
  let served = 0;

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      req.resume();
      req.on('end', () => {
        const target = String(req.headers['x-amz-target'] ?? '');
        served++;
        const missing = target.endsWith('.DescribeClusters') && req.headers['x-test-fail'] === '1';
        const body = JSON.stringify(target.endsWith('.UpdateCluster') ? { cluster: {} } : missing ? { __type: 'ClusterNotFoundException', message: 'no' } : { clusters: [], failures: [] });
        res.writeHead(missing ? 400 : 200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': `req-${served}` });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpointUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    served = 0;
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'x');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'y');
    vi.stubEnv('AWS_SESSION_TOKEN', '');
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  });
  afterEach(() => vi.unstubAllEnvs());

  it('records each distinct read with the request id of its answer; the last answer wins; writes are not recorded', async () => {
    const clients = createClients({ region: 'us-east-1', endpointUrl, maxAttempts: 1 });
    try {
      await clients.ecs.send(new DescribeClustersCommand({ clusters: ['a'] }));
      await clients.ecs.send(new DescribeClustersCommand({ clusters: ['b'] }));
      // Asked again past the run's read cache (as a poll does): the newer answer is the evidence.
      await clients.cache.fresh(() => clients.ecs.send(new DescribeClustersCommand({ clusters: ['a'] })));
      await clients.ecs.send(new UpdateClusterCommand({ cluster: 'a', settings: [] }));
      expect(clients.requests.list().map((r) => [r.operation, r.input, r.requestId, r.httpStatusCode])).toEqual([
        ['DescribeClusters', { clusters: ['b'] }, 'req-2', 200],
        ['DescribeClusters', { clusters: ['a'] }, 'req-3', 200],
      ]);
    } finally {
      clients.destroy();
    }
  });

  it('a read the per-run cache answers is not sent: the first answer\'s request id stands for it', async () => {
    const clients = createClients({ region: 'us-east-1', endpointUrl, maxAttempts: 1 });
    try {
      await clients.ecs.send(new DescribeClustersCommand({ clusters: ['a'] }));
      await clients.ecs.send(new DescribeClustersCommand({ clusters: ['a'] }));
      expect(served).toBe(1);
      expect(clients.requests.list().map((r) => r.requestId)).toEqual(['req-1']);
    } finally {
      clients.destroy();
    }
  });

  it('a failed read is evidence too: its error name and request id', async () => {
    const clients = createClients({ region: 'us-east-1', endpointUrl, maxAttempts: 1 });
    try {
      const command = new DescribeClustersCommand({ clusters: ['gone'] });
      command.middlewareStack.add((next) => (args) => {
        (args as { request: { headers: Record<string, string> } }).request.headers['x-test-fail'] = '1';
        return next(args);
      }, { step: 'build' });
      await expect(clients.ecs.send(command)).rejects.toThrow();
      expect(clients.requests.list()).toEqual([
        expect.objectContaining({ operation: 'DescribeClusters', requestId: 'req-1', httpStatusCode: 400, error: 'ClusterNotFoundException' }),
      ]);
    } finally {
      clients.destroy();
    }
  });
});
