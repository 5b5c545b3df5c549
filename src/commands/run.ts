// `plan`, `apply`, `validate`: the runbook as a whole. The plan an operator reads (on screen or
// saved with `plan --out`) is the object apply executes, action for action (DESIGN.md §3).
import { observing } from '../aws/clients.js';
import { checkCallerIdentity } from '../aws/identity.js';
import { securityChecklist } from '../checks/security-checklist.js';
import { ExitCode } from '../core/errors.js';
import { Journal } from '../core/journal.js';
import { createContext, planReport, planSteps, runApply, runValidate, type RunReport, type StepPlan } from '../core/runner.js';
import { checkSavedPlan, configHash, readPlanFile, toSavedPlan, writePlanFile } from '../core/saved-plan.js';
import { runPreflight } from '../preflight.js';
import { lockTimeoutMs, withWriteGuard } from './guard.js';
import { confirm, printJson, renderCalls, renderChange, renderFindings, requireConfirmationChannel, type Session } from './shared.js';

function renderPlan(session: Session, plans: StepPlan[]): void {
  const out = session.human;
  for (const { step, plan } of plans) {
    out.write(`${step.section} ${step.title}: ${plan.changes.length ? `${plan.changes.length} change(s), ${plan.actions.length} command(s)` : 'in sync'}\n`);
    for (const change of plan.changes) out.write(`${renderChange(change).join('\n')}\n`);
    for (const note of plan.notes ?? []) out.write(`    · ${note}\n`);
  }
}

const pendingChanges = (plans: StepPlan[]) => plans.reduce((n, { plan }) => n + plan.changes.length, 0);
const pendingActions = (plans: StepPlan[]) => plans.reduce((n, { plan }) => n + plan.actions.length, 0);

export async function planCommand(session: Session, flags: { out?: string } = {}): Promise<number> {
  const identity = await checkCallerIdentity(session.clients, session.config);
  const ctx = createContext(session.runner);
  const plans = await planSteps(session.steps, ctx, session.runner.runbook);
  const pending = pendingChanges(plans);
  const out = session.human;
  let saved: { file: string; hash: string } | undefined;
  if (flags.out) {
    const plan = toSavedPlan(plans, {
      account: session.config.accountId,
      region: session.config.region,
      cluster: session.config.cluster.name,
      caller: identity.arn,
      config: { file: session.options.config, hash: configHash(session.config) },
    });
    saved = { file: flags.out, hash: writePlanFile(flags.out, plan) };
  }
  if (session.options.json) printJson({ ...planReport(plans, session.clients), caller: identity.arn, changesPending: pending, ...(saved ? { planFile: saved } : {}) });
  out.write(`Account ${identity.account} (${identity.arn}), region ${session.config.region}, cluster ${session.config.cluster.name}\n`);
  renderPlan(session, plans);
  out.write(
    pending
      ? `\nPlan: ${pending} change(s), ${pendingActions(plans)} command(s) pending. Nothing was changed; \`fintech-runbook apply\` makes them.\n`
      : '\nIn sync: the environment matches the config.\n',
  );
  if (saved) out.write(`Saved the plan to ${saved.file} (${saved.hash}); \`fintech-runbook apply ${saved.file}\` applies exactly it.\n`);
  out.write(`${renderCalls({ calls: planReport(plans, session.clients).calls })}\n`);
  return pending ? ExitCode.changesPending : ExitCode.ok;
}

export interface ApplyFlags {
  yes?: boolean;
  rollback: boolean;
  lockTimeout?: string;
}

/**
 * Identity and lock, preflight, the plan (fresh, or the saved one checked against a fresh one),
 * the preview and prompt, then exactly those actions, journaled.
 */
export async function applyCommand(session: Session, flags: ApplyFlags, planFile?: string): Promise<number> {
  const out = session.human;
  requireConfirmationChannel(flags.yes);
  const saved = planFile ? readPlanFile(planFile) : undefined;
  const runId = Journal.newRunId('apply');
  return withWriteGuard(session, { runId, command: planFile ? `apply ${planFile}` : 'apply', lockTimeoutMs: lockTimeoutMs(flags.lockTimeout) }, async (identity) => {
    const ctx = createContext(session.runner);
    // Preflight and plan read once per resource (the per-run read cache), before anything is written.
    const fresh = await observing(session.clients, async () => {
      await runPreflight(ctx, session.steps);
      return planSteps(session.steps, ctx, session.runner.runbook);
    });
    const plans = saved ? checkSavedPlan(saved.plan, fresh, session.config, session.steps) : fresh;
    if (saved) out.write(`Applying the saved plan ${planFile} (${saved.hash}), made ${saved.plan.createdAt} by ${saved.plan.caller ?? 'unknown'}: the environment still matches it.\n`);

    if (!flags.yes) {
      renderPlan(session, plans.filter(({ plan }) => plan.changes.length || plan.notes?.length));
      const pending = pendingChanges(plans);
      if (pending === 0) out.write('Nothing to change; the checks will still run.\n');
      const target = `${session.config.cluster.name} in ${session.config.region} (account ${session.config.accountId})`;
      if (!(await confirm(`Apply ${pending} change(s), ${pendingActions(plans)} write(s), to ${target}?`, false))) {
        out.write('Not applied.\n');
        return ExitCode.ok;
      }
    }
    const journal = new Journal(runId);
    journal.append({
      type: 'run-start',
      runId,
      command: 'apply',
      at: new Date().toISOString(),
      config: session.options.config,
      cluster: session.config.cluster.name,
      steps: session.steps.map((s) => s.id),
      caller: identity.arn,
      account: identity.account,
      region: session.config.region,
      ...(saved ? { planFile, planHash: saved.hash } : {}),
    });
    try {
      const report = await runApply(plans, { ...session.runner, ctx, journal, rollbackOnFailure: flags.rollback });
      finishApply(session, report);
      return ExitCode.ok;
    } catch (error) {
      const report = (error as { report?: RunReport }).report;
      if (report) finishApply(session, report);
      throw error;
    } finally {
      journal.close();
    }
  });
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
