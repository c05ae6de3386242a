// OTLP/HTTP protobuf encoding: ExportTraceServiceRequest in, ExportTraceServiceResponse and
// google.rpc.Status out. The message code is the protobufjs static module that the OpenTelemetry
// JS maintainers generate from the official opentelemetry-proto definitions and ship in
// @opentelemetry/otlp-transformer (0.216.0 is the last release that ships it; later releases
// hand-write an encoder only). Decoding goes through it, so the wire format is the spec's.
import protobuf from 'protobufjs/minimal.js';
import generated from '@opentelemetry/otlp-transformer/build/src/generated/root.js';
import type { AttrValue, Attributes, OtlpResourceSpans, OtlpSpan } from './span-model.ts';

// The generated module is typed only as a protobufjs Root; these describe the decoded messages
// (protobufjs gives bytes as Uint8Array, 64-bit integers as Long or number, absent fields as null).
type Int64 = number | { low: number; high: number; unsigned?: boolean } | null | undefined;
interface PbAnyValue {
  stringValue?: string | null;
  boolValue?: boolean | null;
  intValue?: Int64;
  doubleValue?: number | null;
  arrayValue?: { values?: PbAnyValue[] | null } | null;
  kvlistValue?: { values?: PbKeyValue[] | null } | null;
  bytesValue?: Uint8Array | null;
}
interface PbKeyValue {
  key?: string | null;
  value?: PbAnyValue | null;
}
interface PbSpan {
  traceId?: Uint8Array | null;
  spanId?: Uint8Array | null;
  parentSpanId?: Uint8Array | null;
  name?: string | null;
  kind?: number | null;
  startTimeUnixNano?: Int64;
  endTimeUnixNano?: Int64;
  attributes?: PbKeyValue[] | null;
  events?: { timeUnixNano?: Int64; name?: string | null; attributes?: PbKeyValue[] | null }[] | null;
  links?:
    { traceId?: Uint8Array | null; spanId?: Uint8Array | null; attributes?: PbKeyValue[] | null }[] | null;
  status?: { code?: number | null; message?: string | null } | null;
}
interface PbRequest {
  resourceSpans?:
    | {
        resource?: { attributes?: PbKeyValue[] | null } | null;
        scopeSpans?:
          | { scope?: { name?: string | null; version?: string | null } | null; spans?: PbSpan[] | null }[]
          | null;
      }[]
    | null;
}
interface MessageType<T> {
  decode(data: Uint8Array): T;
  encode(message: object): { finish(): Uint8Array };
}

const traceV1 = (
  generated as unknown as {
    opentelemetry: {
      proto: {
        collector: {
          trace: {
            v1: {
              ExportTraceServiceRequest: MessageType<PbRequest>;
              ExportTraceServiceResponse: MessageType<object>;
            };
          };
        };
      };
    };
  }
).opentelemetry.proto.collector.trace.v1;

const hex = (b: Uint8Array | null | undefined): string =>
  b && b.length ? Buffer.from(b).toString('hex') : '';

function int64(v: Int64): bigint {
  if (v === null || v === undefined) return 0n;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
}

function anyValue(v: PbAnyValue | null | undefined, depth: number): AttrValue {
  if (!v || depth > 16) return null;
  if (v.stringValue !== undefined && v.stringValue !== null) return v.stringValue;
  if (v.boolValue !== undefined && v.boolValue !== null) return v.boolValue;
  if (v.intValue !== undefined && v.intValue !== null) {
    const n = int64(v.intValue);
    // Beyond 2^53 a JSON number would lie; keep the exact digits as a string.
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(n)
      : n.toString();
  }
  if (v.doubleValue !== undefined && v.doubleValue !== null) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map((x) => anyValue(x, depth + 1));
  if (v.kvlistValue) return attributes(v.kvlistValue.values, depth + 1);
  if (v.bytesValue) return Buffer.from(v.bytesValue).toString('base64');
  return null;
}

function attributes(kvs: PbKeyValue[] | null | undefined, depth = 0): Attributes {
  const out: Record<string, AttrValue> = {};
  for (const kv of kvs ?? []) if (kv.key) out[kv.key] = anyValue(kv.value, depth);
  return out;
}

function span(s: PbSpan): OtlpSpan {
  return {
    traceId: hex(s.traceId),
    spanId: hex(s.spanId),
    parentSpanId: hex(s.parentSpanId),
    name: s.name ?? '',
    kind: s.kind ?? 0,
    startNs: int64(s.startTimeUnixNano),
    endNs: int64(s.endTimeUnixNano),
    attributes: attributes(s.attributes),
    statusCode: s.status?.code ?? 0,
    statusMessage: s.status?.message ?? '',
    events: (s.events ?? []).map((e) => ({
      timeNs: int64(e.timeUnixNano),
      name: e.name ?? '',
      attributes: attributes(e.attributes),
    })),
    links: (s.links ?? []).map((l) => ({
      traceId: hex(l.traceId),
      spanId: hex(l.spanId),
      attributes: attributes(l.attributes),
    })),
  };
}

/** Decodes an ExportTraceServiceRequest; throws with protobufjs's reason when it is malformed. */
export function decodeProtobufRequest(body: Uint8Array): OtlpResourceSpans[] {
  const req = traceV1.ExportTraceServiceRequest.decode(body);
  return (req.resourceSpans ?? []).map((rs) => ({
    resource: attributes(rs.resource?.attributes),
    scopeSpans: (rs.scopeSpans ?? []).map((ss) => ({
      scope: { name: ss.scope?.name ?? '', version: ss.scope?.version ?? '' },
      spans: (ss.spans ?? []).map(span),
    })),
  }));
}

/** ExportTraceServiceResponse; empty (full success) unless spans were rejected. */
export function encodeProtobufResponse(rejectedSpans: number, errorMessage: string): Uint8Array {
  const message = rejectedSpans > 0 ? { partialSuccess: { rejectedSpans, errorMessage } } : {};
  return traceV1.ExportTraceServiceResponse.encode(message).finish();
}

/**
 * google.rpc.Status {code = 1, message = 2}, the body OTLP/HTTP prescribes for errors. Not in the
 * generated module (it only holds OTLP), and two fields do not justify another schema package.
 */
export function encodeProtobufStatus(code: number, message: string): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 0).int32(code);
  w.uint32((2 << 3) | 2).string(message);
  return w.finish();
}
