// Runbook 2.3: DynamoDB write capacity auto scaling — 5–100 WCU, target tracking at 70 % utilisation.
import { DescribeTableCommand, type TableDescription } from '@aws-sdk/client-dynamodb';
import { isAwsError } from '../src/core/errors.js';
import type { Step, StepContext } from '../src/core/step.js';
import { policySpec, targetTrackingStep, type InputState } from './shared/target-tracking.js';

/**
 * The table is an input the runbook assumes. Application Auto Scaling (and moto) accepts a target
 * for any table name, and on an on-demand table the policy would be registered yet do nothing.
 */
async function dynamodbTable(ctx: StepContext): Promise<InputState> {
  const name = ctx.config.inputs.dynamodbTableName;
  const resource = `dynamodb table ${name}`;
  let table: TableDescription | undefined;
  try {
    ({ Table: table } = await ctx.clients.dynamodb.send(new DescribeTableCommand({ TableName: name })));
  } catch (error) {
    if (!isAwsError(error, 'ResourceNotFoundException')) throw error;
  }
  if (!table) {
    return { resource, summary: '', problems: [`DynamoDB table ${name} does not exist (inputs.dynamodbTableName): create it before section 2.3`] };
  }
  // No BillingModeSummary means the table has always been PROVISIONED.
  const billingMode = table.BillingModeSummary?.BillingMode ?? 'PROVISIONED';
  const problems =
    billingMode === 'PAY_PER_REQUEST'
      ? [`DynamoDB table ${name} is on-demand (PAY_PER_REQUEST): auto scaling has no effect on on-demand tables; switch it to PROVISIONED or leave section 2.3 out`]
      : [];
  return { resource, problems, summary: `exists, ${billingMode}` };
}

export const dynamodbScalingStep: Step<'dynamodb-scaling'> = targetTrackingStep({
  id: 'dynamodb-scaling',
  section: '2.3',
  title: 'DynamoDB write capacity auto scaling',
  input: dynamodbTable,
  target: (config) => ({
    serviceNamespace: 'dynamodb',
    scalableDimension: 'dynamodb:table:WriteCapacityUnits',
    resourceId: `table/${config.inputs.dynamodbTableName}`,
    minCapacity: config.scaling.dynamodb.minCapacity,
    maxCapacity: config.scaling.dynamodb.maxCapacity,
    policies: [policySpec(config.scaling.dynamodb.policy, 'DynamoDBWriteCapacityUtilization')],
  }),
});
