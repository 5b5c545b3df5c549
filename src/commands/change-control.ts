// What `apply` and `deploy` check before their first write (issue 12): the two-person rule
// (approval.required) and the image gate when the run changes the api image. What they decided
// goes into the journal's run-start entry.
import type { CallerIdentity } from '../aws/identity.js';
import { enforceImageGate, gateJournal, type GateDecision } from '../checks/image-gate.js';
import { configSchema, names } from '../config.js';
import { UsageError } from '../core/errors.js';
import type { StepPlan } from '../core/runner.js';
import type { Doc } from '../core/document.js';
import type { StepId } from '../core/step.js';
import { runbook } from '../../steps/index.js';
import { requireApproval, type Approval } from './approve.js';
import type { Session } from './shared.js';

/** `deploy` runs exactly these: the task definition with the image, and the service on it. */
export const DEPLOY_STEPS: readonly StepId[] = ['task-definition', 'service'];

/** The session with `inputs.imageTag` replaced and only the deploy steps; a bad reference is exit 2, before any AWS call. */
export function deploySession(session: Session, reference: string): Session {
  const checked = configSchema.shape.inputs.shape.imageTag.safeParse(reference);
  if (!checked.success) throw new UsageError(`deploy: "${reference}": ${checked.error.issues[0]?.message ?? 'not an image tag or digest'}`);
  const config = { ...session.config, inputs: { ...session.config.inputs, imageTag: reference } };
  const steps = runbook.filter((step) => DEPLOY_STEPS.includes(step.id));
  return { ...session, config, steps, runner: { ...session.runner, config } };
}

/**
 * The api image the task-definition step registers, when it differs from the image the service
 * runs now; undefined when the image does not change, or when no service runs yet (a first
 * deployment: the repository may be created by this very run, so there is nothing to gate).
 */
export function changedImage(session: Session, plans: StepPlan[]): string | undefined {
  const td = plans.find((p) => p.step.id === 'task-definition')?.plan;
  const register = td?.actions.find((a) => a.operation === 'RegisterTaskDefinition');
  if (!td || !register) return undefined;
  const apiName = session.config.taskDefinition.api.name;
  const containers = (register.input.containerDefinitions ?? []) as Array<{ name?: string; image?: string }>;
  const next = containers.find((c) => c.name === apiName)?.image;
  const running = (td.before['service-revision'] as Doc | undefined)?.containerDefinitions as Record<string, { image?: string }> | undefined;
  if (!running) return undefined;
  return next && next !== running[apiName]?.image ? next : undefined;
}

export interface ChangeControl {
  approvals?: Approval[];
  gate?: GateDecision;
}

/**
 * Before any write: refuse without the approvals approval.required asks for, and refuse an image
 * change the gate does not pass (unless --accept-findings). `deploy` always gates.
 */
export async function checkChangeControl(
  session: Session,
  identity: CallerIdentity,
  plans: StepPlan[],
  options: { saved?: { file: string; hash: string }; acceptFindings?: boolean; alwaysGate?: boolean; skipApproval?: boolean },
): Promise<ChangeControl> {
  const writes = plans.reduce((n, { plan }) => n + plan.actions.length, 0);
  const approvals = options.skipApproval ? undefined : requireApproval(session.config, identity, options.saved, writes);
  const result: ChangeControl = approvals ? { approvals } : {};
  const image = changedImage(session, plans);
  if (options.alwaysGate || image) {
    result.gate = await enforceImageGate(session.clients.ecr, session.config, options.acceptFindings);
    const { verdict, accepted } = result.gate;
    session.human.write(
      accepted
        ? `Image gate REFUSED ${verdict.image} (${verdict.reason}); deploying it anyway: --accept-findings (journaled)\n`
        : `Image gate passed: ${verdict.reason}\n`,
    );
  } else if (options.acceptFindings) {
    session.human.write(`--accept-findings: the image does not change (${names.apiImage(session.config)}), nothing to accept\n`);
  }
  if (approvals?.length) session.human.write(`Approved by ${approvals.map((a) => `${a.approver} (${a.at})`).join(', ')}; applied by ${identity.arn}\n`);
  return result;
}

/** The run-start fields of a change-control decision. */
export const changeControlJournal = (control: ChangeControl, image?: string) => ({
  ...(image ? { image } : {}),
  ...(control.gate ? { imageGate: gateJournal(control.gate) } : {}),
  ...(control.approvals ? { approvals: control.approvals.map((a) => ({ approver: a.approver, at: a.at, planHash: a.planHash })) } : {}),
});
