// Readable at 3 a.m. (issue 11): validate ends with what failed and what to run next, reasons
// name each resource once, plan is one line per change (whole documents with --diff), every
// subcommand's help teaches, and an access problem is one line with a hint.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, UpdateClusterCommand } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { emulatorClientConfig, runCli, useEmulator } from '../helpers/e2e.js';

const env = useEmulator();

interface Finding {
  check: string;
  status: string;
  resource: string;
  reason: string;
}

/** The distinctive names in a resource (ids, ARNs, names with - / : or digits): a reason must not repeat them. */
function namesIn(resource: string): string[] {
  return resource
    .split(/\s+/)
    .map((word) => word.replace(/^[(]|[)]$/g, ''))
    .filter((word) => word.length >= 6 && /[-/:\d]/.test(word));
}

function repeatedNames(findings: Finding[]): string[] {
  return findings.flatMap((f) => namesIn(f.resource).filter((name) => f.reason.includes(name)).map((name) => `${f.check} ${f.resource}: "${name}" again in "${f.reason}"`));
}

describe('after one out-of-band change', () => {
  it('validate ends with the failing check, its resource and the next command; no reason repeats its resource', async () => {
    await env.fresh();
    const apply = await runCli([...env.args, '--json', 'apply', '--yes'], { env: env.env });
    expect(apply.code, apply.stderr).toBe(0);
    expect(repeatedNames(apply.json.findings)).toEqual([]);

    // Someone turns Container Insights off by hand.
    const ecs = new ECSClient(emulatorClientConfig(env.emulator.endpoint));
    await ecs.send(new UpdateClusterCommand({ cluster: 'fintech-prod-cluster', settings: [{ name: 'containerInsights', value: 'disabled' }] }));
    ecs.destroy();

    const validate = await runCli([...env.args, 'validate'], { env: env.env });
    expect(validate.code).toBe(1);
    const json = await runCli([...env.args, '--json', 'validate'], { env: env.env });
    const findings: Finding[] = json.json.findings;
    const failed = findings.filter((f) => f.status === 'FAIL');
    // The runbook's own check of the cluster (and any control that watches the same setting).
    expect(failed.map((f) => f.check)).toContain('Cluster Ready');
    expect(new Set(failed.map((f) => f.resource))).toEqual(new Set(['ecs cluster fintech-prod-cluster']));
    expect(repeatedNames(findings)).toEqual([]);

    // The last lines: "N check(s) FAILED:", one line per failing check (check, resource, reason), then Next.
    const lines = validate.stdout.trimEnd().split('\n');
    const last = lines.slice(-(failed.length + 2));
    expect(last[0]).toBe(`${failed.length} check${failed.length === 1 ? '' : 's'} FAILED:`);
    expect(last.slice(1, -1).every((line) => /^ {2}\S.*\s{2}ecs cluster fintech-prod-cluster\s{2}\S/.test(line)), last.join('\n')).toBe(true);
    expect(last.slice(1, -1).some((line) => /^ {2}Cluster Ready\s+ecs cluster fintech-prod-cluster\s+differs from the config: settings/.test(line))).toBe(true);
    expect(last.at(-1)).toBe('Next: `fintech-runbook plan` shows the drift; `fintech-runbook apply` restores the config');
    // The count line above them keeps the totals.
    expect(validate.stdout).toMatch(/^\d+ checks? FAILED, \d+ OK, \d+ WARN.*\. AWS calls: \d+ read, 0 write$/m);
  });

  // The environment the test above left: converged, then Container Insights turned off.
  it('plan is one line per change; --diff shows the whole document as a unified diff', async () => {
    const plan = await runCli([...env.args, 'plan'], { env: env.env });
    expect(plan.code).toBe(4);
    expect(plan.stdout).toMatch(/^1\.1 ECS cluster\s+1 change \(1 write\)$/m);
    expect(plan.stdout).toMatch(/^ {2}~ ecs cluster fintech-prod-cluster\s+settings\.0\.value: "disabled" → "enabled"$/m);
    expect(plan.stdout).toMatch(/^1\.2 ECR repository\s+up to date$/m);
    expect(plan.stdout).not.toContain('@@');

    const diff = await runCli([...env.args, '--only', 'cluster', 'plan', '--diff'], { env: env.env });
    expect(diff.code).toBe(4);
    expect(diff.stdout).toContain('--- ecs cluster fintech-prod-cluster (now)');
    expect(diff.stdout).toContain('+++ ecs cluster fintech-prod-cluster (config)');
    expect(diff.stdout).toMatch(/^ +@@ -\d+,\d+ \+\d+,\d+ @@/m);
    expect(diff.stdout).toMatch(/^ +- +"value": "disabled"$/m);
    expect(diff.stdout).toMatch(/^ +\+ +"value": "enabled"$/m);
  });
});

