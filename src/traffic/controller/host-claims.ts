// Two GlobalIngresses claiming one host name: the older wins (creation time, then namespace/name
// so the answer never depends on list order); the newer is in conflict and publishes nothing.
import type { GlobalIngress } from '../../api/global-ingress.ts';
import { hostKey } from '../routing/routing.ts';

export interface HostConflict {
  readonly host: string;
  /** `namespace/name` of the GlobalIngress that owns the host. */
  readonly heldBy: string;
}

const keyOf = (gi: GlobalIngress): string => `${gi.metadata.namespace}/${gi.metadata.name}`;

function older(a: GlobalIngress, b: GlobalIngress): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = keyOf(a);
  const kb = keyOf(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * For every GlobalIngress (by `namespace/name`), the hosts it lost to an older one. A loser loses
 * all its hosts: publishing half an app is worse than publishing none. Objects being deleted
 * claim nothing.
 */
export function resolveHostClaims(all: readonly GlobalIngress[]): Map<string, HostConflict[]> {
  const live = all.filter((g) => !g.metadata.deletionTimestamp).sort(older);
  const owner = new Map<string, string>();
  const conflicts = new Map<string, HostConflict[]>();
  for (const gi of live) {
    const key = keyOf(gi);
    const lost: HostConflict[] = [];
    for (const h of gi.spec.hosts) {
      const heldBy = owner.get(hostKey(h));
      if (heldBy !== undefined && heldBy !== key) lost.push({ host: h, heldBy });
    }
    conflicts.set(key, lost);
    // Only winners hold hosts, so a loser never blocks a third, newer claimant's other hosts.
    if (lost.length === 0) for (const h of gi.spec.hosts) owner.set(hostKey(h), key);
  }
  return conflicts;
}
