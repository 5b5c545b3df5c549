// Config: YAML, `${VAR}` placeholders from the environment, one strict zod schema.
// Every problem is reported at once with its field path; nothing here talks to AWS.
import { readFileSync } from 'node:fs';
import { CORE_SCHEMA, load as loadYaml, YAMLException } from 'js-yaml';
import * as z from 'zod';
import { ConfigError } from './core/errors.js';

const partition = 'aws[a-z-]*';
const region = '[a-z]{2}(?:-[a-z]+)+-\\d';
const account = '\\d{12}';

const pattern = (re: RegExp, what: string) => z.string().regex(re, { message: `must be ${what}` });

const awsId = (prefix: string) => pattern(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), `a ${prefix}-… id`);
const arn = (service: string, resource: string, what: string) =>
  pattern(new RegExp(`^arn:${partition}:${service}:${region}:${account}:${resource}$`), what);

const tagMap = z.record(z.string().min(1).max(128), z.string().max(256));

/** Environment variable names that must come from Secrets Manager (runbook section 3.2). */
export const SECRET_LOOKING_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)/i;

const imageReference = z
  .string()
  .regex(/^(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[a-f0-9]{64})$/, {
    message: 'must be an image tag or a sha256:… digest',
  })
  .refine((tag) => tag.toLowerCase() !== 'latest', {
    message:
      '"latest" is refused: the repository is IMMUTABLE (latest can be pushed once) and a rollback to it would change nothing; use a release tag or a digest',
  });

const capacityProviderItem = z.strictObject({
  capacityProvider: z.enum(['FARGATE', 'FARGATE_SPOT']),
  weight: z.number().int().min(0).max(1000),
  base: z.number().int().min(0).max(100000).optional(),
});

const targetTracking = z.strictObject({
  policyName: z.string().min(1).max(256),
  targetValue: z.number().gt(0).lte(100),
  scaleOutCooldown: z.number().int().min(0).optional(),
  scaleInCooldown: z.number().int().min(0).optional(),
});

/** Scan-finding severities, worst first (ECR basic and enhanced scanning). */
export const BLOCK_SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL'] as const;

/**
 * One deployment alarm: the metric's statistic over `periodSeconds`, ALARM when above `threshold`
 * in `datapointsToAlarm` of `evaluationPeriods` periods. Namespace and dimensions are the
 * metric's (`metrics`; the target group's from the load balancer).
 */
const deploymentAlarm = z
  .strictObject({
    threshold: z.number().min(0),
    statistic: z.string().regex(/^(?:SampleCount|Average|Sum|Minimum|Maximum|p(?:\d{1,2}(?:\.\d{1,2})?|100))$/, {
      message: 'must be SampleCount, Average, Sum, Minimum, Maximum or a percentile such as p99',
    }),
    periodSeconds: z.number().int().refine((p) => p === 10 || p === 30 || (p >= 60 && p % 60 === 0), {
      message: 'must be 10, 30 or a multiple of 60 seconds (CloudWatch alarm periods)',
    }),
    evaluationPeriods: z.number().int().min(1).max(100),
    datapointsToAlarm: z.number().int().min(1).max(100).optional(),
  })
  .refine((a) => a.datapointsToAlarm === undefined || a.datapointsToAlarm <= a.evaluationPeriods, {
    message: 'datapointsToAlarm must not exceed evaluationPeriods',
    path: ['datapointsToAlarm'],
  });

/**
 * Security Hub ECS.5 and ECS.20 for one container: a read-only root filesystem with ephemeral
 * writable volumes at `writablePaths`, and a non-root `user` (default given per container).
 */
function containerHardening(defaultUser: string, userPattern = /^[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)?$/) {
  return {
    user: z
      .string()
      .regex(userPattern, { message: 'must be a user: uid, uid:gid, name or name:group' })
      .refine((u) => !/^(?:root|0)(?::|$)/.test(u), { message: 'is root: Security Hub ECS.20 requires a non-root user' })
      .default(defaultUser),
    readonlyRootFilesystem: z.boolean().default(true),
    /** Each path gets its own ephemeral task-storage volume (Fargate has no tmpfs). */
    writablePaths: z.array(z.string().regex(/^\/[A-Za-z0-9_.\/-]*$/, { message: 'must be an absolute path' })).default(['/tmp']),
  };
}

