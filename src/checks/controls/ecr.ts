// The repository (runbook 1.2): scanning, tag immutability (3.5), a lifecycle policy, and no
// repository policy that opens it to everyone.
import type { ControlReader } from './read.js';
import { notEvaluated, type ControlSpec, type Evaluation } from './types.js';

const label = (read: ControlReader) => `ecr repository ${read.config.ecr.repositoryName}`;

async function onRepository(read: ControlReader, judge: (base: Pick<Evaluation, 'resource' | 'resourceArn' | 'requestId'>, repo: NonNullable<Awaited<ReturnType<ControlReader['repository']>>['value']>) => Promise<Evaluation[]> | Evaluation[]) {
  const { value: repo, requestId } = await read.repository();
  if (!repo) return [notEvaluated(label(read), 'the repository does not exist', { requestId })];
  return judge({ resource: label(read), resourceArn: repo.repositoryArn, requestId }, repo);
}

/** Principal "*" (or {"AWS": "*"}) in an Allow statement: anyone, any account. */
function everyone(principal: unknown): boolean {
  if (principal === '*') return true;
  if (principal && typeof principal === 'object') {
    return Object.values(principal as Record<string, unknown>).some((v) => v === '*' || (Array.isArray(v) && v.includes('*')));
  }
  return false;
}

export const ecrControls: ControlSpec[] = [
  {
    id: 'ECR.1',
    source: 'security-hub',
    title: 'ECR private repositories should have image scanning configured',
    short: 'Image scanning configured',
    severity: 'high',
    passes: 'Fails if the private repository is not configured for scan on push or continuous scanning.',
    resourceType: 'AWS::ECR::Repository',
    reads: ['ecr:DescribeRepositories imageScanningConfiguration.scanOnPush', 'ecr:GetRegistryScanningConfiguration (only when scan on push is off)'],
    checklist: [],
    steps: ['ecr'],
    evaluate: (read) =>
      onRepository(read, async (base, repo) => {
        if (repo.imageScanningConfiguration?.scanOnPush) return [{ ...base, status: 'OK', reason: 'scan on push enabled', observed: { scanOnPush: true } }];
        // Enhanced (registry-level) scanning with a rule that matches the repository also passes.
        const { value: registry, requestId } = await read.registryScanning();
        const name = read.config.ecr.repositoryName;
        const matches = (filter: string) => new RegExp(`^${filter.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(name);
        const rule = (registry?.rules ?? []).find((r) => (r.repositoryFilters ?? []).some((f) => f.filter && matches(f.filter)));
        const observed = { scanOnPush: false, registryScanType: registry?.scanType ?? null, rule: rule?.scanFrequency ?? null };
        return [
          rule
            ? { ...base, requestId, status: 'OK', reason: `registry ${registry?.scanType} scanning (${rule.scanFrequency}) covers it`, observed }
            : { ...base, requestId, status: 'FAIL', reason: 'scan on push is off and no registry scanning rule covers the repository', observed },
        ];
      }),
  },
  {
    id: 'ECR.2',
    source: 'security-hub',
    title: 'ECR private repositories should have tag immutability configured',
    short: 'Tags IMMUTABLE',
    severity: 'medium',
    passes: 'Passes if image tag mutability is IMMUTABLE; fails if tag immutability is disabled.',
    resourceType: 'AWS::ECR::Repository',
    reads: ['ecr:DescribeRepositories imageTagMutability'],
    checklist: ['3.5'],
    steps: ['ecr'],
    evaluate: (read) =>
      onRepository(read, (base, repo) => {
        const mutability = repo.imageTagMutability ?? 'MUTABLE';
        return [
          mutability === 'IMMUTABLE'
            ? { ...base, status: 'OK', reason: 'image tag mutability IMMUTABLE', observed: { imageTagMutability: mutability } }
            : { ...base, status: 'FAIL', reason: `image tag mutability is ${mutability}: tags can be overwritten`, observed: { imageTagMutability: mutability } },
        ];
      }),
  },
  {
    id: 'ECR.3',
    source: 'security-hub',
    title: 'ECR repositories should have at least one lifecycle policy configured',
    short: 'Lifecycle policy',
    severity: 'medium',
    passes: 'Fails if the repository has no lifecycle policy.',
    resourceType: 'AWS::ECR::Repository',
    reads: ['ecr:GetLifecyclePolicy'],
    checklist: [],
    steps: ['ecr'],
    evaluate: (read) =>
      onRepository(read, async (base) => {
        const { value: text, requestId } = await read.lifecyclePolicy();
        return [
          text
            ? { ...base, requestId, status: 'OK', reason: 'lifecycle policy present', observed: { lifecyclePolicy: true } }
            : { ...base, requestId, status: 'FAIL', reason: 'no lifecycle policy', observed: { lifecyclePolicy: false } },
        ];
      }),
  },
  {
    id: 'RB.ECR.1',
    source: 'runbook',
    title: 'The repository policy grants nothing to Principal "*"',
    short: 'Repository not open to "*"',
    severity: 'critical',
    passes: 'Fails if the repository policy has an Allow statement whose Principal is "*" (or {"AWS": "*"}), whatever its conditions; no policy passes (the runbook sets none).',
    resourceType: 'AWS::ECR::Repository',
    reads: ['ecr:GetRepositoryPolicy policyText'],
    checklist: [],
    differs: 'Security Hub has no control for ECR repository policies (IAM Access Analyzer reports public access); conditions are not weighed: "*" is a FAIL.',
    steps: ['ecr'],
    evaluate: (read) =>
      onRepository(read, async (base) => {
        const { value: text, requestId } = await read.repositoryPolicy();
        if (!text) return [{ ...base, requestId, status: 'OK', reason: 'no repository policy', observed: { policy: null } }];
        let policy: { Statement?: unknown };
        try {
          policy = JSON.parse(text) as { Statement?: unknown };
        } catch {
          return [notEvaluated(base.resource, 'the repository policy is not JSON', { ...base, requestId })];
        }
        const statements = (Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement]).filter(Boolean) as Array<{ Sid?: string; Effect?: string; Principal?: unknown; Action?: unknown }>;
        const open = statements.filter((s) => s.Effect === 'Allow' && everyone(s.Principal));
        const observed = open.map((s) => ({ Sid: s.Sid ?? null, Principal: s.Principal, Action: s.Action }));
        return [
          open.length
            ? { ...base, requestId, status: 'FAIL', reason: `statement(s) ${open.map((s, i) => s.Sid ?? `#${i + 1}`).join(', ')} allow Principal "*"`, observed }
            : { ...base, requestId, status: 'OK', reason: 'repository policy grants nothing to "*"' },
        ];
      }),
  },
];
