// A loopback fault-injecting HTTP proxy for the e2e suites: the CLI talks to it with
// `--endpoint-url <proxy.url>` and it forwards to moto, except that with probability `rate` per
// request (a seeded PRNG, so a seed replays the same decisions) it injects one of:
//
//   throttle   the protocol's throttling error, HTTP 400, not forwarded (EC2: RequestLimitExceeded, 503, as EC2 does)
//   error500   InternalFailure, HTTP 500, not forwarded
//   error503   ServiceUnavailable, HTTP 503, not forwarded
//   reset      the client's socket is reset after the request was read; it never reached the target
//   lostReply  the request is forwarded, the target's whole response is read (the request took
//              effect), then the client's socket is reset without an answer: the SDK retries a
//              request that already happened, which is how real "ambiguous writes" look
//
// Built on node:http on purpose: the HTTP mocking/proxy packages on npm (mockttp, http-proxy,
// toxiproxy clients, nock, msw) can answer with canned errors or cut connections, but none of
// them forwards a request, waits for the upstream reply and then drops it (lostReply) without
// hooking into their internals; toxiproxy also needs its own server binary. This file is small
// and has no dependency beyond Node.
//
// moto's own control endpoints (/moto-api/...) are always forwarded untouched.
import { randomUUID } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { listenOnLoopback } from '../../scripts/loopback-server.js';

export type FaultKind = 'throttle' | 'error500' | 'error503' | 'reset' | 'lostReply';
export const ALL_FAULT_KINDS: readonly FaultKind[] = ['throttle', 'error500', 'error503', 'reset', 'lostReply'];

/** How the AWS SDK will parse an error answer to this request. */
export type WireProtocol = 'json' | 'query' | 'ec2' | 'other';

export interface FaultProxyOptions {
  /** Where requests go, e.g. moto's `http://127.0.0.1:<port>`. */
  target: string;
  /** Probability in [0, 1] that a request gets a fault. */
  rate: number;
  /** PRNG seed: the same seed makes the same decisions for the same sequence of requests. */
  seed: number;
  /** The faults to pick from (uniformly); default all of them. */
  kinds?: readonly FaultKind[];
  /** Inject only into write operations (anything not Describe/List/Get/BatchGet/Filter/Lookup). */
  onlyWrites?: boolean;
  /**
   * Only requests this returns true for may get a fault (e.g. "the first CreateListener"); the
   * PRNG is drawn only for those. Combine with rate 1 for a targeted, deterministic fault.
   */
  match?: (request: Pick<RequestRecord, 'seq' | 'method' | 'path' | 'service' | 'operation'>) => boolean;
  /** Keep each request's body in its record (off by default: bodies may carry values worth not logging). */
  recordBodies?: boolean;
  /** Called with each request's record once the fault decision is made (before it is answered). */
  onRequest?: (record: RequestRecord) => void;
}

export interface RequestRecord {
  seq: number;
  /** ms since the proxy started. */
  at: number;
  method: string;
  path: string;
  /** The SigV4 signing name from the Authorization header (ecs, ecr, iam, elasticloadbalancing, ...). */
  service: string;
  /** x-amz-target's operation, or Action= of a query request; '' when neither. */
  operation: string;
  protocol: WireProtocol;
  /** The fault injected, or null when the request was forwarded untouched. */
  injected: FaultKind | null;
  /** Status the target answered (forwarded and lostReply), or the injected status. */
  status?: number;
  /** The target's error code when it answered >= 400 (e.g. RepositoryAlreadyExistsException). */
  targetError?: string;
  /** Upstream failure (target unreachable): the client got a 502. */
  proxyError?: string;
  /** The request body, with recordBodies only. */
  body?: string;
}

export interface FaultStats {
  total: number;
  /** Forwarded untouched and answered. */
  forwarded: number;
  /** Reached the target: forwarded + lostReply. */
  reachedTarget: number;
  throttle: number;
  error500: number;
  error503: number;
  reset: number;
  lostReply: number;
  /** /moto-api/... requests (never faulted). */
  control: number;
}

export interface FaultProxy {
  url: string;
  port: number;
  stats(): FaultStats;
  /** Every request so far, oldest first. */
  log(): RequestRecord[];
  /** Only the requests that got a fault. */
  faults(): RequestRecord[];
  setRate(rate: number): void;
  close(): Promise<void>;
}

