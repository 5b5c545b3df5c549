// The last good revision (issue 12): every apply, deploy and rollback that includes the service
// records in its journal which task definition revision it left the service on, and whether that
// revision is good — its deployment reached COMPLETED and the service's section 4.1 checks passed.
// `rollback --to last-good` goes to the newest good one; `--to previous` stays "the next lower
// ACTIVE revision", which after two failed releases is a failed one.
import { describeService, taskDefinitionRef } from '../aws/deployment.js';
import { CHECK } from '../checks/post-deploy.js';
import type { RunbookConfig } from '../config.js';
import { listRuns, type Journal, type RunSummary } from '../core/journal.js';
import { hasRef } from '../core/actions.js';
import type { Finding, StepContext } from '../core/step.js';

/**
 * Good: the run succeeded and the service's checks ran and all passed (Service Stable OK means its
 * deployment is COMPLETED on the expected revision). Checks that did not run prove nothing.
 */
export function judgeRevision(ok: boolean, serviceFindings: Finding[]): { good: boolean; detail: string } {
  const stable = serviceFindings.find((f) => f.check === CHECK.serviceStable);
  const failed = serviceFindings.find((f) => f.status === 'FAIL');
  if (failed) return { good: false, detail: `${failed.check} FAIL: ${failed.reason}` };
  if (!stable) return { good: false, detail: "the service's section 4.1 checks did not run" };
  if (!ok) return { good: false, detail: 'the run failed' };
  return { good: true, detail: `${stable.reason}; ${serviceFindings.map((f) => `${f.check} ${f.status}`).join(', ')}` };
}

/**
 * Append the run's `revision` entry: what the service runs now (one DescribeServices) and the
 * verdict. The checks judged the revision the run deployed (`checked`): when the service is on
 * another one now (this run's changes were undone), that one was not checked and is not good.
 * Best effort: a failed read leaves no entry rather than hiding the run's own outcome.
 */
export async function recordRevision(journal: Journal, ctx: StepContext, ok: boolean, serviceFindings: Finding[], checked?: string): Promise<void> {
  if (ctx.signal.aborted) return; // interrupted: the operator asked to stop, not to be judged
  try {
    const service = await describeService(ctx.clients.ecs, ctx.config.cluster.name, ctx.config.service.name);
    const revision = taskDefinitionRef(service?.taskDefinition);
    if (!revision) return;
    const deployed = taskDefinitionRef(checked);
    const verdict =
      deployed && deployed !== revision
        ? { good: false, detail: `not checked by this run: it deployed ${deployed}, and the service is on ${revision} now` }
        : judgeRevision(ok, serviceFindings);
    journal.append({ type: 'revision', at: new Date().toISOString(), revision, ...verdict });
  } catch {
    // The run's report and exit code stand; this run simply proves no revision good.
  }
}

/** Runs of this environment (account, region, cluster) that recorded a revision of its family, oldest first. */
export function revisionRuns(config: RunbookConfig, dir: string): Array<RunSummary & { revision: string }> {
  const family = `${config.taskDefinition.family}:`;
  return listRuns(dir).filter(
    (r): r is RunSummary & { revision: string } =>
      !!r.revision?.startsWith(family) &&
      (r.cluster ?? config.cluster.name) === config.cluster.name &&
      (r.account ?? config.accountId) === config.accountId &&
      (r.region ?? config.region) === config.region,
  );
}

/** The newest run whose revision is good, or undefined. */
export const lastGood = (config: RunbookConfig, dir: string) => revisionRuns(config, dir).filter((r) => r.good).at(-1);

/** What the journal last said about a revision: for `--to previous`, so the operator knows what they get. */
export function lastRecord(config: RunbookConfig, dir: string, revision: string): (RunSummary & { revision: string }) | undefined {
  return revisionRuns(config, dir).filter((r) => r.revision === revision).at(-1);
}

/** After apply or deploy: the revision entry, when the run included the service step. */
export async function recordRun(journal: Journal, ctx: StepContext, report: { ok: boolean; steps: Array<{ id: string; findings: Finding[] }> }): Promise<void> {
  const service = report.steps.find((s) => s.id === 'service');
  const deployed = ctx.outputs.find('task-definition')?.taskDefinitionArn;
  if (service) await recordRevision(journal, ctx, report.ok, service.findings, deployed && !hasRef(deployed) ? deployed : undefined);
}
