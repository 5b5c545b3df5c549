// Change freeze (issue 12): with `changeCalendar`, every command that writes goes through
// withWriteGuard, which asks Systems Manager GetCalendarState and refuses while the calendar is
// CLOSED (or cannot be read) unless --emergency, which the journal keeps. moto has no Change
// Calendar (GetCalendarState answers HTTP 500), so every state is mocked here.
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { GetCalendarStateCommand } from '@aws-sdk/client-ssm';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChangeFreezeError } from '../../src/aws/change-calendar.js';
import { createClients } from '../../src/aws/clients.js';
import { withWriteGuard } from '../../src/commands/guard.js';
import type { Session } from '../../src/commands/shared.js';
import { passThroughRecorder } from '../../src/core/step.js';
import { ACCOUNT_ID, awsError, mockAws, testConfig, type AwsMocks } from '../helpers/mock-aws.js';

let aws: AwsMocks;
let stateDir: string;
let text = '';

function session(changeCalendar: string | null = 'fintech-prod-freeze'): Session {
  const config = { ...testConfig(), ...(changeCalendar ? { changeCalendar } : {}) };
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

const guard = (s: Session, emergency = false) => {
  const run = vi.fn(async (_identity: unknown, record: unknown) => record);
  return { run, result: withWriteGuard(s, { runId: 'run-1', command: 'apply', lockTimeoutMs: 0, emergency }, run) };
};

beforeEach(() => {
  aws = mockAws();
  aws.sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT_ID, Arn: `arn:aws:iam::${ACCOUNT_ID}:user/alice`, UserId: 'AIDAALICE' });
  stateDir = mkdtempSync(join(tmpdir(), 'freeze-test-'));
  vi.stubEnv('FINTECH_RUNBOOK_STATE_DIR', stateDir);
  text = '';
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('change freeze in withWriteGuard', () => {
  it('CLOSED: refused (exit 1) naming the calendar and when it opens; the command never runs and no lock is taken', async () => {
    aws.ssm.on(GetCalendarStateCommand).resolves({ State: 'CLOSED', AtTime: '2025-12-20T10:00:00Z', NextTransitionTime: '2026-01-05T08:00:00Z' });
    const { run, result } = guard(session());
    const error = await result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChangeFreezeError);
    expect((error as ChangeFreezeError).exitCode).toBe(1);
    expect((error as Error).message).toBe(
      'change calendar fintech-prod-freeze is CLOSED until 2026-01-05T08:00:00Z: nothing was changed; pass --emergency to change production anyway (journaled)',
    );
    expect(run).not.toHaveBeenCalled();
    expect(readdirSync(stateDir)).toEqual([]); // no lock file was ever created
    expect(aws.ssm.commandCalls(GetCalendarStateCommand)[0].args[0].input).toEqual({ CalendarNames: ['fintech-prod-freeze'] });
  });

  it('CLOSED with --emergency: runs, says so, and hands the journal the override', async () => {
    aws.ssm.on(GetCalendarStateCommand).resolves({ State: 'CLOSED' });
    const { run, result } = guard(session(), true);
    expect(await result).toEqual({ changeFreeze: { calendar: 'fintech-prod-freeze', state: 'CLOSED', emergency: true } });
    expect(run).toHaveBeenCalledOnce();
    expect(text).toContain('EMERGENCY: change calendar fintech-prod-freeze is CLOSED');
  });

  it('OPEN: runs, and the journal records the calendar was open', async () => {
    aws.ssm.on(GetCalendarStateCommand).resolves({ State: 'OPEN' });
    const { result } = guard(session());
    expect(await result).toEqual({ changeFreeze: { calendar: 'fintech-prod-freeze', state: 'OPEN', emergency: false } });
    expect(existsSync(stateDir)).toBe(true);
  });

  it('a calendar that cannot be read (missing, no permission) is refused too, with the AWS error: never taken as open', async () => {
    aws.ssm.on(GetCalendarStateCommand).rejects(awsError('InvalidDocument', 'Calendar fintech-prod-freeze does not exist'));
    const { run, result } = guard(session());
    await expect(result).rejects.toThrow(/change calendar fintech-prod-freeze could not be read \(InvalidDocument: Calendar fintech-prod-freeze does not exist.*\): nothing was changed/);
    expect(run).not.toHaveBeenCalled();
    const emergency = guard(session(), true);
    expect(await emergency.result).toMatchObject({ changeFreeze: { state: 'UNKNOWN', emergency: true, error: expect.stringContaining('InvalidDocument') } });
  });

  it('the credentials are checked first: another account is refused before the calendar is asked', async () => {
    aws.sts.on(GetCallerIdentityCommand).resolves({ Account: '999999999999', Arn: 'arn:aws:iam::999999999999:user/bob' });
    await expect(guard(session()).result).rejects.toThrow(/credentials are for account 999999999999/);
    expect(aws.ssm.calls()).toHaveLength(0);
  });

  it('without changeCalendar: no SSM call, nothing recorded (nothing changes for a team without a calendar)', async () => {
    const { result } = guard(session(null));
    expect(await result).toEqual({});
    expect(aws.ssm.calls()).toHaveLength(0);
  });
});
