#!/usr/bin/env node
// fintech-runbook: executes the AWS Compute & Containers runbook. One top-level error handler
// maps typed errors to exit codes (README "Exit codes").
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, ExitCode, explain, PreflightError, RunbookError, UsageError } from './core/errors.js';
import type { RollbackFlags } from './commands/rollback.js';
import type { GlobalOptions } from './commands/shared.js';
import { STEP_IDS } from './core/step.js';
import { StalePlanError } from './core/saved-plan.js';

// Commands load the AWS SDK and the steps only when they run: `--help` and usage errors stay fast.
const commands = {
  run: () => import('./commands/run.js'),
  rollback: () => import('./commands/rollback.js'),
  diagnose: () => import('./commands/diagnose.js'),
  undo: () => import('./commands/undo.js'),
  shared: () => import('./commands/shared.js'),
  journal: () => import('./core/journal.js'),
  metrics: () => import('../steps/business-metrics.js'),
  lock: () => import('./commands/lock.js'),
};

// The SDK warns on every run that its 2027 releases need Node 22; operators cannot act on it
// (package.json pins a Node 20 line, see README "Requirements"), so keep their output clean.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const interrupt = new AbortController();
let interrupts = 0;
function onSigint(): void {
  interrupts++;
  if (interrupts > 1) {
    process.stderr.write('\nsecond interrupt: exiting now; the journal holds every write made so far\n');
    process.exit(ExitCode.interrupted);
  }
  process.stderr.write('\ninterrupt: finishing the AWS call in flight, then stopping (Ctrl-C again to exit at once)\n');
  interrupt.abort();
}

async function session(command: Command) {
  const { openSession } = await commands.shared();
  return openSession(command.optsWithGlobals<GlobalOptions>(), interrupt.signal);
}

