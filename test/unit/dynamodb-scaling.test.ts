import {
  DeleteScalingPolicyCommand,
  DeregisterScalableTargetCommand,
  PutScalingPolicyCommand,
  RegisterScalableTargetCommand,
  type TargetTrackingScalingPolicyConfiguration,
} from '@aws-sdk/client-application-auto-scaling';
import { DescribeTableCommand, type TableDescription } from '@aws-sdk/client-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { dynamodbScalingStep } from '../../steps/dynamodb-scaling.js';
import { describeAwsError, PreflightError } from '../../src/core/errors.js';
import { autoscalingFixtures } from '../helpers/autoscaling.js';
import { awsError, mockAws, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

const RESOURCE_ID = 'table/FinTechTransactions';
const DIMENSION = 'dynamodb:table:WriteCapacityUnits';
const POLICY = `scaling policy dynamodb-write-scaling on ${RESOURCE_ID}`;
const where = { ServiceNamespace: 'dynamodb', ResourceId: RESOURCE_ID, ScalableDimension: DIMENSION } as const;
const policyConfig: TargetTrackingScalingPolicyConfiguration = { TargetValue: 70, PredefinedMetricSpecification: { PredefinedMetricType: 'DynamoDBWriteCapacityUtilization' } };

const table = (billingMode?: 'PROVISIONED' | 'PAY_PER_REQUEST'): TableDescription => ({
  TableName: 'FinTechTransactions',
  TableStatus: 'ACTIVE',
  ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 },
  ...(billingMode ? { BillingModeSummary: { BillingMode: billingMode } } : {}),
});

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});

const { target, policy: namedPolicy, observed, observedThen, acceptWrites, beforeOf, inputs, registerInput, putInput } = autoscalingFixtures(() => aws, {
  where,
  serviceLinkedRole: 'DynamoDBTable',
});
const policy = (config: TargetTrackingScalingPolicyConfiguration) => namedPolicy('dynamodb-write-scaling', config);

