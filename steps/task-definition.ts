// Runbook 1.4: the log group (KMS and retention, DESIGN.md §8 row 2) and the task definition: the api
// container (pinned image, row 3; DB_PASSWORD from Secrets Manager) and the FireLens log router
// (pinned ECR Public image, row 4). Both containers pass what validate checks (issue 9): read-only
// root filesystems with ephemeral writable volumes (ECS.5), non-root users (ECS.20), and a log
// configuration for the log router too (ECS.9). Environment values never leave the process unmasked.
import { createHash } from 'node:crypto';
import { ListTagsForResourceCommand, type LogGroup } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeTaskDefinitionCommand,
  paginateListTaskDefinitions,
  type ContainerDefinition,
  type RegisterTaskDefinitionCommandInput,
  type Tag,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { describeService } from '../src/aws/deployment.js';
import { isSecretName } from '../src/checks/controls/ecs.js';
import { findLogGroup } from '../src/aws/logs.js';
import { names, SECRET_LOOKING_NAME, type RunbookConfig } from '../src/config.js';
import { act, hasRef, ref, type ActionSpec } from '../src/core/actions.js';
import { defineStep, refuseUnhandled } from '../src/core/converge.js';
import { byName, changedTopLevel, diffDocuments, keyedBy, prune, sameDocument, type Doc, type IgnoreList } from '../src/core/document.js';
import { isAwsError, UnsafeChangeError } from '../src/core/errors.js';
import { ecsTags, managedTags, tagChanges, type TagMap } from '../src/core/tags.js';
import { fail, ok, skip, warn, type FieldDiff, type Finding, type Observed, type ResourceDef, type StepContext } from '../src/core/step.js';

export interface TaskRoles {
  executionRoleArn: string;
  taskRoleArn: string;
}

type DesiredTaskDefinition = RegisterTaskDefinitionCommandInput & { containerDefinitions: ContainerDefinition[] };

/** The role ARNs the config names (account pinned, DESIGN.md §8 row 7). */
export function configuredRoles(config: RunbookConfig): TaskRoles {
  return {
    executionRoleArn: names.roleArn(config, config.iam.executionRole.name),
    taskRoleArn: names.roleArn(config, config.iam.taskRole.name),
  };
}

/** The RegisterTaskDefinition input the config describes. Pure: rollback, diagnose and checks reuse it. */
export function desiredTaskDefinition(config: RunbookConfig, roles: TaskRoles = configuredRoles(config)): DesiredTaskDefinition {
  const td = config.taskDefinition;
  const { api, logRouter } = td;
  const apiVolumes = writableVolumes(api.name, api.writablePaths);
  const routerVolumes = writableVolumes(logRouter.name, logRouter.writablePaths);
  return {
    family: td.family,
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    cpu: td.cpu,
    memory: td.memory,
    executionRoleArn: roles.executionRoleArn,
    taskRoleArn: roles.taskRoleArn,
    containerDefinitions: [
      {
        name: api.name,
        // An explicit tag or digest, never latest (row 3): the config schema refuses latest.
        image: names.apiImage(config),
        essential: true,
        ...hardening(api, apiVolumes),
        portMappings: [{ containerPort: api.port, protocol: 'tcp' }],
        // Section 3.2: secrets only through `secrets`; the schema keeps them out of `environment`.
        secrets: byName(Object.entries(api.secrets).map(([name, jsonKey]) => ({ name, valueFrom: `${config.inputs.dbSecretArn}:${jsonKey}::` }))),
        environment: byName(Object.entries(api.environment).map(([name, value]) => ({ name, value }))),
        logConfiguration: {
          logDriver: 'awsfirelens',
          options: { Name: 'cloudwatch', region: config.region, log_group_name: td.logGroup.name, log_stream_prefix: api.logStreamPrefix },
        },
        healthCheck: {
          command: ['CMD-SHELL', api.healthCheck.command],
          interval: api.healthCheck.interval,
          timeout: api.healthCheck.timeout,
          retries: api.healthCheck.retries,
          ...(api.healthCheck.startPeriod !== undefined ? { startPeriod: api.healthCheck.startPeriod } : {}),
        },
      },
      {
        name: logRouter.name,
        image: logRouter.image,
        essential: true,
        ...hardening(logRouter, routerVolumes),
        firelensConfiguration: { type: 'fluentbit' },
        memoryReservation: logRouter.memoryReservation,
        // Fluent Bit's own output (ECS.9): awslogs, with the execution role's WriteContainerLogs
        // grant, to the same KMS-encrypted log group under its own stream prefix.
        logConfiguration: {
          logDriver: 'awslogs',
          options: { 'awslogs-group': td.logGroup.name, 'awslogs-region': config.region, 'awslogs-stream-prefix': logRouter.logStreamPrefix },
        },
      },
    ],
    // Ephemeral task storage (no host path): what Fargate offers for writable paths.
    volumes: [...apiVolumes, ...routerVolumes].map((v) => ({ name: v.name })),
    tags: ecsTags(config.tags),
  };
}

