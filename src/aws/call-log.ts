// FINTECH_RUNBOOK_CALL_LOG=<file>: every AWS operation this process sent (service, operation, read or
// write, count), appended to that file as one JSON line when the command ends. It is how the e2e
// suite checks `iam-policy` against what the tool really sends (test/e2e/iam-policy-audit.test.ts),
// and how an operator can check the policy against a CI run of their own. No SDK import here: the
// CLI loads this module only when the variable is set.
import { appendFileSync } from 'node:fs';

export interface LoggedCall {
  service: string;
  operation: string;
  kind: string;
  count: number;
}

/** One line of the call log. */
export interface CallLogLine {
  at: string;
  pid: number;
  /** The command line after `fintech-runbook` (options and file names; never a secret). */
  args: string[];
  calls: LoggedCall[];
}

const sources = new Set<{ list(): LoggedCall[] }>();

/** A call counter whose calls go into this process's line (every client set registers its own). */
export function registerCallSource(source: { list(): LoggedCall[] }): void {
  if (process.env.FINTECH_RUNBOOK_CALL_LOG) sources.add(source);
}

/** Every registered counter's calls, summed per service, operation and kind. */
export function loggedCalls(): LoggedCall[] {
  const merged = new Map<string, LoggedCall>();
  for (const source of sources) {
    for (const call of source.list()) {
      const key = `${call.service}:${call.operation}:${call.kind}`;
      const seen = merged.get(key);
      if (seen) seen.count += call.count;
      else merged.set(key, { service: call.service, operation: call.operation, kind: call.kind, count: call.count });
    }
  }
  // The order CallCounter.list() uses (and --json reports).
  return [...merged.values()].sort((a, b) => `${a.service}${a.operation}`.localeCompare(`${b.service}${b.operation}`));
}

/** Append this process's line; a log that cannot be written is a warning, never the command's failure. */
export function writeCallLog(args: string[], file = process.env.FINTECH_RUNBOOK_CALL_LOG): void {
  if (!file) return;
  const line: CallLogLine = { at: new Date().toISOString(), pid: process.pid, args, calls: loggedCalls() };
  try {
    appendFileSync(file, `${JSON.stringify(line)}\n`, { mode: 0o600 });
  } catch (error) {
    process.stderr.write(`warning: FINTECH_RUNBOOK_CALL_LOG: could not append to ${file}: ${(error as Error).message}\n`);
  }
}
