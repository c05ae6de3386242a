// Merges the exports of one service across clusters into its cluster-set properties, following
// KEP-1645's conflict resolution: exports are taken oldest first, the oldest definition of a
// property wins, and every export in a disagreement is told so (Conflict=True on its
// ServiceExport: the later one lost the property, the older one keeps it). A port is identified by its name (a Service's port names are unique, the empty
// name included); a later port is in conflict when its name is taken with a different
// port/protocol/appProtocol, when its port/protocol pair is taken under another name, or when an
// unnamed port would sit next to named ones. Those are the merged Service's own validity rules.
//
// Session affinity (and its ClientIP timeout), exported labels and exported annotations are
// properties too: the oldest export's values are the service's, a different value is a
// SessionAffinityConflict, SessionAffinityConfigConflict, LabelsConflict or AnnotationsConflict.
//
// Chosen: a losing export still contributes its endpoints (the planner publishes them). The KEP
// resolves conflicts per property, so only the conflicting port or type is left out; its instances
// keep serving the ports whose names the merged service has.
import type { ExportConflict, ExportedService, MergedPort, MergedService } from './mesh-types.ts';

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// An unreadable timestamp sorts last: it cannot claim to be the oldest.
function createdMs(e: ExportedService): number {
  const ms = Date.parse(e.createdAt);
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

/** Orders exports oldest first; equal timestamps by cluster name. */
export function compareExportAge(a: ExportedService, b: ExportedService): number {
  const ta = createdMs(a);
  const tb = createdMs(b);
  return ta === tb ? compareText(a.cluster, b.cluster) : ta < tb ? -1 : 1;
}

function portName(name: string | undefined): string {
  return name ? `port "${name}"` : 'the unnamed port';
}

function shown(p: MergedPort): string {
  return `${p.port}/${p.protocol}${p.appProtocol ? ` (appProtocol ${p.appProtocol})` : ''}`;
}

interface Owned {
  readonly port: MergedPort;
  readonly cluster: string;
}

function normalized(p: ExportedService['ports'][number]): MergedPort {
  return {
    ...(p.name ? { name: p.name } : {}),
    protocol: p.protocol ?? 'TCP',
    ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
    port: p.port,
  };
}

// Why `candidate` cannot join the ports merged so far, or undefined when it can (or already has).
function portConflict(
  candidate: MergedPort,
  merged: readonly Owned[],
): { message: string; with: string } | undefined {
  const name = candidate.name ?? '';
  const sameName = merged.find((m) => (m.port.name ?? '') === name);
  if (sameName) {
    const { port } = sameName;
    const same =
      port.port === candidate.port &&
      port.protocol === candidate.protocol &&
      port.appProtocol === candidate.appProtocol;
    if (same) return undefined;
    return {
      with: sameName.cluster,
      message:
        `${portName(candidate.name)} is ${shown(candidate)} here but ${shown(port)} in cluster ` +
        `${sameName.cluster}, whose export is older and wins`,
    };
  }
  const samePort = merged.find(
    (m) => m.port.port === candidate.port && m.port.protocol === candidate.protocol,
  );
  if (samePort) {
    return {
      with: samePort.cluster,
      message:
        `${portName(candidate.name)} (${shown(candidate)}) uses the port of ${portName(samePort.port.name)} ` +
        `from cluster ${samePort.cluster}, whose export is older and wins`,
    };
  }
  const unnamed = merged.find((m) => !m.port.name);
  if (merged.length > 0 && (!candidate.name || unnamed)) {
    const other = unnamed ?? merged[0];
    return {
      with: other?.cluster ?? '',
      message:
        `${portName(candidate.name)} (${shown(candidate)}) cannot join ${portName(other?.port.name)} from ` +
        `cluster ${other?.cluster ?? ''}: a service with several ports must name them all`,
    };
  }
  return undefined;
}

function affinityOf(e: ExportedService): 'None' | 'ClientIP' {
  return e.sessionAffinity ?? 'None';
}

function sameMap(
  a: Readonly<Record<string, string>> | undefined,
  b: Readonly<Record<string, string>> | undefined,
): boolean {
  const ka = Object.keys(a ?? {});
  if (ka.length !== Object.keys(b ?? {}).length) return false;
  return ka.every((k) => b?.[k] === a?.[k]);
}

/** What `e` disagrees with the oldest export on, besides type and ports. */
function propertyConflicts(e: ExportedService, oldest: ExportedService): ExportConflict[] {
  const out: ExportConflict[] = [];
  const lost = (reason: ExportConflict['reason'], what: string): void => {
    out.push({
      reason,
      with: oldest.cluster,
      message: `${what} in cluster ${oldest.cluster}, whose export is older and wins`,
    });
  };
  if (affinityOf(e) !== affinityOf(oldest)) {
    lost('SessionAffinityConflict', `sessionAffinity ${affinityOf(e)} conflicts with ${affinityOf(oldest)}`);
  } else if (affinityOf(e) === 'ClientIP' && e.affinityTimeoutSeconds !== oldest.affinityTimeoutSeconds) {
    const shownTimeout = (t: number | undefined) => (t === undefined ? 'the default timeout' : `${t}s`);
    lost(
      'SessionAffinityConfigConflict',
      `ClientIP affinity timeout ${shownTimeout(e.affinityTimeoutSeconds)} conflicts with ${shownTimeout(oldest.affinityTimeoutSeconds)}`,
    );
  }
  const families = (x: ExportedService) => (x.ipFamilies ?? []).join(',') || 'unset';
  if (families(e) !== families(oldest))
    lost('IPFamilyConflict', `ipFamilies ${families(e)} conflict with ${families(oldest)}`);
  if ((e.internalTrafficPolicy ?? 'Cluster') !== (oldest.internalTrafficPolicy ?? 'Cluster'))
    lost(
      'InternalTrafficPolicyConflict',
      `internalTrafficPolicy ${e.internalTrafficPolicy ?? 'Cluster'} conflicts with ${oldest.internalTrafficPolicy ?? 'Cluster'}`,
    );
  if (e.trafficDistribution !== oldest.trafficDistribution)
    lost(
      'TrafficDistributionConflict',
      `trafficDistribution ${e.trafficDistribution ?? 'unset'} conflicts with ${oldest.trafficDistribution ?? 'unset'}`,
    );
  if (!sameMap(e.exportedLabels, oldest.exportedLabels))
    lost('LabelsConflict', 'exportedLabels differ from those');
  if (!sameMap(e.exportedAnnotations, oldest.exportedAnnotations))
    lost('AnnotationsConflict', 'exportedAnnotations differ from those');
  return out;
}

/**
 * The import type, merged ports and per-export conflicts of one service's valid exports, or
 * undefined when there are none. Ports keep the order in which the oldest exports define them.
 */
export function mergeExports(exports: readonly ExportedService[]): MergedService | undefined {
  const ordered = [...exports].sort(compareExportAge);
  const oldest = ordered[0];
  if (!oldest) return undefined;
  const merged: Owned[] = [];
  const results: { cluster: string; conflicts: ExportConflict[] }[] = [];
  for (const e of ordered) {
    const conflicts: ExportConflict[] = [];
    if (e.type !== oldest.type) {
      conflicts.push({
        reason: 'TypeConflict',
        with: oldest.cluster,
        message:
          `type ${e.type} conflicts with ${oldest.type} in cluster ${oldest.cluster}, ` +
          `whose export is older and wins`,
      });
    }
    conflicts.push(...propertyConflicts(e, oldest));
    for (const p of e.ports) {
      const candidate = normalized(p);
      const why = portConflict(candidate, merged);
      if (why) conflicts.push({ reason: 'PortConflict', ...why });
      else if (!merged.some((m) => (m.port.name ?? '') === (candidate.name ?? '')))
        merged.push({ port: candidate, cluster: e.cluster });
    }
    results.push({ cluster: e.cluster, conflicts });
  }
  const affinity = affinityOf(oldest);
  return {
    type: oldest.type,
    ports: merged.map((m) => m.port),
    sessionAffinity: affinity,
    ...(affinity === 'ClientIP' && oldest.affinityTimeoutSeconds !== undefined
      ? { affinityTimeoutSeconds: oldest.affinityTimeoutSeconds }
      : {}),
    labels: { ...oldest.exportedLabels },
    annotations: { ...oldest.exportedAnnotations },
    serviceFields: {
      ...(oldest.ipFamilies?.length ? { ipFamilies: [...oldest.ipFamilies] } : {}),
      ...(oldest.internalTrafficPolicy ? { internalTrafficPolicy: oldest.internalTrafficPolicy } : {}),
      ...(oldest.trafficDistribution ? { trafficDistribution: oldest.trafficDistribution } : {}),
    },
    exports: results,
  };
}