/** One ephemeral volume per writable path: `api-container-tmp` mounted at /tmp. */
export function writableVolumes(container: string, paths: readonly string[]): Array<{ name: string; path: string }> {
  return paths.map((path) => ({ name: `${container}${path.replace(/[^A-Za-z0-9_]+/g, '-')}`.replace(/-+$/, '').slice(0, 255), path }));
}

/** ECS.5 and ECS.20 for one container: read-only root, writable volumes, non-root user. */
function hardening(c: { user: string; readonlyRootFilesystem: boolean }, volumes: Array<{ name: string; path: string }>) {
  return {
    user: c.user,
    readonlyRootFilesystem: c.readonlyRootFilesystem,
    mountPoints: volumes.map((v) => ({ sourceVolume: v.name, containerPath: v.path, readOnly: false })),
  };
}

// ---------------------------------------------------------------------------------------------
// Documents

/** The CreateLogGroup input plus its retention, tags as a map of the managed keys. */
export interface LogGroupDoc extends Doc {
  logGroupName: string;
  kmsKeyId?: string;
  retentionInDays?: number;
  logGroupClass: string;
  tags: TagMap;
}

/** Fields CloudWatch Logs sets itself. Everything else DescribeLogGroups returns is compared. */
export const LOG_GROUP_IGNORE: IgnoreList = [
  'arn', // identity (with `:*`); update builders use logGroupArn
  'logGroupArn', // identity
  'creationTime', // set by AWS
  'storedBytes', // counter
  'metricFilterCount', // counter
  'dataProtectionStatus', // derived by AWS from a data protection policy, a resource this tool does not own
  'inheritedProperties', // derived by AWS from account-level policies
];

/**
 * The RegisterTaskDefinition input with containers keyed by name (diffs read
 * `containerDefinitions.api-container.privileged`) and tags as a map of the managed keys.
 */
export interface TaskDefinitionDoc extends Doc {
  family: string;
  containerDefinitions: Record<string, Doc>;
  tags: TagMap;
}

/** Fields ECS sets itself on a revision. Everything else DescribeTaskDefinition returns is compared. */
export const TASK_DEFINITION_IGNORE: IgnoreList = [
  'taskDefinitionArn', // identity
  'revision', // identity: every register makes a new one
  'status', // ACTIVE/INACTIVE: observe only picks ACTIVE revisions as the family's latest
  'requiresAttributes', // derived by ECS from the containers
  'compatibilities', // derived by ECS from the network mode and containers
  'registeredAt', // timestamp
  'registeredBy', // caller identity
  'deregisteredAt', // timestamp
  'containerDefinitions.*.portMappings.*.hostPort', // under awsvpc AWS copies containerPort into it
];

const REDACTED_PREFIX = '(redacted, sha256:';
const MASKED_PREFIX = '(masked, sha256:';
const digest = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 12);