const metricDimensions = z
  .record(z.string().min(1).max(255), z.string().min(1).max(1024))
  .refine((dims) => Object.keys(dims).length <= 30, { message: 'CloudWatch takes at most 30 dimensions per metric' });

const capacityRange = {
  minCapacity: z.number().int().min(0),
  maxCapacity: z.number().int().min(1),
};

/**
 * Fargate task sizes (AWS: "Task CPU and memory" / the RegisterTaskDefinition `memory` docs):
 * memory in MiB per task cpu, as [from, to, step]. moto accepts any pair; AWS refuses the others
 * mid-run ("No Fargate configuration exists for given values").
 */
export const FARGATE_MEMORY: Readonly<Record<string, readonly [number, number, number]>> = {
  '256': [512, 2048, 512], // 512, 1024, 2048 (1536 is not one: see fargateMemoryValid)
  '512': [1024, 4096, 1024],
  '1024': [2048, 8192, 1024],
  '2048': [4096, 16384, 1024],
  '4096': [8192, 30720, 1024],
  '8192': [16384, 61440, 4096],
  '16384': [32768, 122880, 8192],
};

export function fargateMemoryValid(cpu: string, memory: number): boolean {
  if (cpu === '256') return [512, 1024, 2048].includes(memory);
  const range = FARGATE_MEMORY[cpu];
  if (!range) return false;
  const [from, to, step] = range;
  return memory >= from && memory <= to && (memory - from) % step === 0;
}

function describeFargateMemory(cpu: string): string {
  if (cpu === '256') return '512, 1024 or 2048';
  const [from, to, step] = FARGATE_MEMORY[cpu];
  return `${from}–${to} in steps of ${step}`;
}

/**
 * The ELBv2 predefined security policies for HTTPS listeners (AWS: "Security policies for your
 * Application Load Balancer"; the same names DescribeSSLPolicies lists). Application Load Balancers
 * take no custom policy, and moto accepts any name: a typo would only fail at CreateListener.
 */
export const ELB_SECURITY_POLICIES: readonly string[] = [
  // TLS 1.3
  'ELBSecurityPolicy-TLS13-1-2-2021-06',
  'ELBSecurityPolicy-TLS13-1-2-Res-2021-06',
  'ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06',
  'ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06',
  'ELBSecurityPolicy-TLS13-1-1-2021-06',
  'ELBSecurityPolicy-TLS13-1-0-2021-06',
  'ELBSecurityPolicy-TLS13-1-3-2021-06',
  // TLS 1.3, hybrid post-quantum key exchange
  'ELBSecurityPolicy-TLS13-1-2-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-2-Ext1-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-2-Ext2-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-0-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-3-PQ-2025-09',
  // FIPS
  'ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04',
  'ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04',
  'ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-2023-04',
  'ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-2023-04',
  'ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-2023-04',
  'ELBSecurityPolicy-TLS13-1-1-FIPS-2023-04',
  'ELBSecurityPolicy-TLS13-1-0-FIPS-2023-04',
  'ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04',
  'ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09',
  // Forward secrecy
  'ELBSecurityPolicy-FS-1-2-Res-2020-10',
  'ELBSecurityPolicy-FS-1-2-Res-2019-08',
  'ELBSecurityPolicy-FS-1-2-2019-08',
  'ELBSecurityPolicy-FS-1-1-2019-08',
  'ELBSecurityPolicy-FS-2018-06',
  // TLS 1.0–1.2
  'ELBSecurityPolicy-TLS-1-2-Ext-2018-06',
  'ELBSecurityPolicy-TLS-1-2-2017-01',
  'ELBSecurityPolicy-TLS-1-1-2017-01',
  'ELBSecurityPolicy-TLS-1-0-2015-04',
  'ELBSecurityPolicy-2016-08',
  'ELBSecurityPolicy-2015-05',
];

