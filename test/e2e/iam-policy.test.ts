// `fintech-runbook iam-policy` as a user runs it (the built CLI), and the call log the IAM policy
// audit is built on (FINTECH_RUNBOOK_CALL_LOG). The audit itself, every call of the whole e2e suite
// against the policy, is test/e2e/iam-policy-audit.test.ts (it runs after every other file).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CallLogLine } from '../../src/aws/call-log.js';
import { countingEndpoint, runCli, useEmulator } from '../helpers/e2e.js';

const env = useEmulator();

beforeAll(async () => {
  await env.fresh();
});

describe('iam-policy', () => {
  it('prints a policy document on stdout (notes on stderr) from the config alone: no AWS call', async () => {
    const endpoint = await countingEndpoint();
    try {
      const args = env.args.map((a) => (a === env.emulator.endpoint ? endpoint.url : a));
      const result = await runCli([...args, 'iam-policy'], { env: env.env });
      expect(result.code, result.stderr).toBe(0);
      const policy = JSON.parse(result.stdout) as { Version: string; Statement: Array<{ Action: string[]; Resource: string | string[] }> };
      expect(policy.Version).toBe('2012-10-17');
      const actions = policy.Statement.flatMap((s) => s.Action);
      expect(actions).toEqual(expect.arrayContaining(['ecs:CreateService', 'iam:PassRole', 'elasticloadbalancing:CreateListener', 'logs:CreateLogGroup']));
      expect(JSON.stringify(policy)).toContain(`arn:aws:ecs:us-east-1:${env.prerequisites.ACCOUNT_ID}:service/fintech-prod-cluster/fintech-api-svc`);
      expect(JSON.stringify(policy)).toContain(env.prerequisites.ALB_ARN);
      expect(result.stderr).toMatch(/sts:GetCallerIdentity .* needs no permission/);
      expect(endpoint.requests()).toBe(0);
    } finally {
      await endpoint.close();
    }
  });

  it('--steps and --read-only narrow it; an unknown step is exit 2', async () => {
    const ecr = await runCli([...env.args, 'iam-policy', '--steps', 'ecr'], { env: env.env });
    expect(ecr.code, ecr.stderr).toBe(0);
    const actions = (JSON.parse(ecr.stdout) as { Statement: Array<{ Action: string[] }> }).Statement.flatMap((s) => s.Action);
    expect(actions).toContain('ecr:CreateRepository');
    expect(actions).not.toContain('ecs:CreateService');
    const readOnly = await runCli([...env.args, 'iam-policy', '--read-only'], { env: env.env });
    const reads = (JSON.parse(readOnly.stdout) as { Statement: Array<{ Action: string[] }> }).Statement.flatMap((s) => s.Action);
    expect(reads.filter((a) => !/:(Describe|List|Get|BatchGet|Filter)/.test(a))).toEqual([]);
    const typo = await runCli([...env.args, 'iam-policy', '--steps', 'ecr,servce'], { env: env.env });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('--steps: unknown step "servce"');
  });
});

describe('FINTECH_RUNBOOK_CALL_LOG', () => {
  it('appends one line per run with the AWS operations it sent: the same counts --json reports', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fintech-calls-')), 'calls.jsonl');
    const plan = await runCli([...env.args, '--json', 'plan'], { env: { ...env.env, FINTECH_RUNBOOK_CALL_LOG: file } });
    expect(plan.code).toBe(4);
    const bad = await runCli([...env.args, '--only', 'nope', 'plan'], { env: { ...env.env, FINTECH_RUNBOOK_CALL_LOG: file } });
    expect(bad.code).toBe(2);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as CallLogLine);
    expect(lines).toHaveLength(2);
    expect(lines[0].args).toEqual([...env.args, '--json', 'plan']);
    expect(lines[0].calls).toEqual(plan.json.calls.byOperation);
    expect(lines[0].calls.length).toBeGreaterThan(10);
    // A usage error sent nothing, and says so.
    expect(lines[1].calls).toEqual([]);
  });
});
