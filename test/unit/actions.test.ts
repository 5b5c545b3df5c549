// The action executor (DESIGN.md §3): exactly the planned commands, ref tokens bound from earlier
// replies, and the ambiguous-write rules of issue "production is not yours alone": a create whose
// reply was lost is re-read and adopted only when it equals what the create makes; "exists" in a
// first answer is someone else's resource; a retried delete that finds nothing is done.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { CreateClusterCommand, DeleteClusterCommand, ECSClient } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import { commandFor, displayRefs, executeActions, knownWriteOperations, ref, resolveRefs, type Action } from '../../src/core/actions.js';
import { awsError, RecordingRecorder } from '../helpers/mock-aws.js';

const clients = () => createClients({ region: 'us-east-1' });
const create: Action = {
  step: 'cluster',
  resourceId: 'cluster',
  resource: 'ecs cluster c',
  kind: 'create',
  service: 'ecs',
  operation: 'CreateCluster',
  input: { clusterName: 'c' },
  binds: { clusterArn: 'cluster.clusterArn' },
  adoptBinds: { clusterArn: 'clusterArn' },
  existsErrors: ['ClusterExistsException'],
};
const serverError = () => Object.assign(new Error('We encountered an internal error'), { name: 'InternalFailure', $fault: 'server', $metadata: { httpStatusCode: 500 } });

let ecs: ReturnType<typeof mockClient>;
beforeEach(() => {
  ecs = mockClient(ECSClient);
});
afterEach(() => ecs.restore());

