// Judging an ECS deployment (DESIGN.md §5, §8 rows 10–11). The stock waitUntilServicesStable
// calls a circuit-breaker rollback "stable" (one deployment, running == desired, but the OLD task
// definition), so we judge by the deployment id that we started, its rolloutState and the task
// definition the service runs.
import { DescribeServiceDeploymentsCommand, DescribeServicesCommand, type ECSClient, type Service } from '@aws-sdk/client-ecs';
import { isAwsError } from '../core/errors.js';

export type DeploymentVerdict =
  | { state: 'stable'; reason: string }
  | { state: 'in-progress'; reason: string }
  | { state: 'failed'; reason: string };

/** `arn:…:task-definition/fintech-api-task:7` and `fintech-api-task:7` both become `fintech-api-task:7`. */
export function taskDefinitionRef(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return value.includes('task-definition/') ? value.split('task-definition/')[1] : value;
}

export interface DeploymentExpectation {
  /** The PRIMARY deployment id right after our CreateService/UpdateService. */
  deploymentId?: string;
  /** The task definition (ARN or family:revision) that apply or rollback deployed. */
  taskDefinition?: string;
}

/**
 * A failed verdict says so when a deployment alarm rolled it back: by the alarms ECS reports as
 * triggered (DescribeServiceDeployments), else by the reason ECS gave when it names an alarm.
 */
export function judgeDeployment(service: Service | undefined, expected: DeploymentExpectation = {}, triggeredAlarms: string[] = []): DeploymentVerdict {
  const verdict = judgeWithoutAlarms(service, expected);
  if (verdict.state !== 'failed' || !service) return verdict;
  if (triggeredAlarms.length) return { state: 'failed', reason: `rolled back on alarm ${triggeredAlarms.join(', ')}: ${verdict.reason}` };
  const reason = (service.deployments ?? []).map((d) => d.rolloutStateReason ?? '').find((r) => /alarm/i.test(r));
  if (!reason) return verdict;
  return { state: 'failed', reason: `failed on a deployment alarm: ${verdict.reason}${verdict.reason.includes(reason) ? '' : ` (ECS: ${reason})`}` };
}

/**
 * The alarms ECS reports as triggered in the service's current service deployment, when it was
 * stopped or rolled back. Read-only; [] when ECS reports none, or when the API or the field is
 * not there (moto has neither): the verdict then stands on the deployments' own reasons.
 */
export async function triggeredDeploymentAlarms(ecs: ECSClient, service: Service | undefined): Promise<string[]> {
  const arn = service?.currentServiceDeployment;
  if (!arn) return [];
  try {
    const { serviceDeployments = [] } = await ecs.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] }));
    return [...new Set(serviceDeployments.flatMap((d) => d.alarms?.triggeredAlarmNames ?? []))];
  } catch {
    return []; // e.g. no ecs:DescribeServiceDeployments permission: the verdict is already FAIL
  }
}

function judgeWithoutAlarms(service: Service | undefined, expected: DeploymentExpectation): DeploymentVerdict {
  if (!service || service.status !== 'ACTIVE') {
    return { state: 'failed', reason: `service is ${service?.status ?? 'missing'}` };
  }
  const deployments = service.deployments ?? [];
  const primary = deployments.find((d) => d.status === 'PRIMARY');
  if (!primary) return { state: 'in-progress', reason: 'no PRIMARY deployment yet' };

  const ours = expected.deploymentId ? deployments.find((d) => d.id === expected.deploymentId) : primary;
  const running = taskDefinitionRef(service.taskDefinition);
  const wanted = taskDefinitionRef(expected.taskDefinition);

  if (expected.deploymentId && primary.id !== expected.deploymentId) {
    // Another deployment took over: the circuit breaker's rollback deployment, or someone else's.
    const why = ours?.rolloutStateReason ? ` (${ours.rolloutStateReason})` : '';
    return {
      state: 'failed',
      reason: `deployment ${expected.deploymentId} is no longer PRIMARY${why}: ${primary.id} runs ${taskDefinitionRef(primary.taskDefinition) ?? running} — the circuit breaker rolled back or another deployment replaced it`,
    };
  }
  if (primary.rolloutState === 'FAILED') {
    return { state: 'failed', reason: `deployment ${primary.id} FAILED: ${primary.rolloutStateReason ?? 'no reason given'}` };
  }
  if (wanted && running !== wanted) {
    return { state: 'failed', reason: `service runs ${running}, not ${wanted}: the deployment was rolled back or replaced` };
  }
  const running_ = service.runningCount ?? 0;
  const desired = service.desiredCount ?? 0;
  if (primary.rolloutState === 'IN_PROGRESS' || deployments.length > 1) {
    return {
      state: 'in-progress',
      reason: `deployment ${primary.id} ${primary.rolloutState ?? 'in progress'}: ${deployments.length} deployment(s), ${running_}/${desired} running`,
    };
  }
  if (running_ !== desired) {
    return { state: 'in-progress', reason: `${running_} of ${desired} tasks running` };
  }
  return {
    state: 'stable',
    reason: `ACTIVE, deployment ${primary.id} ${primary.rolloutState ?? 'COMPLETED'}, ${running_}/${desired} running ${running}`,
  };
}

/** The service, or undefined when it (or its cluster) does not exist or was deleted. */
export async function describeService(ecs: ECSClient, cluster: string, service: string): Promise<Service | undefined> {
  try {
    const { services } = await ecs.send(new DescribeServicesCommand({ cluster, services: [service], include: ['TAGS'] }));
    return services?.find((s) => s.status !== 'INACTIVE');
  } catch (error) {
    if (isAwsError(error, 'ClusterNotFoundException')) return undefined;
    throw error;
  }
}

export interface WaitOptions {
  timeoutSeconds: number;
  pollIntervalMs: number;
  signal: AbortSignal;
  /** Called with each new service event message, oldest first. */
  onEvent?: (message: string) => void;
  onProgress?: (reason: string) => void;
  /** How each look reads (pollLooks in src/aws/clients.ts: the first may come from the run's cache). */
  look?: <T>(read: () => Promise<T>) => Promise<T>;
}

/** Poll until the deployment is stable or failed; a timeout is a failure that says what it saw. */
export async function waitForDeployment(
  ecs: ECSClient,
  cluster: string,
  serviceName: string,
  expected: DeploymentExpectation,
  options: WaitOptions,
): Promise<DeploymentVerdict> {
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  const seenEvents = new Set<string>();
  let first = true;
  const look = options.look ?? ((read) => read());
  for (;;) {
    const service = await look(() => describeService(ecs, cluster, serviceName));
    const fresh = (service?.events ?? []).filter((e) => e.id && !seenEvents.has(e.id));
    fresh.forEach((e) => seenEvents.add(e.id!));
    // Events come newest first; on the first poll they are history, not progress.
    if (!first) [...fresh].reverse().forEach((e) => options.onEvent?.(e.message ?? ''));
    first = false;
    const verdict = judgeDeployment(service, expected);
    if (verdict.state === 'failed') return judgeDeployment(service, expected, await triggeredDeploymentAlarms(ecs, service));
    if (verdict.state !== 'in-progress') return verdict;
    options.onProgress?.(verdict.reason);
    if (Date.now() >= deadline) {
      return { state: 'failed', reason: `timed out after ${options.timeoutSeconds}s: ${verdict.reason}` };
    }
    await sleep(options.pollIntervalMs, options.signal);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
