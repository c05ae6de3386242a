// The local fleet's stand-in for each member's ingress controller: a listener on the member's
// loopback ingress address that implements the Ingress API. It matches Host and path against the
// member's real Ingress objects and checks the backing Service's real EndpointSlices for a ready
// endpoint; then
// - with the pod runtime's Service routing (`services`), it proxies the request to the Service's
//   loopback listener, so the real program behind it answers (what `fleet up` runs);
// - without it (pods played by kwok, whose addresses nothing may dial), it answers as that pod
//   would, naming cluster, Service and pod.
// Either way GSLB health checks, the edge gateway and `curl` exercise the generated objects end to
// end without leaving loopback.
import {
  createServer,
  type ClientRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { dialHttp } from '../dial/dialer.ts';
import { errorMessage } from '../kube/errors.ts';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { Informer } from '../kube/informer.ts';
import { isLoopbackHost } from '../dial/dial-guard.ts';
import { downstreamHeaders, upstreamHead } from '../traffic/edge/index.ts';
import type { ServiceAddressMap } from './runtime/service-addresses.ts';

interface IngressObject extends KubeObject {
  spec?: {
    rules?: {
      host?: string;
      http?: {
        paths?: {
          path?: string;
          backend?: { service?: { name: string; port?: { number?: number; name?: string } } };
        }[];
      };
    }[];
  };
}

interface EndpointSliceObject extends KubeObject {
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean }; targetRef?: { name?: string } }[];
}

export interface EmulatedMember {
  readonly name: string;
  readonly region: string;
  readonly client: ClusterClient;
  readonly address: string;
  readonly port: number;
}

export interface IngressMatch {
  readonly namespace: string;
  readonly ingress: string;
  readonly service: string;
  readonly port?: number;
  readonly portName?: string;
}

