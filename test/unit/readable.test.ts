// Issue 11, "readable at 3 a.m.": the pieces the e2e tests cannot pin down one by one — layout
// at a given width, the next command for each kind of failure, the plan lines and --diff, the
// line renderer, access errors, the state directory, help text, partitions and dimensions.
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PassThrough } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Listr } from 'listr2';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { load as parse } from 'js-yaml';
import { checklistTitles } from '../../src/checks/security-checklist.js';
import { renderRuns } from '../../src/commands/history.js';
import { columns, truncate, wrap } from '../../src/commands/layout.js';
import { documentDiff, nextCommands, renderFailures, renderPlan, shortValue } from '../../src/commands/report.js';
import { renderFindings } from '../../src/commands/shared.js';
import { names, parseConfig, partitionOf } from '../../src/config.js';
import { describeAccessProblem, describeAwsError, explain } from '../../src/core/errors.js';
import { defaultJournalDir, stateRoot, type RunSummary } from '../../src/core/journal.js';
import { LineRenderer } from '../../src/core/line-renderer.js';
import type { StepPlan } from '../../src/core/runner.js';
import { fail, ok, type Step } from '../../src/core/step.js';
import { CONFIG_VARIABLES, helpText } from '../../src/help.js';
import { putBusinessMetric } from '../../steps/business-metrics.js';
import { desiredLifecyclePolicy } from '../../steps/ecr.js';
import { tryItText, type Prerequisites } from '../../scripts/emulator.js';
import { fixtureEnv, mockAws, productionYaml, testConfig, type AwsMocks } from '../helpers/mock-aws.js';

