// `npm run bench:timeline`: one fresh apply, one no-op apply and one validate of the built CLI
// against moto through the latency proxy (BENCH_LATENCY ms, default 100), printed as a timeline
// of AWS requests: when each was sent and answered, relative to the process's start. It shows
// which requests wait for each other (the "sequential round trips" `npm run bench` counts), i.e.
// where a run's wall time goes at a real region's latency. BENCH_WARM=0: measure a cold emulator.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPrerequisites, emulatorEnv, localSimulatorSettings, startEmulator, TaskSimulator } from './emulator.js';
import { startLatencyProxy, type LatencyProxy, type ProxiedRequest } from './latency-proxy.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'dist', 'bundle', 'fintech-runbook.js');
const latency = Number(process.env.BENCH_LATENCY ?? 100);
const commands = (process.env.BENCH_COMMANDS ?? 'apply,noop,validate').split(',');

function run(proxy: LatencyProxy, args: string[], env: NodeJS.ProcessEnv): Promise<{ wallMs: number; code: number | null; log: ProxiedRequest[]; spawnedAt: number }> {
  proxy.takeLog();
  return new Promise((resolve) => {
    const spawnedAt = proxy.now();
    const started = performance.now();
    const child = spawn(process.execPath, [cli, '--endpoint-url', proxy.url, '--poll-interval', '0.1', ...args], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('close', (code) => resolve({ wallMs: performance.now() - started, code, log: proxy.takeLog(), spawnedAt }));
  });
}

function print(title: string, result: Awaited<ReturnType<typeof run>>): void {
  const { log, spawnedAt } = result;
  process.stdout.write(`\n== ${title}: ${(result.wallMs / 1000).toFixed(2)} s wall, exit ${result.code}, ${log.length} requests\n`);
  // A "wave": requests sent while no earlier one of the wave has been answered yet.
  let waveEnd = -Infinity;
  let wave = 0;
  for (const r of [...log].sort((a, b) => a.startMs - b.startMs)) {
    if (r.startMs >= waveEnd) {
      wave++;
      waveEnd = r.endMs ?? r.startMs;
    } else waveEnd = Math.max(waveEnd, r.endMs ?? r.startMs);
    const at = (ms: number | undefined) => (ms === undefined ? '   ?' : (ms - spawnedAt).toFixed(0).padStart(5));
    process.stdout.write(`  ${String(wave).padStart(3)}  ${at(r.startMs)} -> ${at(r.endMs)} ms  ${r.read ? 'R' : 'W'} ${r.service}:${r.operation}\n`);
  }
  const first = Math.min(...log.map((r) => r.startMs)) - spawnedAt;
  process.stdout.write(`  ${wave} waves; first request at ${first.toFixed(0)} ms; last answer at ${(Math.max(...log.map((r) => r.endMs ?? 0)) - spawnedAt).toFixed(0)} ms\n`);
}

const emulator = await startEmulator();
const proxy = await startLatencyProxy({ target: emulator.endpoint, latencyMs: latency });
const state = mkdtempSync(join(tmpdir(), 'fintech-timeline-'));
try {
  // moto imports each service's backend on its first request: one unmeasured apply first, then a
  // reset, so the timeline shows a warm emulator (as `npm run bench` measures after its first run).
  if (process.env.BENCH_WARM !== '0') {
    const warm = await createPrerequisites(emulator.endpoint);
    const simulator = new TaskSimulator(emulator.endpoint, localSimulatorSettings(warm.IMAGE_TAG)).start(100);
    await run(proxy, ['--config', 'config/local.yaml', '--json', 'apply', '--yes'], { ...emulatorEnv(), ...warm, FINTECH_RUNBOOK_STATE_DIR: mkdtempSync(join(state, 'warm-')) });
    await simulator.stop();
    await emulator.reset();
  }
  const prerequisites = await createPrerequisites(emulator.endpoint);
  const env = { ...emulatorEnv(), ...prerequisites, FINTECH_RUNBOOK_STATE_DIR: state };
  const common = ['--config', 'config/local.yaml', '--json'];
  const simulator = new TaskSimulator(emulator.endpoint, localSimulatorSettings(prerequisites.IMAGE_TAG)).start(100);
  if (commands.includes('apply')) print(`apply (fresh) at ${latency} ms`, await run(proxy, [...common, 'apply', '--yes'], env));
  await simulator.stop();
  if (commands.includes('noop')) print(`apply (no-op) at ${latency} ms`, await run(proxy, [...common, 'apply', '--yes'], env));
  if (commands.includes('validate')) print(`validate at ${latency} ms`, await run(proxy, [...common, 'validate'], env));
  if (commands.includes('plan')) print(`plan at ${latency} ms`, await run(proxy, [...common, 'plan'], env));
} finally {
  await proxy.close();
  await emulator.stop();
  rmSync(state, { recursive: true, force: true });
}
