import {
  CreateRepositoryCommand,
  DeleteLifecyclePolicyCommand,
  DeleteRepositoryCommand,
  DeleteRepositoryPolicyCommand,
  DescribeRepositoriesCommand,
  GetLifecyclePolicyCommand,
  GetRepositoryPolicyCommand,
  ListImagesCommand,
  ListTagsForResourceCommand,
  PutImageScanningConfigurationCommand,
  PutImageTagMutabilityCommand,
  PutLifecyclePolicyCommand,
  SetRepositoryPolicyCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type Repository,
  type Tag,
} from '@aws-sdk/client-ecr';
import { beforeEach, describe, expect, it } from 'vitest';
import { ecrStep } from '../../steps/ecr.js';
import { AmbiguousWriteError } from '../../src/core/actions.js';
import { describeAwsError, UnsafeChangeError } from '../../src/core/errors.js';
import { awsError, mockAws, RecordingRecorder, testConfig, testContext, writeCalls, type AwsMocks, createdDocument } from '../helpers/mock-aws.js';

const repositoryArn = 'arn:aws:ecr:us-east-1:123456789012:repository/fintech-api';
const repositoryUri = '123456789012.dkr.ecr.us-east-1.amazonaws.com/fintech-api';
const resource = 'ecr repository fintech-api';
const lifecycleResource = 'lifecycle policy of ecr repository fintech-api';
const policyResource = 'repository policy of ecr repository fintech-api';
// AWS reports the AWS-managed key's ARN, moto a made-up one: nobody configured either.
const inventedKey = 'arn:aws:kms:us-east-1:123456789012:key/7eab49ee-dd4c-4f59-8546-79e7a204b69a';
const configuredKey = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const inSyncRepo: Repository = {
  repositoryArn,
  repositoryName: 'fintech-api',
  repositoryUri,
  registryId: '123456789012',
  createdAt: new Date('2026-01-01T00:00:00Z'),
  imageTagMutability: 'IMMUTABLE',
  imageScanningConfiguration: { scanOnPush: true },
  encryptionConfiguration: { encryptionType: 'KMS', kmsKey: inventedKey },
};

// The runbook's lifecycle-policy.json as an operator would have put it: same content, other layout.
const runbookPolicyText = `{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Keep the last 30 images tagged prod*",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["prod"],
                "countType": "imageCountMoreThan",
                "countNumber": 30
            },
            "action": { "type": "expire" }
        }
    ]
}`;
const runbookPolicy = JSON.parse(runbookPolicyText);
const oldPolicy = { rules: [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 10 }, action: { type: 'expire' } }] };
const crossAccountPolicy = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'pull', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: ['ecr:BatchGetImage'] }],
};

const allTags: Tag[] = [
  { Key: 'Environment', Value: 'Production' },
  { Key: 'Project', Value: 'FinTechGlobal' },
  { Key: 'CostCenter', Value: 'CC-Corp' },
];

const notFound = () => awsError('RepositoryNotFoundException', "The repository with name 'fintech-api' does not exist");

/**
 * A small fake ECR (one repository) behind the mocks: reads answer from `world`, writes change
 * it, so a second plan or rollback sees what the first one did. Extra reply fields can be added
 * to the lifecycle and repository policy replies.
 */
interface World {
  repo: Repository;
  tags: Tag[];
  images: number;
  lifecycle?: string;
  lifecycleExtra?: Record<string, unknown>;
  policy?: string;
  policyExtra?: Record<string, unknown>;
}
let world: World | undefined;
let aws: AwsMocks;

const clone = <T>(value: T): T => structuredClone(value);
const need = () => {
  if (!world) throw notFound();
  return world;
};

