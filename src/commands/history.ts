// `history`: the runs recorded in the state directory, from any directory and without a config
// (README "State directory"); `history <run-id>`: that run's caller, target and writes.
import { UsageError } from '../core/errors.js';
import { journalDirs, listAllRuns, readJournal, stateRoot, type JournalEntry, type RunSummary } from '../core/journal.js';
import { columns, plural } from './layout.js';

const when = (iso: string) => (iso === '?' ? '?' : iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z'));
const where = (run: RunSummary) => (run.account || run.region ? `${run.account ?? '?'}/${run.region ?? '?'}/${run.cluster ?? '?'}` : (run.cluster ?? '?'));

/** Where `history` looks, for the header and the "nothing yet" line. */
function source(): string {
  return process.env.FINTECH_RUNBOOK_STATE_DIR ? `${process.env.FINTECH_RUNBOOK_STATE_DIR} (FINTECH_RUNBOOK_STATE_DIR)` : stateRoot();
}

export function renderRuns(runs: RunSummary[]): string[] {
  const rows = runs.map((r) => [
    when(r.startedAt),
    r.command,
    r.outcome,
    `${r.writes}${r.failedWrites ? ` (+${r.failedWrites} failed)` : ''}`,
    where(r),
    r.runId,
  ]);
  return columns([['STARTED (UTC)', 'COMMAND', 'OUTCOME', 'WRITES', 'ACCOUNT/REGION/CLUSTER', 'RUN ID'], ...rows]);
}

type Write = Extract<JournalEntry, { type: 'write-done' | 'write-failed' }>;

export function renderRun(run: RunSummary, entries: JournalEntry[]): string[] {
  const start = entries.find((e): e is Extract<JournalEntry, { type: 'run-start' }> => e.type === 'run-start');
  const end = [...entries].reverse().find((e): e is Extract<JournalEntry, { type: 'run-end' }> => e.type === 'run-end');
  const lines = [
    `Run ${run.runId}: ${run.command}, ${run.outcome}${end?.detail ? ` (${end.detail})` : ''}`,
    `  started   ${when(run.startedAt)}${end ? `, ended ${when(end.at)}` : ''}`,
    `  caller    ${start?.caller ?? 'unknown (not recorded)'}`,
    `  target    account ${start?.account ?? '?'}, region ${start?.region ?? '?'}, cluster ${start?.cluster ?? '?'}`,
    `  config    ${start?.config ?? '?'}${start?.planFile ? `, saved plan ${start.planFile} (${start.planHash})` : ''}`,
    `  journal   ${run.file}`,
  ];
  const writes = entries.filter((e): e is Write => e.type === 'write-done' || e.type === 'write-failed');
  if (!writes.length) return [...lines, '', 'No writes.'];
  const rows = writes.map((w) => [
    when(w.at),
    w.step,
    w.operation,
    w.resource,
    w.type === 'write-done' ? `ok${w.requestId ? ` ${w.requestId}` : ''}${w.adopted ? ' (adopted after a lost reply)' : ''}` : `FAILED ${w.error}`,
  ]);
  return [...lines, '', `${plural(writes.length, 'write')}:`, ...columns([['AT (UTC)', 'STEP', 'OPERATION', 'RESOURCE', 'RESULT'], ...rows], { indent: '  ' })];
}

export function historyCommand(flags: { json?: boolean }, runId: string | undefined, out: NodeJS.WritableStream, printJson: (doc: unknown) => void): number {
  const runs = listAllRuns();
  if (runId) {
    const run = runs.find((r) => r.runId === runId);
    if (!run) throw new UsageError(`history: no run ${runId} in ${source()} (\`fintech-runbook history\` lists them)`);
    const entries = readJournal(run.file);
    if (flags.json) printJson({ ...run, entries });
    else out.write(`${renderRun(run, entries).join('\n')}\n`);
    return 0;
  }
  if (flags.json) {
    printJson(runs);
    return 0;
  }
  if (!runs.length) {
    out.write(`No runs recorded yet in ${source()}.\n`);
    return 0;
  }
  const dirs = journalDirs().length;
  out.write(`Runs recorded in ${source()}${dirs > 1 ? ` (${dirs} environments)` : ''}, oldest first; \`fintech-runbook history <run-id>\` shows one run's writes:\n`);
  out.write(`${renderRuns(runs).join('\n')}\n`);
  return 0;
}
