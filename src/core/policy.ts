// IAM policy documents, compared by meaning: IAM returns them URL-encoded and accepts a string or
// a one-element array for Action/Resource, in any order.

/** Sort object keys recursively and drop undefined, so two JSON documents compare by content. */
function canonical(value: unknown): unknown {
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
