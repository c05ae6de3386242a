// The edge gateway: an L7 reverse proxy in `meridian hub`. Each request is routed by its Host to
// a HostRoute, checked against the route's paths, and sent to the clusters that `rankClusters`
// ranks for it (the same choice the GSLB DNS makes), skipping clusters passively ejected for
// failing. TLS is terminated with the route's certificate, picked by SNI.
//
// Each listener is a raw-socket fast front (edge-fast-front.ts) for the plain keep-alive requests
// without a body that make up most traffic; every other request, and its connection from then on,
// goes to a node:http server that does not listen itself (bodies, chunked, upgrades, HTTP/1.0,
// anything odd). The proxying is in edge-proxy-request.ts (both fronts) and edge-websocket.ts
// (upgrades); shared state in edge-runtime.ts.
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  createSecureContext,
  createServer as createTlsServer,
  type SecureContext,
  type TLSSocket,
} from 'node:tls';
import { Registry } from 'prom-client';
import type { Logger } from '../../logging/logger.ts';
import { ACCESS_MESSAGE, EdgeAccessLog } from './edge-access-log.ts';
import { NodeDownstream, type Downstream } from './edge-downstream.ts';
import { FastFront, type FastResponse } from './edge-fast-front.ts';
import type { FastRequestHead } from './edge-fast-head.ts';
import { EdgeMetrics, NO_CLUSTER, NO_ROUTE } from './edge-metrics.ts';
import { ProxyExchange } from './edge-proxy-request.ts';
import {
  isIdempotent,
  matchesPaths,
  parseTarget,
  upstreamHead,
  type Listener,
  type Target,
  type UpstreamHead,
} from './edge-request-head.ts';
import { EdgeRuntime } from './edge-runtime.ts';
import { rawAnswer, UpgradeTunnel } from './edge-websocket.ts';
import { EMPTY_GEO_TABLE, type GeoTable } from '../routing/geo-table.ts';
import { DEFAULT_OUTLIER_SETTINGS, type OutlierSettings } from './outlier-detector.ts';
import { hostKey, type ClusterTarget, type HostRoute, type RoutingTable } from '../routing/routing.ts';
import { BalancerCounters, rankClusters } from '../routing/select.ts';

/** Client-side budgets of each edge listener. */
export const EDGE_CLIENT_DEFAULTS = { headersTimeoutMs: 15_000, maxConnections: 10_000 } as const;

export interface ListenAddress {
  readonly host: string;
  /** 0 picks a free port (see what `start` returns). */
  readonly port: number;
}

export interface EdgeGatewayOptions {
  readonly table: RoutingTable;
  /** The current geo table (for Geo routes); read per request, so a reload takes effect at once. */
  readonly geo?: () => GeoTable;
  /** Rotation state; share the GSLB DNS's to keep one RoundRobin/Weighted sequence per process. */
  readonly counters?: BalancerCounters;
  readonly logger: Logger;
  /** Where the `meridian_edge_*` metrics go; a private registry (see `registry`) when absent. */
  readonly registry?: Registry;
  readonly http: ListenAddress;
  /** TLS listener: the certificate is the route's `tls`, chosen by SNI. */
  readonly https?: ListenAddress;
  /** Default 2 s. */
  readonly connectTimeoutMs?: number;
  /** Longest wait for response headers, and longest silence within a body. Default 60 s. */
  readonly upstreamTimeoutMs?: number;
  /** Most clusters one request is tried on. Default 3 (fewer when the host has fewer). */
  readonly maxAttempts?: number;
  readonly outlier?: Partial<OutlierSettings>;
  /** One info line per request (host, method, path, status, cluster, attempts, ms, bytes). Default on. */
  readonly accessLog?: boolean;
  /**
   * Where access log lines go; default `logger`. A busy gateway logs thousands of lines a second:
   * an EdgeAccessLog formats them from a template and writes them in large asynchronous chunks
   * (it is flushed by `stop`; its owner closes it). The record carries no headers and no query
   * string; the path is its only free-form field.
   */
  readonly accessLogger?: Logger | EdgeAccessLog;
  /** How long `stop` waits for in-flight requests. Default 10 s. */
  readonly shutdownGraceMs?: number;
  /** Open connections per upstream address at most. Default 256. */
  readonly maxConnectionsPerUpstream?: number;
  /** Idle keep-alive time of client connections. Default 60 s. */
  readonly clientKeepAliveMs?: number;
  /**
   * Longest time a client may take to send a request head, from its first byte (or from
   * connecting): slow clients (slowloris) get 408. Default 15 s (node:http's 60 s let a few
   * thousand slow clients hold as many sockets four times as long).
   */
  readonly clientHeadersTimeoutMs?: number;
  /**
   * Open client connections per listener (and per worker process) at most; past it new ones are
   * closed at once, so a flood of idle connections cannot run the process out of descriptors.
   * Default 10,000.
   */
  readonly maxClientConnections?: number;
  /**
   * Serve plain requests without a body on the raw-socket fast front (default). Off: node:http
   * takes every connection, as before the fast front (for comparisons, or if it is ever in doubt).
   */
  readonly fastFront?: boolean;
}

