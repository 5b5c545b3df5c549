// Two-person approval of a saved plan (issue 12, SOC2 segregation of duties). `approve plan.json`
// records, beside the plan in `plan.json.approvals.json`, who approved it (their STS caller ARN),
// when, and the hash of the plan file: a changed plan is a new plan that nobody approved. With
// `approval.required: true`, `apply plan.json` (and so a saved `deploy` plan) refuses unless a
// caller other than the one applying approved exactly that hash; the journal keeps both.
//
// The approvals file is evidence for the change record, not a signature: whoever can write it can
// forge it. Keep it with the plan in the change ticket (README "Approval and change freeze").
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { checkCallerIdentity, type CallerIdentity } from '../aws/identity.js';
import type { RunbookConfig } from '../config.js';
import { ExitCode, RunbookError, UsageError } from '../core/errors.js';
import { readPlanFile } from '../core/saved-plan.js';
import { confirm, printJson, renderChange, requireConfirmationChannel, type Session } from './shared.js';

export const APPROVALS_FORMAT = 'fintech-runbook/approvals@1';

export interface Approval {
  /** The approver's STS caller ARN. */
  approver: string;
  approverUserId: string;
  account: string;
  at: string;
  /** `planHash` of the plan file's content (the approvals live beside it, outside the hash). */
  planHash: string;
}

interface ApprovalsFile {
  format: typeof APPROVALS_FORMAT;
  plan: string;
  approvals: Approval[];
}

export const approvalsPath = (planFile: string) => `${planFile}.approvals.json`;

/** The approvals recorded beside a plan ([] when none). A malformed file is an error, never "no approval". */
export function readApprovals(planFile: string): Approval[] {
  const file = approvalsPath(planFile);
  if (!existsSync(file)) return [];
  let parsed: ApprovalsFile;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as ApprovalsFile;
  } catch {
    throw new UsageError(`${file}: not an approvals file (not JSON)`);
  }
  if (parsed?.format !== APPROVALS_FORMAT || !Array.isArray(parsed.approvals)) {
    throw new UsageError(`${file}: not a fintech-runbook approvals file (format ${JSON.stringify(parsed?.format)}, want ${APPROVALS_FORMAT})`);
  }
  return parsed.approvals;
}

/** Refused by the two-person rule: nothing was changed. */
export class ApprovalRequiredError extends RunbookError {}

export const APPROVAL_FLOW = '`plan --out p.json` (or `deploy <ref> --out p.json`), `approve p.json` by another person, then `apply p.json`';

/**
 * With `approval.required`, the approvals that let `caller` apply: by another caller, of exactly
 * this plan's hash, in this account. Without the setting: undefined (nothing changes). A run
 * without a saved plan is refused when it would write anything.
 */
export function requireApproval(
  config: RunbookConfig,
  caller: CallerIdentity,
  saved: { file: string; hash: string } | undefined,
  pendingWrites: number,
): Approval[] | undefined {
  if (!config.approval?.required) return undefined;
  if (!saved) {
    if (pendingWrites === 0) return [];
    throw new ApprovalRequiredError(`approval.required: ${pendingWrites} write(s) pending and no approved plan: nothing was changed. Make the change as ${APPROVAL_FLOW}`);
  }
  const approvals = readApprovals(saved.file).filter((a) => a.planHash === saved.hash && a.account === config.accountId);
  if (!approvals.length) {
    const stale = readApprovals(saved.file).length ? ' (its approvals are for another version of the plan)' : '';
    throw new ApprovalRequiredError(`approval.required: plan ${saved.file} (${saved.hash}) has no approval${stale}: nothing was changed; another person runs \`approve ${saved.file}\``);
  }
  const others = approvals.filter((a) => a.approver !== caller.arn);
  if (!others.length) {
    throw new ApprovalRequiredError(
      `approval.required: plan ${saved.file} is approved only by ${caller.arn}, who is applying it: nothing was changed; another person must approve it`,
    );
  }
  return others;
}

export async function approveCommand(session: Session, planFile: string, flags: { yes?: boolean }): Promise<number> {
  const { plan, hash } = readPlanFile(planFile);
  readApprovals(planFile); // a malformed approvals file is refused before any AWS call
  requireConfirmationChannel(flags.yes);
  const identity = await checkCallerIdentity(session.clients, session.config);
  if (plan.account !== identity.account) {
    throw new UsageError(`${planFile} was made for account ${plan.account}; these credentials are for ${identity.account}`);
  }
  const out = session.human;
  out.write(`Plan ${planFile} (${hash}), made ${plan.createdAt} by ${plan.caller ?? 'unknown'} for ${plan.cluster} in ${plan.region} (account ${plan.account})${plan.image ? `, deploying ${plan.image}` : ''}:\n`);
  let changes = 0;
  for (const step of plan.steps) {
    changes += step.changes.length;
    if (!step.changes.length) continue;
    out.write(`${step.id}: ${step.changes.length} change(s), ${step.actions.length} command(s)\n`);
    for (const change of step.changes) out.write(`${renderChange(change).join('\n')}\n`);
  }
  if (!changes) out.write('  (no changes)\n');

  const existing = readApprovals(planFile);
  const already = existing.find((a) => a.planHash === hash && a.approver === identity.arn);
  let approval = already;
  if (already) {
    out.write(`Already approved by ${identity.arn} at ${already.at}.\n`);
  } else {
    if (!(await confirm(`Approve this plan as ${identity.arn}?`, flags.yes))) {
      out.write('Not approved.\n');
      return ExitCode.ok;
    }
    approval = { approver: identity.arn, approverUserId: identity.userId, account: identity.account, at: new Date().toISOString(), planHash: hash };
    const file: ApprovalsFile = { format: APPROVALS_FORMAT, plan: planFile, approvals: [...existing, approval] };
    writeFileSync(approvalsPath(planFile), `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    out.write(`Approved by ${identity.arn} at ${approval.at}: ${approvalsPath(planFile)}\n`);
  }
  if (plan.caller === identity.arn) out.write('Note: you made this plan; with approval.required, someone else must apply it.\n');
  if (session.options.json) printJson({ command: 'approve', ok: true, plan: planFile, planHash: hash, approval, approvalsFile: approvalsPath(planFile) });
  return ExitCode.ok;
}
