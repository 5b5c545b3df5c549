// `rollback --to <rev>` (runbook 4.3): the service back to an earlier task definition revision,
// in the configured cluster (the runbook's command has no --cluster: DESIGN.md §8 row 9).
// Everything is verified before the one write; it never deregisters a task definition. The caller's
// account is checked first and the environment lock is held from the checks to the end (issue 8).
import { BatchGetImageCommand } from '@aws-sdk/client-ecr';
import { DescribeTaskDefinitionCommand, paginateListTaskDefinitions, type TaskDefinition } from '@aws-sdk/client-ecs';
import { executeActions, type Action } from '../core/actions.js';
import { describeService, taskDefinitionRef } from '../aws/deployment.js';
import { serviceChecks } from '../checks/post-deploy.js';
import { names } from '../config.js';
import { isSecretName } from '../checks/controls/ecs.js';
import { displayValue, valueDisplay, type ValueDisplay } from '../../steps/task-definition.js';
import { ExitCode, InterruptedError, isAwsError, RunbookError, UsageError } from '../core/errors.js';
import { defaultJournalDir, Journal } from '../core/journal.js';
import { callSummary, createContext } from '../core/runner.js';
import type { StepContext } from '../core/step.js';
import { lockTimeoutMs, openRunJournal, withWriteGuard } from './guard.js';
import { lastGood, lastRecord, recordRevision } from './revisions.js';
import { confirm, printJson, renderFindings, requireConfirmationChannel, type Session } from './shared.js';

export interface RollbackFlags {
  to: string;
  yes?: boolean;
  force?: boolean;
  timeout?: string;
  /** Seconds to wait for another run's environment lock (default 0: exit 5 at once). */
  lockTimeout?: string;
  /** Roll back while the change calendar is CLOSED (journaled). */
  emergency?: boolean;
}

/** A refusal before any write: the reason is the whole message. */
export class RollbackRefused extends RunbookError {}

/**
 * `7`, `fintech-api-task:7`, a task definition ARN, `previous` (the next lower ACTIVE revision,
 * good or not) or `last-good` (the newest revision a journaled run left running that passed its
 * section 4.1 checks).
 */
export function parseTarget(to: string, family: string): { revision: number } | { previous: true } | { lastGood: true } {
  if (to === 'previous') return { previous: true };
  if (to === 'last-good') return { lastGood: true };
  const ref = taskDefinitionRef(to.trim()) ?? '';
  const match = /^(?:([A-Za-z0-9_-]+):)?(\d+)$/.exec(ref);
  if (!match) throw new UsageError(`--to: "${to}" is not a revision number, ${family}:<rev>, a task definition ARN, "previous" or "last-good"`);
  if (match[1] && match[1] !== family) {
    throw new UsageError(`--to: ${ref} belongs to family ${match[1]}, not the service's family ${family}`);
  }
  return { revision: Number(match[2]) };
}

async function previousRevision(ctx: StepContext, family: string, current: number): Promise<number> {
  const revisions: number[] = [];
  for await (const page of paginateListTaskDefinitions({ client: ctx.clients.ecs }, { familyPrefix: family, status: 'ACTIVE' })) {
    for (const arn of page.taskDefinitionArns ?? []) {
      const [name, rev] = (taskDefinitionRef(arn) ?? '').split(':');
      if (name === family) revisions.push(Number(rev));
    }
  }
  const earlier = revisions.filter((r) => r < current).sort((a, b) => b - a);
  if (!earlier.length) throw new RollbackRefused(`--to previous: no ACTIVE revision of ${family} older than ${current}`);
  return earlier[0];
}

/** `--to last-good`: the newest good revision in this environment's journal. */
function lastGoodRevision(session: Session): number {
  const dir = defaultJournalDir(session.config);
  const run = lastGood(session.config, dir);
  if (!run) {
    throw new RollbackRefused(
      `--to last-good: the journal (${dir}) records no run that left ${session.config.taskDefinition.family} on a revision whose deployment COMPLETED and passed the section 4.1 checks; name a revision instead`,
    );
  }
  return Number(run.revision.split(':')[1]);
}