/** A request the gateway can send on, or the answer it gives instead. */
type Resolution =
  | {
      readonly ok: true;
      readonly route: HostRoute;
      readonly target: Target;
      readonly head: UpstreamHead;
      readonly clusters: readonly ClusterTarget[];
    }
  | {
      readonly ok: false;
      readonly status: number;
      readonly body: string;
      readonly route?: HostRoute;
      /** The Host header, for the access log of a refused request. */
      readonly host: string;
    };

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  404: 'Not Found',
  421: 'Misdirected Request',
  503: 'Service Unavailable',
};

export class EdgeGateway {
  /** The registry holding the `meridian_edge_*` metrics. */
  readonly registry: Registry;
  private readonly rt: EdgeRuntime;
  private readonly table: RoutingTable;
  private readonly geo: () => GeoTable;
  private readonly counters: BalancerCounters;
  private readonly logger: Logger;
  private readonly graceMs: number;
  /** The listening servers (plain TCP, TLS), each with its fast front and node:http fallback. */
  private readonly servers: Server[] = [];
  private readonly fronts: FastFront[] = [];
  private readonly fallbacks: HttpServer[] = [];
  private readonly accessLog: EdgeAccessLog | undefined;
  /** Secure contexts per route certificate (a new table brings new objects; old ones are dropped). */
  private readonly contexts = new WeakMap<object, SecureContext | Error>();
  private stopping: Promise<void> | undefined;

  constructor(private readonly opts: EdgeGatewayOptions) {
    this.table = opts.table;
    this.geo = opts.geo ?? (() => EMPTY_GEO_TABLE);
    this.counters = opts.counters ?? new BalancerCounters();
    this.logger = opts.logger;
    this.graceMs = opts.shutdownGraceMs ?? 10_000;
    this.registry = opts.registry ?? new Registry();
    const access = opts.accessLogger ?? opts.logger;
    this.accessLog = access instanceof EdgeAccessLog ? access : undefined;
    this.rt = new EdgeRuntime(
      {
        connectTimeoutMs: opts.connectTimeoutMs ?? 2_000,
        upstreamTimeoutMs: opts.upstreamTimeoutMs ?? 60_000,
        maxAttempts: Math.max(1, opts.maxAttempts ?? 3),
        maxConnectionsPerUpstream: opts.maxConnectionsPerUpstream ?? 256,
        accessLog: opts.accessLog ?? true,
        outlier: { ...DEFAULT_OUTLIER_SETTINGS, ...opts.outlier },
      },
      opts.logger,
      new EdgeMetrics(this.registry),
      access instanceof EdgeAccessLog
        ? (rec) => access.write(rec)
        : (rec) => access.info(rec, ACCESS_MESSAGE),
    );
  }

  /** Opens the listeners; resolves with the bound addresses. If one cannot listen, none stays open. */
  async start(): Promise<{ http?: AddressInfo; https?: AddressInfo }> {
    const out: { http?: AddressInfo; https?: AddressInfo } = {};
    try {
      out.http = await this.listen('http', this.opts.http);
      if (this.opts.https) out.https = await this.listen('https', this.opts.https);
    } catch (err) {
      await this.stop();
      throw err;
    }
    return out;
  }