/** A secret-looking value never leaves the process: a change is still seen (the hash), the value is not. */
export const redact = (value: string) => `${REDACTED_PREFIX}${digest(value)})`;

/**
 * Any other environment value, unless `taskDefinition.showEnvironmentValues`: the same, labelled
 * masked. Deterministic, so a saved plan's documents compare with a fresh plan's.
 */
export const mask = (value: string) => `${MASKED_PREFIX}${digest(value)})`;

const hidden = (value: string) => value.startsWith(REDACTED_PREFIX) || value.startsWith(MASKED_PREFIX);

export interface ValueDisplay {
  /** Names that come from Secrets Manager in the config: their values are redacted like secret-looking ones. */
  secretNames: ReadonlySet<string>;
  /** `taskDefinition.showEnvironmentValues`: other values in cleartext. */
  showValues?: boolean;
}

/** How an environment value appears in documents, plans, reports and the journal. */
export function displayValue(name: string | undefined, value: string | undefined, display: ValueDisplay): string | undefined {
  if (value === undefined) return undefined;
  if (isSecretName(name ?? '') || display.secretNames.has(name ?? '')) return redact(value);
  return display.showValues ? value : mask(value);
}

/**
 * One container in the register input's shape. Every described field stays; AWS defaults are
 * normalised on both sides so that they are not drift.
 */
function containerDoc(c: ContainerDefinition, display: ValueDisplay): Doc {
  return {
    ...(c as Doc),
    essential: c.essential ?? true, // AWS's default when omitted
    cpu: c.cpu || undefined, // 0 = no reservation, what AWS and moto report when unset
    readonlyRootFilesystem: c.readonlyRootFilesystem || undefined, // false is AWS's default
    mountPoints: c.mountPoints?.map((m) => ({ ...m, readOnly: m.readOnly ?? false })),
    portMappings: c.portMappings?.map((p) => ({ ...p, protocol: p.protocol ?? 'tcp' })),
    environment: byName(c.environment).map((e) => ({ ...e, value: displayValue(e.name, e.value, display) })),
    secrets: byName(c.secrets),
    healthCheck: c.healthCheck && { ...c.healthCheck, startPeriod: c.healthCheck.startPeriod || undefined }, // 0 = unset
    // AWS sets user "0" on a FireLens container (and refuses another user there); moto does not.
    user: c.firelensConfiguration && c.user === '0' ? undefined : c.user,
    versionConsistency: c.versionConsistency === 'enabled' ? undefined : c.versionConsistency, // AWS's default
  };
}

/** A revision (or the register input) as a document: unknown fields stay, to be seen. */
export function taskDefinitionDoc(
  td: TaskDefinition | RegisterTaskDefinitionCommandInput,
  tags: TagMap,
  display: ValueDisplay,
): TaskDefinitionDoc {
  return {
    ...(td as Doc),
    family: td.family ?? '',
    requiresCompatibilities: [...(td.requiresCompatibilities ?? [])].sort(),
    enableFaultInjection: td.enableFaultInjection || undefined, // false is AWS's default
    // By name; an empty `host` (a bind mount on task storage, as AWS may describe it) is no host.
    volumes: byName(td.volumes).map(({ host, ...v }) => (host && Object.values(host).some((x) => x !== undefined) ? { ...v, host } : v)),
    containerDefinitions: keyedBy((td.containerDefinitions ?? []).map((c) => containerDoc(c, display)), 'name'),
    tags,
  };
}

/** The document back into the RegisterTaskDefinition input (containers in the document's order). */
function registerInput(d: TaskDefinitionDoc): Record<string, unknown> {
  const { containerDefinitions, tags, ...task } = d;
  for (const field of TASK_DEFINITION_IGNORE) delete task[field];
  const containers = Object.values(containerDefinitions);
  if (containers.some((c) => ((c.environment ?? []) as Array<{ value?: string }>).some((e) => hidden(e.value ?? '')))) {
    throw new UnsafeChangeError(`task definition ${d.family}: a redacted value cannot be registered; a person must decide`);
  }
  // Pruned: no empty lists or undefined fields the config never set.
  return prune({ ...task, containerDefinitions: containers, tags: ecsTags(tags) }) as Record<string, unknown>;
}

