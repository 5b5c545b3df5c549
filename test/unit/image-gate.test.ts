// The image gate (issue 12) with mocks, for what moto cannot produce: scans in progress or failed,
// enhanced (Inspector) findings, several pages, and the severity threshold at each level. (moto's
// static scan result — one HIGH finding — and findings set through its API are exercised end to
// end in test/e2e/deploy.test.ts.)
import { DescribeImageScanFindingsCommand, DescribeImagesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { beforeEach, describe, expect, it } from 'vitest';
import { checkImage, enforceImageGate, ImageGateError } from '../../src/checks/image-gate.js';
import type { RunbookConfig } from '../../src/config.js';
import { awsError, mockAws, testConfig, type AwsMocks } from '../helpers/mock-aws.js';

const image = '123456789012.dkr.ecr.us-east-1.amazonaws.com/fintech-api:prod-1.4.2';
let aws: AwsMocks;
const ecr = () => new ECRClient({ region: 'us-east-1' });
const withThreshold = (blockSeverity: NonNullable<RunbookConfig['deploy']>['blockSeverity']): RunbookConfig => {
  const config = testConfig();
  return { ...config, deploy: { ...config.deploy, blockSeverity } };
};

function scan(findings: Array<{ name: string; severity: string }>, extra: Record<string, unknown> = {}) {
  const counts: Record<string, number> = {};
  for (const f of findings) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  return {
    imageScanStatus: { status: 'COMPLETE' as const, description: 'The scan was completed successfully.' },
    imageScanFindings: { findings: findings.map((f) => ({ ...f, severity: f.severity as 'HIGH' })), findingSeverityCounts: counts },
    ...extra,
  };
}

beforeEach(() => {
  aws = mockAws();
  aws.ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageTags: ['prod-1.4.2'] }] });
});