describe('layout', () => {
  it('wraps at spaces, cuts a word longer than the width, and leaves short text alone', () => {
    expect(wrap('one two three four', 9)).toEqual(['one two', 'three', 'four']);
    expect(wrap('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
    expect(wrap('short', 40)).toEqual(['short']);
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
  });

  it('columns follow the longest cell; the last wraps under its own column on a narrow terminal', () => {
    const lines = columns(
      [
        ['OK', 'a', 'short'],
        ['FAIL', 'a much longer title', 'a reason that is long enough to wrap at this width'],
      ],
      { indent: '  ', width: 50 },
    );
    const start = lines[0].indexOf('short');
    expect(lines[1].indexOf('a reason')).toBe(start);
    expect(lines.length).toBeGreaterThan(2);
    for (const continuation of lines.slice(2)) {
      expect(continuation.slice(0, start).trim()).toBe('');
      expect(continuation.length).toBeLessThanOrEqual(50);
    }
    // Without a width (a pipe, a log file), every row stays one line for grep.
    expect(columns([['FAIL', 'x', 'a '.repeat(100)]])).toHaveLength(1);
  });

  it('findings: the check column is as wide as the longest check, not a fixed 32', () => {
    const findings = [ok('Short', 'r1', 'fine'), fail('3.2 Secrets only via Secrets Manager', 'task definition x:1', 'leak')];
    const [a, b] = renderFindings(findings, undefined);
    expect(a.indexOf('r1: fine')).toBe(b.indexOf('task definition x:1: leak'));
    expect(b).toMatch(/^ {2}FAIL 3\.2 Secrets only via Secrets Manager task definition x:1: leak$/);
  });
});

describe('the closing summary', () => {
  const drift = fail('Cluster Ready', 'ecs cluster c', 'differs from the config: settings.0.value (run plan)');
  const crash = fail('Service Stable', 'ecs service c/s', 'deployment ecs-svc/1 FAILED: tasks failed to start');
  const input = fail('3.4 Port 9090 only from ALB SG', 'security group sg-1', 'admits more than 9090 from sg-2: tcp 22 from 0.0.0.0/0');
  const blind = fail('Tasks Healthy', 'target group tg', 'could not be evaluated: AccessDenied');

  it('repeats each failing check once: check, resource, reason, aligned', () => {
    const lines = renderFailures([ok('X', 'y', 'z'), drift, crash], undefined);
    expect(lines[0]).toBe('2 checks FAILED:');
    const [first, second] = lines.slice(1);
    expect(first.indexOf('ecs cluster c')).toBe(second.indexOf('ecs service c/s'));
    expect(first.indexOf('differs')).toBe(second.indexOf('deployment ecs-svc/1'));
    expect(renderFailures([ok('X', 'y', 'z')])).toEqual([]);
  });

  it('suggests plan/apply for drift, diagnose and rollback for a crash loop, a person for an input, permissions when blind', () => {
    expect(nextCommands([drift], { command: 'validate' })).toEqual(['Next: `fintech-runbook plan` shows the drift; `fintech-runbook apply` restores the config']);
    const forCrash = nextCommands([crash], { command: 'validate' }).join('\n');
    expect(forCrash).toMatch(/^Next: `fintech-runbook diagnose` looks for a crash loop/);
    expect(forCrash).toContain('`fintech-runbook rollback --to previous`');
    expect(nextCommands([input], { command: 'validate' }).join('\n')).toContain('security group sg-1 is an input this tool never changes: fix it by hand');
    expect(nextCommands([blind], { command: 'validate' }).join('\n')).toMatch(/could not be evaluated: .*permissions/);
    expect(nextCommands([ok('X', 'y', 'z')], { command: 'validate' })).toEqual([]);
  });

  it('after a failed apply: undo when the changes were kept, history and undo when undoing did not complete', () => {
    expect(nextCommands([crash], { command: 'apply', runId: 'r-1', rolledBack: false }).join('\n')).toContain('`fintech-runbook undo r-1` undoes them');
    const half = nextCommands([], { command: 'apply', runId: 'r-2', compensation: { undone: [], needsPerson: ['x'], notes: [] }, rolledBack: false, stepError: true });
    expect(half.join('\n')).toContain('`fintech-runbook history r-2` lists this run\'s writes');
    expect(half.join('\n')).toContain('the error above names the step');
    expect(nextCommands([], { command: 'apply', runId: 'r-3', rolledBack: true })).toEqual([]);
  });
});

describe('the plan, one line per change', () => {
  const step = { id: 'cluster', section: '1.1', title: 'ECS cluster' } as Step;
  const plan = (changes: StepPlan['plan']['changes'], before = {}, resourceId = 'cluster'): StepPlan => ({
    step,
    plan: { changes, actions: changes.map((c) => ({ resource: c.resource, resourceId }) as never), before, outputs: undefined },
  });

  it('a create: its scalar fields with short values then document fields, cut to the width', () => {
    const lines = renderPlan(
      [
        plan([
          {
            resource: 'ecs cluster c',
            action: 'create',
            fields: [
              { field: 'clusterName', from: undefined, to: 'c' },
              { field: 'settings', from: undefined, to: [{ name: 'containerInsights', value: 'enabled' }] },
              { field: 'capacityProviders', from: undefined, to: Array.from({ length: 30 }, (_, i) => `P${i}`) },
            ],
          },
        ]),
      ],
      { width: 60 },
    );
    expect(lines[0]).toMatch(/^1\.1 ECS cluster {2}1 change \(1 write\)$/);
    expect(lines[1]).toBe('  + ecs cluster c  settings, capacityProviders');
    expect(shortValue(Array.from({ length: 30 }, (_, i) => `P${i}`))).toBe('[30 items]');
    const long = renderPlan([plan([{ resource: 'r', action: 'create', fields: Array.from({ length: 20 }, (_, i) => ({ field: `field${i}`, from: undefined, to: i })) }])], { width: 60 });
    expect(long[1]).toHaveLength(60);
    expect(long[1].endsWith('…')).toBe(true);
  });

  it('an update: each changed field from → to; in sync: "up to date"; step notes only where asked', () => {
    const lines = renderPlan([
      plan([{ resource: 'ecs cluster c', action: 'update', fields: [{ field: 'settings.0.value', from: 'disabled', to: 'enabled' }] }]),
      { step: { ...step, section: '2.4', title: 'Metrics' } as Step, plan: { changes: [], actions: [], before: {}, outputs: undefined, notes: ['a note'] } },
    ]);
    expect(lines).toEqual(['1.1 ECS cluster  1 change (1 write)', '  ~ ecs cluster c  settings.0.value: "disabled" → "enabled"', '2.4 Metrics      up to date', '    · a note']);
    expect(renderPlan([{ step: { ...step, section: '2.4', title: 'Metrics' } as Step, plan: { changes: [], actions: [], before: {}, outputs: undefined, notes: ['a note'] } }], { inSyncNotes: false })).toEqual([
      '2.4 Metrics  up to date',
    ]);
  });

  it('--diff: the whole document from the plan\'s before snapshot, as a unified diff', () => {
    const before = { cluster: { clusterName: 'c', settings: [{ name: 'containerInsights', value: 'disabled' }], tags: { A: '1' } } };
    const change = { resource: 'ecs cluster c', action: 'update' as const, fields: [{ field: 'settings.0.value', from: 'disabled', to: 'enabled' }] };
    const diff = documentDiff(change, plan([change], before));
    expect(diff[0]).toBe('--- ecs cluster c (now)');
    expect(diff[1]).toBe('+++ ecs cluster c (config)');
    expect(diff).toContain('-      "value": "disabled"');
    expect(diff).toContain('+      "value": "enabled"');
    expect(diff).toContain('   "settings": [');
    const created = documentDiff({ resource: 'r', action: 'create', fields: [{ field: 'name', from: undefined, to: 'x' }] }, plan([]));
    expect(created.filter((l) => l.startsWith('+') && !l.startsWith('+++'))).toEqual(['+{', '+  "name": "x"', '+}']);
  });
});

describe('the line renderer', () => {
  it('one line per step outcome, no start line; progress once per distinct message; a failure names the step', async () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString()));
    const tasks = new Listr(
      [
        {
          title: '1.1 First',
          task: async (_c, task) => {
            task.output = 'waiting: 0/3';
            task.output = 'waiting: 0/3';
            task.output = 'waiting: 3/3';
            task.title = '1.1 First: 1 change applied';
          },
        },
        {
          title: '1.2 Second',
          task: async (_c, task) => {
            task.title = '1.2 Second: section 4.1 checks';
            throw new Error('Service Stable FAIL');
          },
        },
      ],
      { renderer: LineRenderer, rendererOptions: { stream }, exitOnError: true, registerSignalListeners: false },
    );
    await expect(tasks.run()).rejects.toThrow('Service Stable FAIL');
    expect(text.split('\n').filter(Boolean)).toEqual(['    … waiting: 0/3', '    … waiting: 3/3', '✔ 1.1 First: 1 change applied', '✖ 1.2 Second: Service Stable FAIL']);
  });
});

