// Runbook section 3, the Security & Compliance Checklist, as five read-only checks against what
// runs (the service, its task definition, its log groups, its security group, its repository).
import { DescribeSecurityGroupsCommand, type IpPermission } from '@aws-sdk/client-ec2';
import { DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import { DescribeTaskDefinitionCommand, type TaskDefinition } from '@aws-sdk/client-ecs';
import { describeService } from '../aws/deployment.js';
import { findLogGroup } from '../aws/logs.js';
import { names, SECRET_LOOKING_NAME, type RunbookConfig } from '../config.js';
import { describeAwsError, isAwsError } from '../core/errors.js';
import { fail, ok, skip, type Finding, type StepContext } from '../core/step.js';
import { subnetPrivacyProblems } from '../preflight.js';
import { describeRule } from './controls/network.js';
import { checklistControls } from './controls.js';

/** The five items' titles, in the runbook's words; 3.4 names this config's API port (the runbook's is 8080). */
export function checklistTitles(config: Pick<RunbookConfig, 'taskDefinition'>) {
  return {
    isolation: '3.1 Private subnets, no public IP',
    secrets: '3.2 Secrets only via Secrets Manager',
    logEncryption: '3.3 Log groups KMS-encrypted',
    network: `3.4 Port ${config.taskDefinition.api.port} only from ALB SG`,
    immutability: '3.5 ECR tags IMMUTABLE',
  } as const;
}
export type ChecklistItem = keyof ReturnType<typeof checklistTitles>;
const titles = (ctx: StepContext) => checklistTitles(ctx.config);

async function serviceTaskDefinition(ctx: StepContext): Promise<{ serviceName: string; service?: Awaited<ReturnType<typeof describeService>>; taskDefinition?: TaskDefinition }> {
  const serviceName = names.serviceResource(ctx.config);
  const service = await describeService(ctx.clients.ecs, ctx.config.cluster.name, ctx.config.service.name);
  if (!service?.taskDefinition) return { serviceName, service };
  const { taskDefinition } = await ctx.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition }));
  return { serviceName, service, taskDefinition };
}

type Running = Awaited<ReturnType<typeof serviceTaskDefinition>>;

async function isolation(ctx: StepContext, { serviceName, service }: Running): Promise<Finding> {
  if (!service) return skip(titles(ctx).isolation, serviceName, 'service does not exist');
  const vpc = service.networkConfiguration?.awsvpcConfiguration;
  if (!vpc) return fail(titles(ctx).isolation, serviceName, 'no awsvpc network configuration');
  if (vpc.assignPublicIp === 'ENABLED') return fail(titles(ctx).isolation, serviceName, 'assignPublicIp is ENABLED: tasks get public IPs');
  const subnets = vpc.subnets ?? [];
  const foreign = subnets.filter((s) => !ctx.config.inputs.appSubnetIds.includes(s));
  if (foreign.length) return fail(titles(ctx).isolation, serviceName, `runs in subnets outside APP_SUB_A/APP_SUB_B: ${foreign.join(', ')}`);
  const { problems } = await subnetPrivacyProblems(ctx, subnets, 'subnet');
  return problems.length
    ? fail(titles(ctx).isolation, serviceName, problems.join('; '))
    : ok(titles(ctx).isolation, serviceName, `subnets ${subnets.join(', ')} are private, assignPublicIp DISABLED`);
}

function secrets(ctx: StepContext, { serviceName, taskDefinition }: Running): Finding {
  if (!taskDefinition) return skip(titles(ctx).secrets, serviceName, 'service or task definition not found');
  const resource = `task definition ${taskDefinition.family}:${taskDefinition.revision}`;
  const configured = new Set(Object.keys(ctx.config.taskDefinition.api.secrets));
  const leaks = (taskDefinition.containerDefinitions ?? []).flatMap((container) =>
    (container.environment ?? [])
      .filter((v) => v.name && (SECRET_LOOKING_NAME.test(v.name) || configured.has(v.name)))
      .map((v) => `${container.name}: ${v.name}`),
  );
  return leaks.length
    ? fail(titles(ctx).secrets, resource, `cleartext environment holds secret-looking variables (${leaks.join(', ')}); move them to \`secrets\``)
    : ok(titles(ctx).secrets, resource, 'no secret-looking variable in any container environment');
}

/** The configured log group, plus every log group the running task definition writes to. */
function logGroupsOf(ctx: StepContext, taskDefinition: TaskDefinition | undefined): string[] {
  const groups = new Set([ctx.config.taskDefinition.logGroup.name]);
  for (const container of taskDefinition?.containerDefinitions ?? []) {
    const options = container.logConfiguration?.options ?? {};
    const group = options['awslogs-group'] ?? options.log_group_name;
    if (group) groups.add(group);
  }
  return [...groups];
}

