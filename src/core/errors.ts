// Typed errors and the exit codes they map to (README "Exit codes").

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  halfApplied: 3,
  /** `plan` only: the environment differs from the config. */
  changesPending: 4,
  /** Another run holds the environment lock (README "Locking and identity"). */
  lockHeld: 5,
  interrupted: 130,
} as const;

export class RunbookError extends Error {
  readonly exitCode: number = ExitCode.failed;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad command line or config: nothing was sent to AWS. */
export class UsageError extends RunbookError {
  override readonly exitCode: number = ExitCode.usage;
}

export class ConfigError extends UsageError {
  constructor(readonly problems: string[]) {
    super(`invalid config:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** An input the runbook assumes (VPC, subnets, ALB, ...) is missing or unusable. */
export class PreflightError extends RunbookError {
  constructor(readonly problems: string[]) {
    super(`preflight failed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** A step failed; `step` names it. */
export class StepError extends RunbookError {
  constructor(
    readonly step: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${step}: ${message}`, options);
  }
}

/** A write the runbook cannot make safely; a person must decide. */
export class UnsafeChangeError extends RunbookError {}

/** Compensation after a failed apply did not complete: environment may be half-applied. */
export class HalfAppliedError extends RunbookError {
  override readonly exitCode: number = ExitCode.halfApplied;
}

export class InterruptedError extends RunbookError {
  override readonly exitCode: number = ExitCode.interrupted;
  constructor() {
    super('interrupted');
  }
}

/** Name, message and request id of an AWS SDK error, for one-line reporting. */
export function describeAwsError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const meta = (error as { $metadata?: { requestId?: string; httpStatusCode?: number } }).$metadata;
  if (!meta) return error.message;
  // A plain Error (a socket error the SDK passed on) has no name worth printing: never "Error: …".
  const parts = [error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message];
  if (meta.requestId) parts.push(`request id ${meta.requestId}`);
  else if (meta.httpStatusCode) parts.push(`HTTP ${meta.httpStatusCode}`);
  return parts.join(' — ');
}

export function isAwsError(error: unknown, ...names: string[]): boolean {
  return error instanceof Error && names.includes(error.name);
}

/** A full message including the cause chain, for the top-level handler. */
export function explain(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  let depth = 0;
  while (current && depth < 5) {
    lines.push(depth === 0 ? describeAwsError(current) : `caused by ${describeAwsError(current)}`);
    current = current instanceof Error ? current.cause : undefined;
    depth++;
  }
  return lines.join('\n  ');
}

/** Where the CLI was sending its calls and with which credentials: for the one-line access problems below. */
export interface AccessContext {
  /** --endpoint-url or AWS_ENDPOINT_URL; undefined means AWS's own regional endpoints. */
  endpoint?: string;
  /** --profile or AWS_PROFILE; undefined means the SDK's default credential chain. */
  profile?: string;
  region?: string;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'EPIPE']);
const TLS_CODES = new Set(['CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'ERR_TLS_CERT_ALTNAME_INVALID']);
/** The SDK's and STS's names for credentials that are missing, expired or not accepted. */
const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'TokenProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AuthFailure',
  'InvalidSignatureException',
]);

/**
 * One line for a connection, endpoint or credential problem, naming the endpoint or the profile
 * and what to try; undefined for every other error (those keep their name, message, request id).
 */
export function describeAccessProblem(error: unknown, context: AccessContext = {}): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 6; depth++, current = current.cause) {
    const e = current as Error & { code?: string; address?: string; port?: number; hostname?: string };
    const code = e.code ?? /\b(E[A-Z]{4,})\b/.exec(e.message)?.[1];
    const endpoint = context.endpoint ?? (e.hostname ? `https://${e.hostname}` : `AWS's endpoints in ${context.region ?? 'the region'}`);
    if ((code && CONNECTION_CODES.has(code)) || e.name === 'TimeoutError' || /socket hang up/i.test(e.message)) {
      const hint = context.endpoint
        ? 'is it running and is the URL right? (`npm run emulator` starts a local one; without --endpoint-url the calls go to AWS)'
        : 'check the network, a proxy (HTTPS_PROXY) and --region';
      return `cannot reach ${endpoint} (${code ?? e.name}${e.address ? ` ${e.address}${e.port ? `:${e.port}` : ''}` : ''}): ${hint}`;
    }
    if (code && TLS_CODES.has(code)) {
      return `cannot reach ${endpoint}: its TLS certificate is not trusted (${code}); check --endpoint-url, or NODE_EXTRA_CA_CERTS for a corporate proxy`;
    }
    if (CREDENTIAL_ERRORS.has(e.name)) {
      const who = context.profile ? `profile ${context.profile}` : 'the default credential chain (no --profile, no AWS_PROFILE)';
      const hint = context.profile
        ? `refresh it (e.g. \`aws sso login --profile ${context.profile}\`) or check ~/.aws/config`
        : 'pass --profile or set AWS_PROFILE, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY';
      const message = e.message.split('\n')[0];
      return `AWS credentials from ${who} ${e.name === 'CredentialsProviderError' || e.name === 'TokenProviderError' ? 'could not be loaded' : 'were refused'} (${e.name}: ${message}): ${hint}`;
    }
  }
  return undefined;
}