describe('dynamodb-scaling step (2.3)', () => {
  it('checks the table, then registers 5–100 WCU and the 70 % write utilisation policy; apply sends exactly plan.actions', async () => {
    aws.dynamodb.on(DescribeTableCommand).resolves({ Table: table('PROVISIONED') });
    observed([], []);
    acceptWrites();
    const ctx = testContext();
    const plan = await dynamodbScalingStep.plan(ctx);
    expect(aws.dynamodb.commandCalls(DescribeTableCommand)[0].args[0].input).toEqual({ TableName: 'FinTechTransactions' });
    expect(await dynamodbScalingStep.apply(ctx, plan)).toEqual({ resourceId: RESOURCE_ID });
    expect(writeCalls(aws)).toEqual(['autoscaling:RegisterScalableTarget', 'autoscaling:PutScalingPolicy']);
    expect(writeCalls(aws)).toEqual(plan.actions.map((a) => `${a.service}:${a.operation}`));
    expect(inputs(RegisterScalableTargetCommand)).toEqual([registerInput(5, 100)]);
    expect(inputs(PutScalingPolicyCommand)).toEqual([putInput('dynamodb-write-scaling', policyConfig)]);
  });

  it('treats a table without BillingModeSummary as PROVISIONED and writes nothing when in sync', async () => {
    aws.dynamodb.on(DescribeTableCommand).resolves({ Table: table() });
    observed([target(5, 100)], [policy(policyConfig)]);
    const ctx = testContext();
    const plan = await dynamodbScalingStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    await dynamodbScalingStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual([]);
  });

  it('re-puts only a policy whose target value drifted', async () => {
    aws.dynamodb.on(DescribeTableCommand).resolves({ Table: table('PROVISIONED') });
    observed([target(5, 100)], [policy({ ...policyConfig, TargetValue: 50 })]);
    acceptWrites();
    const ctx = testContext();
    const plan = await dynamodbScalingStep.plan(ctx);
    expect(plan.changes).toEqual([
      { resource: POLICY, action: 'update', fields: [{ field: 'TargetTrackingScalingPolicyConfiguration.TargetValue', from: 50, to: 70 }] },
    ]);
    await dynamodbScalingStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['autoscaling:PutScalingPolicy']);
    expect(inputs(PutScalingPolicyCommand)).toEqual([putInput('dynamodb-write-scaling', policyConfig)]);
  });

  it('deletes a second policy on the write dimension that the config does not name; the read dimension is another target', async () => {
    aws.dynamodb.on(DescribeTableCommand).resolves({ Table: table('PROVISIONED') });
    observed(
      [target(5, 100)],
      [
        policy(policyConfig),
        namedPolicy('manual-write-policy', { ...policyConfig, TargetValue: 90 }),
        namedPolicy('read-policy', policyConfig, { ScalableDimension: 'dynamodb:table:ReadCapacityUnits' }),
      ],
    );
    acceptWrites();
    const ctx = testContext();
    const plan = await dynamodbScalingStep.plan(ctx);
    expect(plan.changes.map((c) => [c.resource, c.fields?.map((f) => f.field)])).toEqual([[`scalable target ${RESOURCE_ID} (${DIMENSION})`, ['UnconfiguredPolicies']]]);
    await dynamodbScalingStep.apply(ctx, plan);
    expect(inputs(DeleteScalingPolicyCommand)).toEqual([{ PolicyName: 'manual-write-policy', ...where }]);
  });

  describe('precondition: the DynamoDB table', () => {
    it('an on-demand table is a PreflightError with zero writes and no Application Auto Scaling call', async () => {
      aws.dynamodb.on(DescribeTableCommand).resolves({ Table: table('PAY_PER_REQUEST') });
      const error = await dynamodbScalingStep.plan(testContext()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PreflightError);
      expect((error as Error).message).toContain('FinTechTransactions is on-demand (PAY_PER_REQUEST): auto scaling has no effect on on-demand tables');
      expect(aws.autoscaling.calls()).toHaveLength(0);
      expect(writeCalls(aws)).toEqual([]);
    });

    it('a missing table is a PreflightError naming it', async () => {
      aws.dynamodb.on(DescribeTableCommand).rejects(awsError('ResourceNotFoundException', 'Requested resource not found: Table: FinTechTransactions not found'));
      const error = await dynamodbScalingStep.plan(testContext()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PreflightError);
      expect((error as PreflightError).problems).toEqual([
        'DynamoDB table FinTechTransactions does not exist (inputs.dynamodbTableName): create it before section 2.3',
      ]);
      expect(aws.autoscaling.calls()).toHaveLength(0);
    });

    it('any other DynamoDB error is surfaced as the AWS error, with its name and request id', async () => {
      aws.dynamodb.on(DescribeTableCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform dynamodb:DescribeTable', 'req-ddb-4'));
      const error = await dynamodbScalingStep.plan(testContext()).catch((e: unknown) => e);
      expect(describeAwsError(error)).toBe('AccessDeniedException: not authorized to perform dynamodb:DescribeTable — request id req-ddb-4');
    });

    it('preflight and validate report the same problem without throwing', async () => {
      aws.dynamodb.on(DescribeTableCommand).resolves({ Table: table('PAY_PER_REQUEST') });
      const ctx = testContext();
      expect(await dynamodbScalingStep.preflight!(ctx)).toHaveLength(1);
      const findings = await dynamodbScalingStep.validate(ctx);
      expect(findings.map((f) => [f.check, f.status, f.resource])).toEqual([['Scaling Input', 'FAIL', 'dynamodb table FinTechTransactions']]);
    });

    it('validate says OK for a provisioned table', async () => {
      aws.dynamodb.on(DescribeTableCommand).resolves({ Table: table('PROVISIONED') });
      expect(await dynamodbScalingStep.validate(testContext())).toEqual([
        { check: 'Scaling Input', status: 'OK', resource: 'dynamodb table FinTechTransactions', reason: 'exists, PROVISIONED' },
      ]);
    });
  });

  it('rollback of a pre-existing target restores the old policy and range, never deregisters, and is safe twice', async () => {
    const oldConfig: TargetTrackingScalingPolicyConfiguration = { ...policyConfig, TargetValue: 50 };
    const before = await beforeOf(dynamodbScalingStep, [target(5, 50)], [policy(oldConfig)]);
    observedThen([[target(5, 100)], [policy(policyConfig)]], [[target(5, 50)], [policy(oldConfig)]]);
    acceptWrites();
    const ctx = testContext();
    // Everything counts as created by this run here: a resource in `before` is converged, never removed.
    const created = new Set(['scalable-target', 'policy:dynamodb-write-scaling']);
    await dynamodbScalingStep.rollback(ctx, before, created);
    expect(writeCalls(aws)).toEqual(['autoscaling:PutScalingPolicy', 'autoscaling:RegisterScalableTarget']);
    expect(inputs(PutScalingPolicyCommand)).toEqual([putInput('dynamodb-write-scaling', oldConfig)]);
    expect(inputs(RegisterScalableTargetCommand)).toEqual([registerInput(5, 50)]);
    await dynamodbScalingStep.rollback(ctx, before, created);
    expect(writeCalls(aws)).toHaveLength(2);
    expect(aws.autoscaling.commandCalls(DeregisterScalableTargetCommand)).toHaveLength(0);
    expect(aws.dynamodb.calls()).toHaveLength(0);
  });

  it('surfaces a RegisterScalableTarget error with its name and request id', async () => {
    aws.dynamodb.on(DescribeTableCommand).resolves({ Table: table('PROVISIONED') });
    observed([], []);
    aws.autoscaling.on(RegisterScalableTargetCommand).rejects(awsError('ConcurrentUpdateException', 'concurrent update', 'req-aas-8'));
    const ctx = testContext();
    const error = await dynamodbScalingStep.apply(ctx, await dynamodbScalingStep.plan(ctx)).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('ConcurrentUpdateException: concurrent update — request id req-aas-8');
    expect(aws.autoscaling.commandCalls(PutScalingPolicyCommand)).toHaveLength(0);
  });

  describe('Scaling Ready (4.1)', () => {
    it('passes with the target at 5–100 and the policy in place', async () => {
      observed([target(5, 100)], [policy(policyConfig)]);
      const findings = await dynamodbScalingStep.postDeployChecks!(testContext());
      expect(findings.map((f) => f.status)).toEqual(['OK', 'OK']);
    });

    it('fails when nothing is registered, naming the target and the policy', async () => {
      observed([], []);
      const findings = await dynamodbScalingStep.postDeployChecks!(testContext());
      expect(findings).toEqual([
        {
          check: 'Scaling Ready',
          status: 'FAIL',
          resource: `scalable target ${RESOURCE_ID} (${DIMENSION})`,
          reason: 'scalable target is not registered (want min 5 max 100)',
        },
        {
          check: 'Scaling Ready',
          status: 'FAIL',
          resource: POLICY,
          reason: 'scaling policy dynamodb-write-scaling (DynamoDBWriteCapacityUtilization target 70) is missing',
        },
      ]);
    });
  });
});
