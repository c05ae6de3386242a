// WebSocket (any `Upgrade`) through the edge gateway: the request head goes to the chosen cluster
// over a fresh TCP connection (an upgraded connection is never pooled). Only a 101 Switching
// Protocols answer turns the client connection into a tunnel (the two sockets piped both ways
// until either side closes). Any other answer is relayed as a plain response, framed by the
// upstream response parser, and the client connection is closed after it: until the 101, nothing
// the client sent after its request head is read or passed on, so a request pipelined behind an
// Upgrade the upstream declined can never reach that upstream past host routing, drain,
// X-Forwarded-For and the access log (request smuggling). A cluster that cannot be connected to
// is skipped for the next one, as for any request; once connected the upgrade is not retried (it
// was sent).
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { dialTcp } from '../../dial/dialer.ts';
import type { Duplex } from 'node:stream';
import { downstreamHeaders, type Target, type UpstreamHead } from './edge-request-head.ts';
import type { EdgeRuntime } from './edge-runtime.ts';
import { headEnd } from './http-bytes.ts';
import { isFailureStatus } from './outlier-detector.ts';
import type { ClusterTarget, HostRoute } from '../routing/routing.ts';
import { MAX_HEAD_BYTES, ResponseParser } from './upstream-response.ts';

/** Writes a minimal HTTP/1.1 error answer on a raw socket and closes it. */
export function rawAnswer(socket: Duplex, status: number, reason: string, body: string): void {
  if (socket.destroyed) return;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

/** How long a client connection ended after a relayed answer may take to close before it is cut. */
const LINGER_MS = 2_000;

/** Where the upstream's answer is: its head being read, a plain response relayed, or a tunnel. */
type Phase = 'connecting' | 'head' | 'relay' | 'tunnel';

/**
 * What an upstream answer head starting at `buf[0]` is: the switch (HTTP/1.1 101), an interim
 * answer to skip (another 1xx), or the final answer.
 */
function headKind(buf: Buffer): 'switch' | 'interim' | 'final' {
  const line = buf.toString('latin1', 0, 13);
  if (/^HTTP\/1\.1 101[ \r]/.test(line)) return 'switch';
  if (/^HTTP\/1\.[01] 1(?:0[02-9]|[1-9]\d)[ \r]/.test(line)) return 'interim';
  return 'final';
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
  private phase: Phase = 'connecting';
  /** Upstream bytes of an answer head not complete yet. */
  private gathered: Buffer | undefined;
  private parser: ResponseParser | undefined;

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
    let up: Socket;
    try {
      up = dialTcp({ host: address, port: cluster.port });
    } catch {
      return this.connectFailed(cluster, false); // the dial guard refused the address
    }
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
      this.connected(up);
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
      this.fail(502, 'Bad Gateway', 'bad gateway: no cluster answered\n');
      return;
    }
    this.connectNext();
  }

  private connected(up: Socket): void {
    if (this.done) {
      up.destroy();
      return;
    }
    this.phase = 'head';
    up.setNoDelay(true);
    // Until the answer head: the upstream timeout, as for any request; in a tunnel: none.
    up.setTimeout(this.rt.settings.upstreamTimeoutMs, () => this.upstreamTimedOut());
    up.on('error', () => this.upstreamGone());
    up.on('close', () => this.upstreamGone());
    const h = this.upHead.headers;
    let text = `${this.req.method ?? 'GET'} ${this.target.pathAndQuery} HTTP/1.1\r\n`;
    for (let i = 0; i + 1 < h.length; i += 2) text += `${h[i]}: ${h[i + 1]}\r\n`;
    up.write(`${text}\r\n`, 'latin1');
    // The client's bytes after its head (`this.head`, and whatever it sends next) wait for a 101.
    up.on('data', this.onUpstreamData);
  }

  private readonly onUpstreamData = (chunk: Buffer): void => {
    if (this.done) return;
    if (this.phase === 'relay') {
      this.relay(chunk);
      return;
    }
    let buf = this.gathered ? Buffer.concat([this.gathered, chunk]) : chunk;
    this.gathered = undefined;
    for (;;) {
      const end = headEnd(buf, 0);
      if (end < 0) {
        if (buf.length > MAX_HEAD_BYTES) {
          this.answered(502);
          this.fail(502, 'Bad Gateway', 'bad gateway: invalid upstream response\n');
          return;
        }
        this.gathered = Buffer.from(buf);
        return;
      }
      const kind = headKind(buf);
      if (kind === 'interim') {
        // 100 Continue, 103 Early Hints: the answer to the upgrade follows.
        buf = buf.subarray(end + 4);
        continue;
      }
      if (kind === 'switch') this.switched(buf);
      else this.startRelay(buf);
      return;
    }
  };

  /** The upstream switched protocols: pass its answer on and pipe both ways from now on. */
  private switched(buf: Buffer): void {
    const up = this.upstream!;
    this.phase = 'tunnel';
    this.answered(101);
    up.setTimeout(0);
    up.off('data', this.onUpstreamData);
    this.bytes += buf.length;
    this.socket.write(buf);
    if (this.head.length > 0) {
      this.bytes += this.head.length;
      up.write(this.head);
    }
    up.on('data', (chunk: Buffer) => (this.bytes += chunk.length));
    this.socket.on('data', (chunk: Buffer) => (this.bytes += chunk.length));
    up.pipe(this.socket);
    this.socket.pipe(up);
  }

  /** Any answer but a switch: relayed as one plain response, after which the connection closes. */
  private startRelay(buf: Buffer): void {
    this.phase = 'relay';
    const socket = this.socket;
    const up = this.upstream!;
    this.parser = new ResponseParser({
      onHead: (status, raw) => {
        this.answered(status);
        let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
        // A chunked body leaves the parser de-chunked and is delimited by the close here, so a
        // Content-Length that came with Transfer-Encoding would misframe it.
        const framed = raw.some((v, i) => i % 2 === 0 && v.toLowerCase() === 'transfer-encoding');
        const headers = downstreamHeaders(raw);
        for (let i = 0; i + 1 < headers.length; i += 2) {
          if (framed && headers[i]!.toLowerCase() === 'content-length') continue;
          head += `${headers[i]}: ${headers[i + 1]}\r\n`;
        }
        socket.write(`${head}Connection: close\r\n\r\n`, 'latin1');
      },
      onBody: (chunk) => {
        this.bytes += chunk.length;
        if (!socket.write(chunk)) {
          up.pause();
          socket.once('drain', () => up.resume());
        }
      },
      onComplete: () => this.relayed(),
    });
    this.parser.start(this.req.method === 'HEAD');
    this.relay(buf);
  }

  private relay(chunk: Buffer): void {
    try {
      this.parser!.execute(chunk);
    } catch {
      this.relayBroken();
    }
  }

  /** The relayed answer is complete: end the client connection, reading nothing more from it. */
  private relayed(): void {
    if (this.done) return;
    this.finish();
    this.upstream?.destroy();
    const socket = this.socket;
    socket.end();
    // Discard what the client still sends so its FIN is seen and the socket closes (cutting it at
    // once could reset the connection before the client has read the answer); bounded in time.
    socket.resume();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  }

  /** A malformed or cut answer: a 502 if nothing was sent yet, else the connection is cut. */
  private relayBroken(): void {
    if (this.status === 0) {
      this.answered(502);
      this.fail(502, 'Bad Gateway', 'bad gateway: invalid upstream response\n');
    } else {
      this.destroy();
    }
  }

  private upstreamTimedOut(): void {
    if (this.done || this.phase === 'tunnel') return;
    const cluster = this.cluster;
    if (cluster) this.rt.failed(this.route, cluster, performance.now());
    if (this.status === 0) this.fail(504, 'Gateway Timeout', 'gateway timeout\n');
    else this.destroy();
  }

  /** The upstream connection ended or failed. */
  private upstreamGone(): void {
    if (this.done) return;
    if (this.phase === 'relay' && this.parser) {
      try {
        this.parser.finish(); // a body delimited by the close ends here (then `relayed`)
      } catch {
        this.relayBroken();
      }
      return;
    }
    if (this.phase === 'head') {
      if (this.cluster) this.rt.failed(this.route, this.cluster, performance.now());
      this.fail(502, 'Bad Gateway', 'bad gateway: upstream closed before answering\n');
      return;
    }
    this.destroy();
  }

  /** The upstream's answer status: judged for outlier detection and counted, once. */
  private answered(status: number): void {
    if (this.counted) return;
    this.status = status;
    const now = performance.now();
    const cluster = this.cluster;
    if (cluster) {
      if (isFailureStatus(status)) this.rt.failed(this.route, cluster, now);
      else this.rt.succeeded(this.route, cluster, now);
    }
    // Counted (with the handshake's latency) now: a tunnel's lifetime is no request duration.
    this.counted = true;
    this.rt.metrics.request(this.route.host, cluster?.name ?? '', status, (now - this.startedAt) / 1000);
  }

  /** Answers the client with an error of the gateway's own and closes both sides. */
  private fail(status: number, reason: string, body: string): void {
    if (this.status === 0) this.status = status;
    rawAnswer(this.socket, status, reason, body);
    this.destroy();
  }

  /** Records the exchange once and leaves the set of open tunnels. */
  private finish(unanswered = 502): void {
    if (this.done) return;
    this.done = true;
    this.rt.tunnels.delete(this);
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

  /**
   * Closes both sides (idempotent) and records the exchange once; `unanswered` is the status to
   * record when the upstream never answered: 499 when the client left first (nginx's convention).
   */
  destroy(unanswered = 502): void {
    if (this.done) return;
    this.finish(unanswered);
    this.upstream?.destroy();
    // After a gateway answer (rawAnswer ends the socket) let it flush; otherwise cut at once.
    if (this.socket.writableEnded) {
      this.socket.resume();
      const socket = this.socket;
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
    } else {
      this.socket.destroy();
    }
  }
}
