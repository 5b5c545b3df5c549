// Runbook section 4.2, "Failure Scenarios & Troubleshooting", as evidence: what a person would
// look up by hand during an incident (stopped tasks, the circuit breaker, the last log lines, the
// scalable target, scaling activities, free IPs in the app subnets), each judged OK / PROBLEM /
// SKIP and ending with the runbook's fix. Read-only: only Describe/List/Get calls.
import {
  DescribeScalableTargetsCommand,
  DescribeScalingActivitiesCommand,
  type ScalableTarget,
  type ScalingActivity,
} from '@aws-sdk/client-application-auto-scaling';
import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import { DescribeTasksCommand, ListTasksCommand, type Deployment, type Service, type Task } from '@aws-sdk/client-ecs';
import { describeService, taskDefinitionRef } from './aws/deployment.js';
import { names, type RunbookConfig } from './config.js';
import { describeAwsError, isAwsError } from './core/errors.js';
import type { StepContext } from './core/step.js';

export type Scenario = 'task-crash-loop' | 'scale-out-failure';
export type DiagnosisStatus = 'OK' | 'PROBLEM' | 'SKIP';

export interface Diagnosis {
  scenario: Scenario;
  status: DiagnosisStatus;
  resource: string;
  /** What was looked at, one fact a line; for a PROBLEM, what is wrong comes first. */
  evidence: string[];
  /** The runbook's fix for this scenario (with this config's names). */
  fix: string;
}

/** Runbook section numbers, for the command's output. */
export const SCENARIO_SECTIONS: Record<Scenario, { section: string; title: string }> = {
  'task-crash-loop': { section: '4.2.1', title: 'Task crash loop' },
  'scale-out-failure': { section: '4.2.2', title: 'Scale-out failure' },
};

/** The newest stopped tasks looked at; ECS keeps stopped tasks for about an hour. */
const MAX_STOPPED_TASKS = 10;
/** Log lookups cost a call each: the newest crashed tasks only. */
const MAX_TASKS_WITH_LOGS = 3;
const LOG_LINES = 5;
const MAX_ACTIVITIES = 10;
/** Service events older than this are history, not the incident (same window as stopped tasks). */
const RECENT_MS = 60 * 60 * 1000;
const DIMENSION = 'ecs:service:DesiredCount';

// Stop codes that say "someone or something stopped a healthy task": scale-in, a deployment
// replacing it, Spot reclaiming it (the service runs on FARGATE_SPOT), AWS maintenance.
const BENIGN_STOP_CODES = new Set(['ServiceSchedulerInitiated', 'UserInitiated', 'SpotInterruption', 'TerminationNotice', 'InfrastructureHealth']);
const CRASH_STOP_CODES = new Set(['EssentialContainerExited', 'TaskFailedToStart']);
// The scheduler stops tasks that fail health checks with ServiceSchedulerInitiated: the reason tells.
const CRASH_REASON =
  /Essential container in task exited|failed (ELB|container) health checks|CannotPullContainer|CannotStartContainer|ResourceInitializationError|OutOfMemory/i;
// A task that could not get an ENI/IP is a scale-out (subnet) problem, not a crash of the code.
const NETWORK_REASON = /\bENI\b|network interface|IP address|free address|subnet/i;
const BREAKER_EVENT = /circuit breaker|rolling back|deployment failed|unable to consistently start tasks/i;

const fixes = {
  crashLoop: (config: RunbookConfig) =>
    `Check the logs (aws logs get-log-events --log-group-name ${config.taskDefinition.logGroup.name} --log-stream-name <stream>) and fix the code or config; ` +
    `the circuit breaker rolls back a failing deployment when enabled (never the first deployment). ` +
    `After the fix: fintech-runbook apply (or aws ecs update-service --cluster ${config.cluster.name} --service ${config.service.name} --force-new-deployment)`,
  maxCapacity: (config: RunbookConfig) =>
    `Raise MaxCapacity: scaling.ecs.maxCapacity in the config (now ${config.scaling.ecs.maxCapacity}), then fintech-runbook apply`,
  subnets: (config: RunbookConfig) =>
    `Check subnet CIDR usage (aws ec2 describe-subnets --subnet-ids ${config.inputs.appSubnetIds.join(' ')}): ` +
    `free IPs (release unused ENIs), or add subnets / move to larger CIDRs (inputs.appSubnetIds, then fintech-runbook apply)`,
};

