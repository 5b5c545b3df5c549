// Whose credentials are these? The config pins `accountId`; STS GetCallerIdentity says which
// account the credentials in use belong to. Production's config with staging's profile (or the
// reverse) is refused before any write: exit 2, both accounts named.
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import type { RunbookConfig } from '../config.js';
import { UsageError } from '../core/errors.js';

export interface CallerIdentity {
  account: string;
  /** Who runs this (a user, or an assumed role's session): goes into the journal's run header. */
  arn: string;
  userId: string;
}

/** The credentials belong to another account than the config's `accountId`: exit 2, nothing written. */
export class AccountMismatchError extends UsageError {
  constructor(
    readonly credentialsAccount: string,
    readonly configAccount: string,
    readonly arn: string,
  ) {
    super(
      `credentials are for account ${credentialsAccount}${arn ? ` (${arn})` : ''}, the config is for accountId ${configAccount}: ` +
        'nothing was changed; use credentials of that account (--profile, AWS_PROFILE) or the config of this one',
    );
  }
}

/** GetCallerIdentity (one read, no permission needed); throws AccountMismatchError on another account. */
export async function checkCallerIdentity(clients: { sts: STSClient }, config: Pick<RunbookConfig, 'accountId'>): Promise<CallerIdentity> {
  const reply = await clients.sts.send(new GetCallerIdentityCommand({}));
  const identity = { account: reply.Account ?? '', arn: reply.Arn ?? '', userId: reply.UserId ?? '' };
  if (identity.account !== config.accountId) throw new AccountMismatchError(identity.account || '(none: STS returned no account)', config.accountId, identity.arn);
  return identity;
}
