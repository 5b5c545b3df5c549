import { DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  type RouteTable,
  type SecurityGroup,
  type Subnet,
} from '@aws-sdk/client-ec2';
import { DescribeListenersCommand, DescribeLoadBalancersCommand, type Listener, type LoadBalancer } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeKeyCommand, type KeyMetadata } from '@aws-sdk/client-kms';
import { DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import { DescribeSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runbook } from '../../steps/index.js';
import { controlById } from '../../src/checks/controls.js';
import { PreflightError, UsageError } from '../../src/core/errors.js';
import type { Step, StepContext, StepId } from '../../src/core/step.js';
import { checkAcceptedControls, describeAccepted, runPreflight } from '../../src/preflight.js';
import { awsError, fixtureEnv, mockAws, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

const VPC = fixtureEnv.VPC_ID!;
const SUB_A = fixtureEnv.APP_SUB_A!;
const SUB_B = fixtureEnv.APP_SUB_B!;
const ECS_SG = fixtureEnv.ECS_SG!;
const ALB_SG = fixtureEnv.ALB_SG!;
const OTHER_VPC = 'vpc-0ffffffffffffffff';

const subnets = (): Subnet[] => [
  { SubnetId: SUB_A, VpcId: VPC, AvailabilityZone: 'us-east-1a', MapPublicIpOnLaunch: false },
  { SubnetId: SUB_B, VpcId: VPC, AvailabilityZone: 'us-east-1b', MapPublicIpOnLaunch: false },
];

/** The VPC's main table is public (as in a default VPC); the app subnets are explicitly private. */
const routeTables = (): RouteTable[] => [
  {
    RouteTableId: 'rtb-main',
    VpcId: VPC,
    Associations: [{ Main: true, RouteTableId: 'rtb-main' }],
    Routes: [
      { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' },
      { DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-0123456789abcdef0', State: 'active' },
    ],
  },
  {
    RouteTableId: 'rtb-private',
    VpcId: VPC,
    Associations: [
      { Main: false, SubnetId: SUB_A, RouteTableId: 'rtb-private' },
      { Main: false, SubnetId: SUB_B, RouteTableId: 'rtb-private' },
    ],
    Routes: [
      { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' },
      { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-0123456789abcdef0', State: 'active' },
    ],
  },
];

/** Section 3.4 as it should be: the tasks admit 8080 from the ALB's group only; the ALB admits 443. */
const securityGroups = (): SecurityGroup[] => [
  { GroupId: ECS_SG, VpcId: VPC, GroupName: 'fintech-ecs', IpPermissions: [{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, UserIdGroupPairs: [{ GroupId: ALB_SG }] }] },
  { GroupId: ALB_SG, VpcId: VPC, GroupName: 'fintech-alb', IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] },
];

const LISTENER_ARN = `${fixtureEnv.ALB_ARN!.replace(':loadbalancer/', ':listener/')}/f2f7dc8efc522ab2`;
/** The ALB's listeners: the runbook's HTTPS one (converged by apply, not judged here). */
const listeners = (): Listener[] => [
  { ListenerArn: LISTENER_ARN, Protocol: 'HTTPS', Port: 443, SslPolicy: 'ELBSecurityPolicy-TLS-1-2-2017-01', DefaultActions: [{ Type: 'forward', TargetGroupArn: 'tg' }] },
];

/** A control's preflight problem, as it is reported. */
const controlProblem = (id: string, resource: string, reason: string) => {
  const c = controlById(id)!;
  const section = c.checklist.length ? `section ${c.checklist.join(', ')}` : c.source === 'security-hub' ? 'Security Hub' : 'runbook';
  return `${id} ${resource}: ${reason} (${c.title}; ${section}; --accept ${id} records an exception)`;
};

const alb = (): LoadBalancer => ({
  LoadBalancerArn: fixtureEnv.ALB_ARN,
  Type: 'application',
  VpcId: VPC,
  State: { Code: 'active' },
  SecurityGroups: [ALB_SG],
});

const key = (): KeyMetadata => ({ KeyId: '1234abcd-12ab-34cd-56ef-1234567890ab', Arn: fixtureEnv.LOGS_KMS_KEY_ARN, Enabled: true, KeyState: 'Enabled' });

/** Every input exists and fits. Tests override one lookup at a time. */
function healthy(aws: AwsMocks) {
  aws.ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: VPC, State: 'available' }] });
  aws.ec2.on(DescribeSubnetsCommand).resolves({ Subnets: subnets() });
  aws.ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: routeTables() });
  aws.ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: securityGroups() });
  aws.elbv2.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [alb()] });
  aws.elbv2.on(DescribeListenersCommand).resolves({ Listeners: listeners() });
  aws.acm.on(DescribeCertificateCommand).resolves({ Certificate: { CertificateArn: fixtureEnv.CERT_ARN, Status: 'ISSUED' } });
  aws.kms.on(DescribeKeyCommand).resolves({ KeyMetadata: key() });
  aws.secrets.on(DescribeSecretCommand).resolves({ ARN: fixtureEnv.DB_SECRET_ARN, Name: 'fintech/db-credentials' });
  // Mocked so that a call would be recorded (not rejected and swallowed): the test asserts there is none.
  aws.secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"password":"hunter2"}' });
}