export async function diagnose(ctx: StepContext): Promise<Diagnosis[]> {
  const { config } = ctx;
  const serviceRead = describeService(ctx.clients.ecs, config.cluster.name, config.service.name);
  serviceRead.catch(() => {}); // each scenario awaits it and reports its own failure
  const crash = await guarded('task-crash-loop', serviceResource(config), fixes.crashLoop(config), async () =>
    diagnoseCrashLoop(ctx, await serviceRead),
  );
  const networkFailures = 'networkFailures' in crash ? crash.networkFailures : [];
  const scaleOut = await diagnoseScaleOut(ctx, serviceRead, networkFailures);
  return [crash.diagnosis, ...scaleOut];
}

const serviceResource = names.serviceResource;

/**
 * An error reading one scenario's evidence must not hide the others during an incident: it becomes
 * a SKIP that says what could not be read.
 */
async function guarded<T extends { diagnosis: Diagnosis }>(
  scenario: Scenario,
  resource: string,
  fix: string,
  run: () => Promise<T>,
): Promise<T | { diagnosis: Diagnosis }> {
  try {
    return await run();
  } catch (error) {
    return { diagnosis: { scenario, status: 'SKIP', resource, evidence: [`could not check: ${unreadable(error)}`], fix } };
  }
}

function unreadable(error: unknown): string {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  // A 5xx whose body is no AWS error document: moto answers an operation it does not implement so.
  if (error instanceof Error && error.name === 'SyntaxError' && status && status >= 500) {
    return `the endpoint answered HTTP ${status} without an AWS error document (an emulator that does not implement this call?)`;
  }
  return oneLine(describeAwsError(error));
}