describe('access problems and error text', () => {
  const econnrefused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', address: '127.0.0.1', port: 1, $metadata: { attempts: 10 } });

  it('a refused connection: one line naming the endpoint, with a hint', () => {
    expect(describeAccessProblem(econnrefused, { endpoint: 'http://127.0.0.1:1' })).toBe(
      'cannot reach http://127.0.0.1:1 (ECONNREFUSED 127.0.0.1:1): is it running and is the URL right? (`npm run emulator` starts a local one; without --endpoint-url the calls go to AWS)',
    );
    // Without --endpoint-url: AWS's own endpoint, from the error or the region.
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND ecs.eu-west-1.amazonaws.com'), { code: 'ENOTFOUND', hostname: 'ecs.eu-west-1.amazonaws.com' });
    expect(describeAccessProblem(dns, { region: 'eu-west-1' })).toMatch(/^cannot reach https:\/\/ecs\.eu-west-1\.amazonaws\.com \(ENOTFOUND\): check the network, a proxy \(HTTPS_PROXY\) and --region$/);
    // Wrapped as the cause of a step's error: found all the same.
    expect(describeAccessProblem(new Error('plan failed', { cause: econnrefused }), { endpoint: 'http://127.0.0.1:1' })).toMatch(/^cannot reach http:\/\/127\.0\.0\.1:1/);
  });

  it('credentials: names the profile or the default chain, says what to do', () => {
    const expired = Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException', $metadata: {} });
    expect(describeAccessProblem(expired, { profile: 'prod-ops' })).toBe(
      'AWS credentials from profile prod-ops were refused (ExpiredTokenException: The security token included in the request is expired): refresh it (e.g. `aws sso login --profile prod-ops`) or check ~/.aws/config',
    );
    expect(describeAccessProblem(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }))).toMatch(
      /^AWS credentials from the default credential chain .* could not be loaded .*: pass --profile or set AWS_PROFILE/,
    );
  });

  it('anything else is not an access problem, and a plain Error is never printed as "Error: …"', () => {
    expect(describeAccessProblem(Object.assign(new Error('nope'), { name: 'AccessDeniedException', $metadata: { requestId: 'r' } }))).toBeUndefined();
    expect(describeAwsError(econnrefused)).toBe('connect ECONNREFUSED 127.0.0.1:1');
    expect(explain(econnrefused)).not.toMatch(/^Error:/);
    expect(describeAwsError(Object.assign(new Error('m'), { name: 'ThrottlingException', $metadata: { requestId: 'r' } }))).toBe('ThrottlingException: m — request id r');
  });
});