const byId = (...ids: StepId[]): Step[] =>
  ids.map((id) => {
    const step = runbook.find((s) => s.id === id);
    if (!step) throw new Error(`no step ${id} in the runbook`);
    return step;
  });

/** The steps that rely on the section-1 inputs (none of them has its own preflight hook). */
const INPUT_STEPS: StepId[] = ['iam', 'task-definition', 'load-balancer', 'service'];

async function problems(steps: Step[], ctx: StepContext = testContext()): Promise<string[]> {
  const error = await runPreflight(ctx, steps).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'runPreflight should have failed').toBeInstanceOf(PreflightError);
  return (error as PreflightError).problems;
}

const callCount = (aws: AwsMocks) => Object.values(aws).reduce((n, mock) => n + mock.calls().length, 0);
const operations = (aws: AwsMocks) =>
  Object.entries(aws).flatMap(([service, mock]) =>
    mock.calls().map((call) => `${service}:${(call.args[0] as object).constructor.name.replace(/Command$/, '')}`),
  );

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});
afterEach(() => {
  // Preflight is read-only, whatever it finds; and it never reads the secret's value.
  expect(writeCalls(aws)).toEqual([]);
  expect(aws.secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
});

describe('runPreflight: all inputs fine', () => {
  it('resolves with read-only calls, each input looked up once', async () => {
    healthy(aws);
    const result = await runPreflight(testContext(), byId(...INPUT_STEPS));
    expect(result.accepted).toEqual([]);
    expect(result.controls.filter((c) => c.status === 'FAIL')).toEqual([]);
    // The input controls were evaluated on the same reads (the per-run read cache).
    expect(new Set(result.controls.map((c) => c.control))).toEqual(new Set(['EC2.15', 'RB.EC2.3', 'RB.EC2.1', 'RB.EC2.2', 'EC2.18', 'EC2.19', 'EC2.53', 'EC2.54', 'ELB.1', 'ELB.17']));
    expect(operations(aws).sort()).toEqual(
      [
        'acm:DescribeCertificate',
        'ec2:DescribeRouteTables', // the subnets' check and RB.EC2.3: once
        'ec2:DescribeSecurityGroups', // the groups' check and their rule controls: once
        'ec2:DescribeSubnets',
        'ec2:DescribeVpcs', // needed by load-balancer and service: once
        'elbv2:DescribeListeners',
        'elbv2:DescribeLoadBalancers',
        'kms:DescribeKey',
        'secrets:DescribeSecret', // needed by iam and task-definition: once
      ].sort(),
    );
  });

  it('asks about exactly the configured inputs', async () => {
    healthy(aws);
    await runPreflight(testContext(), byId(...INPUT_STEPS));
    expect(aws.ec2.commandCalls(DescribeVpcsCommand)[0].args[0].input).toEqual({ VpcIds: [VPC] });
    expect(aws.ec2.commandCalls(DescribeSubnetsCommand)[0].args[0].input).toEqual({ SubnetIds: [SUB_A, SUB_B] });
    expect(aws.ec2.commandCalls(DescribeRouteTablesCommand)[0].args[0].input).toEqual({ Filters: [{ Name: 'vpc-id', Values: [VPC] }] });
    expect(aws.ec2.commandCalls(DescribeSecurityGroupsCommand)[0].args[0].input).toEqual({ GroupIds: [ECS_SG, ALB_SG] });
    expect(aws.elbv2.commandCalls(DescribeLoadBalancersCommand)[0].args[0].input).toEqual({ LoadBalancerArns: [fixtureEnv.ALB_ARN] });
    expect(aws.acm.commandCalls(DescribeCertificateCommand)[0].args[0].input).toEqual({ CertificateArn: fixtureEnv.CERT_ARN });
    expect(aws.kms.commandCalls(DescribeKeyCommand)[0].args[0].input).toEqual({ KeyId: fixtureEnv.LOGS_KMS_KEY_ARN });
    expect(aws.secrets.commandCalls(DescribeSecretCommand)[0].args[0].input).toEqual({ SecretId: fixtureEnv.DB_SECRET_ARN });
  });

  it('the whole runbook, with the Aurora cluster and DynamoDB table hooks, passes and stays read-only', async () => {
    healthy(aws);
    aws.rds.on(DescribeDBClustersCommand).resolves({
      DBClusters: [{ DBClusterIdentifier: 'fintech-db-cluster', Engine: 'aurora-postgresql', Status: 'available', DBClusterMembers: [{ DBInstanceIdentifier: 'fintech-db-1', IsClusterWriter: true }] }],
    });
    aws.dynamodb.on(DescribeTableCommand).resolves({ Table: { TableName: 'FinTechTransactions', BillingModeSummary: { BillingMode: 'PROVISIONED' } } });
    await expect(runPreflight(testContext(), runbook)).resolves.toMatchObject({ accepted: [], unused: [] });
    expect(aws.rds.commandCalls(DescribeDBClustersCommand)).toHaveLength(1);
    expect(aws.dynamodb.commandCalls(DescribeTableCommand)).toHaveLength(1);
  });
});

describe('runPreflight: each problem names the input and what is wrong', () => {
  beforeEach(() => healthy(aws));
  const all = () => byId(...INPUT_STEPS);

  it('VPC not found', async () => {
    aws.ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [] });
    expect(await problems(all())).toEqual([`inputs.vpcId: VPC ${VPC} not found`]);
  });

  it('VPC lookup error (InvalidVpcID.NotFound) names the input and the request id', async () => {
    aws.ec2.on(DescribeVpcsCommand).rejects(awsError('InvalidVpcID.NotFound', `The vpc ID '${VPC}' does not exist`, 'req-vpc-1'));
    expect(await problems(all())).toEqual([`inputs.vpcId: InvalidVpcID.NotFound: The vpc ID '${VPC}' does not exist — request id req-vpc-1`]);
  });

  it('a subnet that assigns public IPs on launch', async () => {
    aws.ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [{ ...subnets()[0], MapPublicIpOnLaunch: true }, subnets()[1]] });
    expect(await problems(all())).toEqual([controlProblem('EC2.15', `subnet ${SUB_A}`, 'MapPublicIpOnLaunch is true: instances launched here get public IPs')]);
  });

  it('a subnet whose own route table routes 0.0.0.0/0 to an internet gateway', async () => {
    const tables = routeTables();
    tables[1].Associations = [{ SubnetId: SUB_A, RouteTableId: 'rtb-private' }];
    tables.push({
      RouteTableId: 'rtb-public',
      VpcId: VPC,
      Associations: [{ SubnetId: SUB_B, RouteTableId: 'rtb-public' }],
      Routes: [{ DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-0aaaaaaaaaaaaaaaa', State: 'active' }],
    });
    aws.ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: tables });
    expect(await problems(all())).toEqual([
      controlProblem('RB.EC2.3', `subnet ${SUB_B}`, 'routes to an internet gateway via rtb-public (0.0.0.0/0 → igw-0aaaaaaaaaaaaaaaa): it is public, not private'),
    ]);
  });

  it('a subnet without an explicit association uses the main table, which routes to an internet gateway', async () => {
    const tables = routeTables();
    tables[1].Associations = [{ SubnetId: SUB_B, RouteTableId: 'rtb-private' }];
    aws.ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: tables });
    expect(await problems(all())).toEqual([
      controlProblem('RB.EC2.3', `subnet ${SUB_A}`, 'routes to an internet gateway via rtb-main (0.0.0.0/0 → igw-0123456789abcdef0): it is public, not private'),
    ]);
  });

  it('a private main table and no explicit association is fine; so is a blackholed IGW route', async () => {
    aws.ec2.on(DescribeRouteTablesCommand).resolves({
      RouteTables: [
        {
          RouteTableId: 'rtb-main',
          Associations: [{ Main: true }],
          Routes: [
            { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-0123456789abcdef0', State: 'active' },
            { DestinationCidrBlock: '192.0.2.0/24', GatewayId: 'igw-0deaddeaddeaddead', State: 'blackhole' },
            { DestinationIpv6CidrBlock: '::/0', EgressOnlyInternetGatewayId: 'eigw-0123456789abcdef0', GatewayId: 'eigw-0123456789abcdef0', State: 'active' },
          ],
        },
      ],
    });
    await expect(runPreflight(testContext(), all())).resolves.toMatchObject({ accepted: [] });
  });

  it('both subnets in one availability zone', async () => {
    aws.ec2.on(DescribeSubnetsCommand).resolves({ Subnets: subnets().map((s) => ({ ...s, AvailabilityZone: 'us-east-1a' })) });
    expect(await problems(all())).toEqual(['inputs.appSubnetIds: both subnets are in us-east-1a; the runbook wants two availability zones']);
  });

  it('a subnet that is missing or in another VPC', async () => {
    aws.ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [{ ...subnets()[0], VpcId: OTHER_VPC }] });
    expect(await problems(all())).toEqual([
      `inputs.appSubnetIds: subnet ${SUB_A} is in ${OTHER_VPC}, not ${VPC}`,
      `inputs.appSubnetIds: subnet ${SUB_B} not found`,
    ]);
  });

  it('a security group that is missing, and one in another VPC', async () => {
    aws.ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: ALB_SG, VpcId: OTHER_VPC }] });
    expect(await problems(all())).toEqual([
      `inputs.ecsSecurityGroupId: security group ${ECS_SG} not found`,
      `inputs.albSecurityGroupId: security group ${ALB_SG} is in ${OTHER_VPC}, not ${VPC}`,
    ]);
  });

  it('a load balancer that is not application, in another VPC, failed, and without the ALB SG', async () => {
    aws.elbv2.on(DescribeLoadBalancersCommand).resolves({
      LoadBalancers: [{ ...alb(), Type: 'network', VpcId: OTHER_VPC, State: { Code: 'failed' }, SecurityGroups: ['sg-0123456789abcdef0'] }],
    });
    expect(await problems(all())).toEqual([
      'inputs.albArn: is a network load balancer, not application',
      `inputs.albArn: is in ${OTHER_VPC}, not ${VPC}`,
      'inputs.albArn: state is failed',
      `inputs.albSecurityGroupId: ${ALB_SG} is not attached to the ALB (it has sg-0123456789abcdef0)`,
    ]);
  });

  it('an ALB with no security group at all', async () => {
    aws.elbv2.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [{ ...alb(), SecurityGroups: [] }] });
    expect(await problems(all())).toEqual([`inputs.albSecurityGroupId: ${ALB_SG} is not attached to the ALB (it has none)`]);
  });

  it('a load balancer that is not found', async () => {
    aws.elbv2.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [] });
    expect(await problems(all())).toEqual(['inputs.albArn: load balancer not found']);
  });

  it('a certificate PENDING_VALIDATION is not ISSUED', async () => {
    aws.acm.on(DescribeCertificateCommand).resolves({ Certificate: { CertificateArn: fixtureEnv.CERT_ARN, Status: 'PENDING_VALIDATION' } });
    expect(await problems(all())).toEqual(['inputs.certificateArn: certificate is PENDING_VALIDATION, not ISSUED']);
  });

  it.each([
    ['Disabled', { Enabled: false, KeyState: 'Disabled' }],
    ['PendingDeletion', { Enabled: false, KeyState: 'PendingDeletion', DeletionDate: new Date('2030-01-01T00:00:00Z') }],
  ] as const)('a KMS key that is %s', async (state, metadata) => {
    aws.kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { ...key(), ...metadata } });
    expect(await problems(all())).toEqual([`inputs.logsKmsKeyArn: key is ${state}, not Enabled`]);
  });

  it('a secret scheduled for deletion', async () => {
    aws.secrets.on(DescribeSecretCommand).resolves({ ARN: fixtureEnv.DB_SECRET_ARN, DeletedDate: new Date('2030-02-03T04:05:06Z') });
    expect(await problems(all())).toEqual(['inputs.dbSecretArn: secret is scheduled for deletion (2030-02-03T04:05:06.000Z)']);
  });

  it('AccessDenied on a lookup is a problem naming the input, the error name and the request id', async () => {
    aws.kms.on(DescribeKeyCommand).rejects(awsError('AccessDeniedException', 'User: arn:aws:sts::123456789012:assumed-role/ops is not authorized to perform: kms:DescribeKey', 'req-kms-7'));
    aws.secrets.on(DescribeSecretCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform: secretsmanager:DescribeSecret', 'req-sm-8'));
    expect(await problems(all())).toEqual([
      'inputs.dbSecretArn: AccessDeniedException: not authorized to perform: secretsmanager:DescribeSecret — request id req-sm-8',
      'inputs.logsKmsKeyArn: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/ops is not authorized to perform: kms:DescribeKey — request id req-kms-7',
    ]);
  });

  it('reports ALL problems at once, in one PreflightError (exit code 1)', async () => {
    aws.ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [] });
    aws.ec2.on(DescribeSubnetsCommand).resolves({ Subnets: subnets().map((s) => ({ ...s, AvailabilityZone: 'us-east-1b' })) });
    aws.ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: [routeTables()[0]] });
    aws.ec2.on(DescribeSecurityGroupsCommand).rejects(awsError('InvalidGroup.NotFound', `The security group '${ECS_SG}' does not exist`, 'req-sg-1'));
    aws.elbv2.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [{ ...alb(), SecurityGroups: [] }] });
    aws.acm.on(DescribeCertificateCommand).resolves({ Certificate: { Status: 'EXPIRED' } });
    aws.kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { ...key(), Enabled: false, KeyState: 'PendingDeletion' } });
    aws.secrets.on(DescribeSecretCommand).resolves({ DeletedDate: new Date('2030-02-03T04:05:06Z') });

    const error = await runPreflight(testContext(), all()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreflightError);
    const { problems: found, exitCode, message } = error as PreflightError;
    expect(exitCode).toBe(1);
    const expected = [
      'inputs.dbSecretArn: secret is scheduled for deletion (2030-02-03T04:05:06.000Z)',
      'inputs.logsKmsKeyArn: key is PendingDeletion, not Enabled',
      `inputs.vpcId: VPC ${VPC} not found`,
      `inputs.albSecurityGroupId: ${ALB_SG} is not attached to the ALB (it has none)`,
      'inputs.certificateArn: certificate is EXPIRED, not ISSUED',
      // Privacy is a control (a FAIL --accept can waive); the security groups' rules, unreadable, are not repeated.
      controlProblem('RB.EC2.3', `subnet ${SUB_A}`, 'routes to an internet gateway via rtb-main (0.0.0.0/0 → igw-0123456789abcdef0): it is public, not private'),
      controlProblem('RB.EC2.3', `subnet ${SUB_B}`, 'routes to an internet gateway via rtb-main (0.0.0.0/0 → igw-0123456789abcdef0): it is public, not private'),
      'inputs.appSubnetIds: both subnets are in us-east-1b; the runbook wants two availability zones',
      `inputs.ecsSecurityGroupId/albSecurityGroupId: InvalidGroup.NotFound: The security group '${ECS_SG}' does not exist — request id req-sg-1`,
    ];
    expect([...found].sort()).toEqual([...expected].sort());
    for (const problem of expected) expect(message).toContain(`  - ${problem}`);
  });
});

