// Runbook 1.2: the ECR repository (scan on push, encryption, immutable tags), its lifecycle policy,
// its repository policy (the runbook sets none), tags.
import {
  DescribeRepositoriesCommand,
  GetLifecyclePolicyCommand,
  GetRepositoryPolicyCommand,
  ListImagesCommand,
  ListTagsForResourceCommand,
  type Repository,
} from '@aws-sdk/client-ecr';
import type { RunbookConfig } from '../src/config.js';
import { act, ref, type ActionSpec } from '../src/core/actions.js';
import { defineStep, refuseUnhandled } from '../src/core/converge.js';
import { changedTopLevel, diffDocuments, type Doc, type IgnoreList } from '../src/core/document.js';
import { describeAwsError, isAwsError } from '../src/core/errors.js';
import { awsTags, managedTags, tagChanges, type TagMap } from '../src/core/tags.js';
import { fail, ok, warn, type FieldDiff, type Finding, type Observed, type ResourceDef, type StepContext } from '../src/core/step.js';

/** The CreateRepository input, with tags as a map of the managed keys. */
export interface RepositoryDoc extends Doc {
  repositoryName: string;
  imageTagMutability: string;
  imageTagMutabilityExclusionFilters?: Array<{ filterType?: string; filter?: string }>;
  imageScanningConfiguration: { scanOnPush: boolean };
  encryptionConfiguration: { encryptionType: string; kmsKey?: string };
  tags: TagMap;
}

/** The PutLifecyclePolicy input with the policy parsed (compared as JSON); no `lifecyclePolicyText` = no policy. */
export interface LifecyclePolicyDoc extends Doc {
  repositoryName: string;
  lifecyclePolicyText?: unknown;
}

/** The SetRepositoryPolicy input with the policy parsed; no `policyText` = no policy. */
export interface RepositoryPolicyDoc extends Doc {
  repositoryName: string;
  policyText?: unknown;
}

/** Fields ECR sets itself. Everything else DescribeRepositories returns is compared. */
export const REPOSITORY_IGNORE: IgnoreList = [
  'repositoryArn', // identity, set by ECR (the tag builders read it)
  'registryId', // the account id
  'repositoryUri', // derived from account, region and name
  'createdAt', // timestamp
  'imageCount', // ours, not AWS's: images on ListImages' first page, so remove keeps a repository holding images
];

/**
 * Added only when the config sets no `ecr.kmsKey`: KMS encryption then uses a key the config does
 * not name. AWS picks the AWS-managed key (aws/ecr); moto makes one up. With a configured key, the
 * key is compared like any other field.
 */
export const UNCONFIGURED_KMS_KEY_IGNORE: IgnoreList = ['encryptionConfiguration.kmsKey'];

export const LIFECYCLE_POLICY_IGNORE: IgnoreList = [
  'registryId', // the account id
  'lastEvaluatedAt', // when ECR last ran the policy
];

export const REPOSITORY_POLICY_IGNORE: IgnoreList = [
  'registryId', // the account id
];

/** The runbook's lifecycle-policy.json, built from the config. */
export function desiredLifecyclePolicy(config: RunbookConfig) {
  const { keepLast, tagPrefixes } = config.ecr.lifecycle;
  return {
    rules: [
      {
        rulePriority: 1,
        // From the config: an environment whose tags are not prod-* says so in its own rule.
        description: `Keep the last ${keepLast} images tagged ${tagPrefixes.map((p) => `${p}*`).join(', ')}`,
        selection: { tagStatus: 'tagged', tagPrefixList: tagPrefixes, countType: 'imageCountMoreThan', countNumber: keepLast },
        action: { type: 'expire' },
      },
    ],
  };
}

/** Policy text as a value to compare; text that is not JSON compares (and is put back) as itself. */
function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
const asText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

/** Drop the SDK's $metadata: the rest of a Get* reply is the document. */
const reply = <T extends { $metadata?: unknown }>({ $metadata: _m, ...rest }: T) => rest as Doc;

/**
 * The repository as described, in the CreateRepository input's shape: unknown fields stay, to be
 * seen. A configured key may be a key id or an ARN and ECR reports the ARN: the same key is spelt
 * as configured. ECR's defaults are filled in: MUTABLE, no scanning, AES256.
 */