/** Edit distance (insert, delete, substitute; case-insensitive): how far a typo is from a name. */
function editDistance(a: string, b: string): number {
  const [s, t] = [a.toLowerCase(), b.toLowerCase()];
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[t.length];
}

/** The predefined policy a misspelt name most likely meant, if one is close enough to be a typo. */
export function closestSecurityPolicy(name: string): string | undefined {
  let best: { policy: string; distance: number } | undefined;
  for (const policy of ELB_SECURITY_POLICIES) {
    const distance = editDistance(name, policy);
    if (!best || distance < best.distance) best = { policy, distance };
  }
  return best && best.distance <= Math.max(3, Math.floor(name.length / 8)) ? best.policy : undefined;
}

const sslPolicy = z.string().superRefine((name, ctx) => {
  if (ELB_SECURITY_POLICIES.includes(name)) return;
  const closest = closestSecurityPolicy(name);
  ctx.addIssue({
    code: 'custom',
    message: closest
      ? `"${name}" is not an ELBv2 predefined security policy: did you mean ${closest}?`
      : `"${name}" is not an ELBv2 predefined security policy (e.g. ELBSecurityPolicy-TLS13-1-2-2021-06; the list is in AWS's "Security policies for your Application Load Balancer")`,
  });
});

export const configSchema = z
  .strictObject({
    region: pattern(new RegExp(`^${region}$`), 'an AWS region such as us-east-1'),
    accountId: pattern(new RegExp(`^${account}$`), 'a 12-digit AWS account id'),
    tags: tagMap,
    inputs: z.strictObject({
      vpcId: awsId('vpc'),
      appSubnetIds: z
        .array(awsId('subnet'))
        .length(2, { message: 'must list exactly the two app subnets (APP_SUB_A, APP_SUB_B)' })
        // '' is an unset ${VAR}, already reported: two unset subnets are not "the same subnet".
        .refine((ids) => ids.filter(Boolean).length === new Set(ids.filter(Boolean)).size, { message: 'the two app subnets must differ' }),
      ecsSecurityGroupId: awsId('sg'),
      albSecurityGroupId: awsId('sg'),
      albArn: arn('elasticloadbalancing', 'loadbalancer/app/[A-Za-z0-9-]+/[0-9a-f]+', 'an application load balancer ARN'),
      certificateArn: arn('acm', 'certificate/[A-Za-z0-9-]+', 'an ACM certificate ARN'),
      logsKmsKeyArn: arn('kms', 'key/[A-Za-z0-9-]+', 'a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)'),
      dbSecretArn: arn('secretsmanager', 'secret:[A-Za-z0-9/_+=.@-]+', 'a Secrets Manager secret ARN'),
      imageTag: imageReference,
      auroraClusterId: z.string().regex(/^[a-zA-Z][a-zA-Z0-9-]{0,62}$/, { message: 'must be a DB cluster identifier' }),
      dynamodbTableName: z.string().regex(/^[a-zA-Z0-9_.-]{3,255}$/, { message: 'must be a DynamoDB table name' }),
      dataLakeBucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: 'must be an S3 bucket name' }),
    }),
    cluster: z.strictObject({
      name: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, { message: 'must be an ECS cluster name' }),
      capacityProviders: z.array(z.enum(['FARGATE', 'FARGATE_SPOT'])).min(1),
      defaultStrategy: z.array(capacityProviderItem).min(1),
      containerInsights: z.enum(['enabled', 'disabled', 'enhanced']),
    }),
    ecr: z.strictObject({
      repositoryName: z.string().regex(/^[a-z0-9]+(?:[._\/-][a-z0-9]+)*$/, { message: 'must be an ECR repository name' }),
      scanOnPush: z.boolean(),
      encryptionType: z.enum(['KMS', 'AES256']),
      kmsKey: z.string().optional(),
      tagMutability: z.literal('IMMUTABLE', { message: 'must be IMMUTABLE (runbook section 3.5)' }),
      lifecycle: z.strictObject({
        keepLast: z.number().int().min(1).max(10000),
        tagPrefixes: z.array(z.string().min(1)).min(1),
      }),
    }),
    iam: z.strictObject({
      executionRole: z.strictObject({ name: z.string().min(1).max(64), policyName: z.string().min(1).max(128) }),
      taskRole: z.strictObject({ name: z.string().min(1).max(64), policyName: z.string().min(1).max(128) }),
      /** Managed policies (or a permissions boundary) a team attaches to the roles on purpose: not drift. */
      allowedManagedPolicies: z
        .array(
          pattern(
            new RegExp(`^arn:${partition}:iam::(?:${account}|aws):policy/(?:[\\w+=,.@-]+/)*[\\w+=,.@-]+$`),
            'an IAM policy ARN (arn:aws:iam::ACCOUNT:policy/NAME or arn:aws:iam::aws:policy/NAME)',
          ),
        )
        .default([]),
    }),
    taskDefinition: z.strictObject({
      family: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, { message: 'must be a task definition family name' }),
      cpu: z.enum(['256', '512', '1024', '2048', '4096', '8192', '16384']),
      memory: z.string().regex(/^\d+$/, { message: 'must be MiB as a string, e.g. "2048"' }),
      logGroup: z.strictObject({
        name: z.string().regex(/^[\w\-/.#]{1,512}$/, { message: 'must be a log group name' }),
        retentionDays: z.union(
          [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653].map((d) => z.literal(d)),
          { message: 'must be a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, … 365, … 3653 days)' },
        ),
      }),
      api: z.strictObject({
        name: z.string().min(1),
        port: z.number().int().min(1).max(65535),
        environment: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).superRefine((env, ctx) => {
          for (const name of Object.keys(env)) {
            if (SECRET_LOOKING_NAME.test(name)) {
              ctx.addIssue({
                code: 'custom',
                path: [name],
                message: 'looks like a secret: section 3.2 requires it in `secrets` (Secrets Manager), not in cleartext `environment`',
              });
            }
          }
        }),
        /** Env var name -> JSON key inside the db secret (inputs.dbSecretArn). */
        secrets: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().min(1)),
        logStreamPrefix: z.string().min(1),
        ...containerHardening('1000:1000'),
        healthCheck: z.strictObject({
          command: z.string().min(1),
          interval: z.number().int().min(5).max(300),
          timeout: z.number().int().min(2).max(60),
          retries: z.number().int().min(1).max(10),
          startPeriod: z.number().int().min(0).max(300).optional(),
        }),
      }),
      logRouter: z.strictObject({
        name: z.string().min(1),
        image: z
          .string()
          .min(1)
          .refine((image) => !/:latest$/i.test(image) && /[:@]/.test(image.split('/').pop() ?? ''), {
            message: 'must be pinned to a version tag or digest (not latest, not untagged)',
          }),
        memoryReservation: z.number().int().min(6),
        /** Its own log stream prefix in the task definition's log group (awslogs: Security Hub ECS.9). */
        logStreamPrefix: z.string().min(1).default('firelens'),
        // FireLens takes a non-root user only as a numeric uid (uid, uid:gid, uid:group).
        ...containerHardening('1000:1000', /^\d+(?::[A-Za-z0-9_.-]+)?$/),
      }),
      /** Environment values in plan, diffs, reports and the journal: masked (a hash) unless true; secret-looking names always. */
      showEnvironmentValues: z.boolean().default(false),
    }),
    loadBalancer: z.strictObject({
      targetGroup: z.strictObject({
        name: z.string().regex(/^[A-Za-z0-9-]{1,32}$/, { message: 'must be a target group name (≤32 chars)' }),
        port: z.number().int().min(1).max(65535),
        healthCheckPath: z.string().startsWith('/'),
        healthCheckIntervalSeconds: z.number().int().min(5).max(300),
        deregistrationDelaySeconds: z.number().int().min(0).max(3600),
        stickiness: z.boolean(),
      }),
      listener: z.strictObject({
        port: z.number().int().min(1).max(65535),
        sslPolicy,
      }),
    }),
    service: z.strictObject({
      name: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, { message: 'must be an ECS service name' }),
      desiredCount: z.number().int().min(1),
      capacityProviderStrategy: z.array(capacityProviderItem).min(1),
      healthCheckGracePeriodSeconds: z.number().int().min(0).max(2147483647),
      circuitBreaker: z.strictObject({ enable: z.boolean(), rollback: z.boolean() }),
      /** LATEST, or a Fargate platform version no older than Security Hub ECS.10's latest (1.4.0). */
      platformVersion: z
        .string()
        .regex(/^(?:LATEST|\d+\.\d+\.\d+)$/, { message: 'must be LATEST or a platform version such as 1.4.0' })
        .refine((v) => v === 'LATEST' || v.split('.').map(Number).reduce((n, part) => n * 1000 + part, 0) >= 1004000, {
          message: 'is older than 1.4.0, the latest Fargate Linux platform version (Security Hub ECS.10); use LATEST',
        })
        .default('LATEST'),
      deployTimeoutSeconds: z.number().int().min(1).max(7200),
      healthyTargetsTimeoutSeconds: z.number().int().min(1).max(3600),
    }),
    scaling: z.strictObject({
      ecs: z.strictObject({ ...capacityRange, cpu: targetTracking, memory: targetTracking }),
      aurora: z.strictObject({ ...capacityRange, policy: targetTracking }),
      dynamodb: z.strictObject({ ...capacityRange, policy: targetTracking }),
    }),
    metrics: z.strictObject({
      namespace: z.string().min(1).max(255),
      recentMinutes: z.number().int().min(1).max(1440),
      /** Section 2.4's dimensions per metric (CloudWatch allows 30); unset: the runbook's examples. */
      dimensions: z
        .strictObject({
          TransactionsProcessed: metricDimensions.default({ Service: 'PaymentAPI' }),
          LoginSuccess: metricDimensions.default({ Service: 'Auth' }),
          FraudFlags: metricDimensions.default({}),
          APIErrors: metricDimensions.default({}),
          PaymentLatency: metricDimensions.default({}),
        })
        .prefault({}),
    }),
    /** The environment lock (src/core/lock.ts): a local file unless a DynamoDB table is named. */
    lock: z
      .strictObject({
        dynamodbTable: z.string().regex(/^[a-zA-Z0-9_.-]{3,255}$/, { message: 'must be a DynamoDB table name' }).optional(),
        leaseSeconds: z.number().int().min(5).max(3600).optional(),
      })
      .optional(),
    /** `deploy` (issue 12): the image gate's threshold and the deployment alarms (steps/deployment-alarms.ts). */
    deploy: z
      .strictObject({
        /** The lowest scan-finding severity that refuses a deploy. */
        blockSeverity: z.enum(BLOCK_SEVERITIES).default('CRITICAL'),
        alarms: z
          .strictObject({ apiErrors: deploymentAlarm, paymentLatency: deploymentAlarm, targetErrors: deploymentAlarm })
          .optional(),
      })
      .optional(),
    /** Two-person rule: `apply FILE` needs an approval (`approve FILE`) by another caller than the one applying. */
    approval: z.strictObject({ required: z.boolean() }).optional(),
    /** A Systems Manager Change Calendar: commands that write refuse while it is CLOSED (unless --emergency). */
    changeCalendar: pattern(
      new RegExp(`^(?:arn:${partition}:ssm:${region}:${account}:document/)?[A-Za-z0-9_.-]{3,128}$`),
      'a Systems Manager Change Calendar name or document ARN',
    ).optional(),
  })
  .superRefine((config, ctx) => {
    // Row 7 of DESIGN.md §8: every ARN must be in this account and region, never a wildcard.
    const arns: Array<[string[], string]> = [
      [['inputs', 'albArn'], config.inputs.albArn],
      [['inputs', 'certificateArn'], config.inputs.certificateArn],
      [['inputs', 'logsKmsKeyArn'], config.inputs.logsKmsKeyArn],
      [['inputs', 'dbSecretArn'], config.inputs.dbSecretArn],
    ];
    // Compare only against a valid accountId / region: an invalid or unset one is reported once, on its own field.
    const accountValid = new RegExp(`^${account}$`).test(config.accountId);
    const regionValid = new RegExp(`^${region}$`).test(config.region);
    for (const [path, value] of arns) {
      const [, arnPartition, , arnRegion, arnAccount] = value.split(':');
      if (regionValid && arnPartition && arnPartition !== partitionOf(config.region)) {
        ctx.addIssue({ code: 'custom', path, message: `is in partition ${arnPartition}, but region ${config.region} is in ${partitionOf(config.region)}` });
      }
      if (accountValid && arnAccount !== config.accountId) {
        ctx.addIssue({ code: 'custom', path, message: `is in account ${arnAccount}, not accountId ${config.accountId}` });
      }
      if (regionValid && arnRegion !== config.region) {
        ctx.addIssue({ code: 'custom', path, message: `is in region ${arnRegion}, not ${config.region}` });
      }
    }
    for (const [name, section] of [
      ['ecs', config.scaling.ecs],
      ['aurora', config.scaling.aurora],
      ['dynamodb', config.scaling.dynamodb],
    ] as const) {
      if (section.minCapacity > section.maxCapacity) {
        ctx.addIssue({ code: 'custom', path: ['scaling', name, 'minCapacity'], message: `is greater than maxCapacity (${section.maxCapacity})` });
      }
    }
    if (config.service.desiredCount < config.scaling.ecs.minCapacity || config.service.desiredCount > config.scaling.ecs.maxCapacity) {
      ctx.addIssue({
        code: 'custom',
        path: ['service', 'desiredCount'],
        message: `must lie within scaling.ecs min/max (${config.scaling.ecs.minCapacity}–${config.scaling.ecs.maxCapacity})`,
      });
    }
    for (const [i, item] of config.service.capacityProviderStrategy.entries()) {
      if (!config.cluster.capacityProviders.includes(item.capacityProvider)) {
        ctx.addIssue({
          code: 'custom',
          path: ['service', 'capacityProviderStrategy', i, 'capacityProvider'],
          message: `${item.capacityProvider} is not one of cluster.capacityProviders`,
        });
      }
    }
    // Values AWS would refuse mid-run (moto takes them): refused here, before any call.
    const { cpu, memory } = config.taskDefinition;
    if (/^\d+$/.test(memory) && !fargateMemoryValid(cpu, Number(memory))) {
      ctx.addIssue({
        code: 'custom',
        path: ['taskDefinition', 'memory'],
        message: `${memory} MiB is not a Fargate size for cpu ${cpu}: with cpu ${cpu} memory must be ${describeFargateMemory(cpu)}`,
      });
    }
    if (config.taskDefinition.api.name === config.taskDefinition.logRouter.name) {
      ctx.addIssue({
        code: 'custom',
        path: ['taskDefinition', 'logRouter', 'name'],
        message: `is the same as taskDefinition.api.name ("${config.taskDefinition.api.name}"): container names in a task definition must differ`,
      });
    }
    if (config.scaling.ecs.cpu.policyName === config.scaling.ecs.memory.policyName) {
      ctx.addIssue({
        code: 'custom',
        path: ['scaling', 'ecs', 'memory', 'policyName'],
        message: `is the same as scaling.ecs.cpu.policyName ("${config.scaling.ecs.cpu.policyName}"): two policies on one scalable target need two names (the second would replace the first)`,
      });
    }
    for (const name of Object.keys(config.taskDefinition.api.secrets)) {
      if (name in config.taskDefinition.api.environment) {
        ctx.addIssue({ code: 'custom', path: ['taskDefinition', 'api', 'environment', name], message: 'is also a secret: a variable comes from one place' });
      }
    }
  });

