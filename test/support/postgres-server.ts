// A throwaway PostgreSQL server on 127.0.0.1 for tests and benchmarks: Debian's binaries set up
// the way the local fleet's `postgres` image does it (preparePostgres: initdb in a temporary
// directory, loopback-only password auth, and as non-root when we are root), on a free port.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { preparePostgres } from '../../src/localfleet/runtime/postgres-image.ts';
import { freePort } from './free-port.ts';

export interface PostgresServer {
  /** `postgres://meridian:…@127.0.0.1:<port>/<db>`: the admin database, or `db`. */
  url(db?: string): string;
  /** A new empty database; its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

const USER = 'meridian';
const PASSWORD = 'test-password-not-secret';

export async function startPostgres(): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-pg-'));
  const port = await freePort();
  const env = { POSTGRES_USER: USER, POSTGRES_PASSWORD: PASSWORD, POSTGRES_DB: 'postgres' };
  let child: ChildProcess | undefined;
  let stderr = '';
  const url = (db = 'postgres'): string =>
    `postgres://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/${db}`;
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGINT'); // PostgreSQL's fast shutdown: disconnect clients, stop.
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const server = await preparePostgres(dir, env, '127.0.0.1', port);
    child = spawn(server.argv[0]!, server.argv.slice(1), {
      env: { PATH: process.env['PATH'] ?? '', LANG: 'C.UTF-8', ...server.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const c = new pg.Client({ connectionString: url() });
      try {
        await c.connect();
        await c.end();
        break;
      } catch (e) {
        await c.end().catch(() => undefined);
        if (child.exitCode !== null || Date.now() > deadline)
          throw new Error(`PostgreSQL did not start: ${String(e)}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  let n = 0;
  return {
    url,
    async createDatabase() {
      const db = `traces_${++n}`;
      const c = new pg.Client({ connectionString: url() });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${db}`);
      } finally {
        await c.end();
      }
      return url(db);
    },
    stop,
  };
}
