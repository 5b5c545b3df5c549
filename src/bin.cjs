#!/usr/bin/env node
// The executable (package.json `bin`, dist/bundle/fintech-runbook.js): scripts/build.mjs writes it
// from this file, with HELP_TEXTS replaced by every command's `--help` and `--version` text,
// captured from the built CLI (`helpTexts()` in src/cli.ts; test/e2e/bundle.test.ts compares them
// with what the CLI prints). Those print from here, without loading the CLI: `--help` starts about
// as fast as Node itself. Anything else loads the CLI (dist/bundle/cli.mjs) with source maps on,
// so a stack trace names src/… lines. This file is CommonJS (dist/bundle/package.json says so):
// Node's ES module loader would cost more than the help text.
'use strict';
// Each text once, and which arguments print it (`--help` and `-h` share one); JSON.parse of one
// string is faster for V8 than an object literal of this size.
const HELP = /* HELP_TEXTS */ { texts: [], byArgs: {} };
const args = process.argv.slice(2).join(' ');
const index = Object.hasOwn(HELP.byArgs, args) && !process.env.FINTECH_RUNBOOK_FULL_CLI ? HELP.byArgs[args] : undefined;
if (index !== undefined) {
  process.stdout.write(HELP.texts[index]);
} else {
  process.setSourceMapsEnabled(true);
  import('./cli.mjs').then((cli) => cli.runCli(process.argv));
}