export function buildProgram(): Command {
  const program = new Command('fintech-runbook')
    .description('Run the FinTech AWS Compute & Containers runbook: plan, apply, validate, roll back.')
    .version('0.1.0')
    .option('-c, --config <file>', 'runbook config (YAML)', 'config/production.yaml')
    .option('--region <region>', 'AWS region (overrides the config)')
    .option('--profile <name>', 'AWS shared-config profile (default: the SDK credential chain)')
    .option('--endpoint-url <url>', 'send every AWS call to this endpoint (e.g. a local emulator)')
    .option('--json', 'print one JSON document on stdout; human text goes to stderr')
    .option('--only <steps>', `comma-separated steps to run (${STEP_IDS.join(', ')})`)
    .option('--poll-interval <seconds>', 'seconds between polls while waiting for deployments', '5')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('plan')
    .description('show what apply would change (read-only). Exit 0 in sync, 4 changes pending')
    .option('--out <file>', 'save the plan (its exact commands and the state it was made from) for `apply <file>`')
    .action(async (opts: { out?: string }, command: Command) => {
      process.exitCode = await (await commands.run()).planCommand(await session(command), opts);
    });

  program
    .command('apply [planFile]')
    .description('run the runbook step by step, with the section 4.1 checks after each step; with a saved plan, exactly that plan (refused if the environment moved)')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--no-rollback', 'on failure keep the partial state instead of undoing this run')
    .option('--lock-timeout <seconds>', 'wait this long for another run\'s environment lock (default: fail at once, exit 5)')
    .action(async (planFile: string | undefined, opts: { yes?: boolean; rollback: boolean; lockTimeout?: string }, command: Command) => {
      process.exitCode = await (await commands.run()).applyCommand(await session(command), opts, planFile);
    });

  program
    .command('validate')
    .description('post-deploy checks (section 4.1) and the security checklist (section 3); never writes')
    .action(async (_opts, command: Command) => {
      process.exitCode = await (await commands.run()).validateCommand(await session(command));
    });

  program
    .command('rollback')
    .description('incident: deploy an earlier task definition revision of the service (runbook 4.3)')
    .requiredOption('--to <rev>', 'revision number, family:rev, task definition ARN, or "previous"')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--force', 'roll back even while a deployment is in flight')
    .option('--timeout <seconds>', 'how long to wait for the deployment (default: service.deployTimeoutSeconds)')
    .option('--lock-timeout <seconds>', 'wait this long for another run\'s environment lock (default: fail at once, exit 5)')
    .action(async (opts: RollbackFlags, command: Command) => {
      process.exitCode = await (await commands.rollback()).rollbackCommand(await session(command), opts);
    });

  program
    .command('undo <runId>')
    .description('converge what a recorded apply changed back to how it found it (after --no-rollback, a crash or Ctrl-C); deletes only what that run created')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--lock-timeout <seconds>', 'wait this long for another run\'s environment lock (default: fail at once, exit 5)')
    .action(async (runId: string, opts: { yes?: boolean; lockTimeout?: string }, command: Command) => {
      process.exitCode = await (await commands.undo()).undoCommand(await session(command), runId, opts);
    });

  program
    .command('diagnose')
    .description('section 4.2: task crash loop and scale-out failure, with evidence and the fix (read-only)')
    .action(async (_opts, command: Command) => {
      process.exitCode = await (await commands.diagnose()).diagnoseCommand(await session(command));
    });

  program
    .command('history')
    .description('list the runs recorded in the local journal')
    .action(async (_opts, command: Command) => {
      const runs = (await commands.journal()).listRuns();
      if (command.optsWithGlobals<GlobalOptions>().json) (await commands.shared()).printJson(runs);
      else if (!runs.length) process.stdout.write('No runs recorded yet.\n');
      else for (const r of runs) process.stdout.write(`${r.startedAt}  ${r.command.padEnd(8)} ${r.outcome.padEnd(12)} ${r.writes} write(s)${r.failedWrites ? `, ${r.failedWrites} failed` : ''}  ${r.file}\n`);
    });

  program
    .command('unlock <run-id>')
    .description("remove the environment's lock held by that run (one that died); any other run id is refused")
    .action(async (runId: string, _opts, command: Command) => {
      process.exitCode = await (await commands.lock()).unlockCommand(await session(command), runId);
    });

  const lockTable = program.command('lock-table').description('the DynamoDB table of the team lock (lock.dynamodbTable)');
  lockTable
    .command('create')
    .description('create the lock table (key lockId, on-demand, TTL) and wait until it is ACTIVE; an existing one is fine')
    .option('--table <name>', 'table name (default: lock.dynamodbTable from the config)')
    .action(async (opts: { table?: string }, command: Command) => {
      process.exitCode = await (await commands.lock()).lockTableCreateCommand(await session(command), opts);
    });

  const metrics = program.command('metrics').description('section 2.4 business metrics');
  metrics
    .command('put <metricName> <value>')
    .description('publish one datum of a business metric (TransactionsProcessed, LoginSuccess, FraudFlags, APIErrors, PaymentLatency)')
    .addOption(new Option('--unit <unit>', "the metric's unit (default: the runbook's)"))
    .option('--dimension <name=value...>', 'dimensions (default: the runbook\'s)')
    .action(async (metricName: string, value: string, opts: { unit?: string; dimension?: string[] }, command: Command) => {
      const dimensions = opts.dimension?.map((pair) => {
        const [name, ...rest] = pair.split('=');
        if (!name || !rest.length) throw new UsageError(`--dimension: "${pair}" is not name=value`);
        return [name, rest.join('=')] as const;
      });
      const s = await session(command);
      const datum = await (await commands.metrics()).putBusinessMetric(s.clients, s.config, metricName, value, {
        unit: opts.unit,
        dimensions: dimensions ? Object.fromEntries(dimensions) : undefined,
      });
      if (s.options.json) (await commands.shared()).printJson(datum);
      else s.human.write(`Published ${datum.metricName}=${datum.value} ${datum.unit} to ${datum.namespace}\n`);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  process.on('SIGINT', onSigint);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not errors; every other parse problem is a usage error.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    const code = error instanceof RunbookError ? error.exitCode : ExitCode.failed;
    process.stderr.write(`error: ${explain(error)}\n`);
    if (program.opts().json) {
      // --json promises one document on stdout, failures included.
      const shared = await commands.shared();
      if (!shared.jsonDocumentPrinted()) {
        shared.printJson({
          ok: false,
          exitCode: code,
          error: explain(error),
          ...(error instanceof ConfigError || error instanceof PreflightError || error instanceof StalePlanError ? { problems: error.problems } : {}),
          calls: shared.callsSoFar(),
        });
      }
    }
    if (code === ExitCode.halfApplied) {
      process.stderr.write('The environment may be half-applied: read the report above and the journal before re-running.\n');
    }
    return code;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

main(process.argv).then((code) => {
  // Exit once stdout is flushed: idle keep-alive sockets of the SDK must not hold the process.
  process.stdout.write('', () => process.exit(code));
});
