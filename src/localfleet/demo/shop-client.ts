// An HTTP client of the reference shop (APP 1's API) through any front door: the edge gateway or one
// member's ingress address, with the published host name in `Host`. It reports who served each
// request from APP 1's answer headers (`x-app1-cluster`, `x-app2-cluster`, `x-app1-version`).
import { Agent } from 'node:http';
import { dialHttp } from '../../dial/dialer.ts';
import { isLoopbackHost } from '../../dial/dial-guard.ts';

export interface ShopResult {
  /** When the request was sent (ms since the epoch). */
  readonly at: number;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** HTTP status; 0 when no answer came (refused, reset, timed out). */
  readonly status: number;
  readonly ms: number;
  readonly app1Cluster?: string;
  readonly app2Cluster?: string;
  readonly app1Version?: string;
  /** The order's id for a successful POST /orders. */
  readonly orderId?: number;
  readonly error?: string;
}

const MAX_BODY = 256 * 1024;

export class ShopClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 16 });

  /** `base`: `http://127.0.0.1:8000` (must be loopback); `host`: the shop's published name. */
  constructor(
    private readonly base: URL,
    private readonly host: string,
    private readonly timeoutMs = 5_000,
  ) {
    if (!isLoopbackHost(base.hostname)) throw new Error(`${base.href}: the demo only talks to loopback`);
  }

  send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ShopResult> {
    const at = Date.now();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve) => {
      const done = (r: Omit<ShopResult, 'at' | 'method' | 'path' | 'ms'>): void =>
        resolve({ at, method, path, ms: Date.now() - at, ...r });
      const req = dialHttp(
        {
          host: this.base.hostname,
          port: Number(this.base.port || 80),
          method,
          path,
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: {
            host: this.host,
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          },
        },
        false,
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= MAX_BODY) chunks.push(c);
          });
          res.on('error', (e) => done({ status: 0, error: e.message }));
          res.on('end', () => {
            const h = (name: string): string | undefined => {
              const v = res.headers[name];
              return typeof v === 'string' ? v : undefined;
            };
            let orderId: number | undefined;
            const status = res.statusCode ?? 0;
            if (method === 'POST' && status === 201) {
              try {
                const id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: unknown }).id;
                if (typeof id === 'number') orderId = id;
              } catch {
                // Not JSON: counted as an answer without an id.
              }
            }
            const error =
              status >= 400 ? Buffer.concat(chunks).toString('utf8').slice(0, 200).trim() : undefined;
            done({
              status,
              ...(h('x-app1-cluster') ? { app1Cluster: h('x-app1-cluster') } : {}),
              ...(h('x-app2-cluster') ? { app2Cluster: h('x-app2-cluster') } : {}),
              ...(h('x-app1-version') ? { app1Version: h('x-app1-version') } : {}),
              ...(orderId !== undefined ? { orderId } : {}),
              ...(error ? { error } : {}),
            });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (e) => done({ status: 0, error: e.message }));
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
