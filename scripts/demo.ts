// `npm run demo`: the whole runbook against a local moto_server — start the emulator, create the
// prerequisites, `apply`, `validate`, a second `apply` (which must change nothing), stop.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createPrerequisites, emulatorEnv, localSimulatorSettings, SIMULATED_RUNNING_TASKS, startEmulator, TaskSimulator } from './emulator.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));

function run(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  process.stdout.write(`\n$ fintech-runbook ${args.join(' ')}\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
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
    [...common, 'apply', '--yes'], // converged: zero writes
  ]) {
    const code = await run(args, env);
    if (code !== 0) {
      exitCode = code;
      break;
    }
  }
} finally {
  await simulator.current?.stop();
  await emulator.stop();
}
process.stdout.write(exitCode === 0 ? '\nDemo finished: runbook applied, validated, and re-applied with no change.\n' : `\nDemo FAILED (exit ${exitCode}).\n`);
process.exit(exitCode);
