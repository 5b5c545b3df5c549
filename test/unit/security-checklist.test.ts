import { DescribeLogGroupsCommand, type LogGroup } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  type IpPermission,
  type RouteTable,
  type Subnet,
} from '@aws-sdk/client-ec2';
import { DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, type ContainerDefinition, type Service, type TaskDefinition } from '@aws-sdk/client-ecs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHECKLIST_CONTROLS, type ChecklistItem } from '../../src/checks/controls.js';
import { checklistTitles, securityChecklist } from '../../src/checks/security-checklist.js';
import type { Finding, FindingStatus } from '../../src/core/step.js';
import { awsError, fixtureEnv, mockAws, testConfig, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

// The titles follow the config (3.4 names its API port, 8080 in the runbook's).
const CHECKLIST = checklistTitles(testConfig());
/** Each item carries its number and the control ids that implement it (issue 9). */
const tagged = (item: ChecklistItem) => ({ checklist: [item], controls: CHECKLIST_CONTROLS[item] });

const VPC = fixtureEnv.VPC_ID!;
const SUB_A = fixtureEnv.APP_SUB_A!;
const SUB_B = fixtureEnv.APP_SUB_B!;
const SUB_PUBLIC = 'subnet-0cccccccccccccccc';
const ECS_SG = fixtureEnv.ECS_SG!;
const ALB_SG = fixtureEnv.ALB_SG!;
const KMS = fixtureEnv.LOGS_KMS_KEY_ARN!;
const TASK_DEF_ARN = 'arn:aws:ecs:us-east-1:123456789012:task-definition/fintech-api-task:7';

const SERVICE = 'ecs service fintech-prod-cluster/fintech-api-svc';
const TASK_DEF = 'task definition fintech-api-task:7';
const LOG_GROUP = 'log group /ecs/fintech-api';
const SG = `security group ${ECS_SG}`;
const REPO = 'ecr repository fintech-api';

type Key = keyof typeof CHECKLIST;
const ITEMS = Object.keys(CHECKLIST) as Key[];

// ---- fixtures: a compliant deployment ------------------------------------------------------

const service = (): Service => ({
  serviceName: 'fintech-api-svc',
  status: 'ACTIVE',
  taskDefinition: TASK_DEF_ARN,
  networkConfiguration: { awsvpcConfiguration: { subnets: [SUB_A, SUB_B], securityGroups: [ECS_SG], assignPublicIp: 'DISABLED' } },
});

const api = (): ContainerDefinition => ({
  name: 'api-container',
  image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/fintech-api:prod-1.4.2',
  environment: [
    { name: 'ENV', value: 'production' },
    { name: 'REGION', value: 'us-east-1' },
  ],
  secrets: [{ name: 'DB_PASSWORD', valueFrom: `${fixtureEnv.DB_SECRET_ARN}:password::` }],
  logConfiguration: {
    logDriver: 'awsfirelens',
    options: { Name: 'cloudwatch', region: 'us-east-1', log_group_name: '/ecs/fintech-api', log_stream_prefix: 'app' },
  },
});

const logRouter = (): ContainerDefinition => ({
  name: 'log_router',
  image: 'public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4',
  firelensConfiguration: { type: 'fluentbit' },
  logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/fintech-api', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'firelens' } },
});

const taskDefinition = (containers: ContainerDefinition[] = [api(), logRouter()]): TaskDefinition => ({
  taskDefinitionArn: TASK_DEF_ARN,
  family: 'fintech-api-task',
  revision: 7,
  containerDefinitions: containers,
});

const subnets = (): Subnet[] => [
  { SubnetId: SUB_A, VpcId: VPC, AvailabilityZone: 'us-east-1a', MapPublicIpOnLaunch: false },
  { SubnetId: SUB_B, VpcId: VPC, AvailabilityZone: 'us-east-1b', MapPublicIpOnLaunch: false },
];

const mainPublic: RouteTable = {
  RouteTableId: 'rtb-main',
  Associations: [{ Main: true, RouteTableId: 'rtb-main' }],
  Routes: [
    { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' },
    { DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-0123456789abcdef0', State: 'active' },
  ],
};
const privateTable = (...subnetIds: string[]): RouteTable => ({
  RouteTableId: 'rtb-private',
  Associations: subnetIds.map((SubnetId) => ({ SubnetId, RouteTableId: 'rtb-private', Main: false })),
  Routes: [
    { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' },
    { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-0123456789abcdef0', State: 'active' },
  ],
});
/** As in a default VPC, the main table is public; the app subnets are explicitly associated with a private one. */
const routeTables = (): RouteTable[] => [mainPublic, privateTable(SUB_A, SUB_B)];

const fromAlb = (port = 8080, protocol = 'tcp'): IpPermission => ({
  IpProtocol: protocol,
  FromPort: port,
  ToPort: port,
  IpRanges: [],
  Ipv6Ranges: [],
  PrefixListIds: [],
  UserIdGroupPairs: [{ GroupId: ALB_SG, UserId: '123456789012' }],
});

const logGroups = (): LogGroup[] => [
  { logGroupName: '/ecs/fintech-api', kmsKeyId: KMS, retentionInDays: 365 },
  // Same prefix: the check must pick the exact name, not the first match.
  { logGroupName: '/ecs/fintech-api-canary', retentionInDays: 7 },
];

/** Mock every read the checklist makes with a compliant environment; tests then break one thing. */
function compliant(aws: AwsMocks, groups: LogGroup[] = logGroups()) {
  aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()] });
  aws.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: taskDefinition() });
  aws.ec2.on(DescribeSubnetsCommand).resolves({ Subnets: subnets() });
  aws.ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: routeTables() });
  aws.ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: ECS_SG, VpcId: VPC, IpPermissions: [fromAlb()] }] });
  setLogGroups(aws, groups);
  aws.ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryName: 'fintech-api', imageTagMutability: 'IMMUTABLE' }] });
}