describe('runPreflight: only the inputs the selected steps need', () => {
  beforeEach(() => healthy(aws));

  it.each(['cluster', 'ecr'] as const)('[%s] makes no AWS call at all', async (id) => {
    await expect(runPreflight(testContext(), byId(id))).resolves.toMatchObject({ accepted: [], controls: [] });
    expect(callCount(aws)).toBe(0);
  });

  it('no steps: nothing to check', async () => {
    await expect(runPreflight(testContext(), [])).resolves.toMatchObject({ accepted: [], controls: [] });
    expect(callCount(aws)).toBe(0);
  });

  it("[load-balancer] checks the VPC, ALB, certificate, the ALB's listeners and security groups, not the KMS key, secret or subnets", async () => {
    await runPreflight(testContext(), byId('load-balancer'));
    expect(operations(aws).sort()).toEqual(['acm:DescribeCertificate', 'ec2:DescribeSecurityGroups', 'ec2:DescribeVpcs', 'elbv2:DescribeListeners', 'elbv2:DescribeLoadBalancers']);
  });

  it('[load-balancer] is not failed by a broken KMS key it does not use', async () => {
    aws.kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { ...key(), Enabled: false, KeyState: 'Disabled' } });
    await expect(runPreflight(testContext(), byId('load-balancer'))).resolves.toMatchObject({ accepted: [] });
    await expect(runPreflight(testContext(), byId('task-definition'))).rejects.toThrow('inputs.logsKmsKeyArn: key is Disabled, not Enabled');
  });

  it('[iam] checks only the secret, with DescribeSecret', async () => {
    await runPreflight(testContext(), byId('iam'));
    expect(operations(aws)).toEqual(['secrets:DescribeSecret']);
  });

  it('[task-definition] checks the KMS key and the secret', async () => {
    await runPreflight(testContext(), byId('task-definition'));
    expect(operations(aws).sort()).toEqual(['kms:DescribeKey', 'secrets:DescribeSecret']);
  });

  it('[service] checks the VPC, subnets and security groups, not the ALB, certificate, key or secret', async () => {
    await runPreflight(testContext(), byId('service'));
    expect(operations(aws).sort()).toEqual(['ec2:DescribeRouteTables', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeVpcs']);
  });
});

