import { configDefaults, defineConfig } from 'vitest/config';

const IAM_POLICY_AUDIT = 'test/e2e/iam-policy-audit.test.ts';

export default defineConfig({
  test: {
    // e2e tests share one moto_server per file and spawn the built CLI: give them room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: running every file at once makes moto and the CLI fight for CPU.
    maxWorkers: 2,
    // The SDK's "Node 22 from 2027" notice, silenced as the CLI silences it (src/cli.ts): once per
    // test file it buried the test output (README "Requirements" says why Node 20 stays).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    // Every CLI run of the e2e suite logs its AWS calls to one folder per vitest run; the IAM policy
    // audit runs after all other files (its own project, a later group) and checks the union
    // against `iam-policy` (test/helpers/call-log.ts, test/e2e/iam-policy-audit.test.ts).
    globalSetup: ['test/helpers/call-log.ts'],
    projects: [
      { extends: true, test: { name: 'tests', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, IAM_POLICY_AUDIT], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'iam-policy-audit', include: [IAM_POLICY_AUDIT], sequence: { groupOrder: 1 } } },
    ],
  },
});