/** DescribeLogGroups by prefix, as CloudWatch Logs answers it. */
function setLogGroups(aws: AwsMocks, groups: LogGroup[]) {
  aws.logs.on(DescribeLogGroupsCommand).callsFake((input: { logGroupNamePrefix?: string }) => ({
    logGroups: groups.filter((g) => g.logGroupName!.startsWith(input.logGroupNamePrefix ?? '')),
  }));
}

const withIngress = (...rules: IpPermission[]) =>
  aws.ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: ECS_SG, VpcId: VPC, IpPermissions: rules }] });

const summary = (findings: Finding[]) => findings.map((f) => [f.check, f.status, f.resource]);

/** One finding per item (3.3 may have several); the item must be present. */
function item(findings: Finding[], key: Key): Finding {
  const found = findings.filter((f) => f.check === CHECKLIST[key]);
  expect(found, `${CHECKLIST[key]} in findings`).toHaveLength(1);
  return found[0];
}

/** Every item other than `except` is OK. */
function othersOk(findings: Finding[], ...except: Key[]) {
  for (const key of ITEMS.filter((k) => !except.includes(k))) {
    const found = findings.filter((f) => f.check === CHECKLIST[key]);
    expect(found.length, `${CHECKLIST[key]} in findings`).toBeGreaterThan(0);
    expect(
      found.map((f) => f.status),
      `${CHECKLIST[key]}: ${found.map((f) => f.reason).join('; ')}`,
    ).toEqual(found.map((): FindingStatus => 'OK'));
  }
}

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});
afterEach(() => {
  // The checklist only reads, whatever it finds.
  expect(writeCalls(aws)).toEqual([]);
});

