// Runbook 1.4: the log group (KMS and retention, DESIGN.md §8 row 2) and the task definition: the api
// container (pinned image, row 3; DB_PASSWORD from Secrets Manager) and the FireLens log router
// (pinned ECR Public image, row 4).
import {
  AssociateKmsKeyCommand,
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  DeleteRetentionPolicyCommand,
  DisassociateKmsKeyCommand,
  ListTagsForResourceCommand,
  PutRetentionPolicyCommand,
  TagResourceCommand as TagLogGroupCommand,
  UntagResourceCommand as UntagLogGroupCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type ContainerDefinition,
  type RegisterTaskDefinitionCommandInput,
  type Tag,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { findLogGroup } from '../src/aws/logs.js';
import { names, SECRET_LOOKING_NAME, type RunbookConfig } from '../src/config.js';
import { diffFields, ecsTagList, missingTags, tagRecord, tagsAsDiff, tagsToRestore } from '../src/core/diff.js';
import { isAwsError } from '../src/core/errors.js';
import {
  fail,
  ok,
  skip,
  stepWriter,
  warn,
  type Change,
  type FieldDiff,
  type Finding,
  type Plan,
  type Step,
  type StepContext,
  type StepOutputs,
} from '../src/core/step.js';

export interface LogGroupState {
  exists: boolean;
  retentionInDays?: number;
  kmsKeyId?: string;
  tags?: Record<string, string>;
}

export interface TaskDefinitionState {
  logGroup: LogGroupState;
  /** Latest ACTIVE revision before the run; rollback deregisters a newer one. */
  latestArn?: string;
  /** Tags of that revision. */
  tags?: Record<string, string>;
}

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

const byName = <T extends { name?: string }>(items: T[]): T[] =>
  [...items].sort((a, b) => ((a.name ?? '') < (b.name ?? '') ? -1 : (a.name ?? '') > (b.name ?? '') ? 1 : 0));

/** The RegisterTaskDefinition input the config describes. Pure: rollback, diagnose and checks reuse it. */
export function desiredTaskDefinition(config: RunbookConfig, roles: TaskRoles = configuredRoles(config)): DesiredTaskDefinition {
  const td = config.taskDefinition;
  const { api, logRouter } = td;
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
        portMappings: [{ containerPort: api.port, protocol: 'tcp' }],
        // Section 3.2: secrets only through `secrets`; the schema keeps them out of `environment`.
        secrets: byName(
          Object.entries(api.secrets).map(([name, jsonKey]) => ({ name, valueFrom: `${config.inputs.dbSecretArn}:${jsonKey}::` })),
        ),
        environment: byName(Object.entries(api.environment).map(([name, value]) => ({ name, value }))),
        logConfiguration: {
          logDriver: 'awsfirelens',
          options: {
            Name: 'cloudwatch',
            region: config.region,
            log_group_name: td.logGroup.name,
            log_stream_prefix: api.logStreamPrefix,
          },
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
        firelensConfiguration: { type: 'fluentbit' },
        memoryReservation: logRouter.memoryReservation,
      },
    ],
    tags: ecsTagList(config.tags),
  };
}

const tdResource = (ctx: StepContext) => `task definition ${ctx.config.taskDefinition.family}`;
const lgResource = (ctx: StepContext) => `log group ${ctx.config.taskDefinition.logGroup.name}`;
const rolesFor = (ctx: StepContext): TaskRoles => ctx.outputs.find('iam') ?? configuredRoles(ctx.config);

// ---------------------------------------------------------------------------------------------
// Comparison: only the fields this tool sets, without the defaults AWS and moto add, so that an
// unchanged config registers nothing.

/** Drop undefined, empty arrays and empty objects (AWS/moto add `mountPoints: []`, `environment: []`, ...). */
function prune(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(prune).filter((item) => item !== undefined);
    return items.length ? items : undefined;
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .map(([key, item]) => [key, prune(item)] as const)
      .filter(([, item]) => item !== undefined);
    return entries.length ? Object.fromEntries(entries) : undefined;
  }
  return value;
}

