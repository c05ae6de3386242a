// One proxied HTTP request: sent to the best cluster, retried down the ranking when that is safe,
// with request and response bodies streamed (never buffered) and backpressure passed through.
//
// Retry rules: a request that can be replayed (an idempotent method with no body) moves on to the
// next cluster after any failure before the response started (connect error, reset, timeout) or
// a 502/503/504 answer, which is drained and dropped. Any other request moves on only when the
// connection could not be made, because then nothing of it was sent (and its body is still
// unread). The last cluster's 502/503/504 is passed on as it is; when no cluster answered at all
// the client gets 502, or 504 when the last one timed out.
import type { Downstream } from './edge-downstream.ts';
import { downstreamHeaders, type Target, type UpstreamHead } from './edge-request-head.ts';
import type { EdgeRuntime } from './edge-runtime.ts';
import { isFailureStatus } from './outlier-detector.ts';
import type { ClusterTarget, HostRoute } from '../routing/routing.ts';
import type { UpstreamCall, UpstreamHandler } from './upstream-pool.ts';

/** Errors raised before the connection existed: nothing of the request was sent. */
const CONNECT_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'UPSTREAM_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  // The dial guard refused the address (local mode): never dialed.
  'NonLoopbackDial',
]);
const TIMEOUT_ERRORS: ReadonlySet<string> = new Set(['UPSTREAM_CONNECT_TIMEOUT', 'UPSTREAM_TIMEOUT']);

/** One send of the request to one upstream address; the upstream pool's handler for it. */
class Attempt implements UpstreamHandler {
  call: UpstreamCall | undefined;
  /** Set when this attempt's answer is being drained because a retry took over. */
  dropped = false;

  constructor(
    private readonly exchange: ProxyExchange,
    readonly cluster: ClusterTarget,
  ) {}

  onHead(status: number, headers: string[]): void {
    if (!this.dropped) this.exchange.upstreamHeaders(this, status, headers);
  }

  onData(chunk: Buffer): boolean {
    return this.dropped || this.exchange.upstreamData(chunk);
  }

  onEnd(): void {
    if (!this.dropped) this.exchange.upstreamEnd(this);
  }

  onError(err: Error & { code?: string }): void {
    if (!this.dropped) this.exchange.upstreamError(this, err);
  }
}

export class ProxyExchange {
  clientGone = false;
  private current: Attempt | undefined;
  /** Index into `clusters` of the cluster being tried. */
  private clusterIndex = 0;
  /** Index into that cluster's addresses. */
  private addressIndex = 0;
  private attempts = 0;
  private bytes = 0;
  /** The upstream is paused until the client's connection drains. */
  private waitingDrain = false;
  private readonly replayable: boolean;

  constructor(
    private readonly rt: EdgeRuntime,
    /** The client side: node:http's request and response, or the fast front's. */
    private readonly down: Downstream,
    private readonly route: HostRoute,
    private readonly clusters: readonly ClusterTarget[],
    private readonly head: UpstreamHead,
    private readonly target: Target,
    private readonly client: string,
    private readonly startedAt: number,
    idempotent: boolean,
  ) {
    this.replayable = idempotent && !head.hasBody;
  }

  start(): void {
    this.rt.begin();
    this.down.onClose((finished) => this.closed(finished));
    this.send();
  }

  private send(): void {
    const cluster = this.clusters[this.clusterIndex]!;
    const address = cluster.addresses[this.addressIndex];
    if (address === undefined) {
      // A cluster without addresses: nothing could be sent, as with a refused connection.
      this.moveOn(cluster, true, false);
      return;
    }
    this.attempts++;
    const attempt = new Attempt(this, cluster);
    this.current = attempt;
    attempt.call = this.rt.pool(address, cluster.port).request(
      {
        path: this.target.pathAndQuery,
        method: this.down.method,
        headers: this.head.headers,
        body: this.down.body,
      },
      attempt,
    );
  }

  upstreamHeaders(attempt: Attempt, status: number, raw: string[]): void {
    const now = performance.now();
    if (isFailureStatus(status)) {
      this.rt.failed(this.route, attempt.cluster, now);
      if (this.replayable && this.clusterIndex + 1 < this.clusters.length && !this.clientGone) {
        // Drain the bad answer on its own (the connection stays reusable) and move on now.
        attempt.dropped = true;
        this.rt.metrics.retry(this.route.host, attempt.cluster.name);
        this.clusterIndex++;
        this.addressIndex = 0;
        this.send();
        return;
      }
    } else {
      this.rt.succeeded(this.route, attempt.cluster, now);
    }
    // Stopping: this answer is the connection's last, so the client reconnects elsewhere.
    if (this.rt.draining) this.down.closeAfter();
    try {
      this.down.writeHead(status, downstreamHeaders(raw));
    } catch {
      // A header Node refuses to send (invalid characters): the answer cannot be passed on.
      attempt.dropped = true;
      attempt.call?.abort();
      this.fail(502, 'bad gateway: invalid upstream response\n');
    }
  }

  upstreamData(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    if (this.down.write(chunk)) return true;
    // The client reads slower than the upstream sends: pause the upstream until it catches up.
    if (!this.waitingDrain) {
      this.waitingDrain = true;
      this.down.onDrain(() => {
        this.waitingDrain = false;
        this.current?.call?.resume();
      });
    }
    return false;
  }

  upstreamEnd(_attempt: Attempt): void {
    this.down.end();
  }

  upstreamError(attempt: Attempt, err: Error & { code?: string }): void {
    // The client left, or its request body broke off: not the cluster's fault, nothing to answer.
    if (this.clientGone || this.down.bodyBroken()) return;
    const code = err.code ?? '';
    const now = performance.now();
    this.rt.failed(this.route, attempt.cluster, now);
    if (this.down.headersSent) {
      // Mid-body: the status is out, so the only honest signal left is cutting the connection.
      this.down.destroy();
      return;
    }
    this.moveOn(attempt.cluster, CONNECT_ERRORS.has(code), TIMEOUT_ERRORS.has(code));
  }

  /** After a failure before any answer: next address, next cluster, or give up. */
  private moveOn(cluster: ClusterTarget, connectError: boolean, timedOut: boolean): void {
    if (connectError && this.addressIndex + 1 < cluster.addresses.length) {
      this.addressIndex++;
      this.send();
      return;
    }
    if ((connectError || this.replayable) && this.clusterIndex + 1 < this.clusters.length) {
      this.rt.metrics.retry(this.route.host, cluster.name);
      this.clusterIndex++;
      this.addressIndex = 0;
      this.send();
      return;
    }
    this.fail(timedOut ? 504 : 502, timedOut ? 'gateway timeout\n' : 'bad gateway: no cluster answered\n');
  }

  private fail(status: number, body: string): void {
    if (this.down.headersSent) {
      this.down.destroy();
      return;
    }
    this.down.writeHead(status, ['Content-Type', 'text/plain', 'Content-Length', String(body.length)]);
    this.down.end(body);
  }

  private closed(finished: boolean): void {
    if (!finished) {
      // The client left (or the response was cut): stop the upstream work too.
      this.clientGone = true;
      this.current?.call?.abort();
    }
    const cluster = this.current?.cluster.name ?? '';
    this.rt.finished({
      host: this.route.host,
      method: this.down.method,
      path: this.target.path,
      // 499: the client closed the connection before an answer (the nginx convention).
      status: this.down.headersSent ? this.down.statusCode : 499,
      cluster,
      attempts: this.attempts,
      ms: Math.round((performance.now() - this.startedAt) * 100) / 100,
      bytes: this.bytes,
      client: this.client,
    });
  }
}
