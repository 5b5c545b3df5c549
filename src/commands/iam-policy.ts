// `fintech-runbook iam-policy [--steps …] [--read-only]`: the IAM policy this tool needs, for the
// chosen steps, scoped to the config's ARNs where the API allows (issue 9 item 6). One table below
// lists every AWS operation the code sends, by the module that sends it and the steps whose runs
// send it; each becomes the IAM action `prefix:Operation` on the resource types the Service
// Authorization Reference documents for it ("Actions, resources, and condition keys for …"). An
// action with no resource type there goes on "*" (the printed notes say which). Two tests keep the
// table honest: test/unit/iam-policy.test.ts finds every operation in the source in it, and
// test/e2e/iam-policy-audit.test.ts checks it against every call the whole e2e suite sends.
// Printing the policy makes no AWS call.
import type { RunbookConfig } from '../config.js';
import { UsageError } from '../core/errors.js';
import { parseStepList, STEP_IDS, type StepId } from '../core/step.js';

/** The SDK clients this tool sends through (src/aws/clients.ts) and their IAM service prefixes. */
export const IAM_PREFIX = {
  acm: 'acm',
  autoscaling: 'application-autoscaling',
  cloudwatch: 'cloudwatch',
  logs: 'logs',
  dynamodb: 'dynamodb',
  lock: 'dynamodb', // the environment lock's own client (its table)
  ec2: 'ec2',
  ecr: 'ecr',
  ecs: 'ecs',
  elbv2: 'elasticloadbalancing',
  iam: 'iam',
  kms: 'kms',
  rds: 'rds',
  secrets: 'secretsmanager',
  ssm: 'ssm',
  sts: 'sts',
} as const;
export type ClientService = keyof typeof IAM_PREFIX;

/** `elbv2:DescribeListeners` → `elasticloadbalancing:DescribeListeners`. */
export const iamAction = (service: string, operation: string) => `${IAM_PREFIX[service as ClientService] ?? service}:${operation}`;

/** The ARNs the policy is scoped to, all derived from the config. */
export function configArns(config: RunbookConfig) {
  const partition = config.inputs.albArn.split(':')[1] || 'aws';
  const { region, accountId: account } = config;
  const at = (service: string, resource: string, global = false) => `arn:${partition}:${service}:${global ? '' : region}:${account}:${resource}`;
  const cluster = config.cluster.name;
  const service = config.service.name;
  const logGroup = config.taskDefinition.logGroup.name;
  const calendar = config.changeCalendar;
  return {
    partition,
    cluster: at('ecs', `cluster/${cluster}`),
    service: at('ecs', `service/${cluster}/${service}`),
    serviceDeployments: at('ecs', `service-deployment/${cluster}/${service}/*`),
    tasks: at('ecs', `task/${cluster}/*`),
    containerInstances: at('ecs', `container-instance/${cluster}/*`),
    taskDefinitions: at('ecs', `task-definition/${config.taskDefinition.family}:*`),
    repository: at('ecr', `repository/${config.ecr.repositoryName}`),
    roles: [config.iam.executionRole.name, config.iam.taskRole.name].map((name) => at('iam', `role/${name}`, true)),
    // Every policy attached to the roles is read to judge it (IAM.1, IAM.21): AWS managed or this account's.
    policies: [`arn:${partition}:iam::aws:policy/*`, at('iam', 'policy/*', true)],
    serviceLinkedRoles: at('iam', 'role/aws-service-role/*', true),
    // Log-group actions name the group; stream-level ones (and IAM's own examples) use `:*` after it.
    logGroup: [at('logs', `log-group:${logGroup}`), at('logs', `log-group:${logGroup}:*`)],
    logStreams: at('logs', `log-group:${logGroup}:log-stream:*`),
    targetGroup: at('elasticloadbalancing', `targetgroup/${config.loadBalancer.targetGroup.name}/*`),
    loadBalancer: config.inputs.albArn,
    listeners: `${config.inputs.albArn.replace(':loadbalancer/app/', ':listener/app/')}/*`,
    deploymentAlarms: at('cloudwatch', `alarm:${service}-deploy-*`),
    targetTrackingAlarms: at('cloudwatch', 'alarm:TargetTracking-*'),
    // A scalable target's ARN ends in an id AWS makes up: the account and region are the scope.
    scalableTargets: at('application-autoscaling', 'scalable-target/*'),
    certificate: config.inputs.certificateArn,
    logsKey: config.inputs.logsKmsKeyArn,
    secret: config.inputs.dbSecretArn,
    auroraCluster: at('rds', `cluster:${config.inputs.auroraClusterId}`),
    auroraInstances: at('rds', 'db:*'),
    table: at('dynamodb', `table/${config.inputs.dynamodbTableName}`),
    lockTable: config.lock?.dynamodbTable ? at('dynamodb', `table/${config.lock.dynamodbTable}`) : undefined,
    calendar: calendar ? (calendar.startsWith('arn:') ? calendar : at('ssm', `document/${calendar}`)) : undefined,
    ecrKey: config.ecr.kmsKey ? (config.ecr.kmsKey.startsWith('arn:') ? config.ecr.kmsKey : at('kms', `key/${config.ecr.kmsKey}`)) : at('kms', 'key/*'),
  };
}
export type Arns = ReturnType<typeof configArns>;

