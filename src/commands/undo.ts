// `undo <run-id>`: converge what a recorded apply changed back to the state it started from (its
// journal's `before` per step), after `--no-rollback`, a crash or an interrupt. The same planner
// and executor as apply; it deletes only what that run provably created. Twice is a no-op.
import { ExitCode, HalfAppliedError, UsageError } from '../core/errors.js';
import { defaultJournalDir, findRun, Journal, readRun } from '../core/journal.js';
import { callSummary, compensate, createContext, type StepPlan } from '../core/runner.js';
import type { Observed } from '../core/step.js';
import { lockTimeoutMs, openRunJournal, withWriteGuard } from './guard.js';
import { confirm, printJson, renderChange, requireConfirmationChannel, type Session } from './shared.js';

export async function undoCommand(session: Session, runId: string, flags: { yes?: boolean; lockTimeout?: string; emergency?: boolean }): Promise<number> {
  const file = findRun(runId, defaultJournalDir(session.config));
  if (!file) throw new UsageError(`undo: no run ${runId} in the journal (see \`fintech-runbook history\`)`);
  const record = readRun(file);
  if (record.start?.command !== 'apply') throw new UsageError(`undo: run ${runId} is a "${record.start?.command ?? '?'}" run; only apply runs are undone`);
  if (record.start.cluster !== session.config.cluster.name) {
    throw new UsageError(`undo: run ${runId} was against cluster ${record.start.cluster}, the config is for ${session.config.cluster.name}`);
  }
  requireConfirmationChannel(flags.yes);
  const out = session.human;
  const undoRunId = Journal.newRunId('undo');
  return withWriteGuard(session, { runId: undoRunId, command: `undo ${runId}`, lockTimeoutMs: lockTimeoutMs(flags.lockTimeout), emergency: flags.emergency }, async (identity, guard) => {
    const ctx = createContext(session.runner);
    const touched: StepPlan[] = session.steps
      .filter((step) => record.wrote.has(step.id) && record.before.has(step.id))
      .map((step) => ({ step, plan: { before: record.before.get(step.id) as Observed, changes: [], actions: [], outputs: undefined } }));
    // Show what converging back means now, before asking.
    let pending = 0;
    for (const { step, plan } of [...touched].reverse()) {
      const planned = await step.planRollback(ctx, plan.before, record.created.get(step.id) ?? new Set());
      pending += planned.actions.length;
      out.write(`${step.section} ${step.title}: ${planned.actions.length ? `${planned.actions.length} command(s)` : 'as it was'}\n`);
      for (const change of planned.changes) out.write(`${renderChange(change).join('\n')}\n`);
      for (const note of planned.notes) out.write(`    · ${note}\n`);
    }
    if (!pending) {
      out.write(`Nothing to undo: what run ${runId} changed is already back as it was.\n`);
      if (session.options.json) printJson({ command: 'undo', ok: true, run: runId, undone: [], calls: callSummary(session.clients) });
      return ExitCode.ok;
    }
    if (!(await confirm(`Undo run ${runId}: ${pending} write(s) to ${session.config.cluster.name} in ${session.config.region}?`, flags.yes, session.clients))) {
      out.write('Not undone.\n');
      return ExitCode.ok;
    }
    const journal = openRunJournal(session, identity, guard, { runId: undoRunId, command: `undo ${runId}`, steps: touched.map((t) => t.step.id) });
    journal.signal = ctx.signal;
    try {
      const result = await compensate(ctx, touched, { journal, humanStream: out, created: (step) => record.created.get(step) ?? new Set() });
      const ok = result.needsPerson.length === 0;
      journal.append({ type: 'run-end', at: new Date().toISOString(), outcome: ok ? 'rolled-back' : 'half-applied' });
      if (session.options.json) printJson({ command: 'undo', ok, run: runId, ...result, journal: journal.file, calls: callSummary(session.clients) });
      if (!ok) throw new HalfAppliedError(`undo of ${runId} did not complete: ${result.needsPerson.join('; ')}`);
      out.write(`Undone: ${result.undone.join(', ')}. Journal: ${journal.file}\n`);
      return ExitCode.ok;
    } finally {
      journal.close();
    }
  });
}
