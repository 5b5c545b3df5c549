// `npm run build`, with esbuild:
//  1. the CLI as one ESM bundle in dist/bundle/ — cli.mjs and its chunks — so Node neither detects
//     module formats nor lexes the AWS SDK's CommonJS at start-up. Code splitting keeps each lazily
//     imported command (src/cli.ts `commands`) in its own chunk: a command loads only what it
//     uses (test/e2e/bundle.test.ts). The `bin`, dist/bundle/fintech-runbook.js, is src/bin.cjs
//     with every command's --help text written in (captured from the bundle just built): help
//     prints without loading the CLI at all.
//  2. src/, steps/ and scripts/ transpiled file by file into dist/ (what `tsc` used to emit): the
//     demo, bench and emulator scripts run from there, and a few e2e tests import those modules.
// Type-checking stays with tsc: `npm run typecheck`, and `npm test` runs it before vitest.
import { build } from 'esbuild';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const bundleDir = 'dist/bundle';

/**
 * The SDK's schema files key their XML/query traits with computed names (`{ [_xN]: _BDM }`, where
 * `const _xN = "xmlName"`). esbuild cannot prove a computed key side-effect free, so it keeps every
 * schema of such a service: all ~3,300 of EC2's (1 MB) for the handful of calls this tool makes.
 * Writing the constant in place (`{ "xmlName": _BDM }`) is the same object and lets them be dropped.
 */
const inlineSchemaKeys = {
  name: 'inline-sdk-schema-keys',
  setup(b) {
    b.onLoad({ filter: /[\\/]@aws-sdk[\\/].+[\\/]dist-es[\\/](submodules[\\/][^\\/]+[\\/])?schemas[\\/]schemas_\d+\.js$/ }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      const constants = new Map();
      for (const [, name, value] of source.matchAll(/^const (_[A-Za-z0-9_]+) = ("[^"\\\n]*");$/gm)) constants.set(name, value);
      const contents = source.replace(/\[(_[A-Za-z0-9_]+)\]:/g, (whole, name) => (constants.has(name) ? `${constants.get(name)}:` : whole));
      return { contents, loader: 'js' };
    });
  },
};

/**
 * Writes each file to a temporary name and renames it into place, the entry last, and removes
 * chunks of earlier builds only once they are 10 minutes old: a CLI started before this build
 * (several people share a work tree; tests run while someone rebuilds) still finds the chunks
 * it imports lazily, by their old hashed names.
 */
async function writeAtomically(outputFiles, entry) {
  const ordered = [...outputFiles].sort((a, b) => (a.path.endsWith(entry) ? 1 : 0) - (b.path.endsWith(entry) ? 1 : 0));
  for (const file of ordered) {
    await mkdir(dirname(file.path), { recursive: true });
    const temporary = `${file.path}.${process.pid}.tmp`;
    await writeFile(temporary, file.contents, { mode: file.path.endsWith(entry) ? 0o755 : 0o644 });
    await rename(temporary, file.path);
  }
}

async function pruneStaleChunks(keep) {
  const chunks = join(bundleDir, 'chunks');
  const cutoff = Date.now() - 10 * 60_000;
  for (const name of await readdir(chunks).catch(() => [])) {
    const path = join(chunks, name);
    if (keep.has(path)) continue;
    if ((await stat(path)).mtimeMs < cutoff) await rm(path, { force: true });
  }
}

export async function buildCli() {
  const entry = 'fintech-runbook.js';
  const result = await build({
    entryPoints: { cli: 'src/cli.ts' },
    // .mjs: dist/bundle/package.json makes its .js files (the bin) CommonJS.
    outExtension: { '.js': '.mjs' },
    outdir: bundleDir,
    write: false,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // The AWS SDK's ES module builds (`module`) instead of its CommonJS ones (`main`): esbuild drops
    // the commands and schemas this tool never sends (what the SDK's own bundling guide advises).
    mainFields: ['module', 'main'],
    plugins: [inlineSchemaKeys],
    chunkNames: 'chunks/[name]-[hash]',
    // Whitespace and syntax only: smaller to parse, while identifiers keep their names in stack traces.
    minifyWhitespace: process.env.BUNDLE_MINIFY !== '0',
    minifySyntax: process.env.BUNDLE_MINIFY !== '0',
    minifyIdentifiers: process.env.BUNDLE_MINIFY === 'all',
    // Bundling renames clashing classes (ECS's and ECR's ListTagsForResourceCommand); code that reads
    // `constructor.name` or an error's class name must see the real one.
    keepNames: true,
    sourcemap: true,
    // Stack traces name src/… lines; the sources themselves stay out of the maps (smaller, faster).
    sourcesContent: false,
    // Some CommonJS dependencies require() Node built-ins; an ESM bundle has no `require` of its own.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
  });
  const file = (name, contents) => ({ path: join(process.cwd(), bundleDir, name), contents: Buffer.from(contents) });
  const meta = file('meta.json', JSON.stringify(result.metafile));
  const scope = file('package.json', `${JSON.stringify({ type: 'commonjs', description: 'the bin (fintech-runbook.js) is CommonJS; the bundle is .mjs' }, null, 2)}\n`);
  await writeAtomically([...result.outputFiles, meta, scope], 'cli.mjs');
  await writeAtomically([file(entry, await binWithHelp())], entry);
  await pruneStaleChunks(new Set(result.outputFiles.map((f) => relative(process.cwd(), f.path))));
  return result;
}

/** src/bin.cjs with the help texts of the CLI just built (its helpTexts(), src/cli.ts) written in. */
async function binWithHelp() {
  const cli = await import(`${pathToFileURL(resolve(bundleDir, 'cli.mjs')).href}?build=${Date.now()}`);
  const template = await readFile('src/bin.cjs', 'utf8');
  const placeholder = '/* HELP_TEXTS */ { texts: [], byArgs: {} }';
  if (!template.includes(placeholder)) throw new Error('src/bin.cjs: the HELP_TEXTS placeholder is missing');
  const texts = [];
  const byArgs = {};
  for (const [args, text] of Object.entries(cli.helpTexts())) {
    if (!texts.includes(text)) texts.push(text);
    byArgs[args] = texts.indexOf(text);
  }
  return template.replace(placeholder, () => `JSON.parse(${JSON.stringify(JSON.stringify({ texts, byArgs }))})`);
}

async function sources(dir) {
  const names = await readdir(dir, { recursive: true });
  return names.filter((n) => n.endsWith('.ts') && !n.endsWith('.d.ts')).map((n) => join(dir, n));
}

export async function transpileTree() {
  await build({
    entryPoints: [...(await sources('src')), ...(await sources('steps')), ...(await sources('scripts'))],
    outdir: 'dist',
    outbase: '.',
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await Promise.all([buildCli(), transpileTree()]);
}
