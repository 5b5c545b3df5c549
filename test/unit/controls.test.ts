// Issue 9: the controls by id, unit-tested with mocks for what moto cannot represent (host PID and
// network modes, task sets, Windows task definitions, enhanced registry scanning, IPv6 rules, a denied
// read, customer managed and boundary policies) and the table itself. The e2e twin is
// test/e2e/controls.test.ts (every control on a converged emulator, each violation planted).
import { DescribeLogGroupsCommand, type LogGroup } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeRouteTablesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, type IpPermission, type SecurityGroup } from '@aws-sdk/client-ec2';
import {
  DescribeRepositoriesCommand,
  GetLifecyclePolicyCommand,
  GetRegistryScanningConfigurationCommand,
  GetRepositoryPolicyCommand,
  type Repository,
} from '@aws-sdk/client-ecr';
import { DescribeClustersCommand, DescribeServicesCommand, DescribeTaskDefinitionCommand, type ContainerDefinition, type Service, type TaskDefinition } from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, type Listener } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetPolicyCommand, GetPolicyVersionCommand, GetRoleCommand, GetRolePolicyCommand, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { beforeEach, describe, expect, it } from 'vitest';
import { CHECKLIST_CONTROLS, checklistControls, CONTROL_DEFINITIONS, CONTROLS, controlFinding, evaluateControls, INPUT_CONTROL_IDS, type ControlResult } from '../../src/checks/controls.js';
import { parseConfig } from '../../src/config.js';
import type { ConfigError } from '../../src/core/errors.js';
import { awsError, ACCOUNT_ID, fixtureEnv, mockAws, productionYaml, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

const FAMILY = 'fintech-api-task';
const TD_ARN = `arn:aws:ecs:us-east-1:${ACCOUNT_ID}:task-definition/${FAMILY}:3`;
const ECS_SG = fixtureEnv.ECS_SG!;
const ALB_SG = fixtureEnv.ALB_SG!;
const REQ = (what: string) => ({ $metadata: { requestId: `req-${what}` } });

const container = (name: string, extra: Partial<ContainerDefinition> = {}): ContainerDefinition => ({
  name,
  image: 'x',
  user: '1000:1000',
  readonlyRootFilesystem: true,
  logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/fintech-api' } },
  environment: [{ name: 'ENV', value: 'production' }],
  ...extra,
});
const revision = (extra: Partial<TaskDefinition> = {}, api: Partial<ContainerDefinition> = {}): TaskDefinition => ({
  taskDefinitionArn: TD_ARN,
  family: FAMILY,
  revision: 3,
  status: 'ACTIVE',
  networkMode: 'awsvpc',
  containerDefinitions: [container('api-container', api), container('log_router')],
  ...extra,
});
const service = (extra: Partial<Service> = {}): Service => ({
  serviceArn: `arn:aws:ecs:us-east-1:${ACCOUNT_ID}:service/fintech-prod-cluster/fintech-api-svc`,
  serviceName: 'fintech-api-svc',
  status: 'ACTIVE',
  taskDefinition: TD_ARN,
  platformVersion: 'LATEST',
  capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }],
  networkConfiguration: { awsvpcConfiguration: { subnets: [fixtureEnv.APP_SUB_A!, fixtureEnv.APP_SUB_B!], assignPublicIp: 'DISABLED' } },
  ...extra,
});
const groups = (tasks: IpPermission[] = [], alb: IpPermission[] = []): SecurityGroup[] => [
  { GroupId: ECS_SG, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, UserIdGroupPairs: [{ GroupId: ALB_SG }] }, ...tasks] },
  { GroupId: ALB_SG, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }, ...alb] },
];
const httpsListener: Listener = { ListenerArn: 'arn:listener/443', Protocol: 'HTTPS', Port: 443, SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-Res-2021-06', DefaultActions: [{ Type: 'forward' }] };
const logGroup: LogGroup = { logGroupName: '/ecs/fintech-api', logGroupArn: `arn:aws:logs:us-east-1:${ACCOUNT_ID}:log-group:/ecs/fintech-api`, retentionInDays: 365, kmsKeyId: fixtureEnv.LOGS_KMS_KEY_ARN };
const repository: Repository = { repositoryName: 'fintech-api', repositoryArn: `arn:aws:ecr:us-east-1:${ACCOUNT_ID}:repository/fintech-api`, imageTagMutability: 'IMMUTABLE', imageScanningConfiguration: { scanOnPush: true } };
const ownPolicy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['logs:PutLogEvents'], Resource: ['arn:aws:logs:us-east-1:123456789012:log-group:/ecs/fintech-api'] }] };

