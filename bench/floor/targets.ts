// EXPERIMENT — bench-only (docs/benchmarks.md, "Gateway data-plane floor"): the floor prototypes as
// targets of the gateway bench (`BENCH_FLOOR=1 npm run bench gateway`), started through its own
// process machinery so they are measured in the same wrk rounds as nginx, HAProxy and Meridian.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Target names start with this (none of the prototypes writes an access log). */
export const FLOOR_PREFIX = 'floor: ';

/** What the gateway bench starts: a command and its arguments, `port` to wait for. */
export interface FloorProcess {
  readonly name: string;
  readonly file: string;
  readonly cmd: string;
  readonly args: readonly string[];
  readonly port: number;
  readonly env: Record<string, string>;
}

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * The three minimal Node proxies (each `workers` processes) and the Go ReverseProxy
 * (GOMAXPROCS=`workers`), built into `dir` first. `ports` gives one free port per target.
 */
export function floorProcesses(
  dir: string,
  backendPort: number,
  workers: number,
  ports: readonly number[],
): FloorProcess[] {
  // Standard library only, so the build needs no network (GOPROXY=off makes sure of it).
  const bin = join(dir, 'go-proxy');
  const build = spawnSync('go', ['build', '-o', bin, '.'], {
    cwd: join(here, 'go-proxy'),
    encoding: 'utf8',
    env: { ...process.env, GOTOOLCHAIN: 'local', GOPROXY: 'off', GOFLAGS: '-mod=mod' },
  });
  if (build.status !== 0) throw new Error(`go build failed:\n${build.stderr}`);
  const modes = [
    ['raw-pool', 'raw socket front + UpstreamPool'],
    ['raw-raw', 'raw socket front + raw upstream'],
    ['http-raw', 'node:http front + raw upstream'],
  ] as const;
  const out: FloorProcess[] = modes.map(([mode, what], i) => {
    const port = ports[i]!;
    const script = join(here, 'node-proxy.ts');
    return {
      name: `${FLOOR_PREFIX}Node, ${what}`,
      file: `floor-${mode}`,
      cmd: process.execPath,
      args: ['--import', 'tsx', script, mode, String(port), String(backendPort), String(workers)],
      port,
      env: {},
    };
  });
  const port = ports[modes.length]!;
  out.push({
    name: `${FLOOR_PREFIX}Go ReverseProxy, GOMAXPROCS=${workers}`,
    file: 'floor-go',
    cmd: bin,
    args: ['-listen', `127.0.0.1:${port}`, '-upstream', `http://127.0.0.1:${backendPort}`],
    port,
    env: { GOMAXPROCS: String(workers) },
  });
  return out;
}