function oneLine(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

const iso = (date: Date | undefined) => (date ? date.toISOString() : 'unknown time');
const taskId = (arn: string | undefined) => arn?.split('/').pop() ?? '?';

// ---------------------------------------------------------------------------------------------
// 4.2.1 Task crash loop

type TaskKind = 'crash' | 'network' | 'benign';

function classifyTask(task: Task): TaskKind {
  const reason = task.stoppedReason ?? '';
  if (task.stopCode === 'TaskFailedToStart' && NETWORK_REASON.test(reason)) return 'network';
  if (CRASH_STOP_CODES.has(task.stopCode ?? '') || CRASH_REASON.test(reason)) return 'crash';
  // A non-zero exit without a stop code that explains it (moto and older tasks report none).
  const failedExit = (task.containers ?? []).some((c) => c.exitCode !== undefined && c.exitCode !== 0);
  return failedExit && !BENIGN_STOP_CODES.has(task.stopCode ?? '') ? 'crash' : 'benign';
}

function describeTask(task: Task): string {
  const containers = (task.containers ?? [])
    .map((c) => `${c.name} exit ${c.exitCode ?? 'none'}${c.reason ? ` (${oneLine(c.reason, 200)})` : ''}`)
    .join(', ');
  const stop = [task.stopCode, task.stoppedReason && oneLine(task.stoppedReason, 200)].filter(Boolean).join(': ');
  return `stopped task ${taskId(task.taskArn)} (${taskDefinitionRef(task.taskDefinitionArn) ?? 'unknown revision'}) at ${iso(task.stoppedAt)}: ${stop || 'no stop reason'}; containers: ${containers || 'none reported'}`;
}

/** The newest stopped tasks of the service, newest first. */
async function stoppedTasks(ctx: StepContext): Promise<Task[]> {
  const cluster = ctx.config.cluster.name;
  const { taskArns = [] } = await ctx.clients.ecs.send(
    new ListTasksCommand({ cluster, serviceName: ctx.config.service.name, desiredStatus: 'STOPPED', maxResults: 100 }),
  );
  if (taskArns.length === 0) return []; // DescribeTasks rejects an empty list
  const { tasks = [] } = await ctx.clients.ecs.send(new DescribeTasksCommand({ cluster, tasks: taskArns.slice(0, 100) }));
  // moto ignores ListTasks' serviceName: keep only this service's tasks when the group says so.
  const group = `service:${ctx.config.service.name}`;
  const time = (t: Task) => (t.stoppedAt ?? t.createdAt)?.getTime() ?? 0;
  return tasks
    .filter((t) => !t.group || t.group === group)
    .sort((a, b) => time(b) - time(a))
    .slice(0, MAX_STOPPED_TASKS);
}

/**
 * FireLens names the api container's stream `<log_stream_prefix><container>-firelens-<task id>`
 * (the cloudwatch output appends its tag to the prefix). The `/`-separated form is what a prefix
 * ending in a slash, and the local emulator's task simulator, produce.
 */
function streamCandidates(config: RunbookConfig, id: string): string[] {
  const prefix = config.taskDefinition.api.logStreamPrefix;
  const tag = `${config.taskDefinition.api.name}-firelens-${id}`;
  return [...new Set([`${prefix}${tag}`, `${prefix.replace(/\/$/, '')}/${tag}`])];
}

async function lastLogLines(ctx: StepContext, task: Task): Promise<string[]> {
  const id = taskId(task.taskArn);
  const logGroupName = ctx.config.taskDefinition.logGroup.name;
  const candidates = streamCandidates(ctx.config, id);
  for (const logStreamName of candidates) {
    try {
      const { events = [] } = await ctx.clients.logs.send(
        new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: false, limit: LOG_LINES }),
      );
      if (events.length === 0) return [`task ${id} log ${logStreamName}: no events`];
      return events.slice(-LOG_LINES).map((e) => `task ${id} log ${logStreamName}: ${oneLine(e.message ?? '')}`);
    } catch (error) {
      if (isAwsError(error, 'ResourceNotFoundException')) continue;
      return [`task ${id}: could not read logs: ${oneLine(describeAwsError(error))}`];
    }
  }
  return [`task ${id}: no log stream in ${logGroupName} (looked for ${candidates.join(', ')}): did the log router start?`];
}

function circuitBreakerEvidence(service: Service): { problems: string[]; notes: string[] } {
  const problems: string[] = [];
  const notes: string[] = [];
  const breaker = service.deploymentConfiguration?.deploymentCircuitBreaker;
  notes.push(
    breaker
      ? `circuit breaker: ${breaker.enable ? 'enabled' : 'DISABLED'}, rollback ${breaker.rollback ? 'on' : 'OFF'}`
      : 'circuit breaker: not reported on the service (no automatic rollback)',
  );
  const deployments = service.deployments ?? [];
  const primary = deployments.find((d) => d.status === 'PRIMARY');
  const describe = (d: Deployment) =>
    `deployment ${d.id} ${d.status} (${taskDefinitionRef(d.taskDefinition) ?? '?'}): ${d.rolloutState ?? 'no rollout state'}, ` +
    `${d.runningCount ?? 0}/${d.desiredCount ?? 0} running, ${d.failedTasks ?? 0} failed task(s)` +
    (d.rolloutStateReason ? ` — ${oneLine(d.rolloutStateReason, 200)}` : '');
  for (const d of deployments) {
    const failing = d.rolloutState === 'FAILED' || (d.rolloutState === 'IN_PROGRESS' && (d.failedTasks ?? 0) > 0);
    (failing ? problems : notes).push(describe(d));
    if (d.rolloutState !== 'FAILED') continue;
    if (primary && primary.id !== d.id) {
      problems.push(`rolled back: PRIMARY deployment ${primary.id} runs ${taskDefinitionRef(primary.taskDefinition) ?? '?'}, not ${taskDefinitionRef(d.taskDefinition) ?? '?'}`);
    } else if (breaker?.enable && breaker.rollback) {
      problems.push(`no rollback: deployment ${d.id} has no earlier COMPLETED deployment to return to (a first deployment cannot roll back)`);
    } else {
      problems.push(`no rollback: the circuit breaker's rollback is off, the failed deployment stays PRIMARY`);
    }
  }
  if (deployments.length === 0) notes.push('no deployments reported');
  return { problems, notes };
}

