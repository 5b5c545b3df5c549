// `npm run demo` and `history` (issue 11): without a TTY each step is one line, and the journal
// lives in the state directory (XDG_STATE_HOME here, a temporary one), so `history` run from
// any directory lists the demo's runs and the e2e's, with a header, and `history <run-id>`
// shows who ran it, where, and its writes.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runbook } from '../../steps/index.js';
import { repoRoot, runCli, useEmulator } from '../helpers/e2e.js';

const env = useEmulator();
const stateHome = mkdtempSync(join(tmpdir(), 'fintech-runbook-xdg-'));
let demo: { code: number | null; stdout: string };

beforeAll(async () => {
  // The built demo (what `npm run demo` runs after its build), with only this state directory.
  demo = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'dist/scripts/demo.js')], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, XDG_STATE_HOME: stateHome },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout }));
  });
}, 60_000);

describe('npm run demo', () => {
  it('prints each step exactly once per apply (one line per outcome, no start line)', () => {
    expect(demo.code, demo.stdout).toBe(0);
    const commands = demo.stdout.split(/^\$ fintech-runbook /m).slice(1);
    const applies = commands.filter((c) => /^\S.* apply --yes\n/.test(c));
    expect(applies).toHaveLength(2);
    for (const output of applies) {
      for (const step of runbook) {
        const title = `${step.section} ${step.title}`;
        const lines = output.split('\n').filter((line) => line.includes(title));
        expect(lines, `${title} in:\n${output}`).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^✔ ${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: (\\d+ changes? applied|up to date)`));
      }
      expect(output).not.toMatch(/^❯/m);
    }
  });
});

describe('history', () => {
  it('from another directory lists the demo\'s runs and this test\'s, with a header and aligned columns; history <run-id> shows its writes', async () => {
    await env.fresh();
    const { FINTECH_RUNBOOK_STATE_DIR: _private, ...shared } = env.env;
    const stateEnv = { ...shared, XDG_STATE_HOME: stateHome };
    const apply = await runCli([...env.args, '--only', 'cluster', '--json', 'apply', '--yes'], { env: stateEnv });
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.json.journal).toContain(join(stateHome, 'fintech-runbook', '123456789012', 'us-east-1', 'fintech-prod-cluster'));

    const elsewhere = mkdtempSync(join(tmpdir(), 'fintech-runbook-cwd-'));
    const listed = await runCli(['--json', 'history'], { env: stateEnv, cwd: elsewhere });
    expect(listed.code, listed.stderr).toBe(0);
    const runs: Array<{ runId: string; command: string; steps: string[]; writes: number }> = listed.json;
    // The demo's two applies (validate writes nothing and is not journaled) and this test's.
    expect(runs.map((r) => r.command)).toEqual(['apply', 'apply', 'apply']);
    const ours = runs.find((r) => r.steps.join() === 'cluster')!;
    expect(ours).toBeDefined();

    const human = await runCli(['history'], { env: stateEnv, cwd: elsewhere });
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toContain(join(stateHome, 'fintech-runbook'));
    expect(lines[1]).toMatch(/^STARTED \(UTC\)\s+COMMAND\s+OUTCOME\s+WRITES\s+ACCOUNT\/REGION\/CLUSTER\s+RUN ID$/);
    const rows = lines.slice(2);
    expect(rows).toHaveLength(3);
    for (const column of ['COMMAND', 'OUTCOME', 'WRITES', 'ACCOUNT/REGION/CLUSTER', 'RUN ID']) {
      const at = lines[1].indexOf(column);
      // Every row has a value starting exactly under its header.
      for (const row of rows) expect(row[at - 1] === ' ' && row[at] !== ' ', `${column} in "${row}"`).toBe(true);
    }
    for (const row of rows) expect(row).toContain('123456789012/us-east-1/fintech-prod-cluster');

    const one = await runCli(['history', ours.runId], { env: stateEnv, cwd: elsewhere });
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain(`Run ${ours.runId}: apply, ok`);
    expect(one.stdout).toMatch(/caller +arn:aws:sts::123456789012:/);
    expect(one.stdout).toContain('target    account 123456789012, region us-east-1, cluster fintech-prod-cluster');
    expect(one.stdout).toMatch(/^ {2}[\d-]+ [\d:]+Z +cluster +CreateCluster +ecs cluster fintech-prod-cluster +ok/m);

    const unknown = await runCli(['history', 'no-such-run'], { env: stateEnv, cwd: elsewhere });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no run no-such-run');
  });
});
