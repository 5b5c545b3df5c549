// Saved plans, as Terraform's `plan -out`: the plan object on disk (actions, the observed state it
// was made from, config hash, account, region, time, who made it). `apply plan.json` re-plans first
// and refuses when the world or the config moved since: the approval an operator gave is then
// provably the change that runs. Values are documents as observed; secret-looking values are
// already redacted by the steps' normalisers, and the tool never reads a secret.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { RunbookConfig } from '../config.js';
import type { Action } from './actions.js';
import { prune } from './document.js';
import { RunbookError, UsageError } from './errors.js';
import type { StepPlan } from './runner.js';
import type { Change, Observed, Step, StepId } from './step.js';

export const PLAN_FORMAT = 'fintech-runbook/plan@1';

export interface SavedStep {
  id: StepId;
  before: Observed;
  changes: Change[];
  actions: Action[];
  outputs: unknown;
  notes?: string[];
}

export interface SavedPlan {
  format: typeof PLAN_FORMAT;
  createdAt: string;
  account: string;
  region: string;
  cluster: string;
  caller?: string;
  config: { file: string; hash: string };
  /** A plan made by `deploy <ref> --out`: the image it deploys (`apply FILE` deploys it the same way). */
  image?: string;
  steps: SavedStep[];
}

/** A hash of the resolved config (after ${VAR}s): the plan is valid for exactly this config. */
export function configHash(config: RunbookConfig): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(prune(config))).digest('hex')}`;
}

/** The hash of a plan file's content: what an approval names (and the journal records). */
export const planHash = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

export function toSavedPlan(plans: StepPlan[], meta: Omit<SavedPlan, 'format' | 'steps' | 'createdAt'>): SavedPlan {
  return {
    format: PLAN_FORMAT,
    createdAt: new Date().toISOString(),
    ...meta,
    steps: plans.map(({ step, plan }) => ({
      id: step.id,
      before: plan.before,
      changes: plan.changes,
      actions: plan.actions,
      outputs: plan.outputs,
      ...(plan.notes?.length ? { notes: plan.notes } : {}),
    })),
  };
}

export function writePlanFile(file: string, plan: SavedPlan): string {
  const text = `${JSON.stringify(plan, null, 2)}\n`;
  writeFileSync(file, text, { mode: 0o600 });
  return planHash(text);
}

export function readPlanFile(file: string): { plan: SavedPlan; hash: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${file}: cannot read the plan (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let plan: SavedPlan;
  try {
    plan = JSON.parse(text) as SavedPlan;
  } catch {
    throw new UsageError(`${file}: not a plan file (not JSON)`);
  }
  if (plan?.format !== PLAN_FORMAT || !Array.isArray(plan.steps)) {
    throw new UsageError(`${file}: not a fintech-runbook plan (format is ${JSON.stringify(plan?.format)}, want ${PLAN_FORMAT})`);
  }
  return { plan, hash: planHash(text) };
}

/** Thrown by `apply plan.json` when the plan no longer describes the change that would run. */
export class StalePlanError extends RunbookError {
  constructor(readonly problems: string[]) {
    super(`the saved plan is stale: nothing was applied.\n${problems.map((p) => `  - ${p}`).join('\n')}\nMake a new plan and have it approved again.`);
  }
}

/**
 * Compare a saved plan with a fresh one made now: same config, account, region, steps, and per
 * step the same changes (with their observed `from` values) and the same commands. Returns the
 * step plans to execute: the SAVED ones, exactly what was approved.
 */
export function checkSavedPlan(saved: SavedPlan, fresh: StepPlan[], config: RunbookConfig, steps: Step[]): StepPlan[] {
  const problems: string[] = [];
  if (saved.account !== config.accountId) problems.push(`made for account ${saved.account}, the config is for ${config.accountId}`);
  if (saved.region !== config.region) problems.push(`made for region ${saved.region}, the config is for ${config.region}`);
  if (saved.config.hash !== configHash(config)) problems.push(`the config changed since the plan was made (${saved.config.file})`);
  const savedIds = saved.steps.map((s) => s.id).join(',');
  const freshIds = fresh.map((p) => p.step.id).join(',');
  if (savedIds !== freshIds) problems.push(`the plan covers steps ${savedIds}, this command selects ${freshIds} (use the same --only)`);
  for (const { step, plan } of fresh) {
    const was = saved.steps.find((s) => s.id === step.id);
    if (!was) continue;
    const names = (changes: Change[]) => new Set(changes.map((c) => c.resource));
    const touched = new Set([...names(was.changes), ...names(plan.changes)]);
    for (const resource of touched) {
      const before = was.changes.filter((c) => c.resource === resource);
      const now = plan.changes.filter((c) => c.resource === resource);
      if (!isDeepStrictEqual(prune(before), prune(now))) problems.push(`${step.section} ${resource}: changed since the plan was made`);
    }
    const commands = (actions: Action[]) => actions.map((a) => `${a.resource} ${a.service}:${a.operation}`);
    if (!problems.length && !isDeepStrictEqual(commands(was.actions), commands(plan.actions))) {
      problems.push(`${step.section} ${step.title}: the commands it would send differ from the saved plan's`);
    }
  }
  if (problems.length) throw new StalePlanError(problems);
  return saved.steps.map((s) => ({
    step: steps.find((st) => st.id === s.id)!,
    plan: { before: s.before, changes: s.changes, actions: s.actions, outputs: s.outputs, ...(s.notes ? { notes: s.notes } : {}) },
  }));
}
