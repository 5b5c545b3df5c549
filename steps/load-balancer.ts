// Runbook 1.5: the target group and its attributes, and the HTTPS listener on the existing ALB.
// The listener is created here, before the service (DESIGN.md §8 row 13), with the SSL policy from
// the config, a TLS 1.3 policy by default (row 8).
import {
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  paginateDescribeListenerCertificates,
  paginateDescribeListeners,
  type Action as ElbAction,
  type Listener,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { act, ref, type ActionSpec } from '../src/core/actions.js';
import { defineStep, refuseUnhandled } from '../src/core/converge.js';
import { changedTopLevel, diffDocuments, type Doc, type IgnoreList } from '../src/core/document.js';
import { describeAwsError, isAwsError, UnsafeChangeError } from '../src/core/errors.js';
import { awsTags, managedTags, tagChanges, type TagMap } from '../src/core/tags.js';
import { fail, ok, type FieldDiff, type Finding, type Observed, type ResourceDef, type StepContext } from '../src/core/step.js';

/**
 * The CreateTargetGroup input (every health-check field, defaults included), plus its attributes
 * as a map (see TARGET_GROUP_ATTRIBUTE_DEFAULTS) and tags as a map of the managed keys.
 */
export interface TargetGroupDoc extends Doc {
  Name: string;
  attributes: Record<string, string>;
  Tags: TagMap;
}

/** The CreateListener input, plus the certificate list beyond the default one, and tags as a map. */
export interface ListenerDoc extends Doc {
  LoadBalancerArn: string;
  Protocol: string;
  Port: number;
  SslPolicy?: string;
  /** The default certificate only (what CreateListener/ModifyListener take). */
  Certificates?: Array<{ CertificateArn: string }>;
  /** ARNs of the listener's certificate list (SNI certificates) other than the default: none wanted. */
  extraCertificates?: string[];
  DefaultActions: Doc[];
  AlpnPolicy?: string[];
  MutualAuthentication?: Doc;
  Tags: TagMap;
}

/** Fields ELBv2 sets itself. Everything else is compared. */
export const TARGET_GROUP_IGNORE: IgnoreList = [
  'TargetGroupArn', // identity, assigned by AWS (kept in the document for the update and delete calls)
  'TargetGroupName', // the same value as Name, which is compared (and is the lookup key)
  'LoadBalancerArns', // set by AWS from the listeners and rules that forward to the group
];

export const LISTENER_IGNORE: IgnoreList = [
  'ListenerArn', // identity, assigned by AWS
  // Other listeners on the same port: AWS refuses a second one, moto accepts it. Reported in the
  // plan's notes and by validate; deleting one is left to a person.
  'otherListenersOnPort',
];

const DEREGISTRATION_DELAY = 'deregistration_delay.timeout_seconds';
const STICKINESS = 'stickiness.enabled';

/**
 * AWS's documented defaults for an ALB target group of ip targets (API_TargetGroupAttribute).
 * Every attribute is compared: both sides drop an attribute that has its default (AWS returns a
 * different set over time and per API version, moto a smaller one), so a value changed out of band
 * (slow start, algorithm, stickiness type, cross-zone…) is drift and apply puts the default back.
 * An attribute AWS returns that is not in this table and is not the runbook's is refused: its
 * default is not known here, a person decides.
 */
export const TARGET_GROUP_ATTRIBUTE_DEFAULTS: Readonly<Record<string, string>> = {
  [DEREGISTRATION_DELAY]: '300',
  [STICKINESS]: 'false',
  'stickiness.type': 'lb_cookie',
  'stickiness.lb_cookie.duration_seconds': '86400',
  'stickiness.app_cookie.cookie_name': '',
  'stickiness.app_cookie.duration_seconds': '86400',
  'slow_start.duration_seconds': '0',
  'load_balancing.algorithm.type': 'round_robin',
  'load_balancing.algorithm.anomaly_mitigation': 'off',
  'load_balancing.cross_zone.enabled': 'use_load_balancer_configuration',
  'target_group_health.dns_failover.minimum_healthy_targets.count': '1',
  'target_group_health.dns_failover.minimum_healthy_targets.percentage': 'off',
  'target_group_health.unhealthy_state_routing.minimum_healthy_targets.count': '1',
  'target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage': 'off',
  // AWS: a load balancer attribute, never returned for a target group; moto 5.2 reports it on target groups.
  'waf.fail_open.enabled': 'false',
};

/** CreateTargetGroup fields no call can modify: a new target group is a person's decision. */
const TARGET_GROUP_IMMUTABLE = ['Name', 'Protocol', 'ProtocolVersion', 'Port', 'VpcId', 'TargetType', 'IpAddressType', 'TargetControlPort'];
/** What ModifyTargetGroup changes in place. */
const HEALTH_CHECK_FIELDS = ['HealthCheckProtocol', 'HealthCheckPort', 'HealthCheckPath', 'HealthCheckEnabled', 'HealthCheckIntervalSeconds',
  'HealthCheckTimeoutSeconds', 'HealthyThresholdCount', 'UnhealthyThresholdCount', 'Matcher'];
/** What ModifyListener changes in place. */
const LISTENER_MODIFIABLE = ['Protocol', 'Port', 'SslPolicy', 'Certificates', 'DefaultActions', 'AlpnPolicy', 'MutualAuthentication'];

const albName = (ctx: StepContext) => ctx.config.inputs.albArn.split('/')[2] ?? ctx.config.inputs.albArn;
const tgNameOf = (arn: string) => arn.split('/')[1] ?? arn;
const tgName = (ctx: StepContext) => `target group ${ctx.config.loadBalancer.targetGroup.name}`;
const listenerName = (ctx: StepContext) => `https listener :${ctx.config.loadBalancer.listener.port} on ${albName(ctx)}`;

// ---------------------------------------------------------------------------------------------
// Documents

/** The runbook's two attributes, then every other one that is not at its AWS default. */
function attributeMap(items: Array<{ Key?: string; Value?: string }> | undefined): Record<string, string> {
  const all = Object.fromEntries((items ?? []).map((a) => [a.Key ?? '', a.Value ?? '']));
  return Object.fromEntries(
    Object.entries(all).filter(([key, value]) => key === DEREGISTRATION_DELAY || key === STICKINESS || TARGET_GROUP_ATTRIBUTE_DEFAULTS[key] !== value),
  );
}

/** The target group as described, in the desired document's shape: unknown fields stay, to be seen. */
export function targetGroupDoc(tg: TargetGroup, attributes: Array<{ Key?: string; Value?: string }> | undefined, tags: TagMap): TargetGroupDoc {
  return {
    ...(tg as Doc),
    Name: tg.TargetGroupName ?? '',
    Protocol: tg.Protocol ?? '',
    // AWS's defaults for an HTTP target group, in case a response leaves them out.
    ProtocolVersion: tg.ProtocolVersion ?? 'HTTP1',
    HealthCheckPort: tg.HealthCheckPort ?? 'traffic-port',
    HealthCheckEnabled: tg.HealthCheckEnabled ?? true,
    IpAddressType: tg.IpAddressType ?? 'ipv4',
    attributes: attributeMap(attributes),
    Tags: tags,
  } as TargetGroupDoc;
}

/**
 * What the runbook's create-target-group sets, plus AWS's documented defaults for the fields it
 * leaves out (ALB guide, "Health check settings", ip targets: timeout 5 s, healthy 5, unhealthy 2,
 * matcher 200, port traffic-port). They are sent explicitly, so the group is the same whatever
 * AWS's defaults become. (The API reference's "HTTP: 6 s" timeout is the NLB figure; ALB and moto
 * both report 5.)
 */
function desiredTargetGroup(ctx: StepContext): TargetGroupDoc {
  const tg = ctx.config.loadBalancer.targetGroup;
  return {
    Name: tg.name,
    Protocol: 'HTTP',
    ProtocolVersion: 'HTTP1',
    Port: tg.port,
    VpcId: ctx.config.inputs.vpcId,
    TargetType: 'ip',
    HealthCheckProtocol: 'HTTP',
    HealthCheckPort: 'traffic-port',
    HealthCheckPath: tg.healthCheckPath,
    HealthCheckIntervalSeconds: tg.healthCheckIntervalSeconds,
    HealthCheckTimeoutSeconds: 5,
    HealthyThresholdCount: 5,
    UnhealthyThresholdCount: 2,
    Matcher: { HttpCode: '200' },
    HealthCheckEnabled: true,
    IpAddressType: 'ipv4',
    // Attribute values are strings in the ELBv2 API.
    attributes: { [DEREGISTRATION_DELAY]: String(tg.deregistrationDelaySeconds), [STICKINESS]: String(tg.stickiness) },
    Tags: ctx.config.tags,
  };
}

/**
 * One default action in the CreateListener input's shape. AWS describes a forward to one target
 * group both ways (TargetGroupArn and a ForwardConfig of that one group, weight 1, group
 * stickiness off): both mean "send everything there", so both become `{ Type, TargetGroupArn }`.
 * Order only matters between several actions.
 */
function normaliseAction(action: ElbAction, single: boolean): Doc {
  const { Order, ...rest } = action as ElbAction & Doc;
  const kept: Doc = single ? rest : { ...rest, Order };
  if (action.Type !== 'forward') return kept;
  const groups = action.ForwardConfig?.TargetGroups ?? [];
  const arns = new Set([action.TargetGroupArn, ...groups.map((g) => g.TargetGroupArn)].filter(Boolean));
  if (arns.size !== 1 || groups.length > 1 || action.ForwardConfig?.TargetGroupStickinessConfig?.Enabled) return kept;
  const { ForwardConfig: _forward, ...plain } = kept;
  return { ...plain, TargetGroupArn: [...arns][0] };
}

const normaliseActions = (actions: ElbAction[] | undefined) => (actions ?? []).map((a) => normaliseAction(a, (actions ?? []).length === 1));

/** The listener as described, in the CreateListener input's shape. */
export function listenerDoc(listener: Listener, certificates: Array<{ CertificateArn?: string; IsDefault?: boolean }>, tags: TagMap, others: string[]): ListenerDoc {
  // DescribeListeners: AWS returns only the default certificate, moto the whole list. The
  // certificate list (DescribeListenerCertificates) tells the default from the rest; AWS lists the
  // default twice when it is also in the list (IsDefault false): that copy is not an extra.
  const defaultArn = certificates.find((c) => c.IsDefault)?.CertificateArn ?? listener.Certificates?.[0]?.CertificateArn;
  const extra = [...new Set(certificates.filter((c) => !c.IsDefault && c.CertificateArn && c.CertificateArn !== defaultArn).map((c) => c.CertificateArn!))].sort();
  const mutual = listener.MutualAuthentication;
  return {
    ...(listener as Doc),
    LoadBalancerArn: listener.LoadBalancerArn ?? '',
    Protocol: listener.Protocol ?? '',
    Port: listener.Port ?? 0,
    Certificates: defaultArn ? [{ CertificateArn: defaultArn }] : undefined,
    extraCertificates: extra,
    DefaultActions: normaliseActions(listener.DefaultActions),
    // "None" is the no-ALPN policy; ALB HTTPS listeners report none at all (moto: []).
    AlpnPolicy: listener.AlpnPolicy?.filter((p) => p !== 'None'),
    // Mode "off" is AWS's default (no mTLS); the other fields mean nothing then.
    MutualAuthentication: mutual?.Mode && mutual.Mode !== 'off' ? (mutual as Doc) : undefined,
    Tags: tags,
    otherListenersOnPort: others,
  };
}

function desiredListener(ctx: StepContext, targetGroupArn: string): ListenerDoc {
  return {
    LoadBalancerArn: ctx.config.inputs.albArn,
    Protocol: 'HTTPS',
    Port: ctx.config.loadBalancer.listener.port,
    SslPolicy: ctx.config.loadBalancer.listener.sslPolicy,
    Certificates: [{ CertificateArn: ctx.config.inputs.certificateArn }],
    DefaultActions: [{ Type: 'forward', TargetGroupArn: targetGroupArn }],
    Tags: ctx.config.tags,
  };
}

// ---------------------------------------------------------------------------------------------
// Observation

async function describeTargetGroup(ctx: StepContext): Promise<TargetGroup | undefined> {
  try {
    const { TargetGroups } = await ctx.clients.elbv2.send(new DescribeTargetGroupsCommand({ Names: [ctx.config.loadBalancer.targetGroup.name] }));
    return TargetGroups?.[0];
  } catch (error) {
    if (isAwsError(error, 'TargetGroupNotFoundException')) return undefined;
    throw error;
  }
}

async function listenersOnPort(ctx: StepContext): Promise<Listener[]> {
  const found: Listener[] = [];
  for await (const page of paginateDescribeListeners({ client: ctx.clients.elbv2 }, { LoadBalancerArn: ctx.config.inputs.albArn })) {
    found.push(...(page.Listeners ?? []).filter((l) => l.Port === ctx.config.loadBalancer.listener.port));
  }
  return found;
}

async function listenerCertificates(ctx: StepContext, listenerArn: string) {
  const found: Array<{ CertificateArn?: string; IsDefault?: boolean }> = [];
  for await (const page of paginateDescribeListenerCertificates({ client: ctx.clients.elbv2 }, { ListenerArn: listenerArn })) {
    found.push(...(page.Certificates ?? []));
  }
  return found;
}

/** Where default actions send traffic: target group ARNs, and the other action types. */
function forwardsTo(actions: Doc[] | undefined): { targetGroups: string[]; other: string[] } {
  const targetGroups = new Set<string>();
  const other: string[] = [];
  for (const action of (actions ?? []) as unknown as ElbAction[]) {
    if (action.Type !== 'forward') {
      if (action.Type && !action.Type.startsWith('authenticate-')) other.push(action.Type);
      continue;
    }
    if (action.TargetGroupArn) targetGroups.add(action.TargetGroupArn);
    for (const t of action.ForwardConfig?.TargetGroups ?? []) if (t.TargetGroupArn) targetGroups.add(t.TargetGroupArn);
  }
  return { targetGroups: [...targetGroups], other };
}

/** Does the listener send traffic only where `wanted` does? */
const onlyTo = (listener: Doc[] | undefined, wanted: Doc[] | undefined) => {
  const have = forwardsTo(listener);
  const want = forwardsTo(wanted);
  return have.other.every((t) => want.other.includes(t)) && have.targetGroups.every((arn) => want.targetGroups.includes(arn));
};

async function observe(ctx: StepContext): Promise<Observed> {
  const [targetGroup, onPort] = await Promise.all([describeTargetGroup(ctx), listenersOnPort(ctx)]);
  // Ours is the one that forwards only to our target group; otherwise the first, to be refused.
  const ours = targetGroup && onPort.find((l) => onlyTo(normaliseActions(l.DefaultActions), [{ Type: 'forward', TargetGroupArn: targetGroup.TargetGroupArn }]));
  const listener = ours ?? onPort[0];
  const arns = [targetGroup?.TargetGroupArn, listener?.ListenerArn].filter((arn): arn is string => Boolean(arn));
  // Tags, attributes and certificates depend only on the two ARNs: one round, not three.
  const [tagDescriptions, attributes, certificates] = await Promise.all([
    arns.length ? ctx.clients.elbv2.send(new DescribeTagsCommand({ ResourceArns: arns })).then((r) => r.TagDescriptions ?? []) : [],
    targetGroup
      ? ctx.clients.elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: targetGroup.TargetGroupArn })).then((r) => r.Attributes)
      : undefined,
    listener ? listenerCertificates(ctx, listener.ListenerArn!) : [],
  ]);
  const tags = new Map<string, TagMap>(tagDescriptions.map((d) => [d.ResourceArn ?? '', managedTags(d.Tags, ctx.config.tags)]));
  const others = onPort.filter((l) => l !== listener).map((l) => l.ListenerArn ?? '');
  return {
    'target-group': targetGroup && targetGroupDoc(targetGroup, attributes, tags.get(targetGroup.TargetGroupArn!) ?? {}),
    listener: listener && listenerDoc(listener, certificates, tags.get(listener.ListenerArn!) ?? {}, others),
  };
}