/** Says what `previous` / `last-good` resolved to, and what the journal knows of that revision. */
function describeChoice(session: Session, target: { previous: true } | { lastGood: true }, targetRef: string, currentRef: string): string {
  const dir = defaultJournalDir(session.config);
  const record = lastRecord(session.config, dir, targetRef);
  if ('lastGood' in target) {
    return `--to last-good: ${targetRef}, which run ${record?.runId ?? '?'} (${record?.command ?? '?'}) left running and which passed its section 4.1 checks`;
  }
  const verdict = !record
    ? 'the journal has no record of it running'
    : record.good
      ? 'its last recorded run passed its checks'
      : `not known good: its last recorded run ${record.revisionDetail ? `says ${record.revisionDetail}` : 'did not pass its checks'}`;
  const good = lastGood(session.config, dir)?.revision;
  return `--to previous: ${targetRef}, the next lower ACTIVE revision than ${currentRef} (${verdict})${good && good !== targetRef ? `; the last good revision is ${good} (--to last-good)` : ''}`;
}

/** Images of this account's repository must still exist: the lifecycle policy may have expired them. */
async function missingImages(ctx: StepContext, taskDefinition: TaskDefinition): Promise<{ missing: string[]; unverified: string[] }> {
  const registry = `${names.registry(ctx.config)}/`;
  const missing: string[] = [];
  const unverified: string[] = [];
  for (const container of taskDefinition.containerDefinitions ?? []) {
    const image = container.image ?? '';
    if (!image.startsWith(registry)) {
      unverified.push(`${container.name}: ${image}`);
      continue;
    }
    const [repositoryName, reference] = image.slice(registry.length).includes('@')
      ? image.slice(registry.length).split('@')
      : image.slice(registry.length).split(':');
    const imageId = reference?.startsWith('sha256:') ? { imageDigest: reference } : { imageTag: reference ?? 'latest' };
    try {
      const { images = [] } = await ctx.clients.ecr.send(new BatchGetImageCommand({ repositoryName, imageIds: [imageId] }));
      if (!images.length) missing.push(`${container.name}: ${image}`);
    } catch (error) {
      if (!isAwsError(error, 'RepositoryNotFoundException')) throw error;
      missing.push(`${container.name}: ${image} (repository ${repositoryName} does not exist)`);
    }
  }
  return { missing, unverified };
}

/**
 * What changes between the running and the target revision; secret references by name only.
 * Environment values: secret-looking (and configured secret) names by name only, never a value or
 * its hash; others masked unless `taskDefinition.showEnvironmentValues` (README "No secret values").
 */
export function describeDifference(current: TaskDefinition, target: TaskDefinition, display: ValueDisplay = { secretNames: new Set() }): string[] {
  const lines: string[] = [];
  const targetContainers = new Map((target.containerDefinitions ?? []).map((c) => [c.name, c]));
  for (const container of current.containerDefinitions ?? []) {
    const other = targetContainers.get(container.name);
    if (!other) {
      lines.push(`  - container ${container.name} (not in the target revision)`);
      continue;
    }
    if (container.image !== other.image) lines.push(`  ~ ${container.name} image: ${container.image} → ${other.image}`);
    const env = (c: typeof container) => new Map((c.environment ?? []).map((e) => [e.name, e.value]));
    const [from, to] = [env(container), env(other)];
    for (const name of new Set([...from.keys(), ...to.keys()])) {
      if (from.get(name) === to.get(name)) continue;
      const [was, now] = [from.get(name), to.get(name)];
      if (isSecretName(name ?? '') || display.secretNames.has(name ?? '')) {
        lines.push(`  ~ ${container.name} env ${name}: ${was === undefined ? 'set' : now === undefined ? 'unset' : 'changed'} (secret-looking: value not shown)`);
      } else {
        lines.push(`  ~ ${container.name} env ${name}: ${displayValue(name, was, display) ?? '(unset)'} → ${displayValue(name, now, display) ?? '(unset)'}`);
      }
    }
    const secrets = (c: typeof container) => (c.secrets ?? []).map((s) => s.name).sort().join(',');
    if (secrets(container) !== secrets(other)) lines.push(`  ~ ${container.name} secrets: [${secrets(container)}] → [${secrets(other)}]`);
  }
  for (const name of targetContainers.keys()) {
    if (!(current.containerDefinitions ?? []).some((c) => c.name === name)) lines.push(`  + container ${name}`);
  }
  if (current.cpu !== target.cpu || current.memory !== target.memory) {
    lines.push(`  ~ cpu/memory: ${current.cpu}/${current.memory} → ${target.cpu}/${target.memory}`);
  }
  return lines.length ? lines : ['  (same containers, images and environment)'];
}