function recentEvents(service: Service | undefined, pattern: RegExp, now: number): string[] {
  return (service?.events ?? [])
    .filter((e) => pattern.test(e.message ?? '') && (!e.createdAt || now - e.createdAt.getTime() <= RECENT_MS))
    .slice(0, 3) // newest first, as ECS returns them
    .map((e) => `service event ${iso(e.createdAt)}: ${oneLine(e.message ?? '', 300)}`);
}

async function diagnoseCrashLoop(ctx: StepContext, service: Service | undefined): Promise<{ diagnosis: Diagnosis; networkFailures: string[] }> {
  const { config } = ctx;
  const base = { scenario: 'task-crash-loop' as const, resource: serviceResource(config), fix: fixes.crashLoop(config) };
  if (!service) {
    return { diagnosis: { ...base, status: 'SKIP', evidence: [`service not found in cluster ${config.cluster.name}: nothing runs yet (fintech-runbook apply)`] }, networkFailures: [] };
  }
  const tasks = await stoppedTasks(ctx);
  const kinds = tasks.map((task) => ({ task, kind: classifyTask(task) }));
  const crashed = kinds.filter((k) => k.kind === 'crash').map((k) => k.task);
  const networkFailures = kinds.filter((k) => k.kind === 'network').map((k) => describeTask(k.task));
  const benign = kinds.filter((k) => k.kind === 'benign').map((k) => k.task);
  const breaker = circuitBreakerEvidence(service);
  const events = recentEvents(service, BREAKER_EVENT, Date.now());

  if (crashed.length === 0 && breaker.problems.length === 0 && events.length === 0) {
    const summary =
      tasks.length === 0
        ? 'no stopped tasks'
        : `${tasks.length} stopped task(s), none crashed${networkFailures.length ? ` (${networkFailures.length} could not get a network interface: see scale-out-failure)` : ''}`;
    return {
      diagnosis: { ...base, status: 'OK', evidence: [summary, ...benign.map(describeTask), ...breaker.notes] },
      networkFailures,
    };
  }

  const logs: string[] = [];
  for (const task of crashed.slice(0, MAX_TASKS_WITH_LOGS)) logs.push(...(await lastLogLines(ctx, task)));
  const evidence = [
    crashed.length
      ? `${crashed.length} of the ${tasks.length} newest stopped task(s) crashed`
      : 'the deployment is failing (no crashed task is still listed: ECS keeps stopped tasks about an hour)',
    ...crashed.map(describeTask),
    ...breaker.problems,
    ...events,
    ...logs,
    ...breaker.notes,
  ];
  return { diagnosis: { ...base, status: 'PROBLEM', evidence }, networkFailures };
}

// ---------------------------------------------------------------------------------------------
// 4.2.2 Scale-out failure: max capacity, failed scaling activities, subnet IP exhaustion