describe("runPreflight: a step's own preflight hook", () => {
  beforeEach(() => healthy(aws));

  it('its problems are merged with the input problems, duplicates once', async () => {
    aws.acm.on(DescribeCertificateCommand).resolves({ Certificate: { Status: 'PENDING_VALIDATION' } });
    const hook = vi.fn(async () => ['fake: the thing is not ready', 'fake: shared problem']);
    const fake = { id: 'business-metrics', preflight: hook } as unknown as Step;
    const other = { id: 'ecs-scaling', preflight: async () => ['fake: shared problem'] } as unknown as Step;
    const ctx = testContext();
    const found = await problems([...byId('load-balancer'), fake, other], ctx);
    expect(hook).toHaveBeenCalledWith(ctx);
    expect(found).toEqual(['inputs.certificateArn: certificate is PENDING_VALIDATION, not ISSUED', 'fake: the thing is not ready', 'fake: shared problem']);
  });

  it('an empty hook result and a step without a hook change nothing', async () => {
    const fake = { id: 'business-metrics', preflight: async () => [] } as unknown as Step;
    const plain = { id: 'ecs-scaling' } as unknown as Step;
    await expect(runPreflight(testContext(), [fake, plain])).resolves.toMatchObject({ accepted: [], controls: [] });
    expect(callCount(aws)).toBe(0);
  });

  it('a hook whose lookup throws is one problem naming the step, and the other problems are still reported', async () => {
    aws.secrets.on(DescribeSecretCommand).resolves({ DeletedDate: new Date('2030-02-03T04:05:06Z') });
    const fake = {
      id: 'business-metrics',
      preflight: async () => {
        throw awsError('AccessDeniedException', 'not authorized to perform: cloudwatch:ListMetrics', 'req-cw-3');
      },
    } as unknown as Step;
    expect(await problems([...byId('iam'), fake])).toEqual([
      'inputs.dbSecretArn: secret is scheduled for deletion (2030-02-03T04:05:06.000Z)',
      'business-metrics preflight: AccessDeniedException: not authorized to perform: cloudwatch:ListMetrics — request id req-cw-3',
    ]);
  });

  it("the real Aurora step's hook: a missing cluster is reported; an AccessDenied names the step and request id", async () => {
    aws.rds.on(DescribeDBClustersCommand).rejectsOnce(awsError('DBClusterNotFoundFault', 'DBCluster fintech-db-cluster not found')).rejects(awsError('AccessDeniedException', 'not authorized to perform: rds:DescribeDBClusters', 'req-rds-9'));
    const [missing] = await problems(byId('aurora-scaling'));
    expect(missing).toContain('fintech-db-cluster');
    expect(missing).toContain('inputs.auroraClusterId');
    expect(await problems(byId('aurora-scaling'))).toEqual([
      'aurora-scaling preflight: AccessDeniedException: not authorized to perform: rds:DescribeDBClusters — request id req-rds-9',
    ]);
  });
});

