// One probe attempt against a pod process, as the kubelet makes it: httpGet (2xx/3xx passes),
// tcpSocket (a connection passes) or exec (exit 0 passes), bounded by the probe's timeout. The
// kubelet dials the pod IP; here that is the pod's loopback address, through the dial guard.
import { spawn } from 'node:child_process';
import { dialHttp, dialTcp } from '../../dial/dialer.ts';
import type { ContainerPort, Probe } from './pod-object.ts';

export interface ProbeTarget {
  readonly loopback: string;
  readonly ports: readonly ContainerPort[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

export interface ProbeResult {
  readonly ok: boolean;
  readonly message: string;
}

/** A named port resolves through the container's ports; a number is itself. */
export function resolveProbePort(port: number | string, ports: readonly ContainerPort[]): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return ports.find((p) => p.name === port)?.containerPort;
}

export function runProbe(probe: Probe, target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  if (probe.httpGet) return httpProbe(probe.httpGet, target, timeoutMs);
  if (probe.tcpSocket) return tcpProbe(probe.tcpSocket.port, target, timeoutMs);
  if (probe.exec) return execProbe(probe.exec.command ?? [], target, timeoutMs);
  // grpc probes are not played locally: count them as passing rather than failing the pod.
  return Promise.resolve({ ok: true, message: 'probe type not run locally' });
}

function httpProbe(
  g: NonNullable<Probe['httpGet']>,
  target: ProbeTarget,
  timeoutMs: number,
): Promise<ProbeResult> {
  const port = resolveProbePort(g.port, target.ports);
  if (port === undefined) return Promise.resolve({ ok: false, message: `port ${g.port} not found` });
  // An explicit host is another machine in Kubernetes; locally only the pod's address is reachable.
  const host = target.loopback;
  const https = (g.scheme ?? 'HTTP').toUpperCase() === 'HTTPS';
  const headers: Record<string, string> = { 'user-agent': 'kube-probe/1.35', accept: '*/*' };
  for (const h of g.httpHeaders ?? []) headers[h.name.toLowerCase()] = h.value;
  return new Promise((resolve) => {
    const req = dialHttp(
      {
        host,
        port,
        path: g.path ?? '/',
        method: 'GET',
        headers,
        timeout: timeoutMs,
        agent: false,
        // The kubelet does not verify a probe's certificate either.
        ...(https ? { rejectUnauthorized: false } : {}),
      },
      https,
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve({ ok: code >= 200 && code < 400, message: `HTTP probe failed with statuscode: ${code}` });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', (e) =>
      resolve({ ok: false, message: `Get "http://${host}:${port}${g.path ?? '/'}": ${e.message}` }),
    );
    req.end();
  });
}

function tcpProbe(p: number | string, target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  const port = resolveProbePort(p, target.ports);
  if (port === undefined) return Promise.resolve({ ok: false, message: `port ${p} not found` });
  return new Promise((resolve) => {
    const sock = dialTcp({ host: target.loopback, port, timeout: timeoutMs });
    const done = (r: ProbeResult): void => {
      sock.destroy();
      resolve(r);
    };
    sock.once('connect', () => done({ ok: true, message: 'connected' }));
    sock.once('timeout', () =>
      done({ ok: false, message: `dial tcp ${target.loopback}:${port}: i/o timeout` }),
    );
    sock.once('error', (e) =>
      done({ ok: false, message: `dial tcp ${target.loopback}:${port}: ${e.message}` }),
    );
  });
}

function execProbe(command: readonly string[], target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  if (command.length === 0) return Promise.resolve({ ok: false, message: 'exec probe without a command' });
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), {
      cwd: target.cwd,
      env: { ...target.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const keep = (d: Buffer): void => {
      if (out.length < 1024) out += d.toString();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, message: e.message });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        ok: code === 0,
        message: signal ? `command timed out after ${timeoutMs} ms` : `exit ${code}: ${out.trim()}`,
      });
    });
  });
}