describe('security checklist: a compliant deployment', () => {
  it('all five items pass, each naming its resource', async () => {
    compliant(aws);
    const findings = await securityChecklist(testContext());
    expect(summary(findings)).toEqual([
      [CHECKLIST.isolation, 'OK', SERVICE],
      [CHECKLIST.secrets, 'OK', TASK_DEF],
      [CHECKLIST.logEncryption, 'OK', LOG_GROUP],
      [CHECKLIST.network, 'OK', SG],
      [CHECKLIST.immutability, 'OK', REPO],
    ]);
    expect(item(findings, 'logEncryption').reason).toBe(`encrypted with ${KMS}`);
    expect(item(findings, 'network').reason).toBe(`admits only tcp 8080 from ${ALB_SG}`);
    expect(writeCalls(aws)).toEqual([]);
  });

  it('looks at the configured service, the task definition it runs, and the configured SG and repository', async () => {
    compliant(aws);
    await securityChecklist(testContext());
    expect(aws.ecs.commandCalls(DescribeServicesCommand)[0].args[0].input).toMatchObject({ cluster: 'fintech-prod-cluster', services: ['fintech-api-svc'] });
    expect(aws.ecs.commandCalls(DescribeTaskDefinitionCommand)[0].args[0].input).toEqual({ taskDefinition: TASK_DEF_ARN });
    expect(aws.ec2.commandCalls(DescribeSubnetsCommand)[0].args[0].input).toEqual({ SubnetIds: [SUB_A, SUB_B] });
    expect(aws.ec2.commandCalls(DescribeSecurityGroupsCommand)[0].args[0].input).toEqual({ GroupIds: [ECS_SG] });
    expect(aws.ecr.commandCalls(DescribeRepositoriesCommand)[0].args[0].input).toEqual({ repositoryNames: ['fintech-api'] });
  });

  it('without the service: 3.1 and 3.2 SKIP, 3.3 checks the configured log group, 3.4 and 3.5 still checked', async () => {
    compliant(aws);
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [{ ...service(), status: 'INACTIVE' }] });
    const findings = await securityChecklist(testContext());
    expect(summary(findings)).toEqual([
      [CHECKLIST.isolation, 'SKIP', SERVICE],
      [CHECKLIST.secrets, 'SKIP', SERVICE],
      [CHECKLIST.logEncryption, 'OK', LOG_GROUP],
      [CHECKLIST.network, 'OK', SG],
      [CHECKLIST.immutability, 'OK', REPO],
    ]);
    expect(aws.ecs.commandCalls(DescribeTaskDefinitionCommand)).toHaveLength(0);
  });
});