type Condition = Record<string, Record<string, string | string[]>>;

export interface Grant {
  /** The statement it goes into (`Sid`): grants with one sid share resources and condition. */
  sid: string;
  service: ClientService;
  operations: string[];
  /** What sends them (for people, and the source-scan test). */
  from: string;
  /** The steps whose runs send them; `all`: every command that reads or writes the environment. */
  steps: readonly StepId[] | 'all';
  /** ARNs, or '*' where the Service Authorization Reference lists no resource type for the action. */
  resources(arns: Arns): string | string[];
  condition?(config: RunbookConfig): Condition;
  /** Only when the config uses it (a lock table, a change calendar, deployment alarms, KMS on ECR). */
  when?(config: RunbookConfig): boolean;
  /** Only commands that write send it (the lock, the change calendar, rollback's and deploy's image checks): not in `--read-only`. */
  writingCommands?: true;
  /**
   * Not an operation this tool sends: a permission AWS checks on the caller when the tool sends
   * another one (iam:PassRole for RegisterTaskDefinition, …). Says which, and why.
   */
  implied?: string;
  /** A sentence for the notes (why "*", why this scope). */
  note?: string;
}

const NO_RESOURCE = 'the Service Authorization Reference lists no resource type for these actions: they take "*"';
const SCALING: StepId[] = ['ecs-scaling', 'aurora-scaling', 'dynamodb-scaling'];

