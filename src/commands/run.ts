// `plan`, `apply`, `validate`: the runbook as a whole.
import { ExitCode } from '../core/errors.js';
import { Journal } from '../core/journal.js';
import { runApply, runPlan, runValidate, type RunReport } from '../core/runner.js';
import { securityChecklist } from '../checks/security-checklist.js';
import { runPreflight } from '../preflight.js';
import { confirm, printJson, requireConfirmationChannel, renderCalls, renderChange, renderFindings, type Session } from './shared.js';

export async function planCommand(session: Session): Promise<number> {
  const report = await runPlan(session.steps, session.runner);
  const pending = report.steps.reduce((n, s) => n + s.changes.length, 0);
  if (session.options.json) printJson({ ...report, changesPending: pending });
  const out = session.human;
  for (const step of report.steps) {
    out.write(`${step.section} ${step.title}: ${step.changes.length ? `${step.changes.length} change(s)` : 'in sync'}\n`);
    for (const change of step.changes) out.write(`${renderChange(change).join('\n')}\n`);
  }
  out.write(
    pending
      ? `\nPlan: ${pending} change(s) pending. Nothing was changed; \`fintech-runbook apply\` makes them.\n`
      : '\nIn sync: the environment matches the config.\n',
  );
  out.write(`${renderCalls(report)}\n`);
  return pending ? ExitCode.changesPending : ExitCode.ok;
}

export interface ApplyFlags {
  yes?: boolean;
  rollback: boolean;
}

export async function applyCommand(session: Session, flags: ApplyFlags): Promise<number> {
  const out = session.human;
  requireConfirmationChannel(flags.yes);
  if (!flags.yes) {
    // Show what will change before asking; on a TTY only (confirm refuses otherwise).
    const preview = await runPlan(session.steps, session.runner);
    const pending = preview.steps.reduce((n, s) => n + s.changes.length, 0);
    for (const step of preview.steps.filter((s) => s.changes.length)) {
      out.write(`${step.section} ${step.title}\n${step.changes.flatMap(renderChange).join('\n')}\n`);
    }
    if (pending === 0) out.write('Nothing to change; the checks will still run.\n');
    const target = `${session.config.cluster.name} in ${session.config.region} (account ${session.config.accountId})`;
    if (!(await confirm(`Apply ${pending} change(s) to ${target}?`, false))) {
      out.write('Not applied.\n');
      return ExitCode.ok;
    }
  }
  const journal = new Journal(Journal.newRunId('apply'));
  journal.append({
    type: 'run-start',
    runId: journal.runId,
    command: 'apply',
    at: new Date().toISOString(),
    config: session.options.config,
    cluster: session.config.cluster.name,
    steps: session.steps.map((s) => s.id),
  });
  try {
    const report = await runApply(session.steps, {
      ...session.runner,
      journal,
      rollbackOnFailure: flags.rollback,
      preflight: (ctx) => runPreflight(ctx, session.steps),
    });
    finishApply(session, report);
    return ExitCode.ok;
  } catch (error) {
    const report = (error as { report?: RunReport }).report;
    if (report) finishApply(session, report);
    throw error;
  } finally {
    journal.close();
  }
}

function finishApply(session: Session, report: RunReport): void {
  if (session.options.json) printJson(report);
  const out = session.human;
  const changed = report.steps.filter((s) => s.status === 'applied').length;
  out.write(`\n${report.ok ? 'Applied' : 'Apply failed'}: ${changed} step(s) changed, ${report.steps.filter((s) => s.status === 'in-sync').length} up to date.\n`);
  if (report.findings.length) out.write(`${renderFindings(report.findings).join('\n')}\n`);
  if (report.compensation) {
    out.write(`Undone: ${report.compensation.undone.join(', ') || 'nothing'}\n`);
    if (report.compensation.notes.length) out.write(`Kept or noted while undoing:\n${report.compensation.notes.map((n) => `  - ${n}`).join('\n')}\n`);
    if (report.compensation.needsPerson.length) out.write(`Needs a person:\n${report.compensation.needsPerson.map((n) => `  - ${n}`).join('\n')}\n`);
  }
  out.write(`${renderCalls(report)}. Journal: ${report.journal}\n`);
}

export async function validateCommand(session: Session): Promise<number> {
  const report = await runValidate(session.steps, session.runner, [securityChecklist]);
  if (session.options.json) printJson(report);
  const out = session.human;
  out.write(`${renderFindings(report.findings).join('\n')}\n`);
  const failed = report.findings.filter((f) => f.status === 'FAIL').length;
  out.write(`\n${failed ? `${failed} check(s) FAILED` : 'All checks passed'}. ${renderCalls(report)}\n`);
  return failed ? ExitCode.failed : ExitCode.ok;
}
