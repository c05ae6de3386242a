// The preload in real child processes: a program reaches a Service by every name a pod could use,
// over a real DNS server and a real listener on loopback; outside local mode other names stay the
// system's (only names /etc/hosts knows are looked up then), in local mode they are not found and
// never reach the system resolver (a stand-in for it records what it is asked: the tests send no
// query off loopback, even when the code under test is broken).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterDnsEnv } from './cluster-dns-env.ts';
import { dnsRecords } from './cluster-dns-answer.ts';
import { ClusterDnsServer } from './cluster-dns-server.ts';

const SERVICE = '127.108.70.1';
const OTHER = '127.108.70.2';
const DNS = { host: '127.108.70.253', port: 5353 };
let http: Server;
let dns: ClusterDnsServer;
let dir: string;
/** Loaded before the preload: the "system" lookup it keeps, recording each name it is asked. */
let fakeSystem: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cluster-dns-preload-'));
  fakeSystem = join(dir, 'fake-system-resolver.mjs');
  writeFileSync(
    fakeSystem,
    `import dns from 'node:dns';
import { isIP } from 'node:net';
import { syncBuiltinESMExports } from 'node:module';
globalThis.systemAsked = [];
// resolve*() that still reach the default servers get a dead loopback port, not the machine's.
dns.setServers(['127.0.0.1:9']);
dns.lookup = (host, options, cb) => {
  if (typeof options === 'function') cb = options;
  globalThis.systemAsked.push(host);
  const address = isIP(host) ? host : host === 'localhost' ? '127.0.0.1' : undefined;
  if (address) process.nextTick(cb, null, address, isIP(address));
  else process.nextTick(cb, Object.assign(new Error('asked the system'), { code: 'ESYSTEM' }));
  return {};
};
syncBuiltinESMExports();
`,
  );
  http = createServer((req, res) => res.end(`app2 saw ${req.headers.host}`));
  await new Promise<void>((r) => http.listen(8080, SERVICE, r));
  const records = dnsRecords(
    new Map([
      ['app2.shop', [SERVICE]],
      ['app2.other', [OTHER]],
    ]),
    [{ metadata: { name: 'app2', namespace: 'shop' }, spec: { type: 'ClusterSetIP' } }],
    [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'app2', namespace: 'shop' } }],
  );
  dns = new ClusterDnsServer(DNS.host, DNS.port, () => records);
  await dns.start();
});

after(async () => {
  await dns.stop();
  await new Promise((r) => http.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs `code` (an ES module) in a child node with the pod's DNS environment (outside local mode
 * unless `env` says otherwise); its stdout.
 */
function run(
  code: string,
  namespace = 'shop',
  env: Record<string, string> = {},
  nodeOptions = '',
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', code],
      {
        env: {
          ...process.env,
          MERIDIAN_LOOPBACK_ONLY: '0',
          ...env,
          ...clusterDnsEnv(DNS, namespace, nodeOptions),
        },
        timeout: 20_000,
      },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim()),
    );
  });
}

test('http.get, fetch and net.connect reach the Service by its short, namespaced and full names', async () => {
  const out = await run(`
    import http from 'node:http';
    import net from 'node:net';
    const get = (url) => new Promise((ok, fail) => http.get(url, (res) => {
      let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => ok(b));
    }).on('error', fail));
    const lines = [];
    for (const h of ['app2', 'app2.shop', 'app2.shop.svc', 'app2.shop.svc.cluster.local', 'app2.shop.svc.clusterset.local'])
      lines.push(await get('http://' + h + ':8080/'));
    lines.push(await (await fetch('http://app2:8080/')).text());
    lines.push(await new Promise((ok, fail) => {
      const s = net.connect({ host: 'app2.shop', port: 8080 }, () => ok(s.remoteAddress));
      s.on('error', fail);
    }).finally(() => undefined));
    console.log(JSON.stringify(lines));
    process.exit(0);
  `);
  assert.deepEqual(JSON.parse(out), [
    'app2 saw app2:8080',
    'app2 saw app2.shop:8080',
    'app2 saw app2.shop.svc:8080',
    'app2 saw app2.shop.svc.cluster.local:8080',
    'app2 saw app2.shop.svc.clusterset.local:8080',
    'app2 saw app2:8080',
    SERVICE,
  ]);
});

