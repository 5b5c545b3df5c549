// The evidence report's schema (src/commands/evidence.ts), as an auditor relies on it: every field
// present (null where there is no value, never missing). Unit and e2e tests parse reports with it.
import { z } from 'zod';

const nullableString = z.string().min(1).nullable();

export const evidenceResultSchema = z.strictObject({
  id: z.string().min(1),
  controls: z.array(z.string().min(1)),
  checklist: z.array(z.string().regex(/^3\.\d$/)),
  check: z.string().min(1),
  title: z.string().min(1),
  resource: z.string().min(1),
  resourceArn: z.string().startsWith('arn:').nullable(),
  status: z.enum(['OK', 'FAIL', 'WARN', 'SKIP']),
  reason: z.string(),
  observed: z.unknown().refine((v) => v !== undefined, 'observed must be present (null when none)'),
  requestId: nullableString,
  requestIdSource: z.enum(['finding', 'last-read', 'none']),
  readBy: z.string().regex(/^[a-z0-9]+:[A-Za-z]+$/).nullable(),
});

export const evidenceSchema = z.strictObject({
  format: z.literal('fintech-runbook/evidence@1'),
  tool: z.strictObject({ name: z.literal('fintech-runbook'), version: z.string().regex(/^\d+\.\d+\.\d+/) }),
  command: z.literal('validate'),
  config: z.strictObject({ file: z.string().min(1), hash: z.string().regex(/^sha256:[0-9a-f]{64}$/) }),
  account: z.string().regex(/^\d{12}$/),
  region: z.string().min(1),
  cluster: z.string().min(1),
  caller: z.strictObject({ arn: z.string().startsWith('arn:'), account: z.string().regex(/^\d{12}$/), userId: z.string() }),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  steps: z.array(z.string().min(1)).min(1),
  summary: z.strictObject({ ok: z.boolean(), total: z.number().int(), OK: z.number().int(), FAIL: z.number().int(), WARN: z.number().int(), SKIP: z.number().int() }),
  results: z.array(evidenceResultSchema).min(1),
  controls: z.array(
    z.strictObject({
      id: z.string().min(1),
      title: z.string().min(1),
      source: z.string().min(1),
      severity: z.string().min(1),
      passes: z.string().min(1),
      resourceType: z.string().min(1),
      checklist: z.array(z.string()),
      differs: z.string().nullable(),
    }),
  ),
  reads: z.array(
    z.strictObject({
      call: z.string().regex(/^[a-z0-9]+:[A-Za-z]+$/),
      requestId: z.string().nullable(),
      httpStatusCode: z.number().int().nullable(),
      error: z.string().nullable(),
      at: z.iso.datetime(),
      input: z.unknown(),
    }),
  ),
  calls: z.strictObject({ reads: z.number().int().min(1), writes: z.literal(0) }),
});

export type EvidenceDocument = z.infer<typeof evidenceSchema>;