/** The Ingress rule for a host and path: exact host rules before catch-alls, longest prefix wins. */
export function matchIngress(
  ingresses: readonly IngressObject[],
  host: string,
  path: string,
): IngressMatch | undefined {
  let best: (IngressMatch & { len: number; exact: boolean }) | undefined;
  for (const ing of ingresses) {
    for (const rule of ing.spec?.rules ?? []) {
      const exact = rule.host !== undefined;
      if (exact && rule.host!.toLowerCase() !== host) continue;
      for (const p of rule.http?.paths ?? []) {
        const prefix = p.path ?? '/';
        const matches =
          path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`) || prefix === '/';
        const svc = p.backend?.service;
        if (!matches || !svc) continue;
        const better = !best || (exact && !best.exact) || (exact === best.exact && prefix.length > best.len);
        if (better) {
          best = {
            namespace: ing.metadata.namespace ?? 'default',
            ingress: ing.metadata.name,
            service: svc.name,
            port: svc.port?.number,
            ...(svc.port?.name ? { portName: svc.port.name } : {}),
            len: prefix.length,
            exact,
          };
        }
      }
    }
  }
  if (!best) return undefined;
  const { len: _len, exact: _exact, ...match } = best;
  return match;
}

/** How long a proxied exchange may take, as an ingress controller's upstream timeout. */
const UPSTREAM_TIMEOUT_MS = 30_000;

class MemberIngress {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly ingresses: Informer<IngressObject>;
  private readonly slices: Informer<EndpointSliceObject>;
  private next = 0;

  constructor(
    readonly member: EmulatedMember,
    private readonly services: ServiceAddressMap | undefined,
  ) {
    this.ingresses = new Informer<IngressObject>(member.client, 'networking.k8s.io/v1', 'Ingress');
    this.slices = new Informer<EndpointSliceObject>(member.client, 'discovery.k8s.io/v1', 'EndpointSlice');
  }

  async start(): Promise<void> {
    this.ingresses.start();
    this.slices.start();
    await this.listen();
  }

  /** Starts answering again after {@link down}. */
  async listen(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.member.port, this.member.address, () => resolve());
    });
    this.server = server;
  }

  /** Stops answering and cuts open connections, like an ingress controller that died. */
  async down(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }

  async stop(): Promise<void> {
    await this.down();
    await Promise.all([this.ingresses.stop(), this.slices.stop()]);
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Streams the exchange to the Service's loopback listener, as an ingress controller would. */
  private proxy(
    req: IncomingMessage,
    res: ServerResponse,
    match: IngressMatch,
    send: (code: number, body: object) => void,
  ): void {
    const svc = this.services!.addressFor(this.member.name, match.namespace, match.service);
    const port = svc?.ports.find((p) =>
      match.portName !== undefined ? p.name === match.portName : p.port === match.port,
    );
    if (!svc || !port || !isLoopbackHost(svc.loopback)) {
      req.resume();
      send(503, {
        cluster: this.member.name,
        error: `Service ${match.namespace}/${match.service} port ${match.portName ?? match.port ?? '?'} is not served`,
      });
      return;
    }
    let upstream: ClientRequest;
    try {
      upstream = dialHttp(
        {
          host: svc.loopback,
          port: port.port,
          method: req.method,
          path: req.url,
          // The edge gateway's own header rules: hop-by-hop out, X-Forwarded-* in.
          headers: upstreamHead(req.rawHeaders, req.socket.remoteAddress ?? '', {
            proto: 'http',
            port: this.member.port,
          }).headers,
          timeout: UPSTREAM_TIMEOUT_MS,
          agent: false,
        },
        false,
      );
    } catch (e) {
      req.resume();
      send(502, { cluster: this.member.name, error: errorMessage(e) });
      return;
    }
    upstream.on('response', (up) => {
      res.writeHead(up.statusCode ?? 502, downstreamHeaders(up.rawHeaders));
      up.pipe(res);
      up.on('error', () => res.destroy());
    });
    upstream.on('timeout', () => upstream.destroy(new Error('upstream timed out')));
    upstream.on('error', (err) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      send(502, {
        cluster: this.member.name,
        error: `Service ${match.namespace}/${match.service}: ${err.message}`,
      });
    });
    req.pipe(upstream);
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const path = (req.url ?? '/').split('?')[0]!;
    const match = matchIngress(this.ingresses.list(), host, path);
    const send = (code: number, body: object): void => {
      res.writeHead(code, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    };
    if (!match) {
      send(404, { cluster: this.member.name, error: `no Ingress rule for ${host}${path}` });
      return;
    }
    const ready = this.slices
      .list()
      .filter(
        (s) =>
          s.metadata.namespace === match.namespace &&
          s.metadata.labels?.['kubernetes.io/service-name'] === match.service &&
          s.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] !== 'meridian.dev',
      )
      .flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false));
    if (ready.length === 0) {
      send(503, {
        cluster: this.member.name,
        error: `Service ${match.namespace}/${match.service} has no ready endpoints`,
      });
      return;
    }
    if (this.services) {
      this.proxy(req, res, match, send);
      return;
    }
    const ep = ready[this.next++ % ready.length]!;
    req.resume();
    send(200, {
      cluster: this.member.name,
      region: this.member.region,
      ingress: `${match.namespace}/${match.ingress}`,
      service: match.service,
      pod: ep.targetRef?.name,
      path: req.url,
      forwardedFor: req.headers['x-forwarded-for'],
    });
  }
}

/** One emulated ingress controller per member. */
export class IngressEmulator {
  private readonly members = new Map<string, MemberIngress>();

  /** `services`: the pod runtime's Service routing; without it, answers are played (kwok pods). */
  constructor(members: readonly EmulatedMember[], services?: ServiceAddressMap) {
    for (const m of members) this.members.set(m.name, new MemberIngress(m, services));
  }

  /** Whether a member's ingress answers. */
  isUp(member: string): boolean {
    return this.members.get(member)?.listening ?? false;
  }

  async start(): Promise<void> {
    await Promise.all([...this.members.values()].map((m) => m.start()));
  }

  /** Takes one member's ingress down (tests: an outage). */
  async down(member: string): Promise<void> {
    await this.members.get(member)?.down();
  }

  /** Brings it back. */
  async up(member: string): Promise<void> {
    await this.members.get(member)?.listen();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.members.values()].map((m) => m.stop()));
  }
}