let aws: AwsMocks;

/** A compliant world; tests override one read at a time. */
function compliant() {
  aws.ecs.on(DescribeServicesCommand).resolves({ services: [service()], ...REQ('svc') });
  aws.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: revision(), ...REQ('td') });
  aws.ecs.on(DescribeClustersCommand).resolves({ clusters: [{ clusterName: 'fintech-prod-cluster', status: 'ACTIVE', settings: [{ name: 'containerInsights', value: 'enabled' }] }], ...REQ('cluster') });
  aws.ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: groups(), ...REQ('sg') });
  aws.ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [{ SubnetId: fixtureEnv.APP_SUB_A }, { SubnetId: fixtureEnv.APP_SUB_B }], ...REQ('subnets') });
  aws.ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: [{ RouteTableId: 'rtb-main', Associations: [{ Main: true }], Routes: [{ GatewayId: 'local' }] }] });
  aws.elbv2.on(DescribeListenersCommand).resolves({ Listeners: [httpsListener], ...REQ('listeners') });
  aws.ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [repository], ...REQ('repo') });
  aws.ecr.on(GetLifecyclePolicyCommand).resolves({ lifecyclePolicyText: '{"rules":[]}' });
  aws.ecr.on(GetRepositoryPolicyCommand).rejects(awsError('RepositoryPolicyNotFoundException', 'none'));
  aws.logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [logGroup], ...REQ('logs') });
  for (const [role, policy] of [
    ['FinTech-ECS-ExecRole', 'ExecPermissions'],
    ['FinTech-ECS-TaskRole', 'AppPermissions'],
  ]) {
    aws.iam.on(GetRoleCommand, { RoleName: role }).resolves({ Role: { RoleName: role, Arn: `arn:aws:iam::${ACCOUNT_ID}:role/${role}`, Path: '/', RoleId: 'x', CreateDate: new Date() }, ...REQ(`role-${role}`) });
    aws.iam.on(ListRolePoliciesCommand, { RoleName: role }).resolves({ PolicyNames: [policy] });
    aws.iam.on(GetRolePolicyCommand, { RoleName: role }).resolves({ RoleName: role, PolicyName: policy, PolicyDocument: encodeURIComponent(JSON.stringify(ownPolicy)) });
    aws.iam.on(ListAttachedRolePoliciesCommand, { RoleName: role }).resolves({ AttachedPolicies: [] });
  }
}

const evaluate = async (ids?: string[]) => evaluateControls(testContext(), ids ? { ids } : {});
const only = (results: ControlResult[], id: string) => results.filter((r) => r.control === id);

beforeEach(() => {
  aws = mockAws();
  compliant();
});

