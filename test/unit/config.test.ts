import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, names, parseConfig, resolvePlaceholders, type ConfigOverrides } from '../../src/config.js';
import { ConfigError, ExitCode, UsageError } from '../../src/core/errors.js';
import { ACCOUNT_ID, fixtureEnv, productionYaml } from '../helpers/mock-aws.js';

const productionFile = fileURLToPath(new URL('../../config/production.yaml', import.meta.url));
const SOURCE = 'config/production.yaml';

/** production.yaml with literal replacements; a replacement that does not apply is a broken test. */
function yamlWith(...edits: Array<[from: string, to: string]>): string {
  return edits.reduce((text, [from, to]) => {
    expect(text, `fixture edit: ${JSON.stringify(from)} not in production.yaml`).toContain(from);
    return text.replace(from, to);
  }, productionYaml);
}

/** The ConfigError a parse throws; fails the test if it parses. */
function configError(parse: () => unknown): ConfigError {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but the config parsed');
}

const problemsOf = (text: string, env: NodeJS.ProcessEnv = fixtureEnv, overrides: ConfigOverrides = {}) =>
  configError(() => parseConfig(text, env, SOURCE, overrides)).problems;

const withEnv = (changes: Record<string, string | undefined>): NodeJS.ProcessEnv => {
  const env = { ...fixtureEnv, ...changes };
  for (const [k, v] of Object.entries(changes)) if (v === undefined) delete env[k];
  return env;
};

const LATEST_REFUSED =
  '"latest" is refused: the repository is IMMUTABLE (latest can be pushed once) and a rollback to it would change nothing; use a release tag or a digest';
const SECRET_IN_ENV = 'looks like a secret: section 3.2 requires it in `secrets` (Secrets Manager), not in cleartext `environment`';
const UNPINNED = 'must be pinned to a version tag or digest (not latest, not untagged)';
const DIGEST = `sha256:${'ab12'.repeat(16)}`;

describe('parseConfig: production.yaml', () => {
  it('parses with the fixture environment, placeholders resolved', () => {
    const config = parseConfig(productionYaml, fixtureEnv, SOURCE);
    expect(config.region).toBe('us-east-1');
    expect(config.accountId).toBe(ACCOUNT_ID);
    expect(config.inputs).toMatchObject({
      vpcId: fixtureEnv.VPC_ID,
      appSubnetIds: [fixtureEnv.APP_SUB_A, fixtureEnv.APP_SUB_B],
      ecsSecurityGroupId: fixtureEnv.ECS_SG,
      albSecurityGroupId: fixtureEnv.ALB_SG,
      albArn: fixtureEnv.ALB_ARN,
      certificateArn: fixtureEnv.CERT_ARN,
      logsKmsKeyArn: fixtureEnv.LOGS_KMS_KEY_ARN,
      dbSecretArn: fixtureEnv.DB_SECRET_ARN,
      imageTag: 'prod-1.4.2',
    });
    expect(config.tags).toEqual({ Environment: 'Production', Project: 'FinTechGlobal', CostCenter: 'CC-Corp' });
    expect(config.service.desiredCount).toBe(3);
    expect(config.taskDefinition.api.secrets).toEqual({ DB_PASSWORD: 'password' });
    expect(config.ecr.tagMutability).toBe('IMMUTABLE');
  });

  it('loadConfig reads the file and resolves from the given environment', () => {
    const config = loadConfig(productionFile, fixtureEnv);
    expect(config.inputs.vpcId).toBe(fixtureEnv.VPC_ID);
    expect(config.cluster.name).toBe('fintech-prod-cluster');
  });
});