describe('the state directory', () => {
  beforeEach(() => vi.unstubAllEnvs());
  afterEach(() => vi.unstubAllEnvs());
  const environment = { accountId: '210987654321', region: 'eu-west-1', cluster: { name: 'acme' } };

  it('is $XDG_STATE_HOME/fintech-runbook/<account>/<region>/<cluster>, else ~/.local/state/…, whatever the current directory', () => {
    vi.stubEnv('FINTECH_RUNBOOK_STATE_DIR', '');
    vi.stubEnv('XDG_STATE_HOME', '/var/state');
    expect(defaultJournalDir(environment)).toBe('/var/state/fintech-runbook/210987654321/eu-west-1/acme');
    vi.stubEnv('XDG_STATE_HOME', 'relative/ignored');
    vi.stubEnv('HOME', '/home/op');
    expect(stateRoot()).toBe('/home/op/.local/state/fintech-runbook');
    const cwd = process.cwd();
    process.chdir(mkdtempSync(join(tmpdir(), 'elsewhere-')));
    try {
      expect(defaultJournalDir(environment)).toBe('/home/op/.local/state/fintech-runbook/210987654321/eu-west-1/acme');
    } finally {
      process.chdir(cwd);
    }
  });

  it('FINTECH_RUNBOOK_STATE_DIR is used as it is; without it and without a config there is no default', () => {
    vi.stubEnv('FINTECH_RUNBOOK_STATE_DIR', '/tmp/exactly-here');
    expect(defaultJournalDir(environment)).toBe('/tmp/exactly-here');
    expect(defaultJournalDir()).toBe('/tmp/exactly-here');
    vi.stubEnv('FINTECH_RUNBOOK_STATE_DIR', '');
    expect(() => defaultJournalDir()).toThrow(/pass the config/);
  });

  it('history: a header, and columns that hold a long rollback command', () => {
    const run = (command: string, outcome: string): RunSummary => ({
      runId: `id-${command.length}`,
      command,
      startedAt: '2026-01-01T00:00:00.000Z',
      outcome,
      writes: 1,
      failedWrites: 0,
      steps: [],
      file: 'f',
      account: '1',
      region: 'r',
      cluster: 'c',
    });
    const lines = renderRuns([run('apply', 'ok'), run('rollback --to fintech-api-task:41', 'incomplete (crashed or still running)')]);
    expect(lines[0]).toMatch(/^STARTED \(UTC\) +COMMAND +OUTCOME +WRITES +ACCOUNT\/REGION\/CLUSTER +RUN ID$/);
    for (const header of ['OUTCOME', 'WRITES', 'RUN ID']) {
      const at = lines[0].indexOf(header);
      for (const row of lines.slice(1)) expect(row[at - 1] === ' ' && row[at] !== ' ', `${header}: ${row}`).toBe(true);
    }
  });
});

