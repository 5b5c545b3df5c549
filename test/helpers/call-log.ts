// The e2e suite's call log (issue 9 item 6): every CLI run of the suite appends the AWS operations it
// sent (FINTECH_RUNBOOK_CALL_LOG, src/aws/call-log.ts) to its own file in one folder per vitest run.
// The folder is made once by the global setup below and handed to every test file (`inject`);
// test/e2e/iam-policy-audit.test.ts runs after every other file (vitest.config.ts: its project's
// groupOrder) and checks the union against `iam-policy`. One file per CLI run: test files run in
// parallel on two workers, and nothing is appended to by two processes.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { CallLogLine } from '../../src/aws/call-log.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The folder this vitest run's CLI calls are logged to. */
    callLogDir: string;
  }
}

const ENV = 'FINTECH_RUNBOOK_E2E_CALL_LOG_DIR';

/** vitest globalSetup (once per project, in the main process): one folder for the whole run. */
export default function setup(project: TestProject): () => void {
  // Every project's setup runs in the one main process: the environment holds the run's folder.
  process.env[ENV] ??= mkdtempSync(join(tmpdir(), 'fintech-runbook-calls-'));
  const dir = process.env[ENV]!;
  project.provide('callLogDir', dir);
  // Teardowns run once every project's tests are done (the audit's included).
  return () => rmSync(dir, { recursive: true, force: true });
}

export interface LoggedRun extends CallLogLine {
  /** The test file that ran the CLI. */
  testFile: string;
}

/** Every CLI run logged so far in this vitest run. */
export function loggedRuns(dir: string): LoggedRun[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => ({ ...(JSON.parse(line) as CallLogLine), testFile: f.split('~')[0] })),
    );
}