describe('3.1 private subnets, no public IP', () => {
  beforeEach(() => compliant(aws));

  it('FAIL: a service with assignPublicIp ENABLED', async () => {
    const svc = service();
    svc.networkConfiguration!.awsvpcConfiguration!.assignPublicIp = 'ENABLED';
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [svc] });
    const findings = await securityChecklist(testContext());
    expect(item(findings, 'isolation')).toEqual({
      ...tagged('3.1'),
      check: CHECKLIST.isolation,
      status: 'FAIL',
      resource: SERVICE,
      reason: 'assignPublicIp is ENABLED: tasks get public IPs',
    });
    othersOk(findings, 'isolation');
  });

  it('FAIL: a service in a subnet outside the configured app subnets', async () => {
    const svc = service();
    svc.networkConfiguration!.awsvpcConfiguration!.subnets = [SUB_A, SUB_PUBLIC];
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [svc] });
    const findings = await securityChecklist(testContext());
    const finding = item(findings, 'isolation');
    expect(finding.status).toBe('FAIL');
    expect(finding.resource).toBe(SERVICE);
    expect(finding.reason).toBe(`runs in subnets outside APP_SUB_A/APP_SUB_B: ${SUB_PUBLIC}`);
    othersOk(findings, 'isolation');
  });

  it('FAIL: a subnet whose own route table routes 0.0.0.0/0 to an igw-', async () => {
    aws.ec2.on(DescribeRouteTablesCommand).resolves({
      RouteTables: [
        { ...privateTable(SUB_A), Associations: [{ SubnetId: SUB_A }] },
        { RouteTableId: 'rtb-public', Associations: [{ SubnetId: SUB_B }], Routes: [{ DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-0aaaaaaaaaaaaaaaa', State: 'active' }] },
      ],
    });
    const findings = await securityChecklist(testContext());
    const finding = item(findings, 'isolation');
    expect(finding.status).toBe('FAIL');
    expect(finding.resource).toBe(SERVICE);
    expect(finding.reason).toBe(`subnet: subnet ${SUB_B} routes to an internet gateway via rtb-public: it is public, not private`);
    othersOk(findings, 'isolation');
  });

  it('FAIL: a subnet with no explicit association falls back to the main table, which routes to an IGW', async () => {
    aws.ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: [mainPublic, privateTable(SUB_B)] });
    const findings = await securityChecklist(testContext());
    const finding = item(findings, 'isolation');
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).toContain(`subnet ${SUB_A} routes to an internet gateway via rtb-main`);
    expect(finding.reason).not.toContain(SUB_B);
    othersOk(findings, 'isolation');
  });

  it('FAIL: neither subnet associated, the main table is public: both named', async () => {
    aws.ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: [mainPublic] });
    const finding = item(await securityChecklist(testContext()), 'isolation');
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).toContain(`subnet ${SUB_A} routes to an internet gateway via rtb-main`);
    expect(finding.reason).toContain(`subnet ${SUB_B} routes to an internet gateway via rtb-main`);
  });

  it('OK: no explicit association and a private main table', async () => {
    aws.ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: [{ ...privateTable(), RouteTableId: 'rtb-main', Associations: [{ Main: true }] }] });
    expect(item(await securityChecklist(testContext()), 'isolation').status).toBe('OK');
  });

  it('FAIL: a subnet that assigns public IPs on launch', async () => {
    aws.ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [subnets()[0], { ...subnets()[1], MapPublicIpOnLaunch: true }] });
    const findings = await securityChecklist(testContext());
    const finding = item(findings, 'isolation');
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).toContain(`subnet ${SUB_B} assigns public IPs on launch`);
    othersOk(findings, 'isolation');
  });

  it('FAIL: a service without an awsvpc network configuration', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [{ ...service(), networkConfiguration: undefined }] });
    const finding = item(await securityChecklist(testContext()), 'isolation');
    expect([finding.status, finding.reason]).toEqual(['FAIL', 'no awsvpc network configuration']);
  });
});

describe('3.2 secrets only via Secrets Manager', () => {
  beforeEach(() => compliant(aws));

  it('OK: DB_PASSWORD in `secrets` is fine', async () => {
    const finding = item(await securityChecklist(testContext()), 'secrets');
    expect(finding.status).toBe('OK');
    expect(finding.resource).toBe(TASK_DEF);
  });

  it('FAIL: DB_PASSWORD in a container environment names the container and the variable', async () => {
    const container = api();
    container.environment!.push({ name: 'DB_PASSWORD', value: 'hunter2' });
    aws.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: taskDefinition([container, logRouter()]) });
    const findings = await securityChecklist(testContext());
    const finding = item(findings, 'secrets');
    expect(finding.status).toBe('FAIL');
    expect(finding.resource).toBe(TASK_DEF);
    expect(finding.reason).toContain('(api-container: DB_PASSWORD)');
    expect(finding.reason).not.toContain('hunter2');
    othersOk(findings, 'secrets');
  });

  it('FAIL: API_KEY and a token in the log router container are named too', async () => {
    const router = logRouter();
    router.environment = [
      { name: 'API_KEY', value: 'k' },
      { name: 'LOG_LEVEL', value: 'info' },
      { name: 'datadog_token', value: 't' },
    ];
    aws.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: taskDefinition([api(), router]) });
    const findings = await securityChecklist(testContext());
    const finding = item(findings, 'secrets');
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).toContain('log_router: API_KEY, log_router: datadog_token');
    expect(finding.reason).not.toContain('LOG_LEVEL');
    othersOk(findings, 'secrets');
  });

  it('FAIL: a variable the config delivers as a secret, found in cleartext, even with a harmless name', async () => {
    const ctx = testContext();
    ctx.config.taskDefinition.api.secrets = { DB_USER: 'username' };
    const container = api();
    container.environment!.push({ name: 'DB_USER', value: 'fintech' });
    aws.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: taskDefinition([container, logRouter()]) });
    const finding = item(await securityChecklist(ctx), 'secrets');
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).toContain('api-container: DB_USER');
  });
});