const secretNamesOf = (config: RunbookConfig) => new Set(Object.keys(config.taskDefinition.api.secrets));
export const valueDisplay = (config: RunbookConfig): ValueDisplay => ({
  secretNames: secretNamesOf(config),
  showValues: config.taskDefinition.showEnvironmentValues,
});

/**
 * The desired document back with the config's own environment values (documents carry masks):
 * only a value whose mask matches the config's is restored; anything else stays hidden and
 * registerInput refuses it.
 */
function unmasked(d: TaskDefinitionDoc, config: RunbookConfig): TaskDefinitionDoc {
  const api = config.taskDefinition.api;
  const container = d.containerDefinitions[api.name];
  if (!container) return d;
  const environment = ((container.environment ?? []) as Array<{ name?: string; value?: string }>).map((e) => {
    const configured = e.name !== undefined && Object.hasOwn(api.environment, e.name) ? api.environment[e.name] : undefined;
    return configured !== undefined && e.value === displayValue(e.name, configured, valueDisplay(config)) ? { ...e, value: configured } : e;
  });
  return { ...d, containerDefinitions: { ...d.containerDefinitions, [api.name]: { ...container, environment } } };
}

/** Role ARNs from the iam step when it knows them now; the configured ones (the same ARNs) otherwise. */
function rolesFor(ctx: StepContext): TaskRoles {
  const iam = ctx.outputs.find('iam');
  return iam && !hasRef(iam) ? { executionRoleArn: iam.executionRoleArn, taskRoleArn: iam.taskRoleArn } : configuredRoles(ctx.config);
}

const desiredDoc = (ctx: StepContext) => taskDefinitionDoc(desiredTaskDefinition(ctx.config, rolesFor(ctx)), ctx.config.tags, valueDisplay(ctx.config));

function desiredLogGroup(config: RunbookConfig): LogGroupDoc {
  return {
    logGroupName: config.taskDefinition.logGroup.name,
    kmsKeyId: config.inputs.logsKmsKeyArn,
    retentionInDays: config.taskDefinition.logGroup.retentionDays,
    logGroupClass: 'STANDARD',
    tags: config.tags,
  };
}

/** Same revision content as desired; tags are converged in place and do not call for a new revision. */
const sameContent = (desired: TaskDefinitionDoc, doc: Doc | undefined) => !!doc && sameDocument(desired, doc, [...TASK_DEFINITION_IGNORE, 'tags']);
const contentDiffs = (desired: TaskDefinitionDoc, doc: Doc) => diffDocuments(desired, doc, [...TASK_DEFINITION_IGNORE, 'tags']);
const revisionName = (doc: Doc) => `${doc.family}:${doc.revision}`;

// ---------------------------------------------------------------------------------------------
// Observation

const revisionOf = (arn: string | undefined): number => (arn ? Number(arn.split(':').pop()) || 0 : 0);
const familyOf = (arn: string) => arn.split('/').pop()?.split(':')[0];

type Described = { taskDefinition: TaskDefinition; tags: Tag[] };

async function describeRevision(ctx: StepContext, taskDefinition: string): Promise<Described | undefined> {
  try {
    const found = await ctx.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition, include: ['TAGS'] }));
    return found.taskDefinition ? { taskDefinition: found.taskDefinition, tags: found.tags ?? [] } : undefined;
  } catch (error) {
    // ECS answers a family with no revision with a generic ClientException.
    if (isAwsError(error, 'ClientException') && /unable to describe task definition/i.test((error as Error).message)) return undefined;
    throw error;
  }
}

