// Log group lookup shared by the task-definition step and the security checklist.
import { paginateDescribeLogGroups, type CloudWatchLogsClient, type LogGroup } from '@aws-sdk/client-cloudwatch-logs';

/** The log group with exactly this name. DescribeLogGroups searches by prefix, and pages. */
export async function findLogGroup(logs: CloudWatchLogsClient, name: string): Promise<LogGroup | undefined> {
  for await (const page of paginateDescribeLogGroups({ client: logs }, { logGroupNamePrefix: name })) {
    // A prefix search: /ecs/fintech-api also finds /ecs/fintech-api-old.
    const found = page.logGroups?.find((g) => g.logGroupName === name);
    if (found) return found;
  }
  return undefined;
}
