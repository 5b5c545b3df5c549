// The reads the controls are decided on: each resource read once per evaluation (shared by every
// control that needs it), with the request id of the call that returned it, for the evidence.
// Read-only: Describe*, Get*, List* only.
import { DescribeLogGroupsCommand, type LogGroup } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeRouteTablesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, type RouteTable, type SecurityGroup, type Subnet } from '@aws-sdk/client-ec2';
import {
  DescribeRepositoriesCommand,
  GetLifecyclePolicyCommand,
  GetRegistryScanningConfigurationCommand,
  GetRepositoryPolicyCommand,
  type RegistryScanningConfiguration,
  type Repository,
} from '@aws-sdk/client-ecr';
import {
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  paginateListTaskDefinitions,
  type Cluster,
  type Service,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, DescribeLoadBalancersCommand, type Listener, type LoadBalancer } from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  type Role,
} from '@aws-sdk/client-iam';
import { isAwsError } from '../../core/errors.js';
import { parsePolicyDocument } from '../../core/policy.js';
import type { StepContext } from '../../core/step.js';

/** A value as read, with the request id of the call that returned it. */
export interface Read<T> {
  value: T;
  requestId?: string;
}

const requestIdOf = (reply: unknown) => (reply as { $metadata?: { requestId?: string } } | undefined)?.$metadata?.requestId;

/** One policy that grants an owned role permissions. */
export interface RolePolicy {
  /** `inline` (PutRolePolicy), or attached: `customer` (this account's) or `aws` (AWS managed). */
  kind: 'inline' | 'customer' | 'aws';
  name: string;
  arn?: string;
  /** Parsed and normalised; undefined when it could not be read. */
  document: unknown;
  requestId?: string;
}

export interface RoleRead {
  role: Role;
  policies: RolePolicy[];
  requestId?: string;
}

/** A revision the controls judge, and why: what the service runs, what the family resolves to. */
export interface RevisionRead extends Read<TaskDefinition> {
  roles: Array<'service' | 'latest'>;
}

const revisionOf = (arn: string | undefined): number => (arn ? Number(arn.split(':').pop()) || 0 : 0);

export class ControlReader {
  private readonly memo = new Map<string, Promise<unknown>>();

  constructor(readonly ctx: StepContext) {}

  get config() {
    return this.ctx.config;
  }

  /** The partition of the config's ARNs (the ALB's), for ARNs the API does not return. */
  get partition(): string {
    return this.config.inputs.albArn.split(':')[1] || 'aws';
  }

  securityGroupArn(id: string): string {
    return `arn:${this.partition}:ec2:${this.config.region}:${this.config.accountId}:security-group/${id}`;
  }

  subnetArn(id: string): string {
    return `arn:${this.partition}:ec2:${this.config.region}:${this.config.accountId}:subnet/${id}`;
  }

  private once<T>(key: string, read: () => Promise<T>): Promise<T> {
    if (!this.memo.has(key)) {
      const promise = read();
      promise.catch(() => {}); // every caller awaits it; an unawaited copy must not crash the process
      this.memo.set(key, promise);
    }
    return this.memo.get(key) as Promise<T>;
  }

  // --- ECS ------------------------------------------------------------------------------------

  service(): Promise<Read<Service | undefined>> {
    return this.once('service', async () => {
      try {
        const reply = await this.ctx.clients.ecs.send(new DescribeServicesCommand({ cluster: this.config.cluster.name, services: [this.config.service.name] }));
        return { value: reply.services?.find((s) => s.status !== 'INACTIVE'), requestId: requestIdOf(reply) };
      } catch (error) {
        if (isAwsError(error, 'ClusterNotFoundException')) return { value: undefined, requestId: requestIdOf(error) };
        throw error;
      }
    });
  }

  cluster(): Promise<Read<Cluster | undefined>> {
    return this.once('cluster', async () => {
      const reply = await this.ctx.clients.ecs.send(new DescribeClustersCommand({ clusters: [this.config.cluster.name], include: ['SETTINGS'] }));
      return { value: reply.clusters?.find((c) => c.status !== 'INACTIVE'), requestId: requestIdOf(reply) };
    });
  }