describe('runPreflight: the section 3 checklist on inputs, as controls by id (issue 9)', () => {
  beforeEach(() => healthy(aws));
  const all = () => byId(...INPUT_STEPS);
  const withRules = (id: string, extra: SecurityGroup['IpPermissions']) =>
    aws.ec2.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: securityGroups().map((g) => (g.GroupId === id ? { ...g, IpPermissions: [...(g.IpPermissions ?? []), ...(extra ?? [])] } : g)),
    });
  const world = (port: number) => ({ IpProtocol: 'tcp', FromPort: port, ToPort: port, IpRanges: [{ CidrIp: '0.0.0.0/0' }] });

  it("8080 from 0.0.0.0/0 on the tasks' group stops apply naming the rule and every control it breaks", async () => {
    withRules(ECS_SG, [world(8080)]);
    const found = await problems(all());
    const group = `security group ${ECS_SG} (the tasks')`;
    expect(found).toEqual([
      controlProblem('RB.EC2.1', group, `admits more than tcp 8080 from ${ALB_SG}: tcp 8080 from 0.0.0.0/0`),
      controlProblem('EC2.18', group, 'admits 0.0.0.0/0 or ::/0 beyond tcp 80/443: tcp 8080 from 0.0.0.0/0'),
      controlProblem('EC2.19', group, 'admits a high-risk port from 0.0.0.0/0 or ::/0: tcp 8080 from 0.0.0.0/0'),
    ]);
  });

  it('--accept waives exactly those controls: the run goes on, the exceptions are returned for the journal and printed', async () => {
    withRules(ECS_SG, [world(8080)]);
    const result = await runPreflight(testContext(), all(), { accept: ['RB.EC2.1', 'EC2.18', 'EC2.19', 'EC2.53'] });
    expect(result.accepted.map((a) => a.control)).toEqual(['RB.EC2.1', 'EC2.18', 'EC2.19']);
    expect(result.accepted[0]).toEqual({ control: 'RB.EC2.1', resource: `security group ${ECS_SG} (the tasks')`, reason: `admits more than tcp 8080 from ${ALB_SG}: tcp 8080 from 0.0.0.0/0` });
    expect(result.unused).toEqual(['EC2.53']);
    expect(describeAccepted(result)).toEqual([
      `Accepted exception (--accept RB.EC2.1): security group ${ECS_SG} (the tasks'): admits more than tcp 8080 from ${ALB_SG}: tcp 8080 from 0.0.0.0/0`,
      `Accepted exception (--accept EC2.18): security group ${ECS_SG} (the tasks'): admits 0.0.0.0/0 or ::/0 beyond tcp 80/443: tcp 8080 from 0.0.0.0/0`,
      `Accepted exception (--accept EC2.19): security group ${ECS_SG} (the tasks'): admits a high-risk port from 0.0.0.0/0 or ::/0: tcp 8080 from 0.0.0.0/0`,
      '--accept EC2.53: the control passes, nothing to accept',
    ]);
    // Accepting one control leaves the others stopping the run.
    await expect(runPreflight(testContext(), all(), { accept: ['RB.EC2.1'] })).rejects.toThrow(/EC2\.18 security group/);
  });

  it('--accept of an unknown control, or one not evaluated before apply, is a usage error (exit 2) before any AWS call', async () => {
    for (const [id, why] of [
      ['ECS.99', 'no such control'],
      ['ECS.5', 'not evaluated before apply'],
    ]) {
      expect(() => checkAcceptedControls([id])).toThrow(UsageError);
      expect(() => checkAcceptedControls([id])).toThrow(why);
    }
    await expect(runPreflight(testContext(), all(), { accept: ['ECS.5'] })).rejects.toThrow(UsageError);
    expect(callCount(aws)).toBe(0);
  });

  it("the ALB's group: 22 from anywhere is EC2.53 and RB.EC2.2; 80 is RB.EC2.2 unless an HTTP:80 listener redirects to HTTPS", async () => {
    withRules(ALB_SG, [world(80), world(22)]);
    const group = `security group ${ALB_SG} (the ALB's)`;
    const found = await problems(all());
    expect(found).toContain(controlProblem('EC2.53', group, 'admits 22/3389 from 0.0.0.0/0: tcp 22 from 0.0.0.0/0'));
    expect(found).toContain(controlProblem('RB.EC2.2', group, 'admits more than tcp 443 (80 only with an HTTP listener that redirects to HTTPS): tcp 80 from 0.0.0.0/0; tcp 22 from 0.0.0.0/0'));
    // With a redirecting HTTP:80 listener, 80 is fine and only 22 remains.
    aws.elbv2.on(DescribeListenersCommand).resolves({
      Listeners: [...listeners(), { ListenerArn: 'http', Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }] }],
    });
    expect((await problems(all())).filter((p) => p.startsWith('RB.EC2.2'))).toEqual([
      controlProblem('RB.EC2.2', group, 'admits more than tcp 443 and 80 (redirected): tcp 22 from 0.0.0.0/0'),
    ]);
  });

  it('an HTTP listener that forwards fails ELB.1; another HTTPS listener with an old policy fails ELB.17; the runbook\'s own listener is converged by apply, not judged', async () => {
    aws.elbv2.on(DescribeListenersCommand).resolves({
      Listeners: [
        ...listeners(),
        { ListenerArn: 'http-arn', Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: 'tg' }] },
        { ListenerArn: 'admin-arn', Protocol: 'HTTPS', Port: 8443, SslPolicy: 'ELBSecurityPolicy-2016-08', DefaultActions: [{ Type: 'forward', TargetGroupArn: 'tg' }] },
      ],
    });
    expect(await problems(byId('load-balancer'))).toEqual([
      controlProblem('ELB.1', 'load balancer fintech-prod-alb', 'listener HTTP:80 (http-arn) forward, not a redirect to HTTPS'),
      controlProblem('ELB.17', 'listener HTTPS:8443 on fintech-prod-alb', 'SslPolicy ELBSecurityPolicy-2016-08 is not a recommended security policy'),
    ]);
  });

  it('a control whose read is denied (every input fine otherwise) is FAIL "could not be evaluated" with the request id, never a pass', async () => {
    aws.elbv2.on(DescribeListenersCommand).rejects(awsError('AccessDenied', 'not authorized to perform: elasticloadbalancing:DescribeListeners', 'req-lst-4'));
    const found = await problems(byId('load-balancer'));
    expect(found).toContain(
      controlProblem('ELB.1', 'AWS::ElasticLoadBalancingV2::LoadBalancer', 'could not be evaluated: AccessDenied: not authorized to perform: elasticloadbalancing:DescribeListeners — request id req-lst-4'),
    );
    expect(found.some((p) => p.startsWith('ELB.17') && p.includes('req-lst-4'))).toBe(true);
  });
});