export function repositoryDoc(repo: Repository, tags: TagMap, imageCount: number, kmsKey: string | undefined): RepositoryDoc {
  const encryption = { ...repo.encryptionConfiguration, encryptionType: repo.encryptionConfiguration?.encryptionType ?? 'AES256' };
  if (kmsKey && encryption.kmsKey?.endsWith(`:key/${kmsKey}`)) encryption.kmsKey = kmsKey;
  return {
    ...(repo as Doc),
    repositoryName: repo.repositoryName ?? '',
    imageTagMutability: repo.imageTagMutability ?? 'MUTABLE',
    imageScanningConfiguration: { ...repo.imageScanningConfiguration, scanOnPush: repo.imageScanningConfiguration?.scanOnPush ?? false },
    encryptionConfiguration: encryption,
    tags,
    imageCount,
  };
}

function desiredRepository(ctx: StepContext): RepositoryDoc {
  const e = ctx.config.ecr;
  return {
    repositoryName: e.repositoryName,
    imageTagMutability: e.tagMutability,
    imageScanningConfiguration: { scanOnPush: e.scanOnPush },
    encryptionConfiguration: { encryptionType: e.encryptionType, ...(e.kmsKey ? { kmsKey: e.kmsKey } : {}) },
    tags: ctx.config.tags,
  };
}

const repositoryName = (ctx: StepContext) => ctx.config.ecr.repositoryName;
const repositoryLabel = (ctx: StepContext) => `ecr repository ${repositoryName(ctx)}`;

/** The filters go with the mutability they belong to, and only when there are any. */
const mutabilityInput = (d: RepositoryDoc) => ({
  imageTagMutability: d.imageTagMutability,
  ...(d.imageTagMutabilityExclusionFilters?.length ? { imageTagMutabilityExclusionFilters: d.imageTagMutabilityExclusionFilters } : {}),
});

function repositoryResource(ctx: StepContext, observed: Observed): ResourceDef<RepositoryDoc> {
  const name = repositoryLabel(ctx);
  return {
    id: 'repository',
    name,
    desired: desiredRepository(ctx),
    observed: observed.repository as RepositoryDoc | undefined,
    ignore: ctx.config.ecr.kmsKey ? REPOSITORY_IGNORE : [...REPOSITORY_IGNORE, ...UNCONFIGURED_KMS_KEY_IGNORE],
    // CreateRepository sets every compared field, tags included: nothing to leave out when adopting.
    adoptIgnore: [],
    create: (d) => [
      act(
        'ecr',
        'CreateRepository',
        {
          repositoryName: d.repositoryName,
          ...mutabilityInput(d),
          imageScanningConfiguration: d.imageScanningConfiguration,
          encryptionConfiguration: d.encryptionConfiguration,
          tags: awsTags(d.tags),
        },
        {
          binds: { repositoryArn: 'repository.repositoryArn', repositoryUri: 'repository.repositoryUri' },
          adoptBinds: { repositoryArn: 'repositoryArn', repositoryUri: 'repositoryUri' },
          existsErrors: ['RepositoryAlreadyExistsException'],
        },
      ),
    ],
    update: (d, o, diffs) => {
      // Encryption is fixed at creation: changing it means replacing the repository and its
      // images, which a person decides, never this tool.
      refuseUnhandled(name, diffs, ['imageTagMutability', 'imageTagMutabilityExclusionFilters', 'imageScanningConfiguration', 'tags']);
      const changed = changedTopLevel(diffs);
      const actions: ActionSpec[] = [];
      if (changed.has('imageTagMutability') || changed.has('imageTagMutabilityExclusionFilters')) {
        actions.push(act('ecr', 'PutImageTagMutability', { repositoryName: d.repositoryName, ...mutabilityInput(d) }));
      }
      if (changed.has('imageScanningConfiguration')) {
        actions.push(act('ecr', 'PutImageScanningConfiguration', { repositoryName: d.repositoryName, imageScanningConfiguration: d.imageScanningConfiguration }));
      }
      const { tag, untag } = tagChanges(d.tags, o.tags);
      const resourceArn = o.repositoryArn as string;
      if (Object.keys(tag).length) actions.push(act('ecr', 'TagResource', { resourceArn, tags: awsTags(tag) }));
      if (untag.length) actions.push(act('ecr', 'UntagResource', { resourceArn, tagKeys: untag }));
      return actions;
    },
    // Never with `force`: ECR then refuses (RepositoryNotEmptyException) if an image arrived
    // after the count, which keeps it.
    remove: (o) =>
      (o.imageCount as number) > 0
        ? `holds ${o.imageCount as number} image(s): never deleted`
        : [act('ecr', 'DeleteRepository', { repositoryName: o.repositoryName }, { goneErrors: ['RepositoryNotFoundException'] })],
  };
}