describe('the controls table', () => {
  it('ids are unique; each has a title, what passes, the resource it reads and the calls that decide it', () => {
    const ids = CONTROL_DEFINITIONS.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const c of CONTROL_DEFINITIONS) {
      expect(c.title.length, c.id).toBeGreaterThan(10);
      expect(c.passes, c.id).toMatch(/\b(Fails|Passes)\b/);
      expect(c.resourceType, c.id).toMatch(/^AWS::/);
      expect(c.reads.length, c.id).toBeGreaterThan(0);
      expect(c.steps.length, c.id).toBeGreaterThan(0);
      // Security Hub ids are Service.N; the runbook's own are RB.*.
      expect(c.id, c.id).toMatch(c.source === 'security-hub' ? /^[A-Za-z0-9]+\.\d+$/ : /^RB\./);
    }
  });

  it('has at least the controls issue 9 names', () => {
    const ids = new Set(CONTROL_DEFINITIONS.map((c) => c.id));
    for (const id of ['ECS.2', 'ECS.3', 'ECS.4', 'ECS.5', 'ECS.8', 'ECS.9', 'ECS.10', 'ECS.12', 'ECS.16', 'ECS.17', 'ECS.20', 'ECR.1', 'ECR.2', 'ECR.3', 'ELB.1', 'ELB.17', 'CloudWatch.16', 'IAM.1', 'IAM.21', 'RB.IAM.1', 'RB.ECR.1', 'RB.EC2.1', 'RB.EC2.2']) {
      expect(ids, id).toContain(id);
    }
  });

  it('every section 3 item maps onto controls, and a checklist finding finds them by its number', () => {
    expect(CHECKLIST_CONTROLS).toEqual({
      '3.1': ['ECS.2', 'ECS.16', 'EC2.15', 'RB.EC2.3'],
      '3.2': ['ECS.8', 'RB.ECS.1'],
      '3.3': ['CloudWatch.16', 'RB.Logs.1'],
      '3.4': ['RB.EC2.1', 'EC2.18', 'EC2.19', 'EC2.53', 'EC2.54'],
      '3.5': ['ECR.2'],
    });
    expect(checklistControls('3.4 Port 8080 only from ALB SG')).toBe(CHECKLIST_CONTROLS['3.4']);
    expect(checklistControls('Service Stable')).toEqual([]);
  });

  it('the preflight evaluates the controls on inputs only (the network the runbook assumes)', () => {
    expect(INPUT_CONTROL_IDS).toEqual(['EC2.15', 'RB.EC2.3', 'RB.EC2.1', 'RB.EC2.2', 'EC2.18', 'EC2.19', 'EC2.53', 'EC2.54', 'ELB.1', 'ELB.17']);
  });
});

