// APP 2's data: items and orders in PostgreSQL through a connection pool, one CLIENT span per
// statement (child of the request's span) with the database semantic-convention attributes.
import { SpanKind, SpanStatusCode, type Context, type Tracer } from '@opentelemetry/api';
import type { Pool, QueryResultRow } from 'pg';
import type { OrderInput } from '@reference-system/service-kit';
import { SCHEMA_LOCK_ID, SCHEMA_SQL, SEED_ITEMS } from './schema.ts';

export interface Item {
  readonly id: string;
  readonly name: string;
  readonly priceCents: number;
}

export interface Order {
  readonly id: number;
  readonly item: string;
  readonly quantity: number;
  /** The cluster of the APP 2 that stored the order. */
  readonly storedBy: string;
  readonly createdAt: string;
}

/** The item of a new order does not exist (a foreign-key violation). */
export class UnknownItemError extends Error {}

const FOREIGN_KEY_VIOLATION = '23503';

interface OrderRow {
  id: string;
  item: string;
  quantity: number;
  stored_by: string;
  created_at: Date;
}

const toOrder = (r: OrderRow): Order => ({
  id: Number(r.id),
  item: r.item,
  quantity: r.quantity,
  storedBy: r.stored_by,
  createdAt: r.created_at.toISOString(),
});

/** Where the pool connects, for the spans' `server.*` and `db.namespace` attributes. */
export interface DatabaseTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
}

export class OrderStore {
  constructor(
    private readonly pool: Pool,
    private readonly tracer: Tracer,
    private readonly target: DatabaseTarget,
  ) {}

  /** Creates the tables and the catalogue if they are missing; safe to run from many replicas at once. */
  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_ID]);
      await client.query(SCHEMA_SQL);
      for (const item of SEED_ITEMS) {
        await client.query(
          'INSERT INTO items (id, name, price_cents) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING',
          [item.id, item.name, item.priceCents],
        );
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /** One round trip to the database; rejects when it is unreachable. */
  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async listItems(ctx: Context): Promise<Item[]> {
    const rows = await this.query<{ id: string; name: string; price_cents: number }>(
      ctx,
      'SELECT items',
      'SELECT id, name, price_cents FROM items ORDER BY id',
    );
    return rows.map((r) => ({ id: r.id, name: r.name, priceCents: r.price_cents }));
  }

  /**
   * Stores an order once per `requestId`: a retried request (same id) gets the order stored the
   * first time, so APP 1 may retry a POST safely.
   */
  async createOrder(ctx: Context, input: OrderInput, requestId: string, storedBy: string): Promise<Order> {
    try {
      const rows = await this.query<OrderRow>(
        ctx,
        'INSERT orders',
        `INSERT INTO orders (request_id, item, quantity, stored_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (request_id) DO UPDATE SET request_id = EXCLUDED.request_id
         RETURNING id, item, quantity, stored_by, created_at`,
        [requestId, input.item, input.quantity, storedBy],
      );
      return toOrder(rows[0]!);
    } catch (err) {
      if ((err as { code?: string }).code === FOREIGN_KEY_VIOLATION) {
        throw new UnknownItemError(`item "${input.item}" does not exist`);
      }
      throw err;
    }
  }

  async getOrder(ctx: Context, id: number): Promise<Order | undefined> {
    const rows = await this.query<OrderRow>(
      ctx,
      'SELECT orders',
      'SELECT id, item, quantity, stored_by, created_at FROM orders WHERE id = $1',
      [id],
    );
    return rows[0] && toOrder(rows[0]);
  }

  private async query<R extends QueryResultRow>(
    ctx: Context,
    spanName: string,
    text: string,
    values: unknown[] = [],
  ): Promise<R[]> {
    const span = this.tracer.startSpan(
      spanName,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system.name': 'postgresql',
          'db.namespace': this.target.database,
          'db.operation.name': spanName.split(' ')[0]!,
          'db.collection.name': spanName.split(' ')[1]!,
          'db.query.text': text,
          'server.address': this.target.host,
          'server.port': this.target.port,
        },
      },
      ctx,
    );
    try {
      const result = await this.pool.query<R>(text, values);
      span.setAttribute('db.response.returned_rows', result.rowCount ?? 0);
      return result.rows;
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  }
}
