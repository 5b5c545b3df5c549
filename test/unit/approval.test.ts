// Two-person approval of saved plans (issue 12): `approve` records who approved which plan hash;
// with approval.required, apply needs an approval of exactly that hash by another caller.
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { createClients } from '../../src/aws/clients.js';
import { approvalsPath, approveCommand, ApprovalRequiredError, readApprovals, requireApproval } from '../../src/commands/approve.js';
import type { Session } from '../../src/commands/shared.js';
import { ExitCode, UsageError } from '../../src/core/errors.js';
import { PLAN_FORMAT, planHash } from '../../src/core/saved-plan.js';
import { passThroughRecorder } from '../../src/core/step.js';
import { ACCOUNT_ID, mockAws, testConfig, type AwsMocks } from '../helpers/mock-aws.js';

const alice = { account: ACCOUNT_ID, arn: `arn:aws:iam::${ACCOUNT_ID}:user/alice`, userId: 'AIDAALICE' };
const bob = { account: ACCOUNT_ID, arn: `arn:aws:iam::${ACCOUNT_ID}:user/bob`, userId: 'AIDABOB' };
const required = () => ({ ...testConfig(), approval: { required: true } });

let aws: AwsMocks;
let dir: string;
let text: string;

function writePlan(content: Record<string, unknown> = {}): { file: string; hash: string } {
  const file = join(dir, 'plan.json');
  const body = `${JSON.stringify({ format: PLAN_FORMAT, createdAt: '2025-03-01T10:00:00Z', account: ACCOUNT_ID, region: 'us-east-1', cluster: 'fintech-prod-cluster', caller: alice.arn, config: { file: 'c', hash: 'h' }, steps: [{ id: 'ecr', before: {}, changes: [{ resource: 'ecr repository fintech-api', action: 'update', fields: [{ field: 'imageTagMutability', from: 'MUTABLE', to: 'IMMUTABLE' }] }], actions: [{ service: 'ecr', operation: 'PutImageTagMutability' }], outputs: {} }], ...content }, null, 2)}\n`;
  writeFileSync(file, body);
  return { file, hash: planHash(body) };
}

function session(): Session {
  const config = testConfig();
  const clients = createClients({ region: 'us-east-1' });
  const stream = new PassThrough();
  stream.on('data', (chunk) => (text += chunk.toString()));
  const human = stream as unknown as NodeJS.WriteStream;
  return {
    options: { config: 'x', json: false, pollInterval: '1' },
    config,
    clients,
    steps: [],
    human,
    runner: { config, clients, recorder: passThroughRecorder, signal: new AbortController().signal, pollIntervalMs: 1, humanStream: human, lineRenderer: true },
  };
}

const as = (who: typeof alice) => aws.sts.on(GetCallerIdentityCommand).resolves({ Account: who.account, Arn: who.arn, UserId: who.userId });

beforeEach(() => {
  aws = mockAws();
  dir = mkdtempSync(join(tmpdir(), 'approval-test-'));
  text = '';
});

describe('approve', () => {
  it('records the approver ARN, user id, time and plan hash beside the plan, after showing the changes; the plan file is untouched', async () => {
    const plan = writePlan();
    const before = readFileSync(plan.file, 'utf8');
    as(bob);
    expect(await approveCommand(session(), plan.file, { yes: true })).toBe(ExitCode.ok);
    expect(readFileSync(plan.file, 'utf8')).toBe(before);
    const approvals = readApprovals(plan.file);
    expect(approvals).toEqual([{ approver: bob.arn, approverUserId: 'AIDABOB', account: ACCOUNT_ID, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), planHash: plan.hash }]);
    expect(approvalsPath(plan.file)).toBe(`${plan.file}.approvals.json`);
    expect(text).toContain('imageTagMutability');
    expect(text).toContain(`Approved by ${bob.arn}`);
    // Twice by the same person is one approval.
    expect(await approveCommand(session(), plan.file, { yes: true })).toBe(ExitCode.ok);
    expect(readApprovals(plan.file)).toHaveLength(1);
  });

  it('refuses a plan made for another account than the credentials', async () => {
    const plan = writePlan({ account: '999999999999' });
    as(bob);
    await expect(approveCommand(session(), plan.file, { yes: true })).rejects.toThrow(/made for account 999999999999/);
  });

  it('a malformed approvals file is a usage error before any AWS call, never "no approval"', async () => {
    const plan = writePlan();
    writeFileSync(approvalsPath(plan.file), '{"format":"other"}');
    await expect(approveCommand(session(), plan.file, { yes: true })).rejects.toThrow(UsageError);
    expect(aws.sts.calls()).toHaveLength(0);
    expect(() => requireApproval(required(), alice, plan, 1)).toThrow(/not a fintech-runbook approvals file/);
  });
});

describe('requireApproval', () => {
  it('without approval.required nothing changes: no approval needed, none looked for', () => {
    expect(requireApproval(testConfig(), alice, undefined, 5)).toBeUndefined();
    expect(requireApproval(testConfig(), alice, { file: join(dir, 'nowhere.json'), hash: 'x' }, 5)).toBeUndefined();
  });

  it('with approval.required: an apply without a saved plan is refused when it would write, allowed when it would not', () => {
    expect(() => requireApproval(required(), alice, undefined, 3)).toThrow(ApprovalRequiredError);
    expect(() => requireApproval(required(), alice, undefined, 3)).toThrow(/3 write\(s\) pending and no approved plan.*plan --out p\.json/);
    expect(requireApproval(required(), alice, undefined, 0)).toEqual([]);
  });

  it('unapproved: refused; approved only by the caller applying it: refused; by another: allowed, naming the approver', async () => {
    const plan = writePlan();
    expect(() => requireApproval(required(), alice, plan, 1)).toThrow(/has no approval: nothing was changed/);
    as(alice);
    await approveCommand(session(), plan.file, { yes: true });
    expect(() => requireApproval(required(), alice, plan, 1)).toThrow(`approved only by ${alice.arn}, who is applying it`);
    expect(requireApproval(required(), bob, plan, 1)).toEqual([expect.objectContaining({ approver: alice.arn, planHash: plan.hash })]);
  });

  it('an approval of another version of the plan (a different hash) does not count', async () => {
    const plan = writePlan();
    as(bob);
    await approveCommand(session(), plan.file, { yes: true });
    const changed = writePlan({ createdAt: '2025-03-02T10:00:00Z' });
    expect(changed.hash).not.toBe(plan.hash);
    expect(() => requireApproval(required(), alice, changed, 1)).toThrow(/has no approval \(its approvals are for another version of the plan\)/);
  });
});