beforeEach(() => {
  aws = mockAws();
  world = undefined;
  const e = aws.ecr;
  e.on(DescribeRepositoriesCommand).callsFake(async () => ({ repositories: [clone(need().repo)] }));
  e.on(ListTagsForResourceCommand).callsFake(async () => ({ tags: clone(need().tags) }));
  e.on(ListImagesCommand).callsFake(async () => ({
    imageIds: Array.from({ length: need().images }, (_, i) => ({ imageDigest: `sha256:${String(i).padStart(64, '0')}`, imageTag: `prod-0.${i}` })),
  }));
  e.on(GetLifecyclePolicyCommand).callsFake(async () => {
    const w = need();
    if (w.lifecycle === undefined) throw awsError('LifecyclePolicyNotFoundException', 'Lifecycle policy does not exist');
    return { registryId: '123456789012', repositoryName: 'fintech-api', lifecyclePolicyText: w.lifecycle, lastEvaluatedAt: new Date(), ...w.lifecycleExtra };
  });
  e.on(GetRepositoryPolicyCommand).callsFake(async () => {
    const w = need();
    if (w.policy === undefined) throw awsError('RepositoryPolicyNotFoundException', 'Repository policy does not exist');
    return { registryId: '123456789012', repositoryName: 'fintech-api', policyText: w.policy, ...w.policyExtra };
  });

  e.on(CreateRepositoryCommand).callsFake(async (input) => {
    if (world) throw awsError('RepositoryAlreadyExistsException', 'already exists');
    world = {
      repo: {
        ...inSyncRepo,
        imageTagMutability: input.imageTagMutability,
        imageScanningConfiguration: input.imageScanningConfiguration,
        encryptionConfiguration: { encryptionType: input.encryptionConfiguration.encryptionType, kmsKey: input.encryptionConfiguration.kmsKey ?? inventedKey },
      },
      tags: input.tags ?? [],
      images: 0,
    };
    return { repository: clone(world.repo) };
  });
  e.on(PutImageTagMutabilityCommand).callsFake(async (input) => {
    const w = need();
    w.repo.imageTagMutability = input.imageTagMutability;
    w.repo.imageTagMutabilityExclusionFilters = input.imageTagMutabilityExclusionFilters;
    return {};
  });
  e.on(PutImageScanningConfigurationCommand).callsFake(async (input) => {
    need().repo.imageScanningConfiguration = input.imageScanningConfiguration;
    return {};
  });
  e.on(TagResourceCommand).callsFake(async (input) => {
    const w = need();
    const keys = new Set(input.tags.map((t: Tag) => t.Key));
    w.tags = [...w.tags.filter((t) => !keys.has(t.Key)), ...input.tags];
    return {};
  });
  e.on(UntagResourceCommand).callsFake(async (input) => {
    const w = need();
    w.tags = w.tags.filter((t) => !input.tagKeys.includes(t.Key));
    return {};
  });
  e.on(PutLifecyclePolicyCommand).callsFake(async (input) => {
    need().lifecycle = input.lifecyclePolicyText;
    return {};
  });
  e.on(DeleteLifecyclePolicyCommand).callsFake(async () => {
    const w = need();
    if (w.lifecycle === undefined) throw awsError('LifecyclePolicyNotFoundException', 'Lifecycle policy does not exist');
    w.lifecycle = undefined;
    return {};
  });
  e.on(SetRepositoryPolicyCommand).callsFake(async (input) => {
    need().policy = input.policyText;
    return {};
  });
  e.on(DeleteRepositoryPolicyCommand).callsFake(async () => {
    const w = need();
    if (w.policy === undefined) throw awsError('RepositoryPolicyNotFoundException', 'Repository policy does not exist');
    w.policy = undefined;
    return {};
  });
  e.on(DeleteRepositoryCommand).callsFake(async (input) => {
    const w = need();
    if (w.images && !input.force) throw awsError('RepositoryNotEmptyException', 'cannot be deleted because it still contains images');
    world = undefined;
    return { repository: w.repo };
  });
});

/** The converged repository: what apply leaves behind. */
const converged = (over: Partial<World> = {}): World => ({ repo: clone(inSyncRepo), tags: clone(allTags), images: 0, lifecycle: runbookPolicyText, ...over });
const inputOf = (command: unknown, i = 0) => aws.ecr.commandCalls(command as never)[i].args[0].input as Record<string, unknown>;
const withKey = (kmsKey: string) => {
  const config = testConfig();
  return testContext({ config: { ...config, ecr: { ...config.ecr, kmsKey } } });
};

