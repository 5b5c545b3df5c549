// Runbook 2.4: the five FinTech/Business custom metrics.
// DESIGN.md §8 row 12: the runbook's put-metric-data lines are examples with fixed values; sending
// them on every apply would pollute production metrics. So apply writes nothing, validate reports
// whether each metric is actually arriving, and `metrics put` (putBusinessMetric) publishes one
// real value on an operator's explicit request. The step owns no resource: its plan is always empty.
import { GetMetricStatisticsCommand, PutMetricDataCommand, type StandardUnit } from '@aws-sdk/client-cloudwatch';
import type { AwsClients } from '../src/aws/clients.js';
import type { RunbookConfig } from '../src/config.js';
import { UsageError } from '../src/core/errors.js';
import { defineStep } from '../src/core/converge.js';
import { ok, warn, type Finding } from '../src/core/step.js';

export interface BusinessMetric {
  name: string;
  unit: StandardUnit;
  dimensions: Readonly<Record<string, string>>;
}

/** The runbook's five metrics, with the unit and the dimensions its examples use (the config's defaults). */
export const BUSINESS_METRICS = [
  { name: 'TransactionsProcessed', unit: 'Count', dimensions: { Service: 'PaymentAPI' } },
  { name: 'LoginSuccess', unit: 'Count', dimensions: { Service: 'Auth' } },
  { name: 'FraudFlags', unit: 'Count', dimensions: {} },
  { name: 'APIErrors', unit: 'Count', dimensions: {} },
  { name: 'PaymentLatency', unit: 'Milliseconds', dimensions: {} },
] as const satisfies readonly BusinessMetric[];

export type BusinessMetricName = (typeof BUSINESS_METRICS)[number]['name'];

/** The five metrics with this environment's dimensions (`metrics.dimensions`, default the runbook's). */
export function businessMetrics(config: RunbookConfig): BusinessMetric[] {
  const configured = config.metrics.dimensions as Partial<Record<BusinessMetricName, Record<string, string>>> | undefined;
  return BUSINESS_METRICS.map((metric) => ({ ...metric, dimensions: configured?.[metric.name] ?? metric.dimensions }));
}

const asDimensionList = (dimensions: Readonly<Record<string, string>>) =>
  Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value }));

const describeMetric = (namespace: string, metric: BusinessMetric) => {
  const dims = Object.entries(metric.dimensions).map(([k, v]) => `${k}=${v}`);
  return `metric ${namespace} ${metric.name}${dims.length ? ` (${dims.join(', ')})` : ''}`;
};

const CHECK = 'Business Metrics';

export const businessMetricsStep = defineStep<'business-metrics'>({
  id: 'business-metrics',
  section: '2.4',
  title: 'Custom business metrics',
  needs: [],

  // Metrics are no resource: they exist once the application publishes them. So nothing is owned,
  // apply sends nothing and rollback has nothing to undo.
  observe: async () => ({}),
  resources: () => [],
  outputs: (ctx) => ({ namespace: ctx.config.metrics.namespace }),
  notes: () => ["no values published: the runbook's put-metric-data lines are examples, not data (use `fintech-runbook metrics put`)"],

  async validate(ctx) {
    const { namespace, recentMinutes } = ctx.config.metrics;
    // Whole minutes ending after now: matches the 60 s periods, and a value published a moment
    // ago is inside the window (moto compares at one-second precision, CloudWatch by period).
    const end = new Date((Math.floor(Date.now() / 60_000) + 1) * 60_000);
    const start = new Date(end.getTime() - recentMinutes * 60_000);
    return Promise.all(
      businessMetrics(ctx.config).map(async (metric): Promise<Finding> => {
        const { Datapoints } = await ctx.clients.cloudwatch.send(
          new GetMetricStatisticsCommand({
            Namespace: namespace,
            MetricName: metric.name,
            Dimensions: asDimensionList(metric.dimensions),
            StartTime: start,
            EndTime: end,
            Period: 60,
            Statistics: ['SampleCount'],
          }),
        );
        const received = (Datapoints ?? []).reduce((sum, d) => sum + (d.SampleCount ?? 0), 0);
        const resource = describeMetric(namespace, metric);
        // A metric nobody published yet is worth knowing, not a broken deployment.
        return received > 0
          ? ok(CHECK, resource, `received ${received} datapoint${received === 1 ? '' : 's'} in the last ${recentMinutes} min`)
          : warn(CHECK, resource, `no data in the last ${recentMinutes} min`);
      }),
    );
  },
});

