// fintech-runbook: executes the AWS Compute & Containers runbook. One top-level error handler
// maps typed errors to exit codes (README "Exit codes").
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, describeAccessProblem, ExitCode, explain, PreflightError, RunbookError, UsageError } from './core/errors.js';
import type { DeployFlags } from './commands/deploy.js';
import type { RollbackFlags } from './commands/rollback.js';
import type { GlobalOptions } from './commands/shared.js';
import { STEP_IDS } from './core/step.js';
import { StalePlanError } from './core/saved-plan.js';
import { helpText, programHelpText } from './help.js';

// Commands load the AWS SDK and the steps only when they run: `--help` and usage errors stay fast.
// `inputs` and `output` hold no SDK: a bad flag or config is refused before any client is loaded.
const commands = {
  inputs: () => import('./commands/inputs.js'),
  output: () => import('./commands/output.js'),
  run: () => import('./commands/run.js'),
  rollback: () => import('./commands/rollback.js'),
  diagnose: () => import('./commands/diagnose.js'),
  undo: () => import('./commands/undo.js'),
  shared: () => import('./commands/shared.js'),
  environments: () => import('./commands/environments.js'),
  history: () => import('./commands/history.js'),
  metrics: () => import('../steps/business-metrics.js'),
  lock: () => import('./commands/lock.js'),
  deploy: () => import('./commands/deploy.js'),
  approve: () => import('./commands/approve.js'),
  evidence: () => import('./commands/evidence.js'),
  iamPolicy: () => import('./commands/iam-policy.js'),
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

type CliOptions = Omit<GlobalOptions, 'config'> & { config?: string[]; maxConcurrency?: string; maxErrors?: string };

/** The config files `--config` names (repeated, or a folder): several for plan, apply and validate only. */
async function configs(command: Command): Promise<string[]> {
  return (await commands.inputs()).configFiles(command.optsWithGlobals<CliOptions>().config);
}

async function session(command: Command) {
  const files = await configs(command);
  if (files.length > 1) throw new UsageError(`${command.name()}: one environment at a time (--config was given ${files.length} files)`);
  const options = { ...command.optsWithGlobals<CliOptions>(), config: files[0] };
  // Flags and config first: a problem there is exit 2 before the SDK and the steps are loaded
  // (each command's action opens its session before it imports its module).
  const inputs = (await commands.inputs()).checkSessionInputs(options);
  return (await commands.shared()).openSession(options, interrupt.signal, undefined, inputs);
}

/** plan / apply / validate: one environment, or several in one process (rate-controlled). */
async function perEnvironment(command: Command, kind: 'plan' | 'apply' | 'validate', run: (s: Awaited<ReturnType<typeof session>>) => Promise<number>): Promise<number> {
  const files = await configs(command);
  if (files.length === 1) return run(await session(command));
  const options = command.optsWithGlobals<CliOptions>();
  const rate = (await commands.inputs()).rateControl(options);
  const environments = await commands.environments();
  return environments.forEachEnvironment(kind, files, { ...options, config: files[0] } as GlobalOptions, rate, interrupt.signal, run);
}

export function buildProgram(): Command {
  const program = new Command('fintech-runbook')
    .description('Run the FinTech AWS Compute & Containers runbook: plan, apply, validate, roll back.')
    .version('0.1.0')
    .option('-c, --config <file>', 'runbook config (YAML; default config/production.yaml); repeat it, or name a folder, to plan/apply/validate several environments', (value: string, previous: string[] = []) => [...previous, value])
    .option('--max-concurrency <n>', 'with several environments: how many run at once', '4')
    .option('--max-errors <n>', 'with several environments: start no new one after this many failed')
    .option('--region <region>', 'AWS region (overrides the config)')
    .option('--profile <name>', 'AWS shared-config profile (default: the SDK credential chain)')
    .option('--endpoint-url <url>', 'send every AWS call to this endpoint (e.g. a local emulator)')
    .option('--json', 'print one JSON document on stdout; human text goes to stderr')
    .option('--only <steps>', `comma-separated steps to run (${STEP_IDS.join(', ')})`)
    .option('--poll-interval <seconds>', 'seconds between polls while waiting for deployments', '5')
    .showHelpAfterError('(run with --help for usage)')
    // Every subcommand's --help lists the global options too (they go before the subcommand).
    // A fixed width: help reads the same in any terminal, and the bin can print it without loading
    // the CLI (src/bin.cjs, helpTexts below).
    .configureHelp({ showGlobalOptions: true, helpWidth: 80 })
    .addHelpText('after', programHelpText())
    .exitOverride();

  program
    .command('plan')
    .description('show what apply would change (read-only). Exit 0 in sync, 4 changes pending')
    .option('--out <file>', 'save the plan (its exact commands and the state it was made from) for `apply <file>`')
    .option('--diff', 'show whole documents: a unified diff of each changed resource\'s JSON')
    .action(async (opts: { out?: string; diff?: boolean }, command: Command) => {
      if (opts.out && (await configs(command)).length > 1) throw new UsageError('plan --out: one environment at a time');
      process.exitCode = await perEnvironment(command, 'plan', async (s) => (await commands.run()).planCommand(s, opts));
    });

  program
    .command('apply [planFile]')
    .description('run the runbook step by step, with the section 4.1 checks after each step; with a saved plan, exactly that plan (refused if the environment moved)')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--no-rollback', 'on failure keep the partial state instead of undoing this run')
    .option('--lock-timeout <seconds>', 'wait this long for another run\'s environment lock (default: fail at once, exit 5)')
    .option('--diff', 'the preview shows whole documents: a unified diff of each changed resource\'s JSON')
    .option('--accept-findings', 'deploy an image the image gate refuses for its scan findings (journaled)')
    .option('--emergency', 'write while the change calendar (changeCalendar) is CLOSED (journaled)')
    .option('--accept <control>', 'let the preflight go on past a FAIL of this input control (e.g. EC2.18), a recorded exception (journaled); repeatable', (id: string, ids: string[] = []) => [...ids, id])
    .action(async (planFile: string | undefined, opts: { yes?: boolean; rollback: boolean; lockTimeout?: string; diff?: boolean; acceptFindings?: boolean; emergency?: boolean; accept?: string[] }, command: Command) => {
      const several = (await configs(command)).length > 1;
      if (several && planFile) throw new UsageError('apply <planFile>: a saved plan is for one environment (one --config)');
      if (several && !opts.yes) throw new UsageError('apply with several environments asks no questions: pass --yes (review them with `plan` first)');
      process.exitCode = await perEnvironment(command, 'apply', async (s) => (await commands.run()).applyCommand(s, opts, planFile));
    });

  program
    .command('validate')
    .description('post-deploy checks (section 4.1) and the security checklist (section 3); never writes')
    .option('--report <file>', 'write the evidence report (JSON, or Markdown for a .md name) to this file, mode 0600; with several environments, a folder (one report each)')
    .option('--report-format <format>', 'json or markdown (default: from the --report name, else json)')
    .action(async (opts: { report?: string; reportFormat?: string }, command: Command) => {
      // Where the reports go is checked before any AWS call (a bad path is exit 2, nothing sent).
      const target = opts.report || opts.reportFormat ? (await commands.evidence()).reportTargets(opts, await configs(command)) : undefined;
      process.exitCode = await perEnvironment(command, 'validate', async (s) => (await commands.run()).validateCommand(s, target ? { report: target(s.options.config) } : {}));
    });

  program
    .command('iam-policy')
    .description("print the IAM policy this tool needs (JSON on stdout, notes on stderr), scoped to the config's ARNs; makes no AWS call")
    .option('--steps <steps>', `comma-separated steps (${STEP_IDS.join(', ')}); default every step (or --only)`)
    .option('--read-only', 'only what plan, validate and diagnose need')
    .action(async (opts: { steps?: string; readOnly?: boolean }, command: Command) => {
      const s = await session(command);
      process.exitCode = (await commands.iamPolicy()).iamPolicyCommand(s.config, opts, command.optsWithGlobals<CliOptions>().only, process.stdout, process.stderr);
    });

  program
    .command('rollback')
    .description('incident: deploy an earlier task definition revision of the service (runbook 4.3)')
    .requiredOption('--to <rev>', 'revision number, family:rev, task definition ARN, "previous" (the next lower ACTIVE revision) or "last-good" (the newest one that passed its checks, from the journal)')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--force', 'roll back even while a deployment is in flight')
    .option('--timeout <seconds>', 'how long to wait for the deployment (default: service.deployTimeoutSeconds)')
    .option('--lock-timeout <seconds>', 'wait this long for another run\'s environment lock (default: fail at once, exit 5)')
    .option('--emergency', 'roll back while the change calendar (changeCalendar) is CLOSED (journaled)')
    .action(async (opts: RollbackFlags, command: Command) => {
      const s = await session(command);
      process.exitCode = await (await commands.rollback()).rollbackCommand(s, opts);
    });

  program
    .command('undo <runId>')
    .description('converge what a recorded apply changed back to how it found it (after --no-rollback, a crash or Ctrl-C); deletes only what that run created')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--lock-timeout <seconds>', 'wait this long for another run\'s environment lock (default: fail at once, exit 5)')
    .option('--emergency', 'undo while the change calendar (changeCalendar) is CLOSED (journaled)')
    .action(async (runId: string, opts: { yes?: boolean; lockTimeout?: string; emergency?: boolean }, command: Command) => {
      const s = await session(command);
      process.exitCode = await (await commands.undo()).undoCommand(s, runId, opts);
    });

  program
    .command('deploy <image>')
    .description('ship a release image (tag or sha256:digest) of the api: the task definition and service steps only, after the image gate (in ECR, scan COMPLETE, no finding at or above deploy.blockSeverity)')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--no-rollback', 'on failure keep the new revision instead of undoing this run')
    .option('--lock-timeout <seconds>', 'wait this long for another run\'s environment lock (default: fail at once, exit 5)')
    .option('--accept-findings', 'deploy although the image gate refuses the scan findings (journaled)')
    .option('--emergency', 'deploy while the change calendar (changeCalendar) is CLOSED (journaled)')
    .option('--out <file>', 'save the deploy plan (read-only) for `approve <file>` and `apply <file>`')
    .action(async (image: string, opts: DeployFlags, command: Command) => {
      const s = await session(command);
      process.exitCode = await (await commands.deploy()).deployCommand(s, image, opts);
    });

  program
    .command('approve <planFile>')
    .description("record your approval (STS caller ARN, time, plan hash) of a saved plan beside it; with approval.required, apply needs another person's")
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (planFile: string, opts: { yes?: boolean }, command: Command) => {
      const s = await session(command);
      process.exitCode = await (await commands.approve()).approveCommand(s, planFile, opts);
    });

  program
    .command('diagnose')
    .description('section 4.2: task crash loop and scale-out failure, with evidence and the fix (read-only)')
    .action(async (_opts, command: Command) => {
      const s = await session(command);
      process.exitCode = await (await commands.diagnose()).diagnoseCommand(s);
    });

  program
    .command('history [runId]')
    .description('the runs recorded in the state directory (every environment, from any directory); with a run id, that run\'s caller, target and writes')
    .action(async (runId: string | undefined, _opts, command: Command) => {
      const { printJson } = await commands.output();
      process.exitCode = (await commands.history()).historyCommand(command.optsWithGlobals<GlobalOptions>(), runId, process.stdout, printJson);
    });

  program
    .command('unlock <run-id>')
    .description("remove the environment's lock held by that run (one that died); any other run id is refused")
    .action(async (runId: string, _opts, command: Command) => {
      const s = await session(command);
      process.exitCode = await (await commands.lock()).unlockCommand(s, runId);
    });

  const lockTable = program.command('lock-table').description('the DynamoDB table of the team lock (lock.dynamodbTable)');
  lockTable
    .command('create')
    .description('create the lock table (key lockId, on-demand, TTL) and wait until it is ACTIVE; an existing one is fine')
    .option('--table <name>', 'table name (default: lock.dynamodbTable from the config)')
    .action(async (opts: { table?: string }, command: Command) => {
      const s = await session(command);
      process.exitCode = await (await commands.lock()).lockTableCreateCommand(s, opts);
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

  // Each subcommand's own help: the variables the config reads, exit codes, examples (src/help.ts).
  const describe = (command: Command, path: string[]) => {
    for (const sub of command.commands) {
      const name = [...path, sub.name()];
      sub.addHelpText('after', helpText(name.join(' '), sub.usage()));
      describe(sub, name);
    }
  };
  describe(program, []);
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
    // A connection, endpoint or credential problem is one line naming where and who, with a hint.
    const options = program.opts<{ endpointUrl?: string; profile?: string; region?: string }>();
    const access = describeAccessProblem(error, {
      endpoint: options.endpointUrl ?? process.env.AWS_ENDPOINT_URL,
      profile: options.profile ?? process.env.AWS_PROFILE,
      region: options.region ?? process.env.AWS_REGION,
    });
    process.stderr.write(`error: ${access ?? explain(error)}\n`);
    if (program.opts().json) {
      // --json promises one document on stdout, failures included.
      const output = await commands.output();
      if (!output.jsonDocumentPrinted()) {
        output.printJson({
          ok: false,
          exitCode: code,
          error: access ?? explain(error),
          ...(error instanceof ConfigError || error instanceof PreflightError || error instanceof StalePlanError ? { problems: error.problems } : {}),
          calls: output.callsSoFar(),
        });
      }
    }
    if (code === ExitCode.halfApplied) {
      process.stderr.write('The environment may be half-applied: read the report above and the journal before re-running.\n');
    }
    return code;
  } finally {
    process.off('SIGINT', onSigint);
    // FINTECH_RUNBOOK_CALL_LOG: this run's AWS operations, one JSON line (src/aws/call-log.ts).
    if (process.env.FINTECH_RUNBOOK_CALL_LOG) (await import('./aws/call-log.js')).writeCallLog(argv.slice(2));
  }
}

/** What the bin runs (src/bin.cjs): the command, then exit once stdout is flushed. */
export function runCli(argv: string[]): Promise<void> {
  return main(argv).then((code) => {
    // Exit once stdout is flushed: idle keep-alive sockets of the SDK must not hold the process.
    process.stdout.write('', () => process.exit(code));
  });
}

/**
 * Every command's `--help` (and `-h`) text, and `--version`'s, keyed by the arguments that print
 * it (`apply --help`): what commander prints for them, captured at build time into the bin.
 */
export function helpTexts(): Record<string, string> {
  const program = buildProgram();
  const texts: Record<string, string> = {};
  const visit = (command: Command, path: string[]) => {
    let text = '';
    command.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
    command.outputHelp();
    for (const flag of ['--help', '-h']) texts[[...path, flag].join(' ')] = text;
    for (const sub of command.commands) visit(sub, [...path, sub.name()]);
  };
  visit(program, []);
  texts['--version'] = texts['-V'] = `${program.version()}\n`;
  return texts;
}