  private async listen(proto: Listener['proto'], at: ListenAddress): Promise<AddressInfo> {
    const keepAliveMs = this.opts.clientKeepAliveMs ?? 60_000;
    const headersTimeoutMs = this.opts.clientHeadersTimeoutMs ?? EDGE_CLIENT_DEFAULTS.headersTimeoutMs;
    const listener: { proto: Listener['proto']; port: number } = { proto, port: at.port };
    const fallback = createHttpServer({
      keepAliveTimeout: keepAliveMs,
      headersTimeout: headersTimeoutMs,
      requestTimeout: Math.max(300_000, headersTimeoutMs),
      // How often node checks its connections against headersTimeout (default 30 s).
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(headersTimeoutMs / 4))),
    });
    fallback.on('request', (req: IncomingMessage, res: ServerResponse) => this.handle(listener, req, res));
    fallback.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.handleUpgrade(listener, req, socket, head),
    );
    // The fallback never listens, so it only hears 'connection' from the fronts; 'listening' is
    // what starts node's tracking of its connections (headersTimeout checks, closeIdleConnections).
    fallback.emit('listening');
    this.fallbacks.push(fallback);
    const toFallback = (socket: Socket): void => void fallback.emit('connection', socket);
    // With the fast front off, no FastFront (nor its sweep timer) exists: node:http takes everything.
    const fast = this.opts.fastFront !== false;
    let accept = toFallback;
    if (fast) {
      const front = new FastFront({
        headersTimeoutMs,
        keepAliveMs,
        serve: (head, down, socket) => this.handleFast(listener, head, down, socket),
        fallback: toFallback,
      });
      this.fronts.push(front);
      accept = (socket) => front.accept(socket);
    }
    let server: Server;
    if (proto === 'http') {
      // Half-open as node:http's server: the connection's handler decides when to end it.
      server = fast ? createNetServer({ allowHalfOpen: true }, accept) : fallback;
    } else {
      server = createTlsServer(
        { allowHalfOpen: true, SNICallback: (name, cb) => this.secureContext(name, cb) },
        accept,
      );
      // A failed handshake (no route or certificate for the name, a client that distrusts the
      // certificate) is the client's problem; note it without noise.
      server.on('tlsClientError', (err: Error) =>
        this.logger.debug({ err }, 'edge gateway: TLS handshake failed'),
      );
    }
    server.maxConnections = this.opts.maxClientConnections ?? EDGE_CLIENT_DEFAULTS.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.servers.push(server);
    const addr = server.address() as AddressInfo;
    listener.port = addr.port;
    this.logger.info({ proto, address: addr.address, port: addr.port }, 'edge gateway listening');
    return addr;
  }

  /**
   * Stops accepting, lets in-flight requests finish (up to the grace period), then closes every
   * client connection, WebSocket tunnel and upstream connection. Safe to call twice.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.rt.draining = true;
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const f of this.fronts) f.closeIdle();
    for (const h of this.fallbacks) h.closeIdleConnections();
    await this.rt.idle(this.graceMs);
    for (const f of this.fronts) f.destroyAll();
    for (const h of this.fallbacks) {
      h.closeAllConnections();
      h.close(() => undefined); // stops its connection checks (it never listened)
    }
    for (const t of [...this.rt.tunnels]) t.destroy();
    await Promise.all(closed);
    await this.rt.close();
    await this.accessLog?.flush();
  }

  private secureContext(name: string, cb: (err: Error | null, ctx?: SecureContext) => void): void {
    const tls = this.table.route(name)?.tls;
    if (!tls) {
      cb(new Error(`edge gateway: no route with a certificate for ${JSON.stringify(name)}`));
      return;
    }
    let ctx = this.contexts.get(tls);
    if (ctx === undefined) {
      try {
        ctx = createSecureContext({ cert: tls.certPem, key: tls.keyPem });
      } catch (e) {
        ctx = e instanceof Error ? e : new Error(String(e));
        this.logger.warn({ host: hostKey(name), err: ctx }, 'edge gateway: unusable TLS certificate');
      }
      this.contexts.set(tls, ctx);
    }
    if (ctx instanceof Error) cb(ctx);
    else cb(null, ctx);
  }

  /** Routing shared by both fronts and upgrades: host, TLS name, path, then the clusters to try. */
  private resolve(
    listener: Listener,
    url: string,
    rawHeaders: readonly string[],
    socket: Duplex,
    client: string,
    upgrade: boolean,
  ): Resolution {
    const head = upstreamHead(rawHeaders, client, listener, upgrade);
    // Two Host headers could route by one and be served by the other.
    if (head.hosts > 1)
      return { ok: false, status: 400, body: 'more than one Host header\n', host: head.host };
    const target = parseTarget(url);
    if (!target) return { ok: false, status: 400, body: 'bad request target\n', host: head.host };
    const route = this.table.route(head.host);
    if (!route) return { ok: false, status: 404, body: 'no route for this host\n', host: head.host };
    if (listener.proto === 'https') {
      // The certificate was chosen for the SNI name; a different Host would borrow it.
      const sni = (socket as TLSSocket).servername;
      if (typeof sni !== 'string' || hostKey(sni) !== route.host)
        return {
          ok: false,
          status: 421,
          body: 'host does not match the TLS server name\n',
          route,
          host: head.host,
        };
    }
    if (!matchesPaths(route.paths, target.path))
      return { ok: false, status: 404, body: 'no route for this path\n', route, host: head.host };
    const ranked = rankClusters(route, { clientAddress: client, geo: this.geo(), counters: this.counters });
    const clusters = this.rt.candidates(route, ranked.clusters, performance.now());
    if (clusters.length === 0)
      return { ok: false, status: 503, body: 'no cluster serves this host\n', route, host: head.host };
    return { ok: true, route, target, head, clusters };
  }

  /** A request on node:http's front (outside the fast subset). */
  private handle(listener: Listener, req: IncomingMessage, res: ServerResponse): void {
    const startedAt = performance.now();
    const client = req.socket.remoteAddress ?? '';
    const r = this.resolve(listener, req.url ?? '', req.rawHeaders, req.socket, client, false);
    this.dispatch(new NodeDownstream(req, res, r.ok && r.head.hasBody), req.url ?? '', r, client, startedAt);
  }

  /** A request the fast front accepted (no body, plain HTTP/1.1). */
  private handleFast(listener: Listener, head: FastRequestHead, down: FastResponse, socket: Socket): void {
    const startedAt = performance.now();
    const client = socket.remoteAddress ?? '';
    this.dispatch(
      down,
      head.target,
      this.resolve(listener, head.target, head.headers, socket, client, false),
      client,
      startedAt,
    );
  }

  /** Proxies a resolved request, or answers why not; the same for both fronts. */
  private dispatch(down: Downstream, url: string, r: Resolution, client: string, startedAt: number): void {
    // Draining: answer, but let the connection close after the response.
    if (this.rt.draining) down.closeAfter();
    if (!r.ok) {
      down.writeHead(r.status, ['Content-Type', 'text/plain', 'Content-Length', String(r.body.length)]);
      down.end(r.body);
      this.refused(down.method, url, r, client, startedAt);
      return;
    }
    new ProxyExchange(
      this.rt,
      down,
      r.route,
      r.clusters,
      r.head,
      r.target,
      client,
      startedAt,
      isIdempotent(down.method),
    ).start();
  }

  private handleUpgrade(listener: Listener, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const startedAt = performance.now();
    const client = req.socket.remoteAddress ?? '';
    socket.on('error', () => socket.destroy());
    if (this.stopping) {
      rawAnswer(socket, 503, 'Service Unavailable', 'shutting down\n');
      return;
    }
    const r = this.resolve(listener, req.url ?? '', req.rawHeaders, req.socket, client, true);
    if (!r.ok) {
      rawAnswer(socket, r.status, REASONS[r.status] ?? 'Error', r.body);
      this.refused(req.method ?? '', req.url ?? '', r, client, startedAt);
      return;
    }
    if (r.head.hasBody) {
      // Until the upstream switches protocols nothing after the head is passed on (it could be a
      // smuggled request), so a body could never reach it. WebSocket handshakes have none.
      const body = 'an Upgrade request cannot have a body\n';
      rawAnswer(socket, 400, 'Bad Request', body);
      this.refused(
        req.method ?? '',
        req.url ?? '',
        { ok: false, status: 400, body, route: r.route, host: r.head.host },
        client,
        startedAt,
      );
      return;
    }
    new UpgradeTunnel(
      this.rt,
      req,
      socket,
      head,
      r.route,
      r.clusters,
      r.head,
      r.target,
      client,
      startedAt,
    ).start();
  }

  private refused(
    method: string,
    url: string,
    r: Extract<Resolution, { ok: false }>,
    client: string,
    startedAt: number,
  ): void {
    const target = parseTarget(url);
    this.rt.record(
      {
        host: r.route?.host ?? hostKey(r.host),
        method,
        path: target?.path ?? '',
        status: r.status,
        cluster: NO_CLUSTER,
        attempts: 0,
        ms: Math.round((performance.now() - startedAt) * 100) / 100,
        bytes: r.body.length,
        client,
      },
      false,
      r.route?.host ?? NO_ROUTE,
    );
  }
}
