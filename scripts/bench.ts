// `npm run bench`: wall time, peak memory and AWS call counts of the built CLI against the local
// emulator, for a fresh apply, a no-op apply, validate, and --help. Medians over a few runs.
// Speed and memory targets live here, not in timed tests (runs on a 2-core machine vary).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPrerequisites, emulatorEnv, localSimulatorSettings, startEmulator, TaskSimulator, type Prerequisites } from './emulator.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const probe = fileURLToPath(new URL('./bench-probe.js', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

interface Sample {
  wallMs: number;
  peakRssMb: number;
  reads?: number;
  writes?: number;
  code: number | null;
}

function measure(args: string[], env: NodeJS.ProcessEnv): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'fintech-bench-'));
  const usageFile = join(dir, 'usage.json');
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, ['--import', probe, cli, ...args], {
      cwd: root,
      env: { PATH: process.env.PATH, ...env, BENCH_USAGE_FILE: usageFile },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('exit', (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as { maxRSS: number };
      rmSync(dir, { recursive: true, force: true });
      let calls: { reads?: number; writes?: number } = {};
      try {
        calls = (JSON.parse(stdout) as { calls?: { reads: number; writes: number } }).calls ?? {};
      } catch {
        // --help prints text
      }
      resolve({ wallMs, peakRssMb: usage.maxRSS / 1024, reads: calls.reads, writes: calls.writes, code });
    });
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const emulator = await startEmulator();
const rows: Array<[string, Sample[]]> = [];
try {
  const common = ['--config', 'config/local.yaml', '--endpoint-url', emulator.endpoint, '--poll-interval', '0.1', '--json'];
  const freshApply: Sample[] = [];
  const noopApply: Sample[] = [];
  const validate: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    await emulator.reset();
    const prerequisites: Prerequisites = await createPrerequisites(emulator.endpoint);
    const simulator = new TaskSimulator(emulator.endpoint, localSimulatorSettings(prerequisites.IMAGE_TAG)).start(100);
    const env = { ...emulatorEnv(), ...prerequisites, FINTECH_RUNBOOK_STATE_DIR: mkdtempSync(join(tmpdir(), 'fintech-bench-journal-')) };
    freshApply.push(await measure([...common, 'apply', '--yes'], env));
    noopApply.push(await measure([...common, 'apply', '--yes'], env));
    validate.push(await measure([...common, 'validate'], env));
    await simulator.stop();
  }
  const help: Sample[] = [];
  for (let i = 0; i < RUNS; i++) help.push(await measure(['--help'], {}));
  rows.push(['apply (fresh)', freshApply], ['apply (no-op)', noopApply], ['validate', validate], ['--help', help]);
} finally {
  await emulator.stop();
}

const failed = rows.filter(([, samples]) => samples.some((s) => s.code !== 0));
process.stdout.write(`fintech-runbook bench: median of ${RUNS} runs, built CLI against moto_server on loopback (node ${process.version})\n\n`);
process.stdout.write(`${'command'.padEnd(16)}${'wall ms'.padStart(10)}${'peak RSS MB'.padStart(14)}${'AWS reads'.padStart(11)}${'AWS writes'.padStart(12)}\n`);
for (const [name, samples] of rows) {
  const calls = (pick: (s: Sample) => number | undefined) => (samples[0] && pick(samples[0]) !== undefined ? String(median(samples.map((s) => pick(s) ?? 0))) : '-');
  process.stdout.write(
    `${name.padEnd(16)}${median(samples.map((s) => s.wallMs)).toFixed(0).padStart(10)}${median(samples.map((s) => s.peakRssMb)).toFixed(1).padStart(14)}${calls((s) => s.reads).padStart(11)}${calls((s) => s.writes).padStart(12)}\n`,
  );
}
if (failed.length) {
  process.stdout.write(`\nFAILED runs: ${failed.map(([name]) => name).join(', ')}\n`);
  process.exit(1);
}
