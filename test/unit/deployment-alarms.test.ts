// Deployment alarms (issue 12): three CloudWatch alarms the tool owns, each its PutMetricAlarm
// input diffed whole; created, in sync, drift, tags, compensation; the 5xx alarm's TargetGroup
// dimension cut from a target group ARN created in the same run.
import {
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  ListTagsForResourceCommand,
  PutMetricAlarmCommand,
  TagResourceCommand,
  type MetricAlarm,
} from '@aws-sdk/client-cloudwatch';
import { beforeEach, describe, expect, it } from 'vitest';
import { ref } from '../../src/core/actions.js';
import { Outputs } from '../../src/core/step.js';
import { deploymentAlarmNames, deploymentAlarmsStep, loadBalancerDimension, targetGroupDimension } from '../../steps/deployment-alarms.js';
import { fixtureEnv, mockAws, testConfig, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

const tgArn = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/fintech-prod-tg/73e2d6bc24d8a067';
const tags = [
  { Key: 'Environment', Value: 'Production' },
  { Key: 'Project', Value: 'FinTechGlobal' },
  { Key: 'CostCenter', Value: 'CC-Corp' },
];
const names = ['fintech-api-svc-deploy-api-errors', 'fintech-api-svc-deploy-payment-latency', 'fintech-api-svc-deploy-target-5xx'];
const arnOf = (name: string) => `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${name}`;

/** The alarms as CloudWatch describes them after our PutMetricAlarm (production.yaml's values). */
function described(): MetricAlarm[] {
  const common = { ActionsEnabled: true, OKActions: [], AlarmActions: [], InsufficientDataActions: [], Period: 60, EvaluationPeriods: 3, DatapointsToAlarm: 2, ComparisonOperator: 'GreaterThanThreshold' as const, TreatMissingData: 'notBreaching', StateValue: 'OK' as const, StateReason: 'Unchecked', AlarmConfigurationUpdatedTimestamp: new Date(), StateUpdatedTimestamp: new Date() };
  return [
    { ...common, AlarmName: names[0], AlarmArn: arnOf(names[0]), AlarmDescription: 'fintech-runbook: ECS fails and rolls back a deployment of fintech-api-svc when FinTech/Business APIErrors (Sum) is above 10 in 2 of 3 periods of 60s', Namespace: 'FinTech/Business', MetricName: 'APIErrors', Dimensions: [], Statistic: 'Sum', Threshold: 10 },
    { ...common, AlarmName: names[1], AlarmArn: arnOf(names[1]), AlarmDescription: 'fintech-runbook: ECS fails and rolls back a deployment of fintech-api-svc when FinTech/Business PaymentLatency (p99) is above 1000 in 2 of 3 periods of 60s', Namespace: 'FinTech/Business', MetricName: 'PaymentLatency', Dimensions: [], ExtendedStatistic: 'p99', Threshold: 1000 },
    {
      ...common,
      AlarmName: names[2],
      AlarmArn: arnOf(names[2]),
      AlarmDescription: 'fintech-runbook: ECS fails and rolls back a deployment of fintech-api-svc when target group fintech-prod-tg 5xx count (Sum) is above 10 in 2 of 3 periods of 60s',
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HTTPCode_Target_5XX_Count',
      // CloudWatch lists dimensions in any order.
      Dimensions: [
        { Name: 'TargetGroup', Value: 'targetgroup/fintech-prod-tg/73e2d6bc24d8a067' },
        { Name: 'LoadBalancer', Value: 'app/fintech-prod-alb/50dc6c495c0c9188' },
      ],
      Statistic: 'Sum',
      Threshold: 10,
    },
  ];
}

function context(targetGroupArn = tgArn) {
  const outputs = new Outputs();
  outputs.set('load-balancer', { targetGroupArn, listenerArn: 'arn:listener' });
  return testContext({ outputs });
}

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
  aws.cloudwatch.on(ListTagsForResourceCommand).resolves({ Tags: tags });
});

