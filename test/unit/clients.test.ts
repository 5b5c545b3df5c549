// The client factory and the call-counting middleware (DESIGN.md §5). The middleware runs inside
// the SDK's real send (aws-sdk-client-mock would bypass it), so the counting tests send real
// commands to a local HTTP server on 127.0.0.1: loopback traffic only.
import { CreateClusterCommand, DescribeClustersCommand, ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import { DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { CallCounter, classifyOperation, countCalls, createClients } from '../../src/aws/clients.js';

// Count client constructions, to prove createClients builds a client only when it is used.
const { constructed, wrap } = vi.hoisted(() => {
  const constructed: string[] = [];
  const wrap = (mod: Record<string, unknown>, name: string) => {
    const Original = mod[name] as new (...args: unknown[]) => object;
    class Counted extends Original {
      constructor(...args: unknown[]) {
        super(...args);
        constructed.push(name);
      }
    }
    return { ...mod, [name]: Counted };
  };
  return { constructed, wrap };
});
vi.mock('@aws-sdk/client-acm', async (original) => wrap(await original(), 'ACMClient'));
vi.mock('@aws-sdk/client-application-auto-scaling', async (original) => wrap(await original(), 'ApplicationAutoScalingClient'));
vi.mock('@aws-sdk/client-cloudwatch', async (original) => wrap(await original(), 'CloudWatchClient'));
vi.mock('@aws-sdk/client-cloudwatch-logs', async (original) => wrap(await original(), 'CloudWatchLogsClient'));
vi.mock('@aws-sdk/client-dynamodb', async (original) => wrap(await original(), 'DynamoDBClient'));
vi.mock('@aws-sdk/client-ec2', async (original) => wrap(await original(), 'EC2Client'));
vi.mock('@aws-sdk/client-ecr', async (original) => wrap(await original(), 'ECRClient'));
vi.mock('@aws-sdk/client-ecs', async (original) => wrap(await original(), 'ECSClient'));
vi.mock('@aws-sdk/client-elastic-load-balancing-v2', async (original) => wrap(await original(), 'ElasticLoadBalancingV2Client'));
vi.mock('@aws-sdk/client-iam', async (original) => wrap(await original(), 'IAMClient'));
vi.mock('@aws-sdk/client-kms', async (original) => wrap(await original(), 'KMSClient'));
vi.mock('@aws-sdk/client-rds', async (original) => wrap(await original(), 'RDSClient'));
vi.mock('@aws-sdk/client-secrets-manager', async (original) => wrap(await original(), 'SecretsManagerClient'));

describe('classifyOperation', () => {
  it.each(['DescribeClusters', 'DescribeServices', 'ListTaskDefinitions', 'GetRole', 'GetSecretValue', 'BatchGetImage', 'FilterLogEvents', 'LookupEvents'])(
    '%s is a read',
    (operation) => expect(classifyOperation(operation)).toBe('read'),
  );

  it.each([
    'CreateCluster',
    'PutRolePolicy',
    'PutMetricData',
    'UpdateService',
    'DeleteService',
    'RegisterTaskDefinition',
    'DeregisterTaskDefinition',
    'TagResource',
    'UntagResource',
    'BatchDeleteImage',
    'ModifyListener',
    'AssociateKmsKey',
  ])('%s is a write', (operation) => expect(classifyOperation(operation)).toBe('write'));
});

describe('CallCounter', () => {
  it('totals per kind and lists per service and operation, sorted', () => {
    const counter = new CallCounter();
    counter.record('ecs', 'DescribeServices');
    counter.record('ecs', 'UpdateService');
    counter.record('ecs', 'DescribeServices');
    counter.record('ecr', 'BatchGetImage');
    counter.record('iam', 'PutRolePolicy');

    expect(counter.total()).toBe(5);
    expect(counter.total('read')).toBe(3);
    expect(counter.total('write')).toBe(2);
    expect(counter.list()).toEqual([
      { service: 'ecr', operation: 'BatchGetImage', kind: 'read', count: 1 },
      { service: 'ecs', operation: 'DescribeServices', kind: 'read', count: 2 },
      { service: 'ecs', operation: 'UpdateService', kind: 'write', count: 1 },
      { service: 'iam', operation: 'PutRolePolicy', kind: 'write', count: 1 },
    ]);
    expect(counter.writes()).toEqual([
      { service: 'ecs', operation: 'UpdateService', kind: 'write', count: 1 },
      { service: 'iam', operation: 'PutRolePolicy', kind: 'write', count: 1 },
    ]);
  });

  it('starts empty', () => {
    const counter = new CallCounter();
    expect(counter.list()).toEqual([]);
    expect(counter.total()).toBe(0);
    expect(counter.total('write')).toBe(0);
  });
});

describe('createClients', () => {
  beforeEach(() => {
    constructed.length = 0;
  });

  it('builds no client until one is used, then builds only that one, once', async () => {
    const counter = new CallCounter();
    const clients = createClients({ region: 'eu-west-1' }, counter);
    expect(constructed).toEqual([]);
    expect(clients.counter).toBe(counter);
    clients.destroy(); // destroying before any use is harmless
    expect(constructed).toEqual([]);

    const ecs = clients.ecs;
    expect(ecs).toBeInstanceOf(ECSClient);
    expect(clients.ecs).toBe(ecs);
    expect(constructed).toEqual(['ECSClient']);
    expect(await ecs.config.region()).toBe('eu-west-1');
    expect(await ecs.config.maxAttempts()).toBe(5);
    expect(((await ecs.config.retryStrategy()) as { mode?: string }).mode).toBe('adaptive');

    void clients.ecr;
    expect(constructed).toEqual(['ECSClient', 'ECRClient']);
    clients.destroy();
  });

  it('lists every client name without building any', () => {
    const clients = createClients({ region: 'us-east-1' });
    expect(Object.keys(clients).sort()).toEqual(
      ['acm', 'autoscaling', 'cloudwatch', 'counter', 'destroy', 'dynamodb', 'ec2', 'ecr', 'ecs', 'elbv2', 'iam', 'kms', 'logs', 'rds', 'secrets'].sort(),
    );
    expect(constructed).toEqual([]);
  });

  it('passes maxAttempts through', async () => {
    const clients = createClients({ region: 'us-east-1', maxAttempts: 2 });
    expect(await clients.iam.config.maxAttempts()).toBe(2);
    clients.destroy();
  });
});

describe('the counting middleware (real sends to a loopback server)', () => {
  let server: Server;
  let endpointUrl: string;
  const received: Array<{ target: string | undefined; contentType: string | undefined; authorization: string | undefined }> = [];

  const replies: Record<string, { status: number; body: unknown }> = {
    'AmazonEC2ContainerServiceV20141113.DescribeClusters': { status: 200, body: { clusters: [], failures: [] } },
    'AmazonEC2ContainerServiceV20141113.CreateCluster': { status: 200, body: { cluster: { clusterName: 'fintech-prod-cluster', status: 'ACTIVE' } } },
    'AmazonEC2ContainerRegistry_V20150921.DescribeRepositories': { status: 200, body: { repositories: [] } },
  };

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      req.resume();
      req.on('end', () => {
        const target = req.headers['x-amz-target'] as string | undefined;
        received.push({ target, contentType: req.headers['content-type'], authorization: req.headers.authorization });
        const reply = (target ? replies[target] : undefined) ?? { status: 400, body: { __type: 'ClientException', message: 'not supported by this test server' } };
        const body = JSON.stringify(reply.body);
        res.writeHead(reply.status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': 'req-loopback' });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpointUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    received.length = 0;
    // The SDK's default chain takes credentials from the environment first: no profile, no IMDS.
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'x');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'y');
    vi.stubEnv('AWS_SESSION_TOKEN', '');
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('records ecs:DescribeClusters as one read when the command is sent', async () => {
    const clients = createClients({ region: 'us-east-1', endpointUrl, maxAttempts: 1 });
    try {
      const result = await clients.ecs.send(new DescribeClustersCommand({ clusters: ['fintech-prod-cluster'] }));
      expect(result.clusters).toEqual([]);
      expect(result.$metadata.requestId).toBe('req-loopback');
      expect(received).toEqual([
        { target: 'AmazonEC2ContainerServiceV20141113.DescribeClusters', contentType: 'application/x-amz-json-1.1', authorization: expect.stringContaining('Credential=x/') },
      ]);
      expect(clients.counter.list()).toEqual([{ service: 'ecs', operation: 'DescribeClusters', kind: 'read', count: 1 }]);
      expect(clients.counter.total('read')).toBe(1);
      expect(clients.counter.total('write')).toBe(0);
    } finally {
      clients.destroy();
    }
  });

  it('counts writes, every send, per service, and a call that fails too', async () => {
    const clients = createClients({ region: 'us-east-1', endpointUrl, maxAttempts: 1 });
    try {
      await clients.ecs.send(new DescribeClustersCommand({}));
      await clients.ecs.send(new DescribeClustersCommand({}));
      await clients.ecs.send(new CreateClusterCommand({ clusterName: 'fintech-prod-cluster' }));
      await clients.ecr.send(new DescribeRepositoriesCommand({}));
      await clients.ecs.send(new CreateClusterCommand({ clusterName: 'fintech-prod-cluster' }));
      // The server does not know ListClusters: a call that fails is still a call made.
      const error = await clients.ecs.send(new ListClustersCommand({})).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'ClientException' });

      expect(received.map((r) => r.target?.split('.')[1])).toEqual(['DescribeClusters', 'DescribeClusters', 'CreateCluster', 'DescribeRepositories', 'CreateCluster', 'ListClusters']);
      expect(clients.counter.list()).toEqual([
        { service: 'ecr', operation: 'DescribeRepositories', kind: 'read', count: 1 },
        { service: 'ecs', operation: 'CreateCluster', kind: 'write', count: 2 },
        { service: 'ecs', operation: 'DescribeClusters', kind: 'read', count: 2 },
        { service: 'ecs', operation: 'ListClusters', kind: 'read', count: 1 },
      ]);
      expect(clients.counter.total('write')).toBe(2);
      expect(clients.counter.total('read')).toBe(4);
    } finally {
      clients.destroy();
    }
  });

  it('countCalls adds the same middleware to a client built elsewhere', async () => {
    const counter = new CallCounter();
    const ecs = new ECSClient({ region: 'us-east-1', endpoint: endpointUrl, credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, maxAttempts: 1 });
    countCalls(ecs, 'ecs', counter);
    try {
      await ecs.send(new DescribeClustersCommand({}));
      expect(counter.list()).toEqual([{ service: 'ecs', operation: 'DescribeClusters', kind: 'read', count: 1 }]);
    } finally {
      ecs.destroy();
    }
  });
});