export type RunbookConfig = z.infer<typeof configSchema>;

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replace `${VAR}` in every string; an unset variable is a problem at that field's path. */
export function resolvePlaceholders(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: string[] = [],
  problems: Map<string, string> = new Map(),
): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (_match, name: string) => {
      const resolved = env[name];
      if (resolved === undefined || resolved === '') {
        // Every unset variable of the field is named, e.g. "arn:aws:kms:${REGION}:${ACCOUNT_ID}:…".
        const field = path.join('.');
        const message = `environment variable ${name} is not set`;
        const previous = problems.get(field);
        if (!previous?.split('; ').includes(message)) problems.set(field, previous ? `${previous}; ${message}` : message);
        return '';
      }
      return resolved;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => resolvePlaceholders(item, env, [...path, String(i)], problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, resolvePlaceholders(item, env, [...path, key], problems)]),
    );
  }
  return value;
}

export interface ConfigOverrides {
  /** `--region` wins over the file's region (and is validated like it). */
  region?: string;
}

export function parseConfig(text: string, env: NodeJS.ProcessEnv, source = 'config', overrides: ConfigOverrides = {}): RunbookConfig {
  let raw: unknown;
  try {
    // YAML 1.2's core schema: no timestamps, merge keys or binary; a repeated key is an error.
    // js-yaml refuses a file of only blanks and comments; for us that is an empty document.
    const empty = text.split('\n').every((line) => /^\s*(#.*)?$/.test(line));
    raw = empty ? undefined : loadYaml(text, { schema: CORE_SCHEMA });
  } catch (error) {
    const where = error instanceof YAMLException && error.mark ? ` (line ${error.mark.line + 1})` : '';
    throw new ConfigError([`${source}: not valid YAML${where}: ${(error as Error).message.split('\n')[0]}`]);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([`${source}: must be a YAML mapping`]);
  }
  const unresolved = new Map<string, string>();
  const resolved = resolvePlaceholders(raw, env, [], unresolved) as Record<string, unknown>;
  if (overrides.region) {
    resolved.region = overrides.region;
    unresolved.delete('region'); // the file's region, placeholder or not, is not used
  }
  const result = configSchema.safeParse(resolved);
  const problems = [...unresolved].map(([path, message]) => `${path}: ${message}`);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.join('.');
      // An unset variable already explains why its field is empty.
      if (unresolved.has(path) || [...unresolved.keys()].some((p) => path.startsWith(`${p}.`))) continue;
      problems.push(`${path || '(top level)'}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.data;
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): RunbookConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`]);
  }
  return parseConfig(text, env, file, overrides);
}

