// Runbook 1.2: the ECR repository (scan on push, encryption, immutable tags), its lifecycle policy, tags.
import {
  CreateRepositoryCommand,
  DeleteLifecyclePolicyCommand,
  DeleteRepositoryCommand,
  DescribeRepositoriesCommand,
  GetLifecyclePolicyCommand,
  ListImagesCommand,
  ListTagsForResourceCommand,
  PutImageScanningConfigurationCommand,
  PutImageTagMutabilityCommand,
  PutLifecyclePolicyCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type ImageTagMutability,
  type ImageTagMutabilityExclusionFilter,
  type Repository,
} from '@aws-sdk/client-ecr';
import { names, type RunbookConfig } from '../src/config.js';
import { awsTagList, diffFields, missingTags, sameValue, tagsAsDiff, tagsToRestore } from '../src/core/diff.js';
import { isAwsError, UnsafeChangeError } from '../src/core/errors.js';
import { fail, ok, stepWriter, warn, type Change, type FieldDiff, type Finding, type Step, type StepContext } from '../src/core/step.js';

export interface EcrState {
  exists: boolean;
  repositoryArn?: string;
  repositoryUri?: string;
  imageTagMutability?: string;
  /** Kept so a rollback from IMMUTABLE back to *_WITH_EXCLUSION restores the filters too. */
  imageTagMutabilityExclusionFilters?: ImageTagMutabilityExclusionFilter[];
  scanOnPush?: boolean;
  encryptionType?: string;
  kmsKey?: string;
  /** The policy text exactly as it was, so a rollback puts back the same document; undefined = none. */
  lifecyclePolicyText?: string;
  tags?: Record<string, string>;
}

const repositoryName = (ctx: StepContext) => ctx.config.ecr.repositoryName;
const resourceName = (ctx: StepContext) => `ecr repository ${repositoryName(ctx)}`;
const repositoryArnOf = (config: RunbookConfig) =>
  `arn:aws:ecr:${config.region}:${config.accountId}:repository/${config.ecr.repositoryName}`;

/** The runbook's lifecycle-policy.json, built from the config. */
function desiredLifecyclePolicy(config: RunbookConfig) {
  const { keepLast, tagPrefixes } = config.ecr.lifecycle;
  return {
    rules: [
      {
        rulePriority: 1,
        description: `Keep last ${keepLast} production images`,
        selection: { tagStatus: 'tagged', tagPrefixList: tagPrefixes, countType: 'imageCountMoreThan', countNumber: keepLast },
        action: { type: 'expire' },
      },
    ],
  };
}

/** Lifecycle policy text as a value to compare; text that is not JSON compares as itself. */
function parseLifecycle(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A configured key may be a key id or an ARN; ECR always reports the ARN. */
const sameKmsKey = (observed: string | undefined, wanted: string) =>
  observed === wanted || (observed?.endsWith(`:key/${wanted}`) ?? false);

async function describeRepository(ctx: StepContext): Promise<Repository | undefined> {
  try {
    const { repositories } = await ctx.clients.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [repositoryName(ctx)] }));
    return repositories?.find((r) => r.repositoryName === repositoryName(ctx));
  } catch (error) {
    if (isAwsError(error, 'RepositoryNotFoundException')) return undefined;
    throw error;
  }
}

async function getLifecyclePolicyText(ctx: StepContext): Promise<string | undefined> {
  try {
    const { lifecyclePolicyText } = await ctx.clients.ecr.send(new GetLifecyclePolicyCommand({ repositoryName: repositoryName(ctx) }));
    return lifecyclePolicyText;
  } catch (error) {
    if (isAwsError(error, 'LifecyclePolicyNotFoundException')) return undefined;
    throw error;
  }
}

