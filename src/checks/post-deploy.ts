// Runbook section 4.1, post-deployment validation: Service Stable, Tasks Healthy, Logs Flowing.
// ("Scaling Ready" lives with the scaling steps.) After apply they wait for the service to settle;
// under `validate` they judge what is there now.
import { DescribeLogStreamsCommand, paginateFilterLogEvents } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTargetGroupsCommand, DescribeTargetHealthCommand, type TargetHealthDescription } from '@aws-sdk/client-elastic-load-balancing-v2';
import { describeService, judgeDeployment, sleep, triggeredDeploymentAlarms, waitForDeployment, type DeploymentExpectation } from '../aws/deployment.js';
import { pollLooks } from '../aws/clients.js';
import { names } from '../config.js';
import { isAwsError } from '../core/errors.js';
import { fail, ok, skip, type Finding, type StepContext } from '../core/step.js';

export const CHECK = {
  serviceStable: 'Service Stable',
  tasksHealthy: 'Tasks Healthy',
  scalingReady: 'Scaling Ready',
  logsFlowing: 'Logs Flowing',
} as const;

const serviceResource = (ctx: StepContext) => names.serviceResource(ctx.config);

export async function serviceStable(
  ctx: StepContext,
  wait: boolean,
  expected: DeploymentExpectation = {},
  timeoutSeconds = ctx.config.service.deployTimeoutSeconds,
): Promise<Finding> {
  const { cluster, service } = { cluster: ctx.config.cluster.name, service: ctx.config.service.name };
  const verdict = wait
    ? await waitForDeployment(ctx.clients.ecs, cluster, service, expected, {
        timeoutSeconds,
        pollIntervalMs: ctx.pollIntervalMs,
        signal: ctx.signal,
        onEvent: (message) => ctx.report(`service event: ${message}`),
        onProgress: (reason) => ctx.report(`waiting for deployment: ${reason}`),
        look: pollLooks(ctx.clients),
      })
    : await judgeNow(ctx, cluster, service, expected);
  return verdict.state === 'stable'
    ? ok(CHECK.serviceStable, serviceResource(ctx), verdict.reason)
    : fail(CHECK.serviceStable, serviceResource(ctx), verdict.reason);
}

/** The deployment as it is now; a failed one names the deployment alarms that fired, if any. */
async function judgeNow(ctx: StepContext, cluster: string, serviceName: string, expected: DeploymentExpectation) {
  const service = await describeService(ctx.clients.ecs, cluster, serviceName);
  const verdict = judgeDeployment(service, expected);
  return verdict.state === 'failed' ? judgeDeployment(service, expected, await triggeredDeploymentAlarms(ctx.clients.ecs, service)) : verdict;
}

/**
 * The service's 4.1 checks, as apply (after the service step), validate and rollback run them.
 * Targets and logs only make sense once the deployment has settled.
 */
export async function serviceChecks(
  ctx: StepContext,
  wait: boolean,
  expected: DeploymentExpectation = {},
  timeoutSeconds?: number,
): Promise<Finding[]> {
  const stable = await serviceStable(ctx, wait, expected, timeoutSeconds);
  if (stable.status === 'FAIL') return [stable];
  // Targets and logs are independent of each other: judged (and waited for) side by side.
  return [stable, ...(await Promise.all([tasksHealthy(ctx, wait), logsFlowing(ctx, wait)]))];
}

export async function findTargetGroupArn(ctx: StepContext): Promise<string | undefined> {
  const known = ctx.outputs.find('load-balancer')?.targetGroupArn;
  if (known) return known;
  try {
    const { TargetGroups } = await ctx.clients.elbv2.send(
      new DescribeTargetGroupsCommand({ Names: [ctx.config.loadBalancer.targetGroup.name] }),
    );
    return TargetGroups?.[0]?.TargetGroupArn;
  } catch (error) {
    if (isAwsError(error, 'TargetGroupNotFoundException', 'TargetGroupNotFound')) return undefined;
    throw error;
  }
}

function describeTargets(targets: TargetHealthDescription[]): string {
  return targets
    .filter((t) => t.TargetHealth?.State !== 'healthy')
    .map((t) => `${t.Target?.Id}:${t.Target?.Port} ${t.TargetHealth?.State}${t.TargetHealth?.Reason ? ` (${t.TargetHealth.Reason})` : ''}`)
    .join(', ');
}

