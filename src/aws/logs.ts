// Log group lookup shared by the task-definition step and the security checklist.
import { DescribeLogGroupsCommand, type CloudWatchLogsClient, type LogGroup } from '@aws-sdk/client-cloudwatch-logs';

/** The log group with exactly this name. DescribeLogGroups searches by prefix, and pages. */
export async function findLogGroup(logs: CloudWatchLogsClient, name: string): Promise<LogGroup | undefined> {
  let nextToken: string | undefined;
  do {
    const page = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name, nextToken }));
    // A prefix search: /ecs/fintech-api also finds /ecs/fintech-api-old.
    const found = page.logGroups?.find((g) => g.logGroupName === name);
    if (found) return found;
    nextToken = page.nextToken;
  } while (nextToken);
  return undefined;
}
