// End-to-end harness: one moto_server per test file on a free loopback port, reset and re-seeded
// with the runbook's prerequisites before each test; the BUILT CLI (dist/bundle/) run as a child process.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import {
  createPrerequisites,
  emulatorEnv,
  localSimulatorSettings,
  startEmulator,
  TaskSimulator,
  type Emulator,
  type PrerequisiteOptions,
  type Prerequisites,
} from '../../scripts/emulator.js';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
// The bundle `npm run build` makes (scripts/build.mjs) and package.json's `bin` names: what users run.
export const cliPath = join(repoRoot, 'dist', 'bundle', 'fintech-runbook.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed, when the command ran with --json. */
  json?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Called with the child once it runs (e.g. to send SIGINT). */
  onSpawn?: (child: ReturnType<typeof spawn>) => void;
  timeoutMs?: number;
  /** Working directory (default the repository): `history` from anywhere. */
  cwd?: string;
}

let cliRuns = 0;

/**
 * Where this CLI run logs its AWS calls (FINTECH_RUNBOOK_CALL_LOG): a file of its own in the vitest
 * run's call-log folder, named after the test file (test/helpers/call-log.ts; the IAM policy audit
 * reads them all). None outside vitest's global setup.
 */
function callLogFile(): string | undefined {
  const dir = inject('callLogDir');
  if (!dir) return undefined;
  const testFile = basename(expect.getState().testPath ?? 'unknown');
  return join(dir, `${testFile}~${process.pid}-${++cliRuns}.jsonl`);
}

/** Run the built CLI with a clean environment: only what the test gives it (plus PATH/HOME). */
export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const callLog = callLogFile();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...(callLog ? { FINTECH_RUNBOOK_CALL_LOG: callLog } : {}),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI timed out: ${args.join(' ')}\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 90_000);
    options.onSpawn?.(child);
    child.on('exit', (code) => {
      clearTimeout(timer);
      let json: unknown;
      if (args.includes('--json')) {
        try {
          json = JSON.parse(stdout);
        } catch {
          json = undefined;
        }
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}

export interface EmulatorFixture {
  emulator: Emulator;
  prerequisites: Prerequisites;
  simulator: TaskSimulator;
  /** Env for the CLI: emulator credentials, the prerequisites' ids, a private journal dir. */
  env: NodeJS.ProcessEnv;
  /** Global CLI options for config/local.yaml against this emulator. */
  args: string[];
  /** Reset moto and re-create the prerequisites (call at the start of each test). */
  fresh(options?: PrerequisiteOptions): Promise<void>;
}

/** Starts moto once for the file (with extra moto settings, if any); stops it after. */
export function useEmulator(motoEnv: NodeJS.ProcessEnv = {}): EmulatorFixture {
  const fixture = {} as EmulatorFixture;
  beforeAll(async () => {
    fixture.emulator = await startEmulator({ env: motoEnv });
    fixture.args = ['--config', 'config/local.yaml', '--endpoint-url', fixture.emulator.endpoint, '--poll-interval', '0.1'];
    fixture.fresh = async (options = {}) => {
      await fixture.simulator?.stop();
      await fixture.emulator.reset();
      fixture.prerequisites = await createPrerequisites(fixture.emulator.endpoint, options);
      fixture.simulator = new TaskSimulator(fixture.emulator.endpoint, localSimulatorSettings(fixture.prerequisites.IMAGE_TAG)).start(100);
      fixture.env = {
        ...emulatorEnv(),
        ...fixture.prerequisites,
        FINTECH_RUNBOOK_STATE_DIR: mkdtempSync(join(tmpdir(), 'fintech-runbook-journal-')),
      };
    };
  });
  afterAll(async () => {
    await fixture.simulator?.stop();
    await fixture.emulator?.stop();
  });
  return fixture;
}

/** Write calls in a --json report, as 'service:Operation' strings. */
export function writesOf(report: { calls: { byOperation: Array<{ service: string; operation: string; kind: string; count: number }> } }): string[] {
  return report.calls.byOperation.filter((c) => c.kind === 'write').map((c) => `${c.service}:${c.operation}`);
}

/**
 * An HTTP endpoint on loopback that counts requests and answers 500: point --endpoint-url at it
 * to prove that a command made no AWS call at all.
 */
export async function countingEndpoint(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  const { createServer } = await import('node:http');
  let requests = 0;
  const server = createServer((_req, res) => {
    requests++;
    res.statusCode = 500;
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** SDK client settings for the test's own out-of-band changes to the emulator. */
export function emulatorClientConfig(endpoint: string) {
  return { region: 'us-east-1', endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
}
