// The OTLP/HTTP trace receiver on the hub API port: `POST /v1/traces` (what any SDK or Collector
// sends to with only an endpoint and a header) and `POST /v1/clusters/<cluster>/traces`, which
// stamps every span with that cluster — the Collector's k8sattributes processor cannot, and a
// per-cluster path lets RBAC give each cluster's collector a credential for its own cluster only
// (`create` on traces.observe.meridian.dev with `resourceNames: [<cluster>]`).
// Answers follow the OTLP/HTTP spec: the response in the request's encoding, partial success for
// rejected spans, google.rpc.Status with 400/413/415, and 429/503 with Retry-After (which OTLP
// exporters retry on) when a writer is over its spans per second or the ingest queue is full.
import type { IncomingMessage } from 'node:http';
import { decodePathParam, type Route, type RouteResult } from '../../http/route-contract.ts';
import { observeAccess } from '../services.ts';
import { encodeProtobufResponse, encodeProtobufStatus } from './otlp-proto.ts';
import { jsonResponse } from './otlp-json.ts';
import { GRPC, OtlpHttpError, type IngestJob, type OtlpEncoding } from './otlp-ingest.ts';
import type { IngestResult } from './trace-thread.ts';
import type { WriterRateLimiter } from './writer-rate-limit.ts';

type Encoding = OtlpEncoding;

export interface ReceiverDeps {
  /** Largest body accepted, compressed or not (a gzip bomb is cut off at this many bytes). */
  readonly maxBodyBytes: number;
  /** Most spans one request may carry (413 past it). */
  readonly maxSpans: number;
  readonly isCluster: (name: string) => boolean;
  /** Decodes, checks and stores a batch off the hub's event loop (trace-thread.ts). */
  readonly ingest: (job: IngestJob) => Promise<IngestResult>;
  /** Spans per second per writer (429 with Retry-After past it). */
  readonly writers: WriterRateLimiter;
  readonly onBatch?: (r: { stored: number; rejected: number; duplicates: number }) => void;
  /** A batch refused before it was stored, by why (busy, rate, size). */
  readonly onRefused?: (reason: 'busy' | 'rate' | 'size') => void;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function encodingOf(req: IncomingMessage): Encoding {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  throw new OtlpHttpError(
    415,
    GRPC.unimplemented,
    `Content-Type "${type || '(none)'}" is not supported: send application/x-protobuf or application/json`,
  );
}

/** Reads the body up to `max` bytes; past that the rest is discarded and 413 answered. */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const tooLarge = (): OtlpHttpError =>
    new OtlpHttpError(
      413,
      GRPC.resourceExhausted,
      `request body is larger than ${max} bytes; send smaller batches`,
    );
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > max) {
    req.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      // Node discards the rest once the answer is sent, so the connection stays usable.
      req.resume();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function answer(encoding: Encoding, status: number, rejected: number, message: string): RouteResult {
  return encoding === 'protobuf'
    ? { status, body: encodeProtobufResponse(rejected, message), contentType: 'application/x-protobuf' }
    : { status, body: jsonResponse(rejected, message) };
}

function errorAnswer(encoding: Encoding | undefined, e: OtlpHttpError): RouteResult {
  const headers: Record<string, string> =
    e.retryAfterS !== undefined ? { 'Retry-After': String(e.retryAfterS) } : {};
  return encoding === 'protobuf'
    ? {
        status: e.status,
        body: encodeProtobufStatus(e.grpcCode, e.message),
        contentType: 'application/x-protobuf',
        headers,
      }
    : { status: e.status, body: { code: e.grpcCode, message: e.message }, headers };
}

async function ingest(
  deps: ReceiverDeps,
  req: IncomingMessage,
  writer: string,
  cluster: string | undefined,
): Promise<RouteResult> {
  let encoding: Encoding | undefined;
  try {
    encoding = encodingOf(req);
    if (cluster !== undefined && !(DNS_SUBDOMAIN.test(cluster) && deps.isCluster(cluster))) {
      req.resume();
      throw new OtlpHttpError(
        404,
        GRPC.notFound,
        `cluster "${cluster}" is not registered in the fleet (kubectl get clusters.meridian.dev)`,
      );
    }
    const wait = deps.writers.retryAfterS(writer);
    if (wait > 0) {
      req.resume();
      deps.onRefused?.('rate');
      throw new OtlpHttpError(
        429,
        GRPC.resourceExhausted,
        `writer "${writer}" is over ${deps.writers.perSecond} spans per second; retry after ${wait} s`,
        wait,
      );
    }
    const body = await readBody(req, deps.maxBodyBytes);
    const r = await deps.ingest({
      encoding,
      contentEncoding: req.headers['content-encoding'],
      body,
      cluster,
      maxBodyBytes: deps.maxBodyBytes,
      maxSpans: deps.maxSpans,
    });
    deps.writers.charge(writer, r.received);
    deps.onBatch?.({ stored: r.stored, rejected: r.rejected, duplicates: r.duplicates });
    return answer(encoding, 200, r.rejected, r.reasons.join('; '));
  } catch (e) {
    // Discard what is left of the body so the answer reaches the client and the connection lives.
    if (!req.readableEnded) req.resume();
    if (e instanceof OtlpHttpError) {
      if (e.status === 503) deps.onRefused?.('busy');
      if (e.status === 413) deps.onRefused?.('size');
      return errorAnswer(encoding, e);
    }
    throw e;
  }
}

const clusterOfPath = (path: string): string | undefined => {
  const m = /^\/v1\/clusters\/([^/]+)\/traces$/.exec(path);
  return m ? decodePathParam('cluster', m[1]!) : undefined;
};

const OTLP_DOC = {
  tags: ['traces'],
  requestBody: 'application/x-protobuf',
  description:
    'OTLP/HTTP ExportTraceServiceRequest in protobuf or JSON (application/json), optionally gzip; answers ExportTraceServiceResponse in the same encoding (partial_success names rejected spans, also spans of a resource whose k8s.cluster.name is not a registered Cluster), 400/413/415 with a google.rpc.Status, 429 (writer over its spans per second) and 503 (ingest queue full) with Retry-After.',
};

/**
 * The two ingest routes, authorized as `create` on traces.observe.meridian.dev; the per-cluster
 * one names the cluster, so `resourceNames` can pin a collector's credential to its cluster.
 */
export function receiverRoutes(deps: ReceiverDeps): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/traces',
      access: () => observeAccess('traces', 'create'),
      handle: ({ req, user }) => ingest(deps, req, user.username, undefined),
      doc: { summary: 'OTLP/HTTP trace ingest (cluster from k8s.cluster.name)', ...OTLP_DOC },
    },
    {
      method: 'POST',
      path: '/v1/clusters/',
      access: (url) => observeAccess('traces', 'create', clusterOfPath(url.pathname)),
      doc: {
        summary:
          "OTLP/HTTP trace ingest for one cluster: /v1/clusters/<cluster>/traces (the path's cluster is stamped on every span)",
        ...OTLP_DOC,
      },
      handle: async ({ req, url, user }) => {
        const cluster = clusterOfPath(url.pathname);
        if (cluster === undefined) {
          req.resume();
          return {
            status: 404,
            body: { error: `no route for POST ${url.pathname} (use /v1/clusters/<cluster>/traces)` },
          };
        }
        return ingest(deps, req, user.username, cluster);
      },
    },
  ];
}
