// The embedded trace store: one SQLite database (better-sqlite3) in WAL mode. Spans are one row
// each with the topology as indexed columns; resource attributes, the same for every span of a
// process, are kept once in their own table. Batches go in one transaction each. Indexes are the
// ones the queries need: (trace, span) for a trace and for parent/child joins, start time alone
// and after service or cluster for searches, and a partial one over failed spans.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
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

const SCHEMA = `
CREATE TABLE IF NOT EXISTS resources (
  id INTEGER PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  attrs TEXT NOT NULL,
  last_start_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS spans (
  trace_id BLOB NOT NULL,
  span_id BLOB NOT NULL,
  parent_span_id BLOB,
  name TEXT NOT NULL,
  kind INTEGER NOT NULL,
  start_us INTEGER NOT NULL,
  duration_us INTEGER NOT NULL,
  status INTEGER NOT NULL,
  service TEXT NOT NULL,
  cluster TEXT,
  region TEXT,
  namespace TEXT,
  pod TEXT,
  app TEXT,
  revision TEXT,
  resource_id INTEGER NOT NULL,
  detail TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS spans_by_id ON spans (trace_id, span_id);
CREATE INDEX IF NOT EXISTS spans_by_start ON spans (start_us);
CREATE INDEX IF NOT EXISTS spans_by_service ON spans (service, start_us);
CREATE INDEX IF NOT EXISTS spans_by_cluster ON spans (cluster, start_us);
CREATE INDEX IF NOT EXISTS spans_failed ON spans (start_us) WHERE status = 2;
`;

const SPAN_COLUMNS = `trace_id, span_id, parent_span_id, name, kind, start_us, duration_us, status, service,
  cluster, region, namespace, pod, app, revision, resource_id, detail`;

type SpanRow = [
  Buffer,
  Buffer,
  Buffer | null,
  string,
  number,
  number,
  number,
  number,
  string,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  number,
  string,
];

interface Detail {
  readonly attributes: Attributes;
  readonly events: StoredSpan['events'];
  readonly links: StoredSpan['links'];
  readonly scope?: StoredSpan['scope'];
  readonly statusMessage?: string;
}

const orUndefined = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
const CHUNK = 10_000;
const RESOURCE_CACHE = 10_000;

export class SqliteTraceStore implements TraceStore {
  private readonly db: Database.Database;
  private readonly resourceIds = new Map<string, number>();
  private readonly statements = new Map<string, Database.Statement>();

