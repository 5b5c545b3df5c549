// What every command needs: the global options, the config, the clients, the output streams.
import { createInterface } from 'node:readline/promises';
import { diffJson } from 'diff';
import { displayRefs } from '../core/actions.js';
import { createClients, type AwsClients } from '../aws/clients.js';
import type { RunbookConfig } from '../config.js';
import { UsageError } from '../core/errors.js';
import type { RunReport, RunnerOptions } from '../core/runner.js';
import type { Change, Finding, Step } from '../core/step.js';
import { runbook, selectSteps } from '../../steps/index.js';
import { checkSessionInputs, type SessionInputs } from './inputs.js';
import { columns, outputWidth } from './layout.js';
import { registerCallsSoFar } from './output.js';

export interface GlobalOptions {
  config: string;
  region?: string;
  profile?: string;
  endpointUrl?: string;
  json?: boolean;
  only?: string;
  pollInterval: string;
}

export interface Session {
  options: GlobalOptions;
  config: RunbookConfig;
  clients: AwsClients;
  steps: Step[];
  /** Human text: stdout, or stderr when stdout carries the JSON document. */
  human: NodeJS.WriteStream;
  runner: RunnerOptions;
}

/**
 * Everything is checked before the first AWS client exists (src/commands/inputs.ts): bad input
 * costs no AWS call. `inputs`: already checked by the CLI (it checks them before loading this
 * module). `human`: where this session's human text goes (several environments: a buffer each).
 */
export function openSession(options: GlobalOptions, signal: AbortSignal, humanStream?: NodeJS.WriteStream, inputs: SessionInputs = checkSessionInputs(options)): Session {
  const { config, pollSeconds } = inputs;
  const steps = selectSteps(options.only);
  const clients = createClients({ region: config.region, profile: options.profile, endpointUrl: options.endpointUrl });
  registerCallsSoFar(() => ({ reads: clients.counter.total('read'), writes: clients.counter.total('write'), byOperation: clients.counter.list() }));
  const human = humanStream ?? (options.json ? process.stderr : process.stdout);
  return {
    options,
    config,
    clients,
    steps,
    human,
    runner: {
      config,
      clients,
      recorder: { write: (_d, call) => call() },
      signal,
      pollIntervalMs: pollSeconds * 1000,
      humanStream: human,
      runbook,
      lineRenderer: !!options.json || !process.stdout.isTTY || !!process.env.CI,
    },
  };
}

// The --json document and the calls so far live in ./output.js (no SDK: the error handler loads it).
export { callsSoFar, jsonDocumentPrinted, jsonSink, printJson } from './output.js';

function renderValue(value: unknown): string {
  return value === undefined ? '(none)' : displayRefs(JSON.stringify(value));
}

/** A field change as one line, or as a line diff when the values are documents. */
export function renderFieldDiff(field: string, from: unknown, to: unknown): string[] {
  const structured = (v: unknown) => v !== null && typeof v === 'object';
  if (!structured(from) || !structured(to)) return [`      ~ ${field}: ${renderValue(from)} → ${renderValue(to)}`];
  const lines = [`      ~ ${field}:`];
  for (const part of diffJson(from as object, to as object)) {
    const mark = part.added ? '+' : part.removed ? '-' : ' ';
    if (mark === ' ') continue; // unchanged lines add noise in an incident
    for (const line of part.value.replace(/\n$/, '').split('\n')) lines.push(`        ${mark} ${line}`);
  }
  return lines;
}

/** A value on one line when short; a long document (a policy, a container) indented below its field. */
function renderCreatedField(field: string, value: unknown): string[] {
  const oneLine = `      + ${field}: ${renderValue(value)}`;
  if (oneLine.length <= 120 || value === null || typeof value !== 'object') return [oneLine];
  return [`      + ${field}:`, ...displayRefs(JSON.stringify(value, null, 2)).split('\n').map((line) => `          ${line}`)];
}

export function renderChange(change: Change): string[] {
  const symbol = { create: '+', update: '~', delete: '-' }[change.action];
  const lines = [`    ${symbol} ${change.action} ${change.resource}${change.note ? ` (${change.note})` : ''}`];
  for (const field of change.fields ?? []) {
    if (change.action === 'create') lines.push(...renderCreatedField(field.field, field.to));
    else lines.push(...renderFieldDiff(field.field, field.from, field.to));
  }
  return lines;
}

/** ` [ECS.2, EC2.15]` on a checklist item, ` [3.1]` on a control: validate shows both the section 3 number and the control id. */
const controlTags = (f: Finding) => {
  const tags = [...(f.checklist ?? []), ...(f.controls ?? [])].filter((t) => !f.check.startsWith(`${t} `) && f.check !== t);
  return tags.length ? ` [${tags.join(', ')}]` : '';
};

/** One line per finding; the check column as wide as its longest name; the rest wraps under itself on a terminal. */
export function renderFindings(findings: Finding[], width: number | undefined = outputWidth()): string[] {
  return columns(
    findings.map((f) => [f.status.padEnd(4), f.check, `${f.resource}: ${f.reason}${controlTags(f)}`]),
    { indent: '  ', gap: ' ', width, maxWidths: [4] },
  );
}

export function renderCalls(report: Pick<RunReport, 'calls'>): string {
  return `AWS calls: ${report.calls.reads} read, ${report.calls.writes} write`;
}

/** With no TTY and no --yes, refuse before any AWS call (safe default for unattended runs). */
export function requireConfirmationChannel(yes: boolean | undefined): void {
  if (!yes && !process.stdin.isTTY) {
    throw new UsageError('no terminal to confirm on: pass --yes to run without a prompt');
  }
}

/** Ask on a TTY. */
/**
 * Ask on the terminal (`--yes` answers yes). A person may take minutes to answer: the run's read
 * cache (`clients`), when given, forgets what was read before the question, so the checks after
 * the writes judge AWS as it is then.
 */
export async function confirm(question: string, yes: boolean | undefined, clients?: Pick<AwsClients, 'cache'>): Promise<boolean> {
  if (yes) return true;
  requireConfirmationChannel(yes);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
    clients?.cache.clear();
  }
}
