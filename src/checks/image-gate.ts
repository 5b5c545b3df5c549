// The image gate (issue 12): before `deploy` (or an `apply` that changes the image) writes
// anything, the release image must be in the repository, its scan (the runbook turns scan on
// push on) must be finished, and it must have no finding at or above `deploy.blockSeverity`
// (default CRITICAL). Read-only: DescribeImages and DescribeImageScanFindings.
import { DescribeImageScanFindingsCommand, DescribeImagesCommand, type DescribeImageScanFindingsCommandOutput, type ECRClient } from '@aws-sdk/client-ecr';
import { names, type RunbookConfig } from '../config.js';
import { describeAwsError, isAwsError, RunbookError } from '../core/errors.js';

/** Worst first. UNDEFINED (basic) and UNTRIAGED (Inspector) have no severity yet: reported, never blocking. */
const RANK: Record<string, number> = { CRITICAL: 5, HIGH: 4, MEDIUM: 3, LOW: 2, INFORMATIONAL: 1 };
const rank = (severity: string | undefined) => RANK[severity ?? ''] ?? 0;

/**
 * Scan statuses whose findings are final: COMPLETE (basic scanning, and enhanced scanning's
 * first scan), ACTIVE (enhanced scanning: scanned, and rescanned continuously). Anything else
 * (IN_PROGRESS, PENDING, FAILED, UNSUPPORTED_IMAGE, FINDINGS_UNAVAILABLE, …) cannot be judged.
 */
const FINAL = new Set(['COMPLETE', 'ACTIVE']);

export interface ImageGateVerdict {
  /** The full image reference the task definition will name. */
  image: string;
  outcome: 'ok' | 'absent' | 'unscanned' | 'findings';
  /** One sentence: what was found, or why it could not be judged. */
  reason: string;
  scanStatus?: string;
  /** Findings per severity (the scan's own counts). */
  counts: Record<string, number>;
  /** The worst few findings, worst first. */
  worst: Array<{ id: string; severity: string }>;
}

export class ImageGateError extends RunbookError {
  constructor(readonly verdict: ImageGateVerdict) {
    const override = verdict.outcome === 'absent' ? '' : ' Deploy a fixed image, or pass --accept-findings to deploy this one anyway (journaled).';
    super(`image gate: ${verdict.reason}; nothing was changed.${override}`);
  }
}

const imageId = (ref: string) => (ref.startsWith('sha256:') ? { imageDigest: ref } : { imageTag: ref });

export function describeCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts).filter(([, n]) => n > 0).sort(([a], [b]) => rank(b) - rank(a));
  return entries.length ? entries.map(([severity, n]) => `${n} ${severity}`).join(', ') : 'no findings';
}

type Findings = NonNullable<DescribeImageScanFindingsCommandOutput['imageScanFindings']>;

function findingsOf(page: Findings): Array<{ id: string; severity: string }> {
  const basic = (page.findings ?? []).map((f) => ({ id: f.name ?? f.uri ?? '?', severity: f.severity ?? 'UNDEFINED' }));
  const enhanced = (page.enhancedFindings ?? []).map((f) => ({
    id: f.packageVulnerabilityDetails?.vulnerabilityId ?? f.title ?? f.findingArn ?? '?',
    severity: f.severity ?? 'UNTRIAGED',
  }));
  return [...basic, ...enhanced];
}

