import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { ClusterClient, loadKubeConfig } from '../../kube/cluster-client.ts';
import { MeridianError } from '../../kube/errors.ts';
import { KubeApiError } from '../../kube/rest.ts';
import { answered, MAX_WINDOW_MS, memberImports, parseWindow } from './topology-service.ts';

const clientFor = (server: string): ClusterClient =>
  new ClusterClient(
    'm1',
    loadKubeConfig({
      yaml: `apiVersion: v1
kind: Config
clusters: [{ name: m1, cluster: { server: "${server}", insecure-skip-tls-verify: true } }]
users: [{ name: m1, user: { token: t } }]
contexts: [{ name: m1, context: { cluster: m1, user: m1 } }]
current-context: m1
`,
    }),
  );

describe('asking a member for its ServiceImports', () => {
  // Accepts connections and never answers: the kernel completes the handshake, as it does for a
  // frozen API server.
  let silent: Server;
  const held: Socket[] = [];
  let port = 0;

  before(async () => {
    silent = createServer((s) => held.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    port = (silent.address() as { port: number }).port;
  });

  after(async () => {
    for (const s of held) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  test('gives up after its own timeout even while discovery (10 s) is not answered', async () => {
    const client = clientFor(`https://127.0.0.1:${port}`);
    const started = Date.now();
    const err = await memberImports(client, 300).catch((e: unknown) => e);
    const took = Date.now() - started;
    client.close();
    assert.ok(err instanceof KubeApiError, String(err));
    assert.match(err.message, /no answer within 300 ms/);
    assert.equal(answered(err), false, 'a member that says nothing is unreachable');
    assert.ok(took < 2_000, `took ${took} ms`);
  });

  test('a refused connection is not an answer', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const freePort = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const client = clientFor(`https://127.0.0.1:${freePort}`);
    const err = await memberImports(client, 2_000).catch((e: unknown) => e);
    client.close();
    assert.ok(err instanceof KubeApiError, String(err));
    assert.equal(answered(err), false);
  });
});

test('a member that answers with an error is reachable; one that does not answer is not', () => {
  assert.equal(answered(new KubeApiError(403, 'Forbidden', 'serviceimports is forbidden')), true);
  assert.equal(answered(new KubeApiError(503, 'ServiceUnavailable', 'etcd is down')), true);
  assert.equal(
    answered(new MeridianError('UnknownKind', 'cluster m1: kind ServiceImport is not served')),
    true,
    'discovery answered: the MCS CRDs are not installed yet',
  );
  assert.equal(answered(new KubeApiError(0, 'Timeout', 'no answer within 3000 ms')), false);
  assert.equal(answered(new KubeApiError(0, 'TransportError', 'connect ECONNREFUSED')), false);
  assert.equal(answered(new Error('spec.kubeconfigSecretRef: secret x/y does not exist')), false);
});

test('the topology window reads durations and bounds them', () => {
  assert.equal(parseWindow('5m'), 300_000);
  assert.equal(parseWindow('366d'), MAX_WINDOW_MS);
  assert.ok(parseWindow('367d')! > MAX_WINDOW_MS);
  // More digits than any window has: not a duration (Number() would round it).
  assert.equal(parseWindow('9999999999999999d'), undefined);
  assert.equal(parseWindow('-5m'), undefined);
});
