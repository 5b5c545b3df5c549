import { configDefaults, defineConfig } from 'vitest/config';

const IAM_POLICY_AUDIT = 'test/e2e/iam-policy-audit.test.ts';
/** Unit files that replace modules with vi.mock (see the `unit` project). */
const MOCKS_MODULES = ['test/unit/clients.test.ts'];

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
      // Unit files share workers (no per-file module graph): the SDK is imported once per worker,
      // not once per file. test/helpers/unit-setup.ts restores every mocked client after each file.
      // A file that replaces modules (vi.mock) needs a module graph of its own: it runs isolated.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], exclude: [...configDefaults.exclude, ...MOCKS_MODULES], isolate: false, setupFiles: ['test/helpers/unit-setup.ts'], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'tests', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/unit/**', IAM_POLICY_AUDIT], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'unit-isolated', include: MOCKS_MODULES, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'iam-policy-audit', include: [IAM_POLICY_AUDIT], sequence: { groupOrder: 1 } } },
    ],
  },
});
