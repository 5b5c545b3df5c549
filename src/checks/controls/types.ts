// The shape of a control: what it is (for people and auditors) and how it is evaluated (for the
// tool). Definitions follow the Security Hub control reference; where this tool evaluates a control
// differently, `differs` says how (and a comment at the evaluation says why).
import type { StepId } from '../../core/step.js';
import type { ControlReader } from './read.js';

/** The runbook's section 3 checklist items. */
export type ChecklistItem = '3.1' | '3.2' | '3.3' | '3.4' | '3.5';

/**
 * OK: it passes. FAIL: it does not, or it could not be evaluated (the reason says which).
 * SKIP: it does not apply to this resource (the reason says why); never "could not see it".
 */
export type ControlStatus = 'OK' | 'FAIL' | 'SKIP';

export interface ControlDefinition {
  /** Security Hub's control id (`ECS.5`), or this runbook's own (`RB.EC2.1`) where AWS has none. */
  id: string;
  /** `security-hub`: an AWS Security Hub control (AWS's definition); `runbook`: what section 3 or the runbook's objectives require beyond them. */
  source: 'security-hub' | 'runbook';
  /** Security Hub's title (for runbook controls, ours). */
  title: string;
  /** A short label for the check column. */
  short: string;
  severity: 'critical' | 'high' | 'medium' | 'low';
  /** What passes, in AWS's words (quoted or closely paraphrased from the control reference). */
  passes: string;
  /** The CloudFormation-style type of the resource evaluated. */
  resourceType: string;
  /** The read-only calls whose answers decide it. */
  reads: string[];
  /** The section 3 items it implements (empty: it comes from the runbook's SOC2 objective, not from section 3). */
  checklist: ChecklistItem[];
  /** Where this tool's evaluation differs from AWS's, and why. */
  differs?: string;
  /**
   * It reads an input the runbook assumes and does not create (subnets, security groups, the ALB's
   * listeners): `apply`'s preflight evaluates it before the first write (`--accept` waives it).
   */
  input?: boolean;
  /** The steps whose resources (or inputs) it reads: `validate --only` evaluates a control when one is selected. */
  steps: StepId[];
}

/** One evaluation of one control on one resource: the evidence an auditor keeps. */
export interface ControlResult {
  control: string;
  status: ControlStatus;
  /** Human name, e.g. `task definition fintech-api-task:3`. */
  resource: string;
  resourceArn?: string;
  reason: string;
  /** The value that decided it (never a secret value: environment variables by name only). */
  observed?: unknown;
  /** `$metadata.requestId` of the read that returned `observed`. */
  requestId?: string;
}

export type Evaluation = Omit<ControlResult, 'control'>;

/** preflight: before apply's first write, only what apply does not converge; validate: everything. */
export type EvaluationMode = 'preflight' | 'validate';

export interface ControlSpec extends ControlDefinition {
  evaluate(read: ControlReader, mode: EvaluationMode): Promise<Evaluation[]>;
}

/** "could not be evaluated": a FAIL, never a silent pass. */
export const notEvaluated = (resource: string, why: string, extra: Partial<Evaluation> = {}): Evaluation => ({
  status: 'FAIL',
  resource,
  reason: `could not be evaluated: ${why}`,
  ...extra,
});
