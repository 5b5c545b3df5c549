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
import { DescribeLoadBalancersCommand, type LoadBalancer } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeKeyCommand, type KeyMetadata } from '@aws-sdk/client-kms';
import { DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import { DescribeSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runbook } from '../../steps/index.js';
import { PreflightError } from '../../src/core/errors.js';
import type { Step, StepContext, StepId } from '../../src/core/step.js';
import { runPreflight } from '../../src/preflight.js';
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

const securityGroups = (): SecurityGroup[] => [
  { GroupId: ECS_SG, VpcId: VPC, GroupName: 'fintech-ecs' },
  { GroupId: ALB_SG, VpcId: VPC, GroupName: 'fintech-alb' },
];

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
    await expect(runPreflight(testContext(), byId(...INPUT_STEPS))).resolves.toBeUndefined();
    expect(operations(aws).sort()).toEqual(
      [
        'acm:DescribeCertificate',
        'ec2:DescribeRouteTables',
        'ec2:DescribeSecurityGroups',
        'ec2:DescribeSubnets',
        'ec2:DescribeVpcs', // needed by load-balancer and service: once
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
    await expect(runPreflight(testContext(), runbook)).resolves.toBeUndefined();
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
    expect(await problems(all())).toEqual([`inputs.appSubnetIds: subnet ${SUB_A} assigns public IPs on launch (section 3.1 wants private subnets)`]);
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
    expect(await problems(all())).toEqual([`inputs.appSubnetIds: subnet ${SUB_B} routes to an internet gateway via rtb-public: it is public, not private`]);
  });

  it('a subnet without an explicit association uses the main table, which routes to an internet gateway', async () => {
    const tables = routeTables();
    tables[1].Associations = [{ SubnetId: SUB_B, RouteTableId: 'rtb-private' }];
    aws.ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: tables });
    expect(await problems(all())).toEqual([`inputs.appSubnetIds: subnet ${SUB_A} routes to an internet gateway via rtb-main: it is public, not private`]);
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
    await expect(runPreflight(testContext(), all())).resolves.toBeUndefined();
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
      `inputs.appSubnetIds: subnet ${SUB_A} routes to an internet gateway via rtb-main: it is public, not private`,
      `inputs.appSubnetIds: subnet ${SUB_B} routes to an internet gateway via rtb-main: it is public, not private`,
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
    await expect(runPreflight(testContext(), byId(id))).resolves.toBeUndefined();
    expect(callCount(aws)).toBe(0);
  });

  it('no steps: nothing to check', async () => {
    await expect(runPreflight(testContext(), [])).resolves.toBeUndefined();
    expect(callCount(aws)).toBe(0);
  });

  it('[load-balancer] checks the VPC, ALB and certificate, not the KMS key, secret, subnets or SGs', async () => {
    await runPreflight(testContext(), byId('load-balancer'));
    expect(operations(aws).sort()).toEqual(['acm:DescribeCertificate', 'ec2:DescribeVpcs', 'elbv2:DescribeLoadBalancers']);
  });

  it('[load-balancer] is not failed by a broken KMS key it does not use', async () => {
    aws.kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { ...key(), Enabled: false, KeyState: 'Disabled' } });
    await expect(runPreflight(testContext(), byId('load-balancer'))).resolves.toBeUndefined();
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
    await expect(runPreflight(testContext(), [fake, plain])).resolves.toBeUndefined();
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
