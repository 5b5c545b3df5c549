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
  type Repository,
} from '@aws-sdk/client-ecr';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ecrStep, type EcrState } from '../../steps/ecr.js';
import { describeAwsError, UnsafeChangeError } from '../../src/core/errors.js';
import { awsError, mockAws, RecordingRecorder, testConfig, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

const repositoryArn = 'arn:aws:ecr:us-east-1:123456789012:repository/fintech-api';
const repositoryUri = '123456789012.dkr.ecr.us-east-1.amazonaws.com/fintech-api';
const resource = 'ecr repository fintech-api';
// moto (and AWS with the AWS-managed key) report a key ARN nobody configured.
const inventedKey = 'arn:aws:kms:us-east-1:123456789012:key/7eab49ee-dd4c-4f59-8546-79e7a204b69a';

const inSyncRepo: Repository = {
  repositoryArn,
  repositoryName: 'fintech-api',
  repositoryUri,
  registryId: '123456789012',
  imageTagMutability: 'IMMUTABLE',
  imageScanningConfiguration: { scanOnPush: true },
  encryptionConfiguration: { encryptionType: 'KMS', kmsKey: inventedKey },
};

// The runbook's lifecycle-policy.json as an operator would have put it: same content, other layout.
const runbookPolicyText = `{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Keep last 30 production images",
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
const oldPolicyText = JSON.stringify({
  rules: [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 10 }, action: { type: 'expire' } }],
});

const allTags = [
  { Key: 'Environment', Value: 'Production' },
  { Key: 'Project', Value: 'FinTechGlobal' },
  { Key: 'CostCenter', Value: 'CC-Corp' },
];

const notFound = () => awsError('RepositoryNotFoundException', "The repository with name 'fintech-api' does not exist");
const noPolicy = () => awsError('LifecyclePolicyNotFoundException', 'Lifecycle policy does not exist');

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});

function mockRepository(repo: Repository, policyText: string | undefined, tags = allTags) {
  aws.ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [repo] });
  if (policyText === undefined) aws.ecr.on(GetLifecyclePolicyCommand).rejects(noPolicy());
  else aws.ecr.on(GetLifecyclePolicyCommand).resolves({ lifecyclePolicyText: policyText });
  aws.ecr.on(ListTagsForResourceCommand, { resourceArn: repositoryArn }).resolves({ tags });
}

describe('ecr step (1.2)', () => {
  it('creates the repository with scanning, KMS, IMMUTABLE and tags, then the lifecycle policy, when missing', async () => {
    aws.ecr.on(DescribeRepositoriesCommand).rejects(notFound());
    aws.ecr.on(CreateRepositoryCommand).resolves({ repository: inSyncRepo });
    aws.ecr.on(PutLifecyclePolicyCommand).resolves({});
    const recorder = new RecordingRecorder();
    const ctx = testContext({ recorder });

    const plan = await ecrStep.plan(ctx);
    expect(plan.before).toEqual({ exists: false });
    expect(plan.changes).toHaveLength(1);
    expect(plan.changes[0]).toMatchObject({ resource, action: 'create' });
    expect(plan.changes[0].fields?.map((f) => f.field)).toEqual(['imageTagMutability', 'scanOnPush', 'lifecyclePolicy', 'encryptionType', 'tags']);
    // A missing repository is not looked into further.
    expect(aws.ecr.commandCalls(GetLifecyclePolicyCommand)).toHaveLength(0);

    const out = await ecrStep.apply(ctx, plan);
    expect(out).toEqual({ repositoryUri, repositoryArn });
    expect(writeCalls(aws)).toEqual(['ecr:CreateRepository', 'ecr:PutLifecyclePolicy']);
    expect(aws.ecr.commandCalls(CreateRepositoryCommand)[0].args[0].input).toEqual({
      repositoryName: 'fintech-api',
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfiguration: { encryptionType: 'KMS' },
      imageTagMutability: 'IMMUTABLE',
      tags: allTags,
    });
    const put = aws.ecr.commandCalls(PutLifecyclePolicyCommand)[0].args[0].input;
    expect(put.repositoryName).toBe('fintech-api');
    expect(JSON.parse(put.lifecyclePolicyText!)).toEqual(runbookPolicy);
    expect(recorder.writes).toEqual([
      { step: 'ecr', resource, action: 'create', operation: 'CreateRepository' },
      { step: 'ecr', resource, action: 'update', operation: 'PutLifecyclePolicy' },
    ]);
  });

  it('passes a configured KMS key to CreateRepository', async () => {
    const config = testConfig();
    const kmsKey = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    aws.ecr.on(DescribeRepositoriesCommand).rejects(notFound());
    aws.ecr.on(CreateRepositoryCommand).resolves({ repository: inSyncRepo });
    aws.ecr.on(PutLifecyclePolicyCommand).resolves({});
    const ctx = testContext({ config: { ...config, ecr: { ...config.ecr, kmsKey } } });
    await ecrStep.apply(ctx, await ecrStep.plan(ctx));
    expect(aws.ecr.commandCalls(CreateRepositoryCommand)[0].args[0].input.encryptionConfiguration).toEqual({ encryptionType: 'KMS', kmsKey });
  });

  it('plans nothing and writes nothing when the repository matches (policy compared by content, unconfigured kmsKey ignored)', async () => {
    mockRepository(inSyncRepo, runbookPolicyText);
    const ctx = testContext();
    const plan = await ecrStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    expect(plan.outputs).toEqual({ repositoryUri, repositoryArn });
    expect(plan.before).toMatchObject({ exists: true, lifecyclePolicyText: runbookPolicyText, kmsKey: inventedKey });
    const out = await ecrStep.apply(ctx, plan);
    expect(out).toEqual({ repositoryUri, repositoryArn });
    expect(writeCalls(aws)).toEqual([]);
  });

  it('reports drift field by field and converges only what drifted', async () => {
    mockRepository(
      { ...inSyncRepo, imageTagMutability: 'MUTABLE', imageScanningConfiguration: { scanOnPush: false } },
      oldPolicyText,
      allTags.slice(0, 2),
    );
    aws.ecr.on(PutImageTagMutabilityCommand).resolves({});
    aws.ecr.on(PutImageScanningConfigurationCommand).resolves({});
    aws.ecr.on(PutLifecyclePolicyCommand).resolves({});
    aws.ecr.on(TagResourceCommand).resolves({});
    const ctx = testContext();
    const plan = await ecrStep.plan(ctx);
    expect(plan.changes).toEqual([
      {
        resource,
        action: 'update',
        fields: [
          { field: 'imageTagMutability', from: 'MUTABLE', to: 'IMMUTABLE' },
          { field: 'scanOnPush', from: false, to: true },
          { field: 'lifecyclePolicy', from: JSON.parse(oldPolicyText), to: runbookPolicy },
          { field: 'tags.CostCenter', from: undefined, to: 'CC-Corp' },
        ],
      },
    ]);
    await ecrStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecr:PutImageTagMutability', 'ecr:PutImageScanningConfiguration', 'ecr:PutLifecyclePolicy', 'ecr:TagResource']);
    expect(aws.ecr.commandCalls(PutImageTagMutabilityCommand)[0].args[0].input).toEqual({ repositoryName: 'fintech-api', imageTagMutability: 'IMMUTABLE' });
    expect(aws.ecr.commandCalls(PutImageScanningConfigurationCommand)[0].args[0].input).toEqual({
      repositoryName: 'fintech-api',
      imageScanningConfiguration: { scanOnPush: true },
    });
    expect(JSON.parse(aws.ecr.commandCalls(PutLifecyclePolicyCommand)[0].args[0].input.lifecyclePolicyText!)).toEqual(runbookPolicy);
    expect(aws.ecr.commandCalls(TagResourceCommand)[0].args[0].input).toEqual({ resourceArn: repositoryArn, tags: [{ Key: 'CostCenter', Value: 'CC-Corp' }] });
  });

  it('writes only the tag mutability when that is the only drift', async () => {
    mockRepository({ ...inSyncRepo, imageTagMutability: 'MUTABLE' }, runbookPolicyText);
    aws.ecr.on(PutImageTagMutabilityCommand).resolves({});
    const ctx = testContext();
    const plan = await ecrStep.plan(ctx);
    expect(plan.changes[0].fields).toEqual([{ field: 'imageTagMutability', from: 'MUTABLE', to: 'IMMUTABLE' }]);
    await ecrStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecr:PutImageTagMutability']);
  });

  it('puts the lifecycle policy when the repository has none', async () => {
    mockRepository(inSyncRepo, undefined);
    aws.ecr.on(PutLifecyclePolicyCommand).resolves({});
    const ctx = testContext();
    const plan = await ecrStep.plan(ctx);
    expect(plan.changes[0].fields).toEqual([{ field: 'lifecyclePolicy', from: undefined, to: runbookPolicy }]);
    await ecrStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['ecr:PutLifecyclePolicy']);
  });

  it('refuses to plan when the encryption type drifted: the repository would have to be replaced by a person', async () => {
    mockRepository({ ...inSyncRepo, encryptionConfiguration: { encryptionType: 'AES256' } }, runbookPolicyText);
    const error = await ecrStep.plan(testContext()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeChangeError);
    expect((error as Error).message).toContain('encryptionType is AES256, config wants KMS');
    expect((error as Error).message).toContain('would have to be replaced');
    expect((error as Error).message).toContain('a person must decide');
    expect(writeCalls(aws)).toEqual([]);
  });

  it('compares kmsKey only when it is configured', async () => {
    const config = testConfig();
    const kmsKey = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    mockRepository(inSyncRepo, runbookPolicyText);
    const error = await ecrStep
      .plan(testContext({ config: { ...config, ecr: { ...config.ecr, kmsKey } } }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeChangeError);
    expect((error as Error).message).toContain(`kmsKey is ${inventedKey}, config wants ${kmsKey}`);
    // The same key given as a key id is the same key.
    const sameKey = await ecrStep.plan(
      testContext({ config: { ...config, ecr: { ...config.ecr, kmsKey: '7eab49ee-dd4c-4f59-8546-79e7a204b69a' } } }),
    );
    expect(sameKey.changes).toEqual([]);
  });

  it('rollback deletes an empty repository this run created (never with force), and a second rollback does nothing', async () => {
    aws.ecr.on(DescribeRepositoriesCommand).resolvesOnce({ repositories: [inSyncRepo] }).rejects(notFound());
    aws.ecr.on(ListImagesCommand).resolves({ imageIds: [] });
    aws.ecr.on(DeleteRepositoryCommand).resolves({});
    const ctx = testContext();
    await ecrStep.rollback(ctx, { exists: false });
    await ecrStep.rollback(ctx, { exists: false });
    expect(writeCalls(aws)).toEqual(['ecr:DeleteRepository']);
    expect(aws.ecr.commandCalls(DeleteRepositoryCommand)[0].args[0].input).toEqual({ repositoryName: 'fintech-api' });
  });

  it('rollback keeps a repository this run created once it holds images, and says so', async () => {
    aws.ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [inSyncRepo] });
    aws.ecr.on(ListImagesCommand).resolves({ imageIds: [{ imageDigest: `sha256:${'a'.repeat(64)}`, imageTag: 'prod-1.4.2' }] });
    const report = vi.fn();
    await ecrStep.rollback(testContext({ report }), { exists: false });
    expect(writeCalls(aws)).toEqual([]);
    expect(report).toHaveBeenCalledWith(expect.stringMatching(/kept ecr repository fintech-api: it holds images/));
  });

  it('rollback keeps the repository when an image arrives between the check and the delete', async () => {
    aws.ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [inSyncRepo] });
    aws.ecr.on(ListImagesCommand).resolves({ imageIds: [] });
    aws.ecr.on(DeleteRepositoryCommand).rejects(awsError('RepositoryNotEmptyException', 'cannot be deleted because it still contains images'));
    const report = vi.fn();
    await ecrStep.rollback(testContext({ report }), { exists: false });
    expect(aws.ecr.commandCalls(DeleteRepositoryCommand)[0].args[0].input.force).toBeUndefined();
    expect(report).toHaveBeenCalledWith(expect.stringContaining('kept ecr repository fintech-api'));
  });

  it('rollback of a pre-existing repository restores mutability, scanning, lifecycle policy and tags, never deletes', async () => {
    const before: EcrState = {
      exists: true,
      repositoryArn,
      repositoryUri,
      imageTagMutability: 'MUTABLE',
      scanOnPush: false,
      encryptionType: 'KMS',
      kmsKey: inventedKey,
      lifecyclePolicyText: oldPolicyText,
      tags: { Environment: 'Staging', Owner: 'team-a' },
    };
    const restored = { ...inSyncRepo, imageTagMutability: 'MUTABLE' as const, imageScanningConfiguration: { scanOnPush: false } };
    aws.ecr.on(DescribeRepositoriesCommand).resolvesOnce({ repositories: [inSyncRepo] }).resolves({ repositories: [restored] });
    aws.ecr.on(GetLifecyclePolicyCommand).resolvesOnce({ lifecyclePolicyText: runbookPolicyText }).resolves({ lifecyclePolicyText: oldPolicyText });
    aws.ecr
      .on(ListTagsForResourceCommand)
      .resolvesOnce({ tags: [...allTags, { Key: 'Owner', Value: 'team-a' }] })
      .resolves({ tags: [{ Key: 'Environment', Value: 'Staging' }, { Key: 'Owner', Value: 'team-a' }] });
    aws.ecr.on(PutImageTagMutabilityCommand).resolves({});
    aws.ecr.on(PutImageScanningConfigurationCommand).resolves({});
    aws.ecr.on(PutLifecyclePolicyCommand).resolves({});
    aws.ecr.on(UntagResourceCommand).resolves({});
    aws.ecr.on(TagResourceCommand).resolves({});
    const ctx = testContext();
    await ecrStep.rollback(ctx, before);
    expect(writeCalls(aws)).toEqual([
      'ecr:PutImageTagMutability',
      'ecr:PutImageScanningConfiguration',
      'ecr:PutLifecyclePolicy',
      'ecr:UntagResource',
      'ecr:TagResource',
    ]);
    expect(aws.ecr.commandCalls(PutImageTagMutabilityCommand)[0].args[0].input).toEqual({ repositoryName: 'fintech-api', imageTagMutability: 'MUTABLE' });
    expect(aws.ecr.commandCalls(PutImageScanningConfigurationCommand)[0].args[0].input.imageScanningConfiguration).toEqual({ scanOnPush: false });
    // The previous document exactly as it was.
    expect(aws.ecr.commandCalls(PutLifecyclePolicyCommand)[0].args[0].input.lifecyclePolicyText).toBe(oldPolicyText);
    // Keys this run added go; someone else's Owner tag is left alone.
    expect(aws.ecr.commandCalls(UntagResourceCommand)[0].args[0].input).toEqual({ resourceArn: repositoryArn, tagKeys: ['Project', 'CostCenter'] });
    expect(aws.ecr.commandCalls(TagResourceCommand)[0].args[0].input).toEqual({ resourceArn: repositoryArn, tags: [{ Key: 'Environment', Value: 'Staging' }] });

    await ecrStep.rollback(ctx, before);
    expect(writeCalls(aws)).toHaveLength(5);
    expect(aws.ecr.commandCalls(DeleteRepositoryCommand)).toHaveLength(0);
  });

  it('rollback deletes the lifecycle policy when there was none before, and only once', async () => {
    const before: EcrState = {
      exists: true,
      repositoryArn,
      repositoryUri,
      imageTagMutability: 'IMMUTABLE',
      scanOnPush: true,
      encryptionType: 'KMS',
      tags: Object.fromEntries(allTags.map((t) => [t.Key, t.Value])),
    };
    aws.ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [inSyncRepo] });
    aws.ecr.on(GetLifecyclePolicyCommand).resolvesOnce({ lifecyclePolicyText: runbookPolicyText }).rejects(noPolicy());
    aws.ecr.on(ListTagsForResourceCommand).resolves({ tags: allTags });
    aws.ecr.on(DeleteLifecyclePolicyCommand).resolves({});
    const ctx = testContext();
    await ecrStep.rollback(ctx, before);
    await ecrStep.rollback(ctx, before);
    expect(writeCalls(aws)).toEqual(['ecr:DeleteLifecyclePolicy']);
    expect(aws.ecr.commandCalls(DeleteLifecyclePolicyCommand)[0].args[0].input).toEqual({ repositoryName: 'fintech-api' });
  });

  it('rollback without a recorded before does nothing', async () => {
    await ecrStep.rollback(testContext(), undefined);
    expect(aws.ecr.calls()).toHaveLength(0);
  });

  it('surfaces an AWS error with its name and request id', async () => {
    aws.ecr.on(DescribeRepositoriesCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform ecr:DescribeRepositories', 'req-ecr-7'));
    const error = await ecrStep.plan(testContext()).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('AccessDeniedException: not authorized to perform ecr:DescribeRepositories — request id req-ecr-7');
  });

  it('does not mistake another lifecycle-policy error for "no policy"', async () => {
    aws.ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [inSyncRepo] });
    aws.ecr.on(GetLifecyclePolicyCommand).rejects(awsError('ThrottlingException', 'Rate exceeded', 'req-ecr-8'));
    aws.ecr.on(ListTagsForResourceCommand).resolves({ tags: allTags });
    const error = await ecrStep.plan(testContext()).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('ThrottlingException: Rate exceeded — request id req-ecr-8');
  });

  it('validate passes an IMMUTABLE, scanning repository with its lifecycle policy', async () => {
    mockRepository(inSyncRepo, runbookPolicyText);
    const findings = await ecrStep.validate(testContext());
    expect(findings.map((f) => [f.check, f.status])).toEqual([
      ['ECR Tag Mutability', 'OK'],
      ['ECR Repository', 'OK'],
      ['ECR Repository', 'OK'],
      ['ECR Repository', 'OK'],
    ]);
  });

  it('validate fails 3.5 naming the repository when tags are MUTABLE, and fails without scanning or lifecycle policy', async () => {
    mockRepository({ ...inSyncRepo, imageTagMutability: 'MUTABLE', imageScanningConfiguration: { scanOnPush: false } }, undefined);
    const findings = await ecrStep.validate(testContext());
    expect(findings[0]).toEqual({
      check: 'ECR Tag Mutability',
      status: 'FAIL',
      resource,
      reason: 'repository fintech-api has image tag mutability MUTABLE, section 3.5 requires IMMUTABLE',
    });
    expect(findings.filter((f) => f.status === 'FAIL').map((f) => f.reason)).toEqual([
      'repository fintech-api has image tag mutability MUTABLE, section 3.5 requires IMMUTABLE',
      'repository fintech-api does not scan images on push',
      'repository fintech-api has no lifecycle policy',
    ]);
  });

  it('validate fails both checks when the repository does not exist', async () => {
    aws.ecr.on(DescribeRepositoriesCommand).rejects(notFound());
    const findings = await ecrStep.validate(testContext());
    expect(findings.map((f) => [f.check, f.status])).toEqual([
      ['ECR Tag Mutability', 'FAIL'],
      ['ECR Repository', 'FAIL'],
    ]);
  });
});
