// The fault-injection proxy itself (test/helpers/fault-proxy.ts), against a tiny local server:
// each fault behaves as specified, the same seed replays the same faults, and the AWS SDK v3
// parses every injected error the way it parses AWS's own (throttling is retried as throttling).
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { CloudWatchClient, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import { DescribeLoadBalancersCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyRequest, startFaultProxy, type FaultKind, type FaultProxy } from '../helpers/fault-proxy.js';

// The SDK's "Node 22 from 2027" notice says nothing about the proxy.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// The SDK's throttling codes (@smithy/core retry THROTTLING_ERROR_CODES) that these protocols use.
const THROTTLING_CODES = ['Throttling', 'ThrottlingException', 'RequestLimitExceeded'];

/** A stand-in AWS endpoint: counts requests and answers each protocol with an empty success. */
let backend: Server;
let backendUrl = '';
const received: Array<{ operation: string; body: string }> = [];

function cannedSuccess(headers: IncomingHttpHeaders, body: Buffer): { type: string; body: string } {
  const { operation, protocol } = classifyRequest(headers, body);
  if (protocol === 'json') return { type: String(headers['content-type'] ?? 'application/x-amz-json-1.1'), body: '{}' };
  if (protocol === 'ec2') return { type: 'text/xml', body: `<${operation}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId></${operation}Response>` };
  if (protocol === 'query') {
    return { type: 'text/xml', body: `<${operation}Response><${operation}Result></${operation}Result><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></${operation}Response>` };
  }
  return { type: 'text/plain', body: `echo ${body.toString('utf8')}` };
}

beforeAll(async () => {
  backend = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({ operation: classifyRequest(req.headers, body).operation, body: body.toString('utf8') });
      const answer = cannedSuccess(req.headers, body);
      res.writeHead(200, { 'content-type': answer.type, 'x-backend': 'yes' });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const address = backend.address();
  backendUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(() => new Promise<void>((resolve) => backend.close(() => resolve())));

interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request on a fresh connection; rejects with the socket error when the proxy cuts it. */
function send(url: string, options: { path?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = request(
      { host: target.hostname, port: target.port, method: 'POST', path: options.path ?? '/', headers: options.headers ?? {}, agent: false },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body ?? '');
  });
}

const jsonRequest = (operation: string) => ({
  headers: { 'x-amz-target': `AmazonEC2ContainerServiceV20141113.${operation}`, 'content-type': 'application/x-amz-json-1.1' },
  body: '{}',
});
const queryRequest = (action: string) => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x' },
  body: `Action=${action}&Version=2010-05-08`,
});

async function withProxy<T>(options: { rate: number; kinds?: FaultKind[]; seed?: number; onlyWrites?: boolean; recordBodies?: boolean }, body: (proxy: FaultProxy) => Promise<T>): Promise<T> {
  const proxy = await startFaultProxy({ target: backendUrl, seed: options.seed ?? 1, ...options });
  try {
    return await body(proxy);
  } finally {
    await proxy.close();
  }
}

