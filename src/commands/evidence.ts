// `validate --report <file>`: the evidence an auditor keeps (issue 9 item 4). One JSON document, or
// a Markdown page with the same content: which tool and config judged which account, who ran it and
// when, and per control or check its id (control ids, runbook checklist number), title, resource,
// status, the observed value that decided it and the request id of the AWS read that returned it.
// The report is a local file (mode 0600); validate stays read-only. No secret value is ever in it:
// the checks record environment variables by name only, and observed values are scrubbed once more
// here (README "Evidence report").
import { accessSync, closeSync, constants, existsSync, fchmodSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReadRecord, RequestLog } from '../aws/clients.js';
import type { CallerIdentity } from '../aws/identity.js';
import { checklistControls, controlById } from '../checks/controls.js';
import { SECRET_LOOKING_NAME } from '../config.js';
import { UsageError } from '../core/errors.js';
import type { RunReport } from '../core/runner.js';
import type { Finding, FindingStatus } from '../core/step.js';

export const EVIDENCE_FORMAT = 'fintech-runbook/evidence@1';
export type ReportFormat = 'json' | 'markdown';

/** One evaluated control or check, as the auditor reads it. Absent values are null, never missing. */
export interface EvidenceResult {
  /** The first control id (`ECS.5`), else the runbook checklist number (`3.1`), else the check's name. */
  id: string;
  /** Security Hub (or `RB.*` runbook) control ids this result evaluates or belongs to. */
  controls: string[];
  /** Runbook section 3 items, e.g. ['3.4']. */
  checklist: string[];
  check: string;
  title: string;
  resource: string;
  resourceArn: string | null;
  status: FindingStatus;
  reason: string;
  /** The value that decided it, as the check recorded it (null: the reason says what was seen). */
  observed: unknown;
  requestId: string | null;
  /**
   * `finding`: the check recorded the request id of the read it decided on; `last-read`: the check
   * did not, and this is the last read of that resource in this run (matched by its name or ARN,
   * `readBy` names the call); `none`: no read of it was recorded.
   */
  requestIdSource: 'finding' | 'last-read' | 'none';
  /** `service:Operation` of that read. */
  readBy: string | null;
}

export interface EvidenceReport {
  format: typeof EVIDENCE_FORMAT;
  tool: { name: string; version: string };
  command: 'validate';
  config: { file: string; hash: string };
  account: string;
  region: string;
  cluster: string;
  caller: { arn: string; account: string; userId: string };
  startedAt: string;
  finishedAt: string;
  /** The steps validated (`--only`), in runbook order. */
  steps: string[];
  summary: { ok: boolean; total: number; OK: number; FAIL: number; WARN: number; SKIP: number };
  results: EvidenceResult[];
  /** The definition of every control a result cites (AWS's wording, and where this tool differs). */
  controls: Array<{ id: string; title: string; source: string; severity: string; passes: string; resourceType: string; checklist: string[]; differs: string | null }>;
  /** Every distinct read this run sent, with its request id: what `requestId` above points into. */
  reads: Array<{ call: string; requestId: string | null; httpStatusCode: number | null; error: string | null; at: string; input: unknown }>;
  /** AWS calls of the run: `writes` is 0 (validate never writes). */
  calls: { reads: number; writes: number };
}

// ---------------------------------------------------------------------------------------------
// Where the report goes

export interface ReportFlags {
  report?: string;
  reportFormat?: string;
}

export interface ReportTarget {
  file: string;
  format: ReportFormat;
}

function parseFormat(flags: ReportFlags): ReportFormat {
  const value = flags.reportFormat ?? (flags.report && /\.(md|markdown)$/i.test(flags.report) ? 'markdown' : 'json');
  if (value === 'json') return 'json';
  if (value === 'markdown' || value === 'md') return 'markdown';
  throw new UsageError(`--report-format: "${value}" is not json or markdown`);
}

const extension = (format: ReportFormat) => (format === 'json' ? 'json' : 'md');
/** The report's name for a config file in a folder: `production.yaml` -> `production.evidence.json`. */
const nameFor = (config: string, format: ReportFormat) => `${basename(config, extname(config))}.evidence.${extension(format)}`;

