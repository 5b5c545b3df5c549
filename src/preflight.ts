// Preflight: every input the runbook assumes but does not create exists and fits, checked with
// read-only calls before the first write. Each problem names the input and what is wrong. The
// section 3 checklist items that concern inputs (the app subnets private, both security groups'
// rules, the ALB's listeners) run here as controls by id (src/checks/controls.ts): a FAIL stops
// apply with 0 writes unless `--accept <control>` makes it a recorded exception (issue 9).
import { DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { DescribeRouteTablesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, DescribeVpcsCommand, type Subnet } from '@aws-sdk/client-ec2';
import { DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { CONTROL_DEFINITIONS, controlById, evaluateControls, INPUT_CONTROL_IDS, type ControlResult } from './checks/controls.js';
import { routesToInternet } from './checks/controls/network.js';
import { describeAwsError, UsageError } from './core/errors.js';
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

/**
 * Section 3.1: problems that make any of these subnets unfit for tasks: missing, outside the VPC,
 * and (`privacy`, the default) public IPs on launch or a route to an internet gateway. Shared with
 * the security checklist; the preflight leaves privacy to controls EC2.15 and RB.EC2.3.
 */
export async function subnetPrivacyProblems(
  ctx: StepContext,
  ids: string[],
  field: string,
  { privacy = true }: { privacy?: boolean } = {},
): Promise<{ problems: string[]; subnets: Subnet[] }> {
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
    if (!privacy) continue;
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
    const { problems, subnets: Subnets } = await subnetPrivacyProblems(ctx, ids, 'inputs.appSubnetIds', { privacy: false });
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

/** A control FAIL the operator accepted with `--accept <id>`: written to the journal's run-start. */
export interface AcceptedException {
  control: string;
  resource: string;
  reason: string;
  requestId?: string;
}

export interface PreflightResult {
  /** The input controls evaluated (OK, FAIL, SKIP). */
  controls: ControlResult[];
  /** The FAILs `--accept` waived, one per resource: the run goes on and records them. */
  accepted: AcceptedException[];
  /** `--accept` ids that had nothing to waive (the control passed). */
  unused: string[];
}

/**
 * `--accept` ids, checked before any AWS call: only controls the preflight evaluates (on inputs)
 * can be accepted; anything else is a usage error naming the ones that can.
 */
export function checkAcceptedControls(ids: readonly string[] | undefined): string[] {
  const wanted = [...new Set(ids ?? [])];
  for (const id of wanted) {
    if (INPUT_CONTROL_IDS.includes(id)) continue;
    const known = controlById(id);
    throw new UsageError(
      `--accept ${id}: ${known ? 'not evaluated before apply (it reads what apply converges; validate reports it)' : 'no such control'}; ` +
        `the preflight's controls are ${INPUT_CONTROL_IDS.join(', ')}`,
    );
  }
  return wanted;
}

/** A missing input is already a problem naming the input field: its controls do not repeat it. */
const missingInput = (r: ControlResult) => /^could not be evaluated: the .* (?:was not found|does not exist)$/.test(r.reason);
const notEvaluated = (r: ControlResult) => r.reason.startsWith('could not be evaluated:');

const describeControlProblem = (r: ControlResult) => {
  const definition = CONTROL_DEFINITIONS.find((c) => c.id === r.control);
  const section = definition?.checklist.length ? `section ${definition.checklist.join(', ')}` : definition?.source === 'security-hub' ? 'Security Hub' : 'runbook';
  return `${r.control} ${r.resource}: ${r.reason} (${definition?.title ?? r.control}; ${section}; --accept ${r.control} records an exception)`;
};

/** The lines apply prints for what was accepted: never silent. */
export function describeAccepted(result: Pick<PreflightResult, 'accepted' | 'unused'>): string[] {
  return [
    ...result.accepted.map((a) => `Accepted exception (--accept ${a.control}): ${a.resource}: ${a.reason}`),
    ...result.unused.map((id) => `--accept ${id}: the control passes, nothing to accept`),
  ];
}

export async function runPreflight(ctx: StepContext, steps: Step[], options: { accept?: readonly string[] } = {}): Promise<PreflightResult> {
  const accept = checkAcceptedControls(options.accept);
  const checks = new Set(steps.flatMap((step) => checksByStep[step.id] ?? []));
  const ids = steps.map((s) => s.id);
  // One read per input for the input checks and the controls together (the per-run read cache).
  const [results, controls] = await Promise.all([
    Promise.all([
      ...[...checks].map((check) => check(ctx)),
      ...steps.map((step) => (step.preflight ? attempt(`${step.id} preflight`, () => step.preflight!(ctx)) : Promise.resolve([]))),
    ]),
    evaluateControls(ctx, { mode: 'preflight', steps: ids }),
  ]);
  const inputProblems = results.flat();
  // A broken input (missing, unreadable) is one problem naming its field: the controls that could
  // not read it do not repeat it. With every input fine, "could not be evaluated" is a problem.
  const failed = controls.filter((r) => r.status === 'FAIL' && !missingInput(r) && !(inputProblems.length && notEvaluated(r)));
  const accepted = failed.filter((r) => accept.includes(r.control));
  const problems = [...new Set([...inputProblems, ...failed.filter((r) => !accept.includes(r.control)).map(describeControlProblem)])];
  if (problems.length) throw new PreflightError(problems);
  return {
    controls,
    accepted: accepted.map((r) => ({ control: r.control, resource: r.resource, reason: r.reason, ...(r.requestId ? { requestId: r.requestId } : {}) })),
    unused: accept.filter((id) => !accepted.some((a) => a.control === id)),
  };
}