/** All registered targets healthy, and at least as many as the service runs. */
export async function tasksHealthy(ctx: StepContext, wait: boolean): Promise<Finding> {
  const targetGroupArn = await findTargetGroupArn(ctx);
  const resource = `target group ${ctx.config.loadBalancer.targetGroup.name}`;
  if (!targetGroupArn) return fail(CHECK.tasksHealthy, resource, 'target group does not exist');
  const deadline = Date.now() + ctx.config.service.healthyTargetsTimeoutSeconds * 1000;
  const look = pollLooks(ctx.clients);
  for (;;) {
    const [service, { TargetHealthDescriptions: targets = [] }] = await look(() =>
      Promise.all([
        describeService(ctx.clients.ecs, ctx.config.cluster.name, ctx.config.service.name),
        ctx.clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn })),
      ]),
    );
    const healthy = targets.filter((t) => t.TargetHealth?.State === 'healthy').length;
    const running = service?.runningCount ?? 0;
    let problem: string | undefined;
    if (targets.length === 0) problem = 'no targets registered';
    else if (healthy < targets.length) problem = `${healthy}/${targets.length} healthy; not healthy: ${describeTargets(targets)}`;
    else if (healthy < running) problem = `${healthy} healthy targets for ${running} running tasks`;
    if (!problem) return ok(CHECK.tasksHealthy, resource, `${healthy}/${targets.length} targets healthy`);
    if (!wait || Date.now() >= deadline) {
      return fail(CHECK.tasksHealthy, resource, wait ? `timed out after ${ctx.config.service.healthyTargetsTimeoutSeconds}s: ${problem}` : problem);
    }
    ctx.report(`waiting for healthy targets: ${problem}`);
    await sleep(ctx.pollIntervalMs, ctx.signal);
  }
}

/** Streams under the app prefix with events since the current deployment started. */
export async function logsFlowing(ctx: StepContext, wait: boolean): Promise<Finding> {
  const logGroupName = ctx.config.taskDefinition.logGroup.name;
  const prefix = ctx.config.taskDefinition.api.logStreamPrefix;
  const resource = `log group ${logGroupName} (streams ${prefix}*)`;
  const service = await describeService(ctx.clients.ecs, ctx.config.cluster.name, ctx.config.service.name);
  const primary = service?.deployments?.find((d) => d.status === 'PRIMARY');
  if (!primary?.createdAt) return skip(CHECK.logsFlowing, resource, 'no deployment to compare against (service missing)');
  const since = primary.createdAt.getTime();
  const deadline = Date.now() + ctx.config.service.healthyTargetsTimeoutSeconds * 1000;
  const look = pollLooks(ctx.clients);
  for (;;) {
    let problem: string;
    try {
      // The streams and the events since the deployment, asked side by side.
      const [logStreams, event] = await look(() =>
        Promise.all([
          ctx.clients.logs.send(new DescribeLogStreamsCommand({ logGroupName, logStreamNamePrefix: prefix, limit: 50 })).then((r) => r.logStreams ?? []),
          firstEventSince(ctx, logGroupName, prefix, since),
        ]),
      );
      if (logStreams.length === 0) {
        problem = `no log streams under prefix "${prefix}"`;
      } else if (event) {
        return ok(CHECK.logsFlowing, resource, `events since deployment ${primary.id} started (${primary.createdAt.toISOString()})`);
      } else {
        problem = `${logStreams.length} stream(s) but no events since deployment ${primary.id} started (${primary.createdAt.toISOString()})`;
      }
    } catch (error) {
      if (!isAwsError(error, 'ResourceNotFoundException')) throw error;
      problem = 'log group does not exist';
    }
    if (!wait || Date.now() >= deadline) return fail(CHECK.logsFlowing, resource, problem);
    ctx.report(`waiting for startup logs: ${problem}`);
    await sleep(ctx.pollIntervalMs, ctx.signal);
  }
}

/** One event of the app's streams since `since`, if there is one. */
async function firstEventSince(ctx: StepContext, logGroupName: string, prefix: string, since: number): Promise<unknown> {
  // FilterLogEvents may return an empty page with a nextToken while the search goes on.
  const pages = paginateFilterLogEvents(
    { client: ctx.clients.logs },
    {
      logGroupName,
      // The prefix, not the names DescribeLogStreams listed: that lists at most 50 streams in name
      // order, and once the group holds more, the current tasks' streams (named by random task
      // id) are usually not among them.
      logStreamNamePrefix: prefix,
      startTime: since,
      limit: 1,
    },
  );
  for await (const page of pages) if (page.events?.length) return page.events[0];
  return undefined;
}
