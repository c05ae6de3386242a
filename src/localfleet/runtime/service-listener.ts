// One Service's virtual address on loopback: a TCP listener per service port that pipes each
// accepted connection to one backend, chosen per connection in round robin (kube-proxy's ipvs
// default), and resets the connection when there is no ready backend (kube-proxy's REJECT).
// Bytes are piped untouched, so HTTP, PostgreSQL or any TCP protocol works. Connections already
// open keep their backend when the endpoints change, as conntrack keeps them under kube-proxy.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { assertLoopbackAllowed } from '../../kube/dial-guard.ts';
import type { Backend, ServedPort } from './service-backends.ts';

/** The input budget shared by every listener of one proxy: open client connections. */
export class ConnectionBudget {
  private open = 0;
  constructor(readonly max: number) {}
  take(): boolean {
    if (this.open >= this.max) return false;
    this.open++;
    return true;
  }
  give(): void {
    this.open--;
  }
  get inUse(): number {
    return this.open;
  }
}

export interface ListenerEvents {
  /** A port could not be bound (taken, or privileged for this user). */
  onListenError?(port: number, err: Error): void;
}

interface PortState {
  server: Server;
  backends: readonly Backend[];
  next: number;
  bound: Promise<boolean>;
}

export class ServiceListener {
  private readonly ports = new Map<number, PortState>();
  private readonly sockets = new Set<Socket>();
  private closed = false;

  constructor(
    readonly host: string,
    private readonly budget: ConnectionBudget,
    private readonly events: ListenerEvents = {},
  ) {
    assertLoopbackAllowed(host);
  }

  /** Listens on every port of `ports` (closing the others) and takes their backends. */
  async update(ports: readonly ServedPort[]): Promise<void> {
    if (this.closed) return;
    const want = new Map(ports.map((p) => [p.port, p]));
    for (const [port, st] of this.ports) {
      if (!want.has(port)) {
        this.ports.delete(port);
        st.server.close();
      }
    }
    const binds: Promise<boolean>[] = [];
    for (const p of ports) {
      const st = this.ports.get(p.port);
      if (st) {
        st.backends = p.backends;
        continue;
      }
      const fresh = this.listen(p);
      this.ports.set(p.port, fresh);
      binds.push(fresh.bound);
    }
    await Promise.all(binds);
  }

  /** The ports this address is listening on now. */
  async listening(): Promise<number[]> {
    const out: number[] = [];
    for (const [port, st] of this.ports) if (await st.bound) out.push(port);
    return out.sort((a, b) => a - b);
  }

  private listen(p: ServedPort): PortState {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    const st: PortState = { server, backends: p.backends, next: 0, bound: Promise.resolve(false) };
    server.on('connection', (s) => this.accept(st, s));
    st.bound = new Promise<boolean>((resolve) => {
      server.once('error', (err) => {
        this.events.onListenError?.(p.port, err);
        resolve(false);
      });
      server.listen({ host: this.host, port: p.port, exclusive: true }, () => resolve(true));
    });
    return st;
  }

  private pick(st: PortState): Backend | undefined {
    const n = st.backends.length;
    if (n === 0) return undefined;
    const b = st.backends[st.next % n];
    st.next = (st.next + 1) % n;
    return b;
  }

  private accept(st: PortState, client: Socket): void {
    const backend = this.pick(st);
    if (this.closed || !backend || !this.budget.take()) {
      client.resetAndDestroy();
      return;
    }
    this.sockets.add(client);
    let upstream: Socket;
    try {
      assertLoopbackAllowed(backend.host);
      upstream = connect({ host: backend.host, port: backend.port, allowHalfOpen: true });
    } catch {
      this.sockets.delete(client);
      this.budget.give();
      client.resetAndDestroy();
      return;
    }
    this.sockets.add(upstream);
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.budget.give();
    };
    // An error on either side ends both (a reset stays a reset: the other side sees one too).
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => (client.destroyed ? undefined : client.resetAndDestroy()));
    client.on('close', () => {
      this.sockets.delete(client);
      if (!upstream.destroyed) upstream.end();
      finish();
    });
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      if (!client.destroyed) client.end();
    });
    upstream.once('connect', () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  }

  /** Closes the listeners and every connection through them. */
  async close(): Promise<void> {
    this.closed = true;
    const servers = [...this.ports.values()];
    this.ports.clear();
    const closing = servers.map(async (st) => {
      if (!(await st.bound)) return;
      await new Promise<void>((r) => st.server.close(() => r()));
    });
    for (const s of this.sockets) s.destroy();
    await Promise.all(closing);
  }
}
