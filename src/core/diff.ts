// Field-level comparison of desired (config) and observed (Describe*) values.
import { isDeepStrictEqual } from 'node:util';
import type { FieldDiff } from './step.js';

/** Sort object keys recursively so that two JSON documents compare by content. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

export function sameValue(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(canonical(a), canonical(b));
}

/** One FieldDiff per field whose desired value differs from the observed one. */
export function diffFields(desired: Record<string, unknown>, observed: Record<string, unknown>): FieldDiff[] {
  return Object.entries(desired)
    .filter(([field, to]) => !sameValue(observed[field], to))
    .map(([field, to]) => ({ field, from: observed[field], to }));
}

/** Tags the config wants that are missing or different. Extra tags someone else set are left alone. */
export function missingTags(
  desired: Record<string, string>,
  observed: Array<{ key?: string; value?: string; Key?: string; Value?: string }> | undefined,
): Record<string, string> {
  const have = new Map((observed ?? []).map((t) => [t.key ?? t.Key, t.value ?? t.Value]));
  return Object.fromEntries(Object.entries(desired).filter(([key, value]) => have.get(key) !== value));
}

export function tagsAsDiff(missing: Record<string, string>, observed: Array<{ key?: string; value?: string; Key?: string; Value?: string }> | undefined): FieldDiff[] {
  const have = new Map((observed ?? []).map((t) => [t.key ?? t.Key, t.value ?? t.Value]));
  return Object.entries(missing).map(([key, value]) => ({ field: `tags.${key}`, from: have.get(key), to: value }));
}

/** IAM returns policy documents URL-encoded; parse either form. */
export function parsePolicyDocument(document: string | undefined): unknown {
  if (!document) return undefined;
  const text = document.trim().startsWith('%') ? decodeURIComponent(document) : document;
  return normalisePolicy(JSON.parse(text));
}

/** IAM accepts a string or a one-element array for Action/Resource: compare in one form. */
export function normalisePolicy(policy: unknown): unknown {
  if (!policy || typeof policy !== 'object') return policy;
  const doc = policy as { Statement?: unknown };
  const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
  return canonical({
    ...doc,
    Statement: statements.map((statement: Record<string, unknown>) => {
      const out: Record<string, unknown> = { ...statement };
      for (const key of ['Action', 'Resource', 'NotAction', 'NotResource']) {
        if (typeof out[key] === 'string') out[key] = [out[key]];
        if (Array.isArray(out[key])) out[key] = [...(out[key] as string[])].sort();
      }
      return out;
    }),
  });
}

/**
 * How to put the tags this tool manages back to `before`: keys the run added are removed, values
 * it changed are restored. Tags outside `managed` were never touched and stay as they are.
 */
export function tagsToRestore(
  before: Record<string, string>,
  current: Record<string, string>,
  managed: Record<string, string>,
): { untag: string[]; retag: Record<string, string> } {
  const untag = Object.keys(current).filter((key) => key in managed && !(key in before));
  const retag = Object.fromEntries(
    Object.entries(before).filter(([key, value]) => key in managed && current[key] !== value),
  );
  return { untag, retag };
}

export const tagRecord = (tags: Array<{ key?: string; value?: string; Key?: string; Value?: string }> | undefined) =>
  Object.fromEntries((tags ?? []).map((t) => [t.key ?? t.Key ?? '', t.value ?? t.Value ?? '']));

/** ECS spells tags `{ key, value }`. */
export const ecsTagList = (tags: Record<string, string>) => Object.entries(tags).map(([key, value]) => ({ key, value }));
/** ECR, IAM and ELBv2 spell tags `{ Key, Value }`. */
export const awsTagList = (tags: Record<string, string>) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
