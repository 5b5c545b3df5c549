// Preflight: every input the runbook assumes but does not create exists and fits, checked with
// read-only calls before the first write. Each problem names the input and what is wrong.
import { DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { DescribeRouteTablesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, DescribeVpcsCommand, type RouteTable, type Subnet } from '@aws-sdk/client-ec2';
import { DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { describeAwsError } from './core/errors.js';
import { PreflightError } from './core/errors.js';
import type { Step, StepContext, StepId } from './core/step.js';

type InputCheck = (ctx: StepContext) => Promise<string[]>;

/** A lookup that fails (not found, access denied) becomes one problem naming the input. */
async function attempt(input: string, check: () => Promise<string[]>): Promise<string[]> {
  try {
    return await check();
  } catch (error) {
    return [`${input}: ${describeAwsError(error)}`];
  }
}

const vpc: InputCheck = (ctx) =>
  attempt('inputs.vpcId', async () => {
    const { Vpcs = [] } = await ctx.clients.ec2.send(new DescribeVpcsCommand({ VpcIds: [ctx.config.inputs.vpcId] }));
    return Vpcs.length ? [] : [`inputs.vpcId: VPC ${ctx.config.inputs.vpcId} not found`];
  });

function routesToInternet(table: RouteTable | undefined): boolean {
  return (table?.Routes ?? []).some((r) => r.GatewayId?.startsWith('igw-') && r.State !== 'blackhole');
}

/**
 * Section 3.1: problems that make any of these subnets unfit for tasks: missing, outside the VPC,
 * public IPs on launch, or a route to an internet gateway. Shared with the security checklist.
 */
export async function subnetPrivacyProblems(ctx: StepContext, ids: string[], field: string): Promise<{ problems: string[]; subnets: Subnet[] }> {
  const { Subnets = [] } = await ctx.clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: ids }));
  const { RouteTables = [] } = await ctx.clients.ec2.send(
    new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [ctx.config.inputs.vpcId] }] }),
  );
  const mainTable = RouteTables.find((t) => t.Associations?.some((a) => a.Main));
  const problems: string[] = [];
  for (const id of ids) {
    const subnet = Subnets.find((s) => s.SubnetId === id);
    if (!subnet) {
      problems.push(`${field}: subnet ${id} not found`);
      continue;
    }
    if (subnet.VpcId !== ctx.config.inputs.vpcId) problems.push(`${field}: subnet ${id} is in ${subnet.VpcId}, not ${ctx.config.inputs.vpcId}`);
    if (subnet.MapPublicIpOnLaunch) problems.push(`${field}: subnet ${id} assigns public IPs on launch (section 3.1 wants private subnets)`);
    const table = RouteTables.find((t) => t.Associations?.some((a) => a.SubnetId === id)) ?? mainTable;
    if (routesToInternet(table)) problems.push(`${field}: subnet ${id} routes to an internet gateway via ${table?.RouteTableId}: it is public, not private`);
  }
  return { problems, subnets: Subnets };
}

/** Section 3.1: tasks run only in private subnets, in two AZs. */
const appSubnets: InputCheck = (ctx) =>
  attempt('inputs.appSubnetIds', async () => {
    const ids = ctx.config.inputs.appSubnetIds;
    const { problems, subnets: Subnets } = await subnetPrivacyProblems(ctx, ids, 'inputs.appSubnetIds');
    const zones = new Set(Subnets.map((s) => s.AvailabilityZone));
    if (Subnets.length === ids.length && zones.size < ids.length) {
      problems.push(`inputs.appSubnetIds: both subnets are in ${[...zones].join(', ')}; the runbook wants two availability zones`);
    }
    return problems;
  });

