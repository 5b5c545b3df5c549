// `npm run bench`: the runbook's own aws CLI commands (bench/runbook.sh, sections 1.1–2.3) side by
// side with the built CLI (dist/bundle, what users run), on one emulator (moto on loopback) reset
// between runs, at 0 and 100 ms of added latency per request (scripts/latency-proxy.ts stands for
// a real region's round trip). N runs of each (BENCH_RUNS, default 5), alternating so load on the
// machine falls on both sides alike. Prints medians, ratios, AWS calls (reads/writes, counted on
// the wire by the proxy), repeated identical reads per run, CPU and peak RSS, and the issue's
// targets. Speed targets live here, never in timed tests (a shared 2-core machine varies).
//
//   BENCH_RUNS=5            runs per measurement
//   BENCH_LATENCIES=0,100   added latency per request, ms
//   BENCH_ENVIRONMENTS=20   environments for the "many environments" plan (5 are compared too)
//   BENCH_JSON=file         also write every sample as JSON
//   AWS_CLI=path            the aws executable for bench/runbook.sh (default: aws on PATH)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPrerequisites, emulatorEnv, localSimulatorSettings, startEmulator, TaskSimulator, type Emulator, type Prerequisites } from './emulator.js';
import { repeatedReads, startLatencyProxy, type LatencyProxy } from './latency-proxy.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'dist', 'bundle', 'fintech-runbook.js');
const runbookScript = join(root, 'bench', 'runbook.sh');
const probe = fileURLToPath(new URL('./bench-probe.js', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const LATENCIES = (process.env.BENCH_LATENCIES ?? '0,100').split(',').map(Number);
const MANY = Number(process.env.BENCH_ENVIRONMENTS ?? 20);
const FEW = Math.min(5, MANY);
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

interface Sample {
  wallMs: number;
  cpuMs?: number;
  rssMb?: number;
  code: number | null;
  reads: number;
  writes: number;
  repeats: number;
  repeatedOps: Record<string, number>;
  stdout: string;
  stderr: string;
}

/** One process: wall time here, CPU and peak RSS from GNU time (or, for node without it, the probe). */
function runOnce(command: string, args: string[], env: NodeJS.ProcessEnv, proxy: LatencyProxy): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'fintech-bench-'));
  const usageFile = join(dir, 'usage');
  const isNode = command === process.execPath;
  const argv = TIME ? [TIME, '-f', '%e %U %S %M', '-o', usageFile, command, ...args] : [command, ...(isNode ? ['--import', probe] : []), ...args];
  proxy.takeLog();
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env, BENCH_USAGE_FILE: usageFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      let cpuMs: number | undefined;
      let rssMb: number | undefined;
      if (existsSync(usageFile)) {
        const text = readFileSync(usageFile, 'utf8').trim();
        if (TIME) {
          const [, user, system, maxKb] = text.split('\n').pop()!.split(' ').map(Number);
          cpuMs = (user + system) * 1000;
          rssMb = maxKb / 1024;
        } else {
          const usage = JSON.parse(text) as { userCPUTime: number; systemCPUTime: number; maxRSS: number };
          cpuMs = (usage.userCPUTime + usage.systemCPUTime) / 1000;
          rssMb = usage.maxRSS / 1024;
        }
      }
      rmSync(dir, { recursive: true, force: true });
      const log = proxy.takeLog();
      const repeats = repeatedReads(log);
      resolve({
        wallMs,
        cpuMs,
        rssMb,
        code,
        reads: log.filter((r) => r.read).length,
        writes: log.filter((r) => !r.read).length,
        repeats: repeats.total,
        repeatedOps: Object.fromEntries(repeats.byOperation),
        stdout,
        stderr,
      });
    });
  });
}

