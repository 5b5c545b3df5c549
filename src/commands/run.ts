// `plan`, `apply`, `validate`: the runbook as a whole. The plan an operator reads (on screen or
// saved with `plan --out`) is the object apply executes, action for action (DESIGN.md §3).
import { checkCallerIdentity } from '../aws/identity.js';
import { controlChecks } from '../checks/controls.js';
import { securityChecklist } from '../checks/security-checklist.js';
import { ExitCode } from '../core/errors.js';
import { Journal } from '../core/journal.js';
import { createContext, observeAll, planReport, planSteps, runApply, runValidate, type RunReport, type StepPlan } from '../core/runner.js';
import { checkSavedPlan, configHash, readPlanFile, toSavedPlan, writePlanFile } from '../core/saved-plan.js';
import { checkAcceptedControls, describeAccepted, runPreflight, type AcceptedException } from '../preflight.js';
import { changeControlJournal, checkChangeControl, deploySession } from './change-control.js';
import { lockTimeoutMs, openRunJournal, withWriteGuard } from './guard.js';
import { outputWidth, plural } from './layout.js';
import { recordRun } from './revisions.js';
import { nextCommands, renderFailures, renderPlan as planLines } from './report.js';
import { confirm, printJson, renderCalls, renderFindings, requireConfirmationChannel, type Session } from './shared.js';
import { buildEvidence, writeEvidence, type ReportTarget } from './evidence.js';

/** One line per step and per change; whole documents only with --diff (src/commands/report.ts). */
export function renderPlan(session: Session, plans: StepPlan[], diff = false, inSyncNotes = true): void {
  session.human.write(`${planLines(plans, { width: outputWidth(session.human), diff, inSyncNotes }).join('\n')}\n`);
}

const caller = (session: Session, identity: { account: string; arn: string }) =>
  `Account ${identity.account} (${identity.arn}), region ${session.config.region}, cluster ${session.config.cluster.name}\n`;

const pendingChanges = (plans: StepPlan[]) => plans.reduce((n, { plan }) => n + plan.changes.length, 0);
const pendingActions = (plans: StepPlan[]) => plans.reduce((n, { plan }) => n + plan.actions.length, 0);

