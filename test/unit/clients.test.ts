// The client factory and the call-counting middleware (DESIGN.md §5). The middleware runs inside
// the SDK's real send (aws-sdk-client-mock would bypass it), so the counting tests send real
// commands to a local HTTP server on 127.0.0.1: loopback traffic only.
import { CreateClusterCommand, DescribeClustersCommand, ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import { DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { CallCounter, classifyOperation, countCalls, createClients, kindAwareRetryStrategy, withCallKind } from '../../src/aws/clients.js';

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
vi.mock('@aws-sdk/client-sts', async (original) => wrap(await original(), 'STSClient'));

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
      ['acm', 'autoscaling', 'cache', 'cloudwatch', 'counter', 'destroy', 'dynamodb', 'ec2', 'ecr', 'ecs', 'elbv2', 'iam', 'kms', 'lock', 'logs', 'rds', 'requests', 'secrets', 'ssm', 'sts'].sort(),
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
      await clients.ecs.send(new DescribeClustersCommand({ clusters: ['other'] })); // the same input would be the run's cache's
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

describe('retries: reads retry longer than writes, and each call is still counted once', () => {
  let server: Server;
  let endpointUrl: string;
  /** How many of the next requests the server fails with 503 (a transient error the SDK retries). */
  let failNext = 0;
  const operations: string[] = [];

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      req.resume();
      req.on('end', () => {
        const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
        operations.push(operation);
        const failing = failNext > 0;
        if (failing) failNext--;
        const body = JSON.stringify(
          failing
            ? { __type: 'ServiceUnavailableException', message: 'injected by the test server' }
            : operation === 'CreateCluster'
              ? { cluster: { clusterName: 'fintech-prod-cluster', status: 'ACTIVE' } }
              : { clusters: [], failures: [] },
        );
        res.writeHead(failing ? 503 : 200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': 'req-retry' });
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
    operations.length = 0;
    failNext = 0;
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'x');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'y');
    vi.stubEnv('AWS_SESSION_TOKEN', '');
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('a read outlasts five failures (more than a write may make) and counts as one read', async () => {
    const clients = createClients({ region: 'us-east-1', endpointUrl });
    try {
      failNext = 5;
      const result = await clients.ecs.send(new DescribeClustersCommand({}));
      expect(result.$metadata.attempts).toBe(6);
      expect(operations).toEqual(Array(6).fill('DescribeClusters'));
      expect(clients.counter.list()).toEqual([{ service: 'ecs', operation: 'DescribeClusters', kind: 'read', count: 1 }]);
    } finally {
      clients.destroy();
    }
  });

  it('a write gives up after five attempts and counts as one write', async () => {
    const clients = createClients({ region: 'us-east-1', endpointUrl });
    try {
      failNext = 100;
      const error = (await clients.ecs.send(new CreateClusterCommand({ clusterName: 'fintech-prod-cluster' })).catch((e: unknown) => e)) as { name: string; $metadata: { attempts: number } };
      expect(error.name).toBe('ServiceUnavailableException');
      expect(error.$metadata.attempts).toBe(5);
      expect(operations).toEqual(Array(5).fill('CreateCluster'));
      expect(clients.counter.list()).toEqual([{ service: 'ecs', operation: 'CreateCluster', kind: 'write', count: 1 }]);
    } finally {
      clients.destroy();
    }
  });

  it('an explicit maxAttempts applies to reads too (1: no retry at all)', async () => {
    const clients = createClients({ region: 'us-east-1', endpointUrl, maxAttempts: 1 });
    try {
      failNext = 1;
      const error = (await clients.ecs.send(new DescribeClustersCommand({})).catch((e: unknown) => e)) as { $metadata: { attempts: number } };
      expect(error.$metadata.attempts).toBe(1);
      expect(operations).toEqual(['DescribeClusters']);
      expect(await clients.ecs.config.maxAttempts()).toBe(1);
    } finally {
      clients.destroy();
    }
  });
});

describe('kindAwareRetryStrategy (fake timers: the backoff is not waited out)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** How many attempts a call of this kind gets when every attempt is throttled. */
  async function attemptsWhenAlwaysThrottled(kind: 'read' | 'write'): Promise<number> {
    vi.useFakeTimers();
    const { strategy } = kindAwareRetryStrategy({ reads: 10, writes: 5 });
    type Token = Parameters<typeof strategy.refreshRetryTokenForRetry>[0];
    let token = (await withCallKind(kind, () => strategy.acquireInitialRetryToken(''))) as Token;
    for (let attempts = 1; attempts <= 50; attempts++) {
      const next = withCallKind(kind, () => strategy.refreshRetryTokenForRetry(token, { errorType: 'THROTTLING' }));
      const settled = next.then(
        (t) => ({ token: t }),
        (error: unknown) => ({ error }),
      );
      await vi.advanceTimersByTimeAsync(60_000); // the backoff (up to 20 s) and the rate limiter's wait
      const outcome = await settled;
      if ('error' in outcome) return attempts;
      token = outcome.token as Token;
    }
    throw new Error('the strategy never gave up');
  }

  it('gives a throttled read 10 attempts and a throttled write 5', async () => {
    expect(await attemptsWhenAlwaysThrottled('read')).toBe(10);
    expect(await attemptsWhenAlwaysThrottled('write')).toBe(5);
  });

  it('is the adaptive strategy, and reports the write limit outside a call', async () => {
    const { strategy, maxAttempts } = kindAwareRetryStrategy({ reads: 10, writes: 5 });
    expect(strategy.mode).toBe('adaptive');
    expect(await maxAttempts()).toBe(5);
    expect(await withCallKind('read', maxAttempts)).toBe(10);
  });
});

describe('the environment lock\'s calls', () => {
  it('are counted apart (kind lock): "0 writes" still means the environment', () => {
    const counter = new CallCounter();
    counter.record('lock', 'PutItem');
    counter.record('ecs', 'CreateCluster');
    expect(counter.total('write')).toBe(1);
    expect(counter.total('lock')).toBe(1);
    expect(counter.list().find((c) => c.service === 'lock')?.kind).toBe('lock');
  });
});

describe('the per-run read cache', () => {
  it('an identical read is answered from the first reply; a write empties it; a fresh read is sent and replaces it', async () => {
    const { mockClient } = await import('aws-sdk-client-mock');
    const { ECSClient, DescribeClustersCommand, TagResourceCommand } = await import('@aws-sdk/client-ecs');
    const ecs = mockClient(ECSClient);
    ecs.on(DescribeClustersCommand).resolvesOnce({ clusters: [{ clusterName: 'first' }] }).resolves({ clusters: [{ clusterName: 'later' }] });
    ecs.on(TagResourceCommand).resolves({});
    const clients = createClients({ region: 'us-east-1' });
    const describe = async () => (await clients.ecs.send(new DescribeClustersCommand({ clusters: ['c'] }))).clusters?.[0]?.clusterName;
    expect(await describe()).toBe('first');
    expect(await describe()).toBe('first');
    await clients.ecs.send(new DescribeClustersCommand({ clusters: ['other'] })); // another input: sent
    expect(ecs.commandCalls(DescribeClustersCommand)).toHaveLength(2);
    expect(clients.cache.hits).toBe(1);
    // A poll's next look: sent, and what later reads get.
    expect(await clients.cache.fresh(describe)).toBe('later');
    expect(ecs.commandCalls(DescribeClustersCommand)).toHaveLength(3);
    expect(await describe()).toBe('later');
    expect(ecs.commandCalls(DescribeClustersCommand)).toHaveLength(3);
    await clients.ecs.send(new TagResourceCommand({ resourceArn: 'a', tags: [] }));
    await describe(); // after a write: sent again
    expect(ecs.commandCalls(DescribeClustersCommand)).toHaveLength(4);
    clients.cache.clear(); // what confirm() does once a person answered
    await describe();
    expect(ecs.commandCalls(DescribeClustersCommand)).toHaveLength(5);
    ecs.restore();
  });

  it("remembers AWS's \"there is none\" (a 4xx answer), not a throttled or failed read", async () => {
    const { mockClient } = await import('aws-sdk-client-mock');
    const { ECRClient, GetRepositoryPolicyCommand } = await import('@aws-sdk/client-ecr');
    const ecr = mockClient(ECRClient);
    const answer = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
    ecr.on(GetRepositoryPolicyCommand, { repositoryName: 'none' }).rejects(answer('RepositoryPolicyNotFoundException', 400));
    ecr
      .on(GetRepositoryPolicyCommand, { repositoryName: 'busy' })
      .rejectsOnce(answer('ThrottlingException', 400))
      .rejectsOnce(answer('InternalFailure', 500))
      .resolves({ policyText: '{}' });
    const clients = createClients({ region: 'us-east-1' });
    const get = (repositoryName: string) => clients.ecr.send(new GetRepositoryPolicyCommand({ repositoryName })).catch((e: Error) => e.name);
    expect(await get('none')).toBe('RepositoryPolicyNotFoundException');
    expect(await get('none')).toBe('RepositoryPolicyNotFoundException');
    expect(ecr.commandCalls(GetRepositoryPolicyCommand, { repositoryName: 'none' })).toHaveLength(1);
    expect(await get('busy')).toBe('ThrottlingException');
    expect(await get('busy')).toBe('InternalFailure');
    expect(await get('busy')).toMatchObject({ policyText: '{}' });
    expect(ecr.commandCalls(GetRepositoryPolicyCommand, { repositoryName: 'busy' })).toHaveLength(3);
    ecr.restore();
  });

  it('a read sent while a write is on its way is not served after the write is answered', async () => {
    const { mockClient } = await import('aws-sdk-client-mock');
    const { ECSClient, DescribeClustersCommand, TagResourceCommand } = await import('@aws-sdk/client-ecs');
    const ecs = mockClient(ECSClient);
    let answerWrite: () => void = () => {};
    ecs.on(DescribeClustersCommand).resolves({ clusters: [] });
    ecs.on(TagResourceCommand).callsFake(() => new Promise((resolve) => (answerWrite = () => resolve({}))));
    const clients = createClients({ region: 'us-east-1' });
    const describe = () => clients.ecs.send(new DescribeClustersCommand({ clusters: ['c'] }));
    const write = clients.ecs.send(new TagResourceCommand({ resourceArn: 'a', tags: [] }));
    await describe(); // may see the state before the write
    await describe();
    expect(ecs.commandCalls(DescribeClustersCommand)).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 0));
    answerWrite();
    await write;
    await describe(); // the write is answered: asked again
    expect(ecs.commandCalls(DescribeClustersCommand)).toHaveLength(2);
    ecs.restore();
  });
});