/** Every operation the tool sends, and the permissions AWS checks on its behalf. */
export const GRANTS: readonly Grant[] = [
  // --- Reads that cannot be scoped ------------------------------------------------------------
  { sid: 'ReadsWithoutResourceTypes', service: 'ec2', operations: ['DescribeVpcs', 'DescribeSubnets', 'DescribeRouteTables', 'DescribeSecurityGroups'], from: 'src/preflight.ts, src/checks, src/diagnose.ts', steps: ['service', 'load-balancer'], resources: () => '*', note: NO_RESOURCE },
  { sid: 'ReadsWithoutResourceTypes', service: 'elbv2', operations: ['DescribeLoadBalancers', 'DescribeListeners', 'DescribeListenerCertificates', 'DescribeTargetGroups', 'DescribeTargetGroupAttributes', 'DescribeTargetHealth', 'DescribeTags'], from: 'steps/load-balancer.ts, src/checks, src/preflight.ts', steps: ['load-balancer', 'service'], resources: () => '*' },
  { sid: 'ReadsWithoutResourceTypes', service: 'ecs', operations: ['DescribeTaskDefinition', 'ListTaskDefinitions'], from: 'steps/task-definition.ts, src/checks, src/commands/rollback.ts', steps: ['task-definition', 'service'], resources: () => '*' },
  { sid: 'ReadsWithoutResourceTypes', service: 'logs', operations: ['DescribeLogGroups'], from: 'src/aws/logs.ts, src/checks', steps: ['task-definition', 'service'], resources: () => '*' },
  { sid: 'ReadsWithoutResourceTypes', service: 'ecr', operations: ['GetRegistryScanningConfiguration'], from: 'src/checks/controls (ECR.1)', steps: ['ecr'], resources: () => '*' },
  { sid: 'ReadsWithoutResourceTypes', service: 'autoscaling', operations: ['DescribeScalableTargets', 'DescribeScalingPolicies', 'DescribeScalingActivities'], from: 'steps/shared/target-tracking.ts, src/diagnose.ts', steps: SCALING, resources: () => '*' },
  { sid: 'ReadsWithoutResourceTypes', service: 'cloudwatch', operations: ['GetMetricStatistics'], from: 'steps/business-metrics.ts', steps: ['business-metrics'], resources: () => '*' },

  // --- 1.1 cluster ----------------------------------------------------------------------------
  {
    sid: 'EcsCluster',
    service: 'ecs',
    operations: ['DescribeClusters', 'CreateCluster', 'UpdateCluster', 'PutClusterCapacityProviders', 'DeleteCluster', 'TagResource', 'UntagResource'],
    from: 'steps/cluster.ts',
    steps: ['cluster'],
    resources: (a) => a.cluster,
  },
  // --- 1.2 ecr --------------------------------------------------------------------------------
  {
    sid: 'EcrRepository',
    service: 'ecr',
    operations: [
      'DescribeRepositories', 'CreateRepository', 'DeleteRepository', 'PutImageScanningConfiguration', 'PutImageTagMutability',
      'GetLifecyclePolicy', 'PutLifecyclePolicy', 'DeleteLifecyclePolicy', 'GetRepositoryPolicy', 'SetRepositoryPolicy', 'DeleteRepositoryPolicy',
      'ListImages', 'ListTagsForResource', 'TagResource', 'UntagResource',
    ],
    from: 'steps/ecr.ts, src/checks',
    steps: ['ecr'],
    resources: (a) => a.repository,
  },
  { sid: 'EcrImages', service: 'ecr', operations: ['BatchGetImage', 'DescribeImages', 'DescribeImageScanFindings'], from: 'src/commands/rollback.ts (images still in ECR), src/checks/image-gate.ts (deploy)', steps: ['service'], writingCommands: true, resources: (a) => a.repository },
  {
    sid: 'EcrKmsEncryption',
    service: 'kms',
    operations: ['CreateGrant', 'RetireGrant', 'DescribeKey'],
    from: 'ECR, on CreateRepository with KMS encryption',
    steps: ['ecr'],
    when: (c) => c.ecr.encryptionType === 'KMS',
    resources: (a) => a.ecrKey,
    condition: (c) => ({ StringEquals: { 'kms:ViaService': `ecr.${c.region}.amazonaws.com` } }),
    implied: 'ECR creates a grant on the repository\'s KMS key with the caller\'s permissions when CreateRepository asks for KMS encryption (only through ECR: kms:ViaService)',
  },
  // --- 1.3 iam --------------------------------------------------------------------------------
  {
    sid: 'IamRoles',
    service: 'iam',
    operations: [
      'GetRole', 'CreateRole', 'DeleteRole', 'UpdateRole', 'UpdateAssumeRolePolicy', 'TagRole', 'UntagRole',
      'ListRolePolicies', 'GetRolePolicy', 'PutRolePolicy', 'DeleteRolePolicy',
      'ListAttachedRolePolicies', 'AttachRolePolicy', 'DetachRolePolicy', 'PutRolePermissionsBoundary', 'DeleteRolePermissionsBoundary',
    ],
    from: 'steps/iam.ts, src/checks/controls/read.ts',
    steps: ['iam'],
    resources: (a) => a.roles,
    note: 'AttachRolePolicy and PutRolePermissionsBoundary are only sent to restore what this run detached (compensation, undo); they are not limited by policy ARN for that reason',
  },
  { sid: 'IamPolicyRead', service: 'iam', operations: ['GetPolicy', 'GetPolicyVersion'], from: 'src/checks/controls/read.ts (IAM.1, IAM.21, RB.IAM.1)', steps: ['iam'], resources: (a) => a.policies },
  {
    sid: 'PassRolesToEcsTasks',
    service: 'iam',
    operations: ['PassRole'],
    from: 'ECS, on RegisterTaskDefinition',
    steps: ['task-definition'],
    resources: (a) => a.roles,
    condition: () => ({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } }),
    implied: 'RegisterTaskDefinition names the execution and task roles: IAM checks iam:PassRole on them',
  },
  {
    sid: 'ServiceLinkedRoles',
    service: 'iam',
    operations: ['CreateServiceLinkedRole'],
    from: 'ECS (CreateCluster, CreateService) and Application Auto Scaling (RegisterScalableTarget)',
    steps: ['cluster', 'service', ...SCALING],
    resources: (a) => a.serviceLinkedRoles,
    condition: () => ({
      StringEquals: {
        'iam:AWSServiceName': ['ecs.amazonaws.com', 'ecs.application-autoscaling.amazonaws.com', 'rds.application-autoscaling.amazonaws.com', 'dynamodb.application-autoscaling.amazonaws.com'],
      },
    }),
    implied: 'the first cluster or service, and the first scalable target of each kind, create their service-linked role with the caller\'s permissions (once per account)',
  },
  // --- 1.4 task-definition ----------------------------------------------------------------------
  { sid: 'EcsTaskDefinition', service: 'ecs', operations: ['RegisterTaskDefinition', 'TagResource', 'UntagResource'], from: 'steps/task-definition.ts', steps: ['task-definition'], resources: (a) => a.taskDefinitions },
  { sid: 'WritesWithoutResourceTypes', service: 'ecs', operations: ['DeregisterTaskDefinition'], from: 'steps/task-definition.ts (compensation: a revision this run registered)', steps: ['task-definition'], resources: () => '*', note: NO_RESOURCE },
  {
    sid: 'LogGroup',
    service: 'logs',
    operations: ['CreateLogGroup', 'DeleteLogGroup', 'PutRetentionPolicy', 'DeleteRetentionPolicy', 'AssociateKmsKey', 'DisassociateKmsKey', 'ListTagsForResource', 'TagResource', 'UntagResource', 'DescribeLogStreams', 'FilterLogEvents'],
    from: 'steps/task-definition.ts, src/checks/post-deploy.ts (Logs Flowing)',
    steps: ['task-definition', 'service'],
    resources: (a) => a.logGroup,
  },
  { sid: 'LogStreams', service: 'logs', operations: ['GetLogEvents'], from: 'src/diagnose.ts (the last log lines of stopped tasks)', steps: ['service'], resources: (a) => a.logStreams },
  // --- 1.5 load-balancer ------------------------------------------------------------------------
  {
    sid: 'ElbTargetGroup',
    service: 'elbv2',
    operations: ['CreateTargetGroup', 'ModifyTargetGroup', 'ModifyTargetGroupAttributes', 'DeleteTargetGroup', 'AddTags', 'RemoveTags'],
    from: 'steps/load-balancer.ts',
    steps: ['load-balancer'],
    resources: (a) => a.targetGroup,
  },
  { sid: 'ElbCreateListener', service: 'elbv2', operations: ['CreateListener'], from: 'steps/load-balancer.ts', steps: ['load-balancer'], resources: (a) => a.loadBalancer },
  {
    sid: 'ElbListener',
    service: 'elbv2',
    operations: ['ModifyListener', 'DeleteListener', 'AddListenerCertificates', 'RemoveListenerCertificates', 'AddTags', 'RemoveTags'],
    from: 'steps/load-balancer.ts',
    steps: ['load-balancer'],
    resources: (a) => a.listeners,
    note: 'listeners of the configured ALB only (its ARN with listener/app/…/*)',
  },
  // --- 2.4 deployment alarms ----------------------------------------------------------------------
  {
    sid: 'DeploymentAlarms',
    service: 'cloudwatch',
    operations: ['DescribeAlarms', 'PutMetricAlarm', 'DeleteAlarms', 'ListTagsForResource', 'TagResource', 'UntagResource'],
    from: 'steps/deployment-alarms.ts',
    steps: ['deployment-alarms'],
    when: (c) => !!c.deploy?.alarms,
    resources: (a) => a.deploymentAlarms,
  },
  // --- 1.6 service --------------------------------------------------------------------------------
  {
    sid: 'EcsService',
    service: 'ecs',
    operations: ['DescribeServices', 'CreateService', 'UpdateService', 'DeleteService', 'TagResource', 'UntagResource'],
    from: 'steps/service.ts, src/aws/deployment.ts, src/commands/rollback.ts, src/checks',
    steps: ['service'],
    resources: (a) => a.service,
  },
  // The task definition step reads which revision the service runs (what it must not deregister).
  { sid: 'EcsService', service: 'ecs', operations: ['DescribeServices'], from: 'steps/task-definition.ts (src/aws/deployment.ts)', steps: ['task-definition'], resources: (a) => a.service },
  { sid: 'EcsServiceDeployments', service: 'ecs', operations: ['DescribeServiceDeployments'], from: 'src/aws/deployment.ts', steps: ['service'], resources: (a) => [a.service, a.serviceDeployments] },
  { sid: 'EcsTasks', service: 'ecs', operations: ['ListTasks'], from: 'src/diagnose.ts', steps: ['service'], resources: (a) => a.containerInstances, note: 'ListTasks is authorised on container instances (SAR); ecs:cluster could narrow it further' },
  { sid: 'EcsTaskDetails', service: 'ecs', operations: ['DescribeTasks'], from: 'src/diagnose.ts', steps: ['service'], resources: (a) => a.tasks },
  // --- 2.1-2.3 scaling ----------------------------------------------------------------------------
  {
    sid: 'ScalableTargets',
    service: 'autoscaling',
    operations: ['RegisterScalableTarget', 'DeregisterScalableTarget', 'PutScalingPolicy', 'DeleteScalingPolicy'],
    from: 'steps/shared/target-tracking.ts',
    steps: SCALING,
    resources: (a) => a.scalableTargets,
  },
  {
    sid: 'TargetTrackingAlarms',
    service: 'cloudwatch',
    operations: ['PutMetricAlarm', 'DescribeAlarms', 'DeleteAlarms'],
    from: 'Application Auto Scaling, on PutScalingPolicy and DeleteScalingPolicy',
    steps: SCALING,
    resources: (a) => a.targetTrackingAlarms,
    implied: 'Application Auto Scaling validates that the caller may manage the TargetTracking-* alarms a target-tracking policy creates (its permissions validation)',
  },
  {
    sid: 'EcsServiceScaling',
    service: 'ecs',
    operations: ['DescribeServices', 'UpdateService'],
    from: 'Application Auto Scaling, on RegisterScalableTarget',
    steps: ['ecs-scaling'],
    resources: (a) => a.service,
    implied: 'Application Auto Scaling validates that the caller may describe and update the service it scales',
  },
  { sid: 'AuroraCluster', service: 'rds', operations: ['DescribeDBClusters'], from: 'steps/aurora-scaling.ts', steps: ['aurora-scaling'], resources: (a) => a.auroraCluster },
  {
    sid: 'AuroraReplicaScaling',
    service: 'rds',
    operations: ['CreateDBInstance'],
    from: 'Application Auto Scaling, on RegisterScalableTarget (Aurora)',
    steps: ['aurora-scaling'],
    resources: (a) => [a.auroraCluster, a.auroraInstances],
    implied: 'Application Auto Scaling validates that the caller may create the reader replicas it will add (in the cluster) and delete them',
  },
  { sid: 'AuroraReplicaScaling', service: 'rds', operations: ['DeleteDBInstance'], from: 'Application Auto Scaling, on RegisterScalableTarget (Aurora)', steps: ['aurora-scaling'], resources: (a) => a.auroraInstances, implied: 'the same validation, for the replicas it removes' },
  { sid: 'DynamoDbTable', service: 'dynamodb', operations: ['DescribeTable'], from: 'steps/dynamodb-scaling.ts', steps: ['dynamodb-scaling'], resources: (a) => a.table },
  {
    sid: 'DynamoDbTableScaling',
    service: 'dynamodb',
    operations: ['UpdateTable'],
    from: 'Application Auto Scaling, on RegisterScalableTarget (DynamoDB)',
    steps: ['dynamodb-scaling'],
    resources: (a) => a.table,
    implied: 'Application Auto Scaling validates that the caller may update the table whose capacity it scales',
  },
  // --- 2.4 business metrics -----------------------------------------------------------------------
  {
    sid: 'BusinessMetrics',
    service: 'cloudwatch',
    operations: ['PutMetricData'],
    from: 'steps/business-metrics.ts (`metrics put`)',
    steps: ['business-metrics'],
    resources: () => '*',
    condition: (c) => ({ StringEquals: { 'cloudwatch:namespace': c.metrics.namespace } }),
    note: 'PutMetricData has no resource ARN for metrics: the cloudwatch:namespace condition limits it to the runbook\'s namespace',
  },
  // --- Inputs the preflight reads -----------------------------------------------------------------
  { sid: 'Inputs', service: 'acm', operations: ['DescribeCertificate'], from: 'src/preflight.ts', steps: ['load-balancer'], resources: (a) => a.certificate },
  { sid: 'InputKey', service: 'kms', operations: ['DescribeKey'], from: 'src/preflight.ts', steps: ['task-definition'], resources: (a) => a.logsKey },
  { sid: 'InputSecret', service: 'secrets', operations: ['DescribeSecret'], from: 'src/preflight.ts (described, never read)', steps: ['iam', 'task-definition'], resources: (a) => a.secret },
  // --- Run-wide: the lock, the change calendar ----------------------------------------------------
  {
    sid: 'LockTable',
    service: 'lock',
    operations: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'],
    from: 'src/core/lock.ts (apply, rollback, undo, unlock)',
    steps: 'all',
    when: (c) => !!c.lock?.dynamodbTable,
    writingCommands: true,
    resources: (a) => a.lockTable ?? [],
  },
  {
    sid: 'LockTableCreate',
    service: 'dynamodb',
    operations: ['CreateTable', 'DescribeTable', 'DescribeTimeToLive', 'UpdateTimeToLive'],
    from: 'src/commands/lock.ts (`lock-table create`)',
    steps: 'all',
    when: (c) => !!c.lock?.dynamodbTable,
    writingCommands: true,
    resources: (a) => a.lockTable ?? [],
  },
  {
    sid: 'LockTableCreate',
    service: 'dynamodb',
    operations: ['TagResource'],
    from: 'DynamoDB, on CreateTable with tags',
    steps: 'all',
    when: (c) => !!c.lock?.dynamodbTable,
    writingCommands: true,
    resources: (a) => a.lockTable ?? [],
    implied: '`lock-table create` creates the table with the config\'s tags: DynamoDB checks dynamodb:TagResource on it',
  },
  { sid: 'ChangeCalendar', service: 'ssm', operations: ['GetCalendarState'], from: 'src/aws/change-calendar.ts', steps: 'all', when: (c) => !!c.changeCalendar, writingCommands: true, resources: (a) => a.calendar ?? [] },
];

