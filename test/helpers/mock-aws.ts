// Every AWS client mocked in one place (aws-sdk-client-mock). Each client rejects any command a
// test did not mock, so an unexpected call, above all an unexpected write, fails loudly.
import { ACMClient } from '@aws-sdk/client-acm';
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createClients } from '../../src/aws/clients.js';
import { classifyOperation } from '../../src/aws/clients.js';
import { parseConfig, type RunbookConfig } from '../../src/config.js';
import { Outputs, passThroughRecorder, type StepContext, type WriteDescription, type WriteRecorder } from '../../src/core/step.js';

export const ACCOUNT_ID = '123456789012';

/** The environment production.yaml needs, with well-formed fake ids. */
export const fixtureEnv: NodeJS.ProcessEnv = {
  ACCOUNT_ID,
  VPC_ID: 'vpc-0a1b2c3d4e5f60718',
  APP_SUB_A: 'subnet-0aaaaaaaaaaaaaaaa',
  APP_SUB_B: 'subnet-0bbbbbbbbbbbbbbbb',
  ECS_SG: 'sg-0ec5000000000000a',
  ALB_SG: 'sg-0a1b0000000000000',
  ALB_ARN: `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:loadbalancer/app/fintech-prod-alb/50dc6c495c0c9188`,
  CERT_ARN: `arn:aws:acm:us-east-1:${ACCOUNT_ID}:certificate/0f6e8d8a-1111-2222-3333-444455556666`,
  LOGS_KMS_KEY_ARN: `arn:aws:kms:us-east-1:${ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
  DB_SECRET_ARN: `arn:aws:secretsmanager:us-east-1:${ACCOUNT_ID}:secret:fintech/db-credentials-AbCdEf`,
  IMAGE_TAG: 'prod-1.4.2',
};

export const productionYaml = readFileSync(fileURLToPath(new URL('../../config/production.yaml', import.meta.url)), 'utf8');

export function testConfig(env: NodeJS.ProcessEnv = fixtureEnv): RunbookConfig {
  return parseConfig(productionYaml, env, 'config/production.yaml');
}

export const clientClasses = {
  acm: ACMClient,
  autoscaling: ApplicationAutoScalingClient,
  cloudwatch: CloudWatchClient,
  logs: CloudWatchLogsClient,
  dynamodb: DynamoDBClient,
  ec2: EC2Client,
  ecr: ECRClient,
  ecs: ECSClient,
  elbv2: ElasticLoadBalancingV2Client,
  iam: IAMClient,
  kms: KMSClient,
  rds: RDSClient,
  secrets: SecretsManagerClient,
  ssm: SSMClient,
  sts: STSClient,
};

export type AwsMocks = { [K in keyof typeof clientClasses]: ReturnType<typeof mockClient> };

/** Mock every client; anything not mocked by the test rejects. Call in beforeEach. */
export function mockAws(): AwsMocks {
  const mocks = {} as Record<string, ReturnType<typeof mockClient>>;
  for (const [name, Client] of Object.entries(clientClasses)) {
    const mock = mockClient(Client as never);
    mock.onAnyCommand().rejects(new Error(`unmocked ${name} call: mock it in the test`));
    mocks[name] = mock;
  }
  return mocks as AwsMocks;
}

/** Names of write operations sent to any mocked client, e.g. ['ecs:CreateCluster']. */
export function writeCalls(mocks: AwsMocks): string[] {
  return Object.entries(mocks).flatMap(([service, mock]) =>
    mock
      .calls()
      .map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, ''))
      .filter((operation) => classifyOperation(operation) === 'write')
      .map((operation) => `${service}:${operation}`),
  );
}

/** A recorder that remembers what a step wrote, for assertions. */
export class RecordingRecorder implements WriteRecorder {
  readonly writes: WriteDescription[] = [];
  async write<T>(description: WriteDescription, call: () => Promise<T>): Promise<T> {
    this.writes.push(description);
    return call();
  }
}

export function testContext(overrides: Partial<StepContext> = {}): StepContext {
  return {
    config: testConfig(),
    clients: createClients({ region: 'us-east-1' }),
    outputs: new Outputs(),
    recorder: passThroughRecorder,
    report: () => {},
    signal: new AbortController().signal,
    pollIntervalMs: 1,
    bindings: new Map(),
    ...overrides,
  };
}

/** An AWS service error as the SDK raises it: name, message, request id. */
export function awsError(name: string, message: string, requestId = 'req-0000-test'): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: 400, requestId },
  });
}

/** A create's change lists each top-level field it sets; as one document, for assertions. */
export function createdDocument(change: { fields?: Array<{ field: string; to: unknown }> }): Record<string, unknown> {
  return Object.fromEntries((change.fields ?? []).map((f) => [f.field, f.to]));
}
