// The traces service of the hub: the OTLP receiver, the store, retention and the query API,
// started and stopped with the hub. Every replica runs it; each keeps its own embedded store unless
// the hub is given a PostgreSQL database (--trace-database-url), which replicas behind one load
// balancer need to answer alike (see the README).
import { closeSync, mkdtempSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counter, Gauge } from 'prom-client';
import type { Route } from '../../http/route-contract.ts';
import type { ObserveDeps, ObserveService } from '../services.ts';
import { receiverRoutes } from './otlp-receiver.ts';
import { NO_POD_TOPOLOGY, type PodLookup } from './pod-lookup.ts';
import { serviceGraph, type ServiceGraph } from './service-graph.ts';
import type { TimeWindowUs } from './span-model.ts';
import { TraceThread, type TraceStoreLocation } from './trace-thread.ts';
import { guardHost } from '../../dial/dialer.ts';
import { databaseUrlHost } from './postgres-trace-store.ts';
import type { TopologyAsk, TopologyAnswer } from './otlp-ingest.ts';
import { WriterRateLimiter } from './writer-rate-limit.ts';
import { traceQueryRoutes } from './trace-api.ts';
import type { RetentionPolicy, TraceStore } from './trace-store.ts';

export const TRACE_DEFAULTS = {
  retentionMs: 72 * 3_600_000,
  maxBytes: 1024 ** 3,
  retentionIntervalMs: 60_000,
  // The OpenTelemetry Collector's confighttp default is 20 MiB; batches of 512 spans are ~100 KiB.
  maxBodyBytes: 16 * 1024 ** 2,
  // A collector's batch is 8,192 spans by default; 100,000 took 4 s of a core to decode and store.
  maxSpansPerRequest: 20_000,
  // About 80 % of a core at the measured ingest cost (25,000 spans/s per core, docs/benchmarks.md).
  writerSpansPerSecond: 20_000,
} as const;

/** The trace settings of `ObserveOptions`, with defaults filled in. */
export interface TraceSettings extends RetentionPolicy {
  /** A PostgreSQL database (`postgres://…`) shared by the replicas instead of the embedded store. */
  readonly databaseUrl?: string;
  readonly retentionIntervalMs: number;
  readonly maxBodyBytes: number;
  readonly maxSpansPerRequest: number;
  readonly writerSpansPerSecond: number;
}

/**
 * The trace database file in `dir`, created 0600 in a directory created 0700: spans carry
 * whatever attributes the applications put on them.
 */
export function traceDatabaseFile(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'traces.db');
  // SQLite creates its -wal and -shm files with the database file's permissions.
  closeSync(openSync(file, 'a', 0o600));
  return file;
}

export class TraceService implements ObserveService {
  readonly routes: readonly Route[];
  readonly store: TraceStore;
  private timer: NodeJS.Timeout | undefined;
  private retention: Promise<void> = Promise.resolve();
  private readonly tempDir: string | undefined;

  constructor(
    private readonly deps: ObserveDeps,
    private readonly settings: TraceSettings,
    pods: PodLookup = NO_POD_TOPOLOGY,
    store?: TraceStore,
  ) {
    const fleet = deps.fleet;
    const topology = (ask: TopologyAsk): TopologyAnswer => ({
      regions: ask.clusters.map((c) => fleet.member(c)?.region ?? null),
      pods: ask.pods.map(([c, ns, pod]) => pods.resolve(c, ns, pod) ?? null),
    });
    let location: TraceStoreLocation | undefined;
    if (store) location = undefined;
    else if (settings.databaseUrl) {
      // A malformed or refused (local mode) URL fails the hub's start, not every later ingest.
      guardHost(databaseUrlHost(settings.databaseUrl));
      location = { kind: 'postgres', url: settings.databaseUrl };
    } else {
      const dir = deps.options.dataDir ?? (this.tempDir = mkdtempSync(join(tmpdir(), 'meridian-traces-')));
      location = { kind: 'sqlite', file: traceDatabaseFile(dir) };
    }
    const thread = location ? new TraceThread({ store: location, topology, log: deps.log }) : undefined;
    this.store = store ?? thread!;
    const registry = deps.registry;
    const refused = new Counter({
      name: 'meridian_trace_batches_refused_total',
      help: 'OTLP batches refused before storing, by reason (busy: ingest queue full; rate: writer over its spans per second; size: too many spans or bytes)',
      labelNames: ['reason'],
      registers: [registry],
    });
    const spans = new Counter({
      name: 'meridian_trace_spans_received_total',
      help: 'Spans received over OTLP by outcome (stored, rejected as invalid, duplicate of a stored span)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    const bytes = new Gauge({
      name: 'meridian_trace_store_bytes',
      help: 'Bytes of the trace database in use, as of the last retention run (PostgreSQL: live rows without indexes)',
      registers: [registry],
    });
    this.onRetained = (b) => bytes.set(b);
    this.routes = [
      ...receiverRoutes({
        maxBodyBytes: settings.maxBodyBytes,
        maxSpans: settings.maxSpansPerRequest,
        isCluster: (name) => fleet.member(name) !== undefined,
        ingest: (job) => {
          if (!thread) throw new Error('OTLP ingest needs the embedded trace store');
          return thread.ingest(job);
        },
        writers: new WriterRateLimiter(settings.writerSpansPerSecond),
        onRefused: (reason) => refused.inc({ reason }),
        onBatch: (r) => {
          spans.inc({ outcome: 'stored' }, r.stored);
          spans.inc({ outcome: 'rejected' }, r.rejected);
          spans.inc({ outcome: 'duplicate' }, r.duplicates);
        },
      }),
      ...traceQueryRoutes(this.store),
    ];
  }

  private readonly onRetained: (bytes: number) => void;

  /** The service graph of a window (what `/api/v1/topology` draws its edges from). */
  graph(window: TimeWindowUs): Promise<ServiceGraph> {
    return serviceGraph(this.store, window);
  }

  /** One retention pass; passes never overlap. */
  enforceRetention(): Promise<void> {
    this.retention = this.retention.then(async () => {
      try {
        const r = await this.store.enforceRetention(this.settings, Date.now());
        this.onRetained(r.bytes);
        if (r.deletedByAge || r.deletedBySize) this.deps.log.info(r, 'trace retention deleted spans');
      } catch (e) {
        this.deps.log.error({ err: e }, 'trace retention failed');
      }
    });
    return this.retention;
  }

  async start(): Promise<void> {
    await this.enforceRetention();
    this.timer = setInterval(() => void this.enforceRetention(), this.settings.retentionIntervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.retention;
    await this.store.close();
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
  }
}

/** The traces service with the hub's options (defaults for what is unset). */
export function createTraceService(deps: ObserveDeps, pods?: PodLookup): TraceService {
  const o = deps.options;
  return new TraceService(
    deps,
    {
      databaseUrl: o.traceDatabaseUrl,
      maxAgeMs: o.traceRetentionMs ?? TRACE_DEFAULTS.retentionMs,
      maxBytes: o.traceMaxBytes ?? TRACE_DEFAULTS.maxBytes,
      retentionIntervalMs: o.traceRetentionIntervalMs ?? TRACE_DEFAULTS.retentionIntervalMs,
      maxBodyBytes: o.otlpMaxBodyBytes ?? TRACE_DEFAULTS.maxBodyBytes,
      maxSpansPerRequest: o.otlpMaxSpans ?? TRACE_DEFAULTS.maxSpansPerRequest,
      writerSpansPerSecond: o.otlpWriterSpansPerSecond ?? TRACE_DEFAULTS.writerSpansPerSecond,
    },
    pods,
  );
}
