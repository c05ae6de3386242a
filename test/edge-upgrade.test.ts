// Upgrade requests through the edge gateway, spoken to over raw sockets: only a 101 Switching
// Protocols answer turns the client connection into a tunnel. An upstream that answers an
// `Upgrade` request with a plain response (here node:http without an upgrade handler, which
// answers 200 and keeps its connection) must not get the client's later requests piped to it:
// they would skip host routing, drain, X-Forwarded-For and the access log (request smuggling).
// Stand-in clusters listen on 127.112.2.x; everything is closed at the end.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import http from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { createLogger } from '../src/logging/logger.ts';
import { EdgeAccessLog } from '../src/traffic/edge/edge-access-log.ts';
import { EdgeGateway } from '../src/traffic/edge/edge-gateway.ts';
import { StaticRoutingTable, type HostRoute } from '../src/traffic/routing/routing.ts';
import { waitFor } from './support/harness.ts';
import { jsonLineSink } from './support/log-sink.ts';

const ADDRESS = '127.112.2.1';
const PLAIN = 'plain.example.test';
const OTHER = 'other.example.test';
const WS = 'ws.example.test';
const SILENT = 'silent.example.test';

/** Requests each stand-in saw, as `host url x-forwarded-for`. */
const seenPlain: string[] = [];
const seenOther: string[] = [];

function recorder(name: string, seen: string[]): http.Server {
  return http.createServer((req, res) => {
    seen.push(`${req.headers.host} ${req.url} ${String(req.headers['x-forwarded-for'])}`);
    req.resume();
    res.setHeader('Content-Type', 'text/plain');
    if (req.url === '/chunked') {
      // No length: node frames it chunked on a keep-alive connection.
      res.write(`${name} `);
      res.end('chunked');
    } else {
      res.end(`${name} ${req.url}`);
    }
  });
}

/** node:http without an 'upgrade' listener: an Upgrade request is answered as a plain one. */
const plain = recorder('plain', seenPlain);
const other = recorder('other', seenOther);
const wsBackend = http.createServer((_req, res) => res.end('no upgrade here'));
const wss = new WebSocketServer({ server: wsBackend });
wss.on('connection', (ws) => ws.on('message', (m: Buffer) => ws.send(`echo:${m.toString()}`)));
/** Reads requests and never answers. */
const silentSockets = new Set<Socket>();
const silent: Server = createServer((s) => {
  silentSockets.add(s);
  s.on('error', () => s.destroy());
  s.on('close', () => silentSockets.delete(s));
});

async function listen(s: Server): Promise<number> {
  await new Promise<void>((resolve) => s.listen(0, ADDRESS, resolve));
  return (s.address() as AddressInfo).port;
}

function route(host: string, port: number): HostRoute {
  return {
    host,
    owner: { namespace: 'default', name: host.split('.')[0]! },
    strategy: { type: 'Failover', order: ['a'] },
    ttlSeconds: 30,
    paths: ['/'],
    clusters: [{ name: 'a', region: 'r1', addresses: [ADDRESS], port, healthy: true, drained: false }],
  };
}

const upgrade = (host: string, path: string, extra = ''): string =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${extra}\r\n`;
const get = (host: string, path: string, extra = ''): string =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;

/**
 * Sends `first`, waits for its whole answer (`answered` says when), then sends `second` on the same
 * connection; resolves with everything received until the gateway closes the connection (or 3 s).
 */
async function twoRequests(
  port: number,
  first: string,
  answered: (text: string) => boolean,
  second: string,
): Promise<{ text: string; closed: boolean }> {
  const socket = connect(port, ADDRESS);
  const chunks: Buffer[] = [];
  const text = (): string => Buffer.concat(chunks).toString('latin1');
  let sentSecond = false;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text: text(), closed: false });
    }, 3_000);
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (!sentSecond && answered(text())) {
        sentSecond = true;
        socket.write(second, 'latin1', () => undefined);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text: text(), closed: true });
    });
    socket.write(first, 'latin1');
  });
}

/** Sends everything at once (pipelined); resolves as `twoRequests`. */
async function pipelined(port: number, bytes: string): Promise<{ text: string; closed: boolean }> {
  return twoRequests(port, bytes, () => false, '');
}

const logLines: Record<string, unknown>[] = [];
let accessLog: EdgeAccessLog;
let gw: EdgeGateway;
let port = 0;

async function accessLines(path: string): Promise<Record<string, unknown>[]> {
  await accessLog.flush();
  await new Promise((r) => setImmediate(r));
  return logLines.filter((l) => l['msg'] === 'edge request' && l['path'] === path);
}

/**
 * What must hold after an Upgrade request answered 200 and a second request for OTHER on the same
 * connection: the upgrade's upstream never saw the second request; it was either routed to OTHER
 * (and access-logged) or not read at all because the connection closed.
 */
async function assertNotPiped(out: { text: string; closed: boolean }, secondPath: string): Promise<void> {
  assert.match(out.text, /^HTTP\/1\.1 200 OK\r\n/, 'the upgrade request gets its plain answer');
  assert.ok(
    !seenPlain.some((s) => s.includes(secondPath)),
    `the second request reached the upgrade's upstream: ${JSON.stringify(seenPlain)}`,
  );
  const routed = seenOther.filter((s) => s.includes(secondPath));
  if (routed.length > 0) {
    assert.equal(routed.length, 1);
    assert.match(out.text, new RegExp(`other ${secondPath}`));
    const lines = await waitFor('access log line of the second request', 3_000, async () => {
      const l = await accessLines(secondPath);
      return l.length > 0 ? l : undefined;
    });
    assert.equal(lines[0]!['host'], OTHER);
  } else {
    assert.ok(out.closed, `the second request was neither routed nor refused: ${JSON.stringify(out.text)}`);
    assert.ok(!out.text.includes(`other ${secondPath}`));
  }
}

