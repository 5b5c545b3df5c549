// A loopback HTTP forwarder for `npm run bench`: every AWS request waits `latencyMs` before it is
// forwarded to the emulator, standing for a real region's round trip (requests in flight at the
// same time wait side by side, as they would). It logs each request — service, operation, a hash
// of its body — so the bench can count reads, writes and repeated identical reads per run.
// test/helpers/fault-proxy.ts is the model; this one injects no faults and only targets loopback.
import { createHash } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { listenOnLoopback } from './loopback-server.js';

export interface ProxiedRequest {
  /** The SigV4 signing name (ecs, ecr, iam, elasticloadbalancing, ...). */
  service: string;
  /** x-amz-target's operation, or Action= of a query request. */
  operation: string;
  read: boolean;
  /** sha256 of the body: the same operation with the same body is the same read. */
  bodyHash: string;
  /** When the request arrived and when its answer was sent, ms since the proxy started (a timeline). */
  startMs: number;
  endMs?: number;
}

export interface LatencyProxy {
  url: string;
  setLatency(ms: number): void;
  /** The proxy's clock (ms since it started): what startMs and endMs are measured on. */
  now(): number;
  /** The requests since the last call (the log starts empty again). */
  takeLog(): ProxiedRequest[];
  close(): Promise<void>;
}

const READ_PREFIXES = ['Describe', 'List', 'Get', 'BatchGet', 'Filter', 'Lookup'];

function header(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

function classify(headers: IncomingHttpHeaders, body: Buffer): Omit<ProxiedRequest, 'bodyHash' | 'startMs' | 'endMs'> {
  const service = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(header(headers, 'authorization'))?.[1] ?? '';
  const target = header(headers, 'x-amz-target');
  const operation = target
    ? target.slice(target.lastIndexOf('.') + 1)
    : header(headers, 'content-type').startsWith('application/x-www-form-urlencoded')
      ? (new URLSearchParams(body.toString('utf8')).get('Action') ?? '')
      : '';
  return { service, operation, read: READ_PREFIXES.some((p) => operation.startsWith(p)) };
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'expect']);

export async function startLatencyProxy(options: { target: string; latencyMs: number }): Promise<LatencyProxy> {
  const target = new URL(options.target);
  if (!['127.0.0.1', 'localhost'].includes(target.hostname)) throw new Error(`latency proxy: target must be on loopback, got ${options.target}`);
  let latency = options.latencyMs;
  const origin = performance.now();
  const now = () => performance.now() - origin;
  let log: ProxiedRequest[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      let entry: ProxiedRequest | undefined;
      if (!(req.url ?? '').startsWith('/moto-api')) {
        entry = { ...classify(req.headers, body), bodyHash: createHash('sha256').update(body).digest('hex'), startMs: now() };
        log.push(entry);
      }
      if (latency > 0) await new Promise((r) => setTimeout(r, latency));
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      headers['content-length'] = String(body.length);
      const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, async (reply) => {
        const answer = await readBody(reply);
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(reply.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
        out['content-length'] = String(answer.length);
        res.writeHead(reply.statusCode ?? 502, out);
        res.end(answer);
        if (entry) entry.endMs = now();
      });
      upstream.on('error', (error) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`latency proxy: ${error.message}`);
      });
      upstream.end(body);
    })();
  });
  const { port, close } = await listenOnLoopback(server, agent);
  return {
    url: `http://127.0.0.1:${port}`,
    setLatency(ms: number) {
      latency = ms;
    },
    now,
    takeLog() {
      const taken = log;
      log = [];
      return taken;
    },
    close,
  };
}

/** Reads sent more than once with the same body in one run, by operation (`ecs:DescribeServices` -> extra copies). */
export function repeatedReads(log: ProxiedRequest[]): { total: number; byOperation: Map<string, number> } {
  const seen = new Map<string, number>();
  const byOperation = new Map<string, number>();
  for (const r of log.filter((r) => r.read)) {
    const key = `${r.service}:${r.operation}:${r.bodyHash}`;
    const count = (seen.get(key) ?? 0) + 1;
    seen.set(key, count);
    if (count > 1) byOperation.set(`${r.service}:${r.operation}`, (byOperation.get(`${r.service}:${r.operation}`) ?? 0) + 1);
  }
  return { total: [...byOperation.values()].reduce((a, b) => a + b, 0), byOperation };
}
