// From decoded OTLP to stored spans: validate what the wire format cannot (id lengths, times) and
// attach the fleet topology. A span that fails is rejected alone (OTLP partial success), so one
// bad span from a buggy SDK does not cost the batch. Pure.
import type { PodLookup } from './pod-lookup.ts';
import {
  STATUS,
  type AttrValue,
  type Attributes,
  type OtlpResourceSpans,
  type OtlpSpan,
  type SpanTopology,
  type StoredSpan,
} from './span-model.ts';

export interface NormalizeContext {
  /** The cluster of a per-cluster ingest endpoint: it wins over `k8s.cluster.name`. */
  readonly cluster?: string;
  /** Region of a registered member; undefined for clusters the fleet does not know. */
  readonly regionOf: (cluster: string) => string | undefined;
  /**
   * Whether a cluster is registered. A resource whose `k8s.cluster.name` is not (on the plain
   * endpoint, which takes the cluster from the resource) has its spans rejected: a writer must
   * not file spans under a cluster the fleet does not have.
   */
  readonly isCluster: (cluster: string) => boolean;
  readonly pods: PodLookup;
}

export interface NormalizeResult {
  readonly spans: StoredSpan[];
  readonly rejected: number;
  /** The first few reasons, for partial_success.error_message. */
  readonly reasons: string[];
}

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
const MAX_REASONS = 5;

const text = (v: AttrValue | undefined): string | undefined =>
  typeof v === 'string' && v !== '' ? v : undefined;

/** The topology of one resource: the endpoint's cluster first, then what the SDK said. */
export function resourceTopology(resource: Attributes, ctx: NormalizeContext): SpanTopology {
  const cluster = ctx.cluster ?? text(resource['k8s.cluster.name']);
  const namespace = text(resource['k8s.namespace.name']);
  const pod = text(resource['k8s.pod.name']);
  const service = text(resource['service.name']) ?? 'unknown_service';
  const owned = cluster && namespace && pod ? ctx.pods.resolve(cluster, namespace, pod) : undefined;
  return {
    service,
    cluster,
    region: cluster ? ctx.regionOf(cluster) : undefined,
    namespace,
    pod,
    app: owned?.app ?? service,
    revision: owned?.revision,
  };
}

/** Why a span cannot be stored, or undefined when it can. */
export function spanProblem(s: OtlpSpan): string | undefined {
  if (s.traceId.length !== 32 || s.traceId === ZERO_TRACE)
    return `span "${s.name}": traceId must be 16 non-zero bytes`;
  if (s.spanId.length !== 16 || s.spanId === ZERO_SPAN)
    return `span "${s.name}": spanId must be 8 non-zero bytes`;
  if (s.parentSpanId !== '' && s.parentSpanId.length !== 16)
    return `span "${s.name}": parentSpanId must be 8 bytes or empty`;
  if (s.startNs <= 0n) return `span "${s.name}": startTimeUnixNano is missing`;
  if (s.endNs < s.startNs) return `span "${s.name}": endTimeUnixNano is before startTimeUnixNano`;
  return undefined;
}

const us = (ns: bigint): number => Number(ns / 1000n);

export function normalizeSpans(
  batches: readonly OtlpResourceSpans[],
  ctx: NormalizeContext,
): NormalizeResult {
  const spans: StoredSpan[] = [];
  const reasons: string[] = [];
  let rejected = 0;
  for (const rs of batches) {
    const topology = resourceTopology(rs.resource, ctx);
    if (ctx.cluster === undefined && topology.cluster !== undefined && !ctx.isCluster(topology.cluster)) {
      const n = rs.scopeSpans.reduce((sum, ss) => sum + ss.spans.length, 0);
      rejected += n;
      if (n > 0 && reasons.length < MAX_REASONS)
        reasons.push(
          `resource k8s.cluster.name "${topology.cluster}" is not a registered Cluster (kubectl get clusters.meridian.dev): ${n} span(s) rejected`,
        );
      continue;
    }
    // The endpoint's cluster is written into the stored resource too, so what the API shows agrees.
    const resource = topology.cluster
      ? { ...rs.resource, 'k8s.cluster.name': topology.cluster }
      : rs.resource;
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        const problem = spanProblem(s);
        if (problem) {
          rejected++;
          if (reasons.length < MAX_REASONS) reasons.push(problem);
          continue;
        }
        const startUs = us(s.startNs);
        spans.push({
          ...topology,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId === '' || s.parentSpanId === ZERO_SPAN ? undefined : s.parentSpanId,
          name: s.name,
          kind: s.kind >= 0 && s.kind <= 5 ? s.kind : 0,
          startUs,
          durationUs: us(s.endNs) - startUs,
          status: s.statusCode === STATUS.ok || s.statusCode === STATUS.error ? s.statusCode : STATUS.unset,
          statusMessage: s.statusMessage || undefined,
          scope: ss.scope.name ? ss.scope : undefined,
          attributes: s.attributes,
          resource,
          events: s.events.map((e) => ({ timeUs: us(e.timeNs), name: e.name, attributes: e.attributes })),
          links: s.links,
        });
      }
    }
  }
  return { spans, rejected, reasons };
}