describe('edge gateway upgrades', () => {
  before(async () => {
    const sink = jsonLineSink(logLines);
    gw = new EdgeGateway({
      table: new StaticRoutingTable([
        route(PLAIN, await listen(plain)),
        route(OTHER, await listen(other)),
        route(WS, await listen(wsBackend)),
        route(SILENT, await listen(silent)),
      ]),
      logger: createLogger('edge-upgrade-test', sink),
      accessLogger: (accessLog = new EdgeAccessLog(sink, { flushIntervalMs: 600_000 })),
      http: { host: ADDRESS, port: 0 },
      connectTimeoutMs: 1_000,
      upstreamTimeoutMs: 1_000,
      shutdownGraceMs: 1_000,
    });
    port = (await gw.start()).http!.port;
  });

  after(async () => {
    await gw.stop();
    for (const s of [plain, other, wsBackend]) s.closeAllConnections();
    for (const s of silentSockets) s.destroy();
    wss.close();
    await Promise.all(
      [plain, other, wsBackend, silent].map((s) => new Promise<void>((r) => s.close(() => r()))),
    );
  });

  it('does not pipe a pipelined request to the upstream that answered an Upgrade with 200', async () => {
    const out = await pipelined(port, upgrade(PLAIN, '/up-1') + get(OTHER, '/second-1'));
    await assertNotPiped(out, '/second-1');
    const up = await accessLines('/up-1');
    assert.equal(up.length, 1, 'the upgrade request is access-logged once');
    assert.equal(up[0]!['status'], 200);
  });

  it('does not pipe a request sent after the 200 answer to an Upgrade request', async () => {
    const out = await twoRequests(
      port,
      upgrade(PLAIN, '/up-2'),
      (t) => t.includes('plain /up-2'),
      get(OTHER, '/second-2'),
    );
    await assertNotPiped(out, '/second-2');
  });

  it('relays a chunked plain answer to an Upgrade request whole, without piping what follows', async () => {
    const out = await pipelined(port, upgrade(PLAIN, '/chunked') + get(OTHER, '/second-3'));
    await assertNotPiped(out, '/second-3');
    assert.match(out.text, /plain chunked/);
  });

  it('refuses an Upgrade request with a body, which could only reach the upstream after a 101', async () => {
    const out = await pipelined(
      port,
      upgrade(PLAIN, '/up-4', 'Content-Length: 4\r\n') + 'abcd' + get(OTHER, '/second-4'),
    );
    assert.match(out.text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(out.text, /an Upgrade request cannot have a body/);
    assert.ok(out.closed);
    assert.ok(!seenPlain.some((s) => s.includes('/up-4')), 'the upstream never saw it');
    assert.ok(![...seenPlain, ...seenOther].some((s) => s.includes('/second-4')));
    const lines = await accessLines('/up-4');
    assert.equal(lines[0]!['status'], 400);
  });

  it('answers 504 when the upstream does not answer an Upgrade request in time', async () => {
    const out = await pipelined(port, upgrade(SILENT, '/up-5'));
    assert.match(out.text, /^HTTP\/1\.1 504 /);
    assert.ok(out.closed);
  });

  it('still tunnels a real WebSocket after its 101', async () => {
    const ws = new WebSocket(`ws://${ADDRESS}:${port}/socket`, { headers: { Host: WS } });
    const reply = await new Promise<string>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('open', () => ws.send('hi'));
      ws.once('message', (m: Buffer) => resolve(m.toString()));
    });
    assert.equal(reply, 'echo:hi');
    ws.close();
    await new Promise((r) => ws.once('close', r));
    const lines = await waitFor('access log line of the tunnel', 3_000, async () => {
      const l = await accessLines('/socket');
      return l.length > 0 ? l : undefined;
    });
    assert.equal(lines[0]!['status'], 101);
  });
});
