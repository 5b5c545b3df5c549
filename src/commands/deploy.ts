// `deploy <tag|sha256:digest>` (issue 12): ship a release image of fintech-api to the running
// service — the task-definition and service steps with `inputs.imageTag` replaced, nothing else —
// through the same preflight, plan, preview, confirmation, journal and section 4.1 checks as
// `apply`. Before any write the image gate: the image is in the repository, its scan finished,
// and nothing at or above `deploy.blockSeverity` (src/checks/image-gate.ts).
//
// With approval.required the change goes through a saved plan: `deploy <ref> --out p.json`
// (read-only, gated), `approve p.json` by another person, `apply p.json` (gated again).
import { checkCallerIdentity } from '../aws/identity.js';
import { names } from '../config.js';
import { ExitCode, RunbookError, UsageError } from '../core/errors.js';
import { Journal } from '../core/journal.js';
import { createContext, observeAll, planReport, planSteps, runApply, type RunReport, type StepPlan } from '../core/runner.js';
import { configHash, toSavedPlan, writePlanFile } from '../core/saved-plan.js';
import { runPreflight } from '../preflight.js';
import { ApprovalRequiredError } from './approve.js';
import { changeControlJournal, checkChangeControl, deploySession } from './change-control.js';
import { lockTimeoutMs, openRunJournal, withWriteGuard } from './guard.js';
import { recordRun } from './revisions.js';
import { finishApply, renderPlan } from './run.js';
import { confirm, printJson, renderCalls, requireConfirmationChannel, type Session } from './shared.js';

export interface DeployFlags {
  yes?: boolean;
  rollback: boolean;
  lockTimeout?: string;
  acceptFindings?: boolean;
  emergency?: boolean;
  /** Save the plan (read-only) for `approve` and `apply FILE` instead of deploying. */
  out?: string;
}

/** deploy ships to a service that exists: building the environment is `apply`'s job. */
function requireRunningService(session: Session, plans: StepPlan[]): void {
  const service = plans.find((p) => p.step.id === 'service')?.plan;
  if (service?.changes.some((c) => c.action === 'create')) {
    throw new RunbookError(`deploy: service ${session.config.cluster.name}/${session.config.service.name} does not exist: nothing was changed; \`apply\` builds the environment, deploy ships images to it`);
  }
}

const writesIn = (plans: StepPlan[]) => plans.reduce((n, { plan }) => n + plan.actions.length, 0);
const changesIn = (plans: StepPlan[]) => plans.reduce((n, { plan }) => n + plan.changes.length, 0);

export async function deployCommand(parent: Session, reference: string, flags: DeployFlags): Promise<number> {
  if (parent.options.only) throw new UsageError('deploy: --only does not apply; deploy runs exactly the task-definition and service steps');
  const session = deploySession(parent, reference);
  if (flags.out) return savePlan(session, reference, flags);
  requireConfirmationChannel(flags.yes);
  if (session.config.approval?.required) {
    throw new ApprovalRequiredError(
      `approval.required: a deploy needs an approved plan: nothing was changed. Run \`deploy ${reference} --out p.json\`, have another person run \`approve p.json\`, then \`apply p.json\``,
    );
  }
  const out = session.human;
  const runId = Journal.newRunId('deploy');
  const command = `deploy ${reference}`;
  return withWriteGuard(session, { runId, command, lockTimeoutMs: lockTimeoutMs(flags.lockTimeout), emergency: flags.emergency }, async (identity, guard) => {
    const ctx = createContext(session.runner);
    out.write(`Deploying ${names.apiImage(session.config)} to ${session.config.cluster.name}/${session.config.service.name} (account ${identity.account}, ${identity.arn})\n`);
    // The steps' reads go out with preflight's (src/commands/run.ts does the same).
    const observations = observeAll(session.steps, ctx);
    await runPreflight(ctx, session.steps);
    const plans = await planSteps(session.steps, ctx, session.runner.runbook, observations);
    requireRunningService(session, plans);
    const control = await checkChangeControl(session, identity, plans, { acceptFindings: flags.acceptFindings, alwaysGate: true });

    if (!flags.yes) {
      renderPlan(session, plans, false, false);
      if (!(await confirm(`Deploy ${reference}: ${changesIn(plans)} change(s), ${writesIn(plans)} write(s)?`, false, session.clients))) {
        out.write('Not deployed.\n');
        return ExitCode.ok;
      }
    }
    const journal = openRunJournal(session, identity, guard, {
      runId,
      command,
      steps: session.steps.map((s) => s.id),
      ...changeControlJournal(control, reference),
    });
    try {
      const report = await runApply(plans, { ...session.runner, ctx, journal, rollbackOnFailure: flags.rollback });
      await recordRun(journal, ctx, report);
      finishApply(session, { ...report, command: 'deploy' });
      return ExitCode.ok;
    } catch (error) {
      const report = (error as { report?: RunReport }).report;
      if (report) {
        await recordRun(journal, ctx, report);
        finishApply(session, { ...report, command: 'deploy' });
      }
      throw error;
    } finally {
      journal.close();
    }
  });
}

/** `deploy <ref> --out p.json`: plan and gate, read-only, and save the plan with its image. */
async function savePlan(session: Session, reference: string, flags: DeployFlags): Promise<number> {
  const identity = await checkCallerIdentity(session.clients, session.config);
  const ctx = createContext(session.runner);
  const plans = await planSteps(session.steps, ctx, session.runner.runbook);
  requireRunningService(session, plans);
  // Gated now so that nobody approves an image the gate refuses (`apply FILE` gates again).
  // The plan is what gets approved: the two-person rule applies to `apply FILE`, not here.
  await checkChangeControl(session, identity, plans, { acceptFindings: flags.acceptFindings, alwaysGate: true, skipApproval: true });
  const plan = toSavedPlan(plans, {
    account: session.config.accountId,
    region: session.config.region,
    cluster: session.config.cluster.name,
    caller: identity.arn,
    config: { file: session.options.config, hash: configHash(session.config) },
    image: reference,
  });
  const hash = writePlanFile(flags.out!, plan);
  if (session.options.json) printJson({ ...planReport(plans, session.clients, 'deploy'), caller: identity.arn, image: names.apiImage(session.config), planFile: { file: flags.out, hash } });
  renderPlan(session, plans);
  session.human.write(`Saved the deploy plan to ${flags.out} (${hash}); \`fintech-runbook apply ${flags.out}\` deploys exactly it${session.config.approval?.required ? ` once another person has run \`fintech-runbook approve ${flags.out}\`` : ''}.\n`);
  session.human.write(`${renderCalls({ calls: planReport(plans, session.clients).calls })}\n`);
  return writesIn(plans) ? ExitCode.changesPending : ExitCode.ok;
}