function writableDirectory(dir: string, flag: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${flag}: folder ${dir} does not exist`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new UsageError(`${flag}: folder ${dir} is not writable`);
  }
}

/**
 * Checked before any AWS call (exit 2 on a bad flag): the report's file for each config. One
 * environment: `--report` is the file (or a folder, which gets `<config>.evidence.json`). Several:
 * `--report` must name an existing folder, and each environment writes its own file there, named
 * after its config file (two configs with one name are refused).
 */
export function reportTargets(flags: ReportFlags, configs: string[]): ((config: string) => ReportTarget) | undefined {
  if (!flags.report) {
    if (flags.reportFormat) throw new UsageError('--report-format: needs --report <file>');
    return undefined;
  }
  const format = parseFormat(flags);
  const report = flags.report;
  const isFolder = existsSync(report) && statSync(report).isDirectory();
  if (configs.length > 1 || isFolder) {
    if (!isFolder) {
      throw new UsageError(`--report: with ${configs.length} environments it names a folder (one report per environment, named after its config file); ${report} is not a folder`);
    }
    writableDirectory(report, '--report');
    const names = configs.map((c) => nameFor(c, format));
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice) throw new UsageError(`--report: two configs would write ${join(report, twice)}; give them different file names`);
    return (config) => ({ file: join(report, nameFor(config, format)), format });
  }
  writableDirectory(dirname(resolve(report)), '--report');
  return () => ({ file: report, format });
}

// ---------------------------------------------------------------------------------------------
// Building it

/** The tool's version: package.json's, found above this module (source, dist/ or the bundle). */
export function toolVersion(): { name: string; version: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'fintech-runbook' && pkg.version) return { name: pkg.name, version: pkg.version };
      } catch {
        // not ours: keep looking
      }
    }
    dir = dirname(dir);
  }
  return { name: 'fintech-runbook', version: 'unknown' };
}

const MASKED = '(masked)';

/**
 * A second line of defence: checks record environment variables by name only, but a value under a
 * secret-looking key, or an `environment` entry's value, is masked here whatever a check recorded.
 */
export function scrub(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) {
    if (key === 'environment') {
      return value.map((e) => (e && typeof e === 'object' && 'value' in e ? { ...(e as object), value: MASKED } : scrub(e)));
    }
    return value.map((v) => scrub(v));
  }
  if (value && typeof value === 'object') {
    // An ARN under a secret-looking key (`SecretId`) names the secret; it is not its value.
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typeof v === 'string' && SECRET_LOOKING_NAME.test(k) && !v.startsWith('arn:') ? MASKED : scrub(v, k)]));
  }
  return value;
}

const checklistOf = (finding: Finding): string[] => finding.checklist ?? (/^(3\.\d)\b/.exec(finding.check) ? [/^(3\.\d)\b/.exec(finding.check)![1]] : []);

const PLAIN = /^[a-z]+$/;

/**
 * The names a finding's resource is known by, each with its parts: `ecs service c/s` ->
 * [['c/s', 'c', 's']]. Resource kinds (`ecs`, `cluster`, `of`) are plain lowercase words; names are not.
 */
function identifiers(finding: Finding): string[][] {
  const words = finding.resource
    .replace(/\([^)]*\)/g, ' ')
    .split(/\s+/)
    .filter((w) => w && !PLAIN.test(w) && !/^:\d+$/.test(w));
  const parts = (w: string) => (w.startsWith('arn:') || w.startsWith('/') ? [] : w.split('/').filter((p) => p.length >= 3 && !PLAIN.test(p)));
  return [...new Set(words)].map((w) => [w, ...parts(w)]);
}

/** The kind of a resource, the words before `of`/`on` (`lifecycle policy of ecr repository x` -> lifecycle, policy). */
const kinds = (finding: Finding) =>
  finding.resource
    .replace(/\([^)]*\)/g, ' ')
    .split(/\s+(?:of|on)\s+/)[0]
    .split(/\s+/)
    .filter((w) => PLAIN.test(w) && w.length >= 3 && !['the', 'and', 'https', 'ecs', 'ecr', 'iam'].includes(w));

/** How well an operation's name fits the resource's kind: `DescribeClusters` for `ecs cluster x`. */
function kindScore(operation: string, words: string[]): number {
  const nouns = operation.replace(/^(Describe|List|Get|BatchGet|Filter|Lookup)/, '').split(/(?=[A-Z])/).filter(Boolean).map((w) => w.toLowerCase());
  const stem = (w: string) => w.replace(/(ies|s|y)$/, '');
  const matched = nouns.filter((n) => words.some((w) => stem(n).startsWith(stem(w)) || stem(w).startsWith(stem(n)))).length;
  return matched - (nouns.length - matched) / 2;
}

function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => strings(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => strings(v, out));
  return out;
}

const names = (leaf: string, id: string) => leaf === id || leaf.endsWith(`/${id}`) || leaf.endsWith(`:${id}`) || leaf.split(/[/:]/).includes(id);

/**
 * The last read that asked about this finding's resource: the most of its names (or its ARN) in
 * the read's input, then the operation that reads that kind of resource, then the latest. What a
 * check that records no request id of its own is attributed to.
 */
export function lastReadOf(finding: Finding, reads: ReadRecord[]): ReadRecord | undefined {
  const ids = [...(finding.resourceArn ? [[finding.resourceArn]] : []), ...identifiers(finding)];
  if (!ids.length) return undefined;
  const words = kinds(finding);
  let best: { read: ReadRecord; score: number } | undefined;
  reads.forEach((read) => {
    if (read.service === 'sts') return;
    const leaves = strings(read.input);
    const named = (id: string) => leaves.some((leaf) => names(leaf, id));
    // Each name counts its parts once: named whole (an ARN, `c/s`) or part by part (`c` and `s`).
    const matches = ids.reduce((n, [whole, ...parts]) => n + (named(whole) ? Math.max(1, parts.length) : parts.filter(named).length), 0);
    if (!matches) return;
    const score = matches * 100 + kindScore(read.operation, words);
    if (!best || score >= best.score) best = { read, score };
  });
  return best?.read;
}

export function evidenceResult(finding: Finding, requests: RequestLog | undefined): EvidenceResult {
  const checklist = checklistOf(finding);
  const controls = finding.controls ?? (checklist.length ? checklistControls(finding.check) : []);
  const id = finding.controls?.[0] ?? checklist[0] ?? finding.check;
  const recorded = finding.requestId ? requests?.find(finding.requestId) : undefined;
  const matched = finding.requestId ? undefined : lastReadOf(finding, requests?.list() ?? []);
  const read = recorded ?? matched;
  return {
    id,
    controls: [...controls],
    checklist: [...checklist],
    check: finding.check,
    title: (finding.controls?.[0] && controlById(finding.controls[0])?.title) || finding.check,
    resource: finding.resource,
    resourceArn: finding.resourceArn ?? null,
    status: finding.status,
    reason: finding.reason,
    observed: finding.observed === undefined ? null : scrub(finding.observed),
    requestId: finding.requestId ?? matched?.requestId ?? null,
    requestIdSource: finding.requestId ? 'finding' : matched?.requestId ? 'last-read' : 'none',
    readBy: read ? `${read.service}:${read.operation}` : null,
  };
}

export interface EvidenceInput {
  configFile: string;
  configHash: string;
  account: string;
  region: string;
  cluster: string;
  identity: CallerIdentity;
  startedAt: Date;
  finishedAt: Date;
  steps: string[];
  report: RunReport;
  requests?: RequestLog;
}

export function buildEvidence(input: EvidenceInput): EvidenceReport {
  const results = input.report.findings.map((f) => evidenceResult(f, input.requests));
  const count = (status: FindingStatus) => results.filter((r) => r.status === status).length;
  const cited = [...new Set(results.flatMap((r) => r.controls))];
  return {
    format: EVIDENCE_FORMAT,
    tool: toolVersion(),
    command: 'validate',
    config: { file: input.configFile, hash: input.configHash },
    account: input.account,
    region: input.region,
    cluster: input.cluster,
    caller: { arn: input.identity.arn, account: input.identity.account, userId: input.identity.userId },
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    steps: input.steps,
    summary: { ok: count('FAIL') === 0, total: results.length, OK: count('OK'), FAIL: count('FAIL'), WARN: count('WARN'), SKIP: count('SKIP') },
    results,
    controls: cited.flatMap((id) => {
      const c = controlById(id);
      return c ? [{ id: c.id, title: c.title, source: c.source, severity: c.severity, passes: c.passes, resourceType: c.resourceType, checklist: [...c.checklist], differs: c.differs ?? null }] : [];
    }),
    reads: (input.requests?.list() ?? []).map((r) => ({
      call: `${r.service}:${r.operation}`,
      requestId: r.requestId ?? null,
      httpStatusCode: r.httpStatusCode ?? null,
      error: r.error ?? null,
      at: r.at,
      input: scrub(r.input),
    })),
    calls: { reads: input.report.calls.reads, writes: input.report.calls.writes },
  };
}

// ---------------------------------------------------------------------------------------------
// Rendering and writing

const cell = (text: string) => text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const code = (text: string) => (text ? `\`${text.replace(/`/g, "'")}\`` : '');
const json = (value: unknown) => (value === null || value === undefined ? '' : JSON.stringify(value));
const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