describe('ecr step (1.2)', () => {
  it('creates the repository (scanning, KMS, IMMUTABLE, tags), then its lifecycle policy; plan.actions are what apply sends', async () => {
    const recorder = new RecordingRecorder();
    const ctx = testContext({ recorder });
    const plan = await ecrStep.plan(ctx);
    expect(plan.before).toEqual({ repository: undefined, 'lifecycle-policy': undefined, 'repository-policy': { repositoryName: 'fintech-api' } });
    // A repository that does not exist has no repository policy: no change is shown for it.
    expect(plan.changes.map((c) => [c.resource, c.action])).toEqual([
      [resource, 'create'],
      [lifecycleResource, 'create'],
    ]);
    // A create shows the whole document it makes.
    expect(createdDocument(plan.changes[0])).toEqual({
      encryptionConfiguration: { encryptionType: 'KMS' },
      imageScanningConfiguration: { scanOnPush: true },
      imageTagMutability: 'IMMUTABLE',
      repositoryName: 'fintech-api',
      tags: { CostCenter: 'CC-Corp', Environment: 'Production', Project: 'FinTechGlobal' },
    });
    expect(plan.outputs).toEqual({ repositoryUri: '{{ref:ecr.repositoryUri}}', repositoryArn: '{{ref:ecr.repositoryArn}}' });
    // A missing repository is not looked into further.
    expect(aws.ecr.commandCalls(GetLifecyclePolicyCommand)).toHaveLength(0);
    expect(plan.actions.map((a) => `${a.service}:${a.operation}`)).toEqual(['ecr:CreateRepository', 'ecr:PutLifecyclePolicy']);

    const out = await ecrStep.apply(ctx, plan);
    expect(out).toEqual({ repositoryUri, repositoryArn });
    expect(writeCalls(aws)).toEqual(['ecr:CreateRepository', 'ecr:PutLifecyclePolicy']);
    expect(inputOf(CreateRepositoryCommand)).toEqual({
      repositoryName: 'fintech-api',
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfiguration: { encryptionType: 'KMS' },
      imageTagMutability: 'IMMUTABLE',
      tags: allTags,
    });
    expect(inputOf(CreateRepositoryCommand)).toEqual(plan.actions[0].input);
    expect(inputOf(PutLifecyclePolicyCommand).repositoryName).toBe('fintech-api');
    expect(JSON.parse(inputOf(PutLifecyclePolicyCommand).lifecyclePolicyText as string)).toEqual(runbookPolicy);
    expect(recorder.writes).toEqual([
      { step: 'ecr', resource, resourceId: 'repository', action: 'create', operation: 'CreateRepository' },
      { step: 'ecr', resource: lifecycleResource, resourceId: 'lifecycle-policy', action: 'update', operation: 'PutLifecyclePolicy' },
    ]);

    // Converged: the next plan is empty.
    expect((await ecrStep.plan(testContext())).actions).toEqual([]);
  });

  it('passes a configured KMS key to CreateRepository', async () => {
    const ctx = withKey(configuredKey);
    await ecrStep.apply(ctx, await ecrStep.plan(ctx));
    expect(inputOf(CreateRepositoryCommand).encryptionConfiguration).toEqual({ encryptionType: 'KMS', kmsKey: configuredKey });
    expect((await ecrStep.plan(ctx)).changes).toEqual([]);
  });

  it('plans nothing and writes nothing when in sync (policy compared by content, unconfigured kmsKey, registryId, lastEvaluatedAt ignored)', async () => {
    world = converged({ images: 3 });
    const ctx = testContext();
    const plan = await ecrStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    expect(plan.actions).toEqual([]);
    expect(plan.outputs).toEqual({ repositoryUri, repositoryArn });
    expect(plan.before.repository).toMatchObject({ encryptionConfiguration: { encryptionType: 'KMS', kmsKey: inventedKey }, imageCount: 3 });
    expect(plan.before['lifecycle-policy']).toMatchObject({ lifecyclePolicyText: runbookPolicy });
    expect(await ecrStep.apply(ctx, plan)).toEqual({ repositoryUri, repositoryArn });
    expect(writeCalls(aws)).toEqual([]);
  });

  it('reports drift field by field and sends exactly the converging commands', async () => {
    world = converged({
      repo: { ...inSyncRepo, imageTagMutability: 'MUTABLE', imageScanningConfiguration: { scanOnPush: false } },
      tags: [...allTags.slice(0, 2), { Key: 'Owner', Value: 'team-a' }],
      lifecycle: JSON.stringify(oldPolicy),
    });
    const ctx = testContext();
    const plan = await ecrStep.plan(ctx);
    expect(plan.changes).toEqual([
      {
        resource,
        action: 'update',
        fields: [
          { field: 'imageScanningConfiguration.scanOnPush', from: false, to: true },
          { field: 'imageTagMutability', from: 'MUTABLE', to: 'IMMUTABLE' },
          // Someone else's Owner tag is not compared.
          { field: 'tags.CostCenter', from: undefined, to: 'CC-Corp' },
        ],
      },
      {
        resource: lifecycleResource,
        action: 'update',
        fields: [
          { field: 'lifecyclePolicyText.rules.0.description', from: undefined, to: 'Keep the last 30 images tagged prod*' },
          { field: 'lifecyclePolicyText.rules.0.selection.countNumber', from: 10, to: 30 },
          { field: 'lifecyclePolicyText.rules.0.selection.tagPrefixList', from: undefined, to: ['prod'] },
          { field: 'lifecyclePolicyText.rules.0.selection.tagStatus', from: 'any', to: 'tagged' },
        ],
      },
    ]);
    const sent = ['ecr:PutImageTagMutability', 'ecr:PutImageScanningConfiguration', 'ecr:TagResource', 'ecr:PutLifecyclePolicy'];
    expect(plan.actions.map((a) => `${a.service}:${a.operation}`)).toEqual(sent);
    await ecrStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(sent);
    expect(inputOf(PutImageTagMutabilityCommand)).toEqual({ repositoryName: 'fintech-api', imageTagMutability: 'IMMUTABLE' });
    expect(inputOf(PutImageScanningConfigurationCommand)).toEqual({ repositoryName: 'fintech-api', imageScanningConfiguration: { scanOnPush: true } });
    expect(inputOf(TagResourceCommand)).toEqual({ resourceArn: repositoryArn, tags: [{ Key: 'CostCenter', Value: 'CC-Corp' }] });
    expect(JSON.parse(inputOf(PutLifecyclePolicyCommand).lifecyclePolicyText as string)).toEqual(runbookPolicy);
    expect(aws.ecr.commandCalls(UntagResourceCommand)).toHaveLength(0);
    expect((await ecrStep.plan(ctx)).actions).toEqual([]);
  });

  it('puts the lifecycle policy when the repository has none', async () => {
    world = converged({ lifecycle: undefined });
    const ctx = testContext();
    const plan = await ecrStep.plan(ctx);
    expect(plan.changes).toEqual([{ resource: lifecycleResource, action: 'update', fields: [{ field: 'lifecyclePolicyText', from: undefined, to: runbookPolicy }] }]);
    await ecrStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecr:PutLifecyclePolicy']);
  });

  it('removes a repository policy that appeared out of band (the runbook sets none)', async () => {
    world = converged({ policy: JSON.stringify(crossAccountPolicy) });
    const ctx = testContext();
    const plan = await ecrStep.plan(ctx);
    expect(plan.changes).toEqual([{ resource: policyResource, action: 'update', fields: [{ field: 'policyText', from: crossAccountPolicy, to: undefined }] }]);
    await ecrStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecr:DeleteRepositoryPolicy']);
    expect(inputOf(DeleteRepositoryPolicyCommand)).toEqual({ repositoryName: 'fintech-api' });
    expect((await ecrStep.plan(ctx)).actions).toEqual([]);
  });

  it('moves IMMUTABLE_WITH_EXCLUSION back to IMMUTABLE, the exclusion filters going with it', async () => {
    world = converged({
      repo: { ...inSyncRepo, imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'dev-*' }] },
    });
    const ctx = testContext();
    const plan = await ecrStep.plan(ctx);
    expect(plan.changes[0].fields?.map((f) => f.field)).toEqual(['imageTagMutability', 'imageTagMutabilityExclusionFilters']);
    await ecrStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecr:PutImageTagMutability']);
    expect(inputOf(PutImageTagMutabilityCommand)).toEqual({ repositoryName: 'fintech-api', imageTagMutability: 'IMMUTABLE' });
  });

  describe('the ignore lists are deny-lists: a field nobody thought of is drift (refused when no call changes it)', () => {
    it('repository', async () => {
      world = converged({ repo: { ...inSyncRepo, someNewField: { enabled: true } } as Repository });
      const error = await ecrStep.plan(testContext()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnsafeChangeError);
      expect(String(error)).toMatch(/ecr repository fintech-api: someNewField differ\(s\) and cannot be changed in place/);
      // A new field inside a compared object is drift as well (PutImageScanningConfiguration converges it).
      world = converged({ repo: { ...inSyncRepo, imageScanningConfiguration: { scanOnPush: true, scanFrequency: 'DAILY' } as never } });
      const plan = await ecrStep.plan(testContext());
      expect(plan.changes[0].fields).toEqual([{ field: 'imageScanningConfiguration.scanFrequency', from: 'DAILY', to: undefined }]);
      expect(plan.actions.map((a) => a.operation)).toEqual(['PutImageScanningConfiguration']);
      // What ECR sets itself is not drift.
      world = converged({ repo: { ...inSyncRepo, createdAt: new Date(), registryId: '999999999999', repositoryUri: 'elsewhere' }, images: 12 });
      expect((await ecrStep.plan(testContext())).changes).toEqual([]);
    });

    it('lifecycle policy', async () => {
      world = converged({ lifecycleExtra: { policyVersion: 2 } });
      const error = await ecrStep.plan(testContext()).catch((e: unknown) => e);
      expect(String(error)).toMatch(/lifecycle policy of ecr repository fintech-api: policyVersion differ\(s\)/);
      world = converged({ lifecycleExtra: { registryId: '999999999999', lastEvaluatedAt: new Date(0) } });
      expect((await ecrStep.plan(testContext())).changes).toEqual([]);
    });

    it('repository policy', async () => {
      const policy = JSON.stringify(crossAccountPolicy);
      world = converged({ policy, policyExtra: { policyVersion: 2 } });
      const error = await ecrStep.plan(testContext()).catch((e: unknown) => e);
      expect(String(error)).toMatch(/repository policy of ecr repository fintech-api: policyVersion differ\(s\)/);
      // registryId is ECR's: only the policy itself is drift.
      world = converged({ policy, policyExtra: { registryId: '999999999999' } });
      expect((await ecrStep.plan(testContext())).changes[0].fields?.map((f) => f.field)).toEqual(['policyText']);
    });
  });

  it('refuses a change of encryption (fixed at creation): a person must decide; nothing is written', async () => {
    world = converged({ repo: { ...inSyncRepo, encryptionConfiguration: { encryptionType: 'AES256' } } });
    const error = await ecrStep.plan(testContext()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeChangeError);
    expect((error as Error).message).toBe('ecr repository fintech-api: encryptionConfiguration differ(s) and cannot be changed in place; a person must decide');
    expect(writeCalls(aws)).toEqual([]);
  });

  it('compares kmsKey only when the config sets one; a key id and its ARN are the same key', async () => {
    world = converged();
    const error = await ecrStep.plan(withKey(configuredKey)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeChangeError);
    expect((error as Error).message).toContain('encryptionConfiguration differ(s)');
    const findings = await ecrStep.validate(withKey(configuredKey));
    expect(findings[1].reason).toContain(`encryptionConfiguration.kmsKey is ${inventedKey}, config wants ${configuredKey}`);
    expect((await ecrStep.plan(withKey('7eab49ee-dd4c-4f59-8546-79e7a204b69a'))).changes).toEqual([]);
    expect((await ecrStep.plan(testContext())).changes).toEqual([]);
  });

  it('adopts a repository whose CreateRepository reply was lost, when it is what the create makes (unit-tested: the lost reply is simulated)', async () => {
    aws.ecr.on(CreateRepositoryCommand).callsFakeOnce(async (input) => {
      world = { repo: { ...inSyncRepo }, tags: input.tags, images: 0 };
      throw new AmbiguousWriteError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    });
    const ctx = testContext();
    const out = await ecrStep.apply(ctx, await ecrStep.plan(ctx));
    expect(out).toEqual({ repositoryUri, repositoryArn });
    expect(writeCalls(aws)).toEqual(['ecr:CreateRepository', 'ecr:PutLifecyclePolicy']);
  });

  it('does not adopt a repository that someone else made meanwhile and that differs', async () => {
    aws.ecr.on(CreateRepositoryCommand).callsFakeOnce(async (input) => {
      world = { repo: { ...inSyncRepo, imageTagMutability: 'MUTABLE' }, tags: input.tags, images: 0 };
      throw new AmbiguousWriteError(new Error('socket hang up'));
    });
    const ctx = testContext();
    const error = await ecrStep.apply(ctx, await ecrStep.plan(ctx)).catch((e: unknown) => e);
    expect(String(error)).toMatch(/exists and differs from what this run creates \(imageTagMutability\)/);
    expect(writeCalls(aws)).toEqual(['ecr:CreateRepository']);
  });

  describe('rollback', () => {
    async function createdByThisRun() {
      const ctx = testContext();
      const plan = await ecrStep.plan(ctx);
      await ecrStep.apply(ctx, plan);
      aws.ecr.resetHistory();
      return { ctx, before: plan.before };
    }

    it('deletes the repository and lifecycle policy this run created (never with force); a second rollback does nothing', async () => {
      const { ctx, before } = await createdByThisRun();
      const created = new Set(['repository', 'lifecycle-policy']);
      const planned = await ecrStep.planRollback(ctx, before, created);
      expect(planned.actions.map((a) => a.operation)).toEqual(['DeleteLifecyclePolicy', 'DeleteRepository']);
      await ecrStep.rollback(ctx, before, created);
      expect(writeCalls(aws)).toEqual(['ecr:DeleteLifecyclePolicy', 'ecr:DeleteRepository']);
      expect(inputOf(DeleteRepositoryCommand)).toEqual({ repositoryName: 'fintech-api' });
      expect(await ecrStep.rollback(ctx, before, created)).toEqual([]);
      expect(writeCalls(aws)).toHaveLength(2);
    });

    it('never deletes a repository this run did not provably create, and says so', async () => {
      const { ctx, before } = await createdByThisRun();
      const notes = await ecrStep.rollback(ctx, before, new Set());
      expect(writeCalls(aws)).toEqual([]);
      expect(notes).toEqual([
        `${lifecycleResource}: not created by this run (no reply or token proves it), left as it is`,
        `${resource}: not created by this run (no reply or token proves it), left as it is`,
      ]);
    });

    it('keeps a repository this run created once it holds images, and says so', async () => {
      const { ctx, before } = await createdByThisRun();
      world!.images = 1;
      const notes = await ecrStep.rollback(ctx, before, new Set(['repository']));
      expect(writeCalls(aws)).toEqual([]);
      expect(notes).toContain(`${resource}: holds 1 image(s): never deleted`);
    });

    it('an image pushed between the count and the delete: ECR refuses the delete (no force) and the error is surfaced (unit-tested: a race)', async () => {
      const { ctx, before } = await createdByThisRun();
      aws.ecr.on(ListImagesCommand).resolvesOnce({ imageIds: [] });
      world!.images = 1;
      const error = await ecrStep.rollback(ctx, before, new Set(['repository'])).catch((e: unknown) => e);
      expect(describeAwsError(error)).toMatch(/^RepositoryNotEmptyException/);
      expect(inputOf(DeleteRepositoryCommand).force).toBeUndefined();
      expect(world).toBeDefined();
    });

    it('of a pre-existing repository with an image (the failed-apply e2e): removes the lifecycle policy and tags the run added, never deletes', async () => {
      world = { repo: clone(inSyncRepo), tags: [], images: 1 };
      const ctx = testContext();
      const plan = await ecrStep.plan(ctx);
      expect(plan.actions.map((a) => a.operation)).toEqual(['TagResource', 'PutLifecyclePolicy']);
      await ecrStep.apply(ctx, plan);
      aws.ecr.resetHistory();
      // Even a `created` set naming it does not delete what existed before.
      const created = new Set(['repository', 'lifecycle-policy']);
      await ecrStep.rollback(ctx, plan.before, created);
      expect(writeCalls(aws)).toEqual(['ecr:DeleteLifecyclePolicy', 'ecr:UntagResource']);
      expect(inputOf(UntagResourceCommand)).toEqual({ resourceArn: repositoryArn, tagKeys: ['Environment', 'Project', 'CostCenter'] });
      expect(world).toMatchObject({ tags: [], images: 1, lifecycle: undefined });
      await ecrStep.rollback(ctx, plan.before, created);
      expect(writeCalls(aws)).toHaveLength(2);
    });

    it('of a pre-existing repository converges everything back to before (mutability, scanning, both policies, managed tags); twice is a no-op', async () => {
      const filters = [{ filterType: 'WILDCARD' as const, filter: 'dev-*' }];
      world = {
        repo: { ...inSyncRepo, imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', imageTagMutabilityExclusionFilters: filters, imageScanningConfiguration: { scanOnPush: false } },
        tags: [{ Key: 'Environment', Value: 'Staging' }, { Key: 'Owner', Value: 'team-a' }],
        images: 5,
        lifecycle: JSON.stringify(oldPolicy),
        policy: JSON.stringify(crossAccountPolicy),
      };
      const ctx = testContext();
      const plan = await ecrStep.plan(ctx);
      await ecrStep.apply(ctx, plan);
      expect(world).toMatchObject({ policy: undefined, repo: { imageTagMutability: 'IMMUTABLE' } });
      aws.ecr.resetHistory();

      await ecrStep.rollback(ctx, plan.before, new Set());
      // Newest resource first: the repository policy, the lifecycle policy, then the repository.
      expect(writeCalls(aws)).toEqual([
        'ecr:SetRepositoryPolicy',
        'ecr:PutLifecyclePolicy',
        'ecr:PutImageTagMutability',
        'ecr:PutImageScanningConfiguration',
        'ecr:TagResource',
        'ecr:UntagResource',
      ]);
      expect(JSON.parse(inputOf(SetRepositoryPolicyCommand).policyText as string)).toEqual(crossAccountPolicy);
      expect(JSON.parse(inputOf(PutLifecyclePolicyCommand).lifecyclePolicyText as string)).toEqual(oldPolicy);
      expect(inputOf(PutImageTagMutabilityCommand)).toEqual({ repositoryName: 'fintech-api', imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', imageTagMutabilityExclusionFilters: filters });
      expect(inputOf(PutImageScanningConfigurationCommand).imageScanningConfiguration).toEqual({ scanOnPush: false });
      expect(inputOf(TagResourceCommand)).toEqual({ resourceArn: repositoryArn, tags: [{ Key: 'Environment', Value: 'Staging' }] });
      // Keys this run added go; someone else's Owner tag is left alone.
      expect(inputOf(UntagResourceCommand)).toEqual({ resourceArn: repositoryArn, tagKeys: ['Project', 'CostCenter'] });
      expect(world?.tags).toEqual([{ Key: 'Owner', Value: 'team-a' }, { Key: 'Environment', Value: 'Staging' }]);

      await ecrStep.rollback(ctx, plan.before, new Set());
      expect(writeCalls(aws)).toHaveLength(6);
      expect(aws.ecr.commandCalls(DeleteRepositoryCommand)).toHaveLength(0);
    });

    it('notes a pre-existing repository that is gone meanwhile, and writes nothing', async () => {
      world = converged();
      const ctx = testContext();
      const { before } = await ecrStep.plan(ctx);
      world = undefined;
      // Rolled back by a later command (undo): its own client set and read cache.
      const notes = await ecrStep.rollback(testContext(), before, new Set());
      expect(notes).toEqual([`${lifecycleResource} no longer exists; nothing to restore`, `${resource} no longer exists; nothing to restore`]);
      expect(writeCalls(aws)).toEqual([]);
    });
  });

  it('surfaces an AWS error with its name and request id', async () => {
    aws.ecr.on(DescribeRepositoriesCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform ecr:DescribeRepositories', 'req-ecr-7'));
    const error = await ecrStep.plan(testContext()).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('AccessDeniedException: not authorized to perform ecr:DescribeRepositories — request id req-ecr-7');
  });

  it('does not mistake another lifecycle- or repository-policy error for "no policy"', async () => {
    world = converged();
    aws.ecr.on(GetLifecyclePolicyCommand).rejectsOnce(awsError('ThrottlingException', 'Rate exceeded', 'req-ecr-8'));
    expect(describeAwsError(await ecrStep.plan(testContext()).catch((e: unknown) => e))).toBe('ThrottlingException: Rate exceeded — request id req-ecr-8');
    aws.ecr.on(GetRepositoryPolicyCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform ecr:GetRepositoryPolicy', 'req-ecr-9'));
    expect(describeAwsError(await ecrStep.plan(testContext()).catch((e: unknown) => e))).toMatch(/^AccessDeniedException/);
  });

  describe('validate', () => {
    it('passes an IMMUTABLE, scanning repository with its lifecycle policy and no repository policy', async () => {
      world = converged();
      const findings = await ecrStep.validate(testContext());
      expect(findings.map((f) => [f.check, f.status, f.resource])).toEqual([
        ['ECR Tag Mutability', 'OK', resource],
        ['ECR Repository', 'OK', resource],
        ['ECR Repository', 'OK', lifecycleResource],
        ['ECR Repository', 'OK', policyResource],
      ]);
      expect(findings[1].reason).toBe('scan on push enabled, encrypted with KMS');
    });

    it('fails 3.5 when tags are MUTABLE, and fails naming the fields without scanning, lifecycle policy, or with a repository policy', async () => {
      world = converged({
        repo: { ...inSyncRepo, imageTagMutability: 'MUTABLE', imageScanningConfiguration: { scanOnPush: false } },
        lifecycle: undefined,
        policy: JSON.stringify(crossAccountPolicy),
      });
      const findings = await ecrStep.validate(testContext());
      expect(findings.map((f) => [f.check, f.status])).toEqual([
        ['ECR Tag Mutability', 'FAIL'],
        ['ECR Repository', 'FAIL'],
        ['ECR Repository', 'FAIL'],
        ['ECR Repository', 'FAIL'],
      ]);
      expect(findings.map((f) => f.reason)).toEqual([
        // The resource column names the repository: the reasons do not repeat it.
        'image tag mutability MUTABLE, section 3.5 requires IMMUTABLE',
        'does not scan images on push; differs from the config: imageScanningConfiguration.scanOnPush is false, config wants true (run plan)',
        'does not exist: old images are never expired',
        'set, though the runbook sets none (policyText): apply removes it (run plan)',
      ]);
    });

    it('warns when the lifecycle policy differs, naming the fields', async () => {
      world = converged({ lifecycle: JSON.stringify(oldPolicy) });
      const finding = (await ecrStep.validate(testContext()))[2];
      expect(finding.status).toBe('WARN');
      expect(finding.reason).toContain('lifecyclePolicyText.rules.0.selection.countNumber');
    });

    it('fails both checks when the repository does not exist', async () => {
      const findings = await ecrStep.validate(testContext());
      expect(findings.map((f) => [f.check, f.status, f.reason])).toEqual([
        ['ECR Tag Mutability', 'FAIL', 'does not exist'],
        ['ECR Repository', 'FAIL', 'does not exist'],
      ]);
    });

    it('fails "could not be evaluated" when ECR cannot be read, never OK', async () => {
      world = converged();
      aws.ecr.on(ListTagsForResourceCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform ecr:ListTagsForResource', 'req-ecr-10'));
      const findings = await ecrStep.validate(testContext());
      expect(findings.map((f) => [f.check, f.status])).toEqual([
        ['ECR Tag Mutability', 'FAIL'],
        ['ECR Repository', 'FAIL'],
      ]);
      expect(findings[0].reason).toBe('could not be evaluated: AccessDeniedException: not authorized to perform ecr:ListTagsForResource — request id req-ecr-10');
    });
  });
});