describe('deployment alarms step', () => {
  it('names one alarm per metric after the service; none without deploy.alarms', () => {
    expect(deploymentAlarmNames(testConfig())).toEqual(names);
    const config = testConfig();
    expect(deploymentAlarmNames({ ...config, deploy: { blockSeverity: 'CRITICAL' } })).toEqual([]);
  });

  it('derives the ApplicationELB dimensions from the ARNs', () => {
    expect(loadBalancerDimension(fixtureEnv.ALB_ARN!)).toBe('app/fintech-prod-alb/50dc6c495c0c9188');
    expect(targetGroupDimension(tgArn)).toBe('targetgroup/fintech-prod-tg/73e2d6bc24d8a067');
  });

  it('creates the three alarms with the configured thresholds, no actions, and the tags', async () => {
    aws.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    aws.cloudwatch.on(PutMetricAlarmCommand).resolves({});
    const ctx = context();
    const plan = await deploymentAlarmsStep.plan(ctx);
    expect(plan.changes.map((c) => `${c.action} ${c.resource}`)).toEqual(names.map((n) => `create cloudwatch alarm ${n}`));
    const outputs = await deploymentAlarmsStep.apply(ctx, plan);
    expect(outputs).toEqual({ alarmNames: names });
    const inputs = aws.cloudwatch.commandCalls(PutMetricAlarmCommand).map((c) => c.args[0].input);
    expect(inputs.map((i) => [i.AlarmName, i.MetricName, i.Statistic ?? i.ExtendedStatistic, i.Threshold])).toEqual([
      [names[0], 'APIErrors', 'Sum', 10],
      [names[1], 'PaymentLatency', 'p99', 1000],
      [names[2], 'HTTPCode_Target_5XX_Count', 'Sum', 10],
    ]);
    expect(inputs[2]).toMatchObject({
      Namespace: 'AWS/ApplicationELB',
      Dimensions: [
        { Name: 'LoadBalancer', Value: 'app/fintech-prod-alb/50dc6c495c0c9188' },
        { Name: 'TargetGroup', Value: 'targetgroup/fintech-prod-tg/73e2d6bc24d8a067' },
      ],
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
      Tags: tags,
    });
    expect(inputs[0]).toMatchObject({ Namespace: 'FinTech/Business', ActionsEnabled: true });
    expect(inputs[0]).not.toHaveProperty('AlarmActions'); // none: ECS reads the state
  });

  it('a target group created in the same run: the plan holds its ARN as a ref, apply sends the dimension', async () => {
    aws.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    aws.cloudwatch.on(PutMetricAlarmCommand).resolves({});
    const ctx = context(ref('load-balancer', 'targetGroupArn'));
    const plan = await deploymentAlarmsStep.plan(ctx);
    expect(JSON.stringify(plan.actions[2].input)).toContain('{{ref:load-balancer.targetGroupArn}}');
    ctx.bindings.set('load-balancer.targetGroupArn', tgArn); // bound by CreateTargetGroup's reply
    await deploymentAlarmsStep.apply(ctx, plan);
    const sent = aws.cloudwatch.commandCalls(PutMetricAlarmCommand)[2].args[0].input;
    expect(sent.Dimensions).toContainEqual({ Name: 'TargetGroup', Value: 'targetgroup/fintech-prod-tg/73e2d6bc24d8a067' });
  });

  it('in sync: no change and no write (state, ARN and timestamps are not compared)', async () => {
    aws.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: described().map((a) => ({ ...a, StateValue: 'ALARM' as const })) });
    const ctx = context();
    const plan = await deploymentAlarmsStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    await deploymentAlarmsStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual([]);
  });

  it('drift out of band (threshold raised, an action added): planned field by field, one PutMetricAlarm puts the whole alarm back', async () => {
    const alarms = described();
    alarms[0] = { ...alarms[0], Threshold: 500, AlarmActions: ['arn:aws:sns:us-east-1:123456789012:pager'] };
    aws.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: alarms });
    aws.cloudwatch.on(PutMetricAlarmCommand).resolves({});
    const ctx = context();
    const plan = await deploymentAlarmsStep.plan(ctx);
    expect(plan.changes).toHaveLength(1);
    expect(plan.changes[0].fields).toEqual([
      { field: 'AlarmActions', from: ['arn:aws:sns:us-east-1:123456789012:pager'], to: undefined },
      { field: 'Threshold', from: 500, to: 10 },
    ]);
    await deploymentAlarmsStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['cloudwatch:PutMetricAlarm']);
    const sent = aws.cloudwatch.commandCalls(PutMetricAlarmCommand)[0].args[0].input;
    expect(sent).toMatchObject({ AlarmName: names[0], Threshold: 10 });
    expect(sent).not.toHaveProperty('Tags'); // ignored by PutMetricAlarm on an existing alarm
    expect(sent).not.toHaveProperty('AlarmActions'); // PutMetricAlarm overwrites the whole configuration: the action is gone
  });

  it('a missing managed tag is put back with TagResource alone', async () => {
    aws.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: described() });
    aws.cloudwatch.on(ListTagsForResourceCommand, { ResourceARN: arnOf(names[1]) }).resolves({ Tags: tags.slice(0, 2) });
    aws.cloudwatch.on(TagResourceCommand).resolves({});
    const ctx = context();
    await deploymentAlarmsStep.apply(ctx, await deploymentAlarmsStep.plan(ctx));
    expect(writeCalls(aws)).toEqual(['cloudwatch:TagResource']);
    expect(aws.cloudwatch.commandCalls(TagResourceCommand)[0].args[0].input).toEqual({ ResourceARN: arnOf(names[1]), Tags: [{ Key: 'CostCenter', Value: 'CC-Corp' }] });
  });

  it('rollback deletes only the alarms this run created; twice is a no-op', async () => {
    aws.cloudwatch.on(DescribeAlarmsCommand).resolvesOnce({ MetricAlarms: described() }).resolves({ MetricAlarms: described().slice(0, 2) });
    aws.cloudwatch.on(DeleteAlarmsCommand).resolves({});
    const ctx = context();
    const before = { [`alarm:${names[0]}`]: undefined, [`alarm:${names[1]}`]: undefined, [`alarm:${names[2]}`]: undefined };
    // This run created the api-errors alarm only; the other two someone else made meanwhile.
    const notes = await deploymentAlarmsStep.rollback(ctx, before, new Set([`alarm:${names[0]}`]));
    expect(aws.cloudwatch.commandCalls(DeleteAlarmsCommand).map((c) => c.args[0].input)).toEqual([{ AlarmNames: [names[0]] }]);
    expect(notes.join('\n')).toContain('not created by this run');
    aws.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: described().slice(1) });
    await deploymentAlarmsStep.rollback(ctx, before, new Set([`alarm:${names[0]}`]));
    expect(aws.cloudwatch.commandCalls(DeleteAlarmsCommand)).toHaveLength(1);
  });

  it('validate: OK per alarm, FAIL for a missing one, WARN for one in ALARM now', async () => {
    const alarms = described();
    alarms[1] = { ...alarms[1], StateValue: 'ALARM', StateReason: 'Threshold Crossed' };
    aws.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: alarms.slice(0, 2) });
    const findings = await deploymentAlarmsStep.validate(context());
    expect(findings.map((f) => `${f.status} ${f.resource}`)).toEqual([
      `OK cloudwatch alarm ${names[0]}`,
      `OK cloudwatch alarm ${names[1]}`,
      `FAIL cloudwatch alarm ${names[2]}`,
      `WARN cloudwatch alarm ${names[1]}`,
    ]);
    expect(findings[3].reason).toContain('a deployment started now is rolled back');
  });

  it('without deploy.alarms the step owns nothing and makes no call', async () => {
    const config = testConfig();
    const ctx = testContext({ config: { ...config, deploy: { blockSeverity: 'CRITICAL' } } });
    const plan = await deploymentAlarmsStep.plan(ctx);
    expect(plan.actions).toEqual([]);
    expect(aws.cloudwatch.calls()).toHaveLength(0);
  });
});