// ---------------------------------------------------------------------------------------------
// Resources

const show = (value: unknown) => (value === undefined ? 'unset' : typeof value === 'string' ? value : JSON.stringify(value));

/** Tag and untag calls that move `o` to `d` (managed keys only). */
function tagActions(arn: string, d: TagMap | undefined, o: TagMap | undefined): ActionSpec[] {
  const { tag, untag } = tagChanges(d, o);
  const actions: ActionSpec[] = [];
  if (Object.keys(tag).length) actions.push(act('elbv2', 'AddTags', { ResourceArns: [arn], Tags: awsTags(tag) }));
  if (untag.length) actions.push(act('elbv2', 'RemoveTags', { ResourceArns: [arn], TagKeys: untag }));
  return actions;
}

function targetGroupResource(ctx: StepContext, observed: Observed): ResourceDef<TargetGroupDoc> {
  const name = tgName(ctx);
  return {
    id: 'target-group',
    name,
    desired: desiredTargetGroup(ctx),
    observed: observed['target-group'] as TargetGroupDoc | undefined,
    ignore: TARGET_GROUP_IGNORE,
    create: (d) => {
      const { attributes, Tags, ...input } = d;
      return [
        act(
          'elbv2',
          'CreateTargetGroup',
          { ...input, Tags: awsTags(Tags) },
          // AWS answers a repeated identical create with the existing group; moto answers
          // DuplicateTargetGroupName, which on a retry after a lost reply means: re-read, adopt.
          {
            binds: { targetGroupArn: 'TargetGroups.0.TargetGroupArn' },
            adoptBinds: { targetGroupArn: 'TargetGroupArn' },
            existsErrors: ['DuplicateTargetGroupNameException'],
          },
        ),
        // A new target group has AWS's defaults (300 s delay); set the runbook's, as it does.
        act('elbv2', 'ModifyTargetGroupAttributes', {
          TargetGroupArn: ref('load-balancer', 'targetGroupArn'),
          Attributes: Object.entries(attributes).map(([Key, Value]) => ({ Key, Value })),
        }),
      ];
    },
    update: (d, o, diffs) => {
      const changed = changedTopLevel(diffs);
      const fixed = diffs.filter((f) => TARGET_GROUP_IMMUTABLE.includes(f.field.split('.')[0]));
      if (fixed.length) {
        throw new UnsafeChangeError(
          `${name}: ${fixed.map((f) => `${f.field} is ${show(f.from)}, wanted ${show(f.to)}`).join('; ')}. ` +
            'Port, protocol (and its version), VPC, target type and IP address type cannot be modified in place: ' +
            'a person must replace the target group (the listener and the service depend on it).',
        );
      }
      refuseUnhandled(name, diffs, [...HEALTH_CHECK_FIELDS, 'attributes', 'Tags']);
      const arn = o.TargetGroupArn as string;
      const actions: ActionSpec[] = [];
      const health = HEALTH_CHECK_FIELDS.filter((field) => changed.has(field) && d[field] !== undefined);
      if (health.length) actions.push(act('elbv2', 'ModifyTargetGroup', { TargetGroupArn: arn, ...Object.fromEntries(health.map((f) => [f, d[f]])) }));
      if (changed.has('attributes')) {
        const keys = [...new Set([...Object.keys(d.attributes ?? {}), ...Object.keys(o.attributes ?? {})])];
        const unknown = keys.filter((key) => d.attributes?.[key] === undefined && TARGET_GROUP_ATTRIBUTE_DEFAULTS[key] === undefined);
        if (unknown.length) {
          throw new UnsafeChangeError(
            `${name}: ${unknown.map((key) => `attributes.${key} is ${o.attributes[key]}`).join(', ')}, and this tool does not know its default; a person must decide`,
          );
        }
        // An attribute `d` leaves out goes back to its AWS default.
        const want = (key: string) => d.attributes?.[key] ?? TARGET_GROUP_ATTRIBUTE_DEFAULTS[key];
        const Attributes = keys.filter((key) => want(key) !== (o.attributes?.[key] ?? TARGET_GROUP_ATTRIBUTE_DEFAULTS[key])).map((Key) => ({ Key, Value: want(Key) }));
        if (Attributes.length) actions.push(act('elbv2', 'ModifyTargetGroupAttributes', { TargetGroupArn: arn, Attributes }));
      }
      actions.push(...tagActions(arn, d.Tags, o.Tags));
      return actions;
    },
    // AWS refuses to delete a target group a listener or rule still uses (the listener goes first).
    remove: (o) => [act('elbv2', 'DeleteTargetGroup', { TargetGroupArn: o.TargetGroupArn }, { goneErrors: ['TargetGroupNotFoundException'] })],
    // Set by the ModifyTargetGroupAttributes that follows the create.
    adoptIgnore: ['attributes'],
  };
}