/** Several processes one after the other, as one sample: times and calls add up, RSS is the largest. */
async function runInSequence(runs: Array<() => Promise<Sample>>): Promise<Sample> {
  const samples: Sample[] = [];
  for (const run of runs) samples.push(await run());
  const sum = (pick: (s: Sample) => number | undefined) => (samples.every((s) => pick(s) !== undefined) ? samples.reduce((a, s) => a + pick(s)!, 0) : undefined);
  const repeatedOps: Record<string, number> = {};
  for (const s of samples) for (const [op, n] of Object.entries(s.repeatedOps)) repeatedOps[op] = (repeatedOps[op] ?? 0) + n;
  return {
    wallMs: sum((s) => s.wallMs)!,
    cpuMs: sum((s) => s.cpuMs),
    rssMb: samples.every((s) => s.rssMb !== undefined) ? Math.max(...samples.map((s) => s.rssMb!)) : undefined,
    code: samples.find((s) => s.code !== 0)?.code ?? 0,
    reads: sum((s) => s.reads)!,
    writes: sum((s) => s.writes)!,
    repeats: sum((s) => s.repeats)!,
    repeatedOps,
    stdout: samples.map((s) => s.stdout).join('\n'),
    stderr: samples.map((s) => s.stderr).join('\n'),
  };
}

/** The aws executable: $AWS_CLI, else aws on PATH (the real one behind a pyenv shim: the shim's own start-up is not the CLI's). */
function findAwsCli(): { path?: string; version?: string; reason?: string } {
  const candidates = [process.env.AWS_CLI, spawnSync('pyenv', ['which', 'aws'], { encoding: 'utf8' }).stdout?.trim(), 'aws'].filter((c): c is string => !!c);
  for (const path of candidates) {
    const probeRun = spawnSync(path, ['--version'], { encoding: 'utf8' });
    if (probeRun.status === 0) return { path, version: `${probeRun.stdout}${probeRun.stderr}`.trim().split(' ')[0] };
  }
  return { reason: 'the aws CLI is not installed (pip install awscli, or AWS CLI v2)' };
}

/**
 * Environment n of the "many environments" runs: prerequisites of its own (VPC, ALB, security
 * groups, certificate, key, secret, Aurora cluster, table: the ALB's security group admits only
 * its one HTTPS listener) and config/local.yaml with every owned name suffixed and the ids written
 * in (one process reads one set of environment variables).
 */
async function environmentConfig(endpoint: string, dir: string, n: number): Promise<{ file: string; imageTag: string }> {
  const prerequisites = await createPrerequisites(endpoint, {
    names: {
      alb: `fintech-b${n}-alb`,
      albSecurityGroup: `fintech-b${n}-alb-sg`,
      ecsSecurityGroup: `fintech-b${n}-ecs-sg`,
      domain: `b${n}.fintech.example`,
      secret: `fintech/b${n}/db-credentials`,
      auroraCluster: `fintech-db-cluster-b${n}`,
      auroraWriter: `fintech-db-writer-b${n}`,
      table: `FinTechTransactions-b${n}`,
    },
  });
  let yaml = readFileSync(join(root, 'config', 'local.yaml'), 'utf8');
  const renames: Array<[RegExp, string]> = [
    [/name: fintech-prod-cluster\b/, `name: fintech-b${n}-cluster`],
    [/repositoryName: fintech-api\b/, `repositoryName: fintech-api-b${n}`],
    [/FinTech-ECS-(Exec|Task)Role/g, `FinTech-B${n}-$1Role`],
    [/family: fintech-api-task\b/, `family: fintech-api-task-b${n}`],
    [/name: \/ecs\/fintech-api,/, `name: /ecs/fintech-api-b${n},`],
    [/name: fintech-prod-tg\b/, `name: fintech-b${n}-tg`],
    [/name: fintech-api-svc\b/, `name: fintech-api-svc-b${n}`],
    [/auroraClusterId: fintech-db-cluster\b/, `auroraClusterId: fintech-db-cluster-b${n}`],
    [/dynamodbTableName: FinTechTransactions\b/, `dynamodbTableName: FinTechTransactions-b${n}`],
  ];
  for (const [pattern, replacement] of renames) {
    if (!pattern.test(yaml)) throw new Error(`bench: config/local.yaml no longer has ${pattern}: update environmentConfig in scripts/bench.ts`);
    yaml = yaml.replace(pattern, replacement);
  }
  yaml = yaml.replace(/\$\{([A-Z_]+)\}/g, (whole, name: string) => (name in prerequisites ? prerequisites[name as keyof Prerequisites] : whole));
  const file = join(dir, `env-${String(n).padStart(2, '0')}.yaml`);
  writeFileSync(file, yaml);
  return { file, imageTag: prerequisites.IMAGE_TAG };
}