describe('3.3 log groups KMS-encrypted', () => {
  it('FAIL: the configured log group without kmsKeyId (a same-prefix encrypted group does not count)', async () => {
    compliant(aws, [
      { logGroupName: '/ecs/fintech-api' },
      { logGroupName: '/ecs/fintech-api-v2', kmsKeyId: KMS },
    ]);
    const findings = await securityChecklist(testContext());
    expect(item(findings, 'logEncryption')).toEqual({
      ...tagged('3.3'),
      check: CHECKLIST.logEncryption,
      status: 'FAIL',
      resource: LOG_GROUP,
      reason: 'not encrypted with a KMS key',
    });
    othersOk(findings, 'logEncryption');
  });

  it('FAIL: a second log group from a container awslogs-group is checked too', async () => {
    compliant(aws, [...logGroups(), { logGroupName: '/ecs/fintech-firelens' }]);
    const router = logRouter();
    router.logConfiguration!.options!['awslogs-group'] = '/ecs/fintech-firelens';
    aws.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: taskDefinition([api(), router]) });
    const findings = await securityChecklist(testContext());
    const logs = findings.filter((f) => f.check === CHECKLIST.logEncryption);
    expect(summary(logs)).toEqual([
      [CHECKLIST.logEncryption, 'OK', LOG_GROUP],
      [CHECKLIST.logEncryption, 'FAIL', 'log group /ecs/fintech-firelens'],
    ]);
    othersOk(findings, 'logEncryption');
  });

  it('FAIL: a second log group from a FireLens log_group_name is checked too', async () => {
    compliant(aws, [...logGroups(), { logGroupName: '/ecs/fintech-api-audit' }]);
    const container = api();
    container.logConfiguration!.options!.log_group_name = '/ecs/fintech-api-audit';
    aws.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: taskDefinition([container, logRouter()]) });
    const findings = await securityChecklist(testContext());
    expect(summary(findings.filter((f) => f.check === CHECKLIST.logEncryption))).toEqual([
      [CHECKLIST.logEncryption, 'OK', LOG_GROUP],
      [CHECKLIST.logEncryption, 'FAIL', 'log group /ecs/fintech-api-audit'],
    ]);
    expect(aws.logs.commandCalls(DescribeLogGroupsCommand).map((c) => c.args[0].input.logGroupNamePrefix).sort()).toEqual([
      '/ecs/fintech-api',
      '/ecs/fintech-api-audit',
    ]);
  });

  it('OK: every referenced log group encrypted', async () => {
    compliant(aws, [...logGroups(), { logGroupName: '/ecs/fintech-firelens', kmsKeyId: KMS }]);
    const router = logRouter();
    router.logConfiguration!.options!['awslogs-group'] = '/ecs/fintech-firelens';
    aws.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: taskDefinition([api(), router]) });
    const findings = await securityChecklist(testContext());
    expect(findings.filter((f) => f.check === CHECKLIST.logEncryption).map((f) => f.status)).toEqual(['OK', 'OK']);
  });

  it('SKIP: the log group does not exist', async () => {
    compliant(aws, []);
    const finding = item(await securityChecklist(testContext()), 'logEncryption');
    expect([finding.status, finding.resource, finding.reason]).toEqual(['SKIP', LOG_GROUP, 'log group does not exist']);
  });
});