describe('executeActions', () => {
  it('sends exactly the actions, through the recorder, and binds reply values for later ref tokens', async () => {
    ecs.on(CreateClusterCommand).resolves({ cluster: { clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/c' } });
    ecs.on(DeleteClusterCommand).resolves({});
    const recorder = new RecordingRecorder();
    const bindings = new Map<string, string>();
    const later: Action = { ...create, kind: 'delete', operation: 'DeleteCluster', input: { cluster: ref('cluster', 'clusterArn') } };
    await executeActions([create, later], { clients: clients(), recorder, bindings });
    expect(recorder.writes.map((w) => `${w.action} ${w.operation} ${w.resourceId}`)).toEqual(['create CreateCluster cluster', 'delete DeleteCluster cluster']);
    expect(ecs.commandCalls(DeleteClusterCommand)[0].args[0].input).toEqual({ cluster: 'arn:aws:ecs:us-east-1:123456789012:cluster/c' });
  });

  it('never sends a command whose ref no earlier action bound', async () => {
    const orphan: Action = { ...create, input: { clusterName: ref('load-balancer', 'targetGroupArn') } };
    await expect(executeActions([orphan], { clients: clients(), recorder: new RecordingRecorder(), bindings: new Map() })).rejects.toThrow(/no earlier action produced/);
    expect(ecs.calls()).toHaveLength(0);
  });

  it('a create whose reply was lost (5xx) is re-read and adopted when it equals what the create makes', async () => {
    ecs.on(CreateClusterCommand).rejects(serverError());
    const bindings = new Map<string, string>();
    let rereads = 0;
    await executeActions([create], {
      clients: clients(),
      recorder: new RecordingRecorder(),
      bindings,
      reread: async () => {
        rereads++;
        return { adopt: { clusterArn: 'arn:adopted' } };
      },
    });
    expect(rereads).toBe(1);
    expect(ecs.commandCalls(CreateClusterCommand)).toHaveLength(1); // not sent again
    expect(bindings.get('cluster.clusterArn')).toBe('arn:adopted');
  });

  it('a create that did not happen (the re-read finds nothing) is sent again', async () => {
    ecs.on(CreateClusterCommand).rejectsOnce(serverError()).resolves({ cluster: { clusterArn: 'arn:second' } });
    const bindings = new Map<string, string>();
    await executeActions([create], { clients: clients(), recorder: new RecordingRecorder(), bindings, reread: async () => ({}), backoffMs: 1 });
    expect(ecs.commandCalls(CreateClusterCommand)).toHaveLength(2);
    expect(bindings.get('cluster.clusterArn')).toBe('arn:second');
  });

  it('"already exists" in a first answer is someone else\'s resource: refused, never adopted', async () => {
    ecs.on(CreateClusterCommand).rejects(awsError('ClusterExistsException', 'exists'));
    let rereads = 0;
    const error = await executeActions([create], {
      clients: clients(),
      recorder: new RecordingRecorder(),
      bindings: new Map(),
      reread: async () => {
        rereads++;
        return { adopt: {} };
      },
    }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('ClusterExistsException');
    expect(rereads).toBe(0);
  });

  it('after a lost reply, something that exists but differs is not this run\'s: refused, naming it', async () => {
    ecs.on(CreateClusterCommand).rejects(serverError());
    const error = await executeActions([create], {
      clients: clients(),
      recorder: new RecordingRecorder(),
      bindings: new Map(),
      reread: async () => ({ foreign: 'exists and differs (settings)' }),
    }).catch((e: unknown) => e);
    expect(String(error)).toContain('ecs cluster c: exists and differs (settings)');
  });

  it('a retried delete that answers "not found" is done', async () => {
    ecs.on(DeleteClusterCommand).rejects(awsError('ClusterNotFoundException', 'gone'));
    const del: Action = { ...create, kind: 'delete', operation: 'DeleteCluster', input: { cluster: 'c' }, goneErrors: ['ClusterNotFoundException'] };
    await expect(executeActions([del], { clients: clients(), recorder: new RecordingRecorder(), bindings: new Map() })).resolves.toBeUndefined();
  });
});

describe('executeActions: which resources wait for which', () => {
  // A gated CreateCluster per cluster name: the test decides when each is answered.
  function gatedCreates() {
    const gates = new Map<string, () => void>();
    const started: string[] = [];
    ecs.on(CreateClusterCommand).callsFake((input: { clusterName: string }) => {
      started.push(input.clusterName);
      return new Promise((resolve, reject) =>
        gates.set(input.clusterName, () => (input.clusterName === 'fails' ? reject(awsError('ClientException', 'refused', 'req-x')) : resolve({}))),
      );
    });
    const answer = async (name: string) => {
      for (let i = 0; i < 50 && !gates.has(name); i++) await new Promise((r) => setTimeout(r, 1));
      gates.get(name)!();
    };
    return { started, answer };
  }
  const resource = (name: string, after?: string[]): Action => ({ ...create, resourceId: name, input: { clusterName: name }, ...(after ? { after } : {}) });
  const tick = () => new Promise((r) => setTimeout(r, 5));

  it('runs resources one after another unless they say otherwise (unset after: every earlier one)', async () => {
    const { started, answer } = gatedCreates();
    const run = executeActions([resource('a'), resource('b')], { clients: clients(), recorder: new RecordingRecorder(), bindings: new Map() });
    await tick();
    expect(started).toEqual(['a']);
    await answer('a');
    await answer('b');
    await run;
    expect(started).toEqual(['a', 'b']);
  });

  it('sends resources with after [] side by side, and one with after [x] once x is done', async () => {
    const { started, answer } = gatedCreates();
    const run = executeActions([resource('a', []), resource('b', []), resource('c', ['a'])], { clients: clients(), recorder: new RecordingRecorder(), bindings: new Map() });
    await tick();
    expect(started).toEqual(['a', 'b']);
    await answer('a');
    await tick();
    expect(started).toEqual(['a', 'b', 'c']);
    await answer('c');
    await answer('b');
    await run;
  });

  it('after a failure starts nothing more, lets the ones in flight finish, then throws the first error', async () => {
    const { started, answer } = gatedCreates();
    const recorder = new RecordingRecorder();
    const run = executeActions([resource('fails', []), resource('b', []), resource('c', ['b']), resource('d', ['fails'])], { clients: clients(), recorder, bindings: new Map() });
    run.catch(() => {});
    await tick();
    expect(started).toEqual(['fails', 'b']);
    await answer('fails');
    await tick();
    await answer('b'); // in flight when the other failed: it finishes, and is journaled
    await expect(run).rejects.toThrow('refused');
    expect(started).toEqual(['fails', 'b']); // c (after b) and d (after the failed one) never start
    expect(recorder.writes.map((w) => w.resourceId).sort()).toEqual(['b', 'fails']);
  });
});

describe('a create is sent once per try, over a real HTTP round trip', () => {
  it('the SDK does not repeat a create that got HTTP 500 (it may have taken effect); the executor re-reads instead', async () => {
    ecs.restore();
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(500, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ServerException' });
      res.end('{"__type":"ServerException","message":"boom"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    let rereads = 0;
    try {
      await executeActions([create], {
        clients: { ecs: new ECSClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) } as unknown as AwsClients,
        recorder: new RecordingRecorder(),
        bindings: new Map(),
        reread: async () => {
          rereads++;
          return { adopt: { clusterArn: 'arn:x' } };
        },
      });
    } finally {
      server.close();
    }
    expect(requests).toBe(1);
    expect(rereads).toBe(1);
  });
});

describe('ref tokens', () => {
  it('resolve inside strings and show as "known after apply" to people', () => {
    const bindings = new Map([['iam.taskRoleArn', 'arn:aws:iam::1:role/t']]);
    expect(resolveRefs({ a: [`${ref('iam', 'taskRoleArn')}/x`] }, bindings)).toEqual({ a: ['arn:aws:iam::1:role/t/x'] });
    expect(displayRefs(JSON.stringify(ref('iam', 'taskRoleArn')))).toBe('"(known after apply: iam.taskRoleArn)"');
  });
});

describe('the write commands a plan may hold (src/core/write-commands.ts)', () => {
  it('has a command for every act(service, operation) in steps/ and src/, and builds it with its input', () => {
    const sources = ['steps', 'src'].flatMap((dir) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(join(dir, f), 'utf8')));
    const planned = new Set(sources.flatMap((source) => [...source.matchAll(/\bact\(\s*'([a-z0-9]+)',\s*'([A-Za-z]+)'/g)].map((m) => `${m[1]}:${m[2]}`)));
    expect(planned.size).toBeGreaterThan(50);
    expect([...planned].filter((op) => !knownWriteOperations().includes(op))).toEqual([]);
    const command = commandFor({ service: 'ecs', operation: 'CreateCluster' }, { clusterName: 'c' }) as unknown as { input: unknown; constructor: { name: string } };
    expect(command.constructor.name).toBe('CreateClusterCommand');
    expect(command.input).toEqual({ clusterName: 'c' });
    expect(() => commandFor({ service: 'ecs', operation: 'DeleteEverything' }, {})).toThrow(/unknown operation ecs:DeleteEverything/);
  });
});