  private describeRevision(taskDefinition: string): Promise<Read<TaskDefinition> | undefined> {
    return this.once(`revision:${taskDefinition}`, async () => {
      try {
        const reply = await this.ctx.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition }));
        return reply.taskDefinition ? { value: reply.taskDefinition, requestId: requestIdOf(reply) } : undefined;
      } catch (error) {
        // ECS answers a family with no revision with a generic ClientException.
        if (isAwsError(error, 'ClientException') && /unable to describe task definition/i.test((error as Error).message)) return undefined;
        throw error;
      }
    });
  }

  /**
   * The revisions AWS's task-definition controls judge ("the latest active revision") and the one
   * the service runs, once each. AWS describes a family's latest ACTIVE revision; moto the highest
   * one even when it is INACTIVE, so an INACTIVE answer is looked past (ListTaskDefinitions).
   */
  revisions(): Promise<RevisionRead[]> {
    return this.once('revisions', async () => {
      const family = this.config.taskDefinition.family;
      let latest = await this.describeRevision(family);
      if (latest && latest.value.status !== 'ACTIVE') {
        let highest: string | undefined;
        for await (const page of paginateListTaskDefinitions({ client: this.ctx.clients.ecs }, { familyPrefix: family, status: 'ACTIVE' })) {
          for (const arn of page.taskDefinitionArns ?? []) {
            if (arn.split('/').pop()?.split(':')[0] === family && revisionOf(arn) > revisionOf(highest)) highest = arn;
          }
        }
        latest = highest ? await this.describeRevision(highest) : undefined;
      }
      const { value: service } = await this.service();
      const running = service?.taskDefinition ? await this.describeRevision(service.taskDefinition) : undefined;
      const out: RevisionRead[] = [];
      if (running) out.push({ ...running, roles: ['service'] });
      if (latest) {
        const same = out.find((r) => r.value.taskDefinitionArn === latest!.value.taskDefinitionArn);
        if (same) same.roles.push('latest');
        else out.push({ ...latest, roles: ['latest'] });
      }
      return out;
    });
  }

  // --- EC2 ------------------------------------------------------------------------------------

  /** Both security groups in one call. */
  securityGroups(): Promise<Read<SecurityGroup[]>> {
    return this.once('security-groups', async () => {
      const ids = [...new Set([this.config.inputs.ecsSecurityGroupId, this.config.inputs.albSecurityGroupId])];
      const reply = await this.ctx.clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ids }));
      return { value: reply.SecurityGroups ?? [], requestId: requestIdOf(reply) };
    });
  }

  subnets(): Promise<Read<Subnet[]>> {
    return this.once('subnets', async () => {
      const reply = await this.ctx.clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: this.config.inputs.appSubnetIds }));
      return { value: reply.Subnets ?? [], requestId: requestIdOf(reply) };
    });
  }

  routeTables(): Promise<Read<RouteTable[]>> {
    return this.once('route-tables', async () => {
      const reply = await this.ctx.clients.ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [this.config.inputs.vpcId] }] }));
      return { value: reply.RouteTables ?? [], requestId: requestIdOf(reply) };
    });
  }

  // --- ELBv2 ----------------------------------------------------------------------------------

  loadBalancer(): Promise<Read<LoadBalancer | undefined>> {
    return this.once('load-balancer', async () => {
      const reply = await this.ctx.clients.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [this.config.inputs.albArn] }));
      return { value: reply.LoadBalancers?.[0], requestId: requestIdOf(reply) };
    });
  }

  /** Every listener of the ALB (all pages); the request id is the first page's. */
  listeners(): Promise<Read<Listener[]>> {
    return this.once('listeners', async () => {
      const listeners: Listener[] = [];
      let requestId: string | undefined;
      let marker: string | undefined;
      do {
        const reply = await this.ctx.clients.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: this.config.inputs.albArn, ...(marker ? { Marker: marker } : {}) }));
        requestId ??= requestIdOf(reply);
        listeners.push(...(reply.Listeners ?? []));
        marker = reply.NextMarker;
      } while (marker);
      return { value: listeners, requestId };
    });
  }

  // --- ECR ------------------------------------------------------------------------------------

  repository(): Promise<Read<Repository | undefined>> {
    return this.once('repository', async () => {
      const repositoryName = this.config.ecr.repositoryName;
      try {
        const reply = await this.ctx.clients.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [repositoryName] }));
        return { value: reply.repositories?.find((r) => r.repositoryName === repositoryName), requestId: requestIdOf(reply) };
      } catch (error) {
        if (isAwsError(error, 'RepositoryNotFoundException')) return { value: undefined, requestId: requestIdOf(error) };
        throw error;
      }
    });
  }

  /** The repository policy as text (undefined: none). */
  repositoryPolicy(): Promise<Read<string | undefined>> {
    return this.once('repository-policy', async () => {
      try {
        const reply = await this.ctx.clients.ecr.send(new GetRepositoryPolicyCommand({ repositoryName: this.config.ecr.repositoryName }));
        return { value: reply.policyText, requestId: requestIdOf(reply) };
      } catch (error) {
        if (isAwsError(error, 'RepositoryPolicyNotFoundException')) return { value: undefined, requestId: requestIdOf(error) };
        throw error;
      }
    });
  }

  lifecyclePolicy(): Promise<Read<string | undefined>> {
    return this.once('lifecycle-policy', async () => {
      try {
        const reply = await this.ctx.clients.ecr.send(new GetLifecyclePolicyCommand({ repositoryName: this.config.ecr.repositoryName }));
        return { value: reply.lifecyclePolicyText, requestId: requestIdOf(reply) };
      } catch (error) {
        if (isAwsError(error, 'LifecyclePolicyNotFoundException')) return { value: undefined, requestId: requestIdOf(error) };
        throw error;
      }
    });
  }

  registryScanning(): Promise<Read<RegistryScanningConfiguration | undefined>> {
    return this.once('registry-scanning', async () => {
      const reply = await this.ctx.clients.ecr.send(new GetRegistryScanningConfigurationCommand({}));
      return { value: reply.scanningConfiguration, requestId: requestIdOf(reply) };
    });
  }

  // --- CloudWatch Logs ------------------------------------------------------------------------

  /** The log group with exactly this name (DescribeLogGroups matches by prefix: every page). */
  logGroup(name: string): Promise<Read<LogGroup | undefined>> {
    return this.once(`log-group:${name}`, async () => {
      let nextToken: string | undefined;
      let requestId: string | undefined;
      do {
        const reply = await this.ctx.clients.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name, ...(nextToken ? { nextToken } : {}) }));
        requestId ??= requestIdOf(reply);
        const found = reply.logGroups?.find((g) => g.logGroupName === name);
        if (found) return { value: found, requestId: requestIdOf(reply) };
        nextToken = reply.nextToken;
      } while (nextToken);
      return { value: undefined, requestId };
    });
  }

  // --- IAM ------------------------------------------------------------------------------------

  /** The role and every policy that grants it permissions, documents included (undefined: no such role). */
  role(roleName: string): Promise<RoleRead | undefined> {
    return this.once(`role:${roleName}`, async () => {
      const { iam } = this.ctx.clients;
      let role: Role | undefined;
      let requestId: string | undefined;
      try {
        const reply = await iam.send(new GetRoleCommand({ RoleName: roleName }));
        role = reply.Role;
        requestId = requestIdOf(reply);
      } catch (error) {
        if (isAwsError(error, 'NoSuchEntityException')) return undefined;
        throw error;
      }
      if (!role) return undefined;
      const policies: RolePolicy[] = [];
      let marker: string | undefined;
      do {
        const page = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName, ...(marker ? { Marker: marker } : {}) }));
        for (const name of page.PolicyNames ?? []) {
          const got = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: name }));
          policies.push({ kind: 'inline', name, document: parsePolicyDocument(got.PolicyDocument), requestId: requestIdOf(got) });
        }
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
      do {
        const page = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName, ...(marker ? { Marker: marker } : {}) }));
        for (const attached of page.AttachedPolicies ?? []) {
          const arn = attached.PolicyArn ?? '';
          const kind = arn.split(':')[4] === 'aws' ? 'aws' : 'customer';
          // The document of its default version: what the policy grants now.
          const policy = await iam.send(new GetPolicyCommand({ PolicyArn: arn }));
          const version = await iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: policy.Policy?.DefaultVersionId ?? 'v1' }));
          policies.push({
            kind,
            name: attached.PolicyName ?? arn.split('/').pop() ?? arn,
            arn,
            document: parsePolicyDocument(version.PolicyVersion?.Document),
            requestId: requestIdOf(version),
          });
        }
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
      return { role, policies, requestId };
    });
  }
}
