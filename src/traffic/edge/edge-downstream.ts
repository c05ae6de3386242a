// The client side of one proxied request, as ProxyExchange (edge-proxy-request.ts) sees it: the
// request's method and body, and a response to write with backpressure. Two fronts provide it:
// node:http (NodeDownstream, below: requests outside the fast subset, bodies, HTTP/1.0) and the
// raw-socket fast front (edge-fast-front.ts), so retries, outlier ejection, metrics and the access
// log are one code path for both.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

export interface Downstream {
  readonly method: string;
  /** The request body to stream upstream; null when the request has none. */
  readonly body: Readable | null;
  /** The request body broke off (the client left mid-body): nothing is left to answer. */
  bodyBroken(): boolean;
  /** The response head was written (after `writeHead`). */
  readonly headersSent: boolean;
  readonly statusCode: number;
  /** This response is the connection's last (`Connection: close`). Call before `writeHead`. */
  closeAfter(): void;
  /** Flat [name, value, …] headers, hop-by-hop ones already removed; may throw on invalid ones. */
  writeHead(status: number, headers: readonly string[]): void;
  /** A piece of the body; false: wait for `onDrain` before writing more. */
  write(chunk: Buffer): boolean;
  onDrain(cb: () => void): void;
  end(body?: string): void;
  /** Cuts the connection (a response that cannot be completed). */
  destroy(): void;
  /** Called once: the response was fully handed to the client (`finished`), or the client left. */
  onClose(cb: (finished: boolean) => void): void;
}

/** A node:http request and response as a Downstream. */
export class NodeDownstream implements Downstream {
  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    hasBody: boolean,
  ) {
    this.body = hasBody ? req : null;
  }

  readonly body: Readable | null;

  get method(): string {
    return this.req.method ?? 'GET';
  }

  bodyBroken(): boolean {
    return this.req.destroyed && !this.req.complete;
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  get statusCode(): number {
    return this.res.statusCode;
  }

  closeAfter(): void {
    this.res.shouldKeepAlive = false;
  }

  writeHead(status: number, headers: readonly string[]): void {
    this.res.writeHead(status, headers as string[]);
  }

  write(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  onDrain(cb: () => void): void {
    this.res.once('drain', cb);
  }

  end(body?: string): void {
    this.res.end(body);
  }

  destroy(): void {
    this.res.destroy();
  }

  onClose(cb: (finished: boolean) => void): void {
    this.res.once('close', () => cb(this.res.writableFinished));
  }
}
