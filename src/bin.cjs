#!/usr/bin/env node
// The executable (package.json `bin`, dist/bundle/fintech-runbook.js): scripts/build.mjs writes it
// from this file, with HELP_TEXTS replaced by every command's `--help` and `--version` text,
// captured from the built CLI (`helpTexts()` in src/cli.ts; test/e2e/bundle.test.ts compares them
// with what the CLI prints). Those print from here, without loading the CLI: `--help` starts about
// as fast as Node itself. Anything else loads the CLI (dist/bundle/cli.mjs) with source maps on,
// so a stack trace names src/… lines. This file is CommonJS (dist/bundle/package.json says so):
// Node's ES module loader would cost more than the help text.
'use strict';
const HELP = /* HELP_TEXTS */ {};
const args = process.argv.slice(2);
const help = Object.hasOwn(HELP, args.join(' ')) && !process.env.FINTECH_RUNBOOK_FULL_CLI ? HELP[args.join(' ')] : undefined;
if (help !== undefined) {
  process.stdout.write(help);
} else {
  process.setSourceMapsEnabled(true);
  import('./cli.mjs').then((cli) => cli.runCli(process.argv));
}