describe('help and the emulator', () => {
  it('the variables help lists are the ${VARS} config/production.yaml reads', () => {
    const placeholders = new Set<string>();
    const walk = (v: unknown): void => {
      if (typeof v === 'string') for (const m of v.matchAll(/\$\{([A-Z_]+)\}/g)) placeholders.add(m[1]);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(parse(productionYaml));
    expect([...CONFIG_VARIABLES].sort()).toEqual([...placeholders].sort());
  });

  it('each command\'s help has the environment, its exit codes and examples; history needs no config variables', () => {
    const plan = helpText('plan');
    expect(plan).toContain('Environment:');
    expect(plan).toMatch(/Exit codes:\n {2}0 {2}in sync\n {2}4 {2}changes pending/);
    expect(plan).toMatch(/Examples:\n {2}\$ fintech-runbook plan\n/);
    expect(helpText('history')).not.toContain('ACCOUNT_ID');
    expect(helpText('some-new-command', '<arg>')).toContain('$ fintech-runbook some-new-command <arg>');
  });

  it('`npm run emulator` prints the config\'s variables and the SDK\'s throwaway credentials and endpoint, nothing else', () => {
    const prerequisites = { ...Object.fromEntries(CONFIG_VARIABLES.map((v) => [v, `value-${v}`])), PUBLIC_SUB_A: 'subnet-public' } as Prerequisites;
    const text = tryItText('http://127.0.0.1:4566', prerequisites);
    const exported = [...text.matchAll(/export ([^\n]+)/g)].flatMap((m) => [...m[1].matchAll(/([A-Z_]+)='/g)].map((v) => v[1]));
    expect(exported).toEqual([...CONFIG_VARIABLES, 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_ENDPOINT_URL']);
    expect(text).not.toContain('PUBLIC_SUB_A');
    expect(text).not.toContain('--yes');
  });
});

describe('values from the config, not the code', () => {
  it('the ARN partition and registry domain follow the region', () => {
    expect(['us-east-1', 'eu-west-1', 'cn-north-1', 'us-gov-west-1'].map(partitionOf)).toEqual(['aws', 'aws', 'aws-cn', 'aws-us-gov']);
    const china = { ...testConfig(), region: 'cn-north-1' };
    expect(names.roleArn(china, 'R')).toBe('arn:aws-cn:iam::123456789012:role/R');
    expect(names.logGroupArn(china)).toBe('arn:aws-cn:logs:cn-north-1:123456789012:log-group:/ecs/fintech-api');
    expect(names.repositoryUri(china)).toBe('123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/fintech-api');
    expect(names.arn({ ...testConfig(), region: 'us-gov-west-1' }, 's3', 'b/*', { region: '', account: '' })).toBe('arn:aws-us-gov:s3:::b/*');
  });

  it('refuses an input ARN of another partition than the region\'s', () => {
    const env = { ...fixtureEnv, CERT_ARN: (fixtureEnv.CERT_ARN as string).replace('us-east-1', 'cn-north-1') };
    const yaml = productionYaml.replace(/^region: .*$/m, 'region: cn-north-1');
    expect(() => parseConfig(yaml, env)).toThrow(/inputs\.certificateArn: is in partition aws, but region cn-north-1 is in aws-cn/);
  });

  it('the lifecycle rule says what the config keeps; 3.4 names the configured port', () => {
    const config = testConfig();
    expect(desiredLifecyclePolicy(config).rules[0].description).toBe('Keep the last 30 images tagged prod*');
    const other = { ...config, ecr: { ...config.ecr, lifecycle: { keepLast: 5, tagPrefixes: ['rel', 'hotfix'] } } };
    expect(desiredLifecyclePolicy(other).rules[0].description).toBe('Keep the last 5 images tagged rel*, hotfix*');
    expect(checklistTitles(config).network).toBe('3.4 Port 8080 only from ALB SG');
    expect(checklistTitles({ ...config, taskDefinition: { ...config.taskDefinition, api: { ...config.taskDefinition.api, port: 9090 } } }).network).toBe('3.4 Port 9090 only from ALB SG');
  });

  describe('section 2.4 dimensions', () => {
    let aws: AwsMocks;
    beforeEach(() => {
      aws = mockAws();
      aws.cloudwatch.on(PutMetricDataCommand).resolves({});
    });

    it('default to the runbook\'s (Service=PaymentAPI, Service=Auth) and come from metrics.dimensions when set', async () => {
      // Without metrics.dimensions in the file: the runbook's.
      const unset = productionYaml.replace(/^ {2}dimensions:.*\n(?: {4}.*\n)*/m, '');
      expect(unset).not.toContain('PaymentAPI');
      expect(parseConfig(unset, fixtureEnv).metrics.dimensions).toEqual({
        TransactionsProcessed: { Service: 'PaymentAPI' },
        LoginSuccess: { Service: 'Auth' },
        FraudFlags: {},
        APIErrors: {},
        PaymentLatency: {},
      });
      expect(testConfig().metrics.dimensions.TransactionsProcessed).toEqual({ Service: 'PaymentAPI' });
      const yaml = unset.replace(/^( {2}recentMinutes: .*)$/m, '$1\n  dimensions:\n    TransactionsProcessed: { Service: Payments, Region: eu }');
      const other = parseConfig(yaml, fixtureEnv);
      expect(other.metrics.dimensions.LoginSuccess).toEqual({ Service: 'Auth' });
      const clients = { cloudwatch: new CloudWatchClient({ region: 'us-east-1' }) };
      const published = await putBusinessMetric(clients, other, 'TransactionsProcessed', 1);
      expect(published.dimensions).toEqual({ Service: 'Payments', Region: 'eu' });
      expect(aws.cloudwatch.commandCalls(PutMetricDataCommand)[0].args[0].input.MetricData![0].Dimensions).toEqual([
        { Name: 'Service', Value: 'Payments' },
        { Name: 'Region', Value: 'eu' },
      ]);
    });
  });
});

