// OTLP/HTTP JSON encoding (the protobuf JSON mapping with the OTLP exceptions: trace and span ids
// are hex, not base64; enums are integers). Field names are lowerCamelCase; the original
// snake_case names are accepted too, as protobuf JSON parsers must. A value of the wrong type is
// an error naming its path, so a client learns exactly what it sent wrong.
import type { AttrValue, Attributes, OtlpResourceSpans, OtlpScopeSpans, OtlpSpan } from './span-model.ts';

/** A payload that does not follow the OTLP JSON encoding; the message names the field. */
export class OtlpFormatError extends Error {}

type Obj = Readonly<Record<string, unknown>>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const snake = (camel: string): string => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function field(o: Obj, name: string): unknown {
  const v = o[name];
  return v === undefined ? o[snake(name)] : v;
}

function obj(o: Obj, name: string, path: string): Obj | undefined {
  const v = field(o, name);
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new OtlpFormatError(`${path}.${name}: must be an object`);
  return v;
}

function arr(o: Obj, name: string, path: string): readonly unknown[] {
  const v = field(o, name);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpFormatError(`${path}.${name}: must be an array`);
  return v;
}

function str(o: Obj, name: string, path: string): string {
  const v = field(o, name);
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new OtlpFormatError(`${path}.${name}: must be a string`);
  return v;
}

function int(o: Obj, name: string, path: string, enumNames: readonly string[] = []): number {
  const v = field(o, name);
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  // protobuf JSON parsers also accept enum value names (SPAN_KIND_SERVER, STATUS_CODE_ERROR).
  if (typeof v === 'string' && enumNames.includes(v)) return enumNames.indexOf(v);
  throw new OtlpFormatError(`${path}.${name}: must be an integer`);
}

/** 64-bit integers are decimal strings in protobuf JSON; numbers are accepted too. */
function int64(o: Obj, name: string, path: string): bigint {
  const v = field(o, name);
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) return BigInt(v);
  throw new OtlpFormatError(`${path}.${name}: must be a 64-bit integer (a decimal string or number)`);
}

function hexId(o: Obj, name: string, path: string): string {
  const v = str(o, name, path);
  if (v !== '' && !/^[0-9a-fA-F]*$/.test(v))
    throw new OtlpFormatError(`${path}.${name}: must be hex (OTLP JSON encodes ids as hex, not base64)`);
  return v.toLowerCase();
}

function anyValue(v: unknown, path: string, depth: number): AttrValue {
  if (v === undefined || v === null) return null;
  if (!isObj(v)) throw new OtlpFormatError(`${path}: must be an AnyValue object`);
  if (depth > 16) throw new OtlpFormatError(`${path}: nested deeper than 16 levels`);
  if ('stringValue' in v || 'string_value' in v) return str(v, 'stringValue', path);
  if ('boolValue' in v || 'bool_value' in v) {
    const b = field(v, 'boolValue');
    if (typeof b !== 'boolean') throw new OtlpFormatError(`${path}.boolValue: must be a boolean`);
    return b;
  }
  if ('intValue' in v || 'int_value' in v) {
    const n = int64(v, 'intValue', path);
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(n)
      : n.toString();
  }
  if ('doubleValue' in v || 'double_value' in v) {
    const d = field(v, 'doubleValue');
    // NaN and the infinities are strings in protobuf JSON.
    if (typeof d === 'number') return d;
    if (d === 'NaN' || d === 'Infinity' || d === '-Infinity') return d;
    throw new OtlpFormatError(`${path}.doubleValue: must be a number`);
  }
  if ('arrayValue' in v || 'array_value' in v) {
    const a = obj(v, 'arrayValue', path) ?? {};
    return arr(a, 'values', `${path}.arrayValue`).map((x, i) =>
      anyValue(x, `${path}.arrayValue.values[${i}]`, depth + 1),
    );
  }
  if ('kvlistValue' in v || 'kvlist_value' in v) {
    const kv = obj(v, 'kvlistValue', path) ?? {};
    return keyValues(arr(kv, 'values', `${path}.kvlistValue`), `${path}.kvlistValue.values`, depth + 1);
  }
  if ('bytesValue' in v || 'bytes_value' in v) return str(v, 'bytesValue', path);
  return null;
}