function simulatorFor(endpoint: string, imageTag: string, n?: number): TaskSimulator {
  const settings = localSimulatorSettings(imageTag);
  if (n !== undefined) {
    settings.cluster = `fintech-b${n}-cluster`;
    settings.service = `fintech-api-svc-b${n}`;
    settings.repository = `fintech-api-b${n}`;
    settings.logGroup = `/ecs/fintech-api-b${n}`;
  }
  return new TaskSimulator(endpoint, settings);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
};

// ---------------------------------------------------------------------------------------------
const results = new Map<string, Sample[]>();
const skipped = new Map<string, string>();
const add = (name: string, sample: Sample) => {
  const list = results.get(name) ?? [];
  list.push(sample);
  results.set(name, list);
};
const key = (name: string, latency: number) => `${name} @${latency}`;

if (!existsSync(cli)) throw new Error(`bench: ${cli} is missing: run npm run build`);
const aws = findAwsCli();
const emulator: Emulator = await startEmulator();
const proxy = await startLatencyProxy({ target: emulator.endpoint, latencyMs: 0 });
const stateDirs: string[] = [];
const stateDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'fintech-bench-state-'));
  stateDirs.push(dir);
  return dir;
};
const tool = (args: string[], env: NodeJS.ProcessEnv) => runOnce(process.execPath, [cli, '--endpoint-url', proxy.url, '--poll-interval', '0.1', ...args], env, proxy);
const started = Date.now();
try {
  process.stderr.write(`bench: ${RUNS} run(s) at ${LATENCIES.join(' and ')} ms; moto ${emulator.endpoint}, proxy ${proxy.url}\n`);

  // 1. The runbook's commands vs a fresh apply, then a no-op apply and validate: one reset each.
  for (let run = 0; run < RUNS; run++) {
    for (const latency of LATENCIES) {
      proxy.setLatency(latency);
      process.stderr.write(`bench: run ${run + 1}/${RUNS}, ${latency} ms: runbook.sh, apply, apply (no-op), validate\n`);
      if (aws.path) {
        await emulator.reset();
        const prerequisites = await createPrerequisites(emulator.endpoint);
        add(key('runbook', latency), await runOnce('bash', [runbookScript], { ...emulatorEnv(), ...prerequisites, ENDPOINT_URL: proxy.url, AWS_CLI: aws.path }, proxy));
      }
      await emulator.reset();
      const prerequisites = await createPrerequisites(emulator.endpoint);
      const simulator = simulatorFor(emulator.endpoint, prerequisites.IMAGE_TAG).start(100);
      const env = { ...emulatorEnv(), ...prerequisites, FINTECH_RUNBOOK_STATE_DIR: stateDir() };
      const common = ['--config', 'config/local.yaml', '--json'];
      add(key('apply', latency), await tool([...common, 'apply', '--yes'], env));
      // Targets are registered and the startup logs shipped: the simulator's polling would only
      // compete with the measured runs for moto's one Python process.
      await simulator.stop();
      add(key('noop', latency), await tool([...common, 'apply', '--yes'], env));
      add(key('validate', latency), await tool([...common, 'validate'], env));
    }
  }
  if (!aws.path) skipped.set('runbook', aws.reason!);

  // 2. Many environments: set up once (read-only runs follow, no reset needed), then no-op plans.
  await emulator.reset();
  const dir = mkdtempSync(join(tmpdir(), 'fintech-bench-envs-'));
  const environments: Array<{ file: string; imageTag: string }> = [];
  for (let n = 1; n <= MANY; n++) environments.push(await environmentConfig(emulator.endpoint, dir, n));
  const files = environments.map((e) => e.file);
  const env = { ...emulatorEnv(), FINTECH_RUNBOOK_STATE_DIR: stateDir() };
  const simulators = environments.map((e, i) => simulatorFor(emulator.endpoint, e.imageTag, i + 1).start(400));
  proxy.setLatency(0);
  process.stderr.write(`bench: applying ${MANY} environments (setup, not measured)\n`);
  const setup = await tool([...files.flatMap((f) => ['--config', f]), '--json', 'apply', '--yes'], env);
  await Promise.all(simulators.map((s) => s.stop()));
  const oneProcessWorks = setup.code === 0;
  if (!oneProcessWorks) {
    // No several-environments support (or it failed): set each environment up in its own process.
    process.stderr.write(`bench: one-process apply of ${MANY} environments exited ${setup.code}; applying them one by one\n${setup.stderr.slice(-2000)}\n`);
    for (const [i, file] of files.entries()) {
      const simulator = simulatorFor(emulator.endpoint, environments[i].imageTag, i + 1).start(100);
      const one = await tool(['--config', file, '--json', 'apply', '--yes'], env);
      await simulator.stop();
      if (one.code !== 0) throw new Error(`bench: setup apply of ${file} exited ${one.code}:\n${one.stderr.slice(-3000)}`);
    }
  }
  const few = files.slice(0, FEW);
  for (let run = 0; run < RUNS; run++) {
    for (const latency of LATENCIES) {
      proxy.setLatency(latency);
      process.stderr.write(`bench: run ${run + 1}/${RUNS}, ${latency} ms: plan of ${FEW} environments (1 process, ${FEW} processes), of ${MANY} in 1 process\n`);
      if (oneProcessWorks) add(key('plan-few-one', latency), await tool([...few.flatMap((f) => ['--config', f]), '--json', 'plan'], env));
      add(key('plan-few-many', latency), await runInSequence(few.map((f) => () => tool(['--config', f, '--json', 'plan'], env))));
      if (oneProcessWorks) add(key('plan-many-one', latency), await tool([...files.flatMap((f) => ['--config', f]), '--json', 'plan'], env));
    }
  }
  if (!oneProcessWorks) skipped.set('plan-few-one', `plan with several --config did not work (exit ${setup.code})`);
} finally {
  await proxy.close();
  await emulator.stop();
  for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
}