describe('parseConfig: every problem at once, each with its field path', () => {
  it('reports unrelated problems from all over the file in one ConfigError', () => {
    const problems = problemsOf(
      yamlWith(
        ['metrics:', 'surprise: 1\nmetrics:'],
        ['  containerInsights: enabled', '  containerInsights: enabled\n  spotOnly: true'],
        ['      REGION: us-east-1', '      REGION: us-east-1\n      API_KEY: abc123'],
        ['    minCapacity: 1\n    maxCapacity: 5', '    minCapacity: 6\n    maxCapacity: 5'],
      ),
      withEnv({
        ECS_SG: undefined,
        VPC_ID: 'vpc-nothex!',
        CERT_ARN: `arn:aws:acm:us-east-1:999999999999:certificate/0f6e8d8a-1111-2222-3333-444455556666`,
        IMAGE_TAG: 'latest',
      }),
    );
    // Unset variables come first; the schema's problems follow in its own order.
    expect(problems[0]).toBe('inputs.ecsSecurityGroupId: environment variable ECS_SG is not set');
    expect([...problems].sort()).toEqual([
      'inputs.ecsSecurityGroupId: environment variable ECS_SG is not set',
      '(top level): Unrecognized key: "surprise"',
      'inputs.vpcId: must be a vpc-… id',
      `inputs.imageTag: ${LATEST_REFUSED}`,
      'cluster: Unrecognized key: "spotOnly"',
      `taskDefinition.api.environment.API_KEY: ${SECRET_IN_ENV}`,
      `inputs.certificateArn: is in account 999999999999, not accountId ${ACCOUNT_ID}`,
      'scaling.aurora.minCapacity: is greater than maxCapacity (5)',
    ].sort());
  });

  it('a wrong type is reported with the other field problems', () => {
    const problems = problemsOf(yamlWith(['desiredCount: 3', 'desiredCount: three']), withEnv({ VPC_ID: 'vpc-123' }));
    expect(problems).toHaveLength(2);
    expect(problems).toContain('inputs.vpcId: must be a vpc-… id');
    expect(problems.find((p) => p.startsWith('service.desiredCount: '))).toMatch(/expected number, received string/);
  });

  it('ConfigError carries exit code 2 (usage) and lists every problem in its message', () => {
    const error = configError(() => parseConfig(productionYaml, withEnv({ VPC_ID: undefined, IMAGE_TAG: 'LATEST' }), SOURCE));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.exitCode).toBe(2);
    expect(error.exitCode).toBe(ExitCode.usage);
    expect(error.problems).toHaveLength(2);
    for (const problem of error.problems) expect(error.message).toContain(`  - ${problem}`);
  });
});

describe('parseConfig: unknown keys and types (strict schema)', () => {
  it('an unknown top-level key', () => {
    expect(problemsOf(`${productionYaml}\nregoin: eu-west-1\n`)).toEqual(['(top level): Unrecognized key: "regoin"']);
  });

  it('an unknown nested key names its parent path', () => {
    expect(problemsOf(yamlWith(['      retries: 3', '      retries: 3\n      retry: 4']))).toEqual([
      'taskDefinition.api.healthCheck: Unrecognized key: "retry"',
    ]);
    expect(problemsOf(yamlWith(['  scanOnPush: true', '  scanOnPush: true\n  scanOnPull: true']))).toEqual(['ecr: Unrecognized key: "scanOnPull"']);
  });

  it('a wrong type: desiredCount "three"', () => {
    const problems = problemsOf(yamlWith(['desiredCount: 3', 'desiredCount: "three"']));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^service\.desiredCount: .*expected number, received string/);
  });

  it('a missing required field', () => {
    const problems = problemsOf(yamlWith(['  deployTimeoutSeconds: 900\n', '']));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^service\.deployTimeoutSeconds: /);
  });
});