/** Why the listener on our port is not ours to manage (it forwards elsewhere), or undefined. */
function foreignListener(ctx: StepContext, o: ListenerDoc, d: ListenerDoc): string | undefined {
  if (onlyTo(o.DefaultActions, d.DefaultActions)) return undefined;
  const { targetGroups, other } = forwardsTo(o.DefaultActions);
  const where = `the ${o.Protocol} listener on port ${o.Port} of ALB ${albName(ctx)} (${String(o.ListenerArn)})`;
  const to = [...targetGroups.map((arn) => `target group ${tgNameOf(arn)} (${arn})`), ...other.map((type) => `a ${type} action`)];
  const tg = ctx.config.loadBalancer.targetGroup.name;
  return (
    `${where} forwards to ${to.join(' and ') || 'nothing'}, not only to ${tg}: it belongs to someone else and this tool refuses to take it over. ` +
    `Choose another loadBalancer.listener.port, or have its owner move it to ${tg}.`
  );
}

function listenerResource(ctx: StepContext, observed: Observed): ResourceDef<ListenerDoc> {
  const name = listenerName(ctx);
  const tgArn = (observed['target-group']?.TargetGroupArn as string | undefined) ?? ref('load-balancer', 'targetGroupArn');
  const existing = observed.listener as ListenerDoc | undefined;
  return {
    id: 'listener',
    name,
    desired: desiredListener(ctx, tgArn),
    observed: existing,
    ignore: LISTENER_IGNORE,
    ...(existing
      ? {}
      : { note: `SSL policy ${ctx.config.loadBalancer.listener.sslPolicy} instead of the runbook's ELBSecurityPolicy-TLS-1-2-2017-01 (Security Hub ELB.17)` }),
    create: (d) => [
      act(
        'elbv2',
        'CreateListener',
        {
          LoadBalancerArn: d.LoadBalancerArn,
          Protocol: d.Protocol,
          Port: d.Port,
          SslPolicy: d.SslPolicy,
          Certificates: d.Certificates,
          DefaultActions: d.DefaultActions,
          Tags: awsTags(d.Tags),
        },
        // AWS answers a repeated identical create with the existing listener (DuplicateListener for
        // another one on the port); moto makes a second listener, so after a lost reply the
        // executor's re-read must adopt the first before any retry.
        { binds: { listenerArn: 'Listeners.0.ListenerArn' }, adoptBinds: { listenerArn: 'ListenerArn' }, existsErrors: ['DuplicateListenerException'] },
      ),
      ...(d.extraCertificates?.length
        ? [act('elbv2', 'AddListenerCertificates', { ListenerArn: ref('load-balancer', 'listenerArn'), Certificates: d.extraCertificates.map((CertificateArn) => ({ CertificateArn })) })]
        : []),
    ],
    update: (d, o, diffs) => {
      const foreign = foreignListener(ctx, o, d);
      if (foreign) throw new UnsafeChangeError(foreign);
      refuseUnhandled(name, diffs, [...LISTENER_MODIFIABLE, 'extraCertificates', 'Tags']);
      const changed = changedTopLevel(diffs);
      const ListenerArn = o.ListenerArn as string;
      const actions: ActionSpec[] = [];
      const modify: Doc = {};
      // Turning a listener into HTTPS needs its certificate and policy in the same call.
      const protocol = changed.has('Protocol');
      if (protocol) modify.Protocol = d.Protocol;
      if (changed.has('Port')) modify.Port = d.Port;
      if ((protocol || changed.has('SslPolicy')) && d.SslPolicy) modify.SslPolicy = d.SslPolicy;
      if ((protocol || changed.has('Certificates')) && d.Certificates) modify.Certificates = d.Certificates;
      if (changed.has('DefaultActions')) modify.DefaultActions = d.DefaultActions;
      if (changed.has('AlpnPolicy')) modify.AlpnPolicy = d.AlpnPolicy?.length ? d.AlpnPolicy : ['None'];
      if (changed.has('MutualAuthentication')) modify.MutualAuthentication = d.MutualAuthentication ?? { Mode: 'off' };
      if (Object.keys(modify).length) actions.push(act('elbv2', 'ModifyListener', { ListenerArn, ...modify }));
      const want = d.extraCertificates ?? [];
      const have = o.extraCertificates ?? [];
      const remove = have.filter((arn) => !want.includes(arn));
      const add = want.filter((arn) => !have.includes(arn));
      if (remove.length) actions.push(act('elbv2', 'RemoveListenerCertificates', { ListenerArn, Certificates: remove.map((CertificateArn) => ({ CertificateArn })) }));
      if (add.length) actions.push(act('elbv2', 'AddListenerCertificates', { ListenerArn, Certificates: add.map((CertificateArn) => ({ CertificateArn })) }));
      actions.push(...tagActions(ListenerArn, d.Tags, o.Tags));
      return actions;
    },
    remove: (o) => {
      // Only a listener that still forwards only to our target group is ours to delete.
      const ours = forwardsTo(o.DefaultActions);
      if (ours.other.length || ours.targetGroups.some((arn) => tgNameOf(arn) !== ctx.config.loadBalancer.targetGroup.name)) {
        return `forwards to ${[...ours.targetGroups.map(tgNameOf), ...ours.other].join(', ')}, not only to ${ctx.config.loadBalancer.targetGroup.name}: kept`;
      }
      return [act('elbv2', 'DeleteListener', { ListenerArn: o.ListenerArn }, { goneErrors: ['ListenerNotFoundException'] })];
    },
  };
}

