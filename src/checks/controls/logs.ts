// The log groups the tasks write to (runbook 1.4, section 3.3): retention and KMS encryption.
import type { LogGroup } from '@aws-sdk/client-cloudwatch-logs';
import type { ControlReader } from './read.js';
import { notEvaluated, type ControlSpec, type Evaluation } from './types.js';

/** CloudWatch.16's `minRetentionTime` default. */
export const CLOUDWATCH_16_MIN_RETENTION_DAYS = 365;

/** The configured log group and every one the judged revisions' containers write to. */
async function logGroupNames(read: ControlReader): Promise<string[]> {
  const names = new Set([read.config.taskDefinition.logGroup.name]);
  for (const revision of await read.revisions()) {
    for (const c of revision.value.containerDefinitions ?? []) {
      const options = c.logConfiguration?.options ?? {};
      for (const name of [options['awslogs-group'], options.log_group_name]) if (name) names.add(name);
    }
  }
  return [...names];
}

async function onLogGroups(read: ControlReader, judge: (group: LogGroup, base: Pick<Evaluation, 'resource' | 'resourceArn' | 'requestId'>) => Evaluation): Promise<Evaluation[]> {
  return Promise.all(
    (await logGroupNames(read)).map(async (name) => {
      const resource = `log group ${name}`;
      const { value: group, requestId } = await read.logGroup(name);
      if (!group) return notEvaluated(resource, 'the log group does not exist', { requestId });
      return judge(group, { resource, resourceArn: group.logGroupArn ?? group.arn?.replace(/:\*$/, ''), requestId });
    }),
  );
}

export const logsControls: ControlSpec[] = [
  {
    id: 'CloudWatch.16',
    source: 'security-hub',
    title: 'CloudWatch log groups should be retained for a specified time period',
    short: 'Log retention ≥ 365 days',
    severity: 'medium',
    passes: `Fails if the log group's retention is less than minRetentionTime (default ${CLOUDWATCH_16_MIN_RETENTION_DAYS} days); never expire passes.`,
    resourceType: 'AWS::Logs::LogGroup',
    reads: ['logs:DescribeLogGroups retentionInDays'],
    checklist: ['3.3'],
    differs: 'Evaluated on the log groups the tasks write to, not every log group of the account.',
    steps: ['task-definition'],
    evaluate: (read) =>
      onLogGroups(read, (group, base) => {
        const days = group.retentionInDays;
        const observed = { retentionInDays: days ?? null };
        if (days === undefined) return { ...base, status: 'OK', reason: 'never expires', observed };
        return days >= CLOUDWATCH_16_MIN_RETENTION_DAYS
          ? { ...base, status: 'OK', reason: `retention ${days} days`, observed }
          : { ...base, status: 'FAIL', reason: `retention is ${days} day(s), less than ${CLOUDWATCH_16_MIN_RETENTION_DAYS}`, observed };
      }),
  },
  {
    id: 'RB.Logs.1',
    source: 'runbook',
    title: 'The log groups the tasks write to are encrypted with a KMS key',
    short: 'Log groups KMS-encrypted',
    severity: 'high',
    passes: 'Fails if a log group the task definition writes to has no kmsKeyId.',
    resourceType: 'AWS::Logs::LogGroup',
    reads: ['logs:DescribeLogGroups kmsKeyId'],
    checklist: ['3.3'],
    differs: 'Security Hub has no log group encryption control in these standards; section 3.3 requires it.',
    steps: ['task-definition'],
    evaluate: (read) =>
      onLogGroups(read, (group, base) =>
        group.kmsKeyId
          ? { ...base, status: 'OK', reason: `encrypted with ${group.kmsKeyId}`, observed: { kmsKeyId: group.kmsKeyId } }
          : { ...base, status: 'FAIL', reason: 'not encrypted with a KMS key (no kmsKeyId)', observed: { kmsKeyId: null } },
      ),
  },
];