describe('fault proxy', () => {
  it('forwards untouched at rate 0 and records method, service, operation', async () => {
    await withProxy({ rate: 0 }, async (proxy) => {
      const before = received.length;
      const reply = await send(proxy.url, queryRequest('ListRoles'));
      expect(reply.status).toBe(200);
      expect(reply.headers['x-backend']).toBe('yes');
      expect(reply.body).toContain('<ListRolesResponse>');
      expect(received.length).toBe(before + 1);
      expect(received.at(-1)!.body).toBe('Action=ListRoles&Version=2010-05-08');
      expect(proxy.log()).toEqual([expect.objectContaining({ seq: 1, method: 'POST', service: 'iam', operation: 'ListRoles', protocol: 'query', injected: null, status: 200 })]);
      expect(proxy.stats()).toMatchObject({ total: 1, forwarded: 1, reachedTarget: 1, throttle: 0, lostReply: 0 });
    });
  });

  it('throttle: 400 with the JSON protocol error, not forwarded', async () => {
    await withProxy({ rate: 1, kinds: ['throttle'] }, async (proxy) => {
      const before = received.length;
      const reply = await send(proxy.url, jsonRequest('CreateCluster'));
      expect(reply.status).toBe(400);
      expect(reply.headers['x-amzn-errortype']).toBe('ThrottlingException');
      expect(reply.headers['content-type']).toBe('application/x-amz-json-1.1');
      expect(JSON.parse(reply.body)).toEqual({ __type: 'ThrottlingException', message: 'Rate exceeded' });
      expect(received.length).toBe(before);
      expect(proxy.faults()).toEqual([expect.objectContaining({ operation: 'CreateCluster', protocol: 'json', injected: 'throttle', status: 400 })]);
    });
  });

  it('throttle: 400 with the query protocol error (Sender/Throttling), not forwarded', async () => {
    await withProxy({ rate: 1, kinds: ['throttle'] }, async (proxy) => {
      const reply = await send(proxy.url, queryRequest('CreateRole'));
      expect(reply.status).toBe(400);
      expect(reply.body).toMatch(/^<ErrorResponse><Error><Type>Sender<\/Type><Code>Throttling<\/Code><Message>Rate exceeded<\/Message><\/Error><RequestId>[0-9a-f-]+<\/RequestId><\/ErrorResponse>$/);
      expect(proxy.stats()).toMatchObject({ total: 1, forwarded: 0, reachedTarget: 0, throttle: 1 });
    });
  });

  it.each([
    ['error500', 500, 'InternalFailure'],
    ['error503', 503, 'ServiceUnavailable'],
  ] as const)('%s: %i %s in both protocols, not forwarded', async (kind, status, code) => {
    await withProxy({ rate: 1, kinds: [kind] }, async (proxy) => {
      const before = received.length;
      const json = await send(proxy.url, jsonRequest('RegisterTaskDefinition'));
      expect(json.status).toBe(status);
      expect(JSON.parse(json.body).__type).toBe(code);
      const query = await send(proxy.url, queryRequest('CreateRole'));
      expect(query.status).toBe(status);
      expect(query.body).toContain(`<Code>${code}</Code>`);
      expect(received.length).toBe(before);
      expect(proxy.stats()[kind]).toBe(2);
    });
  });

  it('reset: the connection is cut and the request never reaches the target', async () => {
    await withProxy({ rate: 1, kinds: ['reset'] }, async (proxy) => {
      const before = received.length;
      await expect(send(proxy.url, jsonRequest('CreateCluster'))).rejects.toMatchObject({ code: 'ECONNRESET' });
      await new Promise((r) => setTimeout(r, 50));
      expect(received.length).toBe(before);
      expect(proxy.stats()).toMatchObject({ reset: 1, reachedTarget: 0 });
    });
  });

  it('lostReply: the target gets and answers the request, the client gets a cut connection', async () => {
    await withProxy({ rate: 1, kinds: ['lostReply'] }, async (proxy) => {
      const before = received.length;
      await expect(send(proxy.url, jsonRequest('CreateCluster'))).rejects.toMatchObject({ code: 'ECONNRESET' });
      expect(received.length).toBe(before + 1);
      expect(received.at(-1)!.operation).toBe('CreateCluster');
      expect(proxy.faults()).toEqual([expect.objectContaining({ operation: 'CreateCluster', injected: 'lostReply', status: 200 })]);
      expect(proxy.stats()).toMatchObject({ lostReply: 1, forwarded: 0, reachedTarget: 1 });
    });
  });

  it("never injects into moto's control endpoints (/moto-api/...)", async () => {
    await withProxy({ rate: 1 }, async (proxy) => {
      const reply = await send(proxy.url, { path: '/moto-api/reset', body: 'x' });
      expect(reply.status).toBe(200);
      expect(reply.body).toBe('echo x');
      expect(proxy.stats()).toMatchObject({ total: 0, control: 1 });
    });
  });

  it('onlyWrites: reads pass, writes get faults', async () => {
    await withProxy({ rate: 1, kinds: ['error500'], onlyWrites: true }, async (proxy) => {
      expect((await send(proxy.url, jsonRequest('DescribeClusters'))).status).toBe(200);
      expect((await send(proxy.url, queryRequest('GetRole'))).status).toBe(200);
      expect((await send(proxy.url, jsonRequest('CreateService'))).status).toBe(500);
      expect(proxy.log().map((r) => `${r.operation}:${r.injected}`)).toEqual(['DescribeClusters:null', 'GetRole:null', 'CreateService:error500']);
    });
  });

  it('match: only the requests it selects may get a fault (a targeted fault)', async () => {
    let done = false;
    const proxy = await startFaultProxy({
      target: backendUrl,
      rate: 1,
      seed: 1,
      kinds: ['lostReply'],
      match: (r) => r.operation === 'CreateListener' && !done,
      onRequest: (r) => (done ||= r.injected !== null),
    });
    try {
      for (const op of ['CreateTargetGroup', 'CreateListener', 'CreateListener']) await send(proxy.url, jsonRequest(op)).catch(() => undefined);
      expect(proxy.log().map((r) => `${r.operation}:${r.injected}`)).toEqual(['CreateTargetGroup:null', 'CreateListener:lostReply', 'CreateListener:null']);
      expect(proxy.log()[0].body).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });

  it('recordBodies keeps each request body in its record', async () => {
    await withProxy({ rate: 0, recordBodies: true }, async (proxy) => {
      await send(proxy.url, queryRequest('GetRole'));
      expect(proxy.log()[0].body).toBe('Action=GetRole&Version=2010-05-08');
    });
  });

  it('the same seed gives the same sequence of faults; another seed another', async () => {
    const sequence = async (seed: number) =>
      withProxy({ rate: 0.4, seed }, async (proxy) => {
        for (let i = 0; i < 40; i++) await send(proxy.url, jsonRequest(`Op${i}`)).catch(() => undefined);
        return proxy.log().map((r) => r.injected);
      });
    const first = await sequence(7);
    expect(await sequence(7)).toEqual(first);
    expect(await sequence(8)).not.toEqual(first);
    const faults = first.filter(Boolean).length;
    expect(faults).toBeGreaterThan(5); // ~16 expected at 40 %
    expect(faults).toBeLessThan(30);
    expect(new Set(first.filter(Boolean)).size).toBeGreaterThan(2); // several kinds drawn
  });

  it('refuses a target off loopback and a rate outside [0, 1]', async () => {
    await expect(startFaultProxy({ target: 'http://10.0.0.1:80', rate: 0, seed: 1 })).rejects.toThrow(/loopback/);
    await expect(startFaultProxy({ target: backendUrl, rate: 1.5, seed: 1 })).rejects.toThrow(/rate/);
  });
});

describe('the AWS SDK v3 against the injected faults', () => {
  const clientConfig = (endpoint: string, maxAttempts: number) => ({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    maxAttempts,
  });
  // One client per protocol family the runbook uses: awsJson1_1, awsJson1_0, awsJson1_0 with
  // query compatibility (CloudWatch), awsQuery, ec2Query.
  const calls: Array<[string, (endpoint: string, maxAttempts: number) => Promise<{ $metadata: { attempts?: number } }>]> = [
    ['ECS (awsJson1_1)', (e, m) => new ECSClient(clientConfig(e, m)).send(new ListClustersCommand({}))],
    ['ECR (awsJson1_1)', (e, m) => new ECRClient(clientConfig(e, m)).send(new DescribeRepositoriesCommand({}))],
    ['CloudWatch Logs (awsJson1_1)', (e, m) => new CloudWatchLogsClient(clientConfig(e, m)).send(new DescribeLogGroupsCommand({}))],
    ['DynamoDB (awsJson1_0)', (e, m) => new DynamoDBClient(clientConfig(e, m)).send(new ListTablesCommand({}))],
    ['CloudWatch (awsJson1_0, query-compatible)', (e, m) => new CloudWatchClient(clientConfig(e, m)).send(new ListMetricsCommand({}))],
    ['IAM (awsQuery)', (e, m) => new IAMClient(clientConfig(e, m)).send(new ListRolesCommand({}))],
    ['ELBv2 (awsQuery)', (e, m) => new ElasticLoadBalancingV2Client(clientConfig(e, m)).send(new DescribeLoadBalancersCommand({}))],
    ['EC2 (ec2Query)', (e, m) => new EC2Client(clientConfig(e, m)).send(new DescribeVpcsCommand({}))],
  ];

  it.each(calls)('%s: an injected throttle is a throttling error the SDK retries', async (name, call) => {
    // Every attempt throttled: the SDK gives up after maxAttempts with a throttling error.
    const error = await withProxy({ rate: 1, kinds: ['throttle'] }, (proxy) => call(proxy.url, 2).then(() => undefined, (e: unknown) => e));
    expect(error).toBeDefined();
    expect(THROTTLING_CODES).toContain((error as Error).name);
    expect((error as Error).name).toBe(name.startsWith('EC2') ? 'RequestLimitExceeded' : /Query|query/.test(name) ? 'Throttling' : 'ThrottlingException');
    expect((error as Error).message).toMatch(/Rate exceeded|Request limit exceeded/);
    expect((error as { $metadata: { attempts: number } }).$metadata.attempts).toBe(2);
    // One throttle, then the endpoint answers: the retry succeeds.
    const proxy = await startFaultProxy({ target: backendUrl, rate: 1, seed: 1, kinds: ['throttle'], onRequest: () => proxy.setRate(0) });
    try {
      const output = await call(proxy.url, 3);
      expect(output.$metadata.attempts).toBe(2);
      expect(proxy.log().map((r) => r.injected)).toEqual(['throttle', null]);
    } finally {
      await proxy.close();
    }
  });

  it.each(['error500', 'error503', 'reset', 'lostReply'] as const)('%s is retried by the SDK in both protocol families', async (kind) => {
    for (const [, call] of [calls[0], calls[5], calls[7]]) {
      const proxy = await startFaultProxy({ target: backendUrl, rate: 1, seed: 1, kinds: [kind], onRequest: () => proxy.setRate(0) });
      try {
        const output = await call(proxy.url, 3);
        expect(output.$metadata.attempts).toBe(2);
        expect(proxy.log().map((r) => r.injected)).toEqual([kind, null]);
      } finally {
        await proxy.close();
      }
    }
  });
});