describe('3.4 port 8080 only from the ALB SG', () => {
  beforeEach(() => compliant(aws));

  it('OK: only tcp 8080 from the ALB SG', async () => {
    withIngress(fromAlb());
    const findings = await securityChecklist(testContext());
    expect(item(findings, 'network')).toEqual({ ...tagged('3.4'), check: CHECKLIST.network, status: 'OK', resource: SG, reason: `admits only tcp 8080 from ${ALB_SG}` });
    othersOk(findings);
  });

  it('FAIL: 8080 from 0.0.0.0/0', async () => {
    withIngress(fromAlb(), { IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, IpRanges: [{ CidrIp: '0.0.0.0/0' }] });
    const findings = await securityChecklist(testContext());
    const finding = item(findings, 'network');
    expect(finding.status).toBe('FAIL');
    expect(finding.resource).toBe(SG);
    expect(finding.reason).toBe(`admits more than 8080 from ${ALB_SG}: tcp 8080 from 0.0.0.0/0`);
    othersOk(findings, 'network');
  });

  it('FAIL: 0.0.0.0/0 and ::/0 inside the ALB rule itself', async () => {
    withIngress({ ...fromAlb(), IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [{ CidrIpv6: '::/0' }] });
    const finding = item(await securityChecklist(testContext()), 'network');
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).toContain('0.0.0.0/0');
    expect(finding.reason).toContain('::/0');
  });

  it('FAIL: an extra port from the ALB SG', async () => {
    withIngress(fromAlb(), fromAlb(22));
    const findings = await securityChecklist(testContext());
    const finding = item(findings, 'network');
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).toBe(`admits more than 8080 from ${ALB_SG}: tcp 22 from ${ALB_SG}`);
    othersOk(findings, 'network');
  });

  it('FAIL: a port range or all traffic from the ALB SG', async () => {
    withIngress({ ...fromAlb(), FromPort: 8000, ToPort: 9000 }, { ...fromAlb(), IpProtocol: '-1', FromPort: undefined, ToPort: undefined });
    const finding = item(await securityChecklist(testContext()), 'network');
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).toBe(`admits more than 8080 from ${ALB_SG}: tcp 8000-9000 from ${ALB_SG}; all traffic from ${ALB_SG}`);
  });

  it('FAIL: a range that starts at 8080 but goes beyond it', async () => {
    withIngress({ ...fromAlb(), ToPort: 8090 });
    const finding = item(await securityChecklist(testContext()), 'network');
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).toBe(`admits more than 8080 from ${ALB_SG}: tcp 8080-8090 from ${ALB_SG}`);
  });

  it('FAIL: 8080 from another security group', async () => {
    withIngress(fromAlb(), { ...fromAlb(), UserIdGroupPairs: [{ GroupId: 'sg-0bad0000000000000' }] });
    const finding = item(await securityChecklist(testContext()), 'network');
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).toContain('tcp 8080 from sg-0bad0000000000000');
  });

  it('FAIL: no rule from the ALB SG (no ingress at all)', async () => {
    withIngress();
    const findings = await securityChecklist(testContext());
    const finding = item(findings, 'network');
    expect(finding.status).toBe('FAIL');
    expect(finding.resource).toBe(SG);
    expect(finding.reason).toBe(`no rule admits tcp 8080 from the ALB security group ${ALB_SG}: the ALB cannot reach the tasks`);
    othersOk(findings, 'network');
  });
});

describe('3.5 ECR tags IMMUTABLE', () => {
  beforeEach(() => compliant(aws));

  it('FAIL: a MUTABLE repository', async () => {
    aws.ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryName: 'fintech-api', imageTagMutability: 'MUTABLE' }] });
    const findings = await securityChecklist(testContext());
    expect(item(findings, 'immutability')).toEqual({
      ...tagged('3.5'),
      check: CHECKLIST.immutability,
      status: 'FAIL',
      resource: REPO,
      reason: 'image tag mutability is MUTABLE: tags can be overwritten',
    });
    othersOk(findings, 'immutability');
  });

  it('SKIP: a missing repository', async () => {
    aws.ecr.on(DescribeRepositoriesCommand).rejects(awsError('RepositoryNotFoundException', "The repository with name 'fintech-api' does not exist"));
    const findings = await securityChecklist(testContext());
    const finding = item(findings, 'immutability');
    expect([finding.status, finding.resource, finding.reason]).toEqual(['SKIP', REPO, 'repository does not exist']);
    othersOk(findings, 'immutability');
  });
});