async function logEncryption(ctx: StepContext, { taskDefinition }: Running): Promise<Finding[]> {
  return Promise.all(
    logGroupsOf(ctx, taskDefinition).map(async (name) => {
      const resource = `log group ${name}`;
      const group = await findLogGroup(ctx.clients.logs, name);
      if (!group) return skip(titles(ctx).logEncryption, resource, 'log group does not exist');
      return group.kmsKeyId
        ? ok(titles(ctx).logEncryption, resource, `encrypted with ${group.kmsKeyId}`)
        : fail(titles(ctx).logEncryption, resource, 'not encrypted with a KMS key');
    }),
  );
}

/** Ingress must be exactly: tcp <api port> from the ALB security group, and nothing else. */
async function network(ctx: StepContext): Promise<Finding> {
  const sgId = ctx.config.inputs.ecsSecurityGroupId;
  const albSg = ctx.config.inputs.albSecurityGroupId;
  const port = ctx.config.taskDefinition.api.port;
  const resource = `security group ${sgId}`;
  const { SecurityGroups = [] } = await ctx.clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [sgId] }));
  const rules = SecurityGroups[0]?.IpPermissions ?? [];
  const allowed = (rule: IpPermission) =>
    rule.IpProtocol === 'tcp' &&
    rule.FromPort === port &&
    rule.ToPort === port &&
    !(rule.IpRanges ?? []).length &&
    !(rule.Ipv6Ranges ?? []).length &&
    !(rule.PrefixListIds ?? []).length &&
    (rule.UserIdGroupPairs ?? []).every((pair) => pair.GroupId === albSg);
  const extra = rules.filter((rule) => !allowed(rule));
  if (extra.length) return fail(titles(ctx).network, resource, `admits more than ${port} from ${albSg}: ${extra.map(describeRule).join('; ')}`);
  const fromAlb = rules.some((rule) => (rule.UserIdGroupPairs ?? []).some((pair) => pair.GroupId === albSg));
  return fromAlb
    ? ok(titles(ctx).network, resource, `admits only tcp ${port} from ${albSg}`)
    : fail(titles(ctx).network, resource, `no rule admits tcp ${port} from the ALB security group ${albSg}: the ALB cannot reach the tasks`);
}

async function immutability(ctx: StepContext): Promise<Finding> {
  const name = ctx.config.ecr.repositoryName;
  const resource = `ecr repository ${name}`;
  try {
    const { repositories = [] } = await ctx.clients.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }));
    const mutability = repositories[0]?.imageTagMutability;
    return mutability === 'IMMUTABLE'
      ? ok(titles(ctx).immutability, resource, 'image tag mutability IMMUTABLE')
      : fail(titles(ctx).immutability, resource, `image tag mutability is ${mutability}: tags can be overwritten`);
  } catch (error) {
    if (isAwsError(error, 'RepositoryNotFoundException')) return skip(titles(ctx).immutability, resource, 'repository does not exist');
    throw error;
  }
}

/** All five items; one that cannot be evaluated is a FAIL that says why, never a silent pass. */
export async function securityChecklist(ctx: StepContext): Promise<Finding[]> {
  // Each item names the controls that implement it (src/checks/controls.ts), by its number.
  const withControls = (f: Finding): Finding => ({ ...f, checklist: [f.check.split(' ')[0]], controls: checklistControls(f.check) });
  const guard = async (check: string, resource: string, run: () => Promise<Finding | Finding[]>): Promise<Finding[]> => {
    try {
      return [await run()].flat().map(withControls);
    } catch (error) {
      return [withControls(fail(check, resource, `could not be evaluated: ${describeAwsError(error)}`))];
    }
  };
  const service = names.serviceResource(ctx.config);
  // A failed service lookup fails the items that need the service (3.1–3.3), not the whole checklist.
  const running = serviceTaskDefinition(ctx);
  running.catch(() => {});
  return [
    ...(await guard(titles(ctx).isolation, service, async () => isolation(ctx, await running))),
    ...(await guard(titles(ctx).secrets, `task definition of ${service}`, async () => secrets(ctx, await running))),
    ...(await guard(titles(ctx).logEncryption, `log groups of ${service}`, async () => logEncryption(ctx, await running))),
    ...(await guard(titles(ctx).network, `security group ${ctx.config.inputs.ecsSecurityGroupId}`, () => network(ctx))),
    ...(await guard(titles(ctx).immutability, `ecr repository ${ctx.config.ecr.repositoryName}`, () => immutability(ctx))),
  ];
}
