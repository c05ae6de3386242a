// The local `postgres` image: Debian's PostgreSQL, initialised like the official image's entrypoint
// (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, first start only) in the pod's volume directory,
// then run on the pod's loopback address. PostgreSQL refuses to run as root, so when the runtime
// is root (the fleet and CI are) it runs as non-root in a user namespace (or as the `postgres` user).
import { execFile, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  appendFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { MeridianError } from '../../kube/errors.ts';

export const POSTGRES_ROOT = '/usr/lib/postgresql';

/** The newest installed version's bin directory. */
export function postgresBinDir(root = POSTGRES_ROOT): string {
  let versions: string[] = [];
  try {
    versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres')));
  } catch {
    // Not installed.
  }
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest)
    throw new MeridianError(
      'PostgresMissing',
      `the local postgres image needs Debian's PostgreSQL in ${root}/<version>/bin (apt-get install postgresql)`,
    );
  return join(root, newest, 'bin');
}

export interface PostgresSettings {
  readonly user: string;
  readonly password: string | undefined;
  readonly db: string;
}

/** The official image's reading of its environment (POSTGRES_DB defaults to the user). */
export function postgresSettings(env: Readonly<Record<string, string>>): PostgresSettings {
  const user = env['POSTGRES_USER'] || 'postgres';
  return { user, password: env['POSTGRES_PASSWORD'] || undefined, db: env['POSTGRES_DB'] || user };
}

const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;

/**
 * How PostgreSQL runs when we are root: preferably in a user namespace where root is mapped to the
 * `postgres` uid (the files stay root's, no permission changes anywhere); where user namespaces
 * are not allowed, as the `postgres` user itself (its data directory chowned, the fleet home's
 * parents made traversable).
 */
type RunAs = { kind: 'userns'; uid: number } | { kind: 'user'; uid: number; gid: number } | undefined;

let runAsCache: RunAs | null = null;

function runAs(): RunAs {
  if (runAsCache !== null) return runAsCache;
  if (process.getuid?.() !== 0) return (runAsCache = undefined);
  const id = (flag: string): number | undefined => {
    const r = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
    return r.status === 0 ? Number(r.stdout.trim()) : undefined;
  };
  const uid = id('-u') ?? 1000;
  const gid = id('-g') ?? uid;
  const probe = spawnSync('unshare', ['--user', `--map-user=${uid}`, `--map-group=${gid}`, 'true']);
  if (probe.status === 0) return (runAsCache = { kind: 'userns', uid });
  if (id('-u') === undefined)
    throw new MeridianError(
      'PostgresMissing',
      'PostgreSQL refuses to run as root, and there is neither a user namespace nor a `postgres` user to run it in (apt-get install postgresql)',
    );
  return (runAsCache = { kind: 'user', uid, gid });
}

/** `argv` prefixed to run as `as`. */
function wrap(argv: readonly string[], as: RunAs): string[] {
  if (!as) return [...argv];
  if (as.kind === 'userns')
    return ['unshare', '--user', `--map-user=${as.uid}`, `--map-group=${as.uid}`, ...argv];
  return ['setpriv', `--reuid=${as.uid}`, `--regid=${as.gid}`, '--init-groups', '--', ...argv];
}

/** Lets `postgres` walk down to its data directory (search permission only, no listing). */
function allowTraversal(dir: string): void {
  for (let d = dirname(dir); d !== '/'; d = dirname(d)) {
    const st = statSync(d);
    if ((st.mode & 0o001) === 0) chmodSync(d, (st.mode & 0o7777) | 0o001);
  }
}

/** Runs an init step (as `as`), without blocking the runtime's event loop meanwhile. */
function run(argv: readonly string[], as: RunAs, input?: string): Promise<void> {
  const full = wrap(argv, as);
  return new Promise((resolve, reject) => {
    const child = execFile(
      full[0]!,
      full.slice(1),
      { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', LANG: 'C.UTF-8' }, timeout: 120_000 },
      (err, stdout, stderr) => {
        if (!err) return resolve();
        const out = (stderr || stdout || err.message).trim().slice(-2000);
        reject(new MeridianError('PostgresInitFailed', `${argv.join(' ')}: ${out}`));
      },
    );
    child.stdin?.end(input ?? '');
  });
}

/**
 * Initialises `volumeDir/pgdata` on first use (initdb, roles, database, host auth for loopback) and
 * returns the argv and extra env that run the server on `address:port`.
 */
export async function preparePostgres(
  volumeDir: string,
  env: Readonly<Record<string, string>>,
  address: string,
  port: number,
): Promise<{ argv: string[]; env: Record<string, string> }> {
  const bin = postgresBinDir();
  const as = runAs();
  const pgdata = join(volumeDir, 'pgdata');
  const s = postgresSettings(env);
  mkdirSync(volumeDir, { recursive: true, mode: 0o700 });
  if (as?.kind === 'user') {
    allowTraversal(volumeDir);
    chownSync(volumeDir, as.uid, as.gid);
  }
  if (!existsSync(join(pgdata, 'PG_VERSION'))) {
    rmSync(pgdata, { recursive: true, force: true }); // A half-made directory from an interrupted init.
    const pwfile = join(volumeDir, '.pwfile');
    writeFileSync(pwfile, `${s.password ?? ''}\n`, { mode: 0o600 });
    if (as?.kind === 'user') chownSync(pwfile, as.uid, as.gid);
    try {
      await run(
        [
          join(bin, 'initdb'),
          `--pgdata=${pgdata}`,
          `--username=${s.user}`,
          '--encoding=UTF8',
          '--locale=C.UTF-8',
          ...(s.password ? [`--pwfile=${pwfile}`] : []),
        ],
        as,
      );
    } finally {
      rmSync(pwfile, { force: true });
    }
    // Loopback only; with a password, password auth (the official image's scram-sha-256), else trust.
    const method = s.password ? 'scram-sha-256' : 'trust';
    appendFileSync(
      join(pgdata, 'pg_hba.conf'),
      `\nhost all all 127.0.0.0/8 ${method}\nhost all all ::1/128 ${method}\n`,
    );
    if (s.db !== 'postgres') {
      await run(
        [join(bin, 'postgres'), '--single', '-D', pgdata, '-c', 'listen_addresses=', 'postgres'],
        as,
        `CREATE DATABASE ${quoteIdent(s.db)};\n`,
      );
    }
  }
  const server = [
    join(bin, 'postgres'),
    '-D',
    pgdata,
    '-p',
    String(port),
    '-c',
    `listen_addresses=${address}`,
    // No unix socket (its default directory may not exist); clients use TCP on loopback.
    '-c',
    'unix_socket_directories=',
  ];
  return {
    argv: wrap(server, as),
    // So `psql` and `pg_isready` (exec probes) reach this server without flags, as in the image.
    env: {
      PGDATA: pgdata,
      PGHOST: address,
      PGPORT: String(port),
      PATH: `${bin}:${env['PATH'] ?? process.env['PATH'] ?? ''}`,
    },
  };
}
