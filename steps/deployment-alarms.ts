// Deployment alarms (issue 12): CloudWatch alarms this tool owns on the runbook's section 2.4
// business metrics APIErrors and PaymentLatency and on the target group's 5xx count. The service
// (1.6) lists them in `deploymentConfiguration.alarms` with rollback on: ECS fails a deployment
// and rolls it back when one goes to ALARM, which the circuit breaker alone never does for a
// release that starts fine and then fails payments. The alarms have no actions: ECS reads their
// state. Each alarm is its PutMetricAlarm input, diffed whole with a deny-list (DESIGN.md §3).
import { DescribeAlarmsCommand, ListTagsForResourceCommand, type MetricAlarm } from '@aws-sdk/client-cloudwatch';
import type { RunbookConfig } from '../src/config.js';
import { act, hasRef, ref, resolveRefs, type Action, type ActionSpec } from '../src/core/actions.js';
import { defineStep, documentFindings } from '../src/core/converge.js';
import { changedTopLevel, prune, type Doc, type IgnoreList } from '../src/core/document.js';
import { awsTags, managedTags, tagChanges, type TagMap } from '../src/core/tags.js';
import { warn, type Observed, type ResourceDef, type Step, type StepContext } from '../src/core/step.js';
import { BUSINESS_METRICS } from './business-metrics.js';

export type DeploymentAlarmKey = 'apiErrors' | 'paymentLatency' | 'targetErrors';
const KEYS: readonly DeploymentAlarmKey[] = ['apiErrors', 'paymentLatency', 'targetErrors'];
const SUFFIX: Record<DeploymentAlarmKey, string> = { apiErrors: 'api-errors', paymentLatency: 'payment-latency', targetErrors: 'target-5xx' };

/** The alarm names the config implies (none without `deploy.alarms`): the service step lists exactly these. */
export function deploymentAlarmNames(config: RunbookConfig): string[] {
  return config.deploy?.alarms ? KEYS.map((key) => `${config.service.name}-deploy-${SUFFIX[key]}`) : [];
}

/** The PutMetricAlarm input, tags as a map of the managed keys. */
export interface AlarmDoc extends Doc {
  AlarmName: string;
  Namespace: string;
  MetricName: string;
  Dimensions: Array<{ Name: string; Value: string }>;
  Threshold: number;
  Tags: TagMap;
}

/** Fields CloudWatch sets itself: identity, state and timestamps. Everything else is compared. */
export const ALARM_IGNORE: IgnoreList = [
  'AlarmArn', // identity (the tag builders' handle)
  'AlarmConfigurationUpdatedTimestamp',
  'StateValue', // OK / ALARM / INSUFFICIENT_DATA: what ECS reads, not configuration
  'StateReason',
  'StateReasonData',
  'StateUpdatedTimestamp',
  'StateTransitionedTimestamp',
  'EvaluationState', // PARTIAL_DATA and the like: CloudWatch's evaluation, not configuration
];

/** `arn:…:loadbalancer/app/name/id` → `app/name/id`: the LoadBalancer dimension of AWS/ApplicationELB. */
export const loadBalancerDimension = (albArn: string) => albArn.split(':loadbalancer/')[1] ?? albArn;
/** `arn:…:targetgroup/name/id` → `targetgroup/name/id`; a ref token stays (cut in apply, see below). */
export const targetGroupDimension = (arn: string) => (arn.startsWith('arn:') ? arn.split(':').slice(5).join(':') : arn);

const sortDimensions = (dims: Array<{ Name?: string; Value?: string }> | undefined) =>
  [...(dims ?? [])].map((d) => ({ Name: d.Name ?? '', Value: d.Value ?? '' })).sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));

const statistic = (stat: string) => (/^p/.test(stat) ? { ExtendedStatistic: stat } : { Statistic: stat });

