// The active health check: one HTTP(S) GET of the health path at a cluster's ingress address,
// with the published host name in the Host header (and SNI), as a client would arrive.
import { assertLoopbackAllowed } from '../../dial/dial-guard.ts';
import { dialHttp } from '../../dial/dialer.ts';
import { errorMessage } from '../../kube/errors.ts';

export interface ProbeTarget {
  readonly address: string;
  readonly port: number;
  readonly host: string;
  readonly path: string;
  readonly timeoutMs: number;
}

export interface ProbeOutcome {
  readonly ok: boolean;
  /** Stable words (no timings), so status only changes when the result does. */
  readonly detail: string;
  readonly ms?: number;
}

/** Port 443 speaks TLS; any other port plain HTTP (the local fleet's ingresses listen on 8080). */
const usesTls = (port: number): boolean => port === 443 || port === 8443;

/** 2xx and 3xx are healthy, like most load balancers' defaults. */
export async function probeIngress(t: ProbeTarget): Promise<ProbeOutcome> {
  try {
    assertLoopbackAllowed(t.address);
  } catch (e) {
    return { ok: false, detail: errorMessage(e) };
  }
  const started = performance.now();
  const tls = usesTls(t.port);
  return new Promise((resolve) => {
    const req = dialHttp(
      {
        host: t.address,
        port: t.port,
        path: t.path,
        method: 'GET',
        headers: { host: t.host, 'user-agent': 'meridian-health-check', connection: 'close' },
        agent: false,
        timeout: t.timeoutMs,
        ...(tls ? { servername: t.host, rejectUnauthorized: false } : {}),
      },
      tls,
    );
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${t.timeoutMs} ms`)), t.timeoutMs);
    req.on('response', (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      const ms = Math.round(performance.now() - started);
      clearTimeout(timer);
      resolve({ ok: code >= 200 && code < 400, detail: `HTTP ${code}`, ms });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${t.timeoutMs} ms`)));
    req.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, detail: errorMessage(e) });
    });
    req.end();
  });
}