/** Everything rollback needs to put the repository back; reads only. */
async function observe(ctx: StepContext, repo: Repository | undefined): Promise<EcrState> {
  if (!repo) return { exists: false };
  const repositoryArn = repo.repositoryArn ?? repositoryArnOf(ctx.config);
  const [lifecyclePolicyText, tagResponse] = await Promise.all([
    getLifecyclePolicyText(ctx),
    ctx.clients.ecr.send(new ListTagsForResourceCommand({ resourceArn: repositoryArn })),
  ]);
  return {
    exists: true,
    repositoryArn,
    repositoryUri: repo.repositoryUri ?? names.repositoryUri(ctx.config),
    imageTagMutability: repo.imageTagMutability,
    ...(repo.imageTagMutabilityExclusionFilters?.length
      ? { imageTagMutabilityExclusionFilters: repo.imageTagMutabilityExclusionFilters }
      : {}),
    scanOnPush: repo.imageScanningConfiguration?.scanOnPush ?? false,
    encryptionType: repo.encryptionConfiguration?.encryptionType,
    kmsKey: repo.encryptionConfiguration?.kmsKey,
    lifecyclePolicyText,
    tags: Object.fromEntries((tagResponse.tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
  };
}

/** The fields apply can change in place. */
function desired(ctx: StepContext) {
  return {
    imageTagMutability: ctx.config.ecr.tagMutability,
    scanOnPush: ctx.config.ecr.scanOnPush,
    lifecyclePolicy: desiredLifecyclePolicy(ctx.config),
  };
}

function observedFields(state: EcrState): Record<string, unknown> {
  return {
    imageTagMutability: state.imageTagMutability,
    scanOnPush: state.scanOnPush,
    lifecyclePolicy: parseLifecycle(state.lifecyclePolicyText),
  };
}

/** Encryption is fixed at creation. kmsKey is compared only when configured (otherwise AWS, or moto, picks it). */
function encryptionDrift(ctx: StepContext, state: EcrState): FieldDiff[] {
  const { encryptionType, kmsKey } = ctx.config.ecr;
  const drift: FieldDiff[] = [];
  if (state.encryptionType !== encryptionType) drift.push({ field: 'encryptionType', from: state.encryptionType, to: encryptionType });
  if (kmsKey && !sameKmsKey(state.kmsKey, kmsKey)) drift.push({ field: 'kmsKey', from: state.kmsKey, to: kmsKey });
  return drift;
}

const tagList = (tags: Record<string, string> | undefined) => awsTagList(tags ?? {});

export const ecrStep: Step<'ecr', EcrState> = {
  id: 'ecr',
  section: '1.2',
  title: 'ECR repository',

  async plan(ctx) {
    const before = await observe(ctx, await describeRepository(ctx));
    const resource = resourceName(ctx);
    if (!before.exists) {
      const { encryptionType, kmsKey } = ctx.config.ecr;
      return {
        before,
        changes: [
          {
            resource,
            action: 'create',
            fields: diffFields({ ...desired(ctx), encryptionType, ...(kmsKey ? { kmsKey } : {}), tags: ctx.config.tags }, {}),
          },
        ],
      };
    }
    const unsafe = encryptionDrift(ctx, before);
    if (unsafe.length) {
      const what = unsafe.map((d) => `${d.field} is ${String(d.from ?? 'unset')}, config wants ${String(d.to)}`).join('; ');
      throw new UnsafeChangeError(
        `${resource}: ${what}. ECR cannot change encryption after creation: the repository would have to be replaced ` +
          '(deleted and re-created, with its images), and a person must decide that; this tool will not.',
      );
    }
    const fields = [
      ...diffFields(desired(ctx), observedFields(before)),
      ...tagsAsDiff(missingTags(ctx.config.tags, tagList(before.tags)), tagList(before.tags)),
    ];
    const changes: Change[] = fields.length ? [{ resource, action: 'update', fields }] : [];
    return { before, changes, outputs: { repositoryUri: before.repositoryUri!, repositoryArn: before.repositoryArn! } };
  },

  async apply(ctx, plan) {
    const write = stepWriter(ctx, 'ecr');
    const e = ctx.config.ecr;
    const name = repositoryName(ctx);
    const resource = resourceName(ctx);
    const putLifecyclePolicy = () =>
      write(resource, 'update', 'PutLifecyclePolicy', () =>
        ctx.clients.ecr.send(
          new PutLifecyclePolicyCommand({ repositoryName: name, lifecyclePolicyText: JSON.stringify(desiredLifecyclePolicy(ctx.config)) }),
        ),
      );

    if (!plan.before?.exists) {
      const { repository } = await write(resource, 'create', 'CreateRepository', () =>
        ctx.clients.ecr.send(
          new CreateRepositoryCommand({
            repositoryName: name,
            imageScanningConfiguration: { scanOnPush: e.scanOnPush },
            encryptionConfiguration: { encryptionType: e.encryptionType, ...(e.kmsKey ? { kmsKey: e.kmsKey } : {}) },
            imageTagMutability: e.tagMutability,
            tags: awsTagList(ctx.config.tags),
          }),
        ),
      );
      await putLifecyclePolicy();
      return {
        repositoryUri: repository?.repositoryUri ?? names.repositoryUri(ctx.config),
        repositoryArn: repository?.repositoryArn ?? repositoryArnOf(ctx.config),
      };
    }

    const before = plan.before;
    const changed = new Set(plan.changes.flatMap((change) => change.fields ?? []).map((f) => f.field.split('.')[0]));
    if (changed.has('imageTagMutability')) {
      await write(resource, 'update', 'PutImageTagMutability', () =>
        ctx.clients.ecr.send(new PutImageTagMutabilityCommand({ repositoryName: name, imageTagMutability: e.tagMutability })),
      );
    }
    if (changed.has('scanOnPush')) {
      await write(resource, 'update', 'PutImageScanningConfiguration', () =>
        ctx.clients.ecr.send(
          new PutImageScanningConfigurationCommand({ repositoryName: name, imageScanningConfiguration: { scanOnPush: e.scanOnPush } }),
        ),
      );
    }
    if (changed.has('lifecyclePolicy')) await putLifecyclePolicy();
    if (changed.has('tags')) {
      const tags = missingTags(ctx.config.tags, tagList(before.tags));
      await write(resource, 'update', 'TagResource', () =>
        ctx.clients.ecr.send(new TagResourceCommand({ resourceArn: before.repositoryArn, tags: awsTagList(tags) })),
      );
    }
    return { repositoryUri: before.repositoryUri!, repositoryArn: before.repositoryArn! };
  },

  async validate(ctx) {
    const resource = resourceName(ctx);
    const name = repositoryName(ctx);
    const immutable = 'ECR Tag Mutability';
    const check = 'ECR Repository';
    const repo = await describeRepository(ctx);
    if (!repo) {
      return [fail(immutable, resource, `repository ${name} does not exist`), fail(check, resource, `repository ${name} does not exist`)];
    }
    const state = await observe(ctx, repo);
    const findings: Finding[] = [
      state.imageTagMutability === 'IMMUTABLE'
        ? ok(immutable, resource, `repository ${name}: image tags IMMUTABLE`)
        : fail(immutable, resource, `repository ${name} has image tag mutability ${state.imageTagMutability ?? 'unset'}, section 3.5 requires IMMUTABLE`),
      state.scanOnPush
        ? ok(check, resource, 'scan on push enabled')
        : fail(check, resource, `repository ${name} does not scan images on push`),
    ];
    const encryption = encryptionDrift(ctx, state);
    findings.push(
      encryption.length === 0
        ? ok(check, resource, `encrypted with ${state.encryptionType}`)
        : fail(check, resource, `encryption ${encryption.map((d) => `${d.field} ${String(d.from ?? 'unset')} (want ${String(d.to)})`).join(', ')}`),
    );
    if (state.lifecyclePolicyText === undefined) {
      findings.push(fail(check, resource, `repository ${name} has no lifecycle policy`));
    } else if (!sameValue(parseLifecycle(state.lifecyclePolicyText), desiredLifecyclePolicy(ctx.config))) {
      findings.push(warn(check, resource, 'lifecycle policy present but differs from the config (run plan)'));
    } else {
      findings.push(ok(check, resource, 'lifecycle policy present'));
    }
    return findings;
  },

  async rollback(ctx, before) {
    if (!before) return;
    const write = stepWriter(ctx, 'ecr');
    const name = repositoryName(ctx);
    const resource = resourceName(ctx);
    const repo = await describeRepository(ctx);

    if (!before.exists) {
      if (!repo) return;
      // Created by this run, but images make it more than ours: delete only an empty repository, never with force.
      const kept = () => ctx.report(`kept ${resource}: it holds images; delete it by hand if it really should go`);
      const { imageIds } = await ctx.clients.ecr.send(new ListImagesCommand({ repositoryName: name, maxResults: 1 }));
      if (imageIds?.length) return kept();
      try {
        await write(resource, 'delete', 'DeleteRepository', () => ctx.clients.ecr.send(new DeleteRepositoryCommand({ repositoryName: name })));
      } catch (error) {
        // An image pushed between the check and the delete.
        if (isAwsError(error, 'RepositoryNotEmptyException')) return kept();
        throw error;
      }
      return;
    }

    if (!repo) {
      ctx.report(`${resource} no longer exists; nothing to restore`);
      return;
    }
    const current = await observe(ctx, repo);
    if (before.imageTagMutability && current.imageTagMutability !== before.imageTagMutability) {
      await write(resource, 'update', 'PutImageTagMutability', () =>
        ctx.clients.ecr.send(
          new PutImageTagMutabilityCommand({
            repositoryName: name,
            imageTagMutability: before.imageTagMutability as ImageTagMutability,
            ...(before.imageTagMutabilityExclusionFilters?.length
              ? { imageTagMutabilityExclusionFilters: before.imageTagMutabilityExclusionFilters }
              : {}),
          }),
        ),
      );
    }
    if (before.scanOnPush !== undefined && current.scanOnPush !== before.scanOnPush) {
      await write(resource, 'update', 'PutImageScanningConfiguration', () =>
        ctx.clients.ecr.send(
          new PutImageScanningConfigurationCommand({ repositoryName: name, imageScanningConfiguration: { scanOnPush: before.scanOnPush } }),
        ),
      );
    }
    if (before.lifecyclePolicyText === undefined) {
      if (current.lifecyclePolicyText !== undefined) {
        await write(resource, 'delete', 'DeleteLifecyclePolicy', () =>
          ctx.clients.ecr.send(new DeleteLifecyclePolicyCommand({ repositoryName: name })),
        );
      }
    } else if (!sameValue(parseLifecycle(current.lifecyclePolicyText), parseLifecycle(before.lifecyclePolicyText))) {
      await write(resource, 'update', 'PutLifecyclePolicy', () =>
        ctx.clients.ecr.send(new PutLifecyclePolicyCommand({ repositoryName: name, lifecyclePolicyText: before.lifecyclePolicyText })),
      );
    }
    const { untag, retag } = tagsToRestore(before.tags ?? {}, current.tags ?? {}, ctx.config.tags);
    if (untag.length) {
      await write(resource, 'update', 'UntagResource', () =>
        ctx.clients.ecr.send(new UntagResourceCommand({ resourceArn: current.repositoryArn, tagKeys: untag })),
      );
    }
    if (Object.keys(retag).length) {
      await write(resource, 'update', 'TagResource', () =>
        ctx.clients.ecr.send(new TagResourceCommand({ resourceArn: current.repositoryArn, tags: awsTagList(retag) })),
      );
    }
  },
};
