import { GetMetricStatisticsCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { beforeEach, describe, expect, it } from 'vitest';
import { BUSINESS_METRICS, businessMetricsStep, putBusinessMetric } from '../../steps/business-metrics.js';
import { describeAwsError, ExitCode, UsageError } from '../../src/core/errors.js';
import { awsError, mockAws, testConfig, testContext, type AwsMocks } from '../helpers/mock-aws.js';

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});

const totalCalls = () => Object.values(aws).reduce((sum, mock) => sum + mock.calls().length, 0);

describe('business-metrics step (2.4)', () => {
  it('defines the runbook five metrics with their units and dimensions', () => {
    expect(BUSINESS_METRICS).toEqual([
      { name: 'TransactionsProcessed', unit: 'Count', dimensions: { Service: 'PaymentAPI' } },
      { name: 'LoginSuccess', unit: 'Count', dimensions: { Service: 'Auth' } },
      { name: 'FraudFlags', unit: 'Count', dimensions: {} },
      { name: 'APIErrors', unit: 'Count', dimensions: {} },
      { name: 'PaymentLatency', unit: 'Milliseconds', dimensions: {} },
    ]);
  });

  it('owns no resource: plans no change and no action, publishes none of the runbook example values on apply (DESIGN §8 row 12)', async () => {
    const ctx = testContext();
    const plan = await businessMetricsStep.plan(ctx);
    expect(plan).toEqual({ before: {}, changes: [], actions: [], outputs: { namespace: 'FinTech/Business' }, notes: [expect.stringContaining('metrics put')] });
    expect(await businessMetricsStep.apply(ctx, plan)).toEqual({ namespace: 'FinTech/Business' });
    expect(await businessMetricsStep.rollback(ctx, plan.before, new Set())).toEqual([]);
    expect(totalCalls()).toBe(0);
  });

  describe('validate', () => {
    it('asks CloudWatch for each metric over the last recentMinutes and says OK with data, WARN without', async () => {
      aws.cloudwatch.on(GetMetricStatisticsCommand).callsFake((input: { MetricName: string }) =>
        input.MetricName === 'TransactionsProcessed'
          ? { Datapoints: [{ SampleCount: 3, Unit: 'Count' }, { SampleCount: 2, Unit: 'Count' }] }
          : input.MetricName === 'PaymentLatency'
            ? { Datapoints: [{ SampleCount: 1, Unit: 'Milliseconds' }] }
            : { Datapoints: [] },
      );
      const findings = await businessMetricsStep.validate(testContext());
      expect(findings).toEqual([
        { check: 'Business Metrics', status: 'OK', resource: 'metric FinTech/Business TransactionsProcessed (Service=PaymentAPI)', reason: 'received 5 datapoints in the last 60 min' },
        { check: 'Business Metrics', status: 'WARN', resource: 'metric FinTech/Business LoginSuccess (Service=Auth)', reason: 'no data in the last 60 min' },
        { check: 'Business Metrics', status: 'WARN', resource: 'metric FinTech/Business FraudFlags', reason: 'no data in the last 60 min' },
        { check: 'Business Metrics', status: 'WARN', resource: 'metric FinTech/Business APIErrors', reason: 'no data in the last 60 min' },
        { check: 'Business Metrics', status: 'OK', resource: 'metric FinTech/Business PaymentLatency', reason: 'received 1 datapoint in the last 60 min' },
      ]);

      const calls = aws.cloudwatch.commandCalls(GetMetricStatisticsCommand).map((c) => c.args[0].input);
      expect(calls.map(({ StartTime, EndTime, ...rest }) => rest)).toEqual([
        { Namespace: 'FinTech/Business', MetricName: 'TransactionsProcessed', Dimensions: [{ Name: 'Service', Value: 'PaymentAPI' }], Period: 60, Statistics: ['SampleCount'] },
        { Namespace: 'FinTech/Business', MetricName: 'LoginSuccess', Dimensions: [{ Name: 'Service', Value: 'Auth' }], Period: 60, Statistics: ['SampleCount'] },
        { Namespace: 'FinTech/Business', MetricName: 'FraudFlags', Dimensions: [], Period: 60, Statistics: ['SampleCount'] },
        { Namespace: 'FinTech/Business', MetricName: 'APIErrors', Dimensions: [], Period: 60, Statistics: ['SampleCount'] },
        { Namespace: 'FinTech/Business', MetricName: 'PaymentLatency', Dimensions: [], Period: 60, Statistics: ['SampleCount'] },
      ]);
      for (const { StartTime, EndTime } of calls) {
        expect((EndTime as Date).getTime() - (StartTime as Date).getTime()).toBe(60 * 60_000);
        // Minute-aligned and just after now, so a value published a moment ago is counted.
        expect((EndTime as Date).getTime() % 60_000).toBe(0);
        expect((EndTime as Date).getTime() - Date.now()).toBeGreaterThan(0);
        expect((EndTime as Date).getTime() - Date.now()).toBeLessThanOrEqual(60_000);
      }
    });

    it('uses config.metrics.recentMinutes and namespace', async () => {
      aws.cloudwatch.on(GetMetricStatisticsCommand).resolves({ Datapoints: [] });
      const config = testConfig();
      const ctx = testContext({ config: { ...config, metrics: { ...config.metrics, namespace: 'FinTech/Staging', recentMinutes: 15 } } });
      const findings = await businessMetricsStep.validate(ctx);
      expect(findings.every((f) => f.status === 'WARN' && f.reason === 'no data in the last 15 min')).toBe(true);
      const first = aws.cloudwatch.commandCalls(GetMetricStatisticsCommand)[0].args[0].input;
      expect(first.Namespace).toBe('FinTech/Staging');
      expect((first.EndTime as Date).getTime() - (first.StartTime as Date).getTime()).toBe(15 * 60_000);
    });

    it('surfaces a CloudWatch error with its name and request id', async () => {
      aws.cloudwatch.on(GetMetricStatisticsCommand).rejects(awsError('AccessDenied', 'not authorized to perform cloudwatch:GetMetricStatistics', 'req-cw-1'));
      const error = await businessMetricsStep.validate(testContext()).catch((e: unknown) => e);
      expect(describeAwsError(error)).toBe('AccessDenied: not authorized to perform cloudwatch:GetMetricStatistics — request id req-cw-1');
    });
  });

  describe('putBusinessMetric (`metrics put`)', () => {
    it.each([
      ['TransactionsProcessed', 150, 'Count', [{ Name: 'Service', Value: 'PaymentAPI' }], { Service: 'PaymentAPI' }],
      ['LoginSuccess', 1, 'Count', [{ Name: 'Service', Value: 'Auth' }], { Service: 'Auth' }],
      ['FraudFlags', 0, 'Count', undefined, {}],
      ['APIErrors', 2, 'Count', undefined, {}],
      ['PaymentLatency', 120, 'Milliseconds', undefined, {}],
    ])('publishes %s = %d %s as one datum', async (name, value, unit, dimensionList, dimensions) => {
      aws.cloudwatch.on(PutMetricDataCommand).resolves({});
      const ctx = testContext();
      const published = await putBusinessMetric(ctx.clients, ctx.config, name, value);
      expect(published).toEqual({ namespace: 'FinTech/Business', metricName: name, value, unit, dimensions });
      const calls = aws.cloudwatch.commandCalls(PutMetricDataCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0].args[0].input).toEqual({
        Namespace: 'FinTech/Business',
        MetricData: [{ MetricName: name, Value: value, Unit: unit, ...(dimensionList ? { Dimensions: dimensionList } : {}) }],
      });
    });

    it('accepts a decimal string value, the matching unit and a new value for the metric own dimension', async () => {
      aws.cloudwatch.on(PutMetricDataCommand).resolves({});
      const ctx = testContext();
      const published = await putBusinessMetric(ctx.clients, ctx.config, 'TransactionsProcessed', ' 12.5 ', {
        unit: 'Count',
        dimensions: { Service: 'CheckoutAPI' },
      });
      expect(published.value).toBe(12.5);
      expect(aws.cloudwatch.commandCalls(PutMetricDataCommand)[0].args[0].input.MetricData).toEqual([
        { MetricName: 'TransactionsProcessed', Value: 12.5, Unit: 'Count', Dimensions: [{ Name: 'Service', Value: 'CheckoutAPI' }] },
      ]);
    });

    it.each([
      ['an unknown metric', 'Revenue', 5, {}, 'unknown business metric "Revenue": use one of TransactionsProcessed, LoginSuccess, FraudFlags, APIErrors, PaymentLatency'],
      ['NaN', 'APIErrors', Number.NaN, {}, 'APIErrors: value "NaN" is not a finite number'],
      ['Infinity', 'APIErrors', Number.POSITIVE_INFINITY, {}, 'APIErrors: value "Infinity" is not a finite number'],
      ['a non-numeric string', 'APIErrors', 'lots', {}, 'APIErrors: value "lots" is not a finite number'],
      ['an empty string', 'APIErrors', '', {}, 'APIErrors: value "" is not a finite number'],
      ['a hex string', 'APIErrors', '0x10', {}, 'APIErrors: value "0x10" is not a finite number'],
      ['a negative count', 'FraudFlags', -1, {}, 'FraudFlags: value -1 is negative; a count cannot be negative'],
      ['a negative latency', 'PaymentLatency', '-5', {}, 'PaymentLatency: value -5 is negative; a latency cannot be negative'],
      ['a value beyond CloudWatch range', 'APIErrors', 1e200, {}, 'APIErrors: value 1e+200 is larger than CloudWatch accepts (2^360)'],
      ['the wrong unit', 'PaymentLatency', 120, { unit: 'Seconds' }, 'PaymentLatency: unit "Seconds" is wrong; PaymentLatency is measured in Milliseconds'],
      ['a unit in the wrong case', 'LoginSuccess', 1, { unit: 'count' }, 'LoginSuccess: unit "count" is wrong; LoginSuccess is measured in Count'],
      ['a dimension the metric does not have', 'FraudFlags', 1, { dimensions: { Service: 'Auth' } }, 'FraudFlags: dimension "Service" is not one of this metric\'s (it has none); validate watches only those'],
      ['an empty dimension value', 'LoginSuccess', 1, { dimensions: { Service: '' } }, 'LoginSuccess: dimension Service needs a value of 1 to 1024 characters'],
    ])('refuses %s with a UsageError (exit 2) before any AWS call', async (_what, name, value, options, message) => {
      const ctx = testContext();
      const error = await putBusinessMetric(ctx.clients, ctx.config, name, value as string | number, options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).exitCode).toBe(ExitCode.usage);
      expect((error as Error).message).toBe(message);
      expect(totalCalls()).toBe(0);
    });

    it('surfaces a PutMetricData error with its name and request id', async () => {
      aws.cloudwatch.on(PutMetricDataCommand).rejects(awsError('InvalidParameterValueException', 'bad value', 'req-cw-2'));
      const ctx = testContext();
      const error = await putBusinessMetric(ctx.clients, ctx.config, 'APIErrors', 2).catch((e: unknown) => e);
      expect(describeAwsError(error)).toBe('InvalidParameterValueException: bad value — request id req-cw-2');
    });
  });
});