/** Needs no permission (AWS: "No permissions are required to perform this operation"): not in the policy. */
export const UNAUTHORISED_OPERATIONS = ['sts:GetCallerIdentity'];

export interface PolicyOptions {
  /** Only these steps' operations (default every step). */
  steps?: readonly StepId[];
  /** Only reads: what plan, validate and diagnose need. */
  readOnly?: boolean;
  /** Every grant, whatever the config uses (a lock table, a calendar): what the tool can send at all. */
  everything?: boolean;
}

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string | string[];
  Condition?: Condition;
}

export interface IamPolicy {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

const isRead = (operation: string) => /^(Describe|List|Get|BatchGet|Filter|Lookup)/.test(operation);

/** The grants that apply to this config and these options. */
export function selectGrants(config: RunbookConfig, options: PolicyOptions = {}): Grant[] {
  const steps = options.steps ?? STEP_IDS;
  return GRANTS.filter(
    (g) =>
      (g.steps === 'all' || g.steps.some((s) => steps.includes(s))) &&
      (options.everything || !g.when || g.when(config)) &&
      // Read-only: reads only; a permission AWS checks for a write is not needed either.
      (!options.readOnly || (!g.implied && !g.writingCommands && g.operations.some(isRead))),
  ).map((g) => (options.readOnly ? { ...g, operations: g.operations.filter(isRead) } : g));
}

/** The service an ARN belongs to (`arn:aws:ecs:…` → `ecs`). */
export const arnService = (arn: string) => arn.split(':')[2] ?? '';

interface Unit {
  prefix: string;
  actions: Set<string>;
  resources: string[];
  condition?: Condition;
  sid: string;
}

/**
 * The policy document, as small as it can be without granting more: statements that need no
 * resource ARN go together on "*"; scoped ones are packed so that no statement holds two resource
 * lists for one service. An action is only ever authorised on ARNs of its own service, so a
 * statement with the ECS cluster's ARN and the ECR repository's grants each service's actions on
 * its own ARN exactly as two statements would (IAM's managed-policy limit is 6,144 characters).
 */
export function buildPolicy(config: RunbookConfig, options: PolicyOptions = {}): IamPolicy {
  const arns = configArns(config);
  const unscoped = new Set<string>();
  const units: Unit[] = [];
  for (const grant of selectGrants(config, options)) {
    const resources = grant.resources(arns);
    const condition = grant.condition?.(config);
    const actions = grant.operations.map((op) => iamAction(grant.service, op));
    if (resources === '*' && !condition) {
      actions.forEach((a) => unscoped.add(a));
      continue;
    }
    const list = resources === '*' ? ['*'] : [resources].flat();
    if (!list.length) continue;
    const prefix = IAM_PREFIX[grant.service];
    // One service, one resource list, one condition: one unit.
    const same = units.find((u) => u.prefix === prefix && JSON.stringify(u.condition) === JSON.stringify(condition) && JSON.stringify(u.resources) === JSON.stringify([...list].sort()));
    if (same) actions.forEach((a) => same.actions.add(a));
    else units.push({ prefix, actions: new Set(actions), resources: [...list].sort(), condition, sid: grant.sid });
  }
  // Pack: a statement takes a unit when it holds nothing else of that service and has its condition.
  const statements: Array<{ units: Unit[]; condition?: Condition }> = [];
  for (const unit of units) {
    const bin = unit.resources.includes('*') ? undefined : statements.find((st) => JSON.stringify(st.condition) === JSON.stringify(unit.condition) && !st.units.some((u) => u.prefix === unit.prefix || u.resources.includes('*')));
    if (bin) bin.units.push(unit);
    else statements.push({ units: [unit], condition: unit.condition });
  }
  let scoped = 0;
  const sidOf = (st: (typeof statements)[number]) => (st.condition || st.units.length === 1 ? st.units[0].sid : `Scoped${++scoped}`);
  return {
    Version: '2012-10-17',
    Statement: [
      ...(unscoped.size ? [{ Sid: 'NoResourceTypes', Effect: 'Allow' as const, Action: [...unscoped].sort(), Resource: '*' }] : []),
      ...statements.map((st) => {
        const resources = [...new Set(st.units.flatMap((u) => u.resources))].sort();
        return {
          Sid: sidOf(st),
          Effect: 'Allow' as const,
          Action: [...new Set(st.units.flatMap((u) => [...u.actions]))].sort(),
          Resource: resources.length === 1 ? resources[0] : resources,
          ...(st.condition ? { Condition: st.condition } : {}),
        };
      }),
    ],
  };
}

/** The `service:Operation` SDK calls the selected grants stand for (not the implied permissions). */
export function grantedOperations(config: RunbookConfig, options: PolicyOptions = {}): string[] {
  return [...new Set(selectGrants(config, options).filter((g) => !g.implied).flatMap((g) => g.operations.map((op) => `${g.service}:${op}`)))].sort();
}

/** What the printed notes say: why "*", what is implied, what is left out. */
export function policyNotes(config: RunbookConfig, options: PolicyOptions = {}): string[] {
  const grants = selectGrants(config, options);
  const actions = (g: Grant) => g.operations.map((op) => iamAction(g.service, op)).join(', ');
  const star = grants.filter((g) => g.resources(configArns(config)) === '*' && !g.condition);
  return [
    ...(star.length ? [`Resource "*": the Service Authorization Reference lists no resource type for ${star.map(actions).join(', ')}`] : []),
    ...grants.filter((g) => g.note && g.note !== NO_RESOURCE).map((g) => `${actions(g)}: ${g.note}`),
    ...grants.filter((g) => g.implied).map((g) => `${actions(g)}: not sent by the tool; ${g.implied}`),
    'sts:GetCallerIdentity (every command checks the account first) needs no permission: AWS allows it even under an explicit deny.',
  ];
}

/** IAM's limit for a managed policy: 6,144 characters, whitespace not counted. */
export const MANAGED_POLICY_LIMIT = 6144;

export interface IamPolicyFlags {
  steps?: string;
  readOnly?: boolean;
}

/**
 * Prints the policy on stdout (pure JSON: `> policy.json`) and the notes on stderr. Reads the
 * config (and its variables) only: no AWS client is made.
 */
export function iamPolicyCommand(config: RunbookConfig, flags: IamPolicyFlags, only: string | undefined, out: NodeJS.WritableStream, notes: NodeJS.WritableStream): number {
  if (flags.steps !== undefined && only !== undefined) throw new UsageError('iam-policy: give --steps or --only, not both');
  const steps = parseStepList(flags.steps) ?? parseStepList(only, '--only');
  const options = { steps, readOnly: !!flags.readOnly };
  const policy = buildPolicy(config, options);
  out.write(`${JSON.stringify(policy, null, 2)}\n`);
  const size = JSON.stringify(policy).length;
  const lines = [
    `IAM policy for ${steps ? `steps ${steps.join(', ')}` : 'every step'}${options.readOnly ? ', read-only (plan, validate, diagnose)' : ''}: ${policy.Statement.length} statements, ${size} characters of ${MANAGED_POLICY_LIMIT}.`,
    ...policyNotes(config, options).map((n) => `  - ${n}`),
    ...(size > MANAGED_POLICY_LIMIT ? [`warning: over IAM's ${MANAGED_POLICY_LIMIT}-character limit for a managed policy: split it with --steps`] : []),
  ];
  notes.write(`${lines.join('\n')}\n`);
  return 0;
}
