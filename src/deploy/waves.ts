// The order in which a revision reaches the placed clusters: one wave for Parallel, the spec's
// waves for Waves (plus an implicit last wave for every target no wave names). Pure: no I/O.
import type { Rollout } from '../api/application.ts';
import { matchesSelector } from '../fleet/cluster-selector.ts';
import type { DeployError } from './deploy-types.ts';
import type { TargetCluster } from '../fleet/targets.ts';

/** One wave of a rollout: its clusters are updated together. */
export interface PlannedWave {
  readonly name: string;
  /** Cluster names, sorted. */
  readonly clusters: string[];
  /** Wait this long after the wave is healthy before starting the next one. */
  readonly pauseSeconds: number;
}

export type WavePlan =
  | { readonly ok: true; readonly waves: PlannedWave[] }
  | { readonly ok: false; readonly errors: DeployError[] };

/** Name of the wave of a Parallel rollout. */
export const PARALLEL_WAVE = 'all';
/** Name of the implicit last wave holding the targets no wave names. */
export const REST_WAVE = 'rest';

/**
 * Splits `targets` (the placed clusters) into waves. A cluster named or selected by two waves
 * stays in the first; waves left empty are dropped; targets in no wave form a final wave `rest`.
 */
export function planWaves(rollout: Rollout | undefined, targets: readonly TargetCluster[]): WavePlan {
  const all = sortedNames(targets.map((t) => t.name));
  if ((rollout?.strategy ?? 'Parallel') === 'Parallel') {
    return {
      ok: true,
      waves: all.length > 0 ? [{ name: PARALLEL_WAVE, clusters: all, pauseSeconds: 0 }] : [],
    };
  }

  const byName = new Map(targets.map((t) => [t.name, t]));
  const errors: DeployError[] = [];
  const claimed = new Set<string>();
  const names = new Set<string>();
  const waves: PlannedWave[] = [];

  (rollout?.waves ?? []).forEach((wave, i) => {
    const name = wave.name ?? `wave-${i + 1}`;
    if (names.has(name)) {
      errors.push({
        code: 'DuplicateWaveName',
        field: `spec.rollout.waves[${i}].name`,
        message: `wave name ${JSON.stringify(name)} is used by an earlier wave`,
      });
    }
    names.add(name);

    const picked = new Set<string>();
    (wave.clusters ?? []).forEach((cluster, j) => {
      if (!byName.has(cluster)) {
        errors.push({
          code: 'WaveClusterNotTargeted',
          cluster,
          field: `spec.rollout.waves[${i}].clusters[${j}]`,
          message: `cluster ${JSON.stringify(cluster)} is not in the Application's placement`,
        });
      } else picked.add(cluster);
    });
    const selector = wave.clusterSelector;
    if (selector) {
      for (const t of targets) if (matchesSelector(t.labels, selector)) picked.add(t.name);
    }

    const clusters = sortedNames([...picked].filter((c) => !claimed.has(c)));
    for (const c of clusters) claimed.add(c);
    if (clusters.length > 0) waves.push({ name, clusters, pauseSeconds: wave.pauseSeconds ?? 0 });
  });
  if (errors.length > 0) return { ok: false, errors };

  const rest = all.filter((c) => !claimed.has(c));
  if (rest.length > 0) waves.push({ name: uniqueName(REST_WAVE, names), clusters: rest, pauseSeconds: 0 });
  return { ok: true, waves };
}

function uniqueName(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}

function sortedNames(names: readonly string[]): string[] {
  return [...new Set(names)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