/**
 * The ARN partition of a region: `aws-cn` for China, `aws-us-gov` for GovCloud, the ISO
 * partitions by their prefixes, else `aws` (AWS: "Identify AWS resources with ARNs").
 */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-isof-')) return 'aws-iso-f';
  if (region.startsWith('eu-isoe-')) return 'aws-iso-e';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  return 'aws';
}

/** The DNS suffix of a region's service endpoints (ECR registry host names). */
export const dnsSuffixOf = (region: string) => (region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com');

// Names derived from the config, in one place so steps and checks agree.
export const names = {
  partition: (config: Pick<RunbookConfig, 'region'>) => partitionOf(config.region),
  /** `arn:<partition>:<service>:<region>:<account>:<resource>`; IAM and S3 pass '' as region (and S3 '' as account). */
  arn: (config: Pick<RunbookConfig, 'region' | 'accountId'>, service: string, resource: string, where: { region?: string; account?: string } = {}) =>
    `arn:${partitionOf(config.region)}:${service}:${where.region ?? config.region}:${where.account ?? config.accountId}:${resource}`,
  roleArn: (config: RunbookConfig, roleName: string) => names.arn(config, 'iam', `role/${roleName}`, { region: '' }),
  /** This account's ECR registry host in the region. */
  registry: (config: Pick<RunbookConfig, 'region' | 'accountId'>) => `${config.accountId}.dkr.ecr.${config.region}.${dnsSuffixOf(config.region)}`,
  repositoryUri: (config: RunbookConfig) => `${names.registry(config)}/${config.ecr.repositoryName}`,
  apiImage: (config: RunbookConfig) => {
    const ref = config.inputs.imageTag;
    return `${names.repositoryUri(config)}${ref.startsWith('sha256:') ? '@' : ':'}${ref}`;
  },
  logGroupArn: (config: RunbookConfig) => names.arn(config, 'logs', `log-group:${config.taskDefinition.logGroup.name}`),
  ecsResourceId: (config: RunbookConfig) => `service/${config.cluster.name}/${config.service.name}`,
  /** How findings, changes and the journal name the service. */
  serviceResource: (config: RunbookConfig) => `ecs service ${config.cluster.name}/${config.service.name}`,
};