describe('a check that cannot be evaluated is a FAIL that says why, never a pass', () => {
  beforeEach(() => compliant(aws));
  const denied = (operation: string, requestId: string) => awsError('AccessDeniedException', `not authorized to perform: ${operation}`, requestId);
  const couldNot = (operation: string, requestId: string) =>
    `could not be evaluated: AccessDeniedException: not authorized to perform: ${operation} — request id ${requestId}`;

  it('3.4: DescribeSecurityGroups denied', async () => {
    aws.ec2.on(DescribeSecurityGroupsCommand).rejects(denied('ec2:DescribeSecurityGroups', 'req-ec2-1'));
    const findings = await securityChecklist(testContext());
    const finding = item(findings, 'network');
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).toBe(couldNot('ec2:DescribeSecurityGroups', 'req-ec2-1'));
    othersOk(findings, 'network');
  });

  it('3.5: DescribeRepositories denied is FAIL, not SKIP', async () => {
    aws.ecr.on(DescribeRepositoriesCommand).rejects(denied('ecr:DescribeRepositories', 'req-ecr-2'));
    const findings = await securityChecklist(testContext());
    expect([item(findings, 'immutability').status, item(findings, 'immutability').reason]).toEqual(['FAIL', couldNot('ecr:DescribeRepositories', 'req-ecr-2')]);
    othersOk(findings, 'immutability');
  });

  it('3.3: DescribeLogGroups throttled', async () => {
    aws.logs.on(DescribeLogGroupsCommand).rejects(awsError('ThrottlingException', 'Rate exceeded', 'req-logs-3'));
    const findings = await securityChecklist(testContext());
    const finding = item(findings, 'logEncryption');
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).toBe('could not be evaluated: ThrottlingException: Rate exceeded — request id req-logs-3');
    othersOk(findings, 'logEncryption');
  });

  it('3.1: DescribeRouteTables denied', async () => {
    aws.ec2.on(DescribeRouteTablesCommand).rejects(denied('ec2:DescribeRouteTables', 'req-ec2-4'));
    const findings = await securityChecklist(testContext());
    expect([item(findings, 'isolation').status, item(findings, 'isolation').reason]).toEqual(['FAIL', couldNot('ec2:DescribeRouteTables', 'req-ec2-4')]);
    othersOk(findings, 'isolation');
  });

  it('DescribeServices denied: 3.1–3.3 FAIL, 3.4 and 3.5 are still evaluated', async () => {
    aws.ecs.on(DescribeServicesCommand).rejects(denied('ecs:DescribeServices', 'req-ecs-5'));
    const findings = await securityChecklist(testContext());
    expect(findings.map((f) => [f.check, f.status])).toEqual([
      [CHECKLIST.isolation, 'FAIL'],
      [CHECKLIST.secrets, 'FAIL'],
      [CHECKLIST.logEncryption, 'FAIL'],
      [CHECKLIST.network, 'OK'],
      [CHECKLIST.immutability, 'OK'],
    ]);
    for (const f of findings.slice(0, 3)) expect(f.reason).toBe(couldNot('ecs:DescribeServices', 'req-ecs-5'));
  });

  it('DescribeTaskDefinition denied: 3.2 is not a pass', async () => {
    aws.ecs.on(DescribeTaskDefinitionCommand).rejects(denied('ecs:DescribeTaskDefinition', 'req-ecs-6'));
    const findings = await securityChecklist(testContext());
    expect(item(findings, 'secrets')).toMatchObject({ status: 'FAIL', reason: couldNot('ecs:DescribeTaskDefinition', 'req-ecs-6') });
    expect(findings.filter((f) => f.status === 'OK').map((f) => f.check)).toEqual([CHECKLIST.network, CHECKLIST.immutability]);
  });
});