describe('image gate', () => {
  it('passes an image whose scan is COMPLETE with nothing at or above CRITICAL, and says what it found', async () => {
    aws.ecr.on(DescribeImageScanFindingsCommand).resolves(scan([{ name: 'CVE-2024-0001', severity: 'HIGH' }, { name: 'CVE-2024-0002', severity: 'LOW' }]));
    const verdict = await checkImage(ecr(), testConfig());
    expect(verdict).toMatchObject({ outcome: 'ok', image, counts: { HIGH: 1, LOW: 1 } });
    expect(verdict.reason).toBe(`${image}: scan COMPLETE, nothing at or above CRITICAL: 1 HIGH, 1 LOW (worst: CVE-2024-0001 HIGH, CVE-2024-0002 LOW)`);
    expect(aws.ecr.commandCalls(DescribeImagesCommand)[0].args[0].input).toEqual({ repositoryName: 'fintech-api', imageIds: [{ imageTag: 'prod-1.4.2' }] });
  });

  it('refuses findings at or above the threshold, naming the image, the counts by severity and the worst CVE ids', async () => {
    aws.ecr.on(DescribeImageScanFindingsCommand).resolves(
      scan([
        { name: 'CVE-2024-0003', severity: 'MEDIUM' },
        { name: 'CVE-2024-1111', severity: 'CRITICAL' },
        { name: 'CVE-2024-0004', severity: 'HIGH' },
        { name: 'CVE-2024-2222', severity: 'CRITICAL' },
      ]),
    );
    const error = await enforceImageGate(ecr(), testConfig()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageGateError);
    expect((error as ImageGateError).exitCode).toBe(1);
    expect((error as Error).message).toBe(
      `image gate: ${image} has findings at or above CRITICAL (deploy.blockSeverity): 2 CRITICAL, 1 HIGH, 1 MEDIUM ` +
        '(worst: CVE-2024-1111 CRITICAL, CVE-2024-2222 CRITICAL, CVE-2024-0004 HIGH, CVE-2024-0003 MEDIUM); nothing was changed. ' +
        'Deploy a fixed image, or pass --accept-findings to deploy this one anyway (journaled).',
    );
  });

  it.each([
    ['CRITICAL', 'HIGH', 'ok'],
    ['HIGH', 'HIGH', 'findings'],
    ['MEDIUM', 'HIGH', 'findings'],
    ['MEDIUM', 'LOW', 'ok'],
    ['INFORMATIONAL', 'INFORMATIONAL', 'findings'],
  ] as const)('blockSeverity %s with a %s finding: %s', async (threshold, severity, outcome) => {
    aws.ecr.on(DescribeImageScanFindingsCommand).resolves(scan([{ name: 'CVE-1', severity }]));
    expect((await checkImage(ecr(), withThreshold(threshold))).outcome).toBe(outcome);
  });

  it('UNDEFINED/UNTRIAGED findings have no severity yet: reported, never blocking', async () => {
    aws.ecr.on(DescribeImageScanFindingsCommand).resolves(scan([{ name: 'CVE-X', severity: 'UNDEFINED' }]));
    const verdict = await checkImage(ecr(), withThreshold('INFORMATIONAL'));
    expect(verdict).toMatchObject({ outcome: 'ok', counts: { UNDEFINED: 1 } });
  });

  it('an absent image is refused, and --accept-findings does not override it (ECS could not start it)', async () => {
    aws.ecr.on(DescribeImagesCommand).rejects(awsError('ImageNotFoundException', "The image with imageId {imageTag:'prod-1.4.2'} does not exist"));
    const error = await enforceImageGate(ecr(), testConfig(), true).catch((e: unknown) => e);
    expect((error as Error).message).toBe(`image gate: ${image} is not in repository fintech-api (push it first); nothing was changed.`);
    expect(aws.ecr.commandCalls(DescribeImageScanFindingsCommand)).toHaveLength(0);
  });

  it('a missing repository is an absent image', async () => {
    aws.ecr.on(DescribeImagesCommand).rejects(awsError('RepositoryNotFoundException', 'no repo'));
    expect(await checkImage(ecr(), testConfig())).toMatchObject({ outcome: 'absent', reason: `${image}: repository fintech-api does not exist` });
  });

  it.each([
    ['IN_PROGRESS', /scan is IN_PROGRESS.*could not be evaluated yet; retry when it completes/],
    ['FAILED', /scan is FAILED \(UnsupportedImageError\).*could not be evaluated/],
    ['FINDINGS_UNAVAILABLE', /scan is FINDINGS_UNAVAILABLE.*could not be evaluated/],
  ])('a scan that is %s cannot be judged: refused, never OK', async (status, reason) => {
    aws.ecr.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status: status as 'FAILED', description: status === 'FAILED' ? 'UnsupportedImageError' : undefined } });
    const verdict = await checkImage(ecr(), testConfig());
    expect(verdict.outcome).toBe('unscanned');
    expect(verdict.reason).toMatch(reason);
    await expect(enforceImageGate(ecr(), testConfig())).rejects.toThrow(ImageGateError);
  });

  it('an image never scanned (ScanNotFoundException) is refused; --accept-findings overrides it and says so', async () => {
    aws.ecr.on(DescribeImageScanFindingsCommand).rejects(awsError('ScanNotFoundException', 'no scan'));
    await expect(enforceImageGate(ecr(), testConfig())).rejects.toThrow(/has no scan, so its findings could not be evaluated/);
    const accepted = await enforceImageGate(ecr(), testConfig(), true);
    expect(accepted).toMatchObject({ accepted: true, verdict: { outcome: 'unscanned' } });
  });

  it('no permission to read the findings: could not be evaluated (refused), with the AWS error', async () => {
    aws.ecr.on(DescribeImageScanFindingsCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform: ecr:DescribeImageScanFindings'));
    const verdict = await checkImage(ecr(), testConfig());
    expect(verdict).toMatchObject({ outcome: 'unscanned' });
    expect(verdict.reason).toContain('AccessDeniedException');
  });

  it('enhanced scanning (ACTIVE, Inspector findings) across pages: the worst CVE on page 2 is named', async () => {
    aws.ecr
      .on(DescribeImageScanFindingsCommand)
      .resolvesOnce({
        imageScanStatus: { status: 'ACTIVE' },
        imageScanFindings: {
          findingSeverityCounts: { CRITICAL: 1, MEDIUM: 1 },
          enhancedFindings: [{ severity: 'MEDIUM', packageVulnerabilityDetails: { vulnerabilityId: 'CVE-2023-5555' } }],
        },
        nextToken: 'page-2',
      })
      .resolvesOnce({
        imageScanStatus: { status: 'ACTIVE' },
        imageScanFindings: { enhancedFindings: [{ severity: 'CRITICAL', packageVulnerabilityDetails: { vulnerabilityId: 'CVE-2024-9999' } }] },
      });
    const verdict = await checkImage(ecr(), testConfig());
    expect(verdict).toMatchObject({ outcome: 'findings', counts: { CRITICAL: 1, MEDIUM: 1 } });
    expect(verdict.worst).toEqual([{ id: 'CVE-2024-9999', severity: 'CRITICAL' }, { id: 'CVE-2023-5555', severity: 'MEDIUM' }]);
    expect(aws.ecr.commandCalls(DescribeImageScanFindingsCommand).map((c) => c.args[0].input.nextToken)).toEqual([undefined, 'page-2']);
  });

  it('a digest is looked up by digest', async () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    aws.ecr.on(DescribeImageScanFindingsCommand).resolves(scan([]));
    const config = testConfig();
    const verdict = await checkImage(ecr(), { ...config, inputs: { ...config.inputs, imageTag: digest } });
    expect(verdict).toMatchObject({ outcome: 'ok', image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/fintech-api@${digest}` });
    expect(aws.ecr.commandCalls(DescribeImagesCommand)[0].args[0].input.imageIds).toEqual([{ imageDigest: digest }]);
    expect(verdict.reason).toContain('no findings');
  });
});
