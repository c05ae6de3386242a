// A trace store in PostgreSQL (node-postgres pool), for hub replicas that must answer alike: every
// replica writes to and reads from the same database. The same tables as the SQLite store, named
// meridian_spans and meridian_span_resources in the connection's schema (its search_path): one row
// a span with the topology as indexed columns, resource attributes once in their own table. A batch
// is one transaction of two statements (resources, then spans through unnest), so an ingest is two
// round trips whatever its size. Spans are deduplicated by their primary key (trace id, span id).
//
// Size: `bytes` is the stored size of the live rows (pg_column_size of each span and resource row,
// TOAST-compressed as stored), not pg_total_relation_size: PostgreSQL keeps deleted rows' space in
// its files for reuse after (auto)vacuum, so the files' size would not fall when retention deletes
// and a size limit on it would delete every span. It leaves out indexes and free space, which add
// about half again on disk (the SQLite store counts its used pages, indexes included).
import pg from 'pg';
import { createHash } from 'node:crypto';
import { tcpSocketsTo } from '../../dial/dialer.ts';
import { databasePeer } from './database-peer.ts';
import type { Attributes, StoredSpan, TimeWindowUs } from './span-model.ts';
import type {
  RetentionPolicy,
  RetentionResult,
  ServiceCall,
  TraceSearch,
  TraceStore,
  TraceSummary,
} from './trace-store.ts';
import { summarizeTrace } from './trace-query.ts';