test('lookups: the search path follows the pod namespace, other names stay the system resolver', async () => {
  const out = await run(
    `
    import dns from 'node:dns';
    import { lookup } from 'node:dns/promises';
    const r = {};
    const attempt = async (k, f) => { try { r[k] = await f(); } catch (e) { r[k] = e.code; } };
    await attempt('short', () => lookup('app2'));
    await attempt('namespaced', () => lookup('app2.shop', { all: true }));
    await attempt('host', async () => (await lookup(${JSON.stringify(hostname())})).address);
    await attempt('unknown', () => lookup('nope.shop.svc.cluster.local'));
    await attempt('localhost', async () => (await lookup('localhost', { family: 4 })).address);
    await attempt('callback', () => new Promise((ok, fail) => dns.lookup('app2.shop.svc', (e, a, f) => (e ? fail(e) : ok([a, f])))));
    console.log(JSON.stringify(r));
  `,
    'other',
  );
  assert.deepEqual(JSON.parse(out), {
    short: { address: OTHER, family: 4 },
    namespaced: [{ address: SERVICE, family: 4 }],
    host: '127.0.0.1',
    unknown: 'ENOTFOUND', // answered by the cluster DNS alone, never by the system resolver
    localhost: '127.0.0.1',
    callback: [SERVICE, 4],
  });
});

test('local mode: only cluster names, localhost, loopback literals and the pod hostname resolve; nothing reaches the system resolver', async () => {
  const out = await run(
    `
    import dns from 'node:dns';
    import { lookup, resolve4 } from 'node:dns/promises';
    const r = {};
    const attempt = async (k, f) => { try { r[k] = await f(); } catch (e) { r[k] = e.code; } };
    await attempt('short', () => lookup('app2'));
    await attempt('full', () => lookup('app2.shop.svc.cluster.local', { all: true }));
    await attempt('machine', () => lookup(${JSON.stringify(hostname())}));
    await attempt('public', () => lookup('www.example.com'));
    await attempt('twoLabels', () => lookup('example.com'));
    await attempt('shortUnknown', () => lookup('nope'));
    await attempt('ipv6', () => lookup('app2', { family: 6 }));
    await attempt('literal', () => lookup('10.1.2.3'));
    await attempt('loopback', async () => (await lookup('127.0.0.5')).address);
    await attempt('localhost', async () => (await lookup('localhost')).address);
    await attempt('self', () => lookup('pod-a'));
    await attempt('callback', () => new Promise((ok, fail) => dns.lookup('www.example.com', (e, a) => (e ? fail(e) : ok(a)))));
    await attempt('resolveCluster', () => resolve4('app2.shop.svc.cluster.local'));
    await attempt('resolveOther', () => resolve4('www.example.com'));
    r.systemAsked = globalThis.systemAsked;
    console.log(JSON.stringify(r));
  `,
    'other',
    { MERIDIAN_LOOPBACK_ONLY: '1', HOSTNAME: 'pod-a', MERIDIAN_POD_ADDRESS: '127.108.70.9' },
    `--import ${JSON.stringify(fakeSystem)}`,
  );
  assert.deepEqual(JSON.parse(out), {
    short: { address: OTHER, family: 4 },
    full: [{ address: SERVICE, family: 4 }],
    machine: 'ENOTFOUND',
    public: 'ENOTFOUND',
    twoLabels: 'ENOTFOUND',
    shortUnknown: 'ENOTFOUND',
    ipv6: 'ENOTFOUND',
    literal: 'ENOTFOUND',
    loopback: '127.0.0.5',
    localhost: '127.0.0.1',
    self: { address: '127.108.70.9', family: 4 },
    callback: 'ENOTFOUND',
    resolveCluster: [SERVICE],
    resolveOther: 'EREFUSED', // the cluster DNS refuses names outside its zones
    systemAsked: ['127.0.0.5', 'localhost'],
  });
});
