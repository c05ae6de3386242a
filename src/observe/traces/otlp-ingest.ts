// What one OTLP request costs after its body is read: decompress, decode, count, validate and
// attach the fleet topology. It runs in the trace worker thread (trace-worker.ts), so a large or
// hostile batch holds that thread and never the hub's control loop; the fleet's topology stays in
// the hub, which answers the worker's one question per batch (`TopologyAsk`).
import { promisify } from 'node:util';
import { gunzip, inflate, type InputType, type ZlibOptions } from 'node:zlib';
import { decodeProtobufRequest } from './otlp-proto.ts';
import { OtlpFormatError, decodeJsonRequest } from './otlp-json.ts';
import { normalizeSpans, type NormalizeResult } from './span-normalize.ts';
import type { OtlpResourceSpans } from './span-model.ts';

export type OtlpEncoding = 'protobuf' | 'json';

/** google.rpc.Code values the receiver answers with (OTLP/HTTP carries them in a Status). */
export const GRPC = {
  invalidArgument: 3,
  notFound: 5,
  resourceExhausted: 8,
  unimplemented: 12,
  unavailable: 14,
} as const;

/** A failure answered with this HTTP status and google.rpc.Status code. */
export class OtlpHttpError extends Error {
  constructor(
    readonly status: number,
    readonly grpcCode: number,
    message: string,
    /** Seconds a client should wait before retrying (429/503). */
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'OtlpHttpError';
  }
}

const gunzipAsync = promisify<InputType, ZlibOptions, Buffer>(gunzip);
const inflateAsync = promisify<InputType, ZlibOptions, Buffer>(inflate);

export async function decompress(
  contentEncoding: string | undefined,
  body: Buffer,
  max: number,
): Promise<Buffer> {
  const enc = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (enc === 'identity' || enc === '') return body;
  if (enc !== 'gzip' && enc !== 'deflate')
    throw new OtlpHttpError(
      415,
      GRPC.unimplemented,
      `Content-Encoding "${enc}" is not supported: use gzip or none`,
    );
  try {
    return await (enc === 'gzip' ? gunzipAsync : inflateAsync)(body, { maxOutputLength: max });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
      throw new OtlpHttpError(413, GRPC.resourceExhausted, `decompressed body is larger than ${max} bytes`);
    throw new OtlpHttpError(400, GRPC.invalidArgument, `body is not valid ${enc}: ${(e as Error).message}`);
  }
}

export function decode(encoding: OtlpEncoding, body: Buffer): OtlpResourceSpans[] {
  try {
    return encoding === 'json' ? decodeJsonRequest(body.toString('utf8')) : decodeProtobufRequest(body);
  } catch (e) {
    const what = encoding === 'json' ? 'OTLP JSON' : 'OTLP protobuf ExportTraceServiceRequest';
    const why = e instanceof Error ? e.message : String(e);
    throw new OtlpHttpError(
      400,
      GRPC.invalidArgument,
      e instanceof OtlpFormatError ? `${what}: ${why}` : `malformed ${what}: ${why}`,
    );
  }
}

export function countSpans(batches: readonly OtlpResourceSpans[]): number {
  let n = 0;
  for (const rs of batches) for (const ss of rs.scopeSpans) n += ss.spans.length;
  return n;
}

/** What the worker asks the hub about one batch: the clusters and pods its resources name. */
export interface TopologyAsk {
  readonly clusters: readonly string[];
  readonly pods: readonly (readonly [cluster: string, namespace: string, pod: string])[];
}

/** The hub's answer, index for index. */
export interface TopologyAnswer {
  /** Region of each asked cluster; null: not a registered Cluster. */
  readonly regions: readonly (string | null)[];
  readonly pods: readonly ({ app?: string; revision?: string } | null)[];
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The distinct clusters and pods of the batches' resources (the endpoint's cluster wins). */
export function topologyAsk(batches: readonly OtlpResourceSpans[], cluster: string | undefined): TopologyAsk {
  const clusters = new Set<string>();
  const pods = new Map<string, readonly [string, string, string]>();
  for (const rs of batches) {
    const c = cluster ?? text(rs.resource['k8s.cluster.name']);
    if (!c) continue;
    clusters.add(c);
    const ns = text(rs.resource['k8s.namespace.name']);
    const pod = text(rs.resource['k8s.pod.name']);
    if (ns && pod) pods.set(JSON.stringify([c, ns, pod]), [c, ns, pod]);
  }
  return { clusters: [...clusters], pods: [...pods.values()] };
}

export interface IngestJob {
  readonly encoding: OtlpEncoding;
  readonly contentEncoding?: string;
  readonly body: Buffer;
  /** The per-cluster endpoint's cluster; undefined on the plain `/v1/traces`. */
  readonly cluster?: string;
  readonly maxBodyBytes: number;
  readonly maxSpans: number;
}

/** Decodes a batch and prepares its spans for the store; throws OtlpHttpError for client errors. */
export async function prepareBatch(
  job: IngestJob,
  resolve: (ask: TopologyAsk) => Promise<TopologyAnswer>,
): Promise<NormalizeResult & { readonly received: number }> {
  const body = await decompress(job.contentEncoding, job.body, job.maxBodyBytes);
  const batches = decode(job.encoding, body);
  const received = countSpans(batches);
  if (received > job.maxSpans)
    throw new OtlpHttpError(
      413,
      GRPC.resourceExhausted,
      `${received} spans in one request; the limit is ${job.maxSpans}: send smaller batches`,
    );
  const ask = topologyAsk(batches, job.cluster);
  const known = ask.clusters.length || ask.pods.length ? await resolve(ask) : { regions: [], pods: [] };
  const regions = new Map(ask.clusters.map((c, i) => [c, known.regions[i] ?? null]));
  const pods = new Map(ask.pods.map((p, i) => [p.join('\u0000'), known.pods[i] ?? undefined]));
  const result = normalizeSpans(batches, {
    cluster: job.cluster,
    regionOf: (c) => regions.get(c) ?? undefined,
    isCluster: (c) => regions.get(c) != null,
    pods: { resolve: (c, ns, pod) => pods.get([c, ns, pod].join('\u0000')) ?? undefined },
  });
  return { ...result, received };
}
