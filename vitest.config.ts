import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // e2e tests share one moto_server per file and spawn the built CLI: give them room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: running every file at once makes moto and the CLI fight for CPU.
    maxWorkers: 2,
  },
});
