// The local fleet's stand-in for each member's ingress controller. Pods in the local fleet are
// kwok's and have fake addresses that nothing may dial, so this listener on the member's loopback
// ingress address implements the Ingress API itself: it matches Host and path against the
// member's real Ingress objects, picks a ready endpoint from the Service's real EndpointSlices, and
// answers as that pod would, naming cluster, Service and pod. So GSLB health checks, the edge
// gateway and `curl` exercise the generated objects end to end without leaving loopback.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { Informer } from '../kube/informer.ts';

interface IngressObject extends KubeObject {
  spec?: {
    rules?: {
      host?: string;
      http?: {
        paths?: { path?: string; backend?: { service?: { name: string; port?: { number?: number } } } }[];
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

class MemberIngress {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly ingresses: Informer<IngressObject>;
  private readonly slices: Informer<EndpointSliceObject>;
  private next = 0;

  constructor(readonly member: EmulatedMember) {
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

  constructor(members: readonly EmulatedMember[]) {
    for (const m of members) this.members.set(m.name, new MemberIngress(m));
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
