// A TCP proxy on loopback that delays every chunk by a fixed time in each direction, in order:
// a member "far away" for chaos tests, without touching the member itself.
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface LatencyProxy {
  readonly port: number;
  /** Bytes forwarded so far (both directions): proves traffic went through it. */
  bytes(): number;
  close(): Promise<void>;
}

/** Forwards `listenHost:0` → `target` with `delayMs` added to each direction. */
export async function startLatencyProxy(
  listenHost: string,
  target: { host: string; port: number },
  delayMs: number,
): Promise<LatencyProxy> {
  let forwarded = 0;
  const sockets = new Set<Socket>();
  const delayed = (from: Socket, to: Socket): void => {
    let last = 0;
    from.on('data', (chunk: Buffer) => {
      forwarded += chunk.length;
      // Each chunk leaves delayMs after it came, never before the one ahead of it.
      const at = Math.max(Date.now() + delayMs, last);
      last = at;
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, at - Date.now());
    });
    from.on('end', () => setTimeout(() => to.end(), Math.max(0, last - Date.now()) + 1));
    from.on('error', () => to.destroy());
    from.on('close', () => setTimeout(() => to.destroy(), Math.max(0, last - Date.now()) + 5));
  };
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    delayed(client, upstream);
    delayed(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, listenHost, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    bytes: () => forwarded,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
