// `npm run demo`: the whole runbook against a local moto_server — start the emulator, create the
// prerequisites, `apply`, `validate`, a second `apply` (which must change nothing), stop.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPrerequisites, emulatorEnv, localSimulatorSettings, SIMULATED_RUNNING_TASKS, startEmulator, TaskSimulator } from './emulator.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
// The bundle, as package.json `bin` names it: the demo runs what users run.
const cli = join(root, 'dist', 'bundle', 'fintech-runbook.js');

/** One CLI run, its output shown; with --json its report (stdout) is kept and the human text still shown (stderr). */
function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; json?: { calls?: { writes?: number } } }> {
  process.stdout.write(`\n$ fintech-runbook ${args.join(' ')}\n`);
  const json = args.includes('--json');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['inherit', json ? 'pipe' : 'inherit', 'inherit'] });
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('close', (code, signal) => {
      let report: { calls?: { writes?: number } } | undefined;
      try {
        report = json ? JSON.parse(stdout) : undefined;
      } catch {
        report = undefined;
      }
      resolve({ code: code ?? (signal ? 128 : 1), json: report });
    });
  });
}

const emulator = await startEmulator();
let exitCode = 0;
const simulator: { current?: TaskSimulator } = {};
try {
  process.stdout.write(`moto_server listening on ${emulator.endpoint} (loopback only)\n`);
  const prerequisites = await createPrerequisites(emulator.endpoint);
  process.stdout.write(
    'Created the prerequisites the runbook assumes: VPC, two private app subnets (two AZs), ALB and ECS security groups,\n' +
      'the ALB, an ISSUED certificate, a KMS key, the fintech/db-credentials secret, the Aurora cluster, the DynamoDB table.\n' +
      `NOTE: the emulator runs no containers. moto reports ${SIMULATED_RUNNING_TASKS} running tasks (MOTO_ECS_SERVICE_RUNNING); this demo\n` +
      'simulates the rest: it pushes the release image, registers the tasks\' IPs as targets and writes their startup logs.\n',
  );
  simulator.current = new TaskSimulator(emulator.endpoint, localSimulatorSettings(prerequisites.IMAGE_TAG)).start();
  // The journal goes to the state directory like any run's (README "State directory"): `history` shows the demo's runs.
  const env = { ...emulatorEnv(), ...prerequisites };
  const common = ['--config', 'config/local.yaml', '--endpoint-url', emulator.endpoint, '--poll-interval', '0.2'];
  for (const args of [
    [...common, 'apply', '--yes'],
    [...common, 'validate'],
    [...common, '--json', 'apply', '--yes'], // converged: zero writes (its report says how many)
  ]) {
    const { code, json } = await run(args, env);
    if (code !== 0) {
      exitCode = code;
      break;
    }
    if (args.includes('--json')) {
      const writes = json?.calls?.writes;
      process.stdout.write(`The second apply made ${writes ?? 'an unknown number of'} write(s).\n`);
      if (writes !== 0) exitCode = 1;
    }
  }
} finally {
  await simulator.current?.stop();
  await emulator.stop();
}
process.stdout.write(exitCode === 0 ? '\nDemo finished: runbook applied, validated, and re-applied with no change.\n' : `\nDemo FAILED (exit ${exitCode}${exitCode === 1 ? ': the second apply was not a no-op' : ''}).\n`);
process.exit(exitCode);