function table(head: string[], rows: string[][]): string[] {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

const resultRow = (r: EvidenceResult) => [
  r.status,
  r.controls.join(', ') || r.id,
  r.checklist.join(', '),
  r.title,
  `${r.resource}${r.resourceArn ? ` (${r.resourceArn})` : ''}`,
  r.reason,
  code(cut(json(r.observed), 200)),
  r.requestId ? `${code(r.requestId)}${r.readBy ? ` ${r.readBy}` : ''}${r.requestIdSource === 'last-read' ? ' (last read of it)' : ''}` : '',
];

/** A page an auditor can read: the same content as the JSON (long observed values cut to 200 characters there). */
export function renderMarkdown(e: EvidenceReport): string {
  const outcome = e.summary.ok ? `PASS: no check failed (${e.summary.OK} OK, ${e.summary.WARN} WARN, ${e.summary.SKIP} SKIP)` : `FAIL: ${e.summary.FAIL} of ${e.summary.total} failed`;
  const head = ['Status', 'Control', 'Checklist', 'Title', 'Resource', 'Reason', 'Observed', 'Request id'];
  const failed = e.results.filter((r) => r.status === 'FAIL');
  return [
    `# Evidence report: \`validate\` of ${e.cluster} (account ${e.account}, ${e.region})`,
    '',
    ...table(
      ['', ''],
      [
        ['Outcome', outcome],
        ['Tool', `${e.tool.name} ${e.tool.version}`],
        ['Config', `${code(e.config.file)} ${code(e.config.hash)}`],
        ['Account', e.account],
        ['Region', e.region],
        ['Cluster', e.cluster],
        ['Caller', code(e.caller.arn)],
        ['Started', e.startedAt],
        ['Finished', e.finishedAt],
        ['Steps', e.steps.join(', ')],
        ['AWS calls', `${e.calls.reads} read, ${e.calls.writes} write`],
      ],
    ),
    '',
    ...(failed.length ? [`## Failed (${failed.length})`, '', ...table(head, failed.map(resultRow)), ''] : []),
    `## All results (${e.results.length})`,
    '',
    'Request ids marked "last read of it" are the last read of that resource in this run (the check records none of its own).',
    '',
    ...table(head, e.results.map(resultRow)),
    '',
    `## Controls (${e.controls.length})`,
    '',
    ...table(
      ['Control', 'Title', 'Source', 'Severity', 'Checklist', 'What passes', 'Where this tool differs'],
      e.controls.map((c) => [c.id, c.title, c.source, c.severity, c.checklist.join(', '), c.passes, c.differs ?? '']),
    ),
    '',
    `## AWS reads (${e.reads.length})`,
    '',
    ...table(
      ['Request id', 'Call', 'Status', 'At', 'Input'],
      e.reads.map((r) => [code(r.requestId ?? ''), r.call, `${r.httpStatusCode ?? ''}${r.error ? ` ${r.error}` : ''}`, r.at, code(cut(json(r.input), 200))]),
    ),
    '',
  ].join('\n');
}

export function renderEvidence(e: EvidenceReport, format: ReportFormat): string {
  return format === 'json' ? `${JSON.stringify(e, null, 2)}\n` : renderMarkdown(e);
}

/** Written to a new file beside the target (mode 0600) and renamed over it: never a half report. */
export function writeEvidence(target: ReportTarget, e: EvidenceReport): void {
  const temporary = join(dirname(resolve(target.file)), `.${basename(target.file)}.${process.pid}.tmp`);
  const fd = openSync(temporary, 'w', 0o600);
  try {
    fchmodSync(fd, 0o600); // a leftover temporary file keeps its mode otherwise
    writeSync(fd, renderEvidence(e, target.format));
  } catch (error) {
    closeSync(fd);
    unlinkSync(temporary);
    throw error;
  }
  closeSync(fd);
  renameSync(temporary, target.file);
}
