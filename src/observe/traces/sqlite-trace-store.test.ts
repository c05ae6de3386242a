import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { traceStoreContract } from '../../../test/support/trace-store-contract.ts';
import { SqliteTraceStore } from './sqlite-trace-store.ts';

const dirs = new Map<SqliteTraceStore, string>();
traceStoreContract(
  'SQLite',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-trace-store-'));
    const store = new SqliteTraceStore(join(dir, 'traces.db'));
    dirs.set(store, dir);
    return store;
  },
  async (store) => {
    await store.close();
    rmSync(dirs.get(store as SqliteTraceStore)!, { recursive: true, force: true });
  },
);