describe('help', () => {
  /** The subcommands a help page lists under "Commands:". */
  const subcommands = (help: string) =>
    [...(help.split('\nCommands:\n')[1] ?? '').split('\n\n')[0].matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]).filter((name) => name !== 'help');

  it('every subcommand shows its options, the global options, the environment variables, exit codes and an example', async () => {
    const root = await runCli(['--help']);
    expect(root.code).toBe(0);
    expect(root.stdout).toContain('ACCOUNT_ID');
    const paths: string[][] = subcommands(root.stdout).map((name) => [name]);
    expect(paths.map((p) => p[0])).toEqual(expect.arrayContaining(['plan', 'apply', 'validate', 'rollback', 'undo', 'diagnose', 'history', 'unlock', 'lock-table', 'metrics']));
    const pages = new Map<string, string>();
    for (let i = 0; i < paths.length; i++) {
      const result = await runCli([...paths[i], '--help']);
      expect(result.code, paths[i].join(' ')).toBe(0);
      pages.set(paths[i].join(' '), result.stdout);
      paths.push(...subcommands(result.stdout).map((name) => [...paths[i], name]));
    }
    expect([...pages.keys()]).toEqual(expect.arrayContaining(['lock-table create', 'metrics put']));
    for (const [path, page] of pages) {
      expect(page, path).toContain('Global Options:');
      expect(page, path).toContain('--endpoint-url <url>');
      expect(page, path).toContain('Environment:');
      expect(page, path).toMatch(/FINTECH_RUNBOOK_STATE_DIR/);
      expect(page, path).toContain('Exit codes:');
      expect(page, path).toMatch(/Examples:\n {2}\$ fintech-runbook /);
      if (path !== 'history') expect(page, path).toContain('ACCOUNT_ID, VPC_ID, APP_SUB_A');
    }
    expect(pages.get('plan')).toMatch(/^ {2}4 {2}changes pending$/m);
    expect(pages.get('apply')).toMatch(/^ {2}5 {2}another run holds the environment lock/m);
  });
});

describe('access problems', () => {
  it('missing credentials: one line naming the profile or the chain, with a hint, exit 1, never "Error:"', async () => {
    await env.fresh();
    const home = mkdtempSync(join(tmpdir(), 'fintech-runbook-nohome-'));
    const { AWS_ACCESS_KEY_ID: _k, AWS_SECRET_ACCESS_KEY: _s, AWS_SESSION_TOKEN: _t, ...noCredentials } = env.env;
    for (const extra of [[], ['--profile', 'night-shift']]) {
      const result = await runCli([...env.args, ...extra, 'plan'], { env: { ...noCredentials, HOME: home } });
      expect(result.code).toBe(1);
      const errorLines = result.stderr.split('\n').filter(Boolean);
      expect(errorLines, result.stderr).toHaveLength(1);
      expect(errorLines[0]).toMatch(extra.length ? /^error: AWS credentials from profile night-shift could not be loaded .*aws sso login --profile night-shift/ : /^error: AWS credentials from the default credential chain .*pass --profile or set AWS_PROFILE/);
      expect(result.stderr).not.toMatch(/(^|\s)Error:/); // the SDK's error name stays, a bare "Error:" never
    }
  });
});
