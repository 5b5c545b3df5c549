// What every command needs: the global options, the config, the clients, the output streams.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createInterface } from 'node:readline/promises';
import { diffJson } from 'diff';
import { displayRefs } from '../core/actions.js';
import { createClients, type AwsClients } from '../aws/clients.js';
import { loadConfig, type RunbookConfig } from '../config.js';
import { UsageError } from '../core/errors.js';
import type { RunReport, RunnerOptions } from '../core/runner.js';
import type { Change, Finding, Step } from '../core/step.js';
import { runbook, selectSteps } from '../../steps/index.js';
import { columns, outputWidth } from './layout.js';

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

/** Everything here is checked before the first AWS client exists: bad input costs no AWS call. */
/** `human`: where this session's human text goes (several environments in one run: a buffer each). */
export function openSession(options: GlobalOptions, signal: AbortSignal, humanStream?: NodeJS.WriteStream): Session {
  const pollSeconds = Number(options.pollInterval);
  if (!Number.isFinite(pollSeconds) || pollSeconds <= 0 || pollSeconds > 300) {
    throw new UsageError(`--poll-interval: "${options.pollInterval}" is not a number of seconds between 0 and 300`);
  }
  if (options.endpointUrl && !/^https?:\/\/[^/]+/.test(options.endpointUrl)) {
    throw new UsageError(`--endpoint-url: "${options.endpointUrl}" is not an http(s) URL`);
  }
  const steps = selectSteps(options.only);
  const config = loadConfig(options.config, process.env, { region: options.region });
  const clients = createClients({ region: config.region, profile: options.profile, endpointUrl: options.endpointUrl });
  const human = humanStream ?? (options.json ? process.stderr : process.stdout);
  return (openedSession = {
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
  });
}

let openedSession: Session | undefined;
/** AWS calls made so far by this process's session (for the error document): none before one opened. */
export function callsSoFar() {
  const counter = openedSession?.clients.counter;
  return counter ? { reads: counter.total('read'), writes: counter.total('write'), byOperation: counter.list() } : { reads: 0, writes: 0, byOperation: [] };
}

let jsonPrinted = false;
/** Whether this process already wrote its one JSON document (the error handler writes one if not). */
export const jsonDocumentPrinted = () => jsonPrinted;

/** Several environments in one run: each one's JSON document is collected here, not printed. */
export const jsonSink = new AsyncLocalStorage<unknown[]>();

export function printJson(report: unknown): void {
  const sink = jsonSink.getStore();
  if (sink) {
    sink.push(report);
    return;
  }
  jsonPrinted = true;
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

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
export async function confirm(question: string, yes: boolean | undefined): Promise<boolean> {
  if (yes) return true;
  requireConfirmationChannel(yes);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