  constructor(readonly file: string) {
    this.db = new Database(file);
    // auto_vacuum must be chosen before the first table exists; incremental lets retention hand
    // freed pages back to the file system without a full VACUUM.
    this.db.pragma('auto_vacuum = INCREMENTAL');
    this.db.pragma('journal_mode = WAL');
    // WAL + NORMAL: a power cut may lose the last transactions, never corrupt the file.
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private resourceId(attrs: Attributes, startUs: number): number {
    const json = JSON.stringify(attrs);
    let id = this.resourceIds.get(json);
    if (id === undefined) {
      const hash = createHash('sha256').update(json).digest('base64url');
      this.stmt('INSERT OR IGNORE INTO resources (hash, attrs, last_start_us) VALUES (?, ?, ?)').run(
        hash,
        json,
        startUs,
      );
      id = (this.stmt('SELECT id FROM resources WHERE hash = ?').get(hash) as { id: number }).id;
      if (this.resourceIds.size >= RESOURCE_CACHE) this.resourceIds.clear();
      this.resourceIds.set(json, id);
    }
    return id;
  }

  private readonly writeTx = (spans: readonly StoredSpan[]): number => {
    const insert = this.stmt(
      `INSERT OR IGNORE INTO spans (${SPAN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const latest = new Map<number, number>();
    let stored = 0;
    let lastResource: Attributes | undefined;
    let lastId = 0;
    for (const s of spans) {
      // Spans of one resource arrive together; skip re-serialising its attributes for each.
      if (s.resource !== lastResource) {
        lastId = this.resourceId(s.resource, s.startUs);
        lastResource = s.resource;
      }
      latest.set(lastId, Math.max(latest.get(lastId) ?? 0, s.startUs));
      const detail: Detail = {
        attributes: s.attributes,
        events: s.events,
        links: s.links,
        scope: s.scope,
        statusMessage: s.statusMessage,
      };
      stored += insert.run(
        Buffer.from(s.traceId, 'hex'),
        Buffer.from(s.spanId, 'hex'),
        s.parentSpanId ? Buffer.from(s.parentSpanId, 'hex') : null,
        s.name,
        s.kind,
        s.startUs,
        s.durationUs,
        s.status,
        s.service,
        s.cluster ?? null,
        s.region ?? null,
        s.namespace ?? null,
        s.pod ?? null,
        s.app ?? null,
        s.revision ?? null,
        lastId,
        JSON.stringify(detail),
      ).changes;
    }
    const touch = this.stmt('UPDATE resources SET last_start_us = max(last_start_us, ?) WHERE id = ?');
    for (const [id, startUs] of latest) touch.run(startUs, id);
    return stored;
  };

  async write(spans: readonly StoredSpan[]): Promise<{ stored: number }> {
    return { stored: this.db.transaction(this.writeTx)(spans) };
  }

  private toSpans(rows: readonly SpanRow[]): StoredSpan[] {
    const resources = new Map<number, Attributes>();
    const getResource = this.stmt('SELECT attrs FROM resources WHERE id = ?');
    return rows.map((r) => {
      let resource = resources.get(r[15]);
      if (!resource) {
        const row = getResource.get(r[15]) as { attrs: string } | undefined;
        resource = row ? (JSON.parse(row.attrs) as Attributes) : {};
        resources.set(r[15], resource);
      }
      const d = JSON.parse(r[16]) as Detail;
      return {
        traceId: r[0].toString('hex'),
        spanId: r[1].toString('hex'),
        parentSpanId: r[2] ? r[2].toString('hex') : undefined,
        name: r[3],
        kind: r[4],
        startUs: r[5],
        durationUs: r[6],
        status: r[7],
        service: r[8],
        cluster: orUndefined(r[9]),
        region: orUndefined(r[10]),
        namespace: orUndefined(r[11]),
        pod: orUndefined(r[12]),
        app: orUndefined(r[13]),
        revision: orUndefined(r[14]),
        resource,
        attributes: d.attributes,
        events: d.events,
        links: d.links,
        scope: d.scope,
        statusMessage: d.statusMessage,
      };
    });
  }

  private traceSync(traceId: string): StoredSpan[] {
    const rows = this.stmt(`SELECT ${SPAN_COLUMNS} FROM spans WHERE trace_id = ? ORDER BY start_us`)
      .raw(true)
      .all(Buffer.from(traceId, 'hex')) as SpanRow[];
    return this.toSpans(rows);
  }

  async trace(traceId: string): Promise<StoredSpan[]> {
    return this.traceSync(traceId);
  }

  async search(q: TraceSearch): Promise<TraceSummary[]> {
    const where = ['start_us >= ?', 'start_us < ?'];
    const params: (string | number)[] = [q.startUs, q.endUs];
    for (const [column, value] of [
      ['service', q.service],
      ['cluster', q.cluster],
      ['namespace', q.namespace],
    ] as const) {
      if (value !== undefined) {
        where.push(`${column} = ?`);
        params.push(value);
      }
    }
    if (q.minDurationUs !== undefined) {
      where.push('duration_us >= ?');
      params.push(q.minDurationUs);
    }
    // Literal status tests, so the planner can use the partial index of failed spans.
    if (q.error === true) where.push('status = 2');
    if (q.error === false) where.push('status != 2');
    const sql = `SELECT trace_id FROM spans WHERE ${where.join(' AND ')} ORDER BY start_us DESC`;
    // Walk matching spans newest first and stop at `limit` distinct traces: recent hits are cheap
    // however many older spans match.
    const ids: string[] = [];
    const seen = new Set<string>();
    for (const row of this.stmt(sql)
      .raw(true)
      .iterate(...params) as IterableIterator<[Buffer]>) {
      const id = row[0].toString('hex');
      if (seen.has(id)) continue;
      seen.add(id);
      ids.push(id);
      if (ids.length >= q.limit) break;
    }
    return ids
      .map((id) => this.traceSync(id))
      .filter((spans) => spans.length > 0)
      .map(summarizeTrace);
  }

  async serviceCalls(window: TimeWindowUs): Promise<ServiceCall[]> {
    const rows = this.stmt(
      `SELECT c.service, c.cluster, c.region, c.namespace, c.app,
              s.service, s.cluster, s.region, s.namespace, s.app,
              c.start_us, c.duration_us, c.status, s.status
         FROM spans c JOIN spans s ON s.trace_id = c.trace_id AND s.parent_span_id = c.span_id
        WHERE c.start_us >= ? AND c.start_us < ? AND c.kind IN (3, 4)
          AND ((c.kind = 3 AND s.kind = 2) OR (c.kind = 4 AND s.kind = 5))`,
    )
      .raw(true)
      .all(window.startUs, window.endUs) as (string | number | null)[][];
    const end = (r: (string | number | null)[], i: number): ServiceCall['client'] => ({
      service: String(r[i]),
      cluster: (r[i + 1] as string | null) ?? undefined,
      region: (r[i + 2] as string | null) ?? undefined,
      namespace: (r[i + 3] as string | null) ?? undefined,
      app: (r[i + 4] as string | null) ?? undefined,
    });
    const calls: ServiceCall[] = rows.map((r) => ({
      client: end(r, 0),
      server: end(r, 5),
      startUs: Number(r[10]),
      durationUs: Number(r[11]),
      error: r[12] === 2 || r[13] === 2,
    }));
    // Calls to databases, which send no spans: the far end is named from the client span.
    const dbRows = this.stmt(
      `SELECT c.service, c.cluster, c.region, c.namespace, c.app,
              coalesce(json_extract(c.detail, '$.attributes."db.system.name"'),
                       json_extract(c.detail, '$.attributes."db.system"')),
              json_extract(c.detail, '$.attributes."server.address"'),
              json_extract(c.detail, '$.attributes."peer.service"'),
              c.start_us, c.duration_us, c.status
         FROM spans c
        WHERE c.start_us >= ? AND c.start_us < ? AND c.kind = 3
          AND coalesce(json_extract(c.detail, '$.attributes."db.system.name"'),
                       json_extract(c.detail, '$.attributes."db.system"')) IS NOT NULL`,
    )
      .raw(true)
      .all(window.startUs, window.endUs) as (string | number | null)[][];
    const text = (v: string | number | null | undefined): string | undefined =>
      typeof v === 'string' && v !== '' ? v : undefined;
    for (const r of dbRows) {
      const client = end(r, 0);
      const server = databasePeer(client, text(r[5]), text(r[6]), text(r[7]));
      if (!server) continue;
      calls.push({
        client,
        server,
        startUs: Number(r[8]),
        durationUs: Number(r[9]),
        error: r[10] === 2,
      });
    }
    return calls;
  }

  private bytesSync(): number {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    const size = this.db.pragma('page_size', { simple: true }) as number;
    return (pages - free) * size;
  }

  private deleteOldest(limit: number, beforeUs = Number.MAX_SAFE_INTEGER): number {
    return this.stmt(
      'DELETE FROM spans WHERE rowid IN (SELECT rowid FROM spans WHERE start_us < ? ORDER BY start_us LIMIT ?)',
    ).run(beforeUs, limit).changes;
  }

  /** Deletes by age, then oldest first until under the size limit; in chunks so ingest interleaves. */
  async enforceRetention(policy: RetentionPolicy, nowMs: number): Promise<RetentionResult> {
    const yieldToIngest = (): Promise<void> => new Promise((r) => setImmediate(r));
    const cutoffUs = (nowMs - policy.maxAgeMs) * 1000;
    let deletedByAge = 0;
    for (;;) {
      const n = this.deleteOldest(CHUNK, cutoffUs);
      deletedByAge += n;
      if (n < CHUNK) break;
      await yieldToIngest();
    }
    let deletedBySize = 0;
    let bytes = this.bytesSync();
    if (bytes > policy.maxBytes) {
      let count = (this.stmt('SELECT count(*) AS n FROM spans').get() as { n: number }).n;
      while (bytes > policy.maxBytes && count > 0) {
        // Delete the share of rows that is over the limit (a little more, since freed rows leave
        // partly filled index pages behind), then measure again.
        const share = (bytes - policy.maxBytes) / bytes;
        const n = this.deleteOldest(Math.min(CHUNK, Math.max(100, Math.ceil(count * share * 1.1))));
        if (n === 0) break;
        deletedBySize += n;
        count -= n;
        bytes = this.bytesSync();
        await yieldToIngest();
      }
    }
    if (deletedByAge + deletedBySize > 0) {
      // A resource whose newest span is older than every span left is no longer used.
      this.stmt(
        'DELETE FROM resources WHERE last_start_us < coalesce((SELECT min(start_us) FROM spans), 9223372036854775807)',
      ).run();
      this.resourceIds.clear();
      this.db.pragma('incremental_vacuum');
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      bytes = this.bytesSync();
    }
    return { deletedByAge, deletedBySize, bytes };
  }

  async stats(): Promise<{ spans: number; bytes: number }> {
    const spans = (this.stmt('SELECT count(*) AS n FROM spans').get() as { n: number }).n;
    return { spans, bytes: this.bytesSync() };
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.db.close();
  }
}