async function describeLatestActive(ctx: StepContext): Promise<Described | undefined> {
  const family = ctx.config.taskDefinition.family;
  const found = await describeRevision(ctx, family);
  if (!found || found.taskDefinition.status === 'ACTIVE') return found;
  // AWS describes a family's latest ACTIVE revision; moto the highest one even when it is INACTIVE.
  // moto also ignores sort and maxResults: read every page and take the highest revision.
  let latest: string | undefined;
  for await (const page of paginateListTaskDefinitions({ client: ctx.clients.ecs }, { familyPrefix: family, status: 'ACTIVE', sort: 'DESC' })) {
    for (const arn of page.taskDefinitionArns ?? []) if (familyOf(arn) === family && revisionOf(arn) > revisionOf(latest)) latest = arn;
  }
  if (!latest) return undefined;
  const again = await describeRevision(ctx, latest);
  return again?.taskDefinition.status === 'ACTIVE' ? again : undefined;
}

async function observeLogGroup(ctx: StepContext): Promise<LogGroupDoc | undefined> {
  const group: LogGroup | undefined = await findLogGroup(ctx.clients.logs, ctx.config.taskDefinition.logGroup.name);
  if (!group) return undefined;
  const resourceArn = group.logGroupArn ?? group.arn?.replace(/:\*$/, '') ?? names.logGroupArn(ctx.config);
  const { tags } = await ctx.clients.logs.send(new ListTagsForResourceCommand({ resourceArn }));
  return {
    ...(group as Doc),
    logGroupName: group.logGroupName ?? '',
    logGroupArn: resourceArn,
    logGroupClass: group.logGroupClass ?? 'STANDARD', // AWS's default; moto does not report it
    tags: managedTags(tags, ctx.config.tags),
  };
}

/**
 * `task-definition` is the ACTIVE revision that equals the desired document: the family's latest
 * when it does, else none (a new revision is registered). So a lost register reply is adopted when
 * the latest equals what it registers, and rollback deregisters only the revision this run created.
 * `service-revision` (what the service runs) and `latest-revision` decide the outputs and notes.
 */
async function observe(ctx: StepContext): Promise<Observed> {
  const config = ctx.config;
  // Independent reads together; the service's own revision only when it is not the latest.
  const [logGroup, latest, service] = await Promise.all([
    observeLogGroup(ctx),
    describeLatestActive(ctx),
    describeService(ctx.clients.ecs, config.cluster.name, config.service.name),
  ]);
  const runningRef = service?.taskDefinition;
  const running =
    !runningRef ? undefined : runningRef === latest?.taskDefinition.taskDefinitionArn ? latest : await describeRevision(ctx, runningRef);
  const doc = (d: Described | undefined) => d && taskDefinitionDoc(d.taskDefinition, managedTags(d.tags, config.tags), valueDisplay(config));
  const latestDoc = doc(latest);
  return {
    'log-group': logGroup,
    'task-definition': sameContent(desiredDoc(ctx), latestDoc) ? latestDoc : undefined,
    'service-revision': doc(running),
    'latest-revision': latestDoc,
  };
}

// ---------------------------------------------------------------------------------------------
// Decision: which revision the service gets, and what the plan says about it

const shortValue = (value: unknown) => {
  const text = value === undefined ? '(unset)' : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};
const fieldList = (diffs: FieldDiff[]) => diffs.map((d) => d.field).join(', ');
const fieldValues = (diffs: FieldDiff[]) => diffs.map((d) => `${d.field}: ${shortValue(d.from)} → ${shortValue(d.to)}`).join('; ');

interface Decision {
  desired: TaskDefinitionDoc;
  running?: Doc;
  latest?: Doc;
  /** The revision the service gets when no new one is registered. */
  reuse?: Doc;
  /** A short sentence for the change; long sentences for the plan's notes. */
  note?: string;
  notes: string[];
}

