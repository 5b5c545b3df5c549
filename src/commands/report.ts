// What an operator reads before saying yes and after a run (issue 11, "readable at 3 a.m."):
// the plan as one line per step and one line per change (whole documents only with --diff, as a
// unified diff of the JSON), and the closing summary: the failing checks once more, one line
// each, and the command to run next.
import { createTwoFilesPatch } from 'diff';
import { displayRefs } from '../core/actions.js';
import { prune } from '../core/document.js';
import type { Compensation, StepPlan } from '../core/runner.js';
import type { Change, FieldDiff, Finding } from '../core/step.js';
import { columns, plural, truncate, wrap } from './layout.js';

/** Lines are cut (creates) or wrapped (updates, notes) to this width when the terminal does not say. */
export const DEFAULT_WIDTH = 120;

/** A value short enough for one line: scalars as JSON, small documents inline, big ones summarised. */
export function shortValue(value: unknown, max = 40): string {
  if (value === undefined) return '(none)';
  const json = displayRefs(JSON.stringify(value) ?? String(value));
  if (json.length <= max) return json;
  if (Array.isArray(value)) return `[${plural(value.length, 'item')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    return truncate(`{${keys.join(', ')}}`, max);
  }
  return truncate(json, max);
}

const SYMBOL = { create: '+', update: '~', delete: '-' } as const;

/** The fields a create sets: scalars with their values first, then the names of documents. */
function createDetail(change: Change): string {
  const fields = change.fields ?? [];
  const scalar = (f: FieldDiff) => f.to === null || typeof f.to !== 'object';
  // A name the resource line already shows says nothing new.
  const shown = fields.filter((f) => !(typeof f.to === 'string' && change.resource.includes(f.to)));
  return [
    ...shown.filter(scalar).map((f) => `${f.field}=${shortValue(f.to, 32)}`),
    ...shown.filter((f) => !scalar(f)).map((f) => f.field),
  ].join(', ');
}

const updateDetail = (change: Change) => (change.fields ?? []).map((f) => `${f.field}: ${shortValue(f.from)} → ${shortValue(f.to)}`).join('; ');

export interface PlanRenderOptions {
  /** Terminal width: creates are cut to it (else to DEFAULT_WIDTH), updates and notes wrap under their column (else stay whole). */
  width?: number;
  /** Notes of steps that change nothing (the apply preview leaves them to `plan`: one screen). */
  inSyncNotes?: boolean;
  /** Whole documents as a unified diff of their JSON (`plan --diff`, `apply --diff`). */
  diff?: boolean;
}

/**
 * One line per step (section, title, n changes or "up to date"), one line per change (+/~/-, the
 * resource, the fields that change with short values), the notes; with `diff`, each changed
 * document as a unified diff.
 */
export function renderPlan(plans: StepPlan[], options: PlanRenderOptions = {}): string[] {
  const { width } = options;
  const cut = width ?? DEFAULT_WIDTH;
  const label = ({ step }: StepPlan) => `${step.section} ${step.title}`;
  const titleWidth = Math.max(...plans.map((p) => label(p).length));
  const resources = plans.flatMap(({ plan }) => plan.changes.map((c) => c.resource.length));
  const resourceWidth = Math.min(48, Math.max(0, ...resources));
  const lines: string[] = [];
  const room = (indent: number) => (width ? Math.max(30, width - indent) : Number.POSITIVE_INFINITY);
  const wrapped = (indent: string, text: string) => wrap(text, room(indent.length)).map((line) => `${indent}${line}`);
  for (const stepPlan of plans) {
    const { plan } = stepPlan;
    const writes = plan.actions.length;
    const count = plan.changes.length || writes ? `${plural(plan.changes.length, 'change')} (${plural(writes, 'write')})` : 'up to date';
    lines.push(`${label(stepPlan).padEnd(titleWidth)}  ${count}`);
    for (const change of plan.changes) {
      const head = `  ${SYMBOL[change.action]} ${change.resource.padEnd(resourceWidth)}  `;
      const detail = change.action === 'create' ? createDetail(change) : change.action === 'update' ? updateDetail(change) : '';
      if (change.action === 'update') {
        const [first, ...rest] = wrap(detail, room(head.length));
        lines.push(`${head}${first}`.trimEnd(), ...rest.map((line) => `${' '.repeat(head.length)}${line}`));
      } else {
        // A create's whole document is in --diff; here its fields fit on one line.
        lines.push(truncate(`${head}${detail}`.trimEnd(), cut));
      }
      if (change.note) lines.push(...wrapped('    · ', change.note));
      if (options.diff) lines.push(...documentDiff(change, stepPlan).map((line) => `      ${line}`));
    }
    if (plan.changes.length || writes || options.inSyncNotes !== false) for (const note of plan.notes ?? []) lines.push(...wrapped('    · ', note));
  }
  return lines;
}

/** Set `value` at a dotted path (array indexes included); undefined removes the field. */
function setPath(doc: unknown, path: string, value: unknown): unknown {
  if (path === '(document)') return value;
  const keys = path.split('.');
  const root: Record<string, unknown> = doc && typeof doc === 'object' ? structuredClone(doc as Record<string, unknown>) : {};
  let node: Record<string, unknown> = root;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    node[key] = next && typeof next === 'object' ? next : {};
    node = node[key] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  if (value === undefined) delete node[last];
  else node[last] = value;
  return root;
}

const asJson = (value: unknown) => (value === undefined ? '' : `${displayRefs(JSON.stringify(prune(value) ?? {}, null, 2))}\n`);

/**
 * The resource's whole document as it is and as the config wants it, as a unified diff: from its
 * `before` snapshot (what the plan observed) with the changed fields applied.
 */
export function documentDiff(change: Change, { plan }: StepPlan): string[] {
  const resourceId = plan.actions.find((a) => a.resource === change.resource)?.resourceId;
  const observed = resourceId ? plan.before[resourceId] : undefined;
  const fields = change.fields ?? [];
  let from: unknown;
  let to: unknown;
  if (change.action === 'create') {
    to = Object.fromEntries(fields.map((f) => [f.field, f.to]));
  } else if (change.action === 'delete') {
    from = observed ?? {};
  } else if (observed) {
    from = observed;
    to = fields.reduce<unknown>((doc, f) => setPath(doc, f.field, f.to), observed);
  } else {
    from = fields.reduce<unknown>((doc, f) => setPath(doc, f.field, f.from), {});
    to = fields.reduce<unknown>((doc, f) => setPath(doc, f.field, f.to), {});
  }
  const patch = createTwoFilesPatch(`${change.resource} (now)`, `${change.resource} (config)`, asJson(from), asJson(to), undefined, undefined, { context: 3 });
  // Drop the "Index:"/"====" banner: the --- and +++ lines name the resource.
  return patch.split('\n').filter((line, i) => line !== '' && !(i < 2 && /^(Index:|=+$)/.test(line)));
}

// ---------------------------------------------------------------------------------------------
// The closing summary

/** Checks that judge the running service: a FAIL there is an incident, not drift. */
const SERVICE_HEALTH = new Set(['Service Stable', 'Tasks Healthy', 'Logs Flowing']);
/** Checks on inputs the runbook assumes and never changes (section 3.4's security group, the scaling targets' sources). */
const isInputCheck = (f: Finding) => f.check === 'Scaling Input' || /^3\.4\b/.test(f.check);
const notEvaluated = (f: Finding) => /could not be evaluated/.test(f.reason);
const absent = (f: Finding) => /does not exist|not found|no deployment/.test(f.reason);

/** The failing checks once more, one line each: check, resource, reason. */
export function renderFailures(findings: Finding[], width?: number): string[] {
  const failed = findings.filter((f) => f.status === 'FAIL');
  if (!failed.length) return [];
  return [
    `${plural(failed.length, 'check')} FAILED:`,
    ...columns(
      failed.map((f) => [f.check, f.resource, f.reason]),
      { indent: '  ', width, maxWidths: [undefined, 56] },
    ),
  ];
}

export interface NextContext {
  command: 'validate' | 'apply';
  /** apply: what happened to this run's changes. */
  runId?: string;
  compensation?: Compensation;
  rolledBack?: boolean;
  /** apply: a step failed with an error rather than a check. */
  stepError?: boolean;
}

/** What to run next, from what failed: plan/apply for drift, diagnose for a crash loop, a person for inputs. */
export function nextCommands(findings: Finding[], context: NextContext): string[] {
  const failed = findings.filter((f) => f.status === 'FAIL');
  const next: string[] = [];
  const health = failed.filter((f) => SERVICE_HEALTH.has(f.check) && !notEvaluated(f) && !absent(f));
  const inputs = failed.filter((f) => isInputCheck(f) && !notEvaluated(f));
  const blind = failed.filter(notEvaluated);
  const drift = failed.filter((f) => !health.includes(f) && !inputs.includes(f) && !blind.includes(f));
  if (health.length) {
    next.push('`fintech-runbook diagnose` looks for a crash loop or a failed scale-out (runbook 4.2) and names the fix');
    if (context.command === 'validate') next.push('`fintech-runbook rollback --to previous` puts the service back on its previous revision (runbook 4.3)');
  }
  if (drift.length) {
    next.push(
      context.command === 'validate'
        ? '`fintech-runbook plan` shows the drift; `fintech-runbook apply` restores the config'
        : '`fintech-runbook plan` shows what still differs; `fintech-runbook apply` converges from there',
    );
  }
  for (const f of inputs) next.push(`${f.resource} is an input this tool never changes: fix it by hand, then \`fintech-runbook validate\``);
  if (blind.length) next.push('checks that could not be evaluated: the reason names the call; check the credentials\' permissions, then `fintech-runbook validate` again');
  if (context.command === 'apply') {
    if (context.compensation?.needsPerson.length) {
      next.push(`\`fintech-runbook history ${context.runId}\` lists this run's writes; fix what "Needs a person" names, then \`fintech-runbook undo ${context.runId}\``);
    } else if (!context.rolledBack && context.runId) {
      next.push(`this run's changes were kept: \`fintech-runbook undo ${context.runId}\` undoes them, \`fintech-runbook apply\` converges from here`);
    }
    if (context.stepError && !failed.length) next.push('the error above names the step and the AWS call: fix the cause, then `fintech-runbook apply` (it converges from where this run stopped)');
  }
  return next.map((line, i) => `${i === 0 ? 'Next: ' : '      '}${line}`);
}
