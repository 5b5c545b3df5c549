// One tags module for the three spellings AWS uses: ECS `{ key, value }`, most services
// `{ Key, Value }` (ECR, IAM, ELBv2, Application Auto Scaling lists), and CloudWatch Logs' plain map.
// Documents carry tags as a plain map of the keys this tool manages (config.tags): tags someone
// else added (cost allocation, security tooling) are theirs, are not compared and are never removed.

export type TagMap = Record<string, string>;
type TagItem = { key?: string; value?: string; Key?: string; Value?: string };

/** Any spelling → a map. */
export function tagMap(tags: TagItem[] | TagMap | undefined): TagMap {
  if (!tags) return {};
  if (!Array.isArray(tags)) return { ...tags };
  return Object.fromEntries(tags.map((t) => [t.key ?? t.Key ?? '', t.value ?? t.Value ?? '']));
}

/** The managed keys only, as they are observed: what a document compares and what rollback restores. */
export function managedTags(observed: TagItem[] | TagMap | undefined, managed: TagMap): TagMap {
  const all = tagMap(observed);
  return Object.fromEntries(Object.keys(managed).filter((key) => key in all).map((key) => [key, all[key]]));
}

/** ECS spells tags `{ key, value }`. */
export const ecsTags = (tags: TagMap) => Object.entries(tags).map(([key, value]) => ({ key, value }));
/** ECR, IAM, ELBv2 and Application Auto Scaling lists spell tags `{ Key, Value }`. */
export const awsTags = (tags: TagMap) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/** What to tag and untag to move `observed` to `desired` (both maps of managed keys). */
export function tagChanges(desired: TagMap | undefined, observed: TagMap | undefined): { tag: TagMap; untag: string[] } {
  const want = desired ?? {};
  const have = observed ?? {};
  return {
    tag: Object.fromEntries(Object.entries(want).filter(([key, value]) => have[key] !== value)),
    untag: Object.keys(have).filter((key) => !(key in want)),
  };
}