/** mulberry32: a tiny, well-distributed 32-bit PRNG; the seed fully determines the sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const READ_PREFIXES = ['Describe', 'List', 'Get', 'BatchGet', 'Filter', 'Lookup'];
export const isReadOperation = (operation: string): boolean => READ_PREFIXES.some((p) => operation.startsWith(p));

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Service, operation and wire protocol of an AWS SDK request. */
export function classifyRequest(headers: IncomingHttpHeaders, body: Buffer): { service: string; operation: string; protocol: WireProtocol } {
  const service = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(header(headers, 'authorization') ?? '')?.[1] ?? '';
  const target = header(headers, 'x-amz-target');
  if (target) return { service, operation: target.slice(target.lastIndexOf('.') + 1), protocol: 'json' };
  if ((header(headers, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded')) {
    const params = new URLSearchParams(body.toString('utf8'));
    const ec2 = service === 'ec2' || params.get('Version') === '2016-11-15';
    return { service, operation: params.get('Action') ?? '', protocol: ec2 ? 'ec2' : 'query' };
  }
  return { service, operation: '', protocol: 'other' };
}

interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const QUERY_CODES = {
  throttle: { code: 'Throttling', type: 'Sender', message: 'Rate exceeded' },
  error500: { code: 'InternalFailure', type: 'Receiver', message: 'We encountered an internal error. Please try again.' },
  error503: { code: 'ServiceUnavailable', type: 'Receiver', message: 'Service is unavailable. Please try again later.' },
} as const;
const JSON_CODES = {
  throttle: { code: 'ThrottlingException', message: 'Rate exceeded' },
  error500: { code: 'InternalFailure', message: 'We encountered an internal error. Please try again.' },
  error503: { code: 'ServiceUnavailable', message: 'Service is unavailable. Please try again later.' },
} as const;
const EC2_CODES = {
  throttle: { status: 503, code: 'RequestLimitExceeded', message: 'Request limit exceeded.' },
  error500: { status: 500, code: 'InternalError', message: 'An internal error has occurred.' },
  error503: { status: 503, code: 'Unavailable', message: 'The server is overloaded and can\'t handle the request.' },
} as const;
const STATUS = { throttle: 400, error500: 500, error503: 503 } as const;

/** The error answer AWS gives for this kind in this request's protocol, as the SDK v3 parses it. */
export function errorAnswer(kind: 'throttle' | 'error500' | 'error503', protocol: WireProtocol, headers: IncomingHttpHeaders): ErrorAnswer {
  const requestId = randomUUID();
  if (protocol === 'json') {
    const { code, message } = JSON_CODES[kind];
    const answer: ErrorAnswer = {
      status: STATUS[kind],
      headers: { 'content-type': header(headers, 'content-type') ?? 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId, 'x-amzn-errortype': code },
      body: JSON.stringify({ __type: code, message }),
    };
    // awsJson services that were query services (CloudWatch) send x-amzn-query-mode and read
    // the query error code from this header: CloudWatch's throttling code is "Throttling".
    if (header(headers, 'x-amzn-query-mode') === 'true') answer.headers['x-amzn-query-error'] = `${QUERY_CODES[kind].code};${QUERY_CODES[kind].type}`;
    return answer;
  }
  if (protocol === 'ec2') {
    const { status, code, message } = EC2_CODES[kind];
    return {
      status,
      headers: { 'content-type': 'text/xml;charset=UTF-8' },
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
    };
  }
  if (protocol === 'query') {
    const { code, type, message } = QUERY_CODES[kind];
    return {
      status: STATUS[kind],
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
      body: `<ErrorResponse><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    };
  }
  // Unknown protocol (REST, CBOR): the SDK treats any 429 as throttling and 500/503 as transient.
  return { status: kind === 'throttle' ? 429 : STATUS[kind], headers: { 'content-type': 'application/json', 'x-amzn-requestid': requestId }, body: '{}' };
}

/** The error code in a target's error answer (JSON __type / x-amzn-errortype, or XML <Code>). */
function errorCodeOf(headers: IncomingHttpHeaders, body: Buffer): string | undefined {
  const fromHeader = header(headers, 'x-amzn-errortype');
  if (fromHeader) return fromHeader.split(':')[0];
  const text = body.toString('utf8');
  const xml = /<Code>([^<]+)<\/Code>/.exec(text)?.[1];
  if (xml) return xml;
  try {
    const parsed = JSON.parse(text) as { __type?: string; code?: string };
    const type = parsed.__type ?? parsed.code;
    return type ? type.slice(type.lastIndexOf('#') + 1) : undefined;
  } catch {
    return undefined;
  }
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** A TCP RST where the platform allows it (Node >= 16.17), else a plain destroy: the SDK sees ECONNRESET / "socket hang up". */
function cut(socket: Socket): void {
  const withReset = socket as Socket & { resetAndDestroy?: () => void };
  if (typeof withReset.resetAndDestroy === 'function') withReset.resetAndDestroy();
  else socket.destroy();
}

// Hop-by-hop headers (and Expect: this proxy has already read the whole body) are not forwarded.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'expect']);

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) throw new Error(`fault proxy: target must be on loopback, got ${options.target}`);
  const kinds = options.kinds?.length ? [...options.kinds] : [...ALL_FAULT_KINDS];
  const checkRate = (value: number) => {
    if (!(value >= 0 && value <= 1)) throw new Error(`fault proxy: rate must be in [0, 1], got ${value}`);
    return value;
  };
  let rate = checkRate(options.rate);
  const random = mulberry32(options.seed);
  const started = Date.now();
  const records: RequestRecord[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  let controlRequests = 0;

  const forward = (req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      headers['content-length'] = String(body.length);
      const upstream = httpRequest(
        { host: target.hostname.replace(/^\[|\]$/g, ''), port: target.port || 80, method: req.method, path: req.url, headers, agent },
        (res) => readBody(res).then((b) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: b }), reject),
      );
      upstream.on('error', reject);
      upstream.end(body);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const path = req.url ?? '/';
    const control = path.startsWith('/moto-api');
    const { service, operation, protocol } = classifyRequest(req.headers, body);
    let injected: FaultKind | null = null;
    const seq = records.length + 1;
    const eligible =
      !control && !(options.onlyWrites && isReadOperation(operation)) && (options.match?.({ seq, method: req.method ?? '', path, service, operation }) ?? true);
    if (eligible) {
      // Two draws per eligible request, hit or not: the n-th eligible request gets the same
      // decision for the same seed (requests the client sends in parallel may swap places).
      const hit = random() < rate;
      const pick = kinds[Math.floor(random() * kinds.length)];
      if (hit) injected = pick;
    }
    const record: RequestRecord = { seq, at: Date.now() - started, method: req.method ?? '', path, service, operation, protocol, injected };
    if (options.recordBodies) record.body = body.toString('utf8');
    if (control) controlRequests++;
    else records.push(record);
    options.onRequest?.(record);

    if (injected === 'reset') {
      cut(req.socket);
      return;
    }
    if (injected === 'throttle' || injected === 'error500' || injected === 'error503') {
      const answer = errorAnswer(injected, protocol, req.headers);
      record.status = answer.status;
      res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
      res.end(answer.body);
      return;
    }
    let reply: Awaited<ReturnType<typeof forward>>;
    try {
      reply = await forward(req, body);
    } catch (error) {
      record.proxyError = (error as Error).message;
      record.status = 502;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fault proxy: target unreachable: ${record.proxyError}`);
      return;
    }
    record.status = reply.status;
    if (reply.status >= 400) record.targetError = errorCodeOf(reply.headers, reply.body);
    if (injected === 'lostReply') {
      // The target has fully processed the request; the client never hears about it.
      cut(req.socket);
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(reply.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    headers['content-length'] = String(reply.body.length);
    res.writeHead(reply.status, headers);
    res.end(reply.body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fault proxy: ${error.message}`);
    });
  });
  const { port, close } = await listenOnLoopback(server, agent);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats() {
      const count = (kind: FaultKind) => records.filter((r) => r.injected === kind).length;
      const forwarded = records.filter((r) => r.injected === null).length;
      return {
        total: records.length,
        forwarded,
        reachedTarget: forwarded + count('lostReply'),
        throttle: count('throttle'),
        error500: count('error500'),
        error503: count('error503'),
        reset: count('reset'),
        lostReply: count('lostReply'),
        control: controlRequests,
      };
    },
    log: () => records.map((r) => ({ ...r })),
    faults: () => records.filter((r) => r.injected).map((r) => ({ ...r })),
    setRate(next: number) {
      rate = checkRate(next);
    },
    close,
  };
}