function lifecyclePolicyResource(ctx: StepContext, observed: Observed): ResourceDef<LifecyclePolicyDoc> {
  const name = `lifecycle policy of ${repositoryLabel(ctx)}`;
  const put = (d: LifecyclePolicyDoc) => act('ecr', 'PutLifecyclePolicy', { repositoryName: d.repositoryName, lifecyclePolicyText: asText(d.lifecyclePolicyText) });
  const del = (repositoryName: string) =>
    act('ecr', 'DeleteLifecyclePolicy', { repositoryName }, { goneErrors: ['LifecyclePolicyNotFoundException', 'RepositoryNotFoundException'] });
  return {
    id: 'lifecycle-policy',
    after: ['repository'],
    name,
    desired: { repositoryName: repositoryName(ctx), lifecyclePolicyText: desiredLifecyclePolicy(ctx.config) },
    observed: observed['lifecycle-policy'] as LifecyclePolicyDoc | undefined,
    ignore: LIFECYCLE_POLICY_IGNORE,
    create: (d) => (d.lifecyclePolicyText === undefined ? [] : [put(d)]),
    update: (d, _o, diffs) => {
      refuseUnhandled(name, diffs, ['lifecyclePolicyText']);
      // Converging to "no policy" (a rollback to a repository that had none) deletes it.
      return [d.lifecyclePolicyText === undefined ? del(d.repositoryName) : put(d)];
    },
    remove: (o) => (o.lifecyclePolicyText === undefined ? [] : [del(o.repositoryName)]),
  };
}

function repositoryPolicyResource(ctx: StepContext, observed: Observed): ResourceDef<RepositoryPolicyDoc> {
  const name = `repository policy of ${repositoryLabel(ctx)}`;
  const del = (repositoryName: string) =>
    act('ecr', 'DeleteRepositoryPolicy', { repositoryName }, { goneErrors: ['RepositoryPolicyNotFoundException', 'RepositoryNotFoundException'] });
  const set = (d: RepositoryPolicyDoc) => act('ecr', 'SetRepositoryPolicy', { repositoryName: d.repositoryName, policyText: asText(d.policyText) });
  return {
    id: 'repository-policy',
    after: ['repository'], // not the lifecycle policy: the two policies go out side by side
    name,
    // The runbook sets none: a policy that appeared out of band (cross-account pulls, pushes) is drift.
    desired: { repositoryName: repositoryName(ctx) },
    observed: observed['repository-policy'] as RepositoryPolicyDoc | undefined,
    ignore: REPOSITORY_POLICY_IGNORE,
    create: (d) => (d.policyText === undefined ? [] : [set(d)]),
    // Rollback to a `before` that had one puts it back.
    update: (d, _o, diffs) => {
      refuseUnhandled(name, diffs, ['policyText']);
      return [d.policyText === undefined ? del(d.repositoryName) : set(d)];
    },
    remove: (o) => (o.policyText === undefined ? [] : [del(o.repositoryName)]),
  };
}

async function describeRepository(ctx: StepContext): Promise<Repository | undefined> {
  try {
    const { repositories } = await ctx.clients.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [repositoryName(ctx)] }));
    return repositories?.find((r) => r.repositoryName === repositoryName(ctx));
  } catch (error) {
    if (isAwsError(error, 'RepositoryNotFoundException')) return undefined;
    throw error;
  }
}

/** A Get* reply, or undefined when the API says there is none. */
async function getOrNone<T>(call: () => Promise<T>, noneError: string): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    if (isAwsError(error, noneError)) return undefined;
    throw error;
  }
}

async function observe(ctx: StepContext): Promise<Observed> {
  const repositoryName = ctx.config.ecr.repositoryName;
  const repo = await describeRepository(ctx);
  // A repository that does not exist holds no repository policy: "none", as desired, so a fresh
  // plan shows no change for it. Its lifecycle policy is created with it.
  if (!repo) return { repository: undefined, 'lifecycle-policy': undefined, 'repository-policy': { repositoryName } };
  const { ecr } = ctx.clients;
  const [tags, images, lifecycle, policy] = await Promise.all([
    ecr.send(new ListTagsForResourceCommand({ resourceArn: repo.repositoryArn })),
    // The first page is enough to know that it is not empty.
    ecr.send(new ListImagesCommand({ repositoryName, maxResults: 1000 })),
    getOrNone(() => ecr.send(new GetLifecyclePolicyCommand({ repositoryName })), 'LifecyclePolicyNotFoundException'),
    getOrNone(() => ecr.send(new GetRepositoryPolicyCommand({ repositoryName })), 'RepositoryPolicyNotFoundException'),
  ]);
  return {
    repository: repositoryDoc(repo, managedTags(tags.tags, ctx.config.tags), images.imageIds?.length ?? 0, ctx.config.ecr.kmsKey),
    'lifecycle-policy': lifecycle
      ? { ...reply(lifecycle), repositoryName, lifecyclePolicyText: parseJson(lifecycle.lifecyclePolicyText) }
      : { repositoryName },
    'repository-policy': policy ? { ...reply(policy), repositoryName, policyText: parseJson(policy.policyText) } : { repositoryName },
  };
}