function metricOf(config: RunbookConfig, key: DeploymentAlarmKey, targetGroupArn: string) {
  if (key === 'targetErrors') {
    return {
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HTTPCode_Target_5XX_Count',
      Dimensions: sortDimensions([
        { Name: 'LoadBalancer', Value: loadBalancerDimension(config.inputs.albArn) },
        { Name: 'TargetGroup', Value: targetGroupDimension(targetGroupArn) },
      ]),
      what: `target group ${config.loadBalancer.targetGroup.name} 5xx count`,
    };
  }
  const metric = BUSINESS_METRICS.find((m) => m.name === (key === 'apiErrors' ? 'APIErrors' : 'PaymentLatency'))!;
  // The dimensions the application publishes with (config `metrics.dimensions`, else the runbook's).
  const configured = (config.metrics as { dimensions?: Partial<Record<string, Record<string, string>>> }).dimensions?.[metric.name];
  const dimensions: Record<string, string> = configured ?? metric.dimensions;
  return {
    Namespace: config.metrics.namespace,
    MetricName: metric.name,
    Dimensions: sortDimensions(Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value }))),
    what: `${config.metrics.namespace} ${metric.name}`,
  };
}

export function desiredAlarm(config: RunbookConfig, key: DeploymentAlarmKey, name: string, targetGroupArn: string): AlarmDoc {
  const alarm = config.deploy!.alarms![key];
  const { what, ...metric } = metricOf(config, key, targetGroupArn);
  const datapoints = alarm.datapointsToAlarm ?? alarm.evaluationPeriods;
  return {
    AlarmName: name,
    AlarmDescription:
      `fintech-runbook: ECS fails and rolls back a deployment of ${config.service.name} when ${what} (${alarm.statistic}) ` +
      `is above ${alarm.threshold} in ${datapoints} of ${alarm.evaluationPeriods} periods of ${alarm.periodSeconds}s`,
    ActionsEnabled: true,
    // No actions: ECS reads the alarm's state during a deployment (and its bake time).
    OKActions: [],
    AlarmActions: [],
    InsufficientDataActions: [],
    ...metric,
    ...statistic(alarm.statistic),
    Period: alarm.periodSeconds,
    EvaluationPeriods: alarm.evaluationPeriods,
    DatapointsToAlarm: datapoints,
    Threshold: alarm.threshold,
    ComparisonOperator: 'GreaterThanThreshold',
    // No data during a quiet deployment is not a failure.
    TreatMissingData: 'notBreaching',
    Tags: config.tags,
  };
}

/** The alarm as described, in the PutMetricAlarm input's shape: unknown fields stay, to be seen. */
export function alarmDoc(alarm: MetricAlarm, tags: TagMap): AlarmDoc {
  return {
    ...(alarm as Doc),
    AlarmName: alarm.AlarmName ?? '',
    Namespace: alarm.Namespace ?? '',
    MetricName: alarm.MetricName ?? '',
    Dimensions: sortDimensions(alarm.Dimensions),
    Threshold: alarm.Threshold ?? 0,
    ActionsEnabled: alarm.ActionsEnabled ?? true, // AWS's default
    // AWS reports these as set on every alarm; unset means the default.
    DatapointsToAlarm: alarm.DatapointsToAlarm ?? alarm.EvaluationPeriods,
    TreatMissingData: alarm.TreatMissingData ?? 'missing',
    EvaluateLowSampleCountPercentile: alarm.EvaluateLowSampleCountPercentile || undefined,
    Tags: tags,
  };
}

/** The document back into the PutMetricAlarm input. Tags only on create: PutMetricAlarm ignores them on an existing alarm. */
function putInput(d: AlarmDoc, withTags: boolean): Record<string, unknown> {
  const { Tags, ...rest } = d;
  for (const field of ALARM_IGNORE) delete rest[field];
  return prune({ ...rest, ...(withTags && Object.keys(Tags).length ? { Tags: awsTags(Tags) } : {}) }) as Record<string, unknown>;
}

