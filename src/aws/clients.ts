// One factory builds every AWS client from one shared config (DESIGN.md §5), and one middleware
// counts every call per service and operation, read vs write.
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

export interface ClientSettings {
  region: string;
  profile?: string;
  endpointUrl?: string;
  maxAttempts?: number;
}

export interface CallRecord {
  service: string;
  operation: string;
  kind: 'read' | 'write';
  count: number;
}

const READ_PREFIXES = ['Describe', 'List', 'Get', 'BatchGet', 'Filter', 'Lookup'];

/** Read-only operations never change AWS state; everything else counts as a write. */
export function classifyOperation(operation: string): 'read' | 'write' {
  return READ_PREFIXES.some((prefix) => operation.startsWith(prefix)) ? 'read' : 'write';
}

export class CallCounter {
  private readonly calls = new Map<string, CallRecord>();

  record(service: string, operation: string): void {
    const key = `${service}:${operation}`;
    const existing = this.calls.get(key);
    if (existing) existing.count++;
    else this.calls.set(key, { service, operation, kind: classifyOperation(operation), count: 1 });
  }

  list(): CallRecord[] {
    return [...this.calls.values()].sort((a, b) => `${a.service}${a.operation}`.localeCompare(`${b.service}${b.operation}`));
  }

  total(kind?: 'read' | 'write'): number {
    return this.list()
      .filter((c) => !kind || c.kind === kind)
      .reduce((sum, c) => sum + c.count, 0);
  }

  writes(): CallRecord[] {
    return this.list().filter((c) => c.kind === 'write');
  }
}

interface MiddlewareCapable {
  middlewareStack: {
    add(
      middleware: (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => Promise<unknown>,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

const clientConstructors = {
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
} as const;

type ClientName = keyof typeof clientConstructors;
export type AwsClients = { readonly [K in ClientName]: InstanceType<(typeof clientConstructors)[K]> } & {
  readonly counter: CallCounter;
  destroy(): void;
};

/** Adds the counting middleware to a client (also used on mocked clients in tests). */
export function countCalls(client: unknown, service: string, counter: CallCounter): void {
  (client as MiddlewareCapable).middlewareStack.add(
    (next, context) => async (args) => {
      counter.record(service, (context.commandName ?? 'Unknown').replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'fintechRunbookCallCounter' },
  );
}

/** Clients are created on first use: `--help` or a config error builds none. */
export function createClients(settings: ClientSettings, counter = new CallCounter()): AwsClients {
  const created = new Map<ClientName, { destroy(): void }>();
  const shared = {
    region: settings.region,
    ...(settings.profile ? { profile: settings.profile } : {}),
    ...(settings.endpointUrl ? { endpoint: settings.endpointUrl } : {}),
    maxAttempts: settings.maxAttempts ?? 5,
    retryMode: 'adaptive',
  };
  const clients = { counter, destroy: () => created.forEach((c) => c.destroy()) } as Record<string, unknown>;
  for (const name of Object.keys(clientConstructors) as ClientName[]) {
    Object.defineProperty(clients, name, {
      enumerable: true,
      get() {
        let client = created.get(name);
        if (!client) {
          const Ctor = clientConstructors[name] as unknown as new (config: object) => { destroy(): void };
          client = new Ctor(shared);
          countCalls(client, name, counter);
          created.set(name, client);
        }
        return client;
      },
    });
  }
  return clients as unknown as AwsClients;
}