export async function planCommand(session: Session, flags: { out?: string; diff?: boolean } = {}): Promise<number> {
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
  out.write(caller(session, identity));
  renderPlan(session, plans, flags.diff);
  out.write(
    pending
      ? `\nPlan: ${plural(pending, 'change')} (${plural(pendingActions(plans), 'write')}) pending. Nothing was changed; \`fintech-runbook apply\` makes them${flags.diff ? '' : ', `--diff` shows whole documents'}.\n`
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
  /** The preview shows whole documents as unified diffs. */
  diff?: boolean;
  /** Deploy an image the image gate refuses for its scan findings (journaled). */
  acceptFindings?: boolean;
  /** Write while the change calendar is CLOSED (journaled). */
  emergency?: boolean;
  /** Input controls whose FAIL is a recorded exception, not a stop (issue 9; journaled). */
  accept?: string[];
}

/**
 * Identity and lock, preflight, the plan (fresh, or the saved one checked against a fresh one),
 * the preview and prompt, then exactly those actions, journaled.
 */
export async function applyCommand(session: Session, flags: ApplyFlags, planFile?: string): Promise<number> {
  const out = session.human;
  requireConfirmationChannel(flags.yes);
  const accept = checkAcceptedControls(flags.accept);
  const saved = planFile ? readPlanFile(planFile) : undefined;
  // A plan saved by `deploy <ref> --out`: the same two steps with that image.
  if (saved?.plan.image) session = deploySession(session, saved.plan.image);
  const runId = Journal.newRunId('apply');
  const guardOptions = { runId, command: planFile ? `apply ${planFile}` : 'apply', lockTimeoutMs: lockTimeoutMs(flags.lockTimeout), emergency: flags.emergency };
  return withWriteGuard(session, guardOptions, async (identity, guard) => {
    const ctx = createContext(session.runner);
    let accepted: AcceptedException[] = [];
    // Preflight and the steps' reads go out together, once per resource (the per-run read cache),
    // before anything is written; a preflight problem is reported first, and the plan is made only
    // once preflight passed.
    out.write(caller(session, identity));
    const observations = observeAll(session.steps, ctx);
    const preflight = await runPreflight(ctx, session.steps, { accept });
    for (const line of describeAccepted(preflight)) out.write(`${line}\n`);
    out.write('Preflight passed: every input the steps rely on exists and fits.\n');
    accepted = preflight.accepted;
    const fresh = await planSteps(session.steps, ctx, session.runner.runbook, observations);
    const plans = saved ? checkSavedPlan(saved.plan, fresh, session.config, session.steps) : fresh;
    if (saved) out.write(`Applying the saved plan ${planFile} (${saved.hash}), made ${saved.plan.createdAt} by ${saved.plan.caller ?? 'unknown'}: the environment still matches it.\n`);
    // Issue 12, before any write: the two-person rule, and the image gate when the image changes.
    const control = await checkChangeControl(session, identity, plans, { saved: saved && { file: planFile!, hash: saved.hash }, acceptFindings: flags.acceptFindings });

    if (!flags.yes) {
      renderPlan(session, plans, flags.diff, false);
      const pending = pendingChanges(plans);
      if (pending === 0) out.write('Nothing to change; the checks will still run.\n');
      const target = `account ${session.config.accountId}, region ${session.config.region}, cluster ${session.config.cluster.name}`;
      if (!(await confirm(`Apply ${plural(pending, 'change')} (${plural(pendingActions(plans), 'write')}) to ${target}?`, false, session.clients))) {
        out.write('Not applied.\n');
        return ExitCode.ok;
      }
    }
    const journal = openRunJournal(session, identity, guard, {
      runId,
      command: 'apply',
      steps: session.steps.map((s) => s.id),
      ...(saved ? { planFile, planHash: saved.hash } : {}),
      ...changeControlJournal(control, saved?.plan.image),
      ...(accepted.length ? { accepted } : {}),
    });
    try {
      const report = await runApply(plans, { ...session.runner, ctx, journal, rollbackOnFailure: flags.rollback });
      await recordRun(journal, ctx, report);
      finishApply(session, report);
      return ExitCode.ok;
    } catch (error) {
      const report = (error as { report?: RunReport }).report;
      if (report) await recordRun(journal, ctx, report);
      if (report) finishApply(session, report);
      throw error;
    } finally {
      journal.close();
    }
  });
}

export function finishApply(session: Session, report: RunReport): void {
  if (session.options.json) printJson(report);
  const out = session.human;
  const changed = report.steps.filter((s) => s.status === 'applied').length;
  out.write(`\n${report.ok ? 'Applied' : 'Apply failed'}: ${plural(changed, 'step')} changed, ${report.steps.filter((s) => s.status === 'in-sync').length} up to date.\n`);
  if (report.findings.length) out.write(`${renderFindings(report.findings).join('\n')}\n`);
  if (report.compensation) {
    out.write(`Undone: ${report.compensation.undone.join(', ') || 'nothing'}\n`);
    if (report.compensation.notes.length) out.write(`Kept or noted while undoing:\n${report.compensation.notes.map((n) => `  - ${n}`).join('\n')}\n`);
    if (report.compensation.needsPerson.length) out.write(`Needs a person:\n${report.compensation.needsPerson.map((n) => `  - ${n}`).join('\n')}\n`);
  }
  out.write(`${renderCalls(report)}. Journal: ${report.journal}\n`);
  // The last lines: what failed, once more, and what to run next.
  const runId = report.journal?.split('/').pop()?.replace(/\.jsonl$/, '');
  const stepError = report.steps.some((s) => s.status !== 'not-run' && s.error);
  const rolledBack = !!report.compensation && !report.compensation.needsPerson.length;
  const closing = [...renderFailures(report.findings, outputWidth(out)), ...(report.ok ? [] : nextCommands(report.findings, { command: 'apply', runId, compensation: report.compensation, rolledBack, stepError }))];
  if (closing.length) out.write(`\n${closing.join('\n')}\n`);
}

/** `report`: where the evidence report goes (src/commands/evidence.ts), checked before any AWS call. */
export async function validateCommand(session: Session, flags: { report?: ReportTarget } = {}): Promise<number> {
  const startedAt = new Date();
  // Whose credentials judged this account: the report names the caller; another account is exit 2.
  const identity = await checkCallerIdentity(session.clients, session.config);
  // The section 3 checklist, then every control by id (src/checks/controls.ts) for the selected steps.
  const report = await runValidate(session.steps, session.runner, [securityChecklist, (ctx) => controlChecks(ctx, session.steps.map((s) => s.id))]);
  if (flags.report) {
    const { config } = session;
    const evidence = buildEvidence({
      configFile: session.options.config,
      configHash: configHash(config),
      account: config.accountId,
      region: config.region,
      cluster: config.cluster.name,
      identity,
      startedAt,
      finishedAt: new Date(),
      steps: session.steps.map((s) => s.id),
      report,
      requests: session.clients.requests,
    });
    writeEvidence(flags.report, evidence);
  }
  if (session.options.json) printJson({ ...report, caller: identity.arn, ...(flags.report ? { evidenceReport: flags.report } : {}) });
  const out = session.human;
  if (flags.report) out.write(`Evidence report (${flags.report.format}): ${flags.report.file}\n`);
  const width = outputWidth(out);
  out.write(`${renderFindings(report.findings, width).join('\n')}\n`);
  const count = (status: string) => report.findings.filter((f) => f.status === status).length;
  const failed = count('FAIL');
  const tally = ['OK', 'WARN', 'SKIP'].filter((s) => count(s)).map((s) => `${count(s)} ${s}`).join(', ');
  out.write(`\n${failed ? `${plural(failed, 'check')} FAILED${tally ? `, ${tally}` : ''}` : `All checks passed${tally ? ` (${tally})` : ''}`}. ${renderCalls(report)}\n`);
  // The last lines: the failing checks once more, then what to run next.
  if (failed) out.write(`\n${[...renderFailures(report.findings, width), ...nextCommands(report.findings, { command: 'validate' })].join('\n')}\n`);
  return failed ? ExitCode.failed : ExitCode.ok;
}