describe('evaluateControls', () => {
  it('a compliant world: every control OK or SKIP (ECS.16 without task sets), read-only, with request ids', async () => {
    const results = await evaluate();
    expect(new Set(results.map((r) => r.control))).toEqual(new Set(CONTROLS.map((c) => c.id)));
    expect(results.filter((r) => r.status === 'FAIL')).toEqual([]);
    expect(results.filter((r) => r.status === 'SKIP').map((r) => r.control)).toEqual(['ECS.16']);
    expect(only(results, 'ECS.5')[0]).toMatchObject({ resource: `task definition ${FAMILY}:3 (the service runs it; the latest ACTIVE)`, resourceArn: TD_ARN, requestId: 'req-td' });
    expect(only(results, 'ELB.17')[0]).toMatchObject({ requestId: 'req-listeners', observed: { SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-Res-2021-06' } });
    expect(writeCalls(aws)).toEqual([]);
  });

  it('a read that fails is FAIL "could not be evaluated" naming the error and its request id; the other controls still run', async () => {
    aws.ecs.on(DescribeClustersCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform: ecs:DescribeClusters', 'req-denied-1'));
    const results = await evaluate();
    expect(only(results, 'ECS.12')).toEqual([
      {
        control: 'ECS.12',
        status: 'FAIL',
        resource: 'AWS::ECS::Cluster',
        reason: 'could not be evaluated: AccessDeniedException: not authorized to perform: ecs:DescribeClusters — request id req-denied-1',
        requestId: 'req-denied-1',
      },
    ]);
    expect(results.filter((r) => r.status === 'FAIL').map((r) => r.control)).toEqual(['ECS.12']);
  });

  it('a resource that does not exist cannot be evaluated: FAIL, never OK or SKIP', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [], failures: [{ reason: 'MISSING' }] });
    aws.ecs.on(DescribeTaskDefinitionCommand).rejects(awsError('ClientException', 'Unable to describe task definition.'));
    const results = await evaluate(['ECS.2', 'ECS.5']);
    expect(results.map((r) => `${r.control} ${r.status} ${r.reason}`)).toEqual([
      'ECS.2 FAIL could not be evaluated: the service does not exist',
      'ECS.5 FAIL could not be evaluated: the family has no ACTIVE revision',
    ]);
  });

  it('validate --only: the controls of the selected steps; preflight: the input ones', async () => {
    const ecrOnly = await evaluateControls(testContext(), { steps: ['ecr'] });
    expect([...new Set(ecrOnly.map((r) => r.control))]).toEqual(['ECR.1', 'ECR.2', 'ECR.3', 'RB.ECR.1']);
    const preflight = await evaluateControls(testContext(), { mode: 'preflight' });
    expect([...new Set(preflight.map((r) => r.control))]).toEqual([...INPUT_CONTROL_IDS]);
  });

  it('a finding carries the control id, its section 3 item, the resource ARN, the observed value and the request id', async () => {
    const [result] = only(await evaluate(['ECS.2']), 'ECS.2');
    expect(controlFinding(result)).toEqual({
      check: 'ECS.2 No public IP on the service',
      status: 'OK',
      resource: 'ecs service fintech-prod-cluster/fintech-api-svc',
      reason: 'assignPublicIp DISABLED',
      controls: ['ECS.2'],
      checklist: ['3.1'],
      resourceArn: service().serviceArn,
      observed: { assignPublicIp: 'DISABLED' },
      requestId: 'req-svc',
    });
  });
});

describe('task definition and service controls moto cannot represent (Fargate refuses them, or moto has no such field)', () => {
  const judge = async (id: string, td: TaskDefinition) => {
    aws.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: td, ...REQ('td') });
    return only(await evaluate([id]), id);
  };

  it("ECS.3: pidMode host FAILs; ECS.17: networkMode host FAILs", async () => {
    expect((await judge('ECS.3', revision({ pidMode: 'host' })))[0]).toMatchObject({ status: 'FAIL', reason: "pidMode is host: containers see the host's processes" });
    expect((await judge('ECS.17', revision({ networkMode: 'host' })))[0]).toMatchObject({ status: 'FAIL', reason: 'networkMode is host' });
  });

  it('ECS.20: no user, root, 0 and 0:0 FAIL (AWS names only root and 0; uid 0 with any group is still root); Windows is not applicable', async () => {
    const [missing] = await judge('ECS.20', revision({}, { user: undefined }));
    expect(missing).toMatchObject({ status: 'FAIL', reason: 'container api-container: no user set (the image decides; root unless it says otherwise)' });
    for (const user of ['root', '0', '0:0', 'root:wheel']) {
      expect((await judge('ECS.20', revision({}, { user })))[0], user).toMatchObject({ status: 'FAIL', reason: `container api-container: user "${user}" is root` });
    }
    expect((await judge('ECS.20', revision({}, { user: '10001:0' })))[0].status).toBe('OK');
    const windows = revision({ runtimePlatform: { operatingSystemFamily: 'WINDOWS_SERVER_2022_CORE' } }, { user: undefined, readonlyRootFilesystem: undefined });
    expect((await judge('ECS.20', windows))[0].status).toBe('SKIP');
    expect((await judge('ECS.5', windows))[0].status).toBe('SKIP');
  });

  it('ECS.5 names every container without a read-only root; ECS.9 every container without a log configuration', async () => {
    const td = revision({ containerDefinitions: [container('api-container', { readonlyRootFilesystem: false }), container('log_router', { readonlyRootFilesystem: undefined, logConfiguration: undefined })] });
    expect((await judge('ECS.5', td))[0]).toMatchObject({
      status: 'FAIL',
      reason: 'container api-container: readonlyRootFilesystem is false; container log_router: readonlyRootFilesystem is not set',
      observed: { 'api-container': false, log_router: null },
    });
    expect((await judge('ECS.9', td))[0]).toMatchObject({ status: 'FAIL', reason: 'container log_router: no logConfiguration' });
  });

  it('ECS.8 is AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/ECS_ENGINE_AUTH_DATA only; RB.ECS.1 any secret-looking name; evidence holds names, never values', async () => {
    const td = revision({}, { environment: [{ name: 'ENV', value: 'production' }, { name: 'DB_PASSWORD', value: 'hunter2' }] });
    expect((await judge('ECS.8', td))[0].status).toBe('OK');
    const [rb] = await judge('RB.ECS.1', td);
    expect(rb).toMatchObject({ status: 'FAIL', reason: 'container api-container: DB_PASSWORD in cleartext environment (move to secrets)' });
    const keyed = revision({}, { environment: [{ name: 'ECS_ENGINE_AUTH_DATA', value: '{"auth":"x"}' }] });
    const [ecs8] = await judge('ECS.8', keyed);
    expect(ecs8).toMatchObject({ status: 'FAIL', reason: 'container api-container: ECS_ENGINE_AUTH_DATA in environment' });
    expect(JSON.stringify([rb, ecs8])).not.toMatch(/hunter2|auth/);
  });

  it('the revision the service runs and the latest ACTIVE one, when they differ, are both judged', async () => {
    const running = revision({ taskDefinitionArn: TD_ARN.replace(':3', ':2'), revision: 2 }, { privileged: true });
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service({ taskDefinition: running.taskDefinitionArn })] });
    aws.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: FAMILY }).resolves({ taskDefinition: revision() });
    aws.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: running.taskDefinitionArn }).resolves({ taskDefinition: running });
    const results = only(await evaluate(['ECS.4']), 'ECS.4');
    expect(results.map((r) => `${r.status} ${r.resource}`)).toEqual([`FAIL task definition ${FAMILY}:2 (the service runs it)`, `OK task definition ${FAMILY}:3 (the latest ACTIVE)`]);
  });

  it('ECS.16: a task set with a public IP FAILs (moto keeps no task sets for an ECS controller)', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({
      services: [service({ deploymentController: { type: 'EXTERNAL' }, taskSets: [{ id: 'ts-1', taskSetArn: 'arn:ts-1', networkConfiguration: { awsvpcConfiguration: { subnets: [], assignPublicIp: 'ENABLED' } } }] })],
    });
    expect(only(await evaluate(['ECS.16']), 'ECS.16')).toMatchObject([{ status: 'FAIL', resource: 'task set ts-1 of ecs service fintech-prod-cluster/fintech-api-svc', reason: 'assignPublicIp is ENABLED' }]);
  });

  it('ECS.10: 1.4.0 and LATEST pass, 1.3.0 FAILs, an EC2 service is not applicable; ECS.12: Container Insights disabled FAILs', async () => {
    const version = async (s: Service) => {
      aws.ecs.on(DescribeServicesCommand).resolves({ services: [s] });
      return only(await evaluate(['ECS.10']), 'ECS.10')[0];
    };
    expect((await version(service({ platformVersion: '1.4.0' }))).status).toBe('OK');
    expect(await version(service({ platformVersion: '1.3.0' }))).toMatchObject({ status: 'FAIL', reason: 'platformVersion 1.3.0 is not the latest (1.4.0, or LATEST)' });
    expect((await version(service({ capacityProviderStrategy: [], launchType: 'EC2' }))).status).toBe('SKIP');
    aws.ecs.on(DescribeClustersCommand).resolves({ clusters: [{ status: 'ACTIVE', settings: [{ name: 'containerInsights', value: 'disabled' }] }] });
    expect(only(await evaluate(['ECS.12']), 'ECS.12')[0]).toMatchObject({ status: 'FAIL', reason: 'containerInsights is disabled' });
  });
});