async function diagnoseScaleOut(ctx: StepContext, serviceRead: Promise<Service | undefined>, networkFailures: string[]): Promise<Diagnosis[]> {
  const { config } = ctx;
  const resourceId = names.ecsResourceId(config);
  const targetResource = `scalable target ${resourceId} (${DIMENSION})`;
  const scenario = 'scale-out-failure' as const;

  const capacity = await guarded(scenario, targetResource, fixes.maxCapacity(config), async () => {
    const { ScalableTargets = [] } = await ctx.clients.autoscaling.send(
      new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: [resourceId], ScalableDimension: DIMENSION }),
    );
    const target = ScalableTargets.find((t) => t.ResourceId === resourceId && t.ScalableDimension === DIMENSION);
    return { diagnosis: capacityDiagnosis(config, targetResource, target, await serviceRead), target };
  });
  const target = 'target' in capacity ? capacity.target : undefined;
  const results = [capacity.diagnosis];

  if (target) {
    const activities = await guarded(scenario, `scaling activities of ${resourceId}`, fixes.maxCapacity(config), async () => ({
      diagnosis: await activitiesDiagnosis(ctx, resourceId, target),
    }));
    results.push(activities.diagnosis);
  }

  const subnets = await guarded(scenario, `app subnets ${config.inputs.appSubnetIds.join(', ')}`, fixes.subnets(config), async () => ({
    diagnosis: await subnetDiagnosis(ctx, target, await serviceRead, networkFailures),
  }));
  results.push(subnets.diagnosis);
  return results;
}

function capacityDiagnosis(config: RunbookConfig, resource: string, target: ScalableTarget | undefined, service: Service | undefined): Diagnosis {
  const base = { scenario: 'scale-out-failure' as const, resource, fix: fixes.maxCapacity(config) };
  if (!target) {
    return { ...base, status: 'SKIP', evidence: ['scalable target is not registered: section 2.1 (ecs-scaling) is not applied, so the service does not scale'] };
  }
  if (!service) return { ...base, status: 'SKIP', evidence: [`service not found in cluster ${config.cluster.name}`] };
  const desired = service.desiredCount ?? 0;
  const max = target.MaxCapacity ?? 0;
  const facts = [`desiredCount ${desired}, running ${service.runningCount ?? 0}, MinCapacity ${target.MinCapacity}, MaxCapacity ${max}`];
  if (max !== config.scaling.ecs.maxCapacity) facts.push(`the config says maxCapacity ${config.scaling.ecs.maxCapacity}: fintech-runbook apply brings the target in line`);
  const problems: string[] = [];
  if (desired >= max) problems.push(`at max capacity: desiredCount ${desired} >= MaxCapacity ${max}, scale-out cannot add tasks`);
  // A suspended scale-out looks exactly like a cap from the outside.
  if (target.SuspendedState?.DynamicScalingOutSuspended) {
    problems.push('dynamic scale-out is SUSPENDED on the target (register-scalable-target --suspended-state DynamicScalingOutSuspended=false resumes it)');
  }
  return problems.length ? { ...base, status: 'PROBLEM', evidence: [...problems, ...facts] } : { ...base, status: 'OK', evidence: facts };
}

function describeActivity(a: ScalingActivity): string {
  const notScaled = (a.NotScaledReasons ?? [])
    .map((r) => `${r.Code}${r.MaxCapacity !== undefined ? ` (max ${r.MaxCapacity}, current ${r.CurrentCapacity ?? '?'})` : ''}`)
    .join(', ');
  return [
    `activity ${iso(a.StartTime)} ${a.StatusCode}: ${oneLine(a.Description ?? '', 200)}`,
    a.Cause && `cause: ${oneLine(a.Cause, 200)}`,
    a.StatusMessage && `status: ${oneLine(a.StatusMessage, 300)}`,
    notScaled && `not scaled: ${notScaled}`,
  ]
    .filter(Boolean)
    .join('; ');
}