function containerView(c: ContainerDefinition): Record<string, unknown> {
  const view = {
    image: c.image,
    essential: c.essential ?? true, // AWS's default when omitted
    cpu: c.cpu || undefined, // 0 = no reservation: what AWS and moto report when unset
    memory: c.memory,
    memoryReservation: c.memoryReservation,
    // hostPort is left out: under awsvpc AWS copies containerPort into it.
    portMappings: c.portMappings?.map((p) => ({ containerPort: p.containerPort, protocol: p.protocol ?? 'tcp' })),
    secrets: byName(c.secrets ?? []).map((s) => ({ name: s.name, valueFrom: s.valueFrom })),
    environment: byName(c.environment ?? []).map((e) => ({ name: e.name, value: e.value })),
    logConfiguration: c.logConfiguration && { logDriver: c.logConfiguration.logDriver, options: c.logConfiguration.options },
    healthCheck: c.healthCheck && {
      command: c.healthCheck.command,
      interval: c.healthCheck.interval,
      timeout: c.healthCheck.timeout,
      retries: c.healthCheck.retries,
      startPeriod: c.healthCheck.startPeriod || undefined, // 0 and unset mean the same
    },
    firelensConfiguration: c.firelensConfiguration && { type: c.firelensConfiguration.type, options: c.firelensConfiguration.options },
  };
  return (prune(view) ?? {}) as Record<string, unknown>;
}

function taskView(td: Partial<Pick<TaskDefinition, 'family' | 'networkMode' | 'requiresCompatibilities' | 'cpu' | 'memory' | 'executionRoleArn' | 'taskRoleArn'>>) {
  return {
    family: td.family,
    networkMode: td.networkMode,
    requiresCompatibilities: td.requiresCompatibilities ? [...td.requiresCompatibilities].sort() : undefined,
    cpu: td.cpu,
    memory: td.memory,
    executionRoleArn: td.executionRoleArn,
    taskRoleArn: td.taskRoleArn,
  };
}

/** Compare over the union of keys: a field set only on the observed side is drift too. */
function diffBoth(desired: Record<string, unknown>, observed: Record<string, unknown>): FieldDiff[] {
  const union = Object.fromEntries(Object.keys(observed).map((key) => [key, undefined]));
  return diffFields({ ...union, ...desired }, observed);
}

/** Field-level differences between the desired input and a described revision (tags excluded). */
export function taskDefinitionDiff(
  desired: DesiredTaskDefinition,
  observed: Pick<TaskDefinition, 'containerDefinitions'> & Parameters<typeof taskView>[0],
): FieldDiff[] {
  const fields = diffBoth(taskView(desired), taskView(observed));
  const want = new Map(desired.containerDefinitions.map((c) => [c.name ?? '', containerView(c)]));
  const have = new Map((observed.containerDefinitions ?? []).map((c) => [c.name ?? '', containerView(c)]));
  for (const [name, view] of want) {
    const current = have.get(name);
    if (!current) {
      fields.push({ field: `containerDefinitions.${name}`, from: undefined, to: view });
      continue;
    }
    fields.push(...diffBoth(view, current).map((d) => ({ ...d, field: `containerDefinitions.${name}.${d.field}` })));
  }
  for (const [name, view] of have) {
    if (!want.has(name)) fields.push({ field: `containerDefinitions.${name}`, from: view, to: undefined });
  }
  return fields;
}

// ---------------------------------------------------------------------------------------------
// Observation

const revisionOf = (arn: string | undefined): number => (arn ? Number(arn.split(':').pop()) || 0 : 0);

async function describeLatest(ctx: StepContext): Promise<{ taskDefinition: TaskDefinition; tags: Tag[] } | undefined> {
  const family = ctx.config.taskDefinition.family;
  const describe = async (taskDefinition: string) => {
    try {
      return await ctx.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition, include: ['TAGS'] }));
    } catch (error) {
      // ECS answers a family with no revision with a generic ClientException.
      if (isAwsError(error, 'ClientException') && /unable to describe task definition/i.test((error as Error).message)) return undefined;
      throw error;
    }
  };
  const found = await describe(family);
  if (!found?.taskDefinition) return undefined;
  if (found.taskDefinition.status === 'ACTIVE') return { taskDefinition: found.taskDefinition, tags: found.tags ?? [] };
  // moto describes the highest revision even when it is INACTIVE (AWS gives the latest ACTIVE one).
  const { taskDefinitionArns } = await ctx.clients.ecs.send(
    new ListTaskDefinitionsCommand({ familyPrefix: family, status: 'ACTIVE', sort: 'DESC', maxResults: 1 }),
  );
  const latest = (taskDefinitionArns ?? [])
    .filter((arn) => arn.split('/').pop()?.split(':')[0] === family)
    .sort((a, b) => revisionOf(b) - revisionOf(a))[0];
  if (!latest) return undefined;
  const again = await describe(latest);
  return again?.taskDefinition?.status === 'ACTIVE' ? { taskDefinition: again.taskDefinition, tags: again.tags ?? [] } : undefined;
}

