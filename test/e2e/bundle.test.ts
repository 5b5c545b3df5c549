// The CLI users run is the esbuild bundle (scripts/build.mjs, package.json `bin`): `--help` must
// load no AWS SDK code, each command must sit in a chunk of its own, and a stack trace must name
// src/ lines through the source maps. No emulator: these need no AWS.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliPath, repoRoot } from '../helpers/e2e.js';

interface Metafile {
  outputs: Record<string, { entryPoint?: string; imports: Array<{ path: string; kind: string }>; inputs: Record<string, unknown> }>;
}

const meta = (): Metafile => JSON.parse(readFileSync(join(repoRoot, 'dist', 'bundle', 'meta.json'), 'utf8')) as Metafile;

/** The outputs Node loads for a command that imports no command module: the entry, the CLI chunk and what they import statically. */
function startupClosure(m: Metafile): Set<string> {
  const entry = relative(repoRoot, cliPath);
  const cliChunk = Object.entries(m.outputs).find(([, o]) => o.entryPoint === 'src/cli.ts')?.[0];
  expect(cliChunk, 'src/cli.ts is its own chunk').toBeDefined();
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path) || !m.outputs[path]) return;
    seen.add(path);
    for (const i of m.outputs[path].imports) if (i.kind === 'import-statement') visit(i.path);
  };
  visit(entry);
  visit(cliChunk!);
  return seen;
}

describe('the bundled CLI', () => {
  it('loads no AWS SDK module and no command module for --help', () => {
    const m = meta();
    const inputs = [...startupClosure(m)].flatMap((output) => Object.keys(m.outputs[output].inputs));
    expect(inputs).toContain('src/cli.ts');
    expect(inputs.filter((i) => /node_modules\/@(aws-sdk|smithy)\//.test(i))).toEqual([]);
    // The modules src/cli.ts imports lazily (its `commands`), the runbook's steps, the config schema.
    const lazy = /^src\/commands\/(run|shared|rollback|diagnose|undo|environments|history|lock|deploy|approve)\.ts$|^steps\/|^src\/(config|preflight)\.ts$/;
    expect(inputs.filter((i) => lazy.test(i))).toEqual([]);
  });

  it('puts each lazily imported command module in a chunk of its own', () => {
    const m = meta();
    const chunks = new Map(Object.entries(m.outputs).flatMap(([path, o]) => (o.entryPoint ? [[o.entryPoint, path] as const] : [])));
    for (const command of ['src/commands/run.ts', 'src/commands/rollback.ts', 'src/commands/diagnose.ts', 'src/commands/undo.ts']) {
      expect(chunks.get(command), command).toMatch(/^dist\/bundle\/chunks\//);
    }
    expect(new Set(['src/commands/run.ts', 'src/commands/rollback.ts'].map((c) => chunks.get(c))).size).toBe(2);
  });

  it('prints --help and a stack trace taken inside it names src/cli.ts, not a bundle chunk', () => {
    // A preload that records where the first write to stdout comes from (commander printing help).
    const dir = mkdtempSync(join(tmpdir(), 'fintech-runbook-bundle-'));
    const probe = join(dir, 'probe.mjs');
    writeFileSync(
      probe,
      [
        'const write = process.stdout.write.bind(process.stdout);',
        'process.stdout.write = (...args) => {',
        '  process.stdout.write = write;',
        "  process.stderr.write(`${new Error('probe').stack}\\n`);",
        '  return write(...args);',
        '};',
      ].join('\n'),
    );
    // FINTECH_RUNBOOK_FULL_CLI: the CLI itself prints it, not the bin's copy of its text.
    const result = spawnSync(process.execPath, ['--import', probe, cliPath, '--help'], { cwd: repoRoot, encoding: 'utf8', env: { PATH: process.env.PATH, FINTECH_RUNBOOK_FULL_CLI: '1' } });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: fintech-runbook/);
    expect(result.stderr).toMatch(/\(.*src\/cli\.ts:\d+:\d+\)/);
    expect(result.stderr).not.toMatch(/dist\/bundle\/chunks\/cli-/);
  });

  it('the bin prints every command\'s --help and --version as the CLI does, without loading it', async () => {
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [cliPath, ...args], { cwd: repoRoot, encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
    // Every command's text, as the bin prints it (the CLI's own list of commands, from the bundle).
    const { helpTexts } = (await import(pathToFileURL(join(repoRoot, 'dist', 'bundle', 'cli.mjs')).href)) as { helpTexts(): Record<string, string> };
    const texts = helpTexts();
    expect(Object.keys(texts)).toEqual(expect.arrayContaining(['--help', '-h', '--version', 'apply --help', 'plan -h', 'lock-table create --help']));
    for (const [args, text] of Object.entries(texts)) expect(run(args.split(' ')).stdout, args).toBe(text);
    // What the bin prints is what commander prints for the same arguments, for a few of them.
    for (const args of [['--help'], ['apply', '--help'], ['lock-table', 'create', '-h'], ['--version']]) {
      const fast = run(args);
      const full = run(args, { FINTECH_RUNBOOK_FULL_CLI: '1' });
      expect(full.status, args.join(' ')).toBe(0);
      expect(fast.status, args.join(' ')).toBe(0);
      expect(fast.stdout, args.join(' ')).toBe(full.stdout);
      expect(fast.stdout, args.join(' ')).toBe(texts[args.join(' ')]);
    }
    // A command line that is not exactly a help request goes to the CLI (here: a usage error).
    expect(run(['--help', 'extra']).stdout).toBe(texts['--help']);
    expect(run(['apply', '--bogus']).status).toBe(2);
  });

  it('refuses a bad config or flag (exit 2) without loading any AWS SDK module or step', () => {
    // A loader hook that notes every module Node loads (it runs on the loader's own thread).
    const dir = mkdtempSync(join(tmpdir(), 'fintech-runbook-loaded-'));
    writeFileSync(join(dir, 'hooks.mjs'), "import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(process.env.LOADED_FILE, `${url}\\n`); return next(url, context); }\n");
    writeFileSync(join(dir, 'probe.mjs'), "import { register } from 'node:module';\nregister(new URL('./hooks.mjs', import.meta.url));\n");
    const badConfig = join(dir, 'bad.yaml');
    writeFileSync(badConfig, readFileSync(join(repoRoot, 'config', 'local.yaml'), 'utf8').replace(/desiredCount: \d+/, 'desiredCount: lots'));
    const m = meta();
    for (const args of [['--config', badConfig, 'plan'], ['--config', join(dir, 'missing.yaml'), 'apply', '--yes'], ['--poll-interval', 'soon', '--config', 'config/local.yaml', 'validate']]) {
      const loaded = join(dir, `loaded-${args.length}-${args[1].length}.txt`);
      const result = spawnSync(process.execPath, ['--import', join(dir, 'probe.mjs'), cliPath, ...args], { cwd: repoRoot, encoding: 'utf8', env: { PATH: process.env.PATH, LOADED_FILE: loaded } });
      expect(result.status, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      const chunks = readFileSync(loaded, 'utf8').split('\n').filter((url) => url.includes('/dist/bundle/')).map((url) => relative(repoRoot, new URL(url).pathname));
      expect(chunks, args.join(' ')).toContain('dist/bundle/cli.mjs');
      const inputs = chunks.flatMap((chunk) => Object.keys(m.outputs[chunk]?.inputs ?? {}));
      expect(inputs.filter((i) => /node_modules\/@(aws-sdk|smithy)\/|^steps\//.test(i)), args.join(' ')).toEqual([]);
      expect(inputs, args.join(' ')).toContain('src/commands/inputs.ts');
    }
  });
});