function alarmResources(ctx: StepContext, observed: Observed): ResourceDef<AlarmDoc>[] {
  const { config } = ctx;
  if (!config.deploy?.alarms) return [];
  const targetGroupArn = ctx.outputs.find('load-balancer')?.targetGroupArn ?? ref('load-balancer', 'targetGroupArn');
  const names = deploymentAlarmNames(config);
  return KEYS.map((key, i) => {
    const name = names[i];
    return {
      id: `alarm:${name}`,
      after: [], // each alarm is one PutMetricAlarm of its own: all of them side by side
      name: `cloudwatch alarm ${name}`,
      desired: desiredAlarm(config, key, name, targetGroupArn),
      observed: observed[`alarm:${name}`] as AlarmDoc | undefined,
      ignore: ALARM_IGNORE,
      // PutMetricAlarm creates or replaces the whole alarm: idempotent, so a lost reply needs no re-read.
      create: (d) => [act('cloudwatch', 'PutMetricAlarm', putInput(d, true))],
      update: (d, o, diffs) => {
        const changed = changedTopLevel(diffs);
        const actions: ActionSpec[] = [];
        if ([...changed].some((field) => field !== 'Tags')) actions.push(act('cloudwatch', 'PutMetricAlarm', putInput(d, false)));
        const { tag, untag } = tagChanges(d.Tags, o.Tags);
        const ResourceARN = o.AlarmArn as string;
        if (Object.keys(tag).length) actions.push(act('cloudwatch', 'TagResource', { ResourceARN, Tags: awsTags(tag) }));
        if (untag.length) actions.push(act('cloudwatch', 'UntagResource', { ResourceARN, TagKeys: untag }));
        return actions;
      },
      remove: (o) => [act('cloudwatch', 'DeleteAlarms', { AlarmNames: [o.AlarmName] }, { kind: 'delete', goneErrors: ['ResourceNotFound', 'ResourceNotFoundException'] })],
    };
  });
}

async function observe(ctx: StepContext): Promise<Observed> {
  const names = deploymentAlarmNames(ctx.config);
  if (!names.length) return {};
  const { MetricAlarms = [] } = await ctx.clients.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: names, AlarmTypes: ['MetricAlarm'] }));
  // Each alarm's tags are one call: all of them together.
  const docs = await Promise.all(
    names.map(async (name) => {
      const alarm = MetricAlarms.find((a) => a.AlarmName === name);
      if (!alarm) return [`alarm:${name}`, undefined] as const;
      const { Tags } = await ctx.clients.cloudwatch.send(new ListTagsForResourceCommand({ ResourceARN: alarm.AlarmArn }));
      return [`alarm:${name}`, alarmDoc(alarm, managedTags(Tags, ctx.config.tags))] as const;
    }),
  );
  return Object.fromEntries(docs) as Observed;
}

/**
 * The TargetGroup dimension is the target group ARN's resource part. When this run creates the
 * target group, the plan holds its ARN as a ref token, which resolves to the whole ARN: it is cut
 * to the dimension right before the PutMetricAlarm is sent.
 */
export function resolveDimensions(action: Action, ctx: Pick<StepContext, 'bindings'>): Action {
  if (action.operation !== 'PutMetricAlarm' || !hasRef(action.input)) return action;
  const input = resolveRefs(action.input, ctx.bindings);
  const dims = (input.Dimensions as Array<{ Name: string; Value: string }> | undefined)?.map((d) =>
    d.Name === 'TargetGroup' ? { ...d, Value: targetGroupDimension(d.Value) } : d,
  );
  return { ...action, input: { ...input, ...(dims ? { Dimensions: dims } : {}) } };
}

const CHECK = 'Deployment Alarms';

const base = defineStep<'deployment-alarms'>({
  id: 'deployment-alarms',
  section: '2.4',
  title: 'Deployment alarms',
  // The 5xx alarm's TargetGroup dimension is the target group's.
  needs: ['load-balancer'],

  observe,
  resources: alarmResources,
  outputs: (ctx) => ({ alarmNames: deploymentAlarmNames(ctx.config) }),
  notes: (ctx) => (ctx.config.deploy?.alarms ? [] : ['no deploy.alarms in the config: the service has no deployment alarms']),

  async validate(ctx) {
    const resources = alarmResources(ctx, await observe(ctx));
    const findings = documentFindings(CHECK, resources, (r) => `${r.observed!.MetricName} above ${r.observed!.Threshold}, state ${r.observed!.StateValue ?? 'unknown'}`);
    // An alarm in ALARM now fails (and rolls back) the next deployment at once.
    for (const r of resources) {
      if (r.observed?.StateValue === 'ALARM') findings.push(warn(CHECK, r.name, `in ALARM now (${r.observed.StateReason ?? 'no reason'}): a deployment started now is rolled back`));
    }
    return findings;
  },
});

export const deploymentAlarmsStep: Step<'deployment-alarms'> = {
  ...base,
  apply: (ctx, plan) => base.apply(ctx, { ...plan, actions: plan.actions.map((a) => resolveDimensions(a, ctx)) }),
};