// 3. Start-up: --help against `node -e 0`, alternating, more runs (each is tens of ms).
const startup = { help: [] as number[], node: [] as number[] };
const quick = (args: string[]) => {
  const t = process.hrtime.bigint();
  spawnSync(process.execPath, args, { cwd: root, stdio: 'ignore', env: { PATH: process.env.PATH } });
  return Number(process.hrtime.bigint() - t) / 1e6;
};
quick([cli, '--help']);
for (let i = 0; i < Math.max(20, RUNS * 4); i++) {
  startup.node.push(quick(['-e', '0']));
  startup.help.push(quick([cli, '--help']));
}

// ---------------------------------------------------------------------------------------------
interface Row {
  label: string;
  latency: number;
  samples: Sample[];
}
const rowsOf = (name: string, label: string): Row[] => LATENCIES.flatMap((latency) => (results.has(key(name, latency)) ? [{ label, latency, samples: results.get(key(name, latency))! }] : []));
const med = (samples: Sample[], pick: (s: Sample) => number | undefined): number | undefined => {
  const values = samples.map(pick).filter((v): v is number => v !== undefined);
  return values.length ? median(values) : undefined;
};
const fmt = (value: number | undefined, digits = 0) => (value === undefined ? '-' : value.toFixed(digits));
const wallOf = (name: string, latency: number) => med(results.get(key(name, latency)) ?? [], (s) => s.wallMs);

