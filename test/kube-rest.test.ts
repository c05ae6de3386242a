// The REST transport against a real loopback HTTPS server (the local fleet's certificates): plain
// requests share keep-alive connections, and a pooled connection the server has closed is
// replaced without the caller seeing an error. An informer of a cluster that refuses settles at
// once instead of waiting for its retries. A server that accepts and never answers costs one
// timeout, not one per connection phase, and an aborted call sends nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { generateClusterPki, type ClusterPki } from '../src/tls/certificates.ts';
import { renderKubeconfig } from '../src/localfleet/kubeconfig.ts';
import { ClusterClient, loadKubeConfig, type KubeObject } from '../src/kube/cluster-client.ts';
import { Informer } from '../src/kube/informer.ts';

const ADDRESS = '127.0.0.1';
let pki: ClusterPki;
let server: https.Server;
let port: number;
const sockets = new Set<Socket>();
let connections = 0;
let requests = 0;

function client(serverPort = port): ClusterClient {
  const yaml = renderKubeconfig([
    {
      name: 'rest',
      server: `https://${ADDRESS}:${serverPort}`,
      caPem: pki.ca.cert,
      certPem: pki.admin.cert,
      keyPem: pki.admin.key,
    },
  ]);
  return new ClusterClient('rest', loadKubeConfig({ yaml }));
}

describe('REST transport', () => {
  before(async () => {
    pki = await generateClusterPki('rest', ADDRESS);
    server = https.createServer(
      { cert: pki.serving.cert, key: pki.serving.key, keepAliveTimeout: 60_000 },
      (req, res) => {
        requests++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ path: req.url }));
      },
    );
    server.on('secureConnection', (s: Socket) => {
      connections++;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, ADDRESS, r));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('sequential requests reuse one TLS connection', async () => {
    const c = client();
    const before = connections;
    for (let i = 0; i < 5; i++) {
      const r = await c.rest.get<{ path: string }>(`/api/v1/namespaces/n${i}`);
      assert.equal(r.path, `/api/v1/namespaces/n${i}`);
    }
    assert.equal(connections - before, 1, 'one handshake for five calls');
    c.close();
  });

  test('a pooled connection the server closed is replaced without an error', async () => {
    const c = client();
    await c.rest.get('/version');
    const before = connections;
    const served = requests;
    // The server drops every idle connection, as a restarted API server would.
    // No wait: the client has not yet seen the close when it reuses the socket.
    for (const s of sockets) s.destroy();
    const r = await c.rest.get<{ path: string }>('/version');
    assert.equal(r.path, '/version');
    assert.equal(connections - before, 1, 'a fresh connection');
    assert.equal(requests - served, 1, 'the request reached the server once');
    c.close();
  });

  test('an informer of a cluster that refuses settles at its first failed list', async () => {
    // A port nobody listens on: what a member whose API server is down looks like.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, ADDRESS, r));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const c = client(closedPort);
    const inf = new Informer<KubeObject>(c, 'apps/v1', 'Deployment', { minBackoffMs: 60_000 }).start();
    try {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        inf.settled().then(() => 'settled'),
        new Promise<string>((r) => (timer = setTimeout(() => r('still waiting'), 5_000))),
      ]);
      clearTimeout(timer);
      assert.equal(outcome, 'settled');
      assert.ok(Date.now() - started < 5_000);
      assert.equal(inf.synced, false, 'nothing was listed');
      assert.equal(inf.failures, 1);
    } finally {
      await inf.stop();
      c.close();
    }
  });

  test('a server that accepts and never answers costs the timeout once; an aborted call sends nothing', async () => {
    // What a frozen (SIGSTOPped) API server looks like: the kernel accepts, nothing ever answers.
    let accepted = 0;
    const held = new Set<Socket>();
    const silent = createServer((s) => {
      accepted++;
      held.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, ADDRESS, r));
    const c = client((silent.address() as AddressInfo).port);
    try {
      const started = Date.now();
      await assert.rejects(c.rest.get('/version', { timeoutMs: 500 }), { reason: 'Timeout' });
      const took = Date.now() - started;
      // Node's idle timer alone, re-armed after the TCP connect, took ~1,000 ms here.
      assert.ok(took < 850, `took ${took} ms for a 500 ms timeout`);
      const before = accepted;
      await assert.rejects(c.rest.get('/version', { signal: AbortSignal.abort() }), { reason: 'Aborted' });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(accepted, before, 'no connection for an aborted call');
    } finally {
      c.close();
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});
