// The OTLP/HTTP trace receiver on the hub API port: `POST /v1/traces` (what any SDK or Collector
// sends to with only an endpoint and a header) and `POST /v1/clusters/<cluster>/traces`, which
// stamps every span with that cluster — the Collector's k8sattributes processor cannot, and a
// per-cluster path lets RBAC give each cluster's collector a credential for its own cluster only
// (`create` on traces.observe.meridian.dev with `resourceNames: [<cluster>]`).
// Answers follow the OTLP/HTTP spec: the response in the request's encoding, partial success for
// rejected spans, google.rpc.Status with 400/413/415.
import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import { gunzip, inflate, type InputType, type ZlibOptions } from 'node:zlib';
import { decodePathParam, type Route, type RouteResult } from '../../hub/http-server.ts';
import { observeAccess } from '../services.ts';
import { decodeProtobufRequest, encodeProtobufResponse, encodeProtobufStatus } from './otlp-proto.ts';
import { OtlpFormatError, decodeJsonRequest, jsonResponse } from './otlp-json.ts';
import { normalizeSpans, type NormalizeContext } from './span-normalize.ts';
import type { OtlpResourceSpans, StoredSpan } from './span-model.ts';

type Encoding = 'protobuf' | 'json';

export interface ReceiverDeps {
  /** Largest body accepted, compressed or not (a gzip bomb is cut off at this many bytes). */
  readonly maxBodyBytes: number;
  readonly isCluster: (name: string) => boolean;
  readonly context: (cluster: string | undefined) => NormalizeContext;
  readonly store: (spans: readonly StoredSpan[]) => Promise<{ stored: number }>;
  readonly onBatch?: (r: { stored: number; rejected: number; duplicates: number }) => void;
}

const GRPC_INVALID_ARGUMENT = 3;
const GRPC_NOT_FOUND = 5;
const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_UNIMPLEMENTED = 12;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const gunzipAsync = promisify<InputType, ZlibOptions, Buffer>(gunzip);
const inflateAsync = promisify<InputType, ZlibOptions, Buffer>(inflate);

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly grpcCode: number,
    message: string,
  ) {
    super(message);
  }
}

function encodingOf(req: IncomingMessage): Encoding {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  throw new HttpError(
    415,
    GRPC_UNIMPLEMENTED,
    `Content-Type "${type || '(none)'}" is not supported: send application/x-protobuf or application/json`,
  );
}

/** Reads the body up to `max` bytes; past that the rest is discarded and 413 answered. */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const tooLarge = (): HttpError =>
    new HttpError(
      413,
      GRPC_RESOURCE_EXHAUSTED,
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

async function decompress(req: IncomingMessage, body: Buffer, max: number): Promise<Buffer> {
  const enc = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (enc === 'identity' || enc === '') return body;
  if (enc !== 'gzip' && enc !== 'deflate')
    throw new HttpError(
      415,
      GRPC_UNIMPLEMENTED,
      `Content-Encoding "${enc}" is not supported: use gzip or none`,
    );
  try {
    return await (enc === 'gzip' ? gunzipAsync : inflateAsync)(body, { maxOutputLength: max });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
      throw new HttpError(413, GRPC_RESOURCE_EXHAUSTED, `decompressed body is larger than ${max} bytes`);
    throw new HttpError(400, GRPC_INVALID_ARGUMENT, `body is not valid ${enc}: ${(e as Error).message}`);
  }
}

function decode(encoding: Encoding, body: Buffer): OtlpResourceSpans[] {
  try {
    return encoding === 'json' ? decodeJsonRequest(body.toString('utf8')) : decodeProtobufRequest(body);
  } catch (e) {
    const what = encoding === 'json' ? 'OTLP JSON' : 'OTLP protobuf ExportTraceServiceRequest';
    const why = e instanceof Error ? e.message : String(e);
    throw new HttpError(
      400,
      GRPC_INVALID_ARGUMENT,
      e instanceof OtlpFormatError ? `${what}: ${why}` : `malformed ${what}: ${why}`,
    );
  }
}

function answer(encoding: Encoding, status: number, rejected: number, message: string): RouteResult {
  return encoding === 'protobuf'
    ? { status, body: encodeProtobufResponse(rejected, message), contentType: 'application/x-protobuf' }
    : { status, body: jsonResponse(rejected, message) };
}

function errorAnswer(encoding: Encoding | undefined, e: HttpError): RouteResult {
  return encoding === 'protobuf'
    ? {
        status: e.status,
        body: encodeProtobufStatus(e.grpcCode, e.message),
        contentType: 'application/x-protobuf',
      }
    : { status: e.status, body: { code: e.grpcCode, message: e.message } };
}

async function ingest(
  deps: ReceiverDeps,
  req: IncomingMessage,
  cluster: string | undefined,
): Promise<RouteResult> {
  let encoding: Encoding | undefined;
  try {
    encoding = encodingOf(req);
    if (cluster !== undefined && !(DNS_SUBDOMAIN.test(cluster) && deps.isCluster(cluster))) {
      req.resume();
      throw new HttpError(
        404,
        GRPC_NOT_FOUND,
        `cluster "${cluster}" is not registered in the fleet (kubectl get clusters.meridian.dev)`,
      );
    }
    const raw = await readBody(req, deps.maxBodyBytes);
    const body = await decompress(req, raw, deps.maxBodyBytes);
    const batches = decode(encoding, body);
    const result = normalizeSpans(batches, deps.context(cluster));
    const { stored } = result.spans.length ? await deps.store(result.spans) : { stored: 0 };
    deps.onBatch?.({ stored, rejected: result.rejected, duplicates: result.spans.length - stored });
    return answer(encoding, 200, result.rejected, result.reasons.join('; '));
  } catch (e) {
    // Discard what is left of the body so the answer reaches the client and the connection lives.
    if (!req.readableEnded) req.resume();
    if (e instanceof HttpError) return errorAnswer(encoding, e);
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
    'OTLP/HTTP ExportTraceServiceRequest in protobuf or JSON (application/json), optionally gzip; answers ExportTraceServiceResponse in the same encoding (partial_success names rejected spans), 400/413/415 with a google.rpc.Status.',
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
      handle: ({ req }) => ingest(deps, req, undefined),
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
      handle: async ({ req, url }) => {
        const cluster = clusterOfPath(url.pathname);
        if (cluster === undefined) {
          req.resume();
          return {
            status: 404,
            body: { error: `no route for POST ${url.pathname} (use /v1/clusters/<cluster>/traces)` },
          };
        }
        return ingest(deps, req, cluster);
      },
    },
  ];
}