describe('nothing listening at the endpoint', () => {
  it('a refused connection is tried twice, not ten times, and the error names the refusal', async () => {
    const { createServer } = await import('node:net');
    // A port that was free a moment ago: nothing listens there now.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const clients = createClients({ region: 'us-east-1', endpointUrl: `http://127.0.0.1:${port}` });
    process.env.AWS_ACCESS_KEY_ID ??= 'testing';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
    const { DescribeClustersCommand } = await import('@aws-sdk/client-ecs');
    const error = (await clients.ecs.send(new DescribeClustersCommand({})).catch((e: unknown) => e)) as { code?: string; $metadata?: { attempts?: number } };
    expect(error.code).toBe('ECONNREFUSED');
    expect(error.$metadata?.attempts).toBe(2);
    clients.destroy();
  });
});

describe('an HTTP 5xx without an AWS error document', () => {
  it('is tried twice, not ten times (AWS always sends one; an emulator without the operation does not)', async () => {
    const { createServer } = await import('node:http');
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end('<html>not implemented</html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    process.env.AWS_ACCESS_KEY_ID ??= 'testing';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
    const clients = createClients({ region: 'us-east-1', endpointUrl: `http://127.0.0.1:${port}` });
    const { DescribeScalingActivitiesCommand } = await import('@aws-sdk/client-application-auto-scaling');
    const error = await clients.autoscaling.send(new DescribeScalingActivitiesCommand({ ServiceNamespace: 'ecs' })).catch((e: unknown) => e);
    server.close();
    clients.destroy();
    expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(500);
    expect(requests).toBe(2);
  });
});
