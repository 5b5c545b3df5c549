// Runbook 1.5: the target group and its attributes, and the HTTPS listener on the existing ALB.
// The listener is created here, before the service (DESIGN.md §8 row 13), with the SSL policy from
// the config, a TLS 1.3 policy by default (row 8).
import {
  AddTagsCommand,
  CreateListenerCommand,
  CreateTargetGroupCommand,
  DeleteListenerCommand,
  DeleteTargetGroupCommand,
  DescribeListenersCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  ModifyListenerCommand,
  ModifyTargetGroupAttributesCommand,
  ModifyTargetGroupCommand,
  RemoveTagsCommand,
  type Listener,
  type ModifyListenerInput,
  type ModifyTargetGroupInput,
  type ProtocolEnum,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { RunbookConfig } from '../src/config.js';
import { awsTagList, diffFields, missingTags, tagRecord, tagsAsDiff, tagsToRestore } from '../src/core/diff.js';
import { isAwsError, UnsafeChangeError } from '../src/core/errors.js';
import {
  fail,
  ok,
  stepWriter,
  type Change,
  type FieldDiff,
  type Finding,
  type Plan,
  type Step,
  type StepContext,
  type StepOutputs,
} from '../src/core/step.js';

export interface TargetGroupState {
  exists: boolean;
  arn?: string;
  healthCheckProtocol?: string;
  healthCheckPath?: string;
  healthCheckIntervalSeconds?: number;
  /** Only the attributes this tool manages. */
  attributes?: Record<string, string>;
  tags?: Record<string, string>;
}

export interface ListenerState {
  exists: boolean;
  arn?: string;
  protocol?: string;
  sslPolicy?: string;
  certificateArn?: string;
  tags?: Record<string, string>;
}

export interface LoadBalancerState {
  targetGroup: TargetGroupState;
  listener: ListenerState;
}

const DEREGISTRATION_DELAY = 'deregistration_delay.timeout_seconds';
const STICKINESS = 'stickiness.enabled';

/** Fixed at creation: AWS cannot modify them, a person must replace the target group. */
function desiredImmutable(config: RunbookConfig) {
  return { protocol: 'HTTP', port: config.loadBalancer.targetGroup.port, vpcId: config.inputs.vpcId, targetType: 'ip' };
}

function desiredHealthCheck(config: RunbookConfig) {
  const tg = config.loadBalancer.targetGroup;
  return { healthCheckProtocol: 'HTTP', healthCheckPath: tg.healthCheckPath, healthCheckIntervalSeconds: tg.healthCheckIntervalSeconds };
}

/** Attribute values are strings in the ELBv2 API. */
function desiredAttributes(config: RunbookConfig): Record<string, string> {
  const tg = config.loadBalancer.targetGroup;
  return { [DEREGISTRATION_DELAY]: String(tg.deregistrationDelaySeconds), [STICKINESS]: String(tg.stickiness) };
}

function desiredListener(config: RunbookConfig) {
  return { protocol: 'HTTPS', sslPolicy: config.loadBalancer.listener.sslPolicy, certificateArn: config.inputs.certificateArn };
}

const prefixed = (prefix: string, values: Record<string, string>) =>
  Object.fromEntries(Object.entries(values).map(([key, value]) => [`${prefix}.${key}`, value]));
const albName = (config: RunbookConfig) => config.inputs.albArn.split('/')[2] ?? config.inputs.albArn;
const tgNameOf = (arn: string) => arn.split('/')[1] ?? arn;
const tgResource = (ctx: StepContext) => `target group ${ctx.config.loadBalancer.targetGroup.name}`;
const listenerResource = (ctx: StepContext) => `https listener :${ctx.config.loadBalancer.listener.port} on ${albName(ctx.config)}`;

// ---------------------------------------------------------------------------------------------
// Observation

interface Observed {
  state: LoadBalancerState;
  targetGroup?: TargetGroup;
  listener?: Listener;
}

async function describeTargetGroup(ctx: StepContext): Promise<TargetGroup | undefined> {
  try {
    const { TargetGroups } = await ctx.clients.elbv2.send(new DescribeTargetGroupsCommand({ Names: [ctx.config.loadBalancer.targetGroup.name] }));
    return TargetGroups?.[0];
  } catch (error) {
    if (isAwsError(error, 'TargetGroupNotFoundException')) return undefined;
    throw error;
  }
}

async function describeListenerOnPort(ctx: StepContext): Promise<Listener | undefined> {
  let Marker: string | undefined;
  do {
    const page = await ctx.clients.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: ctx.config.inputs.albArn, Marker }));
    const found = page.Listeners?.find((l) => l.Port === ctx.config.loadBalancer.listener.port);
    if (found) return found;
    Marker = page.NextMarker;
  } while (Marker);
  return undefined;
}

