// APP 2's tables, created on start. Several APP 2 replicas in several clusters start against one
// database at once, so the migration runs in a transaction holding an advisory lock: concurrent
// `CREATE TABLE IF NOT EXISTS` statements can otherwise fail on the catalog's unique indexes.

/** Arbitrary, fixed: the advisory lock every APP 2 takes while it creates the schema. */
export const SCHEMA_LOCK_ID = 0x5e_ed_0a_02;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS items (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  price_cents integer NOT NULL CHECK (price_cents >= 0)
);
CREATE TABLE IF NOT EXISTS orders (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id  uuid NOT NULL UNIQUE,
  item        text NOT NULL REFERENCES items (id),
  quantity    integer NOT NULL CHECK (quantity > 0),
  stored_by   text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
`;

/** The shop's catalogue, inserted once (existing rows are left as they are). */
export const SEED_ITEMS: readonly { id: string; name: string; priceCents: number }[] = [
  { id: 'espresso', name: 'Espresso', priceCents: 250 },
  { id: 'cappuccino', name: 'Cappuccino', priceCents: 350 },
  { id: 'croissant', name: 'Croissant', priceCents: 280 },
  { id: 'bagel', name: 'Bagel', priceCents: 300 },
];
