// The controls this runbook is held to, by id: AWS Security Hub controls that concern what the
// runbook creates or depends on (AWS's definitions, src/checks/controls/*.ts), and the runbook's
// own where section 3 asks for more (ids `RB.*`). Each maps to the section 3 items it implements.
// `validate` evaluates all of them; `apply`'s preflight the ones on inputs, before the first write.
//
// API for other commands (validate --report, iam-policy):
//   CONTROLS / CONTROL_DEFINITIONS   the table (id, title, passes, resourceType, reads, checklist, …)
//   controlById(id)                  one definition
//   evaluateControls(ctx, options)   ControlResult[]: status, resource, resourceArn, reason, observed, requestId
//   controlFinding(result)           the same as a Finding (what validate prints and --json carries)
//   CHECKLIST_CONTROLS, checklistControls(check)   section 3 item -> control ids
import { describeAwsError } from '../core/errors.js';
import { fail, type Finding, type StepContext, type StepId } from '../core/step.js';
import { ecrControls } from './controls/ecr.js';
import { ecsControls } from './controls/ecs.js';
import { iamControls } from './controls/iam.js';
import { logsControls } from './controls/logs.js';
import { networkControls } from './controls/network.js';
import { ControlReader } from './controls/read.js';
import type { ChecklistItem, ControlDefinition, ControlResult, ControlSpec, EvaluationMode } from './controls/types.js';

export type { ChecklistItem, ControlDefinition, ControlResult, ControlStatus, EvaluationMode } from './controls/types.js';
export { ControlReader } from './controls/read.js';

/** Every control, in report order: the cluster and tasks, the image, the network, the logs, the roles. */
export const CONTROLS: readonly ControlSpec[] = [...ecsControls, ...ecrControls, ...networkControls, ...logsControls, ...iamControls];

/** The table without the evaluators (for reports and documentation). */
export const CONTROL_DEFINITIONS: readonly ControlDefinition[] = CONTROLS.map(({ evaluate: _evaluate, ...definition }) => definition);

export const controlById = (id: string): ControlDefinition | undefined => CONTROL_DEFINITIONS.find((c) => c.id === id);

/** Controls evaluated before apply's first write (inputs the runbook assumes). */
export const INPUT_CONTROL_IDS: readonly string[] = CONTROLS.filter((c) => c.input).map((c) => c.id);

const ITEMS: ChecklistItem[] = ['3.1', '3.2', '3.3', '3.4', '3.5'];

/** Section 3 item -> the controls that implement it. */
export const CHECKLIST_CONTROLS: Readonly<Record<ChecklistItem, string[]>> = Object.fromEntries(
  ITEMS.map((item) => [item, CONTROLS.filter((c) => c.checklist.includes(item)).map((c) => c.id)]),
) as Record<ChecklistItem, string[]>;

/** The controls of a checklist finding, by its item number (`3.4 Port 8080 only from ALB SG` -> 3.4's). */
export function checklistControls(check: string): string[] {
  const item = /^(3\.\d)\b/.exec(check)?.[1] as ChecklistItem | undefined;
  return item && item in CHECKLIST_CONTROLS ? CHECKLIST_CONTROLS[item] : [];
}

export interface EvaluateOptions {
  /** Only the controls that read these steps' resources or inputs (validate --only). Default: all. */
  steps?: readonly StepId[];
  /** Only these control ids. */
  ids?: readonly string[];
  /** preflight: input controls only, as they stand before apply converges anything. */
  mode?: EvaluationMode;
  /** Share reads with other checks of the same run. */
  reader?: ControlReader;
}

/**
 * Evaluate the selected controls, read-only. A control whose reads fail is FAIL "could not be
 * evaluated" with the error (and its request id), never a pass; the others are still evaluated.
 */
export async function evaluateControls(ctx: StepContext, options: EvaluateOptions = {}): Promise<ControlResult[]> {
  const mode = options.mode ?? 'validate';
  const reader = options.reader ?? new ControlReader(ctx);
  const selected = CONTROLS.filter(
    (c) =>
      (mode === 'validate' || c.input) &&
      (!options.ids || options.ids.includes(c.id)) &&
      (!options.steps || c.steps.some((s) => options.steps!.includes(s))),
  );
  const results = await Promise.all(
    selected.map(async (control): Promise<ControlResult[]> => {
      try {
        return (await control.evaluate(reader, mode)).map((e) => ({ control: control.id, ...e }));
      } catch (error) {
        const requestId = (error as { $metadata?: { requestId?: string } }).$metadata?.requestId;
        return [{ control: control.id, status: 'FAIL', resource: control.resourceType, reason: `could not be evaluated: ${describeAwsError(error)}`, ...(requestId ? { requestId } : {}) }];
      }
    }),
  );
  return results.flat();
}

/** A result as validate prints it: the check column names the control; the finding carries the evidence. */
export function controlFinding(result: ControlResult): Finding {
  const definition = controlById(result.control);
  return {
    check: `${result.control} ${definition?.short ?? ''}`.trim(),
    status: result.status,
    resource: result.resource,
    reason: result.reason,
    controls: [result.control],
    ...(definition?.checklist.length ? { checklist: [...definition.checklist] } : {}),
    ...(result.resourceArn ? { resourceArn: result.resourceArn } : {}),
    ...(result.observed !== undefined ? { observed: result.observed } : {}),
    ...(result.requestId ? { requestId: result.requestId } : {}),
  };
}

/** validate's extra check: every control of the selected steps, as findings. */
export async function controlChecks(ctx: StepContext, steps?: readonly StepId[]): Promise<Finding[]> {
  try {
    return (await evaluateControls(ctx, { steps })).map(controlFinding);
  } catch (error) {
    return [fail('Controls', 'controls', `could not be evaluated: ${describeAwsError(error)}`)];
  }
}
