// The last good revision (issue 12): the journal's `revision` entries per run, and what
// `rollback --to last-good` / `--to previous` resolve from them.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTarget } from '../../src/commands/rollback.js';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { judgeRevision, lastGood, lastRecord, recordRevision } from '../../src/commands/revisions.js';
import { Journal, listRuns, readJournal } from '../../src/core/journal.js';
import { fail, ok } from '../../src/core/step.js';
import { mockAws, testConfig, testContext } from '../helpers/mock-aws.js';

const svc = 'ecs service fintech-prod-cluster/fintech-api-svc';
const stable = ok('Service Stable', svc, 'ACTIVE, deployment ecs-svc/1 COMPLETED, 3/3 running fintech-api-task:1');

function run(dir: string, id: string, revision: string, good: boolean, cluster = 'fintech-prod-cluster') {
  const journal = new Journal(id, dir);
  journal.append({ type: 'run-start', runId: id, command: 'apply', at: new Date().toISOString(), config: 'c', cluster, steps: ['service'], account: '123456789012', region: 'us-east-1' });
  journal.append({ type: 'run-end', at: new Date().toISOString(), outcome: good ? 'ok' : 'failed' });
  journal.append({ type: 'revision', at: new Date().toISOString(), revision, good });
  journal.close();
}

describe('judgeRevision', () => {
  it('good only when the run succeeded and the service checks ran and all passed', () => {
    expect(judgeRevision(true, [stable, ok('Tasks Healthy', 'tg', '3/3'), ok('Logs Flowing', 'lg', 'events')])).toMatchObject({ good: true });
    expect(judgeRevision(true, [stable, fail('Tasks Healthy', 'tg', 'no targets registered')])).toEqual({ good: false, detail: 'Tasks Healthy FAIL: no targets registered' });
    expect(judgeRevision(true, [])).toEqual({ good: false, detail: "the service's section 4.1 checks did not run" });
    expect(judgeRevision(false, [stable])).toEqual({ good: false, detail: 'the run failed' });
  });
});

describe('recordRevision', () => {
  const tdArn = (revision: number) => `arn:aws:ecs:us-east-1:123456789012:task-definition/fintech-api-task:${revision}`;
  const onRevision = (revision: number) => ({ services: [{ serviceName: 'fintech-api-svc', status: 'ACTIVE', taskDefinition: tdArn(revision) }] });
  const entries = async (revision: number, ok: boolean, checked?: string) => {
    const aws = mockAws();
    aws.ecs.on(DescribeServicesCommand).resolves(onRevision(revision));
    const dir = mkdtempSync(join(tmpdir(), 'revisions-'));
    const journal = new Journal('run-1', dir);
    await recordRevision(journal, testContext(), ok, [stable, ok ? ok_('Tasks Healthy') : fail('Tasks Healthy', 'tg', 'no targets registered')], checked);
    journal.close();
    return readJournal(journal.file);
  };
  const ok_ = (check: string) => ok(check, 'x', 'fine');

  it('records the revision the service is on and the verdict of the checks that judged it', async () => {
    expect(await entries(8, true, tdArn(8))).toEqual([{ type: 'revision', at: expect.any(String), revision: 'fintech-api-task:8', good: true, detail: expect.stringContaining('Service Stable OK') }]);
    expect(await entries(8, false, tdArn(8))).toEqual([expect.objectContaining({ revision: 'fintech-api-task:8', good: false, detail: 'Tasks Healthy FAIL: no targets registered' })]);
  });

  it('after a failed run was undone, the revision the service is back on was not checked by it: not good, and says why', async () => {
    expect(await entries(7, false, tdArn(8))).toEqual([
      expect.objectContaining({ revision: 'fintech-api-task:7', good: false, detail: 'not checked by this run: it deployed fintech-api-task:8, and the service is on fintech-api-task:7 now' }),
    ]);
  });
});

describe('last good revision from the journal', () => {
  it('after 1 (good), 2 (failed), 3 (failed): last-good is 1; what the journal knows of 2 is that it failed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'revisions-'));
    const config = testConfig();
    run(dir, '2025-03-01T10-00-00-000Z-apply-1', 'fintech-api-task:1', true);
    run(dir, '2025-03-01T11-00-00-000Z-deploy-2', 'fintech-api-task:2', false);
    run(dir, '2025-03-01T11-30-00-000Z-apply-9', 'fintech-api-task:7', true, 'another-cluster'); // another environment
    run(dir, '2025-03-01T12-00-00-000Z-deploy-3', 'fintech-api-task:3', false);
    expect(lastGood(config, dir)?.revision).toBe('fintech-api-task:1');
    expect(lastRecord(config, dir, 'fintech-api-task:2')).toMatchObject({ good: false });
    expect(lastRecord(config, dir, 'fintech-api-task:5')).toBeUndefined();
    // history gets the revision each run left running.
    expect(listRuns(dir).map((r) => [r.revision, r.good])).toEqual([
      ['fintech-api-task:1', true],
      ['fintech-api-task:2', false],
      ['fintech-api-task:7', true],
      ['fintech-api-task:3', false],
    ]);
  });

  it('no good run recorded: undefined', () => {
    const dir = mkdtempSync(join(tmpdir(), 'revisions-'));
    run(dir, '2025-03-01T10-00-00-000Z-apply-1', 'fintech-api-task:1', false);
    expect(lastGood(testConfig(), dir)).toBeUndefined();
  });

  it('--to last-good parses; an unknown word names both words', () => {
    expect(parseTarget('last-good', 'fintech-api-task')).toEqual({ lastGood: true });
    expect(() => parseTarget('last-known', 'fintech-api-task')).toThrow(/"previous" or "last-good"/);
  });
});