async function observeLogGroup(ctx: StepContext): Promise<LogGroupState> {
  const group = await findLogGroup(ctx.clients.logs, ctx.config.taskDefinition.logGroup.name);
  if (!group) return { exists: false };
  // moto implements ListTagsForResource/TagResource as well as the deprecated *LogGroup calls.
  const { tags } = await ctx.clients.logs.send(new ListTagsForResourceCommand({ resourceArn: names.logGroupArn(ctx.config) }));
  return { exists: true, retentionInDays: group.retentionInDays, kmsKeyId: group.kmsKeyId, tags: tags ?? {} };
}

function desiredLogGroup(config: RunbookConfig) {
  return { retentionInDays: config.taskDefinition.logGroup.retentionDays, kmsKeyId: config.inputs.logsKmsKeyArn };
}

const changedFields = (change: Change | undefined) => new Set((change?.fields ?? []).map((f) => f.field.split('.')[0]));
const definitionFields = (change: Change | undefined) => (change?.fields ?? []).filter((f) => !f.field.startsWith('tags.'));

// ---------------------------------------------------------------------------------------------

export const taskDefinitionStep: Step<'task-definition', TaskDefinitionState> = {
  id: 'task-definition',
  section: '1.4',
  title: 'Log group and task definition',

  async plan(ctx) {
    const config = ctx.config;
    const logGroup = await observeLogGroup(ctx);
    const latest = await describeLatest(ctx);
    const before: TaskDefinitionState = {
      logGroup,
      latestArn: latest?.taskDefinition.taskDefinitionArn,
      tags: latest ? tagRecord(latest.tags) : undefined,
    };
    const changes: Change[] = [];

    if (!logGroup.exists) {
      changes.push({
        resource: lgResource(ctx),
        action: 'create',
        fields: diffFields({ ...desiredLogGroup(config), tags: config.tags }, {}),
        note: 'encrypted with inputs.logsKmsKeyArn: the runbook creates it without KMS, section 3.3 requires KMS',
      });
    } else {
      const observedTags = ecsTagList(logGroup.tags ?? {});
      const fields = [
        ...diffFields(desiredLogGroup(config), logGroup as unknown as Record<string, unknown>),
        ...tagsAsDiff(missingTags(config.tags, observedTags), observedTags),
      ];
      if (fields.length) changes.push({ resource: lgResource(ctx), action: 'update', fields });
    }

    const desired = desiredTaskDefinition(config, rolesFor(ctx));
    if (!latest) {
      changes.push({
        resource: tdResource(ctx),
        action: 'create',
        fields: [...taskDefinitionDiff(desired, { containerDefinitions: [] }), { field: 'tags', from: undefined, to: config.tags }],
      });
      return { before, changes };
    }
    const definition = taskDefinitionDiff(desired, latest.taskDefinition);
    const fields = [...definition, ...tagsAsDiff(missingTags(config.tags, latest.tags), latest.tags)];
    if (fields.length) {
      changes.push({
        resource: tdResource(ctx),
        action: 'update',
        fields,
        note: definition.length
          ? `registers a new revision (current ${config.taskDefinition.family}:${latest.taskDefinition.revision})`
          : `tags revision ${latest.taskDefinition.revision}; no new revision`,
      });
    }
    // The ARN is only known now when no new revision will be registered.
    const outputs = definition.length ? undefined : { taskDefinitionArn: before.latestArn!, logGroupName: config.taskDefinition.logGroup.name };
    return { before, changes, outputs };
  },

  async apply(ctx, given) {
    const plan: Plan<StepOutputs['task-definition'], TaskDefinitionState> = given.before ? given : await taskDefinitionStep.plan(ctx);
    const before = plan.before!;
    const write = stepWriter(ctx, 'task-definition');
    const config = ctx.config;
    const lg = config.taskDefinition.logGroup;
    const logGroupArn = names.logGroupArn(config);

    const lgChange = plan.changes.find((c) => c.resource === lgResource(ctx));
    if (lgChange?.action === 'create') {
      await write(lgResource(ctx), 'create', 'CreateLogGroup', () =>
        ctx.clients.logs.send(new CreateLogGroupCommand({ logGroupName: lg.name, kmsKeyId: config.inputs.logsKmsKeyArn, tags: config.tags })),
      );
      await write(lgResource(ctx), 'update', 'PutRetentionPolicy', () =>
        ctx.clients.logs.send(new PutRetentionPolicyCommand({ logGroupName: lg.name, retentionInDays: lg.retentionDays })),
      );
    } else if (lgChange) {
      const changed = changedFields(lgChange);
      if (changed.has('retentionInDays')) {
        await write(lgResource(ctx), 'update', 'PutRetentionPolicy', () =>
          ctx.clients.logs.send(new PutRetentionPolicyCommand({ logGroupName: lg.name, retentionInDays: lg.retentionDays })),
        );
      }
      if (changed.has('kmsKeyId')) {
        // Only on drift: moto does not implement AssociateKmsKey.
        await write(lgResource(ctx), 'update', 'AssociateKmsKey', () =>
          ctx.clients.logs.send(new AssociateKmsKeyCommand({ logGroupName: lg.name, kmsKeyId: config.inputs.logsKmsKeyArn })),
        );
      }
      if (changed.has('tags')) {
        const tags = missingTags(config.tags, ecsTagList(before.logGroup.tags ?? {}));
        await write(lgResource(ctx), 'update', 'TagResource', () =>
          ctx.clients.logs.send(new TagLogGroupCommand({ resourceArn: logGroupArn, tags })),
        );
      }
    }

    const tdChange = plan.changes.find((c) => c.resource === tdResource(ctx));
    let taskDefinitionArn = before.latestArn;
    if (tdChange && (tdChange.action === 'create' || definitionFields(tdChange).length > 0)) {
      const { taskDefinition } = await write(tdResource(ctx), tdChange.action, 'RegisterTaskDefinition', () =>
        ctx.clients.ecs.send(new RegisterTaskDefinitionCommand(desiredTaskDefinition(config, rolesFor(ctx)))),
      );
      taskDefinitionArn = taskDefinition!.taskDefinitionArn!;
      ctx.report(`registered ${config.taskDefinition.family}:${taskDefinition!.revision}`);
    } else if (tdChange) {
      const tags = missingTags(config.tags, ecsTagList(before.tags ?? {}));
      await write(tdResource(ctx), 'update', 'TagResource', () =>
        ctx.clients.ecs.send(new TagResourceCommand({ resourceArn: taskDefinitionArn, tags: ecsTagList(tags) })),
      );
    }
    return { taskDefinitionArn: taskDefinitionArn!, logGroupName: lg.name };
  },

  async validate(ctx) {
    const config = ctx.config;
    const findings: Finding[] = [];
    const resource = tdResource(ctx);
    const latest = await describeLatest(ctx);

    if (!latest) {
      findings.push(fail('Task Definition', resource, `no ACTIVE revision of family ${config.taskDefinition.family}`));
      findings.push(skip('Task Definition Secrets', resource, 'no task definition to inspect'));
    } else {
      const td = latest.taskDefinition;
      const rev = `${td.family}:${td.revision}`;
      const diffs = taskDefinitionDiff(desiredTaskDefinition(config, rolesFor(ctx)), td);
      findings.push(
        diffs.length
          ? fail('Task Definition', resource, `${rev} differs from the config: ${diffs.map((d) => d.field).join(', ')}`)
          : ok('Task Definition', resource, `${rev} matches the config`),
      );
      const configuredSecrets = new Set(Object.keys(config.taskDefinition.api.secrets));
      const problems = (td.containerDefinitions ?? []).flatMap((c) =>
        (c.environment ?? [])
          .filter((e) => SECRET_LOOKING_NAME.test(e.name ?? '') || configuredSecrets.has(e.name ?? ''))
          .map((e) => `container ${c.name} has ${e.name} in cleartext environment`),
      );
      const fromSecrets = (td.containerDefinitions ?? []).flatMap((c) => (c.secrets ?? []).map((s) => `${c.name}/${s.name}`));
      findings.push(
        problems.length
          ? fail('Task Definition Secrets', resource, `${rev}: ${problems.join('; ')}; move them to secrets (Secrets Manager)`)
          : ok(
              'Task Definition Secrets',
              resource,
              `${rev}: no secret in environment; from Secrets Manager: ${fromSecrets.join(', ') || 'none'}`,
            ),
      );
    }

    // Section 3.3 covers every log group the tasks write to, not only ours.
    const groups = new Set([config.taskDefinition.logGroup.name]);
    for (const c of latest?.taskDefinition.containerDefinitions ?? []) {
      const options = c.logConfiguration?.options ?? {};
      for (const name of [options.log_group_name, options['awslogs-group']]) if (name) groups.add(name);
    }
    for (const name of groups) {
      const group = await findLogGroup(ctx.clients.logs, name);
      const where = `log group ${name}`;
      if (!group) findings.push(fail('Log Group Encryption', where, 'log group does not exist'));
      else if (!group.kmsKeyId) findings.push(fail('Log Group Encryption', where, 'not encrypted with KMS (no kmsKeyId)'));
      else if (name === config.taskDefinition.logGroup.name && group.kmsKeyId !== config.inputs.logsKmsKeyArn)
        findings.push(warn('Log Group Encryption', where, `encrypted with ${group.kmsKeyId}, config says ${config.inputs.logsKmsKeyArn}`));
      else findings.push(ok('Log Group Encryption', where, `encrypted with ${group.kmsKeyId}`));
      if (name === config.taskDefinition.logGroup.name && group) {
        const want = config.taskDefinition.logGroup.retentionDays;
        findings.push(
          group.retentionInDays === want
            ? ok('Log Retention', where, `retention ${want} days`)
            : fail('Log Retention', where, `retention is ${group.retentionInDays ? `${group.retentionInDays} days` : 'never expire'}, want ${want} days`),
        );
      }
    }
    return findings;
  },

  async rollback(ctx, before) {
    if (!before) return;
    const write = stepWriter(ctx, 'task-definition');
    const config = ctx.config;
    const lg = config.taskDefinition.logGroup;
    const logGroupArn = names.logGroupArn(config);

    // The task definition first: it names the log group.
    const latest = await describeLatest(ctx);
    const latestArn = latest?.taskDefinition.taskDefinitionArn;
    if (latestArn && latestArn !== before.latestArn && revisionOf(latestArn) > revisionOf(before.latestArn)) {
      // Only the revision this run registered; older revisions stay for `rollback --to`.
      await write(tdResource(ctx), 'delete', 'DeregisterTaskDefinition', () =>
        ctx.clients.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: latestArn })),
      );
    } else if (latest && latestArn === before.latestArn && before.tags) {
      const { untag, retag } = tagsToRestore(before.tags ?? {}, tagRecord(latest.tags), config.tags);
      if (untag.length) {
        await write(tdResource(ctx), 'update', 'UntagResource', () =>
          ctx.clients.ecs.send(new UntagResourceCommand({ resourceArn: latestArn, tagKeys: untag })),
        );
      }
      if (Object.keys(retag).length) {
        await write(tdResource(ctx), 'update', 'TagResource', () =>
          ctx.clients.ecs.send(new TagResourceCommand({ resourceArn: latestArn, tags: ecsTagList(retag) })),
        );
      }
    }

    const now = await observeLogGroup(ctx);
    if (!before.logGroup.exists) {
      if (now.exists) {
        await write(lgResource(ctx), 'delete', 'DeleteLogGroup', () =>
          ctx.clients.logs.send(new DeleteLogGroupCommand({ logGroupName: lg.name })),
        );
      }
      return;
    }
    if (!now.exists) return; // someone else deleted it; nothing of ours to restore
    const was = before.logGroup;
    if (now.retentionInDays !== was.retentionInDays) {
      await (was.retentionInDays === undefined
        ? write(lgResource(ctx), 'update', 'DeleteRetentionPolicy', () =>
            ctx.clients.logs.send(new DeleteRetentionPolicyCommand({ logGroupName: lg.name })),
          )
        : write(lgResource(ctx), 'update', 'PutRetentionPolicy', () =>
            ctx.clients.logs.send(new PutRetentionPolicyCommand({ logGroupName: lg.name, retentionInDays: was.retentionInDays })),
          ));
    }
    if (now.kmsKeyId !== was.kmsKeyId) {
      await (was.kmsKeyId === undefined
        ? write(lgResource(ctx), 'update', 'DisassociateKmsKey', () =>
            ctx.clients.logs.send(new DisassociateKmsKeyCommand({ logGroupName: lg.name })),
          )
        : write(lgResource(ctx), 'update', 'AssociateKmsKey', () =>
            ctx.clients.logs.send(new AssociateKmsKeyCommand({ logGroupName: lg.name, kmsKeyId: was.kmsKeyId })),
          ));
    }
    const { untag, retag } = tagsToRestore(was.tags ?? {}, now.tags ?? {}, config.tags);
    if (untag.length) {
      await write(lgResource(ctx), 'update', 'UntagResource', () =>
        ctx.clients.logs.send(new UntagLogGroupCommand({ resourceArn: logGroupArn, tagKeys: untag })),
      );
    }
    if (Object.keys(retag).length) {
      await write(lgResource(ctx), 'update', 'TagResource', () =>
        ctx.clients.logs.send(new TagLogGroupCommand({ resourceArn: logGroupArn, tags: retag })),
      );
    }
  },
};