const resources = (ctx: StepContext, observed: Observed) => [targetGroupResource(ctx, observed), listenerResource(ctx, observed)];

/** AWS allows one listener per port; moto accepts more (e.g. a create retried after a lost reply). */
function extraListeners(ctx: StepContext, listener: ListenerDoc | undefined): string | undefined {
  const others = listener?.otherListenersOnPort as string[] | undefined;
  if (!listener || !others?.length) return undefined;
  return (
    `${others.length + 1} listeners on port ${listener.Port} of ${albName(ctx)}: this tool manages ${String(listener.ListenerArn)} ` +
    `and leaves ${others.join(', ')} for a person to delete`
  );
}

const fieldList = (diffs: FieldDiff[]) => `differs from the config: ${diffs.map((d) => d.field).join(', ')} (run plan)`;

function targetGroupFinding(ctx: StepContext, r: ResourceDef<TargetGroupDoc>): Finding {
  if (!r.observed) return fail('Target Group', r.name, 'does not exist');
  const diffs = diffDocuments(r.desired, r.observed, r.ignore);
  if (diffs.length) return fail('Target Group', r.name, fieldList(diffs));
  const tg = ctx.config.loadBalancer.targetGroup;
  return ok(
    'Target Group',
    r.name,
    `HTTP:${tg.port} ip targets, health check ${tg.healthCheckPath} every ${tg.healthCheckIntervalSeconds}s, deregistration delay ${tg.deregistrationDelaySeconds}s, stickiness ${tg.stickiness}`,
  );
}