const SPANS = 'meridian_spans';
const RESOURCES = 'meridian_span_resources';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ${RESOURCES} (
  id bigserial PRIMARY KEY,
  hash text NOT NULL UNIQUE,
  attrs json NOT NULL,
  last_start_us bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS ${SPANS} (
  trace_id bytea NOT NULL,
  span_id bytea NOT NULL,
  parent_span_id bytea,
  name text NOT NULL,
  kind smallint NOT NULL,
  start_us bigint NOT NULL,
  duration_us bigint NOT NULL,
  status smallint NOT NULL,
  service text NOT NULL,
  cluster text,
  region text,
  namespace text,
  pod text,
  app text,
  revision text,
  resource_id bigint NOT NULL,
  detail json NOT NULL,
  PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS ${SPANS}_by_start ON ${SPANS} (start_us);
CREATE INDEX IF NOT EXISTS ${SPANS}_by_service ON ${SPANS} (service, start_us);
CREATE INDEX IF NOT EXISTS ${SPANS}_by_cluster ON ${SPANS} (cluster, start_us);
CREATE INDEX IF NOT EXISTS ${SPANS}_failed ON ${SPANS} (start_us) WHERE status = 2;
`;

// Advisory lock keys (any constants): schema creation and retention, one replica at a time.
const SCHEMA_LOCK = 0x6d657201;
const RETENTION_LOCK = 0x6d657202;

const SPAN_COLUMNS = `trace_id, span_id, parent_span_id, name, kind, start_us, duration_us, status, service,
  cluster, region, namespace, pod, app, revision, resource_id, detail`;

const INSERT_SPANS = `INSERT INTO ${SPANS} (${SPAN_COLUMNS})
SELECT decode(t, 'hex'), decode(s, 'hex'), decode(p, 'hex'), n, k, st, d, stt, svc, cl, rg, ns, pod, app, rev, r,
       det::json
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::bigint[], $7::bigint[],
              $8::smallint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
              $15::text[], $16::bigint[], $17::text[])
       AS x(t, s, p, n, k, st, d, stt, svc, cl, rg, ns, pod, app, rev, r, det)
ON CONFLICT (trace_id, span_id) DO NOTHING`;

// Ordered by hash so that two replicas upserting the same resources lock them in the same order.
const UPSERT_RESOURCES = `INSERT INTO ${RESOURCES} (hash, attrs, last_start_us)
SELECT h, a::json, s FROM unnest($1::text[], $2::text[], $3::bigint[]) AS x(h, a, s) ORDER BY h
ON CONFLICT (hash) DO UPDATE SET last_start_us = greatest(${RESOURCES}.last_start_us, excluded.last_start_us)
RETURNING id, hash`;

const SELECT_SPANS = `SELECT encode(s.trace_id, 'hex') AS trace_id, encode(s.span_id, 'hex') AS span_id,
  encode(s.parent_span_id, 'hex') AS parent_span_id, s.name, s.kind, s.start_us, s.duration_us, s.status,
  s.service, s.cluster, s.region, s.namespace, s.pod, s.app, s.revision, s.detail, r.attrs
  FROM ${SPANS} s LEFT JOIN ${RESOURCES} r ON r.id = s.resource_id`;

interface SpanRow {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  name: string;
  kind: number;
  start_us: number;
  duration_us: number;
  status: number;
  service: string;
  cluster: string | null;
  region: string | null;
  namespace: string | null;
  pod: string | null;
  app: string | null;
  revision: string | null;
  detail: Detail;
  attrs: Attributes | null;
}

interface Detail {
  readonly attributes: Attributes;
  readonly events: StoredSpan['events'];
  readonly links: StoredSpan['links'];
  readonly scope?: StoredSpan['scope'];
  readonly statusMessage?: string;
}

const CHUNK = 10_000;
const orUndefined = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
// PostgreSQL text cannot hold NUL, which OTLP strings may; JSON columns escape it themselves.
const text = (s: string): string => (s.includes('\0') ? s.replaceAll('\0', '\uFFFD') : s);
const textOrNull = (s: string | undefined): string | null => (s === undefined ? null : text(s));

// bigint columns (microseconds, counts) as numbers: microsecond timestamps stay below 2^53.
const TYPES = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format),
} as pg.CustomTypesConfig;

/** `url` with its password (and any password-like query parameter) replaced, for logs and errors. */
export function redactDatabaseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '<unparseable database URL>';
  }
  if (u.password) u.password = 'REDACTED';
  for (const k of [...u.searchParams.keys()])
    if (/pass|secret|key|token/i.test(k)) u.searchParams.set(k, 'REDACTED');
  return u.toString();
}

/** The host a `postgres://` URL connects to (for the loopback guard); throws on a malformed URL. */
export function databaseUrlHost(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`trace database URL ${redactDatabaseUrl(url)} is not a URL`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    throw new Error(`trace database URL ${redactDatabaseUrl(url)}: the scheme must be postgres://`);
  return u.hostname.replace(/^\[|\]$/g, '') || u.searchParams.get('host') || 'localhost';
}

export interface PostgresTraceStoreOptions {
  /** Connections of this process (default 4: ingest, queries and retention interleave). */
  readonly maxConnections?: number;
}

export class PostgresTraceStore implements TraceStore {
  private readonly pool: pg.Pool;
  private schema: Promise<void> | undefined;
  private readonly where: string;

  constructor(url: string, opts: PostgresTraceStoreOptions = {}) {
    this.where = redactDatabaseUrl(url);
    this.pool = new pg.Pool({
      connectionString: url,
      max: opts.maxConnections ?? 4,
      stream: tcpSocketsTo(databaseUrlHost(url)),
      types: TYPES,
      application_name: 'meridian-hub',
      connectionTimeoutMillis: 10_000,
    });
    // An idle connection the server dropped: the pool discards it and the next query opens
    // another; without a listener the error would end the process.
    this.pool.on('error', () => undefined);
  }

  /** Runs `work` once the tables exist; a failure names the database (password redacted). */
  private async use<T>(work: () => Promise<T>): Promise<T> {
    try {
      this.schema ??= this.createSchema().catch((e: unknown) => {
        this.schema = undefined; // The database may be up at the next call.
        throw e;
      });
      await this.schema;
      return await work();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      throw new Error(`trace database ${this.where}: ${message}`, { cause: e });
    }
  }

  private async createSchema(): Promise<void> {
    const c = await this.pool.connect();
    try {
      // Replicas starting together would race on CREATE … IF NOT EXISTS (it is not atomic).
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      await c.query(SCHEMA);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  write(spans: readonly StoredSpan[]): Promise<{ stored: number }> {
    return this.use(async () => {
      if (spans.length === 0) return { stored: 0 };
      // Resources of the batch, once each, with their newest span start.
      const byObject = new Map<Attributes, string>();
      const resources = new Map<string, { json: string; latest: number }>();
      for (const s of spans) {
        let hash = byObject.get(s.resource);
        if (hash === undefined) {
          const json = JSON.stringify(s.resource);
          hash = createHash('sha256').update(json).digest('base64url');
          byObject.set(s.resource, hash);
          if (!resources.has(hash)) resources.set(hash, { json, latest: s.startUs });
        }
        const r = resources.get(hash)!;
        r.latest = Math.max(r.latest, s.startUs);
      }
      const hashes = [...resources.keys()];
      // In key order, so replicas storing the same retried batch take row locks in one order.
      const sorted = [...spans].sort((a, b) =>
        a.traceId === b.traceId ? (a.spanId < b.spanId ? -1 : 1) : a.traceId < b.traceId ? -1 : 1,
      );
      const c = await this.pool.connect();
      try {
        await c.query('BEGIN');
        const ids = new Map<string, number>();
        const up = await c.query<{ id: number; hash: string }>(UPSERT_RESOURCES, [
          hashes,
          hashes.map((h) => resources.get(h)!.json),
          hashes.map((h) => resources.get(h)!.latest),
        ]);
        for (const row of up.rows) ids.set(row.hash, row.id);
        const columns: unknown[][] = Array.from({ length: 17 }, () => new Array<unknown>(sorted.length));
        sorted.forEach((s, i) => {
          const detail: Detail = {
            attributes: s.attributes,
            events: s.events,
            links: s.links,
            scope: s.scope,
            statusMessage: s.statusMessage,
          };
          const row = [
            s.traceId,
            s.spanId,
            s.parentSpanId ?? null,
            text(s.name),
            s.kind,
            s.startUs,
            s.durationUs,
            s.status,
            text(s.service),
            textOrNull(s.cluster),
            textOrNull(s.region),
            textOrNull(s.namespace),
            textOrNull(s.pod),
            textOrNull(s.app),
            textOrNull(s.revision),
            ids.get(byObject.get(s.resource)!)!,
            JSON.stringify(detail),
          ];
          row.forEach((v, j) => (columns[j]![i] = v));
        });
        const r = await c.query(INSERT_SPANS, columns);
        await c.query('COMMIT');
        return { stored: r.rowCount ?? 0 };
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        c.release();
      }
    });
  }

  private static toSpan(r: SpanRow): StoredSpan {
    return {
      traceId: r.trace_id,
      spanId: r.span_id,
      parentSpanId: orUndefined(r.parent_span_id),
      name: r.name,
      kind: r.kind,
      startUs: r.start_us,
      durationUs: r.duration_us,
      status: r.status,
      service: r.service,
      cluster: orUndefined(r.cluster),
      region: orUndefined(r.region),
      namespace: orUndefined(r.namespace),
      pod: orUndefined(r.pod),
      app: orUndefined(r.app),
      revision: orUndefined(r.revision),
      resource: r.attrs ?? {},
      attributes: r.detail.attributes,
      events: r.detail.events,
      links: r.detail.links,
      scope: r.detail.scope,
      statusMessage: r.detail.statusMessage,
    };
  }

  trace(traceId: string): Promise<StoredSpan[]> {
    return this.use(async () => {
      const r = await this.pool.query<SpanRow>(
        `${SELECT_SPANS} WHERE s.trace_id = decode($1, 'hex') ORDER BY s.start_us`,
        [traceId],
      );
      return r.rows.map(PostgresTraceStore.toSpan);
    });
  }

  search(q: TraceSearch): Promise<TraceSummary[]> {
    return this.use(async () => {
      const params: (string | number)[] = [q.startUs, q.endUs];
      const where = ['start_us >= $1', 'start_us < $2'];
      const add = (sql: string, value: string | number): void => {
        params.push(value);
        where.push(`${sql} $${params.length}`);
      };
      if (q.service !== undefined) add('service =', q.service);
      if (q.cluster !== undefined) add('cluster =', q.cluster);
      if (q.namespace !== undefined) add('namespace =', q.namespace);
      if (q.minDurationUs !== undefined) add('duration_us >=', q.minDurationUs);
      // Literal status tests, so the planner can use the partial index of failed spans.
      if (q.error === true) where.push('status = 2');
      if (q.error === false) where.push('status <> 2');
      params.push(q.limit);
      // Traces by their newest matching span, as the SQLite store's newest-first walk orders them.
      // Unlike that walk this groups every matching span of the window before taking `limit`, so
      // its cost grows with the matches (not measured at a million spans yet).
      const found = await this.pool.query<{ id: string }>(
        `SELECT encode(trace_id, 'hex') AS id FROM ${SPANS} WHERE ${where.join(' AND ')}
          GROUP BY trace_id ORDER BY max(start_us) DESC LIMIT $${params.length}`,
        params,
      );
      const ids = found.rows.map((r) => r.id);
      if (ids.length === 0) return [];
      const rows = await this.pool.query<SpanRow>(
        `${SELECT_SPANS} WHERE s.trace_id IN (SELECT decode(unnest($1::text[]), 'hex')) ORDER BY s.start_us`,
        [ids],
      );
      const byTrace = new Map<string, StoredSpan[]>(ids.map((id) => [id, []]));
      for (const row of rows.rows) byTrace.get(row.trace_id)?.push(PostgresTraceStore.toSpan(row));
      return [...byTrace.values()].filter((spans) => spans.length > 0).map(summarizeTrace);
    });
  }

  serviceCalls(window: TimeWindowUs): Promise<ServiceCall[]> {
    return this.use(async () => {
      type End = {
        service: string;
        cluster: string | null;
        region: string | null;
        namespace: string | null;
        app: string | null;
      };
      const end = (r: End): ServiceCall['client'] => ({
        service: r.service,
        cluster: orUndefined(r.cluster),
        region: orUndefined(r.region),
        namespace: orUndefined(r.namespace),
        app: orUndefined(r.app),
      });
      const pairs = await this.pool.query<{
        c: End;
        s: End;
        start_us: number;
        duration_us: number;
        failed: boolean;
      }>(
        `SELECT json_build_object('service', c.service, 'cluster', c.cluster, 'region', c.region,
                                  'namespace', c.namespace, 'app', c.app) AS c,
                json_build_object('service', s.service, 'cluster', s.cluster, 'region', s.region,
                                  'namespace', s.namespace, 'app', s.app) AS s,
                c.start_us, c.duration_us, (c.status = 2 OR s.status = 2) AS failed
           FROM ${SPANS} c JOIN ${SPANS} s ON s.trace_id = c.trace_id AND s.parent_span_id = c.span_id
          WHERE c.start_us >= $1 AND c.start_us < $2 AND c.kind IN (3, 4)
            AND ((c.kind = 3 AND s.kind = 2) OR (c.kind = 4 AND s.kind = 5))`,
        [window.startUs, window.endUs],
      );
      const calls: ServiceCall[] = pairs.rows.map((r) => ({
        client: end(r.c),
        server: end(r.s),
        startUs: r.start_us,
        durationUs: r.duration_us,
        error: r.failed,
      }));
      // Calls to databases, which send no spans: the far end is named from the client span.
      const system = `coalesce(c.detail->'attributes'->>'db.system.name', c.detail->'attributes'->>'db.system')`;
      const db = await this.pool.query<
        End & {
          system: string | null;
          address: string | null;
          peer: string | null;
          start_us: number;
          duration_us: number;
          status: number;
        }
      >(
        `SELECT c.service, c.cluster, c.region, c.namespace, c.app, ${system} AS system,
                c.detail->'attributes'->>'server.address' AS address,
                c.detail->'attributes'->>'peer.service' AS peer,
                c.start_us, c.duration_us, c.status
           FROM ${SPANS} c
          WHERE c.start_us >= $1 AND c.start_us < $2 AND c.kind = 3 AND ${system} IS NOT NULL`,
        [window.startUs, window.endUs],
      );
      const nonEmpty = (v: string | null): string | undefined => (v ? v : undefined);
      for (const r of db.rows) {
        const client = end(r);
        const server = databasePeer(client, nonEmpty(r.system), nonEmpty(r.address), nonEmpty(r.peer));
        if (server)
          calls.push({
            client,
            server,
            startUs: r.start_us,
            durationUs: r.duration_us,
            error: r.status === 2,
          });
      }
      return calls;
    });
  }

  private async measure(c: pg.PoolClient): Promise<{ spans: number; bytes: number }> {
    const r = await c.query<{ spans: number; bytes: number }>(
      `SELECT (SELECT count(*) FROM ${SPANS}) AS spans,
              (SELECT coalesce(sum(pg_column_size(s.*)), 0) FROM ${SPANS} s)::bigint
            + (SELECT coalesce(sum(pg_column_size(r.*)), 0) FROM ${RESOURCES} r)::bigint AS bytes`,
    );
    return r.rows[0]!;
  }

  /** Deletes up to `limit` oldest spans that started before `beforeUs`; their count and bytes. */
  private async deleteOldest(
    c: pg.PoolClient,
    limit: number,
    beforeUs: number,
  ): Promise<{ n: number; bytes: number }> {
    const r = await c.query<{ n: number; bytes: number }>(
      `WITH o AS (SELECT trace_id, span_id FROM ${SPANS} WHERE start_us < $1 ORDER BY start_us LIMIT $2),
            d AS (DELETE FROM ${SPANS} s USING o WHERE s.trace_id = o.trace_id AND s.span_id = o.span_id
                  RETURNING pg_column_size(s.*) AS b)
       SELECT count(*) AS n, coalesce(sum(b), 0)::bigint AS bytes FROM d`,
      [beforeUs, limit],
    );
    return r.rows[0]!;
  }

  /**
   * Deletes by age, then oldest first until under the size limit, in chunks of their own
   * transactions so ingest interleaves. One replica at a time (an advisory lock): another finding
   * it taken skips the pass, since the database is shared.
   */
  enforceRetention(policy: RetentionPolicy, nowMs: number): Promise<RetentionResult> {
    return this.use(async () => {
      const c = await this.pool.connect();
      try {
        const lock = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
          RETENTION_LOCK,
        ]);
        if (!lock.rows[0]!.ok)
          return { deletedByAge: 0, deletedBySize: 0, bytes: (await this.measure(c)).bytes };
        try {
          const cutoffUs = (nowMs - policy.maxAgeMs) * 1000;
          let deletedByAge = 0;
          for (;;) {
            const { n } = await this.deleteOldest(c, CHUNK, cutoffUs);
            deletedByAge += n;
            if (n < CHUNK) break;
          }
          let deletedBySize = 0;
          let { spans: count, bytes } = await this.measure(c);
          while (bytes > policy.maxBytes && count > 0) {
            const share = (bytes - policy.maxBytes) / bytes;
            const d = await this.deleteOldest(
              c,
              Math.min(CHUNK, Math.max(100, Math.ceil(count * share))),
              Number.MAX_SAFE_INTEGER,
            );
            if (d.n === 0) break;
            deletedBySize += d.n;
            count -= d.n;
            bytes -= d.bytes;
          }
          if (deletedByAge + deletedBySize > 0) {
            // A resource whose newest span is older than every span left is no longer used.
            await c.query(
              `DELETE FROM ${RESOURCES}
                WHERE last_start_us < coalesce((SELECT min(start_us) FROM ${SPANS}), 9223372036854775807)`,
            );
            // Autovacuum makes the deleted rows' space reusable; the files do not shrink.
            bytes = (await this.measure(c)).bytes;
          }
          return { deletedByAge, deletedBySize, bytes };
        } finally {
          await c.query('SELECT pg_advisory_unlock($1)', [RETENTION_LOCK]);
        }
      } finally {
        c.release();
      }
    });
  }

  stats(): Promise<{ spans: number; bytes: number }> {
    return this.use(async () => {
      const c = await this.pool.connect();
      try {
        return await this.measure(c);
      } finally {
        c.release();
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
