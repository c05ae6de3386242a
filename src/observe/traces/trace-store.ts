// The storage contract of traces. The hub ships an embedded SQLite implementation; a scaled
// deployment can put an external engine (Tempo, ClickHouse, …) behind the same five questions.
import type { SpanTopology, StoredSpan, TimeWindowUs } from './span-model.ts';

/** Span-level filters (Jaeger's semantics): a trace matches when one of its spans matches all. */
export interface TraceSearch extends TimeWindowUs {
  readonly service?: string;
  readonly cluster?: string;
  readonly namespace?: string;
  readonly minDurationUs?: number;
  /** true: the span failed (status ERROR); false: it did not. */
  readonly error?: boolean;
  readonly limit: number;
}

export interface TraceSummary {
  readonly traceId: string;
  readonly rootService: string;
  readonly rootName: string;
  readonly startUs: number;
  readonly durationUs: number;
  readonly spanCount: number;
  readonly services: readonly string[];
  readonly clusters: readonly string[];
  readonly error: boolean;
}

/** One side of a call: where the span ran. */
export type CallEnd = Pick<SpanTopology, 'service' | 'cluster' | 'region' | 'namespace' | 'app'>;

/** A client (or producer) span and the server (or consumer) span it caused. */
export interface ServiceCall {
  readonly client: CallEnd;
  readonly server: CallEnd;
  readonly startUs: number;
  /** As the caller saw it (client span duration), like Tempo's service graphs. */
  readonly durationUs: number;
  /** Either side reported status ERROR. */
  readonly error: boolean;
}

export interface RetentionPolicy {
  /** Spans that started longer ago than this are deleted. */
  readonly maxAgeMs: number;
  /** Oldest spans are deleted until the store holds at most this many bytes. */
  readonly maxBytes: number;
}

export interface RetentionResult {
  readonly deletedByAge: number;
  readonly deletedBySize: number;
  readonly bytes: number;
}

export interface TraceStore {
  /** Stores spans; a span already stored (same trace and span id: an exporter retry) is skipped. */
  write(spans: readonly StoredSpan[]): Promise<{ stored: number }>;
  /** Every stored span of one trace, in start order; empty when unknown. */
  trace(traceId: string): Promise<StoredSpan[]>;
  /** Matching traces, most recent first. */
  search(q: TraceSearch): Promise<TraceSummary[]>;
  /** Parent/child client→server pairs whose client span started in the window. */
  serviceCalls(window: TimeWindowUs): Promise<ServiceCall[]>;
  enforceRetention(policy: RetentionPolicy, nowMs: number): Promise<RetentionResult>;
  stats(): Promise<{ spans: number; bytes: number }>;
  close(): Promise<void>;
}
