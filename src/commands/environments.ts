// Several environments in one run (`--config a.yaml --config b.yaml`, or `--config envs/`), in
// the manner of Systems Manager Automation's rate control: at most --max-concurrency at a time,
// and no new one after --max-errors failures. Each environment keeps its own session (clients,
// call counts), lock and journal; the output is one summary table, or one JSON document.
import { PassThrough } from 'node:stream';
import { ExitCode, explain, RunbookError } from '../core/errors.js';
import type { RateControl } from './inputs.js';
import { jsonSink, openSession, printJson, type GlobalOptions, type Session } from './shared.js';

interface EnvironmentResult {
  config: string;
  account?: string;
  region?: string;
  cluster?: string;
  /** `in sync`, `4 change(s) pending`, `applied 3 step(s)`, `2 check(s) FAILED`, `failed: …`, `not run`. */
  outcome: string;
  /** null: not run. */
  exitCode: number | null;
  changes?: number;
  writes?: number;
  report?: unknown;
  error?: string;
}

type Report = {
  ok?: boolean;
  changesPending?: number;
  steps?: Array<{ status: string; changes: unknown[] }>;
  findings?: Array<{ status: string }>;
  calls?: { writes: number };
};

function describe(command: string, code: number, report: Report | undefined): Pick<EnvironmentResult, 'outcome' | 'changes' | 'writes'> {
  const writes = report?.calls?.writes;
  const changes = report?.changesPending ?? report?.steps?.reduce((n, s) => n + s.changes.length, 0);
  if (command === 'plan') return { outcome: code === ExitCode.changesPending ? `${changes} change(s) pending` : 'in sync', changes, writes };
  if (command === 'validate') {
    const failed = report?.findings?.filter((f) => f.status === 'FAIL').length ?? 0;
    return { outcome: failed ? `${failed} check(s) FAILED` : 'all checks passed', writes };
  }
  const applied = report?.steps?.filter((s) => s.status === 'applied').length ?? 0;
  return { outcome: applied ? `applied ${applied} step(s)` : 'up to date', changes, writes };
}

/**
 * Run one command against every environment. `run` is the single-environment command; each runs
 * with its own session whose human text and JSON document are collected, not printed.
 */
export async function forEachEnvironment(
  command: 'plan' | 'apply' | 'validate',
  files: string[],
  options: GlobalOptions,
  control: RateControl,
  signal: AbortSignal,
  run: (session: Session) => Promise<number>,
): Promise<number> {
  const results: EnvironmentResult[] = files.map((config) => ({ config, outcome: 'not run', exitCode: null }));
  let failures = 0;
  let next = 0;
  const worker = async () => {
    while (next < files.length && failures < control.maxErrors && !signal.aborted) {
      const index = next++;
      const result = results[index];
      const sink: unknown[] = [];
      const buffer = new PassThrough();
      buffer.resume(); // the environment's own progress text is not shown: the table sums it up
      try {
        await jsonSink.run(sink, async () => {
          const session = openSession({ ...options, config: files[index], json: true }, signal, buffer as unknown as NodeJS.WriteStream);
          Object.assign(result, { account: session.config.accountId, region: session.config.region, cluster: session.config.cluster.name });
          try {
            const code = await run(session);
            Object.assign(result, { exitCode: code, report: sink[0], ...describe(command, code, sink[0] as Report) });
            if (code !== ExitCode.ok && code !== ExitCode.changesPending) failures++;
          } finally {
            session.clients.destroy();
          }
        });
      } catch (error) {
        failures++;
        const report = (error as { report?: Report }).report ?? (sink[0] as Report | undefined);
        Object.assign(result, {
          exitCode: error instanceof RunbookError ? error.exitCode : ExitCode.failed,
          error: explain(error),
          // The first problem, on one line: "failed: invalid config: taskDefinition.cpu: …".
          outcome: `failed: ${explain(error).split('\n').map((l) => l.replace(/^\s*-\s*/, '').trim()).filter(Boolean).slice(0, 2).join(' ')}`,
          ...(report ? { report, writes: report.calls?.writes } : {}),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(control.maxConcurrency, files.length) }, worker));

  const codes = results.map((r) => r.exitCode);
  const exitCode = codes.some((c) => c === null || (c !== ExitCode.ok && c !== ExitCode.changesPending))
    ? codes.find((c) => c !== null && c !== ExitCode.ok && c !== ExitCode.changesPending) ?? ExitCode.failed
    : codes.includes(ExitCode.changesPending)
      ? ExitCode.changesPending
      : ExitCode.ok;
  if (options.json) {
    printJson({ command, ok: exitCode === ExitCode.ok || (command === 'plan' && exitCode === ExitCode.changesPending), exitCode, environments: results });
  }
  const out = options.json ? process.stderr : process.stdout;
  out.write(`${summaryTable(results).join('\n')}\n`);
  const notRun = results.filter((r) => r.exitCode === null).length;
  if (notRun) out.write(`${notRun} environment(s) not run: ${failures} failure(s) reached --max-errors ${control.maxErrors}${signal.aborted ? ' (or interrupted)' : ''}.\n`);
  return exitCode;
}

export function summaryTable(results: EnvironmentResult[]): string[] {
  const rows = [
    ['ENVIRONMENT', 'ACCOUNT', 'REGION', 'CLUSTER', 'OUTCOME', 'CHANGES', 'WRITES'],
    ...results.map((r) => [r.config, r.account ?? '-', r.region ?? '-', r.cluster ?? '-', r.outcome, String(r.changes ?? '-'), String(r.writes ?? '-')]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd());
}