const resources = (ctx: StepContext, observed: Observed): ResourceDef[] => [
  repositoryResource(ctx, observed),
  lifecyclePolicyResource(ctx, observed),
  repositoryPolicyResource(ctx, observed),
];

const show = (value: unknown) => (value === undefined ? 'unset' : typeof value === 'string' ? value : JSON.stringify(value));
const describeDiffs = (diffs: FieldDiff[]) => diffs.map((d) => `${d.field} is ${show(d.from)}, config wants ${show(d.to)}`).join('; ');

const IMMUTABLE_CHECK = 'ECR Tag Mutability';
const REPOSITORY_CHECK = 'ECR Repository';

function findings(ctx: StepContext, observed: Observed): Finding[] {
  const [repository, lifecycle, policy] = resources(ctx, observed);
  const o = repository.observed as RepositoryDoc | undefined;
  if (!o) {
    return [fail(IMMUTABLE_CHECK, repository.name, 'does not exist'), fail(REPOSITORY_CHECK, repository.name, 'does not exist')];
  }
  const out: Finding[] = [];
  // Runbook 3.5 (also in the security checklist).
  out.push(
    o.imageTagMutability === 'IMMUTABLE'
      ? ok(IMMUTABLE_CHECK, repository.name, 'image tags IMMUTABLE')
      : fail(IMMUTABLE_CHECK, repository.name, `image tag mutability ${o.imageTagMutability}, section 3.5 requires IMMUTABLE`),
  );
  // The rest of the repository document; the mutability has its check above.
  const drift = diffDocuments(repository.desired, o, [...repository.ignore, 'imageTagMutability', 'imageTagMutabilityExclusionFilters']);
  const noScan = drift.some((d) => d.field === 'imageScanningConfiguration.scanOnPush' && d.from === false);
  out.push(
    drift.length
      ? fail(REPOSITORY_CHECK, repository.name, `${noScan ? 'does not scan images on push; ' : ''}differs from the config: ${describeDiffs(drift)} (run plan)`)
      : ok(REPOSITORY_CHECK, repository.name, `scan on push ${o.imageScanningConfiguration.scanOnPush ? 'enabled' : 'disabled'}, encrypted with ${o.encryptionConfiguration.encryptionType}`),
  );
  const l = lifecycle.observed as LifecyclePolicyDoc;
  const lifecycleDrift = diffDocuments(lifecycle.desired, l, lifecycle.ignore);
  out.push(
    l.lifecyclePolicyText === undefined
      ? fail(REPOSITORY_CHECK, lifecycle.name, 'does not exist: old images are never expired')
      : lifecycleDrift.length
        ? warn(REPOSITORY_CHECK, lifecycle.name, `lifecycle policy present but differs from the config: ${lifecycleDrift.map((d) => d.field).join(', ')} (run plan)`)
        : ok(REPOSITORY_CHECK, lifecycle.name, 'lifecycle policy present'),
  );
  const policyDrift = diffDocuments(policy.desired, policy.observed, policy.ignore);
  out.push(
    policyDrift.length
      ? fail(REPOSITORY_CHECK, policy.name, `set, though the runbook sets none (${policyDrift.map((d) => d.field).join(', ')}): apply removes it (run plan)`)
      : ok(REPOSITORY_CHECK, policy.name, 'no repository policy (the runbook sets none)'),
  );
  return out;
}

export const ecrStep = defineStep<'ecr'>({
  id: 'ecr',
  section: '1.2',
  title: 'ECR repository',
  needs: [],

  observe,

  resources,

  outputs: (_ctx, observed) => ({
    repositoryUri: (observed.repository?.repositoryUri as string | undefined) ?? ref('ecr', 'repositoryUri'),
    repositoryArn: (observed.repository?.repositoryArn as string | undefined) ?? ref('ecr', 'repositoryArn'),
  }),

  async validate(ctx) {
    let observed: Observed;
    try {
      observed = await observe(ctx);
    } catch (error) {
      const reason = `could not be evaluated: ${describeAwsError(error)}`;
      return [fail(IMMUTABLE_CHECK, repositoryLabel(ctx), reason), fail(REPOSITORY_CHECK, repositoryLabel(ctx), reason)];
    }
    return findings(ctx, observed);
  },
});
