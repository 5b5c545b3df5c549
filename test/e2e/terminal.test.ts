// Interactive `apply` in a real pseudo-terminal, as an operator at 3 a.m. sees it (issue 11).
//
// tmux, not node-pty: node-pty is a native addon (a node-gyp build on every `npm ci`, or prebuilt
// binaries from outside the npm registry), while tmux is one Debian package and renders the
// screen like the operator's terminal: `capture-pane` returns the rows as laid out at 120
// columns, wrapped lines included, which is what "one screen" means. .ci/run installs it when
// missing. A private socket (-L) keeps this server apart from anyone's own tmux.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, isReadOperation, type FaultProxy } from '../helpers/fault-proxy.js';
import { cliPath, repoRoot, useEmulator } from '../helpers/e2e.js';

const env = useEmulator();
const socket = `fintech-runbook-e2e-${process.pid}`;
const tmux = (...args: string[]) => spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });

let proxy: FaultProxy;
beforeAll(async () => {
  const version = spawnSync('tmux', ['-V'], { encoding: 'utf8' });
  if (version.status !== 0) throw new Error('tmux is not installed: apt-get install -y tmux (.ci/run does it)');
  await env.fresh();
  // A recording pass-through in front of moto (rate 0: no fault): every request the CLI makes.
  proxy = await startFaultProxy({ target: env.emulator.endpoint, rate: 0, seed: 1 });
});
afterAll(async () => {
  tmux('kill-server');
  await proxy?.close();
});

/** The pane's rows, top to bottom, without the empty rows below the cursor. */
function screen(): string[] {
  const rows = tmux('capture-pane', '-p', '-t', 'apply').stdout.split('\n');
  while (rows.length && !rows[rows.length - 1].trim()) rows.pop();
  return rows;
}

async function waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = screen();
    if (rows.some((row) => pattern.test(row))) return rows;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; the screen:\n${rows.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('interactive apply in a 120-column terminal', () => {
  it('shows a one-screen preview after the preflight, names the target and the writes, and "n" writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fintech-runbook-tty-'));
    const script = join(dir, 'apply.sh');
    const vars = { ...env.env, PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm-256color' };
    writeFileSync(
      script,
      [
        ...Object.entries(vars).map(([k, v]) => `export ${k}='${String(v)}'`),
        `cd '${repoRoot}'`,
        `node '${cliPath}' --config config/local.yaml --endpoint-url ${proxy.url} --poll-interval 0.1 apply`,
        'echo "exit=$?"',
        'sleep 60',
      ].join('\n'),
    );
    // 120 columns; tall enough that nothing scrolls away: every row printed before the prompt counts.
    expect(tmux('new-session', '-d', '-s', 'apply', '-x', '120', '-y', '200', `bash ${script}`).status).toBe(0);

    const rows = await waitFor(/\[y\/N\]/);
    const prompt = rows.findIndex((row) => /\[y\/N\]/.test(row));
    expect(prompt + 1, rows.join('\n')).toBeLessThanOrEqual(40);
    const before = rows.slice(0, prompt + 1);
    // The preflight ran, and passed, before the question; nothing was written yet.
    const preflight = before.findIndex((row) => row.startsWith('Preflight passed'));
    expect(preflight).toBeGreaterThanOrEqual(0);
    const operations = proxy.log().map((r) => r.operation);
    expect(operations).toEqual(expect.arrayContaining(['DescribeCertificate', 'DescribeKey', 'DescribeSecret', 'DescribeLoadBalancers']));
    expect(proxy.log().filter((r) => !isReadOperation(r.operation))).toEqual([]);
    // One line per step, "up to date" for a step with nothing to do, no whole documents.
    expect(before.some((row) => /^1\.1 ECS cluster\s+1 change \(1 write\)$/.test(row))).toBe(true);
    expect(before.some((row) => /^2\.4 Custom business metrics\s+up to date$/.test(row))).toBe(true);
    expect(before.some((row) => /^\s*[{}[\]"]/.test(row))).toBe(false);
    expect(before.every((row) => row.length <= 120)).toBe(true);
    // The question names the account, region, cluster and the number of writes.
    expect(rows[prompt]).toMatch(/^Apply \d+ changes \(\d+ writes\) to account 123456789012, region us-east-1, cluster fintech-prod-cluster\? \[y\/N\]/);

    tmux('send-keys', '-t', 'apply', 'n', 'Enter');
    const after = await waitFor(/^exit=\d+/);
    expect(after).toContain('Not applied.');
    expect(after).toContain('exit=0');
    expect(proxy.log().filter((r) => !isReadOperation(r.operation))).toEqual([]);
  });
});