const defaultCertificate = (listener: Listener) =>
  (listener.Certificates?.find((c) => c.IsDefault) ?? listener.Certificates?.[0])?.CertificateArn;

async function observe(ctx: StepContext): Promise<Observed> {
  const targetGroup = await describeTargetGroup(ctx);
  const listener = await describeListenerOnPort(ctx);
  const arns = [targetGroup?.TargetGroupArn, listener?.ListenerArn].filter((arn): arn is string => Boolean(arn));
  const tags = new Map<string, Record<string, string>>();
  if (arns.length) {
    const { TagDescriptions } = await ctx.clients.elbv2.send(new DescribeTagsCommand({ ResourceArns: arns }));
    for (const d of TagDescriptions ?? []) tags.set(d.ResourceArn ?? '', tagRecord(d.Tags));
  }
  let attributes: Record<string, string> | undefined;
  if (targetGroup) {
    const { Attributes } = await ctx.clients.elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: targetGroup.TargetGroupArn }));
    const all = Object.fromEntries((Attributes ?? []).map((a) => [a.Key ?? '', a.Value ?? '']));
    attributes = Object.fromEntries(Object.keys(desiredAttributes(ctx.config)).map((key) => [key, all[key]]));
  }
  return {
    targetGroup,
    listener,
    state: {
      targetGroup: targetGroup
        ? {
            exists: true,
            arn: targetGroup.TargetGroupArn,
            healthCheckProtocol: targetGroup.HealthCheckProtocol,
            healthCheckPath: targetGroup.HealthCheckPath,
            healthCheckIntervalSeconds: targetGroup.HealthCheckIntervalSeconds,
            attributes,
            tags: tags.get(targetGroup.TargetGroupArn!) ?? {},
          }
        : { exists: false },
      listener: listener
        ? {
            exists: true,
            arn: listener.ListenerArn,
            protocol: listener.Protocol,
            sslPolicy: listener.SslPolicy,
            certificateArn: defaultCertificate(listener),
            tags: tags.get(listener.ListenerArn!) ?? {},
          }
        : { exists: false },
    },
  };
}

function immutableDrift(config: RunbookConfig, tg: TargetGroup): FieldDiff[] {
  return diffFields(desiredImmutable(config), { protocol: tg.Protocol, port: tg.Port, vpcId: tg.VpcId, targetType: tg.TargetType });
}

/** Where the listener's default action sends traffic: target group ARNs, or the other action types. */
function forwardsTo(listener: Listener): { targetGroups: string[]; other: string[] } {
  const targetGroups = new Set<string>();
  const other: string[] = [];
  for (const action of listener.DefaultActions ?? []) {
    if (action.Type !== 'forward') {
      if (action.Type && !action.Type.startsWith('authenticate-')) other.push(action.Type);
      continue;
    }
    if (action.TargetGroupArn) targetGroups.add(action.TargetGroupArn);
    for (const t of action.ForwardConfig?.TargetGroups ?? []) if (t.TargetGroupArn) targetGroups.add(t.TargetGroupArn);
  }
  return { targetGroups: [...targetGroups], other };
}