describe('repository, log group and role controls', () => {
  it('ECR.1: scan on push off passes only with a registry scanning rule that covers the repository (enhanced scanning: not in moto)', async () => {
    aws.ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [{ ...repository, imageScanningConfiguration: { scanOnPush: false } }] });
    aws.ecr.on(GetRegistryScanningConfigurationCommand).resolves({ scanningConfiguration: { scanType: 'ENHANCED', rules: [{ scanFrequency: 'CONTINUOUS_SCAN', repositoryFilters: [{ filter: 'fintech-*', filterType: 'WILDCARD' }] }] } });
    expect(only(await evaluate(['ECR.1']), 'ECR.1')[0]).toMatchObject({ status: 'OK', reason: 'registry ENHANCED scanning (CONTINUOUS_SCAN) covers it' });
    aws.ecr.on(GetRegistryScanningConfigurationCommand).resolves({ scanningConfiguration: { scanType: 'BASIC', rules: [{ scanFrequency: 'SCAN_ON_PUSH', repositoryFilters: [{ filter: 'other-*', filterType: 'WILDCARD' }] }] } });
    expect(only(await evaluate(['ECR.1']), 'ECR.1')[0]).toMatchObject({ status: 'FAIL' });
  });

  it('ECR.3: no lifecycle policy FAILs; RB.ECR.1: {"AWS": "*"} FAILs like "*", an account principal does not', async () => {
    aws.ecr.on(GetLifecyclePolicyCommand).rejects(awsError('LifecyclePolicyNotFoundException', 'none'));
    expect(only(await evaluate(['ECR.3']), 'ECR.3')[0]).toMatchObject({ status: 'FAIL', reason: 'no lifecycle policy' });
    const policy = (Principal: unknown) => ({ policyText: JSON.stringify({ Statement: [{ Sid: 'Pull', Effect: 'Allow', Principal, Action: 'ecr:BatchGetImage' }] }) });
    aws.ecr.on(GetRepositoryPolicyCommand).resolves(policy({ AWS: ['arn:aws:iam::111122223333:root', '*'] }));
    expect(only(await evaluate(['RB.ECR.1']), 'RB.ECR.1')[0]).toMatchObject({ status: 'FAIL', reason: 'statement(s) Pull allow Principal "*"' });
    aws.ecr.on(GetRepositoryPolicyCommand).resolves(policy({ AWS: 'arn:aws:iam::111122223333:root' }));
    expect(only(await evaluate(['RB.ECR.1']), 'RB.ECR.1')[0].status).toBe('OK');
  });

  it('CloudWatch.16: never expire passes, 1 day FAILs; RB.Logs.1: no KMS key FAILs; every group the tasks write to is judged', async () => {
    const other = { logGroupName: '/ecs/sidecar', retentionInDays: 1 };
    aws.ecs.on(DescribeTaskDefinitionCommand).resolves({
      taskDefinition: revision({ containerDefinitions: [container('api-container'), container('log_router', { logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/sidecar' } } })] }),
    });
    aws.logs.on(DescribeLogGroupsCommand, { logGroupNamePrefix: '/ecs/fintech-api' }).resolves({ logGroups: [{ ...logGroup, retentionInDays: undefined }] });
    aws.logs.on(DescribeLogGroupsCommand, { logGroupNamePrefix: '/ecs/sidecar' }).resolves({ logGroups: [other] });
    const results = await evaluate(['CloudWatch.16', 'RB.Logs.1']);
    expect(results.map((r) => `${r.control} ${r.status} ${r.resource}: ${r.reason}`)).toEqual([
      'CloudWatch.16 OK log group /ecs/fintech-api: never expires',
      'CloudWatch.16 FAIL log group /ecs/sidecar: retention is 1 day(s), less than 365',
      `RB.Logs.1 OK log group /ecs/fintech-api: encrypted with ${fixtureEnv.LOGS_KMS_KEY_ARN}`,
      'RB.Logs.1 FAIL log group /ecs/sidecar: not encrypted with a KMS key (no kmsKeyId)',
    ]);
  });

  it('IAM.1 and IAM.21 on inline and customer managed policies; RB.IAM.1 names an unexpected policy and boundary', async () => {
    const role = 'FinTech-ECS-TaskRole';
    const wild = { Statement: [{ Sid: 'Everything', Effect: 'Allow', Action: 's3:*', Resource: '*' }] };
    const admin = { Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
    aws.iam.on(ListRolePoliciesCommand, { RoleName: role }).resolves({ PolicyNames: ['AppPermissions', 'Extra'] });
    aws.iam.on(GetRolePolicyCommand, { RoleName: role, PolicyName: 'Extra' }).resolves({ PolicyDocument: JSON.stringify(wild) });
    const custom = `arn:aws:iam::${ACCOUNT_ID}:policy/team-admin`;
    aws.iam.on(ListAttachedRolePoliciesCommand, { RoleName: role }).resolves({ AttachedPolicies: [{ PolicyName: 'team-admin', PolicyArn: custom }] });
    aws.iam.on(GetPolicyCommand).resolves({ Policy: { DefaultVersionId: 'v2' } });
    aws.iam.on(GetPolicyVersionCommand).resolves({ PolicyVersion: { Document: encodeURIComponent(JSON.stringify(admin)) }, ...REQ('policy-version') });
    aws.iam.on(GetRoleCommand, { RoleName: role }).resolves({ Role: { RoleName: role, Arn: 'arn:role', Path: '/', RoleId: 'x', CreateDate: new Date(), PermissionsBoundary: { PermissionsBoundaryArn: 'arn:aws:iam::aws:policy/PowerUserAccess' } } });
    const results = (await evaluate(['IAM.1', 'IAM.21', 'RB.IAM.1'])).filter((r) => r.resource === `iam role ${role}`);
    expect(results.map((r) => `${r.control} ${r.status} ${r.reason}`)).toEqual([
      'IAM.1 FAIL customer managed policy team-admin statement #1 allows Action "*" on Resource "*"',
      'IAM.21 FAIL inline policy Extra statement Everything allows s3:*',
      `RB.IAM.1 FAIL extra inline policy Extra; attached team-admin (${custom}); permissions boundary arn:aws:iam::aws:policy/PowerUserAccess not in iam.allowedManagedPolicies`,
    ]);
    expect(results[0].requestId).toBe('req-policy-version');
  });
});

describe('network controls on IPv6 and all-traffic rules (moto keeps them, but every case is cheaper here)', () => {
  const rules = async (tasks: IpPermission[], alb: IpPermission[], ids: string[]) => {
    aws.ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: groups(tasks, alb) });
    return (await evaluate(ids)).filter((r) => r.status === 'FAIL').map((r) => `${r.control} ${r.resource}: ${r.reason}`);
  };

  it('EC2.54: 22 from ::/0; EC2.18: UDP and all traffic from 0.0.0.0/0 are never authorized', async () => {
    expect(await rules([{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, Ipv6Ranges: [{ CidrIpv6: '::/0' }] }], [], ['EC2.53', 'EC2.54'])).toEqual([
      `EC2.54 security group ${ECS_SG} (the tasks'): admits 22/3389 from ::/0: tcp 22 from ::/0`,
    ]);
    expect(await rules([], [{ IpProtocol: 'udp', FromPort: 53, ToPort: 53, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }, { IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }], ['EC2.18'])).toEqual([
      `EC2.18 security group ${ALB_SG} (the ALB's): admits 0.0.0.0/0 or ::/0 beyond tcp 80/443: udp 53 from 0.0.0.0/0; all traffic from 0.0.0.0/0`,
    ]);
  });

  it('one permission holding the ALB group and 0.0.0.0/0 (AWS folds sources of a port together): the evidence names only the world source', async () => {
    aws.ec2.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: [{ GroupId: ECS_SG, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, UserIdGroupPairs: [{ GroupId: ALB_SG }], IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }, groups()[1]],
    });
    const failed = (await evaluate(['RB.EC2.1', 'EC2.18', 'EC2.19'])).filter((r) => r.status === 'FAIL');
    expect(failed.map((r) => `${r.control}: ${r.reason}`)).toEqual([
      `RB.EC2.1: admits more than tcp 8080 from ${ALB_SG}: tcp 8080 from 0.0.0.0/0`,
      'EC2.18: admits 0.0.0.0/0 or ::/0 beyond tcp 80/443: tcp 8080 from 0.0.0.0/0',
      'EC2.19: admits a high-risk port from 0.0.0.0/0 or ::/0: tcp 8080 from 0.0.0.0/0',
    ]);
  });

  it('RB.EC2.1: a rule from another group, or no rule from the ALB at all, FAILs', async () => {
    expect(await rules([{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, UserIdGroupPairs: [{ GroupId: 'sg-0other000000000000' }] }], [], ['RB.EC2.1'])).toEqual([
      `RB.EC2.1 security group ${ECS_SG} (the tasks'): admits more than tcp 8080 from ${ALB_SG}: tcp 8080 from sg-0other000000000000`,
    ]);
    aws.ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: ECS_SG, IpPermissions: [] }, groups()[1]] });
    expect(only(await evaluate(['RB.EC2.1']), 'RB.EC2.1')[0]).toMatchObject({ status: 'FAIL', reason: `no rule admits tcp 8080 from ${ALB_SG}: the ALB cannot reach the tasks` });
  });

  it("ELB.17: the reference's earlier TLS13-1-2-2021-06 is no longer recommended; TLS13-1-2-Res-2021-06 is", async () => {
    aws.elbv2.on(DescribeListenersCommand).resolves({ Listeners: [{ ...httpsListener, SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06' }] });
    expect(only(await evaluate(['ELB.17']), 'ELB.17')[0]).toMatchObject({ status: 'FAIL', reason: 'SslPolicy ELBSecurityPolicy-TLS13-1-2-2021-06 is not a recommended security policy' });
  });
});

describe('the config asks for what the controls check (issue 9 item 2)', () => {
  const yamlWith = (from: string, to: string) => {
    expect(productionYaml).toContain(from);
    return productionYaml.replace(from, to);
  };
  const problemsOf = (text: string) => {
    try {
      parseConfig(text, fixtureEnv, 'config/production.yaml');
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  it('refuses a root user (ECS.20), a non-numeric FireLens user, and a platform version older than 1.4.0 (ECS.10), naming the field', () => {
    expect(problemsOf(yamlWith('    user: "1000:1000"\n    readonlyRootFilesystem: true\n    writablePaths: [/tmp]\n    healthCheck', '    user: "0"\n    readonlyRootFilesystem: true\n    writablePaths: [/tmp]\n    healthCheck'))).toEqual([
      'taskDefinition.api.user: is root: Security Hub ECS.20 requires a non-root user',
    ]);
    expect(problemsOf(yamlWith('    user: "1000:1000"           # FireLens', '    user: "fluent"           # FireLens'))).toEqual([
      'taskDefinition.logRouter.user: must be a user: uid, uid:gid, name or name:group',
    ]);
    expect(problemsOf(yamlWith('  platformVersion: LATEST', '  platformVersion: 1.3.0'))).toEqual([
      'service.platformVersion: is older than 1.4.0, the latest Fargate Linux platform version (Security Hub ECS.10); use LATEST',
    ]);
  });

  it('documented defaults when a config predates issue 9: non-root users, read-only roots with /tmp writable, the firelens prefix, LATEST, masked values', () => {
    const old = productionYaml
      .replace(/\n    # Security Hub ECS\.20[^\n]*\n(?:    #[^\n]*\n)*    user: "1000:1000"\n    readonlyRootFilesystem: true\n    writablePaths: \[\/tmp\]/, '')
      .replace(/\n    logStreamPrefix: firelens[^\n]*\n    user: [^\n]*\n    readonlyRootFilesystem: true\n    writablePaths: [^\n]*/, '')
      .replace(/\n  # Environment values[^\n]*\n  #[^\n]*\n  showEnvironmentValues: false/, '')
      .replace(/\n  platformVersion: LATEST[^\n]*/, '');
    expect(old).not.toMatch(/writablePaths|showEnvironmentValues|platformVersion|logStreamPrefix: firelens/);
    const config = parseConfig(old, fixtureEnv, 'old.yaml');
    expect(config.taskDefinition.api).toMatchObject({ user: '1000:1000', readonlyRootFilesystem: true, writablePaths: ['/tmp'] });
    expect(config.taskDefinition.logRouter).toMatchObject({ user: '1000:1000', readonlyRootFilesystem: true, writablePaths: ['/tmp'], logStreamPrefix: 'firelens' });
    expect(config.taskDefinition.showEnvironmentValues).toBe(false);
    expect(config.service.platformVersion).toBe('LATEST');
  });
});