const out: string[] = [];
const print = (line = '') => out.push(line);
print(`fintech-runbook bench: median of ${RUNS} run(s) per row, dist/bundle against moto on loopback through a latency proxy (node ${process.version}, ${Math.round((Date.now() - started) / 1000)} s)`);
print(`runbook.sh: ${aws.path ? `${aws.path} (${aws.version})` : `skipped: ${aws.reason}`}. Calls are counted on the wire (reads/writes); "repeats" are reads sent again with the same body in one run.`);
print();
const header = `${'command'.padEnd(34)}${'latency'.padStart(8)}${'wall s'.padStart(9)}${'CPU s'.padStart(8)}${'reads'.padStart(7)}${'writes'.padStart(7)}${'repeats'.padStart(8)}${'peak RSS MB'.padStart(12)}  exit`;
print(header);
print('-'.repeat(header.length));
const table: Row[] = [
  ...rowsOf('runbook', 'runbook.sh (aws CLI, 1.1-2.3)'),
  ...rowsOf('apply', 'apply (fresh)'),
  ...rowsOf('noop', 'apply (no-op)'),
  ...rowsOf('validate', 'validate'),
  ...rowsOf('plan-few-one', `plan, ${FEW} environments, 1 process`),
  ...rowsOf('plan-few-many', `plan, ${FEW} environments, ${FEW} processes`),
  ...rowsOf('plan-many-one', `plan, ${MANY} environments, 1 process`),
];
for (const row of table) {
  const s = row.samples;
  const codes = [...new Set(s.map((x) => x.code))].join(',');
  print(
    `${row.label.padEnd(34)}${`${row.latency} ms`.padStart(8)}${fmt(med(s, (x) => x.wallMs / 1000), 2).padStart(9)}${fmt(med(s, (x) => (x.cpuMs === undefined ? undefined : x.cpuMs / 1000)), 2).padStart(8)}${fmt(med(s, (x) => x.reads)).padStart(7)}${fmt(med(s, (x) => x.writes)).padStart(7)}${fmt(med(s, (x) => x.repeats)).padStart(8)}${fmt(med(s, (x) => x.rssMb)).padStart(12)}  ${codes}`,
  );
}
print(`${'--help'.padEnd(34)}${'-'.padStart(8)}${(median(startup.help) / 1000).toFixed(3).padStart(9)}`);
print(`${'node -e 0'.padEnd(34)}${'-'.padStart(8)}${(median(startup.node) / 1000).toFixed(3).padStart(9)}`);
for (const [name, reason] of skipped) print(`skipped: ${name}: ${reason}`);

print();
print('ratios (medians):');
for (const latency of LATENCIES) {
  const ratio = (a?: number, b?: number) => (a !== undefined && b ? `${(a / b).toFixed(1)}x` : 'n/a');
  print(`  ${String(latency).padStart(3)} ms  runbook.sh / apply (fresh): ${ratio(wallOf('runbook', latency), wallOf('apply', latency))}   ${FEW} processes / 1 process (plan of ${FEW}): ${ratio(wallOf('plan-few-many', latency), wallOf('plan-few-one', latency))}`);
}
print(`          --help / node -e 0: ${(median(startup.help) / median(startup.node)).toFixed(2)}x`);
if (LATENCIES.includes(0) && LATENCIES.includes(100)) {
  // What 100 ms per request adds, in requests that had to wait for each other.
  const rounds = (name: string) => {
    const slow = wallOf(name, 100);
    const fast = wallOf(name, 0);
    return slow !== undefined && fast !== undefined ? ((slow - fast) / 100).toFixed(0) : '-';
  };
  print(`  sequential round trips, (wall at 100 ms - wall at 0 ms) / 100 ms: runbook.sh ${rounds('runbook')}, apply (fresh) ${rounds('apply')}, apply (no-op) ${rounds('noop')}, validate ${rounds('validate')}, plan of ${FEW} in 1 process ${rounds('plan-few-one')}, of ${MANY} ${rounds('plan-many-one')}`);
}

print();
print('repeated identical reads per run, by operation (a fresh apply\'s waits poll on purpose; with several environments, sts:GetCallerIdentity is once per environment):');
for (const row of table) {
  const ops: Record<string, number> = {};
  for (const s of row.samples) for (const [op, n] of Object.entries(s.repeatedOps)) ops[op] = (ops[op] ?? 0) + n;
  const perRun = (n: number) => Number((n / row.samples.length).toFixed(1));
  const list = Object.entries(ops).sort((a, b) => b[1] - a[1]).map(([op, n]) => `${op} x${perRun(n)}`).join(', ');
  if (list) print(`  ${row.label} @${row.latency} ms: ${list}`);
}

