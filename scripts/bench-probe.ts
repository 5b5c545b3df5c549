// Loaded with `node --import` by the benchmark: records the process's resource usage (peak RSS)
// when it exits, so the bench can read a child's peak memory without platform tools.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_USAGE_FILE;
if (file) {
  process.on('exit', () => writeFileSync(file, JSON.stringify(process.resourceUsage())));
}
