// The caller's account (issue 8): STS GetCallerIdentity must name the config's accountId, else
// exit 2 naming both accounts, before any write.
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createClients } from '../../src/aws/clients.js';
import { AccountMismatchError, checkCallerIdentity } from '../../src/aws/identity.js';
import { ExitCode, UsageError } from '../../src/core/errors.js';
import { ACCOUNT_ID, testConfig } from '../helpers/mock-aws.js';

const sts = mockClient(STSClient);
const config = testConfig();
// One client set per command, as the CLI makes them (each has its own read cache).
let clients: ReturnType<typeof createClients>;

beforeEach(() => {
  clients = createClients({ region: 'us-east-1' });
  sts.reset();
  sts.onAnyCommand().rejects(new Error('unmocked sts call'));
});

describe('checkCallerIdentity', () => {
  it("returns the caller when the credentials are the config's account", async () => {
    sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT_ID, Arn: `arn:aws:sts::${ACCOUNT_ID}:assumed-role/Operator/alice`, UserId: 'AROAEXAMPLE:alice' });
    expect(await checkCallerIdentity(clients, config)).toEqual({
      account: ACCOUNT_ID,
      arn: `arn:aws:sts::${ACCOUNT_ID}:assumed-role/Operator/alice`,
      userId: 'AROAEXAMPLE:alice',
    });
    expect(sts.commandCalls(GetCallerIdentityCommand)).toHaveLength(1);
  });

  it('refuses credentials of another account with exit 2, naming both accounts and the caller', async () => {
    sts.on(GetCallerIdentityCommand).resolves({ Account: '210987654321', Arn: 'arn:aws:iam::210987654321:user/staging-deployer', UserId: 'AIDAEXAMPLE' });
    const error = await checkCallerIdentity(clients, config).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccountMismatchError);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as AccountMismatchError).exitCode).toBe(ExitCode.usage);
    expect((error as Error).message).toContain(`credentials are for account 210987654321 (arn:aws:iam::210987654321:user/staging-deployer), the config is for accountId ${ACCOUNT_ID}`);
    expect(error).toMatchObject({ credentialsAccount: '210987654321', configAccount: ACCOUNT_ID });
  });

  it('an STS reply without an account is a mismatch too, never a pass', async () => {
    sts.on(GetCallerIdentityCommand).resolves({});
    await expect(checkCallerIdentity(clients, config)).rejects.toThrow(`credentials are for account (none: STS returned no account), the config is for accountId ${ACCOUNT_ID}`);
  });

  it('an STS failure (no credentials, expired token) propagates as it is', async () => {
    sts.on(GetCallerIdentityCommand).rejects(Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException' }));
    await expect(checkCallerIdentity(clients, config)).rejects.toMatchObject({ name: 'ExpiredTokenException' });
  });
});
