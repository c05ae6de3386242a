// What a demo scenario watches after it breaks something: the GSLB DNS answer for the shop's name,
// and requests through one front door until they take the new path. Loopback only.
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { isLoopbackHost } from '../../dial/dial-guard.ts';
import { sleep } from '../../kube/sleep.ts';
import type { ShopClient, ShopResult } from './shop-client.ts';
import { sendDatagram } from '../../dial/dialer.ts';

/** The A records the GSLB DNS answers for `name` (sorted); [] on no answer within `timeoutMs`. */
export function dnsA(
  server: { host: string; port: number },
  name: string,
  timeoutMs = 1_000,
): Promise<string[]> {
  if (!isLoopbackHost(server.host)) throw new Error(`${server.host}: the demo only talks to loopback`);
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    const id = Math.floor(Math.random() * 65_535);
    const finish = (v: string[]): void => {
      clearTimeout(timer);
      sock.close();
      resolve(v);
    };
    const timer = setTimeout(() => finish([]), timeoutMs);
    sock.on('error', () => finish([]));
    sock.on('message', (msg) => {
      try {
        const p = dnsPacket.decode(msg);
        if (p.id !== id) return;
        finish((p.answers ?? []).flatMap((a) => (a.type === 'A' ? [a.data] : [])).sort());
      } catch {
        finish([]);
      }
    });
    sendDatagram(
      sock,
      dnsPacket.encode({
        type: 'query',
        id,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type: 'A', name }],
      }),
      server.port,
      server.host,
    );
  });
}

/** Polls `check` every `everyMs` until it is true; the time it took, or undefined after `timeoutMs`. */
export async function timeUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<number | undefined> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await check()) return Date.now() - start;
    await sleep(everyMs);
  }
  return undefined;
}

export interface PathWatch {
  /** ms from the start to the first successful answer that `isNewPath` accepts. */
  readonly firstNewPathMs: number | undefined;
  readonly results: readonly ShopResult[];
}

/**
 * Sends GET /items through `client` every `everyMs` (one at a time) until an answer is on the new
 * path, then `afterMs` longer (to show it stays there); gives up after `timeoutMs`.
 */
export async function watchPath(
  client: ShopClient,
  isNewPath: (r: ShopResult) => boolean,
  opts: { timeoutMs: number; everyMs?: number; afterMs?: number },
): Promise<PathWatch> {
  const start = Date.now();
  const results: ShopResult[] = [];
  let first: number | undefined;
  while (Date.now() - start < opts.timeoutMs) {
    const r = await client.send('GET', '/items');
    results.push(r);
    if (first === undefined && r.status > 0 && r.status < 500 && isNewPath(r)) first = r.at + r.ms - start;
    if (first !== undefined && Date.now() - start >= first + (opts.afterMs ?? 0)) break;
    await sleep(opts.everyMs ?? 50);
  }
  return { firstNewPathMs: first, results };
}
