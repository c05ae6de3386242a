// The shapes traces take inside Meridian: what the OTLP decoders produce (close to the wire, not
// yet trusted), and the stored span (validated, with the fleet topology attached) that the store,
// the query API and the service graph share.

/** An OTLP AnyValue as plain JSON: bytes become base64 strings, kvlists become objects. */
export type AttrValue =
  string | number | boolean | null | readonly AttrValue[] | { readonly [k: string]: AttrValue };
export type Attributes = Readonly<Record<string, AttrValue>>;

/** One span as decoded from OTLP (protobuf or JSON); ids are lower-case hex, times nanoseconds. */
export interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly attributes: Attributes;
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly events: readonly {
    readonly timeNs: bigint;
    readonly name: string;
    readonly attributes: Attributes;
  }[];
  readonly links: readonly {
    readonly traceId: string;
    readonly spanId: string;
    readonly attributes: Attributes;
  }[];
}

export interface OtlpScopeSpans {
  readonly scope: { readonly name: string; readonly version: string };
  readonly spans: readonly OtlpSpan[];
}

export interface OtlpResourceSpans {
  readonly resource: Attributes;
  readonly scopeSpans: readonly OtlpScopeSpans[];
}

/** OTLP SpanKind numbers (trace.proto), kept as numbers in storage. */
export const SPAN_KIND = {
  unspecified: 0,
  internal: 1,
  server: 2,
  client: 3,
  producer: 4,
  consumer: 5,
} as const;
export type SpanKindName = keyof typeof SPAN_KIND;
export const SPAN_KIND_NAMES: readonly SpanKindName[] = [
  'unspecified',
  'internal',
  'server',
  'client',
  'producer',
  'consumer',
];

/** OTLP Status.code numbers. */
export const STATUS = { unset: 0, ok: 1, error: 2 } as const;
export type StatusName = keyof typeof STATUS;
export const STATUS_NAMES: readonly StatusName[] = ['unset', 'ok', 'error'];

/** Where a span ran in the fleet; every field optional because SDKs send what they know. */
export interface SpanTopology {
  readonly service: string;
  readonly cluster?: string;
  readonly region?: string;
  readonly namespace?: string;
  readonly pod?: string;
  readonly app?: string;
  readonly revision?: string;
}

/** A validated span with its topology: the unit the store writes and the API returns. */
export interface StoredSpan extends SpanTopology {
  readonly traceId: string;
  readonly spanId: string;
  /** Undefined for a root span. */
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  /** Microseconds since the epoch (what trace UIs show; exact in a JS number). */
  readonly startUs: number;
  readonly durationUs: number;
  readonly status: number;
  readonly statusMessage?: string;
  readonly scope?: { readonly name: string; readonly version: string };
  readonly attributes: Attributes;
  readonly resource: Attributes;
  readonly events: readonly {
    readonly timeUs: number;
    readonly name: string;
    readonly attributes: Attributes;
  }[];
  readonly links: readonly {
    readonly traceId: string;
    readonly spanId: string;
    readonly attributes: Attributes;
  }[];
}

/** A half-open time window in microseconds since the epoch. */
export interface TimeWindowUs {
  readonly startUs: number;
  readonly endUs: number;
}
