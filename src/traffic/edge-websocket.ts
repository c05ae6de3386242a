// WebSocket (any `Upgrade`) through the edge gateway: the request head goes to the chosen cluster
// over a fresh TCP connection (an upgraded connection is never pooled), then the two sockets are
// piped both ways until either side closes. A cluster that cannot be connected to is skipped for
// the next one, as for any request; once connected the upgrade is not retried (it was sent).
import { connect, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Target, UpstreamHead } from './edge-request-head.ts';
import type { EdgeRuntime } from './edge-runtime.ts';
import { isFailureStatus } from './outlier-detector.ts';
import type { ClusterTarget, HostRoute } from './routing.ts';

/** Writes a minimal HTTP/1.1 error answer on a raw socket and closes it. */
export function rawAnswer(socket: Duplex, status: number, reason: string, body: string): void {
  if (socket.destroyed) return;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

export class UpgradeTunnel {
  private upstream: Socket | undefined;
  private cluster: ClusterTarget | undefined;
  private clusterIndex = 0;
  private addressIndex = 0;
  private attempts = 0;
  private status = 0;
  private bytes = 0;
  private done = false;
  private counted = false;

  constructor(
    private readonly rt: EdgeRuntime,
    private readonly req: IncomingMessage,
    private readonly socket: Duplex,
    private readonly head: Buffer,
    private readonly route: HostRoute,
    private readonly clusters: readonly ClusterTarget[],
    private readonly upHead: UpstreamHead,
    private readonly target: Target,
    private readonly client: string,
    private readonly startedAt: number,
  ) {}

  start(): void {
    this.rt.tunnels.add(this);
    this.socket.on('error', () => this.destroy(499));
    this.socket.on('close', () => this.destroy(499));
    this.connectNext();
  }

  private connectNext(): void {
    const cluster = this.clusters[this.clusterIndex]!;
    const address = cluster.addresses[this.addressIndex];
    if (address === undefined) return this.connectFailed(cluster, false);
    this.attempts++;
    this.cluster = cluster;
    const up = connect({ host: address, port: cluster.port });
    this.upstream = up;
    let isConnected = false;
    const failed = (): void => {
      if (isConnected || this.upstream !== up || this.done) return;
      up.destroy();
      this.connectFailed(cluster, true);
    };
    up.setTimeout(this.rt.settings.connectTimeoutMs, failed);
    up.once('error', failed);
    up.once('connect', () => {
      isConnected = true;
      this.connected(up, cluster);
    });
  }

  private connectFailed(cluster: ClusterTarget, tried: boolean): void {
    if (this.done) return;
    this.upstream = undefined;
    if (tried) this.rt.failed(this.route, cluster, performance.now());
    if (this.addressIndex + 1 < cluster.addresses.length) {
      this.addressIndex++;
    } else if (this.clusterIndex + 1 < this.clusters.length) {
      this.rt.metrics.retry(this.route.host, cluster.name);
      this.clusterIndex++;
      this.addressIndex = 0;
    } else {
      this.status = 502;
      rawAnswer(this.socket, 502, 'Bad Gateway', 'bad gateway: no cluster answered\n');
      this.destroy();
      return;
    }
    this.connectNext();
  }

  private connected(up: Socket, cluster: ClusterTarget): void {
    if (this.done) {
      up.destroy();
      return;
    }
    up.setTimeout(0);
    up.setNoDelay(true);
    up.on('error', () => this.destroy());
    up.on('close', () => this.destroy());
    const h = this.upHead.headers;
    let text = `${this.req.method ?? 'GET'} ${this.target.pathAndQuery} HTTP/1.1\r\n`;
    for (let i = 0; i + 1 < h.length; i += 2) text += `${h[i]}: ${h[i + 1]}\r\n`;
    up.write(`${text}\r\n`, 'latin1');
    if (this.head.length > 0) up.write(this.head);
    up.once('data', (chunk: Buffer) => this.answered(chunk, cluster));
    up.on('data', (chunk: Buffer) => (this.bytes += chunk.length));
    this.socket.on('data', (chunk: Buffer) => (this.bytes += chunk.length));
    up.pipe(this.socket);
    this.socket.pipe(up);
  }

  /** The upstream's first bytes: its status line says whether the upgrade was accepted. */
  private answered(chunk: Buffer, cluster: ClusterTarget): void {
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(chunk.toString('latin1', 0, 12));
    this.status = m ? Number(m[1]) : 502;
    const now = performance.now();
    if (isFailureStatus(this.status)) this.rt.failed(this.route, cluster, now);
    else this.rt.succeeded(this.route, cluster, now);
    // Counted (with the handshake's latency) now: a tunnel's lifetime is no request duration.
    this.counted = true;
    this.rt.metrics.request(this.route.host, cluster.name, this.status, (now - this.startedAt) / 1000);
  }

  /**
   * Closes both sides (idempotent) and records the tunnel once; `unanswered` is the status to
   * record when the upstream never answered: 499 when the client left first (nginx's convention).
   */
  destroy(unanswered = 502): void {
    if (this.done) return;
    this.done = true;
    this.rt.tunnels.delete(this);
    this.upstream?.destroy();
    this.socket.destroy();
    this.rt.record(
      {
        host: this.route.host,
        method: this.req.method ?? '',
        path: this.target.path,
        status: this.status || unanswered,
        cluster: this.cluster?.name ?? '',
        attempts: this.attempts,
        ms: Math.round((performance.now() - this.startedAt) * 100) / 100,
        bytes: this.bytes,
        client: this.client,
      },
      this.counted,
    );
  }
}