// The issue's targets (reported, never asserted in tests).
print();
print('targets:');
const verdict = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'met' : 'NOT met');
const at = (latency: number) => (LATENCIES.includes(latency) ? latency : undefined);
const targets: Array<[string, string, boolean | undefined]> = [];
for (const [latency, factor] of [[100, 15], [0, 12]] as const) {
  if (at(latency) === undefined) continue;
  const r = wallOf('runbook', latency);
  const a = wallOf('apply', latency);
  targets.push([`fresh apply at ${latency} ms >= ${factor}x faster than runbook.sh`, r && a ? `${(r / a).toFixed(1)}x` : 'n/a', r && a ? r / a >= factor : undefined]);
}
if (at(100) !== undefined) {
  const w = wallOf('noop', 100);
  targets.push(['no-op apply at 100 ms <= 1.5 s wall', `${fmt(w && w / 1000, 2)} s`, w === undefined ? undefined : w <= 1500]);
}
const noopCpu = med(LATENCIES.flatMap((l) => results.get(key('noop', l)) ?? []), (s) => s.cpuMs);
targets.push(['CPU of a no-op apply <= 0.8 s', `${fmt(noopCpu && noopCpu / 1000, 2)} s`, noopCpu === undefined ? undefined : noopCpu <= 800]);
const helpRatio = median(startup.help) / median(startup.node);
targets.push(['--help <= 1.15x node -e 0', `${helpRatio.toFixed(2)}x`, helpRatio <= 1.15]);
// Several environments in one process each ask STS who the caller is (each may have its own
// credentials): the same GetCallerIdentity once per environment is not a repeat of a resource read.
const perEnvironment = (name: string, s: Sample) => (name.startsWith('plan-') ? s.repeats - (s.repeatedOps['sts:GetCallerIdentity'] ?? 0) : s.repeats);
const repeatCounts = ['noop', 'validate', 'plan-many-one'].flatMap((n) => LATENCIES.flatMap((l) => (results.get(key(n, l)) ?? []).map((s) => perEnvironment(n, s))));
const maxRepeats = repeatCounts.length ? Math.max(...repeatCounts) : undefined;
targets.push(['0 repeated identical reads (no-op apply, validate, plan)', `${fmt(maxRepeats)} at most`, maxRepeats === undefined ? undefined : maxRepeats === 0]);
if (at(100) !== undefined) {
  const s = results.get(key('plan-many-one', 100));
  const w = s && med(s, (x) => x.wallMs);
  const rss = s && med(s, (x) => x.rssMb);
  targets.push([`${MANY} environments' no-op plan, 1 process, 100 ms <= 8 s`, `${fmt(w && w / 1000, 2)} s`, w === undefined ? undefined : w <= 8000]);
  targets.push([`  ... peak RSS <= 250 MB`, `${fmt(rss)} MB`, rss === undefined ? undefined : rss <= 250]);
}
const secondApplyWrites = LATENCIES.flatMap((l) => results.get(key('noop', l)) ?? []).map((s) => s.writes);
targets.push(['a second apply makes 0 writes', `${secondApplyWrites.length ? Math.max(...secondApplyWrites) : '-'} at most`, secondApplyWrites.length ? secondApplyWrites.every((w) => w === 0) : undefined]);
for (const [name, value, ok] of targets) print(`  ${name.padEnd(58)} ${value.padStart(12)}  ${verdict(ok)}`);

// Every row must exit 0: a plan of converged environments is in sync (exit 4 would mean pending changes).
const failed = table.filter((row) => row.samples.some((s) => s.code !== 0));
if (failed.length) {
  print();
  print(`FAILED runs: ${failed.map((r) => `${r.label} @${r.latency} ms`).join(', ')}`);
  for (const row of failed) {
    const bad = row.samples.find((s) => s.code !== 0)!;
    print(`--- ${row.label} @${row.latency} ms, exit ${bad.code}:\n${bad.stderr.slice(-2000)}`);
  }
}
process.stdout.write(`${out.join('\n')}\n`);
if (process.env.BENCH_JSON) {
  mkdirSync(join(process.env.BENCH_JSON, '..'), { recursive: true });
  const raw = Object.fromEntries([...results].map(([k, samples]) => [k, samples.map(({ stdout: _o, stderr: _e, ...rest }) => rest)]));
  writeFileSync(process.env.BENCH_JSON, JSON.stringify({ runs: RUNS, latencies: LATENCIES, environments: MANY, startup, samples: raw, skipped: Object.fromEntries(skipped) }, null, 2));
}
process.exit(failed.length ? 1 : 0);