const securityGroups: InputCheck = (ctx) =>
  attempt('inputs.ecsSecurityGroupId/albSecurityGroupId', async () => {
    const wanted = { 'inputs.ecsSecurityGroupId': ctx.config.inputs.ecsSecurityGroupId, 'inputs.albSecurityGroupId': ctx.config.inputs.albSecurityGroupId };
    const { SecurityGroups = [] } = await ctx.clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: Object.values(wanted) }));
    return Object.entries(wanted).flatMap(([field, id]) => {
      const group = SecurityGroups.find((g) => g.GroupId === id);
      if (!group) return [`${field}: security group ${id} not found`];
      if (group.VpcId !== ctx.config.inputs.vpcId) return [`${field}: security group ${id} is in ${group.VpcId}, not ${ctx.config.inputs.vpcId}`];
      return [];
    });
  });

const loadBalancer: InputCheck = (ctx) =>
  attempt('inputs.albArn', async () => {
    const { LoadBalancers = [] } = await ctx.clients.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [ctx.config.inputs.albArn] }));
    const alb = LoadBalancers[0];
    if (!alb) return [`inputs.albArn: load balancer not found`];
    const problems: string[] = [];
    if (alb.Type !== 'application') problems.push(`inputs.albArn: is a ${alb.Type} load balancer, not application`);
    if (alb.VpcId !== ctx.config.inputs.vpcId) problems.push(`inputs.albArn: is in ${alb.VpcId}, not ${ctx.config.inputs.vpcId}`);
    if (alb.State?.Code && !['active', 'provisioning'].includes(alb.State.Code)) problems.push(`inputs.albArn: state is ${alb.State.Code}`);
    if (!alb.SecurityGroups?.includes(ctx.config.inputs.albSecurityGroupId)) {
      problems.push(`inputs.albSecurityGroupId: ${ctx.config.inputs.albSecurityGroupId} is not attached to the ALB (it has ${alb.SecurityGroups?.join(', ') || 'none'})`);
    }
    return problems;
  });

const certificate: InputCheck = (ctx) =>
  attempt('inputs.certificateArn', async () => {
    const { Certificate } = await ctx.clients.acm.send(new DescribeCertificateCommand({ CertificateArn: ctx.config.inputs.certificateArn }));
    return Certificate?.Status === 'ISSUED' ? [] : [`inputs.certificateArn: certificate is ${Certificate?.Status ?? 'unknown'}, not ISSUED`];
  });

const kmsKey: InputCheck = (ctx) =>
  attempt('inputs.logsKmsKeyArn', async () => {
    const { KeyMetadata } = await ctx.clients.kms.send(new DescribeKeyCommand({ KeyId: ctx.config.inputs.logsKmsKeyArn }));
    return KeyMetadata?.Enabled && KeyMetadata.KeyState === 'Enabled' ? [] : [`inputs.logsKmsKeyArn: key is ${KeyMetadata?.KeyState ?? 'unknown'}, not Enabled`];
  });

/** DescribeSecret only: the tool never reads a secret's value. */
const secret: InputCheck = (ctx) =>
  attempt('inputs.dbSecretArn', async () => {
    const described = await ctx.clients.secrets.send(new DescribeSecretCommand({ SecretId: ctx.config.inputs.dbSecretArn }));
    return described.DeletedDate ? [`inputs.dbSecretArn: secret is scheduled for deletion (${described.DeletedDate.toISOString()})`] : [];
  });

/** Which inputs each step relies on: `--only ecr` does not need the ALB to exist. */
const checksByStep: Partial<Record<StepId, InputCheck[]>> = {
  iam: [secret],
  'task-definition': [kmsKey, secret],
  'load-balancer': [vpc, loadBalancer, certificate],
  service: [vpc, appSubnets, securityGroups],
};

export async function runPreflight(ctx: StepContext, steps: Step[]): Promise<void> {
  const checks = new Set(steps.flatMap((step) => checksByStep[step.id] ?? []));
  const results = await Promise.all([
    ...[...checks].map((check) => check(ctx)),
    ...steps.map((step) => (step.preflight ? attempt(`${step.id} preflight`, () => step.preflight!(ctx)) : Promise.resolve([]))),
  ]);
  const problems = [...new Set(results.flat())];
  if (problems.length) throw new PreflightError(problems);
}