async function describeRevision(ctx: StepContext, ref: string): Promise<TaskDefinition | undefined> {
  try {
    return (await ctx.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: ref }))).taskDefinition;
  } catch (error) {
    if (isAwsError(error, 'ClientException', 'InvalidParameterException')) return undefined;
    throw error;
  }
}

export async function rollbackCommand(session: Session, flags: RollbackFlags): Promise<number> {
  const ctx = createContext(session.runner);
  const out = session.human;
  const { family } = session.config.taskDefinition;
  const cluster = session.config.cluster.name;
  const serviceName = session.config.service.name;
  const timeoutSeconds = flags.timeout === undefined ? session.config.service.deployTimeoutSeconds : Number(flags.timeout);
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) throw new UsageError(`--timeout: "${flags.timeout}" is not a whole number of seconds`);
  const target = parseTarget(flags.to, family);
  requireConfirmationChannel(flags.yes);
  const waitForLockMs = lockTimeoutMs(flags.lockTimeout);

  // The caller's account first (exit 2, no write), then the environment lock from the checks below
  // to the end of the wait: nobody else deploys between what was verified and the one write.
  const runId = Journal.newRunId('rollback');
  return withWriteGuard(session, { runId, command: `rollback --to ${flags.to}`, lockTimeoutMs: waitForLockMs, emergency: flags.emergency }, async (identity, guard) => {
    // 1. Verify everything, read-only.
    const service = await describeService(ctx.clients.ecs, cluster, serviceName);
    if (!service) throw new RollbackRefused(`service ${serviceName} does not exist in cluster ${cluster}`);
    const currentRef = taskDefinitionRef(service.taskDefinition) ?? '';
    const currentRevision = Number(currentRef.split(':')[1]);
    const revision =
      'previous' in target ? await previousRevision(ctx, family, currentRevision) : 'lastGood' in target ? lastGoodRevision(session) : target.revision;
    const targetRef = `${family}:${revision}`;
    const choice = 'revision' in target ? undefined : describeChoice(session, target, targetRef, currentRef);
    if (choice) out.write(`${choice}\n`);
    const targetDefinition = await describeRevision(ctx, targetRef);
    if (!targetDefinition) throw new RollbackRefused(`task definition ${targetRef} does not exist`);
    if (targetDefinition.status !== 'ACTIVE') throw new RollbackRefused(`task definition ${targetRef} is ${targetDefinition.status} (deregistered): ECS cannot deploy it`);
    if (targetDefinition.family !== family) throw new RollbackRefused(`task definition ${targetRef} is of family ${targetDefinition.family}, not ${family}`);
    const images = await missingImages(ctx, targetDefinition);
    if (images.missing.length) {
      throw new RollbackRefused(`task definition ${targetRef} uses images that are no longer in ECR (expired by the lifecycle policy or deleted): ${images.missing.join('; ')}`);
    }
    if (currentRef === targetRef) {
      out.write(`Service ${serviceName} already runs ${targetRef}: nothing to roll back.\n`);
      if (session.options.json) printJson({ command: 'rollback', ok: true, changed: false, taskDefinition: targetRef });
      return ExitCode.ok;
    }
    const inFlight = (service.deployments ?? []).length > 1 || service.deployments?.some((d) => d.status === 'PRIMARY' && d.rolloutState === 'IN_PROGRESS');
    if (inFlight && !flags.force) {
      throw new RollbackRefused(`a deployment is in flight on ${serviceName} (${service.deployments?.length} deployments): wait for it, or pass --force to roll back over it`);
    }

    // 2. Show what changes, and confirm.
    const currentDefinition = await describeRevision(ctx, service.taskDefinition!);
    out.write(`Roll back ${cluster}/${serviceName}: ${currentRef} → ${targetRef}\n`);
    if (currentDefinition) out.write(`${describeDifference(currentDefinition, targetDefinition, valueDisplay(session.config)).join('\n')}\n`);
    if (images.unverified.length) out.write(`  (images outside this account's ECR not verified: ${images.unverified.join('; ')})\n`);
    if (!(await confirm(`Deploy ${targetRef} to ${cluster}/${serviceName}?`, flags.yes, session.clients))) {
      out.write('Not rolled back.\n');
      return ExitCode.ok;
    }

    // 3. The one write, journaled, then wait for that deployment by its id.
    const journal = openRunJournal(session, identity, guard, { runId, command: `rollback --to ${targetRef}`, steps: ['service'] });
    journal.signal = ctx.signal; // a Ctrl-C during the checks above means no UpdateService
    try {
      // The same executor as apply: the journal names the operation from the command itself.
      const update: Action = {
        step: 'service',
        resourceId: 'service',
        resource: names.serviceResource(session.config),
        kind: 'update',
        service: 'ecs',
        operation: 'UpdateService',
        input: { cluster, service: serviceName, taskDefinition: targetDefinition.taskDefinitionArn },
        // ECS lists the new (PRIMARY) deployment first.
        binds: { deploymentId: 'service.deployments.0.id' },
      };
      await executeActions([update], { clients: ctx.clients, recorder: journal, bindings: ctx.bindings });
      const deploymentId = ctx.bindings.get('service.deploymentId');
      out.write(`Deployment ${deploymentId ?? '(unknown id)'} started; waiting up to ${timeoutSeconds}s.\n`);
      ctx.report = (message) => out.write(`  … ${message}\n`);
      const findings = await serviceChecks(ctx, true, { deploymentId, taskDefinition: targetDefinition.taskDefinitionArn }, timeoutSeconds);
      const failed = findings.find((f) => f.status === 'FAIL');
      const ok = !failed;
      journal.append({ type: 'run-end', at: new Date().toISOString(), outcome: ok ? 'ok' : 'failed', detail: (failed ?? findings[0]).reason });
      await recordRevision(journal, ctx, ok, findings, targetRef);
      if (session.options.json) {
        printJson({ command: 'rollback', ok, changed: true, from: currentRef, to: targetRef, ...(choice ? { note: choice } : {}), deploymentId, findings, journal: journal.file, calls: callSummary(session.clients) });
      }
      out.write(`${renderFindings(findings).join('\n')}\n`);
      out.write(ok ? `Rolled back to ${targetRef}.\n` : `Rollback to ${targetRef} did not complete: ${failed?.reason}\n`);
      return ok ? ExitCode.ok : ExitCode.failed;
    } catch (error) {
      journal.append({ type: 'run-end', at: new Date().toISOString(), outcome: ctx.signal.aborted ? 'interrupted' : 'failed', detail: String(error) });
      throw ctx.signal.aborted && !(error instanceof RunbookError) ? new InterruptedError() : error;
    } finally {
      journal.close();
    }
  });
}
