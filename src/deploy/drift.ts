// Drift: does a live object differ from what applying the revision would make of it? The server
// answers the second half (a server-side dry-run apply), so defaulting and normalisation never
// look like drift; this module compares the two and names the fields that differ. Pure.
import type { KubeObject } from '../kube/cluster-client.ts';

const VOLATILE_METADATA = new Set([
  'managedFields',
  'resourceVersion',
  'generation',
  'uid',
  'creationTimestamp',
  'selfLink',
]);

function walk(a: unknown, b: unknown, path: string, out: string[], limit: number): void {
  if (out.length >= limit) return;
  if (a === b) return;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) {
      out.push(path);
      return;
    }
    a.forEach((v, i) => walk(v, b[i], `${path}[${i}]`, out, limit));
    return;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of [...keys].sort()) {
      walk(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        path ? `${path}.${k}` : k,
        out,
        limit,
      );
    }
    return;
  }
  out.push(path);
}

/** Field paths where `live` differs from `wouldBe` (status and bookkeeping metadata ignored). */
export function driftedFields(live: KubeObject, wouldBe: KubeObject, limit = 20): string[] {
  const strip = (o: KubeObject): Record<string, unknown> => {
    const { status: _status, metadata, ...rest } = o;
    const meta = Object.fromEntries(Object.entries(metadata).filter(([k]) => !VOLATILE_METADATA.has(k)));
    return { ...rest, metadata: meta };
  };
  const out: string[] = [];
  walk(strip(live), strip(wouldBe), '', out, limit);
  return out;
}
