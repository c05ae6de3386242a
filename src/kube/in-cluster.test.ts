// In-cluster configuration: the environment's address checked with the variable named, and the
// resulting client against a real HTTPS server holding a certificate of the mounted CA — the token
// sent, a rotated token used from the next request on, a foreign CA refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateClusterPki, type ClusterPki } from '../tls/certificates.ts';
import { ClusterClient } from './cluster-client.ts';
import { MeridianError } from './errors.ts';
import { SERVICE_ACCOUNT_DIR, inClusterSource, loadInClusterKubeConfig } from './in-cluster.ts';

const code = (fn: () => unknown): { code: string; message: string } => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof MeridianError, String(e));
    return { code: e.code, message: e.message };
  }
  assert.fail('no error thrown');
};

describe('inClusterSource', () => {
  test('builds the API server address and the mounted files from the pod environment', () => {
    assert.deepEqual(
      inClusterSource({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }),
      {
        server: 'https://10.96.0.1:443',
        caFile: join(SERVICE_ACCOUNT_DIR, 'ca.crt'),
        tokenFile: join(SERVICE_ACCOUNT_DIR, 'token'),
        namespaceFile: join(SERVICE_ACCOUNT_DIR, 'namespace'),
      },
    );
  });

  test('brackets an IPv6 address, stays on TLS for any port, honours the directory override', () => {
    const s = inClusterSource({
      KUBERNETES_SERVICE_HOST: 'fd00::1',
      KUBERNETES_SERVICE_PORT: '8080',
      MERIDIAN_SERVICEACCOUNT_DIR: '/sa',
    });
    assert.equal(s.server, 'https://[fd00::1]:8080');
    assert.equal(s.tokenFile, '/sa/token');
  });

  test('names the variable that is missing or invalid', () => {
    assert.match(code(() => inClusterSource({})).message, /KUBERNETES_SERVICE_HOST is not set/);
    assert.match(
      code(() => inClusterSource({ KUBERNETES_SERVICE_HOST: 'kubernetes' })).message,
      /KUBERNETES_SERVICE_PORT is not set/,
    );
    for (const port of ['https', '0', '70000', '44 3']) {
      const e = code(() => inClusterSource({ KUBERNETES_SERVICE_HOST: 'k', KUBERNETES_SERVICE_PORT: port }));
      assert.equal(e.code, 'InClusterConfigInvalid');
      assert.match(e.message, /KUBERNETES_SERVICE_PORT must be a port number/);
    }
    for (const host of ['https://k', 'k:443', 'a b']) {
      const e = code(() =>
        inClusterSource({ KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: '443' }),
      );
      assert.match(e.message, /KUBERNETES_SERVICE_HOST must be a host name or IP address/);
    }
  });
});

describe('loadInClusterKubeConfig against a real HTTPS server', () => {
  let pki: ClusterPki;
  let server: https.Server;
  let env: NodeJS.ProcessEnv;
  const dir = mkdtempSync(join(tmpdir(), 'meridian-sa-'));
  const seen: (string | undefined)[] = [];

  before(async () => {
    pki = await generateClusterPki('in-cluster', '127.0.0.1');
    server = https.createServer({ cert: pki.serving.cert, key: pki.serving.key }, (req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"kind":"APIVersions","versions":["v1"]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    env = {
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: String((server.address() as AddressInfo).port),
      MERIDIAN_SERVICEACCOUNT_DIR: dir,
    };
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('refuses to start without the mounted CA and token, naming the file', () => {
    const e = code(() => loadInClusterKubeConfig(env));
    assert.equal(e.code, 'InClusterConfigMissing');
    assert.match(e.message, new RegExp(`CA certificate ${join(dir, 'ca.crt')} cannot be read`));
    writeFileSync(join(dir, 'ca.crt'), pki.ca.cert);
    assert.match(
      code(() => loadInClusterKubeConfig(env)).message,
      /ServiceAccount token .*token cannot be read/,
    );
  });

  test('sends the token, and a rotated token from the next request on', async () => {
    writeFileSync(join(dir, 'ca.crt'), pki.ca.cert);
    writeFileSync(join(dir, 'token'), 'first-token\n');
    const client = new ClusterClient('hub', loadInClusterKubeConfig(env));
    try {
      await client.rest.get('/api');
      // The kubelet swaps the projected token in atomically (a rename), as here.
      writeFileSync(join(dir, 'token.new'), 'second-token-is-longer');
      renameSync(join(dir, 'token.new'), join(dir, 'token'));
      await client.rest.get('/api');
      await client.rest.get('/api');
      assert.deepEqual(seen.slice(-3), [
        'Bearer first-token',
        'Bearer second-token-is-longer',
        'Bearer second-token-is-longer',
      ]);
    } finally {
      client.close();
    }
  });

  test('trusts only the mounted CA', async () => {
    const other = await generateClusterPki('other', '127.0.0.1');
    writeFileSync(join(dir, 'ca.crt'), other.ca.cert);
    writeFileSync(join(dir, 'token'), 'token');
    const client = new ClusterClient('hub', loadInClusterKubeConfig(env));
    try {
      await assert.rejects(client.rest.get('/api'), /certificate/i);
    } finally {
      client.close();
    }
  });
});