describe('parseConfig: ${VAR} placeholders', () => {
  it('an unset variable is named with its field path, not double-reported by the schema', () => {
    expect(problemsOf(productionYaml, withEnv({ VPC_ID: undefined }))).toEqual(['inputs.vpcId: environment variable VPC_ID is not set']);
    expect(problemsOf(productionYaml, withEnv({ APP_SUB_B: undefined }))).toEqual(['inputs.appSubnetIds.1: environment variable APP_SUB_B is not set']);
    expect(problemsOf(productionYaml, withEnv({ LOGS_KMS_KEY_ARN: undefined }))).toEqual([
      'inputs.logsKmsKeyArn: environment variable LOGS_KMS_KEY_ARN is not set',
    ]);
  });

  it('an empty variable counts as unset', () => {
    expect(problemsOf(productionYaml, withEnv({ IMAGE_TAG: '' }))).toEqual(['inputs.imageTag: environment variable IMAGE_TAG is not set']);
  });

  it('an unset ACCOUNT_ID is one problem, not also "ARN in another account" on every ARN', () => {
    expect(problemsOf(productionYaml, withEnv({ ACCOUNT_ID: undefined }))).toEqual(['accountId: environment variable ACCOUNT_ID is not set']);
  });

  it('two unset subnets are two problems, not also "the two app subnets must differ"', () => {
    expect(problemsOf(productionYaml, withEnv({ APP_SUB_A: undefined, APP_SUB_B: undefined }))).toEqual([
      'inputs.appSubnetIds.0: environment variable APP_SUB_A is not set',
      'inputs.appSubnetIds.1: environment variable APP_SUB_B is not set',
    ]);
  });

  it('with no environment at all, every variable is reported once, and nothing else', () => {
    expect(problemsOf(productionYaml, {})).toEqual([
      'accountId: environment variable ACCOUNT_ID is not set',
      'inputs.vpcId: environment variable VPC_ID is not set',
      'inputs.appSubnetIds.0: environment variable APP_SUB_A is not set',
      'inputs.appSubnetIds.1: environment variable APP_SUB_B is not set',
      'inputs.ecsSecurityGroupId: environment variable ECS_SG is not set',
      'inputs.albSecurityGroupId: environment variable ALB_SG is not set',
      'inputs.albArn: environment variable ALB_ARN is not set',
      'inputs.certificateArn: environment variable CERT_ARN is not set',
      'inputs.logsKmsKeyArn: environment variable LOGS_KMS_KEY_ARN is not set',
      'inputs.dbSecretArn: environment variable DB_SECRET_ARN is not set',
      'inputs.imageTag: environment variable IMAGE_TAG is not set',
    ]);
  });

  it('every unset variable inside one string is named', () => {
    const text = yamlWith(['  logsKmsKeyArn: "${LOGS_KMS_KEY_ARN}"', '  logsKmsKeyArn: "arn:aws:kms:${KMS_REGION}:${KMS_ACCOUNT}:key/${KMS_KEY_ID}"']);
    expect(problemsOf(text, withEnv({ KMS_KEY_ID: '1234abcd-12ab' }))).toEqual([
      'inputs.logsKmsKeyArn: environment variable KMS_REGION is not set; environment variable KMS_ACCOUNT is not set',
    ]);
    const config = parseConfig(text, withEnv({ KMS_REGION: 'us-east-1', KMS_ACCOUNT: ACCOUNT_ID, KMS_KEY_ID: '1234abcd-12ab' }), SOURCE);
    expect(config.inputs.logsKmsKeyArn).toBe(`arn:aws:kms:us-east-1:${ACCOUNT_ID}:key/1234abcd-12ab`);
  });

  it('resolvePlaceholders walks objects and arrays, leaves non-strings alone, records paths', () => {
    const problems = new Map<string, string>();
    const resolved = resolvePlaceholders(
      { a: 'x-${SET}-y', list: ['${SET}', '${GONE}', 7], nested: { flag: true, n: null, v: '${GONE}${GONE}' }, plain: '$SET {SET}' },
      { SET: 'ok' },
      [],
      problems,
    );
    expect(resolved).toEqual({ a: 'x-ok-y', list: ['ok', '', 7], nested: { flag: true, n: null, v: '' }, plain: '$SET {SET}' });
    expect([...problems]).toEqual([
      ['list.1', 'environment variable GONE is not set'],
      ['nested.v', 'environment variable GONE is not set'],
    ]);
  });
});

