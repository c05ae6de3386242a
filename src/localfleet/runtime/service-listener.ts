// One Service's virtual address on loopback: a TCP listener per service port that pipes each
// accepted connection to one backend, chosen per connection in round robin (kube-proxy's ipvs
// default), and resets the connection when there is no ready backend (kube-proxy's REJECT).
// Bytes are piped untouched, so HTTP, PostgreSQL or any TCP protocol works. Connections already
// open keep their backend when the endpoints change, as conntrack keeps them under kube-proxy.
// The accept path is kept lean (docs/benchmarks.md, issue 18): no per-connection guard check (the
// backends are checked when they change), Nagle off through the server and connect options, and
// bytes forwarded on 'data' with backpressure instead of two pipe() set-ups per connection.
import { createServer, type Server, type Socket } from 'node:net';
import { assertLoopbackAllowed } from '../../dial/dial-guard.ts';
import { dialGuardedTcp, guardHost, type GuardedHost } from '../../dial/dialer.ts';
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

/** A backend whose address the dial guard allowed. */
type DialableBackend = Backend & { readonly host: GuardedHost };

interface PortState {
  server: Server;
  backends: readonly DialableBackend[];
  next: number;
  bound: Promise<boolean>;
}

export class ServiceListener {
  private readonly ports = new Map<number, PortState>();
  /** Open client connections → their upstream connection. */
  private readonly pairs = new Map<Socket, Socket>();
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
      const backends = this.dialable(p.backends);
      const st = this.ports.get(p.port);
      if (st) {
        st.backends = backends;
        continue;
      }
      const fresh = this.listen(p.port, backends);
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

  /**
   * The backends the dial guard allows, checked once here rather than on every connection (the
   * accept path is the proxy's hot path); the others are never dialed.
   */
  private dialable(backends: readonly Backend[]): readonly DialableBackend[] {
    return backends.flatMap((b) => {
      try {
        return [{ ...b, host: guardHost(b.host) }];
      } catch {
        return [];
      }
    });
  }

  private listen(port: number, backends: readonly DialableBackend[]): PortState {
    // noDelay: Nagle off on accept, with no call per connection. No pauseOnConnect: bytes the
    // client sends before the upstream connects wait in the upstream's write buffer, sent on connect.
    const server = createServer({ allowHalfOpen: true, noDelay: true });
    const st: PortState = { server, backends, next: 0, bound: Promise.resolve(false) };
    server.on('connection', (s: Socket) => this.accept(st, s));
    st.bound = new Promise<boolean>((resolve) => {
      server.once('error', (err) => {
        this.events.onListenError?.(port, err);
        resolve(false);
      });
      server.listen({ host: this.host, port, exclusive: true }, () => resolve(true));
    });
    return st;
  }

  private accept(st: PortState, client: Socket): void {
    const backends = st.backends;
    const n = backends.length;
    if (this.closed || n === 0 || !this.budget.take()) {
      client.resetAndDestroy();
      return;
    }
    const i = st.next < n ? st.next : 0;
    st.next = i + 1;
    const backend = backends[i]!;
    const upstream = dialGuardedTcp({
      host: backend.host,
      port: backend.port,
      allowHalfOpen: true,
      noDelay: true,
    });
    this.pairs.set(client, upstream);
    forward(client, upstream);
    forward(upstream, client);
    // An error on either side ends both (a reset stays a reset: the other side sees one too).
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => (client.destroyed ? undefined : client.resetAndDestroy()));
    client.on('close', () => {
      this.pairs.delete(client);
      this.budget.give();
      if (!upstream.destroyed) upstream.end();
    });
    upstream.on('close', () => {
      if (!client.destroyed) client.end();
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
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    await Promise.all(closing);
  }
}

/**
 * Sends what `from` reads to `to`, pausing `from` while `to`'s buffer is full, and half-closes
 * `to` when `from` ends (each side may keep sending after the other has finished).
 */
function forward(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => {
    if (!to.destroyed) to.end();
  });
}