async function activitiesDiagnosis(ctx: StepContext, resourceId: string, target: ScalableTarget): Promise<Diagnosis> {
  const { config } = ctx;
  const base = { scenario: 'scale-out-failure' as const, resource: `scaling activities of ${resourceId}` };
  const { ScalingActivities = [] } = await ctx.clients.autoscaling.send(
    new DescribeScalingActivitiesCommand({
      ServiceNamespace: 'ecs',
      ResourceId: resourceId,
      ScalableDimension: DIMENSION,
      MaxResults: MAX_ACTIVITIES,
      // "Not scaled" activities are where AlreadyAtMaxCapacity shows up.
      IncludeNotScaledActivities: true,
    }),
  );
  const failed = ScalingActivities.filter((a) => a.StatusCode === 'Failed' || a.StatusCode === 'Unfulfilled');
  const atMax = ScalingActivities.filter((a) => a.NotScaledReasons?.some((r) => r.Code === 'AlreadyAtMaxCapacity') && !failed.includes(a));
  if (failed.length === 0 && atMax.length === 0) {
    return {
      ...base,
      status: 'OK',
      evidence: [
        ScalingActivities.length
          ? `no failed activity in the newest ${ScalingActivities.length}; newest: ${describeActivity(ScalingActivities[0])}`
          : `no scaling activity yet (MaxCapacity ${target.MaxCapacity})`,
      ],
      fix: fixes.maxCapacity(config),
    };
  }
  const text = [...failed, ...atMax].map((a) => `${a.Cause ?? ''} ${a.StatusMessage ?? ''} ${(a.NotScaledReasons ?? []).map((r) => r.Code).join(' ')}`).join(' ');
  // The cause names what to fix: capacity, the network, or (unclear) both of the runbook's fixes.
  const network = NETWORK_REASON.test(text);
  const capacity = /max(imum)?\s*capacity|AlreadyAtMaxCapacity/i.test(text);
  const fix = network && !capacity ? fixes.subnets(config) : capacity && !network ? fixes.maxCapacity(config) : `${fixes.maxCapacity(config)}; or: ${fixes.subnets(config)}`;
  return {
    ...base,
    status: 'PROBLEM',
    evidence: [
      `${failed.length} failed/unfulfilled and ${atMax.length} at-max-capacity activit(ies) among the newest ${ScalingActivities.length}`,
      ...[...failed, ...atMax].map(describeActivity),
    ],
    fix,
  };
}

async function subnetDiagnosis(ctx: StepContext, target: ScalableTarget | undefined, service: Service | undefined, networkFailures: string[]): Promise<Diagnosis> {
  const { config } = ctx;
  const ids = config.inputs.appSubnetIds;
  const base = { scenario: 'scale-out-failure' as const, resource: `app subnets ${ids.join(', ')}`, fix: fixes.subnets(config) };
  const { Subnets = [] } = await ctx.clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: ids }));
  const max = target?.MaxCapacity ?? config.scaling.ecs.maxCapacity;
  const running = service?.runningCount ?? 0;
  // Every Fargate (awsvpc) task takes one ENI, so one IP, in one of the subnets; ECS spreads the
  // tasks over the subnets' AZs, so each subnet needs its share, not just the total.
  const needed = Math.max(0, max - running);
  const share = Math.ceil(needed / ids.length);
  const free = Subnets.reduce((sum, s) => sum + (s.AvailableIpAddressCount ?? 0), 0);
  const source = target ? 'MaxCapacity' : 'scaling.ecs.maxCapacity (no scalable target registered)';
  const problems: string[] = [];
  const facts = [`${source} ${max} − ${running} running = ${needed} more task(s), one IP each: ${share} per subnet over ${ids.length} subnets; ${free} free in total`];
  for (const id of ids) {
    const subnet = Subnets.find((s) => s.SubnetId === id);
    if (!subnet) {
      problems.push(`subnet ${id} was not returned by DescribeSubnets`);
      continue;
    }
    const available = subnet.AvailableIpAddressCount ?? 0;
    const line = `subnet ${id} (${subnet.AvailabilityZone ?? '?'}, ${subnet.CidrBlock ?? '?'}): ${available} free IPs, needs ${share}`;
    if (available < share) problems.push(`${line}: too few free IPs for its share of ${max} tasks`);
    else facts.push(line);
  }
  if (free < needed) problems.unshift(`${free} free IPs in the app subnets, ${needed} needed to reach ${source} ${max}`);
  const placement = [...networkFailures, ...recentEvents(service, NETWORK_REASON, Date.now())];
  if (placement.length) problems.push(...placement.map((p) => `network failure: ${p}`));
  return problems.length ? { ...base, status: 'PROBLEM', evidence: [...problems, ...facts] } : { ...base, status: 'OK', evidence: facts };
}
