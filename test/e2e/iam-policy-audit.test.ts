// Issue 9 item 6: the whole e2e suite's AWS calls against `iam-policy`. Every CLI run of the suite
// logged the operations it sent (test/helpers/e2e.ts runCli → FINTECH_RUNBOOK_CALL_LOG, one file
// per run in this vitest run's folder, test/helpers/call-log.ts). This file is its own vitest
// project in a later group (vitest.config.ts, groupOrder 1): it starts only once every other test
// file has finished, however the two workers shared them out. It then asserts that
//   - every operation any run sent is in the policy (a write the policy lacks would be AccessDenied
//     in the middle of a run on AWS), and
//   - every operation in the policy was sent by some run, but for the few below that the emulator
//     cannot reach, each with its reason and a unit test that sends it.
// Run alone it has nothing to judge and says so: `npx vitest run test/e2e` (or `npm test`).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { grantedOperations, iamAction, UNAUTHORISED_OPERATIONS } from '../../src/commands/iam-policy.js';
import { loggedRuns } from '../helpers/call-log.js';
import { repoRoot } from '../helpers/e2e.js';
import { testConfig } from '../helpers/mock-aws.js';

/**
 * Operations the tool sends on AWS that no e2e scenario makes it send against moto. Each names
 * why, and test/unit holds a test that sends it (checked below).
 */
const NOT_SENT_BY_E2E: Record<string, string> = {
  'logs:AssociateKmsKey': 'moto does not implement it (HTTP 500): a log group found without its KMS key (test/unit/task-definition.test.ts)',
  'logs:DisassociateKmsKey': 'moto does not implement it: undoing an AssociateKmsKey (test/unit/task-definition.test.ts)',
  'ecs:DescribeServiceDeployments': 'moto does not implement it, nor fails a deployment: which alarm rolled a deployment back (test/unit/deployment-alarm-rollback.test.ts)',
  'ecs:DescribeTasks': 'moto runs no containers, so diagnose finds no stopped task to describe (test/unit/diagnose.test.ts)',
  'logs:GetLogEvents': 'the last log lines of a stopped task: none under moto, as above (test/unit/diagnose.test.ts)',
  'ssm:GetCalendarState': 'moto does not implement Change Calendar states (test/unit/change-freeze.test.ts)',
};

const e2eFiles = () =>
  readdirSync(join(repoRoot, 'test/e2e'))
    .filter((f) => f.endsWith('.test.ts') && f !== 'iam-policy-audit.test.ts')
    // Files that run the CLI through the harness (others drive it another way, e.g. in tmux).
    .filter((f) => readFileSync(join(repoRoot, 'test/e2e', f), 'utf8').includes('runCli('));

describe('the e2e suite\'s AWS calls against iam-policy', () => {
  const runs = loggedRuns(inject('callLogDir'));
  const sent = new Map<string, Set<string>>();
  for (const run of runs) for (const c of run.calls) sent.set(`${c.service}:${c.operation}`, (sent.get(`${c.service}:${c.operation}`) ?? new Set()).add(run.testFile));
  // Every grant, whatever the config uses: the lock table's and the change calendar's too.
  const policy = new Set(grantedOperations(testConfig(), { everything: true }));

  it('ran after the whole suite: every e2e file that runs the CLI logged its runs', () => {
    const logged = new Set(runs.map((r) => r.testFile));
    const missing = e2eFiles().filter((f) => !logged.has(f));
    expect(missing, `no calls logged by ${missing.join(', ')}: this audit judges the whole e2e suite; run \`npx vitest run test/e2e\` or \`npm test\``).toEqual([]);
  });

  it('every operation the suite sent is in the policy', () => {
    const outside = [...sent.keys()].filter((op) => !policy.has(op) && !UNAUTHORISED_OPERATIONS.includes(iamAction(...(op.split(':') as [string, string])))).sort();
    expect(outside.map((op) => `${op} (sent by ${[...sent.get(op)!].join(', ')})`)).toEqual([]);
  });

  it('every operation in the policy was sent by the suite, but those listed with their reason', () => {
    const never = [...policy].filter((op) => !sent.has(op) && !(op in NOT_SENT_BY_E2E)).sort();
    expect(never, 'in iam-policy but never sent by the e2e suite: cover it in an e2e test, or list it in NOT_SENT_BY_E2E with why').toEqual([]);
  });

  it('each listed exception is in the policy, is not sent by the suite, and a unit test sends it', () => {
    const unitSources = readdirSync(join(repoRoot, 'test/unit')).map((f) => readFileSync(join(repoRoot, 'test/unit', f), 'utf8')).join('\n');
    for (const op of Object.keys(NOT_SENT_BY_E2E)) {
      expect(policy.has(op), `${op} is listed but not in the policy`).toBe(true);
      expect(sent.has(op), `${op} is sent by ${[...(sent.get(op) ?? [])].join(', ')} now: take it off NOT_SENT_BY_E2E`).toBe(false);
      const operation = op.split(':')[1];
      expect(new RegExp(`\\b${operation}Command\\b|'${operation}'`).test(unitSources), `${op}: no unit test sends it`).toBe(true);
    }
  });
});
