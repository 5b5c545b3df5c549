// Security Hub's ECS controls on what the runbook creates: the cluster (1.1), the task definition
// (1.4) and the service (1.6); and section 3.2 as this runbook reads it (RB.ECS.1).
// Task-definition controls judge, like AWS, the family's latest ACTIVE revision, and also the
// revision the service runs when that is another one (what actually runs).
import type { ContainerDefinition, Service, TaskDefinition } from '@aws-sdk/client-ecs';
import { names, SECRET_LOOKING_NAME } from '../../config.js';
import type { ControlReader, RevisionRead } from './read.js';
import { notEvaluated, type ControlSpec, type Evaluation } from './types.js';

const serviceName = (read: ControlReader) => names.serviceResource(read.config);

async function onService(read: ControlReader, judge: (service: Service, requestId?: string) => Evaluation[]): Promise<Evaluation[]> {
  const { value: service, requestId } = await read.service();
  if (!service) return [notEvaluated(serviceName(read), 'the service does not exist', { requestId })];
  return judge(service, requestId);
}

const revisionLabel = (r: RevisionRead) => {
  const td = r.value;
  const why = r.roles.length === 2 ? 'the service runs it; the latest ACTIVE' : r.roles[0] === 'service' ? 'the service runs it' : 'the latest ACTIVE';
  return `task definition ${td.family}:${td.revision} (${why})`;
};

const isWindows = (td: TaskDefinition) => /^WINDOWS/.test(td.runtimePlatform?.operatingSystemFamily ?? '');

/** One result per judged revision; none at all cannot be evaluated. */
async function onRevisions(read: ControlReader, judge: (td: TaskDefinition, base: Pick<Evaluation, 'resource' | 'resourceArn' | 'requestId'>) => Evaluation): Promise<Evaluation[]> {
  const revisions = await read.revisions();
  if (!revisions.length) return [notEvaluated(`task definition ${read.config.taskDefinition.family}`, 'the family has no ACTIVE revision')];
  return revisions.map((r) => judge(r.value, { resource: revisionLabel(r), resourceArn: r.value.taskDefinitionArn, requestId: r.requestId }));
}

/** A per-container rule: FAIL naming every container that breaks it, OK otherwise. */
function perContainer(
  td: TaskDefinition,
  base: Pick<Evaluation, 'resource' | 'resourceArn' | 'requestId'>,
  field: (c: ContainerDefinition) => unknown,
  broken: (c: ContainerDefinition) => string | undefined,
  okReason: string,
): Evaluation {
  const containers = td.containerDefinitions ?? [];
  const observed = Object.fromEntries(containers.map((c) => [c.name ?? '?', field(c) ?? null]));
  const problems = containers.flatMap((c) => {
    const why = broken(c);
    return why ? [`container ${c.name}: ${why}`] : [];
  });
  return problems.length ? { ...base, status: 'FAIL', reason: problems.join('; '), observed } : { ...base, status: 'OK', reason: okReason, observed };
}

/** AWS's fixed `secretKeys` parameter of ECS.8. */
export const ECS8_SECRET_KEYS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'ECS_ENGINE_AUTH_DATA'];

/** Section 3.2's names: secret-looking ones and ECS.8's (AWS_ACCESS_KEY_ID is a credential too). */
export const isSecretName = (name: string) => SECRET_LOOKING_NAME.test(name) || ECS8_SECRET_KEYS.includes(name);

/** The latest Linux Fargate platform version (ECS.10's `latestLinuxVersion`, not customizable). */
export const LATEST_LINUX_PLATFORM = '1.4.0';

const semver = (v: string) => v.split('.').map(Number);
const atLeast = (v: string, min: string) => {
  const [a, b] = [semver(v), semver(min)];
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
};

/** ECS.20: AWS names "root" and "0" as Linux's default root users. */
function rootUser(user: string | undefined): string | undefined {
  if (!user) return 'no user set (the image decides; root unless it says otherwise)';
  const [name] = user.split(':');
  if (name === 'root' || name === '0') return `user "${user}" is root`;
  return undefined;
}

