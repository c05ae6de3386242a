// A loopback HTTP listener standing in for one member cluster's ingress controller: it serves the
// hosts it is told about, answers /healthz, and names its cluster in every response, so tests can
// see where DNS and the edge gateway sent a request. It can be taken down and brought back.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export class IngressListener {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Requests served, by path, since start. */
  readonly hits: { path: string; host: string; xff?: string }[] = [];
  /** When set, every non-health request gets this status (to fake a failing backend). */
  failWith: number | undefined;

  constructor(
    readonly cluster: string,
    readonly address: string,
    readonly port: number,
    private readonly hosts: ReadonlySet<string>,
  ) {}

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 5_000;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.address, () => resolve());
    });
    this.server = server;
  }

  /** Stops listening and cuts open connections, like an ingress controller that died. */
  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    if (!this.hosts.has(host)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no ingress rule for host ${host}\n`);
      return;
    }
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    this.hits.push({ path: req.url ?? '/', host, xff: req.headers['x-forwarded-for'] as string | undefined });
    if (this.failWith) {
      res.writeHead(this.failWith, { 'content-type': 'text/plain' }).end(`${this.cluster} failing\n`);
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ cluster: this.cluster, host, path: req.url }));
  }
}
