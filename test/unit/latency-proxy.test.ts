// The bench's latency proxy (scripts/latency-proxy.ts): it delays each request, forwards it
// untouched, logs service/operation/read, and counts repeated identical reads.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repeatedReads, startLatencyProxy, type LatencyProxy, type ProxiedRequest } from '../../scripts/latency-proxy.js';

let target: Server;
let targetUrl: string;
let proxy: LatencyProxy;
const received: string[] = [];

beforeAll(async () => {
  target = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push(body);
      res.writeHead(200, { 'content-type': 'application/json', 'x-echo': req.headers['x-amz-target'] ?? '' });
      res.end(JSON.stringify({ echoed: body }));
    });
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  const address = target.address();
  targetUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  proxy = await startLatencyProxy({ target: targetUrl, latencyMs: 0 });
});

afterAll(async () => {
  await proxy.close();
  await new Promise((resolve) => target.close(resolve));
});

const authorization = (service: string) => `AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=x`;

function send(headers: Record<string, string>, body: string) {
  return fetch(proxy.url, { method: 'POST', headers, body });
}

describe('latency proxy', () => {
  it('forwards the request and the reply untouched, after the added latency', async () => {
    proxy.setLatency(150);
    const started = Date.now();
    const reply = await send({ authorization: authorization('ecs'), 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.DescribeClusters', 'content-type': 'application/x-amz-json-1.1' }, '{"clusters":["a"]}');
    const elapsed = Date.now() - started;
    proxy.setLatency(0);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('x-echo')).toBe('AmazonEC2ContainerServiceV20141113.DescribeClusters');
    expect(await reply.json()).toEqual({ echoed: '{"clusters":["a"]}' });
    expect(elapsed).toBeGreaterThanOrEqual(145);
    expect(received.at(-1)).toBe('{"clusters":["a"]}');
    expect(proxy.takeLog()).toEqual([expect.objectContaining({ service: 'ecs', operation: 'DescribeClusters', read: true })]);
  });

  it('names query-protocol operations from Action= and logs writes as writes; takeLog starts a new log', async () => {
    const form = { authorization: authorization('iam'), 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
    await send(form, 'Action=CreateRole&RoleName=r&Version=2010-05-08');
    await send(form, 'Action=GetRole&RoleName=r&Version=2010-05-08');
    expect(proxy.takeLog().map((r) => [r.service, r.operation, r.read])).toEqual([
      ['iam', 'CreateRole', false],
      ['iam', 'GetRole', true],
    ]);
    expect(proxy.takeLog()).toEqual([]);
  });

  it('refuses a target that is not on loopback', async () => {
    await expect(startLatencyProxy({ target: 'http://emulator.example:4566', latencyMs: 0 })).rejects.toThrow(/loopback/);
  });
});

describe('repeatedReads', () => {
  const read = (operation: string, bodyHash: string, service = 'ecs'): ProxiedRequest => ({ service, operation, read: true, bodyHash, startMs: 0 });
  it('counts a read sent again with the same body, by operation; other bodies and writes are not repeats', () => {
    const log = [
      read('DescribeServices', 'a'),
      read('DescribeServices', 'a'),
      read('DescribeServices', 'a'),
      read('DescribeServices', 'b'),
      read('GetRole', 'a', 'iam'),
      { service: 'ecs', operation: 'UpdateService', read: false, bodyHash: 'c', startMs: 0 },
      { service: 'ecs', operation: 'UpdateService', read: false, bodyHash: 'c', startMs: 0 },
    ];
    const repeats = repeatedReads(log);
    expect(repeats.total).toBe(2);
    expect(Object.fromEntries(repeats.byOperation)).toEqual({ 'ecs:DescribeServices': 2 });
  });
});
