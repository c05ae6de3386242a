// The upstream pool against real loopback servers: node's HTTP server for the well-behaved cases,
// raw TCP servers that write scripted bytes for the rest.
import assert from 'node:assert/strict';
import http from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import { UpstreamPool, type UpstreamRequest } from './upstream-pool.ts';

interface Outcome {
  status?: number;
  headers?: string[];
  body: string;
  error?: string;
}

const servers: { close(cb: () => void): void; closeAllConnections?: () => void }[] = [];
after(async () => {
  for (const s of servers) {
    s.closeAllConnections?.();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

/** A raw TCP server: `onRequest` gets each request head (up to the blank line), the socket and the request's number. */
async function rawServer(
  onRequest: (head: string, socket: Socket, index: number) => void,
): Promise<{ port: number; connections: () => number; sockets: Set<Socket> }> {
  let count = 0;
  let n = 0; // requests so far, over all connections
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    count++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        onRequest(head, s, n++);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push({
    close: (cb) => {
      for (const s of sockets) s.destroy();
      server.close(() => cb());
    },
  });
  return { port: (server.address() as AddressInfo).port, connections: () => count, sockets };
}

function pool(port: number, over: Partial<ConstructorParameters<typeof UpstreamPool>[2]> = {}): UpstreamPool {
  return new UpstreamPool('127.0.0.1', port, {
    connections: 8,
    connectTimeoutMs: 1_000,
    timeoutMs: 2_000,
    ...over,
  });
}

function run(
  p: UpstreamPool,
  req: Partial<UpstreamRequest> = {},
  opts: { pauseFirst?: number } = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { body: '' };
    const call = p.request(
      { method: 'GET', path: '/', headers: ['Host', 'test'], body: null, ...req },
      {
        onHead: (status, headers) => {
          out.status = status;
          out.headers = headers;
        },
        onData: (chunk) => {
          out.body += chunk.toString('latin1');
          if (opts.pauseFirst !== undefined) {
            const ms = opts.pauseFirst;
            opts.pauseFirst = undefined;
            setTimeout(() => call.resume(), ms);
            return false;
          }
          return true;
        },
        onEnd: () => resolve(out),
        onError: (err) => resolve({ ...out, error: err.code ?? err.message }),
      },
    );
  });
}

const until = async (what: string, probe: () => boolean): Promise<void> => {
  const deadline = Date.now() + 3_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('upstream pool', () => {
  it('reuses one keep-alive connection for requests one after another', async () => {
    let connections = 0;
    const server = http.createServer((req, res) => res.end(`${req.method} ${req.url} ${req.headers['x-a']}`));
    server.on('connection', () => connections++);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const p = pool((server.address() as AddressInfo).port);
    for (let i = 0; i < 5; i++) {
      const r = await run(p, { path: `/x?i=${i}`, headers: ['Host', 'test', 'X-A', 'b'] });
      assert.deepEqual([r.status, r.body, r.error], [200, `GET /x?i=${i} b`, undefined]);
    }
    assert.equal(connections, 1);
    assert.equal(p.size, 1);
    await p.close();
  });

  it('streams request bodies, framed by Content-Length or chunked', async () => {
    const server = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () =>
        res.end(
          `${req.headers['content-length'] ?? '-'} ${req.headers['transfer-encoding'] ?? '-'} ${Buffer.concat(parts).length}`,
        ),
      );
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const p = pool((server.address() as AddressInfo).port);
    const big = Buffer.alloc(3 * 1024 * 1024, 'x');
    const withLength = new PassThrough();
    const r1 = run(p, {
      method: 'PUT',
      headers: ['Host', 't', 'Content-Length', String(big.length)],
      body: withLength,
    });
    withLength.end(big);
    assert.equal((await r1).body, `${big.length} - ${big.length}`);
    const chunked = new PassThrough();
    const r2 = run(p, { method: 'POST', body: chunked });
    chunked.write('hello ');
    setTimeout(() => chunked.end('world'), 20);
    assert.equal((await r2).body, '- chunked 11');
    // A POST without a body says so (as undici does).
    assert.equal((await run(p, { method: 'POST' })).body, '0 - 0');
    await p.close();
  });

  it('passes chunked bodies with extensions and trailers on and reuses the connection', async () => {
    const s = await rawServer((_head, sock) =>
      sock.write(
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\n2\r\nef\r\n0\r\nX-T: 1\r\n\r\n',
      ),
    );
    const p = pool(s.port);
    for (let i = 0; i < 3; i++)
      assert.deepEqual(await run(p), {
        status: 200,
        headers: ['Transfer-Encoding', 'chunked'],
        body: 'abcdef',
      });
    assert.equal(s.connections(), 1);
    await p.close();
  });

  it('answers HEAD, 204 and 304 without a body and keeps the connection', async () => {
    const s = await rawServer((head, sock, n) => {
      if (head.startsWith('HEAD')) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n');
      else sock.write(`HTTP/1.1 ${n === 1 ? 204 : 304} X\r\n\r\n`);
    });
    const p = pool(s.port);
    assert.deepEqual(await run(p, { method: 'HEAD' }), {
      status: 200,
      headers: ['Content-Length', '1234'],
      body: '',
    });
    assert.equal((await run(p)).status, 204);
    assert.equal((await run(p)).status, 304);
    assert.equal(s.connections(), 1);
    await p.close();
  });

  it('fails a malformed response and drops its connection', async () => {
    const s = await rawServer((_h, sock, n) =>
      sock.write(
        n === 0
          ? 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'
          : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
      ),
    );
    const p = pool(s.port);
    assert.equal((await run(p)).error, 'UPSTREAM_BAD_RESPONSE');
    assert.deepEqual([(await run(p)).body, s.connections()], ['ok', 2]);
    await p.close();
  });

  it('does not reuse a connection that sent bytes after the response (pipelined garbage)', async () => {
    const s = await rawServer((_h, sock) =>
      sock.write(
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nforge',
      ),
    );
    const p = pool(s.port);
    assert.equal((await run(p)).body, 'ok');
    assert.equal((await run(p)).body, 'ok', 'the forged second response is never read');
    assert.equal(s.connections(), 2);
    await p.close();
  });

  it('closes an idle connection that receives anything', async () => {
    const s = await rawServer((_h, sock) => {
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      setTimeout(() => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbad'), 30);
    });
    const p = pool(s.port);
    assert.equal((await run(p)).body, 'ok');
    await until('the idle connection closed', () => p.size === 0);
    assert.equal((await run(p)).body, 'ok');
    await p.close();
  });

  it('reads a body delimited by the close, and fails one cut short', async () => {
    const s = await rawServer((_h, sock, n) => {
      if (n === 0) sock.end('HTTP/1.1 200 OK\r\n\r\nall of it');
      else sock.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npart');
    });
    const p = pool(s.port);
    assert.deepEqual(await run(p), { status: 200, headers: [], body: 'all of it' });
    const cut = await run(p);
    assert.deepEqual([cut.status, cut.body, cut.error], [200, 'part', 'UPSTREAM_CLOSED']);
    const s2 = await rawServer((_h, sock) => sock.destroy());
    assert.equal((await run(pool(s2.port))).error, 'UPSTREAM_CLOSED');
    await p.close();
  });

  it('waits for slow bodies but times out a silent upstream, before and within the body', async () => {
    const s = await rawServer((head, sock) => {
      if (head.includes('/silent')) return;
      if (head.includes('/stall')) {
        sock.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
        return;
      }
      // 10 bytes, one every 60 ms: slower than the whole timeout, never silent for long.
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n');
      let i = 0;
      const t = setInterval(() => {
        sock.write(String(i++));
        if (i === 10) clearInterval(t);
      }, 60);
    });
    const p = pool(s.port, { timeoutMs: 300 });
    assert.equal((await run(p)).body, '0123456789');
    const silent = await run(p, { path: '/silent' });
    assert.deepEqual([silent.status, silent.error], [undefined, 'UPSTREAM_TIMEOUT']);
    const stall = await run(p, { path: '/stall' });
    assert.deepEqual([stall.status, stall.body, stall.error], [200, 'abc', 'UPSTREAM_TIMEOUT']);
    await p.close();
  });

  it('pauses reading while the consumer is full, without timing out', async () => {
    const s = await rawServer((_h, sock) => {
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc');
      setTimeout(() => sock.write('def'), 20);
    });
    const p = pool(s.port, { timeoutMs: 100 });
    assert.equal((await run(p, {}, { pauseFirst: 400 })).body, 'abcdef');
    await p.close();
  });

  it('reports refused connections with their code', async () => {
    const s = await rawServer(() => undefined);
    const port = s.port;
    await new Promise<void>((r) => servers.pop()!.close(r));
    assert.equal((await run(pool(port))).error, 'ECONNREFUSED');
  });

  it('queues requests beyond the connection limit and drops aborted ones from the queue', async () => {
    const held: Socket[] = [];
    const s = await rawServer((head, sock) => {
      if (head.includes('/hold')) held.push(sock);
      else sock.write(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${head.split(' ')[1]!.slice(1)}`);
    });
    const p = pool(s.port, { connections: 1 });
    const first = run(p, { path: '/hold' });
    await until('the first request arrived', () => held.length === 1);
    let abortedCalled = false;
    const aborted = p.request(
      { method: 'GET', path: '/a', headers: [], body: null },
      {
        onHead: () => (abortedCalled = true),
        onData: () => true,
        onEnd: () => (abortedCalled = true),
        onError: () => (abortedCalled = true),
      },
    );
    const third = run(p, { path: '/b' });
    aborted.abort();
    held[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nh');
    assert.equal((await first).body, 'h');
    assert.equal((await third).body, 'b');
    assert.equal(abortedCalled, false);
    assert.equal(s.connections(), 1);
    await p.close();
  });

  it('abort mid-response closes the connection and calls nothing more', async () => {
    const s = await rawServer((_h, sock) => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc'));
    const p = pool(s.port);
    let calls = 0;
    await new Promise<void>((resolve) => {
      const call = p.request(
        { method: 'GET', path: '/', headers: [], body: null },
        {
          onHead: () => undefined,
          onData: () => {
            call.abort();
            setTimeout(resolve, 50);
            return true;
          },
          onEnd: () => calls++,
          onError: () => calls++,
        },
      );
    });
    assert.equal(calls, 0);
    await until('the connection closed', () => p.size === 0 && s.sockets.size === 0);
  });

  it("closes idle connections before the server's Keep-Alive timeout, and never reuses one of 1 s", async () => {
    const s = await rawServer((head, sock) =>
      sock.write(
        `HTTP/1.1 200 OK\r\nKeep-Alive: timeout=${head.includes('/short') ? 1 : 2}\r\nContent-Length: 0\r\n\r\n`,
      ),
    );
    const p = pool(s.port, { timeoutMs: 400 }); // sweeps every 50 ms
    await run(p, { path: '/short' });
    await run(p, { path: '/short' });
    assert.equal(s.connections(), 2, 'a 1 s hint leaves no time to reuse the connection');
    await run(p);
    const released = Date.now();
    assert.equal(p.size, 1);
    await until('the idle connection closed', () => p.size === 0);
    const idleFor = Date.now() - released;
    assert.ok(
      idleFor >= 800 && idleFor < 1_500,
      `closed after ${idleFor} ms, want about 1 s (2 s hint - 1 s)`,
    );
    await p.close();
  });

  it('closes idle connections after idleMs, and everything on close', async () => {
    const s = await rawServer((_h, sock) => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const p = pool(s.port, { idleMs: 100, timeoutMs: 80 });
    await run(p);
    assert.equal(p.size, 1);
    await until('the idle connection closed', () => p.size === 0);
    const held = await rawServer(() => undefined);
    const q = pool(held.port);
    const pending = run(q);
    await until('the request arrived', () => held.sockets.size === 1);
    await q.close();
    assert.equal((await pending).error, 'UPSTREAM_ABORTED');
    await p.close();
  });
});
