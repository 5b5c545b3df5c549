#!/usr/bin/env node
// The executable of the bundle (scripts/build.mjs): source maps go on before any of the CLI's own
// chunks load, so a stack trace names src/… lines, not bundle offsets. A shebang cannot pass
// `--enable-source-maps` portably; this is the same switch, set from inside.
process.setSourceMapsEnabled(true);
await import('./cli.js');
