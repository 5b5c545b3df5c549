// Bad input: a clear error naming each field, exit 2, and not one AWS call (the endpoint is a
// loopback server that counts every request it receives).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureEnv, productionYaml } from '../helpers/mock-aws.js';
import { countingEndpoint, runCli } from '../helpers/e2e.js';

let endpoint: Awaited<ReturnType<typeof countingEndpoint>>;
const dir = mkdtempSync(join(tmpdir(), 'fintech-runbook-config-'));
const env = { ...fixtureEnv, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_EC2_METADATA_DISABLED: 'true' };

beforeAll(async () => {
  endpoint = await countingEndpoint();
});
afterAll(async () => {
  await endpoint.close();
});

function writeConfig(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('bad input is refused before any AWS call', () => {
  it('reports every config problem at once with its field path, exit 2, zero AWS calls', async () => {
    const broken = productionYaml
      .replace('region: us-east-1', 'region: us-east-1\ncolour: blue') // unknown key
      .replace('desiredCount: 3', 'desiredCount: three') // wrong type
      .replace('"${VPC_ID}"', '"${NOT_SET_ANYWHERE}"') // unset variable
      .replace('"${ECS_SG}"', '"security-group-1"') // bad id
      .replace('"${IMAGE_TAG}"', 'latest') // the runbook's :latest
      .replace('      REGION: us-east-1', '      REGION: us-east-1\n      DB_PASSWORD: hunter2'); // a secret in cleartext env
    const file = writeConfig('broken.yaml', broken);
    for (const command of ['plan', 'apply', 'validate']) {
      const result = await runCli(['--config', file, '--endpoint-url', endpoint.url, command, ...(command === 'apply' ? ['--yes'] : [])], { env });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain('(top level): Unrecognized key: "colour"');
      expect(result.stderr).toMatch(/service\.desiredCount: .*number/i);
      expect(result.stderr).toContain('inputs.vpcId: environment variable NOT_SET_ANYWHERE is not set');
      expect(result.stderr).toContain('inputs.ecsSecurityGroupId: must be a sg-… id');
      expect(result.stderr).toContain('inputs.imageTag: "latest" is refused');
      expect(result.stderr).toContain('taskDefinition.api.environment.DB_PASSWORD: looks like a secret');
      expect(result.stderr).not.toContain('hunter2'); // a secret value is never echoed
    }
    // With --json the failure is one document on stdout too, listing every problem.
    const json = await runCli(['--config', file, '--endpoint-url', endpoint.url, '--json', 'plan'], { env });
    expect(json.code).toBe(2);
    expect(json.json).toMatchObject({ ok: false, exitCode: 2 });
    expect(json.json.problems).toHaveLength(6);
    expect(endpoint.requests()).toBe(0);
  });

  it('refuses an unknown --only step, an unknown option and a bad endpoint with exit 2', async () => {
    const results = await Promise.all([
      runCli(['--endpoint-url', endpoint.url, '--only', 'cluster,databases', 'plan'], { env }),
      runCli(['--endpoint-url', endpoint.url, 'plan', '--frobnicate'], { env }),
      runCli(['--endpoint-url', 'ftp://nowhere', 'plan'], { env }),
      runCli(['--endpoint-url', endpoint.url, 'rollback', '--to', 'other-family:3', '--yes'], { env }),
      runCli(['--endpoint-url', endpoint.url, 'metrics', 'put', 'Revenue', '100'], { env }),
      runCli(['--endpoint-url', endpoint.url, 'metrics', 'put', 'PaymentLatency', '120', '--unit', 'Seconds'], { env }),
    ]);
    expect(results.map((r) => r.code)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(results[0].stderr).toContain('--only: unknown step "databases"');
    expect(results[1].stderr).toContain("unknown option '--frobnicate'");
    expect(results[2].stderr).toContain('--endpoint-url');
    expect(results[3].stderr).toContain('belongs to family other-family');
    expect(results[4].stderr).toContain('Revenue');
    expect(results[5].stderr).toContain('Milliseconds');
    expect(endpoint.requests()).toBe(0);
  });

  it.each([
    ['an invalid Fargate cpu/memory pair', ['  memory: "2048"', '  memory: "2500"'], 'taskDefinition.memory: 2500 MiB is not a Fargate size for cpu 1024'],
    [
      'an SSL policy name with a typo',
      ['sslPolicy: ELBSecurityPolicy-TLS13-1-2-Res-2021-06', 'sslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-6'],
      'loadBalancer.listener.sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-6" is not an ELBv2 predefined security policy: did you mean ELBSecurityPolicy-TLS13-1-2-2021-06?',
    ],
    ['two containers with the same name', ['    name: log_router', '    name: api-container'], 'taskDefinition.logRouter.name: is the same as taskDefinition.api.name'],
    ['two scaling policies with the same name', ['policyName: fintech-mem-scaling', 'policyName: fintech-cpu-scaling'], 'scaling.ecs.memory.policyName: is the same as scaling.ecs.cpu.policyName'],
  ])('%s (moto would accept it; AWS refuses it mid-run): exit 2 naming the field, zero AWS calls', async (name, [from, to], message) => {
    expect(productionYaml).toContain(from);
    const file = writeConfig(`${name.replace(/\W+/g, '-')}.yaml`, productionYaml.replace(from, to));
    const before = endpoint.requests();
    const results = await Promise.all(
      [['plan'], ['apply', '--yes'], ['rollback', '--to', '1', '--yes']].map((command) => runCli(['--config', file, '--endpoint-url', endpoint.url, ...command], { env })),
    );
    for (const result of results) {
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(message);
    }
    expect(endpoint.requests() - before).toBe(0);
  });

  it('refuses apply without --yes when there is no terminal to confirm on', async () => {
    const result = await runCli(['--endpoint-url', endpoint.url, '--only', 'cluster', 'apply'], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pass --yes');
    const rollback = await runCli(['--endpoint-url', endpoint.url, 'rollback', '--to', '1'], { env });
    expect(rollback.code).toBe(2);
    expect(endpoint.requests()).toBe(0);
  });
});