export const ecsControls: ControlSpec[] = [
  {
    id: 'ECS.2',
    source: 'security-hub',
    title: 'ECS services should not have public IP addresses assigned to them automatically',
    short: 'No public IP on the service',
    severity: 'high',
    passes: 'Fails if AssignPublicIP is ENABLED; passes if AssignPublicIP is DISABLED.',
    resourceType: 'AWS::ECS::Service',
    reads: ['ecs:DescribeServices networkConfiguration.awsvpcConfiguration.assignPublicIp'],
    checklist: ['3.1'],
    steps: ['service'],
    evaluate: (read) =>
      onService(read, (service, requestId) => {
        const base = { resource: serviceName(read), resourceArn: service.serviceArn, requestId };
        const vpc = service.networkConfiguration?.awsvpcConfiguration;
        if (!vpc) return [{ ...base, status: 'SKIP', reason: 'no awsvpc network configuration: no public IP can be assigned (not applicable)' }];
        const assign = vpc.assignPublicIp ?? 'DISABLED'; // AWS's default
        return [
          assign === 'ENABLED'
            ? { ...base, status: 'FAIL', reason: 'assignPublicIp is ENABLED: tasks get public IPs', observed: { assignPublicIp: assign } }
            : { ...base, status: 'OK', reason: 'assignPublicIp DISABLED', observed: { assignPublicIp: assign } },
        ];
      }),
  },
  {
    id: 'ECS.3',
    source: 'security-hub',
    title: "ECS task definitions should not share the host's process namespace",
    short: "Not the host's PID namespace",
    severity: 'high',
    passes: "Fails if the task definition shares the host's process namespace (pidMode host); evaluates the latest active revision.",
    resourceType: 'AWS::ECS::TaskDefinition',
    reads: ['ecs:DescribeTaskDefinition pidMode'],
    checklist: [],
    steps: ['task-definition'],
    evaluate: (read) =>
      onRevisions(read, (td, base) =>
        td.pidMode === 'host'
          ? { ...base, status: 'FAIL', reason: "pidMode is host: containers see the host's processes", observed: { pidMode: td.pidMode } }
          : { ...base, status: 'OK', reason: `pidMode ${td.pidMode ?? 'not set (task)'}`, observed: { pidMode: td.pidMode ?? null } },
      ),
  },
  {
    id: 'ECS.4',
    source: 'security-hub',
    title: 'ECS containers should run as non-privileged',
    short: 'Containers not privileged',
    severity: 'high',
    passes: 'Fails if the privileged parameter of a container definition is true; evaluates the latest active revision.',
    resourceType: 'AWS::ECS::TaskDefinition',
    reads: ['ecs:DescribeTaskDefinition containerDefinitions[].privileged'],
    checklist: [],
    steps: ['task-definition'],
    // Fargate refuses privileged containers at RegisterTaskDefinition; moto accepts them (the e2e plants one).
    evaluate: (read) =>
      onRevisions(read, (td, base) => perContainer(td, base, (c) => c.privileged, (c) => (c.privileged ? 'privileged is true' : undefined), 'no container is privileged')),
  },
  {
    id: 'ECS.5',
    source: 'security-hub',
    title: 'ECS task definitions should configure containers to be limited to read-only access to root filesystems',
    short: 'Read-only root filesystem',
    severity: 'high',
    passes:
      'Fails if readonlyRootFilesystem in a container definition is false or absent; evaluates the latest active revision. Windows task definitions are not applicable.',
    resourceType: 'AWS::ECS::TaskDefinition',
    reads: ['ecs:DescribeTaskDefinition containerDefinitions[].readonlyRootFilesystem'],
    checklist: [],
    steps: ['task-definition'],
    evaluate: (read) =>
      onRevisions(read, (td, base) =>
        isWindows(td)
          ? { ...base, status: 'SKIP', reason: 'Windows containers do not support readonlyRootFilesystem (not applicable)' }
          : perContainer(
              td,
              base,
              (c) => c.readonlyRootFilesystem,
              (c) => (c.readonlyRootFilesystem === true ? undefined : `readonlyRootFilesystem is ${c.readonlyRootFilesystem ?? 'not set'}`),
              'every container has a read-only root filesystem',
            ),
      ),
  },
  {
    id: 'ECS.8',
    source: 'security-hub',
    title: 'Secrets should not be passed as container environment variables',
    short: 'No AWS credentials in environment',
    severity: 'high',
    passes: `Fails if an environment variable of any container definition is named ${ECS8_SECRET_KEYS.join(', ')} (secretKeys, not customizable); evaluates the latest active revision.`,
    resourceType: 'AWS::ECS::TaskDefinition',
    reads: ['ecs:DescribeTaskDefinition containerDefinitions[].environment[].name'],
    checklist: ['3.2'],
    differs: "AWS's three names only, as AWS defines it; section 3.2's wider rule (any secret-looking or configured secret name) is RB.ECS.1.",
    steps: ['task-definition'],
    evaluate: (read) =>
      onRevisions(read, (td, base) =>
        perContainer(
          td,
          base,
          // Names only: a value is never evidence.
          (c) => (c.environment ?? []).map((e) => e.name),
          (c) => {
            const found = (c.environment ?? []).map((e) => e.name ?? '').filter((n) => ECS8_SECRET_KEYS.includes(n));
            return found.length ? `${found.join(', ')} in environment` : undefined;
          },
          `no ${ECS8_SECRET_KEYS.join(', ')} in any container environment`,
        ),
      ),
  },
  {
    id: 'RB.ECS.1',
    source: 'runbook',
    title: 'Secrets reach containers only through secrets (Secrets Manager), never cleartext environment',
    short: 'Secrets only via Secrets Manager',
    severity: 'high',
    passes: `Fails if any container's environment holds a secret-looking name (${SECRET_LOOKING_NAME.source}), one of ECS.8's names, or a name the config takes from Secrets Manager.`,
    resourceType: 'AWS::ECS::TaskDefinition',
    reads: ['ecs:DescribeTaskDefinition containerDefinitions[].environment[].name'],
    checklist: ['3.2'],
    steps: ['task-definition'],
    evaluate: (read) =>
      onRevisions(read, (td, base) => {
        const configured = new Set(Object.keys(read.config.taskDefinition.api.secrets));
        return perContainer(
          td,
          base,
          (c) => (c.environment ?? []).map((e) => e.name),
          (c) => {
            const found = (c.environment ?? []).map((e) => e.name ?? '').filter((n) => isSecretName(n) || configured.has(n));
            return found.length ? `${found.join(', ')} in cleartext environment (move to secrets)` : undefined;
          },
          'no secret-looking variable in any container environment',
        );
      }),
  },
  {
    id: 'ECS.9',
    source: 'security-hub',
    title: 'ECS task definitions should have a logging configuration',
    short: 'Every container logs',
    severity: 'high',
    passes: 'Fails if the latest active task definition has no logConfiguration, or its logDriver is null, in at least one container definition.',
    resourceType: 'AWS::ECS::TaskDefinition',
    reads: ['ecs:DescribeTaskDefinition containerDefinitions[].logConfiguration.logDriver'],
    checklist: [],
    steps: ['task-definition'],
    evaluate: (read) =>
      onRevisions(read, (td, base) =>
        perContainer(
          td,
          base,
          (c) => c.logConfiguration?.logDriver,
          (c) => (c.logConfiguration?.logDriver ? undefined : 'no logConfiguration'),
          'every container has a log configuration',
        ),
      ),
  },
  {
    id: 'ECS.10',
    source: 'security-hub',
    title: 'ECS Fargate services should run on the latest Fargate platform version',
    short: 'Latest Fargate platform',
    severity: 'medium',
    passes: `Fails if the platform version is not the latest (latestLinuxVersion ${LATEST_LINUX_PLATFORM}, not customizable); LATEST passes.`,
    resourceType: 'AWS::ECS::Service',
    reads: ['ecs:DescribeServices platformVersion, launchType, capacityProviderStrategy'],
    checklist: [],
    steps: ['service'],
    evaluate: (read) =>
      onService(read, (service, requestId) => {
        const base = { resource: serviceName(read), resourceArn: service.serviceArn, requestId };
        const strategy = service.capacityProviderStrategy ?? [];
        const fargate = strategy.length ? strategy.some((s) => s.capacityProvider?.startsWith('FARGATE')) : service.launchType === 'FARGATE';
        if (!fargate) return [{ ...base, status: 'SKIP', reason: 'not a Fargate service (not applicable)' }];
        // Omitted, ECS runs LATEST (and moto does not report what it was not sent).
        const version = service.platformVersion ?? 'LATEST';
        const observed = { platformVersion: version };
        return [
          version === 'LATEST' || (/^\d+\.\d+\.\d+$/.test(version) && atLeast(version, LATEST_LINUX_PLATFORM))
            ? { ...base, status: 'OK', reason: `platformVersion ${version}`, observed }
            : { ...base, status: 'FAIL', reason: `platformVersion ${version} is not the latest (${LATEST_LINUX_PLATFORM}, or LATEST)`, observed },
        ];
      }),
  },
  {
    id: 'ECS.12',
    source: 'security-hub',
    title: 'ECS clusters should use Container Insights',
    short: 'Container Insights on',
    severity: 'medium',
    passes: 'Fails if Container Insights are not set up for the cluster.',
    resourceType: 'AWS::ECS::Cluster',
    reads: ['ecs:DescribeClusters settings[containerInsights]'],
    checklist: [],
    steps: ['cluster'],
    evaluate: async (read) => {
      const { value: cluster, requestId } = await read.cluster();
      const resource = `ecs cluster ${read.config.cluster.name}`;
      if (!cluster) return [notEvaluated(resource, 'the cluster does not exist', { requestId })];
      const insights = cluster.settings?.find((s) => s.name === 'containerInsights')?.value ?? 'disabled';
      const base = { resource, resourceArn: cluster.clusterArn, requestId, observed: { containerInsights: insights } };
      return [
        insights === 'enabled' || insights === 'enhanced'
          ? { ...base, status: 'OK', reason: `containerInsights ${insights}` }
          : { ...base, status: 'FAIL', reason: `containerInsights is ${insights}` },
      ];
    },
  },
  {
    id: 'ECS.16',
    source: 'security-hub',
    title: 'ECS task sets should not automatically assign public IP addresses',
    short: 'No public IP on task sets',
    severity: 'high',
    passes: 'Fails if a task set has AssignPublicIP set to ENABLED.',
    resourceType: 'AWS::ECS::TaskSet',
    reads: ['ecs:DescribeServices taskSets[].networkConfiguration.awsvpcConfiguration.assignPublicIp'],
    checklist: ['3.1'],
    steps: ['service'],
    evaluate: (read) =>
      onService(read, (service, requestId) => {
        const sets = service.taskSets ?? [];
        if (!sets.length) {
          return [
            {
              resource: serviceName(read),
              resourceArn: service.serviceArn,
              requestId,
              status: 'SKIP',
              reason: `no task sets (deployment controller ${service.deploymentController?.type ?? 'ECS'}): not applicable`,
            },
          ];
        }
        return sets.map((set) => {
          const assign = set.networkConfiguration?.awsvpcConfiguration?.assignPublicIp ?? 'DISABLED';
          const base = { resource: `task set ${set.id} of ${serviceName(read)}`, resourceArn: set.taskSetArn, requestId, observed: { assignPublicIp: assign } };
          return assign === 'ENABLED' ? { ...base, status: 'FAIL' as const, reason: 'assignPublicIp is ENABLED' } : { ...base, status: 'OK' as const, reason: 'assignPublicIp DISABLED' };
        });
      }),
  },
  {
    id: 'ECS.17',
    source: 'security-hub',
    title: 'ECS task definitions should not use host network mode',
    short: 'Not host network mode',
    severity: 'medium',
    passes: 'Fails if the latest active revision of the task definition uses host network mode.',
    resourceType: 'AWS::ECS::TaskDefinition',
    reads: ['ecs:DescribeTaskDefinition networkMode'],
    checklist: [],
    steps: ['task-definition'],
    evaluate: (read) =>
      onRevisions(read, (td, base) =>
        td.networkMode === 'host'
          ? { ...base, status: 'FAIL', reason: 'networkMode is host', observed: { networkMode: td.networkMode } }
          : { ...base, status: 'OK', reason: `networkMode ${td.networkMode ?? 'bridge (default)'}`, observed: { networkMode: td.networkMode ?? null } },
      ),
  },
  {
    id: 'ECS.20',
    source: 'security-hub',
    title: 'ECS Task Definitions should configure non-root users in Linux container definitions',
    short: 'Non-root user',
    severity: 'medium',
    passes:
      'Fails if any container definition of the latest active revision has no user, or the default root user ("root" or "0"); only Linux task definitions are evaluated.',
    resourceType: 'AWS::ECS::TaskDefinition',
    reads: ['ecs:DescribeTaskDefinition containerDefinitions[].user'],
    checklist: [],
    differs: 'Also FAILs "root:<group>" and "0:<gid>": the process runs as uid 0 whatever the group (AWS names only "root" and "0").',
    steps: ['task-definition'],
    evaluate: (read) =>
      onRevisions(read, (td, base) =>
        isWindows(td)
          ? { ...base, status: 'SKIP', reason: 'Windows task definition (ECS.21 covers it; not applicable)' }
          : perContainer(td, base, (c) => c.user, (c) => rootUser(c.user), 'every container runs as a non-root user'),
      ),
  },
];