function keyValues(list: readonly unknown[], path: string, depth = 0): Attributes {
  const out: Record<string, AttrValue> = {};
  list.forEach((kv, i) => {
    if (!isObj(kv)) throw new OtlpFormatError(`${path}[${i}]: must be a KeyValue object`);
    const key = str(kv, 'key', `${path}[${i}]`);
    if (key !== '') out[key] = anyValue(field(kv, 'value'), `${path}[${i}].value`, depth);
  });
  return out;
}

const KIND_NAMES = [
  'SPAN_KIND_UNSPECIFIED',
  'SPAN_KIND_INTERNAL',
  'SPAN_KIND_SERVER',
  'SPAN_KIND_CLIENT',
  'SPAN_KIND_PRODUCER',
  'SPAN_KIND_CONSUMER',
];
const STATUS_NAMES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

function span(s: unknown, path: string): OtlpSpan {
  if (!isObj(s)) throw new OtlpFormatError(`${path}: must be a Span object`);
  const status = obj(s, 'status', path) ?? {};
  return {
    traceId: hexId(s, 'traceId', path),
    spanId: hexId(s, 'spanId', path),
    parentSpanId: hexId(s, 'parentSpanId', path),
    name: str(s, 'name', path),
    kind: int(s, 'kind', path, KIND_NAMES),
    startNs: int64(s, 'startTimeUnixNano', path),
    endNs: int64(s, 'endTimeUnixNano', path),
    attributes: keyValues(arr(s, 'attributes', path), `${path}.attributes`),
    statusCode: int(status, 'code', `${path}.status`, STATUS_NAMES),
    statusMessage: str(status, 'message', `${path}.status`),
    events: arr(s, 'events', path).map((e, i) => {
      const p = `${path}.events[${i}]`;
      if (!isObj(e)) throw new OtlpFormatError(`${p}: must be an Event object`);
      return {
        timeNs: int64(e, 'timeUnixNano', p),
        name: str(e, 'name', p),
        attributes: keyValues(arr(e, 'attributes', p), `${p}.attributes`),
      };
    }),
    links: arr(s, 'links', path).map((l, i) => {
      const p = `${path}.links[${i}]`;
      if (!isObj(l)) throw new OtlpFormatError(`${p}: must be a Link object`);
      return {
        traceId: hexId(l, 'traceId', p),
        spanId: hexId(l, 'spanId', p),
        attributes: keyValues(arr(l, 'attributes', p), `${p}.attributes`),
      };
    }),
  };
}

/** Decodes an ExportTraceServiceRequest in OTLP JSON; throws OtlpFormatError naming the field. */
export function decodeJsonRequest(text: string): OtlpResourceSpans[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new OtlpFormatError(`body is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObj(body)) throw new OtlpFormatError('body: must be an ExportTraceServiceRequest object');
  return arr(body, 'resourceSpans', '').map((rs, i): OtlpResourceSpans => {
    const p = `resourceSpans[${i}]`;
    if (!isObj(rs)) throw new OtlpFormatError(`${p}: must be a ResourceSpans object`);
    const resource = obj(rs, 'resource', p) ?? {};
    return {
      resource: keyValues(arr(resource, 'attributes', `${p}.resource`), `${p}.resource.attributes`),
      scopeSpans: arr(rs, 'scopeSpans', p).map((ss, j): OtlpScopeSpans => {
        const q = `${p}.scopeSpans[${j}]`;
        if (!isObj(ss)) throw new OtlpFormatError(`${q}: must be a ScopeSpans object`);
        const scope = obj(ss, 'scope', q) ?? {};
        return {
          scope: { name: str(scope, 'name', `${q}.scope`), version: str(scope, 'version', `${q}.scope`) },
          spans: arr(ss, 'spans', q).map((s, k) => span(s, `${q}.spans[${k}]`)),
        };
      }),
    };
  });
}

/** ExportTraceServiceResponse in JSON (int64 as a decimal string, per the protobuf JSON mapping). */
export function jsonResponse(rejectedSpans: number, errorMessage: string): object {
  return rejectedSpans > 0 ? { partialSuccess: { rejectedSpans: String(rejectedSpans), errorMessage } } : {};
}
