// The local emulator harness: moto_server on 127.0.0.1 (a free port), the runbook's
// prerequisites inside it, and a simulator for what moto cannot do (run containers).
// Used by the demo, the benchmark and the e2e tests. Never talks to anything but loopback.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { ACMClient, RequestCertificateCommand } from '@aws-sdk/client-acm';
import { CloudWatchLogsClient, CreateLogStreamCommand, DescribeLogGroupsCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateInternetGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { DescribeImagesCommand, ECRClient, PutImageCommand, StartImageScanCommand } from '@aws-sdk/client-ecr';
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { CreateLoadBalancerCommand, DescribeTargetHealthCommand, ElasticLoadBalancingV2Client, RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateDBClusterCommand, CreateDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CONFIG_VARIABLES } from '../src/help.js';

// The SDK's "Node 22 from 2027" notice says nothing about the emulator: keep harness output clean.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const EMULATOR_REGION = 'us-east-1';
export const EMULATOR_ACCOUNT = '123456789012';
/** moto reports this many running tasks for every service (it runs none). */
export const SIMULATED_RUNNING_TASKS = 3;

/** Credentials and settings for anything that talks to the emulator; IMDS is off (no link-local traffic). */
export function emulatorEnv(region = EMULATOR_REGION): NodeJS.ProcessEnv {
  return {
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SESSION_TOKEN: 'testing',
    AWS_REGION: region,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

export function clientConfig(endpoint: string, region = EMULATOR_REGION) {
  return {
    region,
    endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    maxAttempts: 2,
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** moto_server on PATH, else `python3 -m moto.server`; a clear message when neither exists. */
function motoCommand(): { command: string; args: string[] } {
  if (spawnSync('moto_server', ['--help'], { stdio: 'ignore' }).status === 0) return { command: 'moto_server', args: [] };
  if (spawnSync('python3', ['-c', 'import moto.server'], { stdio: 'ignore' }).status === 0) {
    return { command: 'python3', args: ['-m', 'moto.server'] };
  }
  throw new Error('moto_server is not installed: install it with  pip install "moto[server]"  (moto 5.2 or newer)');
}

export interface Emulator {
  endpoint: string;
  port: number;
  /** The account moto answers for (MOTO_ACCOUNT_ID). */
  account: string;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /** Extra environment for moto (e.g. MOTO_ECS_SERVICE_RUNNING). */
  env?: NodeJS.ProcessEnv;
  /** Where moto's own log goes; default: discarded. */
  log?: (line: string) => void;
  /** The account every resource is created in (moto's MOTO_ACCOUNT_ID); default EMULATOR_ACCOUNT. */
  account?: string;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const { command, args } = motoCommand();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(command, [...args, '-H', '127.0.0.1', '-p', String(port)], {
    env: {
      ...process.env,
      MOTO_ECS_SERVICE_RUNNING: String(SIMULATED_RUNNING_TASKS),
      MOTO_ACM_VALIDATION_WAIT: '0', // requested certificates are ISSUED at once
      // Only when asked: set, it wins over the account of the caller's keys (moto), which other tests rely on.
      ...(options.account ? { MOTO_ACCOUNT_ID: options.account } : {}),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const forward = (chunk: Buffer) => options.log?.(chunk.toString());
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode} before it was ready`);
    try {
      const response = await fetch(`${endpoint}/moto-api/data.json`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not answer on ${endpoint} within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    port,
    account: options.account ?? EMULATOR_ACCOUNT,
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!response.ok) throw new Error(`moto reset failed: HTTP ${response.status}`);
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** The environment variables config/local.yaml (and production.yaml) read. */
export interface Prerequisites {
  ACCOUNT_ID: string;
  VPC_ID: string;
  APP_SUB_A: string;
  APP_SUB_B: string;
  ECS_SG: string;
  ALB_SG: string;
  ALB_ARN: string;
  CERT_ARN: string;
  LOGS_KMS_KEY_ARN: string;
  DB_SECRET_ARN: string;
  IMAGE_TAG: string;
  /** Not a config input: public subnets of the ALB, for tests that need a public subnet. */
  PUBLIC_SUB_A: string;
}

export interface PrerequisiteOptions {
  /** DynamoDB table billing mode (PAY_PER_REQUEST to test the precondition). */
  dynamodbBillingMode?: 'PROVISIONED' | 'PAY_PER_REQUEST';
  /** Skip the Aurora cluster (to test the precondition). */
  withoutAurora?: boolean;
  imageTag?: string;
  /** Another environment: its region and account (the emulator's MOTO_ACCOUNT_ID), names and API port. */
  region?: string;
  account?: string;
  names?: Partial<PrerequisiteNames>;
  apiPort?: number;
}

/** The names of what the harness creates (the runbook's by default). */
export interface PrerequisiteNames {
  alb: string;
  albSecurityGroup: string;
  ecsSecurityGroup: string;
  domain: string;
  secret: string;
  auroraCluster: string;
  auroraWriter: string;
  table: string;
}

const RUNBOOK_NAMES: PrerequisiteNames = {
  alb: 'fintech-prod-alb',
  albSecurityGroup: 'fintech-alb-sg',
  ecsSecurityGroup: 'fintech-ecs-sg',
  domain: 'api.fintech.example',
  secret: 'fintech/db-credentials',
  auroraCluster: 'fintech-db-cluster',
  auroraWriter: 'fintech-db-writer',
  table: 'FinTechTransactions',
};

/** What the runbook assumes exists: VPC, private app subnets, SGs, ALB, certificate, key, secret, DB, table. */
export async function createPrerequisites(endpoint: string, options: PrerequisiteOptions = {}): Promise<Prerequisites> {
  const region = options.region ?? EMULATOR_REGION;
  const n = { ...RUNBOOK_NAMES, ...options.names };
  const apiPort = options.apiPort ?? 8080;
  const config = clientConfig(endpoint, region);
  const ec2 = new EC2Client(config);
  const { Vpc } = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
  const vpcId = Vpc!.VpcId!;
  const subnet = async (cidr: string, zone: string) =>
    (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: zone }))).Subnet!.SubnetId!;
  const publicA = await subnet('10.0.0.0/24', `${region}a`);
  const publicB = await subnet('10.0.1.0/24', `${region}b`);
  const appA = await subnet('10.0.10.0/24', `${region}a`);
  const appB = await subnet('10.0.11.0/24', `${region}b`);

  // Public subnets route to an internet gateway; the app subnets keep the main table (local only).
  const { InternetGateway } = await ec2.send(new CreateInternetGatewayCommand({}));
  await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: InternetGateway!.InternetGatewayId, VpcId: vpcId }));
  const { RouteTable } = await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }));
  await ec2.send(new CreateRouteCommand({ RouteTableId: RouteTable!.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', GatewayId: InternetGateway!.InternetGatewayId }));
  for (const id of [publicA, publicB]) await ec2.send(new AssociateRouteTableCommand({ RouteTableId: RouteTable!.RouteTableId, SubnetId: id }));

  const albSg = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: n.albSecurityGroup, Description: 'ALB', VpcId: vpcId }))).GroupId!;
  await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({ GroupId: albSg, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }),
  );
  const ecsSg = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: n.ecsSecurityGroup, Description: 'ECS tasks', VpcId: vpcId }))).GroupId!;
  await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: ecsSg,
      IpPermissions: [{ IpProtocol: 'tcp', FromPort: apiPort, ToPort: apiPort, UserIdGroupPairs: [{ GroupId: albSg }] }],
    }),
  );

  const elbv2 = new ElasticLoadBalancingV2Client(config);
  const { LoadBalancers } = await elbv2.send(
    new CreateLoadBalancerCommand({ Name: n.alb, Subnets: [publicA, publicB], SecurityGroups: [albSg], Scheme: 'internet-facing', Type: 'application' }),
  );
  const acm = new ACMClient(config);
  const { CertificateArn } = await acm.send(new RequestCertificateCommand({ DomainName: n.domain, ValidationMethod: 'DNS' }));
  const kms = new KMSClient(config);
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 'fintech logs' }));
  const secrets = new SecretsManagerClient(config);
  // A throwaway value generated here and never printed: the emulator's stand-in for the DB password.
  const { ARN: secretArn } = await secrets.send(
    new CreateSecretCommand({ Name: n.secret, SecretString: JSON.stringify({ username: 'fintech', password: randomBytes(18).toString('base64url') }) }),
  );
  if (!options.withoutAurora) {
    const rds = new RDSClient(config);
    await rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: n.auroraCluster,
        Engine: 'aurora-postgresql',
        MasterUsername: 'fintech',
        MasterUserPassword: randomBytes(18).toString('base64url'),
      }),
    );
    await rds.send(
      new CreateDBInstanceCommand({ DBInstanceIdentifier: n.auroraWriter, DBClusterIdentifier: n.auroraCluster, Engine: 'aurora-postgresql', DBInstanceClass: 'db.r6g.large' }),
    );
  }
  const billing = options.dynamodbBillingMode ?? 'PROVISIONED';
  await new DynamoDBClient(config).send(
    new CreateTableCommand({
      TableName: n.table,
      AttributeDefinitions: [{ AttributeName: 'transactionId', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'transactionId', KeyType: 'HASH' }],
      BillingMode: billing,
      ...(billing === 'PROVISIONED' ? { ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 } } : {}),
    }),
  );
  for (const client of [ec2, elbv2, acm, kms, secrets]) client.destroy();
  return {
    ACCOUNT_ID: options.account ?? EMULATOR_ACCOUNT,
    VPC_ID: vpcId,
    APP_SUB_A: appA,
    APP_SUB_B: appB,
    ECS_SG: ecsSg,
    ALB_SG: albSg,
    ALB_ARN: LoadBalancers![0].LoadBalancerArn!,
    CERT_ARN: CertificateArn!,
    LOGS_KMS_KEY_ARN: KeyMetadata!.Arn!,
    DB_SECRET_ARN: secretArn!,
    IMAGE_TAG: options.imageTag ?? 'prod-1.0.0',
    PUBLIC_SUB_A: publicA,
  };
}

/** A syntactically valid image manifest: what a `docker push` leaves in ECR, minus the layers. */
export function fakeImageManifest(): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 7023, digest: `sha256:${randomBytes(32).toString('hex')}` },
    layers: [],
  });
}

export interface SimulatorSettings {
  cluster: string;
  service: string;
  repository: string;
  imageTags: string[];
  logGroup: string;
  logStreamPrefix: string;
  containerPort: number;
  /** The region the environment is in (default EMULATOR_REGION). */
  region?: string;
}

export const localSimulatorSettings = (imageTag: string): SimulatorSettings => ({
  cluster: 'fintech-prod-cluster',
  service: 'fintech-api-svc',
  repository: 'fintech-api',
  imageTags: [imageTag],
  logGroup: '/ecs/fintech-api',
  logStreamPrefix: 'app',
  containerPort: 8080,
});

/**
 * moto runs no containers. While a run goes on, this stands in for what the real platform does:
 * the release pipeline pushes the image, ECS registers each running task's IP in the target
 * group, and FireLens ships the tasks' startup log lines.
 */
export class TaskSimulator {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly ecs: ECSClient;
  private readonly elbv2: ElasticLoadBalancingV2Client;
  private readonly ecr: ECRClient;
  private readonly logs: CloudWatchLogsClient;
  private readonly loggedDeployments = new Set<string>();
  /** Turn off to simulate tasks that never become healthy or never log. */
  registerTargets = true;
  shipLogs = true;

  constructor(
    endpoint: string,
    /** Mutable on purpose: a test can change which image tags the "pipeline" pushes. */
    readonly settings: SimulatorSettings,
  ) {
    const config = clientConfig(endpoint, settings.region);
    this.ecs = new ECSClient(config);
    this.elbv2 = new ElasticLoadBalancingV2Client(config);
    this.ecr = new ECRClient(config);
    this.logs = new CloudWatchLogsClient(config);
  }

  start(intervalMs = 150): this {
    this.timer = setInterval(() => void this.tick(), intervalMs);
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 20));
    for (const client of [this.ecs, this.elbv2, this.ecr, this.logs]) client.destroy();
  }

  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.pushImages();
      await this.runTasks();
    } catch {
      // Resources appear during the run; a lookup that fails now succeeds on a later tick.
    } finally {
      this.busy = false;
    }
  }

  private async pushImages(): Promise<void> {
    const { imageDetails = [] } = await this.ecr.send(new DescribeImagesCommand({ repositoryName: this.settings.repository }));
    const pushed = new Set(imageDetails.flatMap((d) => d.imageTags ?? []));
    for (const tag of this.settings.imageTags.filter((t) => !pushed.has(t))) {
      await this.ecr.send(new PutImageCommand({ repositoryName: this.settings.repository, imageTag: tag, imageManifest: fakeImageManifest() }));
      // The repository scans on push; moto does not: the scan the image gate reads (moto reports one HIGH finding).
      await this.ecr.send(new StartImageScanCommand({ repositoryName: this.settings.repository, imageId: { imageTag: tag } }));
    }
  }

  private async runTasks(): Promise<void> {
    const { services = [] } = await this.ecs.send(new DescribeServicesCommand({ cluster: this.settings.cluster, services: [this.settings.service] }));
    const service = services.find((s) => s.status === 'ACTIVE');
    if (!service || !service.runningCount) return;
    const targetGroupArn = service.loadBalancers?.[0]?.targetGroupArn;
    if (targetGroupArn && this.registerTargets) {
      const { TargetHealthDescriptions = [] } = await this.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
      const missing = service.runningCount - TargetHealthDescriptions.length;
      if (missing > 0) {
        const targets = Array.from({ length: service.runningCount }, (_, i) => ({ Id: `10.0.10.${10 + i}`, Port: this.settings.containerPort }));
        await this.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: targets }));
      }
    }
    const deployment = service.deployments?.find((d) => d.status === 'PRIMARY');
    const key = `${deployment?.id}:${service.taskDefinition}`;
    if (this.shipLogs && deployment && !this.loggedDeployments.has(key)) {
      const { logGroups = [] } = await this.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: this.settings.logGroup }));
      if (!logGroups.some((g) => g.logGroupName === this.settings.logGroup)) return;
      const stream = `${this.settings.logStreamPrefix}/api-container-firelens-${randomBytes(6).toString('hex')}`;
      await this.logs.send(new CreateLogStreamCommand({ logGroupName: this.settings.logGroup, logStreamName: stream }));
      await this.logs.send(
        new PutLogEventsCommand({
          logGroupName: this.settings.logGroup,
          logStreamName: stream,
          logEvents: [{ timestamp: Date.now(), message: `fintech-api started (${service.taskDefinition}), listening on :${this.settings.containerPort}` }],
        }),
      );
      this.loggedDeployments.add(key);
    }
  }
}

/**
 * What `npm run emulator` prints: the variables config/local.yaml reads, the emulator's throwaway
 * credentials and endpoint (read by the AWS SDK), and the commands to try. Nothing else.
 */
export function tryItText(endpoint: string, prerequisites: Prerequisites): string {
  const lines = [`moto_server on ${endpoint} (loopback only) with the runbook's prerequisites. In another shell:`, ''];
  lines.push('# what config/local.yaml reads');
  for (const name of CONFIG_VARIABLES) lines.push(`export ${name}='${prerequisites[name]}'`);
  lines.push("# the emulator's throwaway credentials and endpoint (the AWS SDK reads these)");
  lines.push("export AWS_ACCESS_KEY_ID='testing' AWS_SECRET_ACCESS_KEY='testing'", `export AWS_ENDPOINT_URL='${endpoint}'`);
  lines.push(
    '',
    'node dist/bundle/fintech-runbook.js --config config/local.yaml plan        # what apply would change',
    'node dist/bundle/fintech-runbook.js --config config/local.yaml apply       # the preview, then it asks',
    'node dist/bundle/fintech-runbook.js --config config/local.yaml validate',
    'node dist/bundle/fintech-runbook.js history',
    '',
    'The emulator runs no containers: this process simulates running tasks (targets, startup logs, the pushed image). Ctrl-C stops it.',
  );
  return `${lines.join('\n')}\n`;
}

// `npm run emulator`: an emulator with the prerequisites, for trying commands by hand (README).
if (import.meta.url === `file://${process.argv[1]}`) {
  const emulator = await startEmulator();
  const prerequisites = await createPrerequisites(emulator.endpoint);
  const simulator = new TaskSimulator(emulator.endpoint, localSimulatorSettings(prerequisites.IMAGE_TAG)).start();
  process.stdout.write(tryItText(emulator.endpoint, prerequisites));
  process.on('SIGINT', () => {
    void simulator.stop().then(() => emulator.stop()).then(() => process.exit(0));
  });
}
