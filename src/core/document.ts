// Whole-document comparison (DESIGN.md §3). Desired and observed are documents of the same shape
// (the SDK's create/register/put input); EVERYTHING is compared except a short, documented
// deny-list per resource type of fields AWS sets itself. A field nobody thought of is drift.
import { isDeepStrictEqual } from 'node:util';
import type { FieldDiff } from './step.js';

export type Doc = Record<string, unknown>;

/**
 * Dotted paths that are never compared, e.g. `clusterArn` or `containerDefinitions.*.hostPort`.
 * `*` matches one segment (an array index or a map key). Each entry says why in its resource's file.
 */
export type IgnoreList = readonly string[];

/** Drop undefined, empty arrays and empty objects: AWS reports `mountPoints: []` where we send nothing. */
export function prune(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(prune).filter((item) => item !== undefined);
    return items.length ? items : undefined;
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .map(([key, item]) => [key, prune(item)] as const)
      .filter(([, item]) => item !== undefined);
    return entries.length ? Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : undefined;
  }
  return value;
}

function ignored(path: string[], ignore: IgnoreList): boolean {
  return ignore.some((pattern) => {
    const parts = pattern.split('.');
    // A pattern matches the path itself or any field below it.
    return parts.length <= path.length && parts.every((part, i) => part === '*' || part === path[i]);
  });
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Remove the ignored paths from a document (for display and for saved-plan comparison). */
export function withoutIgnored(value: unknown, ignore: IgnoreList, path: string[] = []): unknown {
  if (ignored(path, ignore) && path.length) return undefined;
  if (Array.isArray(value)) return value.map((item, i) => withoutIgnored(item, ignore, [...path, String(i)]));
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withoutIgnored(item, ignore, [...path, key])]));
  }
  return value;
}

/**
 * Every difference between two documents, as dotted paths, over the union of their keys. Arrays of
 * the same length are compared item by item (so `portMappings.0.protocol` is named); arrays of
 * different lengths are one difference. Normalise keyed arrays (containers by name) into maps
 * before calling, so that a path names the container.
 */
export function diffDocuments(desired: unknown, observed: unknown, ignore: IgnoreList = []): FieldDiff[] {
  const out: FieldDiff[] = [];
  walk(prune(withoutIgnored(desired, ignore)), prune(withoutIgnored(observed, ignore)), [], out);
  return out;
}

function walk(to: unknown, from: unknown, path: string[], out: FieldDiff[]): void {
  if (isDeepStrictEqual(to, from)) return;
  if (isObject(to) && isObject(from)) {
    for (const key of [...new Set([...Object.keys(to), ...Object.keys(from)])].sort()) walk(to[key], from[key], [...path, key], out);
    return;
  }
  if (Array.isArray(to) && Array.isArray(from) && to.length === from.length) {
    to.forEach((item, i) => walk(item, from[i], [...path, String(i)], out));
    return;
  }
  out.push({ field: path.join('.') || '(document)', from, to });
}

/** The top-level fields that differ: what update builders switch on. */
export function changedTopLevel(diffs: FieldDiff[]): Set<string> {
  return new Set(diffs.map((d) => d.field.split('.')[0]));
}

export function sameDocument(a: unknown, b: unknown, ignore: IgnoreList = []): boolean {
  return diffDocuments(a, b, ignore).length === 0;
}

/** Sort an array of named items by name: AWS returns them in any order. */
export const byName = <T extends { name?: string }>(items: readonly T[] | undefined): T[] =>
  [...(items ?? [])].sort((a, b) => ((a.name ?? '') < (b.name ?? '') ? -1 : (a.name ?? '') > (b.name ?? '') ? 1 : 0));

/** `[{ name: 'a', ... }]` → `{ a: { ... } }`, so diffs name the item. */
export function keyedBy<T extends Record<string, unknown>>(items: readonly T[] | undefined, key: keyof T): Record<string, T> {
  return Object.fromEntries((items ?? []).map((item) => [String(item[key] ?? ''), item]));
}