function listenerFinding(ctx: StepContext, r: ResourceDef<ListenerDoc>): Finding {
  const tg = ctx.config.loadBalancer.targetGroup.name;
  if (!r.observed) return fail('HTTPS Listener', r.name, `no listener on port ${ctx.config.loadBalancer.listener.port} of ${albName(ctx)}`);
  const problems: string[] = [];
  const diffs = diffDocuments(r.desired, r.observed, r.ignore);
  if (diffs.length) problems.push(fieldList(diffs));
  if (foreignListener(ctx, r.observed, r.desired)) {
    const { targetGroups, other } = forwardsTo(r.observed.DefaultActions);
    problems.push(`forwards to ${[...targetGroups.map(tgNameOf), ...other].join(', ') || 'nothing'}, not only to ${tg}`);
  }
  const extra = extraListeners(ctx, r.observed);
  if (extra) problems.push(extra);
  return problems.length
    ? fail('HTTPS Listener', r.name, problems.join('; '))
    : ok('HTTPS Listener', r.name, `HTTPS with ${String(r.observed.SslPolicy)}, forwards to ${tg}`);
}

export const loadBalancerStep = defineStep<'load-balancer'>({
  id: 'load-balancer',
  section: '1.5',
  title: 'Target group and HTTPS listener',
  needs: [],

  observe,

  resources,

  outputs: (_ctx, observed) => ({
    targetGroupArn: (observed['target-group']?.TargetGroupArn as string | undefined) ?? ref('load-balancer', 'targetGroupArn'),
    listenerArn: (observed.listener?.ListenerArn as string | undefined) ?? ref('load-balancer', 'listenerArn'),
  }),

  notes: (ctx, observed) => {
    const extra = extraListeners(ctx, observed.listener as ListenerDoc | undefined);
    return extra ? [extra] : [];
  },

  async validate(ctx) {
    let observed: Observed;
    try {
      observed = await observe(ctx);
    } catch (error) {
      const why = `could not be evaluated: ${describeAwsError(error)}`;
      return [fail('Target Group', tgName(ctx), why), fail('HTTPS Listener', listenerName(ctx), why)];
    }
    return [targetGroupFinding(ctx, targetGroupResource(ctx, observed)), listenerFinding(ctx, listenerResource(ctx, observed))];
  },
});
