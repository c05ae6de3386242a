// The edge gateway's client-side budgets (issue 16), spoken to over raw sockets: a request with two
// Host headers is a 400 (it could be routed by one and served by the other), a Host with a
// trailing dot is the same name (and reaches the upstream without it), connections past the cap
// are closed at once, and a client that never finishes its head is cut off after the default
// headers timeout (15 s). A stand-in cluster on 127.112.3.1; everything is closed at the end.
import assert from 'node:assert/strict';
import http from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../src/logging/logger.ts';
import { EdgeGateway } from '../src/traffic/edge/edge-gateway.ts';
import { StaticRoutingTable } from '../src/traffic/routing/routing.ts';
import { waitFor } from './support/harness.ts';

const ADDRESS = '127.112.3.1';
const HOST = 'shop.example.test';
const CAP = 5;
const seen: string[] = [];
const upstream = http.createServer((req, res) => {
  seen.push(`${req.headers.host} ${req.url}`);
  req.resume();
  res.end(`shop ${req.url}`);
});
let gw: EdgeGateway;
let port = 0;
const sockets: Socket[] = [];

/** Sends `bytes`; resolves with what came back until the gateway closed (or `ms`). */
function exchange(bytes: string, ms = 3_000): Promise<{ text: string; closed: boolean; tookMs: number }> {
  const t0 = performance.now();
  const s = connect(port, ADDRESS);
  sockets.push(s);
  let text = '';
  s.setEncoding('latin1');
  s.on('data', (d: string) => (text += d));
  s.on('error', () => undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closed: false, tookMs: performance.now() - t0 });
    }, ms);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true, tookMs: performance.now() - t0 });
    });
    s.write(bytes, 'latin1');
  });
}

describe('edge gateway client budgets', () => {
  before(async () => {
    await new Promise<void>((r) => upstream.listen(0, ADDRESS, r));
    const upstreamPort = (upstream.address() as AddressInfo).port;
    gw = new EdgeGateway({
      table: new StaticRoutingTable([
        {
          host: HOST,
          owner: { namespace: 'default', name: 'shop' },
          strategy: { type: 'Failover', order: ['a'] },
          ttlSeconds: 30,
          paths: ['/'],
          clusters: [
            {
              name: 'a',
              region: 'r1',
              addresses: [ADDRESS],
              port: upstreamPort,
              healthy: true,
              drained: false,
            },
          ],
        },
      ]),
      logger: createLogger('edge-budgets-test', process.stderr),
      accessLog: false,
      http: { host: ADDRESS, port: 0 },
      maxClientConnections: CAP,
      shutdownGraceMs: 500,
    });
    port = (await gw.start()).http!.port;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await gw.stop();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('answers 400 to a request with two Host headers and sends it nowhere', async () => {
    const out = await exchange(
      `GET /two HTTP/1.1\r\nHost: ${HOST}\r\nHost: other.example.test\r\nConnection: close\r\n\r\n`,
    );
    assert.match(out.text, /^HTTP\/1\.1 400 /, out.text);
    assert.match(out.text, /more than one Host header/);
    assert.ok(!seen.some((s) => s.includes('/two')), JSON.stringify(seen));
  });

  it('routes a Host with a trailing dot as the name, and the upstream sees the name', async () => {
    const out = await exchange(`GET /dot HTTP/1.1\r\nHost: ${HOST}.\r\nConnection: close\r\n\r\n`);
    assert.match(out.text, /^HTTP\/1\.1 200 /, out.text);
    assert.match(out.text, /shop \/dot/);
    assert.ok(seen.includes(`${HOST} /dot`), JSON.stringify(seen));
  });

  it(`closes connections past the cap (${CAP}) at once, and takes new ones when some leave`, async () => {
    const held: Socket[] = [];
    for (let i = 0; i < CAP; i++) {
      const s = connect(port, ADDRESS);
      sockets.push(s);
      s.on('error', () => undefined);
      await new Promise<void>((r) => s.once('connect', () => r()));
      held.push(s);
    }
    // The server counts a connection once it has accepted it.
    await new Promise((r) => setTimeout(r, 200));
    const over = await exchange(`GET /over HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, 5_000);
    assert.ok(over.closed && over.text === '', `over the cap: ${JSON.stringify(over)}`);
    assert.ok(
      held.every((s) => !s.destroyed),
      'the connections under the cap stay open',
    );
    held[0]!.destroy();
    await waitFor('a connection under the cap again', 5_000, async () => {
      const out = await exchange(`GET /again HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
      return /^HTTP\/1\.1 200 /.test(out.text) ? true : undefined;
    });
    for (const s of held) s.destroy();
  });

  it('cuts off a client that does not finish its head within the default 15 s', async () => {
    // Wait until the cap's sockets are gone.
    await new Promise((r) => setTimeout(r, 200));
    const out = await exchange(`GET /slow HTTP/1.1\r\nHost: ${HOST}\r\nX-Slow: `, 30_000);
    assert.ok(out.closed, `still open after ${out.tookMs.toFixed(0)} ms`);
    assert.ok(out.tookMs >= 14_000 && out.tookMs < 25_000, `closed after ${out.tookMs.toFixed(0)} ms`);
    assert.match(out.text, /^(HTTP\/1\.1 408 |$)/, out.text);
  });
});