function decide(ctx: StepContext, observed: Observed): Decision {
  const desired = desiredDoc(ctx);
  const running = observed['service-revision'];
  const latest = observed['latest-revision'];
  const runningOk = sameContent(desired, running);
  const latestOk = sameContent(desired, latest);
  const notes: string[] = [];
  const reasons: string[] = [];
  if (running && !runningOk) {
    const diffs = contentDiffs(desired, running);
    const then = latestOk
      ? `${revisionName(latest!)} (latest ACTIVE) equals the config: no new revision; the service step moves the service to it`
      : 'a new revision is registered and the service step moves the service to it';
    notes.push(`the service runs ${revisionName(running)}, which differs from the config (${fieldValues(diffs)}): ${then}`);
    reasons.push(`the service's ${revisionName(running)} differs in ${fieldList(diffs)}`);
  }
  // A latest revision that is not the service's and differs (e.g. registered out of band): never
  // used, and a new revision makes the config's document what the family name resolves to.
  if (latest && !latestOk && latest.taskDefinitionArn !== running?.taskDefinitionArn) {
    const diffs = contentDiffs(desired, latest);
    const stays = runningOk ? `; the service stays on ${revisionName(running!)}` : '';
    notes.push(
      `${revisionName(latest)}, the family's latest ACTIVE revision (what "${latest.family}" resolves to), differs from the config ` +
        `(${fieldValues(diffs)}): a new revision of the config's document is registered${stays}${stays ? ', which equals the config' : ''}`,
    );
    reasons.push(`the latest ACTIVE ${revisionName(latest)} differs in ${fieldList(diffs)}${stays}`);
  }
  const reuse = runningOk ? running : latestOk ? latest : undefined;
  return { desired, running, latest, reuse, notes, ...(!latestOk && reasons.length ? { note: `new revision: ${reasons.join('; ')}` } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Resources

function logGroupResource(ctx: StepContext, observed: Observed): ResourceDef<LogGroupDoc> {
  const name = `log group ${ctx.config.taskDefinition.logGroup.name}`;
  const o = observed['log-group'] as LogGroupDoc | undefined;
  return {
    id: 'log-group',
    name,
    desired: desiredLogGroup(ctx.config),
    observed: o,
    ignore: LOG_GROUP_IGNORE,
    // The retention is set by the PutRetentionPolicy that follows the create.
    adoptIgnore: ['retentionInDays'],
    ...(o ? {} : { note: 'encrypted with inputs.logsKmsKeyArn: the runbook creates it without KMS, section 3.3 requires KMS' }),
    create: (d) => [
      act(
        'logs',
        'CreateLogGroup',
        { logGroupName: d.logGroupName, ...(d.kmsKeyId ? { kmsKeyId: d.kmsKeyId } : {}), ...(Object.keys(d.tags).length ? { tags: d.tags } : {}) },
        { existsErrors: ['ResourceAlreadyExistsException'] },
      ),
      ...(d.retentionInDays ? [act('logs', 'PutRetentionPolicy', { logGroupName: d.logGroupName, retentionInDays: d.retentionInDays })] : []),
    ],
    update: (d, o, diffs) => {
      const changed = changedTopLevel(diffs);
      // logGroupClass cannot change after creation; anything unknown is a person's call.
      refuseUnhandled(name, diffs, ['retentionInDays', 'kmsKeyId', 'tags']);
      const logGroupName = d.logGroupName;
      const actions: ActionSpec[] = [];
      if (changed.has('retentionInDays')) {
        actions.push(
          d.retentionInDays
            ? act('logs', 'PutRetentionPolicy', { logGroupName, retentionInDays: d.retentionInDays })
            : act('logs', 'DeleteRetentionPolicy', { logGroupName }),
        );
      }
      // Only sent on drift: moto answers AssociateKmsKey and DisassociateKmsKey with HTTP 500.
      if (changed.has('kmsKeyId')) {
        actions.push(
          d.kmsKeyId ? act('logs', 'AssociateKmsKey', { logGroupName, kmsKeyId: d.kmsKeyId }) : act('logs', 'DisassociateKmsKey', { logGroupName }),
        );
      }
      const { tag, untag } = tagChanges(d.tags, o.tags);
      const resourceArn = o.logGroupArn as string;
      if (Object.keys(tag).length) actions.push(act('logs', 'TagResource', { resourceArn, tags: tag }));
      if (untag.length) actions.push(act('logs', 'UntagResource', { resourceArn, tagKeys: untag }));
      return actions;
    },
    remove: (o) => [act('logs', 'DeleteLogGroup', { logGroupName: o.logGroupName }, { goneErrors: ['ResourceNotFoundException'] })],
  };
}

function taskDefinitionResource(ctx: StepContext, observed: Observed): ResourceDef<TaskDefinitionDoc> {
  const name = `task definition ${ctx.config.taskDefinition.family}`;
  const decision = decide(ctx, observed);
  const o = observed['task-definition'] as TaskDefinitionDoc | undefined;
  return {
    id: 'task-definition',
    // Registering a revision does not need its log group (tasks do, and the service step starts
    // them later): the revision goes out beside the log group's create.
    after: [],
    name,
    desired: decision.desired,
    observed: o,
    ignore: TASK_DEFINITION_IGNORE,
    ...(decision.note ? { note: decision.note } : o ? { note: `tags ${revisionName(o)}; no new revision` } : {}),
    // The register input holds the config's own values (documents carry masks): what apply sends.
    create: (d) => [
      act('ecs', 'RegisterTaskDefinition', registerInput(unmasked(d, ctx.config)), {
        binds: { taskDefinitionArn: 'taskDefinition.taskDefinitionArn' },
        adoptBinds: { taskDefinitionArn: 'taskDefinitionArn' },
      }),
    ],
    // The observed revision equals the desired document but for tags (see observe): a revision's
    // content never changes, only its tags.
    update: (d, o, diffs) => {
      refuseUnhandled(`${name} (${revisionName(o)})`, diffs, ['tags']);
      const { tag, untag } = tagChanges(d.tags, o.tags);
      const resourceArn = o.taskDefinitionArn as string;
      return [
        ...(Object.keys(tag).length ? [act('ecs', 'TagResource', { resourceArn, tags: ecsTags(tag) })] : []),
        ...(untag.length ? [act('ecs', 'UntagResource', { resourceArn, tagKeys: untag })] : []),
      ];
    },
    // Compensation: only the revision this run registered (the journal proves it); deregistering
    // twice is harmless. Older revisions stay for `rollback --to`.
    remove: (o) => [act('ecs', 'DeregisterTaskDefinition', { taskDefinition: o.taskDefinitionArn as string })],
  };
}

// ---------------------------------------------------------------------------------------------
// Validate

function taskDefinitionFindings(ctx: StepContext, decision: Decision): Finding[] {
  const resource = `task definition ${ctx.config.taskDefinition.family}`;
  const { desired, running, latest } = decision;
  const judged = running ?? latest;
  if (!judged) {
    return [
      fail('Task Definition', resource, `no ACTIVE revision of family ${ctx.config.taskDefinition.family}`),
      skip('Task Definition Secrets', resource, 'no task definition to inspect'),
    ];
  }
  const findings: Finding[] = [];
  // The resource names the revision judged; the reasons do not repeat it.
  const judgedResource = `task definition ${revisionName(judged)}`;
  const which = running ? 'the service runs it' : 'the latest ACTIVE revision';
  const diffs = diffDocuments(desired, judged, TASK_DEFINITION_IGNORE);
  findings.push(
    diffs.length
      ? fail('Task Definition', judgedResource, `${which}; differs from the config: ${fieldList(diffs)} (run plan)`)
      : ok('Task Definition', judgedResource, `${which}; matches the config`),
  );
  if (running && latest && latest.taskDefinitionArn !== running.taskDefinitionArn && !sameContent(desired, latest)) {
    findings.push(
      fail(
        'Task Definition',
        `task definition ${revisionName(latest)}`,
        `the family's latest ACTIVE revision, not the service's; differs from the config: ${fieldList(contentDiffs(desired, latest))} (run plan)`,
      ),
    );
  }
  const configuredSecrets = secretNamesOf(ctx.config);
  const containers = Object.values(judged.containerDefinitions as Record<string, ContainerDefinition>);
  const problems = containers.flatMap((c) =>
    (c.environment ?? [])
      .filter((e) => SECRET_LOOKING_NAME.test(e.name ?? '') || configuredSecrets.has(e.name ?? ''))
      .map((e) => `container ${c.name} has ${e.name} in cleartext environment`),
  );
  const fromSecrets = containers.flatMap((c) => (c.secrets ?? []).map((s) => `${c.name}/${s.name}`));
  findings.push(
    problems.length
      ? fail('Task Definition Secrets', judgedResource, `${problems.join('; ')}; move them to secrets (Secrets Manager)`)
      : ok('Task Definition Secrets', judgedResource, `no secret in environment; from Secrets Manager: ${fromSecrets.join(', ') || 'none'}`),
  );
  return findings;
}

async function logGroupFindings(ctx: StepContext, ours: LogGroupDoc | undefined, judged: Doc | undefined): Promise<Finding[]> {
  const config = ctx.config;
  const ourName = config.taskDefinition.logGroup.name;
  // Section 3.3 covers every log group the tasks write to, not only ours.
  const others = new Set<string>();
  for (const c of Object.values((judged?.containerDefinitions ?? {}) as Record<string, ContainerDefinition>)) {
    const options = c.logConfiguration?.options ?? {};
    for (const name of [options.log_group_name, options['awslogs-group']]) if (name && name !== ourName) others.add(name);
  }
  const findings: Finding[] = [];
  const encryption = (name: string, kmsKeyId: string | undefined, exists: boolean) => {
    const where = `log group ${name}`;
    if (!exists) return fail('Log Group Encryption', where, 'log group does not exist');
    if (!kmsKeyId) return fail('Log Group Encryption', where, 'not encrypted with KMS (no kmsKeyId)');
    if (name === ourName && kmsKeyId !== config.inputs.logsKmsKeyArn) {
      return warn('Log Group Encryption', where, `encrypted with ${kmsKeyId}, config says ${config.inputs.logsKmsKeyArn}`);
    }
    return ok('Log Group Encryption', where, `encrypted with ${kmsKeyId}`);
  };
  findings.push(encryption(ourName, ours?.kmsKeyId, !!ours));
  if (ours) {
    const want = config.taskDefinition.logGroup.retentionDays;
    const have = ours.retentionInDays;
    findings.push(
      have === want
        ? ok('Log Retention', `log group ${ourName}`, `retention ${want} days`)
        : fail('Log Retention', `log group ${ourName}`, `retention is ${have ? `${have} days` : 'never expire'}, want ${want} days`),
    );
  }
  for (const name of others) {
    const group = await findLogGroup(ctx.clients.logs, name);
    findings.push(encryption(name, group?.kmsKeyId, !!group));
  }
  return findings;
}

// ---------------------------------------------------------------------------------------------

export const taskDefinitionStep = defineStep<'task-definition'>({
  id: 'task-definition',
  section: '1.4',
  title: 'Log group and task definition',
  needs: ['iam'],

  observe,

  // The log group first: the task definition's log router writes to it.
  resources: (ctx, observed) => [logGroupResource(ctx, observed), taskDefinitionResource(ctx, observed)],

  // Never a revision that differs from the desired document: the running one or the latest ACTIVE
  // when it equals it, else the one this run registers.
  outputs: (ctx, observed) => ({
    taskDefinitionArn: (decide(ctx, observed).reuse?.taskDefinitionArn as string | undefined) ?? ref('task-definition', 'taskDefinitionArn'),
    logGroupName: ctx.config.taskDefinition.logGroup.name,
  }),

  notes: (ctx, observed) => decide(ctx, observed).notes,

  async validate(ctx) {
    const observed = await observe(ctx);
    const decision = decide(ctx, observed);
    return [
      ...taskDefinitionFindings(ctx, decision),
      ...(await logGroupFindings(ctx, observed['log-group'] as LogGroupDoc | undefined, decision.running ?? decision.latest)),
    ];
  },
});
