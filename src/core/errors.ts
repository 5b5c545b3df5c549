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
  const parts = [`${error.name}: ${error.message}`];
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