describe('parseConfig: ids and ARNs', () => {
  it('malformed VPC, subnet and security group ids', () => {
    expect(
      problemsOf(productionYaml, withEnv({ VPC_ID: 'vpc-XYZ', APP_SUB_A: 'subnet-12', ECS_SG: 'sg-0ec5000000000000a0000', ALB_SG: 'vpc-0a1b0000000000000' })),
    ).toEqual([
      'inputs.vpcId: must be a vpc-… id',
      'inputs.appSubnetIds.0: must be a subnet-… id',
      'inputs.ecsSecurityGroupId: must be a sg-… id',
      'inputs.albSecurityGroupId: must be a sg-… id',
    ]);
  });

  it('the same subnet twice', () => {
    expect(problemsOf(productionYaml, withEnv({ APP_SUB_B: fixtureEnv.APP_SUB_A }))).toEqual(['inputs.appSubnetIds: the two app subnets must differ']);
  });

  it('an ARN in another account or another region (DESIGN §8 row 7)', () => {
    expect(
      problemsOf(
        productionYaml,
        withEnv({
          DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:210987654321:secret:fintech/db-credentials-AbCdEf',
          LOGS_KMS_KEY_ARN: `arn:aws:kms:eu-west-1:${ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
          ALB_ARN: 'arn:aws:elasticloadbalancing:us-west-2:555555555555:loadbalancer/app/fintech-prod-alb/50dc6c495c0c9188',
        }),
      ),
    ).toEqual([
      `inputs.albArn: is in account 555555555555, not accountId ${ACCOUNT_ID}`,
      'inputs.albArn: is in region us-west-2, not us-east-1',
      'inputs.logsKmsKeyArn: is in region eu-west-1, not us-east-1',
      `inputs.dbSecretArn: is in account 210987654321, not accountId ${ACCOUNT_ID}`,
    ]);
  });

  it('a wildcard account or the wrong resource type is not an ARN of that kind', () => {
    expect(
      problemsOf(
        productionYaml,
        withEnv({
          LOGS_KMS_KEY_ARN: 'arn:aws:kms:us-east-1:*:key/1234abcd-12ab-34cd-56ef-1234567890ab',
          ALB_ARN: `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:loadbalancer/net/fintech-prod-nlb/50dc6c495c0c9188`,
        }),
      ),
    ).toEqual([
      'inputs.albArn: must be an application load balancer ARN',
      'inputs.logsKmsKeyArn: must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)',
      `inputs.logsKmsKeyArn: is in account *, not accountId ${ACCOUNT_ID}`,
    ]);
  });
});

describe('parseConfig: images (DESIGN §8 rows 3 and 4)', () => {
  it.each(['latest', 'LATEST', 'Latest'])('refuses image tag %s', (tag) => {
    expect(problemsOf(productionYaml, withEnv({ IMAGE_TAG: tag }))).toEqual([`inputs.imageTag: ${LATEST_REFUSED}`]);
  });

  it('refuses an image reference that is neither a tag nor a digest', () => {
    expect(problemsOf(productionYaml, withEnv({ IMAGE_TAG: 'fintech-api:prod-1' }))).toEqual(['inputs.imageTag: must be an image tag or a sha256:… digest']);
    expect(problemsOf(productionYaml, withEnv({ IMAGE_TAG: 'sha256:abc' }))).toEqual(['inputs.imageTag: must be an image tag or a sha256:… digest']);
  });

  it('names.apiImage: a tag after ":", a digest after "@"', () => {
    expect(names.apiImage(parseConfig(productionYaml, fixtureEnv, SOURCE))).toBe(
      `${ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/fintech-api:prod-1.4.2`,
    );
    expect(names.apiImage(parseConfig(productionYaml, withEnv({ IMAGE_TAG: DIGEST }), SOURCE))).toBe(
      `${ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/fintech-api@${DIGEST}`,
    );
  });

  it.each([
    'amazon/aws-for-fluent-bit:latest',
    'public.ecr.aws/aws-observability/aws-for-fluent-bit:LATEST',
    'public.ecr.aws/aws-observability/aws-for-fluent-bit',
    'localhost:5000/aws-for-fluent-bit',
  ])('refuses an unpinned log router image %s', (image) => {
    const text = yamlWith(['image: public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4', `image: ${image}`]);
    expect(problemsOf(text)).toEqual([`taskDefinition.logRouter.image: ${UNPINNED}`]);
  });

  it('accepts a log router image pinned by tag or digest', () => {
    for (const image of ['public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4', `public.ecr.aws/aws-observability/aws-for-fluent-bit@${DIGEST}`]) {
      const text = yamlWith(['image: public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4', `image: ${image}`]);
      expect(parseConfig(text, fixtureEnv, SOURCE).taskDefinition.logRouter.image).toBe(image);
    }
  });
});

describe('parseConfig: section 3.2 and cross-field rules', () => {
  it('a secret-looking name in api.environment (section 3.2)', () => {
    const text = yamlWith(['      REGION: us-east-1', '      REGION: us-east-1\n      API_KEY: abc\n      stripe_token: def\n      LOG_LEVEL: info']);
    expect(problemsOf(text)).toEqual([
      `taskDefinition.api.environment.API_KEY: ${SECRET_IN_ENV}`,
      `taskDefinition.api.environment.stripe_token: ${SECRET_IN_ENV}`,
    ]);
  });

  it('DB_PASSWORD in api.environment: secret-looking, and already a secret', () => {
    const problems = problemsOf(yamlWith(['      REGION: us-east-1', '      REGION: us-east-1\n      DB_PASSWORD: hunter2']));
    expect(problems).toEqual([
      `taskDefinition.api.environment.DB_PASSWORD: ${SECRET_IN_ENV}`,
      'taskDefinition.api.environment.DB_PASSWORD: is also a secret: a variable comes from one place',
    ]);
  });

  it('minCapacity > maxCapacity', () => {
    const text = yamlWith(['    minCapacity: 5\n    maxCapacity: 100', '    minCapacity: 101\n    maxCapacity: 100']);
    expect(problemsOf(text)).toEqual(['scaling.dynamodb.minCapacity: is greater than maxCapacity (100)']);
  });

  it.each([2, 11])('desiredCount %i outside the ECS scaling range 3–10', (count) => {
    expect(problemsOf(yamlWith(['desiredCount: 3', `desiredCount: ${count}`]))).toEqual([
      'service.desiredCount: must lie within scaling.ecs min/max (3–10)',
    ]);
  });

  it('desiredCount at either end of the range is fine', () => {
    expect(parseConfig(yamlWith(['desiredCount: 3', 'desiredCount: 10']), fixtureEnv, SOURCE).service.desiredCount).toBe(10);
  });

  it("a service capacity provider that is not one of the cluster's", () => {
    const text = yamlWith(['  capacityProviders: [FARGATE, FARGATE_SPOT]', '  capacityProviders: [FARGATE]']);
    expect(problemsOf(text)).toEqual(['service.capacityProviderStrategy.0.capacityProvider: FARGATE_SPOT is not one of cluster.capacityProviders']);
  });
});

describe('parseConfig: the document itself', () => {
  it('invalid YAML names the source and the line', () => {
    const problems = problemsOf('region: us-east-1\naccountId: "1"\ntags: [Environment, Production\nvpcId: x\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^config\/production\.yaml: not valid YAML \(line 4\): /);
  });

  it('a tab-indented mapping is reported at its line', () => {
    const problems = problemsOf('region: us-east-1\ncluster:\n\tname: x\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^config\/production\.yaml: not valid YAML \(line 3\): /);
  });

  it.each([
    ['a list', '- region: us-east-1\n'],
    ['a scalar', 'just a string\n'],
    ['an empty file', ''],
    ['only comments', '# nothing here yet\n\n'],
    ['null', '~\n'],
  ])('a document that is %s is not a mapping', (_what, text) => {
    expect(problemsOf(text)).toEqual(['config/production.yaml: must be a YAML mapping']);
  });
});

describe('loadConfig: files', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('a missing file is a ConfigError naming the file', () => {
    const file = join(tmpdir(), 'fintech-runbook-no-such-dir', 'production.yaml');
    const error = configError(() => loadConfig(file, fixtureEnv));
    expect(error.problems).toEqual([`${file}: cannot read (ENOENT)`]);
    expect(error.exitCode).toBe(2);
  });

  it('problems in a file name the file for YAML errors and field paths for schema errors', () => {
    dir = mkdtempSync(join(tmpdir(), 'fintech-config-'));
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'region: us-east-1\ntags:\n  Environment: Production\n Project: FinTechGlobal\n');
    const [problem, ...more] = configError(() => loadConfig(broken, fixtureEnv)).problems;
    expect(more).toEqual([]);
    expect(problem.startsWith(`${broken}: not valid YAML (line 4): `)).toBe(true);
    const invalid = join(dir, 'invalid.yaml');
    writeFileSync(invalid, productionYaml.replace('desiredCount: 3', 'desiredCount: 30'));
    expect(configError(() => loadConfig(invalid, fixtureEnv)).problems).toEqual(['service.desiredCount: must lie within scaling.ecs min/max (3–10)']);
  });
});

describe('parseConfig: --region override', () => {
  it('wins over the file and must match the ARNs like the file region would', () => {
    expect(parseConfig(productionYaml, fixtureEnv, SOURCE, { region: 'us-east-1' }).region).toBe('us-east-1');
    const viaOverride = problemsOf(productionYaml, fixtureEnv, { region: 'eu-west-1' });
    const viaFile = problemsOf(yamlWith(['region: us-east-1', 'region: eu-west-1']));
    expect(viaOverride).toEqual([
      'inputs.albArn: is in region us-east-1, not eu-west-1',
      'inputs.certificateArn: is in region us-east-1, not eu-west-1',
      'inputs.logsKmsKeyArn: is in region us-east-1, not eu-west-1',
      'inputs.dbSecretArn: is in region us-east-1, not eu-west-1',
    ]);
    expect(viaOverride).toEqual(viaFile);
  });

  it('an invalid override is reported on region, like an invalid file region, without follow-on ARN noise', () => {
    expect(problemsOf(productionYaml, fixtureEnv, { region: 'mars-1' })).toEqual(['region: must be an AWS region such as us-east-1']);
    expect(problemsOf(yamlWith(['region: us-east-1', 'region: mars-1']))).toEqual(['region: must be an AWS region such as us-east-1']);
  });

  it('replaces a file region that is an unset ${VAR}', () => {
    const text = yamlWith(['region: us-east-1', 'region: "${AWS_REGION}"']);
    expect(problemsOf(text)).toEqual(['region: environment variable AWS_REGION is not set']);
    expect(parseConfig(text, fixtureEnv, SOURCE, { region: 'us-east-1' }).region).toBe('us-east-1');
  });
});

describe('parseConfig: values AWS refuses mid-run (moto takes them), refused before any call', () => {
  const sized = (cpu: string, memory: string) => yamlWith(['  cpu: "1024"\n  memory: "2048"', `  cpu: "${cpu}"\n  memory: "${memory}"`]);

  it.each([
    ['256', '512'],
    ['256', '2048'],
    ['512', '3072'],
    ['1024', '8192'],
    ['2048', '16384'],
    ['4096', '30720'],
    ['8192', '20480'],
    ['16384', '122880'],
  ])('Fargate cpu %s with memory %s is valid', (cpu, memory) => {
    expect(parseConfig(sized(cpu, memory), fixtureEnv, SOURCE).taskDefinition).toMatchObject({ cpu, memory });
  });

  it.each([
    ['256', '1536', '512, 1024 or 2048'],
    ['256', '4096', '512, 1024 or 2048'],
    ['512', '512', '1024–4096 in steps of 1024'],
    ['1024', '1024', '2048–8192 in steps of 1024'],
    ['1024', '2500', '2048–8192 in steps of 1024'],
    ['2048', '17408', '4096–16384 in steps of 1024'],
    ['4096', '31744', '8192–30720 in steps of 1024'],
    ['8192', '17408', '16384–61440 in steps of 4096'],
    ['16384', '36864', '32768–122880 in steps of 8192'],
  ])('Fargate cpu %s with memory %s is refused on taskDefinition.memory', (cpu, memory, valid) => {
    expect(problemsOf(sized(cpu, memory))).toEqual([`taskDefinition.memory: ${memory} MiB is not a Fargate size for cpu ${cpu}: with cpu ${cpu} memory must be ${valid}`]);
  });

  it('a memory that is not a number is reported once, without a Fargate-size follow-on', () => {
    expect(problemsOf(sized('1024', '2GB'))).toEqual(['taskDefinition.memory: must be MiB as a string, e.g. "2048"']);
  });

  it('an SSL policy name with a typo names the closest predefined policy', () => {
    const text = yamlWith(['sslPolicy: ELBSecurityPolicy-TLS13-1-2-Res-2021-06', 'sslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-6']);
    expect(problemsOf(text)).toEqual([
      'loadBalancer.listener.sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-6" is not an ELBv2 predefined security policy: did you mean ELBSecurityPolicy-TLS13-1-2-2021-06?',
    ]);
    const lower = yamlWith(['sslPolicy: ELBSecurityPolicy-TLS13-1-2-Res-2021-06', 'sslPolicy: elbsecuritypolicy-tls-1-2-2017-01']);
    expect(problemsOf(lower)).toEqual([
      'loadBalancer.listener.sslPolicy: "elbsecuritypolicy-tls-1-2-2017-01" is not an ELBv2 predefined security policy: did you mean ELBSecurityPolicy-TLS-1-2-2017-01?',
    ]);
  });

  it('a name far from every predefined policy gets an example instead of a guess', () => {
    const text = yamlWith(['sslPolicy: ELBSecurityPolicy-TLS13-1-2-Res-2021-06', 'sslPolicy: my-custom-policy']);
    expect(problemsOf(text)).toEqual([
      'loadBalancer.listener.sslPolicy: "my-custom-policy" is not an ELBv2 predefined security policy (e.g. ELBSecurityPolicy-TLS13-1-2-2021-06; the list is in AWS\'s "Security policies for your Application Load Balancer")',
    ]);
  });

  it.each(['ELBSecurityPolicy-TLS-1-2-2017-01', 'ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04', 'ELBSecurityPolicy-FS-1-2-Res-2020-10', 'ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09', 'ELBSecurityPolicy-2016-08'])(
    'the predefined policy %s is accepted',
    (policy) => {
      const text = yamlWith(['sslPolicy: ELBSecurityPolicy-TLS13-1-2-Res-2021-06', `sslPolicy: ${policy}`]);
      expect(parseConfig(text, fixtureEnv, SOURCE).loadBalancer.listener.sslPolicy).toBe(policy);
    },
  );

  it('two containers with the same name', () => {
    const text = yamlWith(['    name: log_router', '    name: api-container']);
    expect(problemsOf(text)).toEqual([
      'taskDefinition.logRouter.name: is the same as taskDefinition.api.name ("api-container"): container names in a task definition must differ',
    ]);
  });

  it('two scaling policies with the same name on the ECS service', () => {
    const text = yamlWith(['policyName: fintech-mem-scaling', 'policyName: fintech-cpu-scaling']);
    expect(problemsOf(text)).toEqual([
      'scaling.ecs.memory.policyName: is the same as scaling.ecs.cpu.policyName ("fintech-cpu-scaling"): two policies on one scalable target need two names (the second would replace the first)',
    ]);
  });

  it('the four are reported at once, each on its own field', () => {
    const text = yamlWith(
      ['  cpu: "1024"\n  memory: "2048"', '  cpu: "512"\n  memory: "8192"'],
      ['sslPolicy: ELBSecurityPolicy-TLS13-1-2-Res-2021-06', 'sslPolicy: ELBSecurityPolicy-TLS13-1-2-2012-06'],
      ['    name: log_router', '    name: api-container'],
      ['policyName: fintech-mem-scaling', 'policyName: fintech-cpu-scaling'],
    );
    expect(problemsOf(text).map((p) => p.split(':')[0])).toEqual([
      'loadBalancer.listener.sslPolicy',
      'taskDefinition.memory',
      'taskDefinition.logRouter.name',
      'scaling.ecs.memory.policyName',
    ]);
  });
});

describe('parseConfig: lock', () => {
  it('is optional (the default lock is a local file)', () => {
    expect(parseConfig(productionYaml, fixtureEnv, SOURCE).lock).toBeUndefined();
  });

  it('takes a DynamoDB table and a lease', () => {
    const text = `${productionYaml}\nlock:\n  dynamodbTable: fintech-runbook-locks\n  leaseSeconds: 30\n`;
    expect(parseConfig(text, fixtureEnv, SOURCE).lock).toEqual({ dynamodbTable: 'fintech-runbook-locks', leaseSeconds: 30 });
  });

  it('refuses a bad table name, a lease outside 5–3600 s and unknown keys, all at once', () => {
    const text = `${productionYaml}\nlock:\n  dynamodbTable: "no spaces allowed"\n  leaseSeconds: 2\n  owner: me\n`;
    const problems = problemsOf(text);
    expect(problems).toContain('lock.dynamodbTable: must be a DynamoDB table name');
    expect(problems.some((p) => p.startsWith('lock.leaseSeconds: '))).toBe(true);
    expect(problems).toContain('lock: Unrecognized key: "owner"');
    expect(problems).toHaveLength(3);
  });
});