/** The gate's verdict on the image the config names (`inputs.imageTag`); never throws on a finding. */
export async function checkImage(ecr: ECRClient, config: RunbookConfig): Promise<ImageGateVerdict> {
  const repositoryName = config.ecr.repositoryName;
  const reference = config.inputs.imageTag;
  const image = names.apiImage(config);
  const base = { image, counts: {}, worst: [] };
  try {
    await ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [imageId(reference)] }));
  } catch (error) {
    if (isAwsError(error, 'ImageNotFoundException')) return { ...base, outcome: 'absent', reason: `${image} is not in repository ${repositoryName} (push it first)` };
    if (isAwsError(error, 'RepositoryNotFoundException')) return { ...base, outcome: 'absent', reason: `${image}: repository ${repositoryName} does not exist` };
    throw error;
  }

  const pages: Findings[] = [];
  let scanStatus: string | undefined;
  let description: string | undefined;
  try {
    let nextToken: string | undefined;
    // Bounded: the counts are the scan's own; the pages only name the worst findings.
    for (let page = 0; page < 50; page++) {
      const reply = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName, imageId: imageId(reference), maxResults: 1000, nextToken }));
      scanStatus ??= reply.imageScanStatus?.status;
      description ??= reply.imageScanStatus?.description;
      if (reply.imageScanFindings) pages.push(reply.imageScanFindings);
      nextToken = reply.nextToken;
      if (!nextToken || !FINAL.has(scanStatus ?? '')) break;
    }
  } catch (error) {
    if (isAwsError(error, 'ScanNotFoundException')) {
      return { ...base, outcome: 'unscanned', reason: `${image} has no scan, so its findings could not be evaluated (scan on push off when it was pushed? \`aws ecr start-image-scan\`)` };
    }
    return { ...base, outcome: 'unscanned', reason: `${image}: its scan findings could not be evaluated: ${describeAwsError(error)}` };
  }
  if (!FINAL.has(scanStatus ?? '')) {
    return {
      ...base,
      scanStatus,
      outcome: 'unscanned',
      reason: `${image}: its scan is ${scanStatus ?? 'of unknown status'}${description ? ` (${description})` : ''}, not COMPLETE: its findings could not be evaluated${scanStatus === 'IN_PROGRESS' || scanStatus === 'PENDING' ? ' yet; retry when it completes' : ''}`,
    };
  }

  const all = pages.flatMap(findingsOf);
  const reported = pages[0]?.findingSeverityCounts;
  const counts: Record<string, number> = reported && Object.keys(reported).length ? { ...reported } : {};
  if (!reported || !Object.keys(reported).length) for (const f of all) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  const threshold = rank(config.deploy?.blockSeverity ?? 'CRITICAL');
  const worst = [...new Map(all.sort((a, b) => rank(b.severity) - rank(a.severity)).map((f) => [f.id, f])).values()].slice(0, 5);
  const blocking = Object.entries(counts).some(([severity, n]) => n > 0 && rank(severity) >= threshold);
  const summary = `${describeCounts(counts)}${worst.length ? ` (worst: ${worst.map((f) => `${f.id} ${f.severity}`).join(', ')})` : ''}`;
  const blockAt = config.deploy?.blockSeverity ?? 'CRITICAL';
  return blocking
    ? { image, scanStatus, counts, worst, outcome: 'findings', reason: `${image} has findings at or above ${blockAt} (deploy.blockSeverity): ${summary}` }
    : { image, scanStatus, counts, worst, outcome: 'ok', reason: `${image}: scan ${scanStatus}, nothing at or above ${blockAt}: ${summary}` };
}

export interface GateDecision {
  verdict: ImageGateVerdict;
  /** Refused by the gate but deployed on the operator's explicit --accept-findings. */
  accepted: boolean;
}

/**
 * Run the gate; throw ImageGateError (exit 1, before any write) unless it passes or the operator
 * accepted the findings. An absent image is never accepted: ECS could not start it.
 */
export async function enforceImageGate(ecr: ECRClient, config: RunbookConfig, acceptFindings = false): Promise<GateDecision> {
  const verdict = await checkImage(ecr, config);
  if (verdict.outcome === 'ok') return { verdict, accepted: false };
  if (acceptFindings && verdict.outcome !== 'absent') return { verdict, accepted: true };
  throw new ImageGateError(verdict);
}

/** What the journal's run-start keeps of the gate. */
export const gateJournal = (decision: GateDecision) => ({
  image: decision.verdict.image,
  outcome: decision.verdict.outcome,
  counts: decision.verdict.counts,
  ...(decision.accepted ? { acceptedFindings: true, reason: decision.verdict.reason } : {}),
});