/** Why the listener on our port is not ours to manage, or undefined when it forwards only to our target group. */
function foreignListener(ctx: StepContext, listener: Listener, ourTargetGroupArn: string | undefined): string | undefined {
  const { targetGroups, other } = forwardsTo(listener);
  if (ourTargetGroupArn && other.length === 0 && targetGroups.length === 1 && targetGroups[0] === ourTargetGroupArn) return undefined;
  const where = `the ${listener.Protocol ?? ''} listener on port ${listener.Port} of ALB ${albName(ctx.config)} (${listener.ListenerArn})`;
  const to = [
    ...targetGroups.map((arn) => `target group ${tgNameOf(arn)} (${arn})`),
    ...other.map((type) => `a ${type} action`),
  ];
  return (
    `${where} forwards to ${to.join(' and ') || 'nothing'}, not only to ${ctx.config.loadBalancer.targetGroup.name}: ` +
    `it belongs to someone else and this tool refuses to take it over. Choose another loadBalancer.listener.port, ` +
    `or have its owner move it to ${ctx.config.loadBalancer.targetGroup.name}.`
  );
}

const fieldsOf = (change: Change | undefined) => change?.fields ?? [];

// ---------------------------------------------------------------------------------------------

export const loadBalancerStep: Step<'load-balancer', LoadBalancerState> = {
  id: 'load-balancer',
  section: '1.5',
  title: 'Target group and HTTPS listener',

  async plan(ctx) {
    const config = ctx.config;
    const { state, targetGroup, listener } = await observe(ctx);
    const changes: Change[] = [];

    if (!targetGroup) {
      changes.push({
        resource: tgResource(ctx),
        action: 'create',
        fields: diffFields(
          { ...desiredImmutable(config), ...desiredHealthCheck(config), ...prefixed('attributes', desiredAttributes(config)), tags: config.tags },
          {},
        ),
      });
    } else {
      const immutable = immutableDrift(config, targetGroup);
      if (immutable.length) {
        throw new UnsafeChangeError(
          `${tgResource(ctx)}: ${immutable.map((f) => `${f.field} is ${String(f.from)}, config wants ${String(f.to)}`).join('; ')}. ` +
            'Port, protocol, VPC and target type cannot be modified in place: a person must replace the target group (the listener and the service depend on it).',
        );
      }
      const observedTags = awsTagList(state.targetGroup.tags ?? {});
      const fields = [
        ...diffFields(desiredHealthCheck(config), state.targetGroup as unknown as Record<string, unknown>),
        ...diffFields(prefixed('attributes', desiredAttributes(config)), prefixed('attributes', state.targetGroup.attributes ?? {})),
        ...tagsAsDiff(missingTags(config.tags, observedTags), observedTags),
      ];
      if (fields.length) changes.push({ resource: tgResource(ctx), action: 'update', fields });
    }

    if (listener) {
      const foreign = foreignListener(ctx, listener, targetGroup?.TargetGroupArn);
      if (foreign) throw new UnsafeChangeError(foreign);
      const observedTags = awsTagList(state.listener.tags ?? {});
      const fields = [
        ...diffFields(desiredListener(config), state.listener as unknown as Record<string, unknown>),
        ...tagsAsDiff(missingTags(config.tags, observedTags), observedTags),
      ];
      if (fields.length) changes.push({ resource: listenerResource(ctx), action: 'update', fields });
    } else {
      changes.push({
        resource: listenerResource(ctx),
        action: 'create',
        fields: diffFields(
          { ...desiredListener(config), port: config.loadBalancer.listener.port, forwardTo: config.loadBalancer.targetGroup.name, tags: config.tags },
          {},
        ),
        note: `SSL policy ${config.loadBalancer.listener.sslPolicy} instead of the runbook's ELBSecurityPolicy-TLS-1-2-2017-01 (Security Hub ELB.17)`,
      });
    }

    const outputs =
      state.targetGroup.arn && state.listener.arn ? { targetGroupArn: state.targetGroup.arn, listenerArn: state.listener.arn } : undefined;
    return { before: state, changes, outputs };
  },

  async apply(ctx, given) {
    const plan: Plan<StepOutputs['load-balancer'], LoadBalancerState> = given.before ? given : await loadBalancerStep.plan(ctx);
    const before = plan.before!;
    const write = stepWriter(ctx, 'load-balancer');
    const config = ctx.config;
    const tgConfig = config.loadBalancer.targetGroup;
    const elbv2 = ctx.clients.elbv2;

    let targetGroupArn = before.targetGroup.arn;
    const tgChange = plan.changes.find((c) => c.resource === tgResource(ctx));
    if (tgChange?.action === 'create') {
      const { TargetGroups } = await write(tgResource(ctx), 'create', 'CreateTargetGroup', () =>
        elbv2.send(
          new CreateTargetGroupCommand({
            Name: tgConfig.name,
            Protocol: 'HTTP',
            Port: tgConfig.port,
            VpcId: config.inputs.vpcId,
            TargetType: 'ip',
            HealthCheckProtocol: 'HTTP',
            HealthCheckPath: tgConfig.healthCheckPath,
            HealthCheckIntervalSeconds: tgConfig.healthCheckIntervalSeconds,
            Tags: awsTagList(config.tags),
          }),
        ),
      );
      targetGroupArn = TargetGroups![0].TargetGroupArn!;
      // A new target group has AWS's defaults (300 s delay); set both as the runbook does.
      await write(tgResource(ctx), 'update', 'ModifyTargetGroupAttributes', () =>
        elbv2.send(
          new ModifyTargetGroupAttributesCommand({
            TargetGroupArn: targetGroupArn,
            Attributes: Object.entries(desiredAttributes(config)).map(([Key, Value]) => ({ Key, Value })),
          }),
        ),
      );
    } else if (tgChange) {
      const fields = fieldsOf(tgChange);
      const health = desiredHealthCheck(config);
      const input: ModifyTargetGroupInput = { TargetGroupArn: targetGroupArn };
      for (const { field } of fields) {
        if (field === 'healthCheckProtocol') input.HealthCheckProtocol = health.healthCheckProtocol as ProtocolEnum;
        if (field === 'healthCheckPath') input.HealthCheckPath = health.healthCheckPath;
        if (field === 'healthCheckIntervalSeconds') input.HealthCheckIntervalSeconds = health.healthCheckIntervalSeconds;
      }
      if (Object.keys(input).length > 1) {
        await write(tgResource(ctx), 'update', 'ModifyTargetGroup', () => elbv2.send(new ModifyTargetGroupCommand(input)));
      }
      const attributes = fields
        .filter((f) => f.field.startsWith('attributes.'))
        .map((f) => ({ Key: f.field.slice('attributes.'.length), Value: String(f.to) }));
      if (attributes.length) {
        await write(tgResource(ctx), 'update', 'ModifyTargetGroupAttributes', () =>
          elbv2.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: targetGroupArn, Attributes: attributes })),
        );
      }
      if (fields.some((f) => f.field.startsWith('tags.'))) {
        const tags = missingTags(config.tags, awsTagList(before.targetGroup.tags ?? {}));
        await write(tgResource(ctx), 'update', 'AddTags', () =>
          elbv2.send(new AddTagsCommand({ ResourceArns: [targetGroupArn!], Tags: awsTagList(tags) })),
        );
      }
    }

    let listenerArn = before.listener.arn;
    const listenerChange = plan.changes.find((c) => c.resource === listenerResource(ctx));
    const wanted = desiredListener(config);
    if (listenerChange?.action === 'create') {
      const { Listeners } = await write(listenerResource(ctx), 'create', 'CreateListener', () =>
        elbv2.send(
          new CreateListenerCommand({
            LoadBalancerArn: config.inputs.albArn,
            Protocol: 'HTTPS',
            Port: config.loadBalancer.listener.port,
            Certificates: [{ CertificateArn: wanted.certificateArn }],
            SslPolicy: wanted.sslPolicy,
            DefaultActions: [{ Type: 'forward', TargetGroupArn: targetGroupArn }],
            Tags: awsTagList(config.tags),
          }),
        ),
      );
      listenerArn = Listeners![0].ListenerArn!;
    } else if (listenerChange) {
      const changed = new Set(fieldsOf(listenerChange).map((f) => f.field));
      const input: ModifyListenerInput = { ListenerArn: listenerArn };
      // Turning a listener into HTTPS needs its certificate and policy in the same call.
      const toHttps = changed.has('protocol');
      if (toHttps) input.Protocol = 'HTTPS';
      if (toHttps || changed.has('sslPolicy')) input.SslPolicy = wanted.sslPolicy;
      if (toHttps || changed.has('certificateArn')) input.Certificates = [{ CertificateArn: wanted.certificateArn }];
      if (Object.keys(input).length > 1) {
        await write(listenerResource(ctx), 'update', 'ModifyListener', () => elbv2.send(new ModifyListenerCommand(input)));
      }
      if ([...changed].some((field) => field.startsWith('tags.'))) {
        const tags = missingTags(config.tags, awsTagList(before.listener.tags ?? {}));
        await write(listenerResource(ctx), 'update', 'AddTags', () =>
          elbv2.send(new AddTagsCommand({ ResourceArns: [listenerArn!], Tags: awsTagList(tags) })),
        );
      }
    }
    return { targetGroupArn: targetGroupArn!, listenerArn: listenerArn! };
  },

  async validate(ctx) {
    const config = ctx.config;
    const { state, targetGroup, listener } = await observe(ctx);
    const findings: Finding[] = [];
    const describe = (diffs: FieldDiff[]) => diffs.map((d) => `${d.field} is ${String(d.from ?? 'unset')}, want ${String(d.to)}`).join('; ');

    if (!targetGroup) {
      findings.push(fail('Target Group', tgResource(ctx), 'target group does not exist'));
    } else {
      const diffs = [
        ...immutableDrift(config, targetGroup),
        ...diffFields(desiredHealthCheck(config), state.targetGroup as unknown as Record<string, unknown>),
        ...diffFields(prefixed('attributes', desiredAttributes(config)), prefixed('attributes', state.targetGroup.attributes ?? {})),
      ];
      const tg = config.loadBalancer.targetGroup;
      findings.push(
        diffs.length
          ? fail('Target Group', tgResource(ctx), describe(diffs))
          : ok(
              'Target Group',
              tgResource(ctx),
              `HTTP:${tg.port} ip targets, health check ${tg.healthCheckPath} every ${tg.healthCheckIntervalSeconds}s, deregistration delay ${tg.deregistrationDelaySeconds}s, stickiness ${tg.stickiness}`,
            ),
      );
    }

    if (!listener) {
      findings.push(fail('HTTPS Listener', listenerResource(ctx), `no listener on port ${config.loadBalancer.listener.port} of ${albName(config)}`));
    } else {
      const problems = [describe(diffFields(desiredListener(config), state.listener as unknown as Record<string, unknown>))].filter(Boolean);
      const foreign = foreignListener(ctx, listener, targetGroup?.TargetGroupArn);
      if (foreign) {
        const { targetGroups, other } = forwardsTo(listener);
        problems.push(`forwards to ${[...targetGroups.map(tgNameOf), ...other].join(', ') || 'nothing'}, not only to ${config.loadBalancer.targetGroup.name}`);
      }
      findings.push(
        problems.length
          ? fail('HTTPS Listener', listenerResource(ctx), problems.join('; '))
          : ok('HTTPS Listener', listenerResource(ctx), `HTTPS with ${listener.SslPolicy}, forwards to ${config.loadBalancer.targetGroup.name}`),
      );
    }
    return findings;
  },

  async rollback(ctx, before) {
    if (!before) return;
    const write = stepWriter(ctx, 'load-balancer');
    const elbv2 = ctx.clients.elbv2;
    const { state, targetGroup, listener } = await observe(ctx);

    // The listener first: a target group a listener forwards to cannot be deleted.
    if (!before.listener.exists) {
      // Ours only if it forwards to our target group; anything else on the port is left alone.
      if (listener && !foreignListener(ctx, listener, targetGroup?.TargetGroupArn)) {
        await write(listenerResource(ctx), 'delete', 'DeleteListener', () =>
          elbv2.send(new DeleteListenerCommand({ ListenerArn: listener.ListenerArn })),
        );
      }
    } else if (listener && listener.ListenerArn === before.listener.arn) {
      const was = before.listener;
      const input: ModifyListenerInput = { ListenerArn: listener.ListenerArn };
      if (state.listener.protocol !== was.protocol && was.protocol) input.Protocol = was.protocol as ProtocolEnum;
      if (state.listener.sslPolicy !== was.sslPolicy && was.sslPolicy) input.SslPolicy = was.sslPolicy;
      if (state.listener.certificateArn !== was.certificateArn && was.certificateArn) input.Certificates = [{ CertificateArn: was.certificateArn }];
      if (Object.keys(input).length > 1) {
        await write(listenerResource(ctx), 'update', 'ModifyListener', () => elbv2.send(new ModifyListenerCommand(input)));
      }
      await restoreTags(ctx, listenerResource(ctx), listener.ListenerArn!, was.tags ?? {}, state.listener.tags ?? {});
    }

    if (!before.targetGroup.exists) {
      if (targetGroup) {
        await write(tgResource(ctx), 'delete', 'DeleteTargetGroup', () =>
          elbv2.send(new DeleteTargetGroupCommand({ TargetGroupArn: targetGroup.TargetGroupArn })),
        );
      }
      return;
    }
    if (!targetGroup || targetGroup.TargetGroupArn !== before.targetGroup.arn) return; // gone or replaced by someone else
    const was = before.targetGroup;
    const now = state.targetGroup;
    const input: ModifyTargetGroupInput = { TargetGroupArn: targetGroup.TargetGroupArn };
    if (now.healthCheckProtocol !== was.healthCheckProtocol && was.healthCheckProtocol) input.HealthCheckProtocol = was.healthCheckProtocol as ProtocolEnum;
    if (now.healthCheckPath !== was.healthCheckPath && was.healthCheckPath) input.HealthCheckPath = was.healthCheckPath;
    if (now.healthCheckIntervalSeconds !== was.healthCheckIntervalSeconds && was.healthCheckIntervalSeconds) {
      input.HealthCheckIntervalSeconds = was.healthCheckIntervalSeconds;
    }
    if (Object.keys(input).length > 1) {
      await write(tgResource(ctx), 'update', 'ModifyTargetGroup', () => elbv2.send(new ModifyTargetGroupCommand(input)));
    }
    const attributes = Object.entries(was.attributes ?? {})
      .filter(([key, value]) => value !== undefined && now.attributes?.[key] !== value)
      .map(([Key, Value]) => ({ Key, Value }));
    if (attributes.length) {
      await write(tgResource(ctx), 'update', 'ModifyTargetGroupAttributes', () =>
        elbv2.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: targetGroup.TargetGroupArn, Attributes: attributes })),
      );
    }
    await restoreTags(ctx, tgResource(ctx), targetGroup.TargetGroupArn!, was.tags ?? {}, now.tags ?? {});
  },
};

async function restoreTags(ctx: StepContext, resource: string, arn: string, before: Record<string, string>, current: Record<string, string>) {
  const write = stepWriter(ctx, 'load-balancer');
  const { untag, retag } = tagsToRestore(before, current, ctx.config.tags);
  if (untag.length) {
    await write(resource, 'update', 'RemoveTags', () => ctx.clients.elbv2.send(new RemoveTagsCommand({ ResourceArns: [arn], TagKeys: untag })));
  }
  if (Object.keys(retag).length) {
    await write(resource, 'update', 'AddTags', () => ctx.clients.elbv2.send(new AddTagsCommand({ ResourceArns: [arn], Tags: awsTagList(retag) })));
  }
}
