// What each subcommand's --help adds after its options (commander's addHelpText): the
// environment variables the config reads, the exit codes, and one or two examples. Kept here,
// not in cli.ts, so that the text is one table to read and test. No AWS SDK is loaded for help.
import { wrap } from './commands/layout.js';

/** The `${VARS}` config/production.yaml reads (README "Config"); a unit test keeps the two in step. */
export const CONFIG_VARIABLES = [
  'ACCOUNT_ID',
  'VPC_ID',
  'APP_SUB_A',
  'APP_SUB_B',
  'ECS_SG',
  'ALB_SG',
  'ALB_ARN',
  'CERT_ARN',
  'LOGS_KMS_KEY_ARN',
  'DB_SECRET_ARN',
  'IMAGE_TAG',
] as const;

const EXIT = {
  usage: '2  usage or config error (nothing sent to AWS); credentials of another account',
  lock: '5  another run holds the environment lock (it is named); nothing was written',
  interrupted: '130  interrupted (Ctrl-C): the journal holds every write made',
  halfApplied: '3  undoing did not complete: maybe half-applied (see `history <run-id>`)',
} as const;

interface CommandHelp {
  /** Reads the config (and so its variables and AWS credentials). */
  config: boolean;
  exits: string[];
  examples: string[];
}

const HELP: Record<string, CommandHelp> = {
  plan: {
    config: true,
    exits: ['0  in sync', '4  changes pending', '1  an AWS call failed', EXIT.usage],
    examples: ['fintech-runbook plan', 'fintech-runbook --only task-definition,service plan --diff --out r42.json'],
  },
  apply: {
    config: true,
    exits: ['0  applied, or nothing to change (also when you answer no)', "1  a step or its checks failed; this run's changes were undone", EXIT.usage, EXIT.halfApplied, EXIT.lock, EXIT.interrupted],
    examples: ['fintech-runbook apply                    # preflight, preview, then it asks', 'fintech-runbook apply release.plan.json --yes   # exactly a saved plan (CI)'],
  },
  validate: {
    config: true,
    exits: ['0  every check passed (WARN and SKIP do not fail)', '1  a check FAILED: the last lines name it and what to run next', EXIT.usage],
    examples: ['fintech-runbook validate', 'fintech-runbook --json validate > validate.json'],
  },
  rollback: {
    config: true,
    exits: ['0  rolled back and stable, or already on that revision', '1  the target was refused or its deployment failed', EXIT.usage, EXIT.lock, EXIT.interrupted],
    examples: ['fintech-runbook rollback --to previous', 'fintech-runbook rollback --to fintech-api-task:41 --yes'],
  },
  undo: {
    config: true,
    exits: ['0  undone, or nothing left to undo', '1  a write failed', EXIT.usage, EXIT.halfApplied, EXIT.lock, EXIT.interrupted],
    examples: ['fintech-runbook history                  # find the run id', 'fintech-runbook undo 2026-01-05T03-12-09-123Z-apply-4242'],
  },
  diagnose: {
    config: true,
    exits: ['0  no crash loop or scale-out failure found', '1  a problem was found (evidence and the fix are printed)', EXIT.usage],
    examples: ['fintech-runbook diagnose'],
  },
  history: {
    config: false,
    exits: ['0  listed', '2  no run with that id'],
    examples: ['fintech-runbook history', 'fintech-runbook history 2026-01-05T03-12-09-123Z-apply-4242   # its writes'],
  },
  unlock: {
    config: true,
    exits: ['0  the lock was removed', '1  an AWS call failed', '2  that run id does not hold the lock (the message names the holder)'],
    examples: ['fintech-runbook unlock 2026-01-05T03-12-09-123Z-apply-4242'],
  },
  'lock-table create': {
    config: true,
    exits: ['0  created and ACTIVE, or it already existed', '1  an AWS call failed', EXIT.usage],
    examples: ['fintech-runbook lock-table create', 'fintech-runbook lock-table create --table fintech-runbook-locks'],
  },
  'metrics put': {
    config: true,
    exits: ['0  published', '1  an AWS call failed', '2  unknown metric, bad value, unit or dimension: nothing was sent'],
    examples: ['fintech-runbook metrics put TransactionsProcessed 1', 'fintech-runbook metrics put PaymentLatency 87 --unit Milliseconds'],
  },
};

const GENERIC: CommandHelp = {
  config: true,
  exits: ['0  success', '1  a step, a check or an AWS call failed', EXIT.usage],
  examples: [],
};

function environment(config: boolean): string[] {
  // Lines of at most 80 columns, like commander's own.
  const entry = (names: string, what: string) => [...wrap(names, 76).map((line) => `  ${line}`), `      ${what}`];
  const state = entry('XDG_STATE_HOME, FINTECH_RUNBOOK_STATE_DIR', 'where the journal and lock file live (README "State directory")');
  if (!config) return ['Environment:', ...state];
  return [
    'Environment:',
    ...entry(CONFIG_VARIABLES.join(', '), 'the ${VARS} config/production.yaml reads (README "Config")'),
    ...entry('AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...', "the AWS SDK's own settings and credentials"),
    ...state,
  ];
}

/** `path`: the command's name below the program, e.g. `plan` or `metrics put`; `usage`: its arguments. */
export function helpText(path: string, usage = ''): string {
  const help = HELP[path] ?? GENERIC;
  const examples = help.examples.length ? help.examples : [`fintech-runbook ${path}${usage ? ` ${usage}` : ''}`];
  const groups = Object.keys(HELP).filter((name) => name.startsWith(`${path} `));
  return [
    '',
    ...environment(help.config),
    '',
    'Exit codes:',
    ...(groups.length ? [`  see \`fintech-runbook ${groups[0]} --help\``] : help.exits.map((line) => `  ${line}`)),
    '',
    'Examples:',
    ...(groups.length ? groups.flatMap((g) => HELP[g].examples) : examples).map((line) => `  $ ${line}`),
  ].join('\n');
}

/** After the program's own options: the same environment, and where to read more. */
export const programHelpText = (): string =>
  [
    '',
    ...environment(true),
    '',
    'Every command has its own --help with its exit codes and examples. Try commands against a local',
    'emulator with `npm run emulator` (README "Trying it by hand").',
  ].join('\n');