export interface PutBusinessMetricOptions {
  unit?: string;
  /** Replace values of the metric's own dimensions (e.g. Service); other names are refused. */
  dimensions?: Record<string, string>;
}

export interface PublishedMetric {
  namespace: string;
  metricName: BusinessMetricName;
  value: number;
  unit: StandardUnit;
  dimensions: Record<string, string>;
}

// CloudWatch rejects values beyond ±2^360.
const CLOUDWATCH_MAX_VALUE = 2 ** 360;
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Checks everything that can be checked locally; throws UsageError (exit 2) before any AWS call. */
function checkMetric(config: RunbookConfig, name: string, rawValue: string | number, options: PutBusinessMetricOptions) {
  const metric = businessMetrics(config).find((m) => m.name === name);
  if (!metric) {
    throw new UsageError(`unknown business metric "${name}": use one of ${BUSINESS_METRICS.map((m) => m.name).join(', ')}`);
  }
  // Number('') is 0 and Number('0x10') is 16: accept only plain decimal text.
  const value = typeof rawValue === 'number' ? rawValue : DECIMAL.test(rawValue.trim()) ? Number(rawValue.trim()) : Number.NaN;
  if (!Number.isFinite(value)) throw new UsageError(`${name}: value "${String(rawValue)}" is not a finite number`);
  if (value < 0) throw new UsageError(`${name}: value ${value} is negative; a ${metric.unit === 'Count' ? 'count' : 'latency'} cannot be negative`);
  if (value > CLOUDWATCH_MAX_VALUE) throw new UsageError(`${name}: value ${value} is larger than CloudWatch accepts (2^360)`);
  if (options.unit !== undefined && options.unit !== metric.unit) {
    throw new UsageError(`${name}: unit "${options.unit}" is wrong; ${name} is measured in ${metric.unit}`);
  }
  const dimensions: Record<string, string> = { ...metric.dimensions };
  for (const [key, dimensionValue] of Object.entries(options.dimensions ?? {})) {
    if (!(key in metric.dimensions)) {
      const allowed = Object.keys(metric.dimensions);
      throw new UsageError(
        `${name}: dimension "${key}" is not one of this metric's (${allowed.length ? allowed.join(', ') : 'it has none'}); validate watches only those`,
      );
    }
    if (dimensionValue.length < 1 || dimensionValue.length > 1024) {
      throw new UsageError(`${name}: dimension ${key} needs a value of 1 to 1024 characters`);
    }
    dimensions[key] = dimensionValue;
  }
  return { metric, value, dimensions };
}

/** Publishes one real value of one of the five metrics (the CLI's `metrics put`). */
export async function putBusinessMetric(
  clients: Pick<AwsClients, 'cloudwatch'>,
  config: RunbookConfig,
  name: string,
  value: string | number,
  options: PutBusinessMetricOptions = {},
): Promise<PublishedMetric> {
  const checked = checkMetric(config, name, value, options);
  const namespace = config.metrics.namespace;
  const dimensionList = asDimensionList(checked.dimensions);
  await clients.cloudwatch.send(
    new PutMetricDataCommand({
      Namespace: namespace,
      MetricData: [
        {
          MetricName: checked.metric.name,
          Value: checked.value,
          Unit: checked.metric.unit,
          ...(dimensionList.length ? { Dimensions: dimensionList } : {}),
        },
      ],
    }),
  );
  return { namespace, metricName: checked.metric.name as BusinessMetricName, value: checked.value, unit: checked.metric.unit, dimensions: checked.dimensions };
}
