// The listener with real sockets on loopback: per-connection round robin, REJECT without ready
// backends, half-close, the connection budget, and nothing left open after close().
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ConnectionBudget, ServiceListener } from './service-listener.ts';

const VIP = '127.108.71.1';
const servers: Server[] = [];

/** A backend that answers each connection with its name, then echoes until the client ends. */
async function backend(host: string, port: number, name: string): Promise<Server> {
  const s = createServer({ allowHalfOpen: true }, (c) => {
    c.write(`${name}:`);
    c.on('data', (d) => c.write(d));
    c.on('end', () => c.end(':bye'));
  });
  await new Promise<void>((r) => s.listen(port, host, r));
  servers.push(s);
  return s;
}

/** Connects, sends `send` then half-closes; resolves with everything received, or the error code. */
function exchange(port: number, send = 'hi'): Promise<string> {
  return new Promise((resolve) => {
    const c: Socket = connect({ host: VIP, port, allowHalfOpen: true });
    let got = '';
    c.on('connect', () => c.end(send));
    c.on('data', (d) => (got += d.toString()));
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    c.on('close', () => resolve(got));
  });
}

after(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

test('connections go round robin to the backends, bytes and half-close piped both ways', async () => {
  await backend('127.108.72.1', 8080, 'a');
  await backend('127.108.72.2', 9090, 'b');
  const l = new ServiceListener(VIP, new ConnectionBudget(10));
  try {
    await l.update([
      {
        port: 80,
        protocol: 'TCP',
        backends: [
          { host: '127.108.72.1', port: 8080 },
          { host: '127.108.72.2', port: 9090 },
        ],
      },
    ]);
    assert.deepEqual(await l.listening(), [80]);
    const got = [await exchange(80), await exchange(80), await exchange(80)];
    assert.deepEqual(got, ['a:hi:bye', 'b:hi:bye', 'a:hi:bye']);
    // The endpoints change: new connections follow.
    await l.update([{ port: 80, protocol: 'TCP', backends: [{ host: '127.108.72.2', port: 9090 }] }]);
    assert.equal(await exchange(80), 'b:hi:bye');
  } finally {
    await l.close();
  }
});

test('no ready backend resets the connection; a removed port stops listening', async () => {
  const l = new ServiceListener(VIP, new ConnectionBudget(10));
  try {
    await l.update([
      { port: 81, protocol: 'TCP', backends: [] },
      { port: 82, protocol: 'TCP', backends: [] },
    ]);
    assert.equal(await exchange(81), 'ECONNRESET');
    await l.update([{ port: 81, protocol: 'TCP', backends: [] }]);
    assert.deepEqual(await l.listening(), [81]);
    assert.equal(await exchange(82), 'ECONNREFUSED');
  } finally {
    await l.close();
  }
});

test('the budget bounds open connections, and close() ends every one of them', async () => {
  await backend('127.108.72.3', 8080, 'c');
  const budget = new ConnectionBudget(2);
  const l = new ServiceListener(VIP, budget);
  await l.update([{ port: 83, protocol: 'TCP', backends: [{ host: '127.108.72.3', port: 8080 }] }]);
  const open: Socket[] = [];
  const closed: Promise<void>[] = [];
  for (let i = 0; i < 2; i++) {
    const c = connect({ host: VIP, port: 83 });
    open.push(c);
    closed.push(new Promise((r) => c.on('close', () => r())));
    c.on('error', () => undefined);
    await new Promise((r) => c.once('data', r)); // piped to the backend
  }
  assert.equal(budget.inUse, 2);
  assert.equal(await exchange(83), 'ECONNRESET', 'a third connection is over budget');
  await l.close();
  await Promise.all(closed);
  assert.equal(budget.inUse, 0);
  assert.equal(await exchange(83), 'ECONNREFUSED');
});
