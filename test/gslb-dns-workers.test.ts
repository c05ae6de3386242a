// The GSLB DNS in worker processes (`meridian hub --dns-workers N`): two workers share one port,
// answer what the hub's table says (checked with `dig` and a raw UDP client that floods enough
// queries for both workers to take a share), follow a health change at once, are counted in the
// hub's metrics, are restarted after a crash or when stuck, and die with the hub.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { decode, encode } from 'dns-packet';
import { Registry } from 'prom-client';
import { createLogger } from '../src/logging/logger.ts';
import { GslbDnsWorkers } from '../src/traffic/dns/dns-workers.ts';
import { parseGeoTable } from '../src/traffic/routing/geo-table.ts';
import { defaultZoneConfig } from '../src/traffic/dns/gslb-answer.ts';
import * as workers from './support/workers.ts';
import {
  StaticRoutingTable,
  SwappableRoutingTable,
  type ClusterTarget,
  type HostRoute,
} from '../src/traffic/routing/routing.ts';

import { clusterTarget, publishedRoute } from '../src/traffic/routing/routing-fixtures.ts';

const hasDig = spawnSync('dig', ['-v']).status === 0;
const ZONE = 'meridian.test';

const cluster = clusterTarget;
const EU = cluster('eu-west', ['192.0.2.1', '2001:db8::1']);
const US = cluster('us-east', ['192.0.2.2']);
const AP = cluster('ap-south', ['192.0.2.3']);
const route = (host: string, strategy: HostRoute['strategy'], clusters = [EU, US, AP]): HostRoute =>
  publishedRoute(host, ZONE, strategy, clusters, 42);
const BIG = Array.from({ length: 60 }, (_, i) => cluster(`c${i}`, [`198.51.100.${i + 1}`]));
const routes = (us: ClusterTarget = US): HostRoute[] => [
  route('failover', { type: 'Failover', order: ['us-east', 'eu-west'] }, [EU, us, AP]),
  route('rr', { type: 'RoundRobin' }),
  route('geo', { type: 'Geo' }),
  route('big', { type: 'RoundRobin' }, BIG),
];
const GEO = parseGeoTable('networks:\n  - { cidr: 10.1.0.0/16, region: ap-south }\n');

describe('GSLB DNS in two worker processes', { skip: hasDig ? false : 'dig is not installed' }, () => {
  const table = new SwappableRoutingTable();
  const registry = new Registry();
  let dns: GslbDnsWorkers;
  let port = 0;
  let answered = 0;

  const dig = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) =>
      execFile(
        'dig',
        ['@127.0.0.1', '-p', String(port), '+norecurse', '+time=2', '+tries=1', ...args],
        { timeout: 15_000 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      ),
    );
  const synced = (): Promise<void> => workers.syncedWithin5s(dns);

  /**
   * Sends `n` A queries for `host` over UDP, keeping 50 in flight (and sending again any unanswered
   * for 500 ms, as a resolver would); returns the first address of each answer.
   */
  async function flood(host: string, n: number): Promise<string[]> {
    const s = createSocket('udp4');
    const answers = new Map<number, string>();
    const sentAt = new Map<number, number>();
    let next = 0;
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
    const send = (id: number): void => {
      sentAt.set(id, Date.now());
      s.send(
        encode({ id, type: 'query', questions: [{ type: 'A', name: `${host}.${ZONE}` }] }),
        port,
        '127.0.0.1',
      );
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + 20_000;
        timer = setInterval(() => {
          if (Date.now() > deadline) reject(new Error(`${answers.size}/${n} answers`));
          for (const [id, t] of sentAt) if (Date.now() - t > 500) send(id);
        }, 100);
        s.on('message', (msg) => {
          const p = decode(msg);
          if (!sentAt.delete(p.id!)) return;
          const a = p.answers?.[0];
          answers.set(p.id!, a && a.type === 'A' ? a.data : '');
          if (answers.size === n) resolve();
          else if (next < n) send(next++);
        });
        while (next < Math.min(n, 50)) send(next++);
      });
    } finally {
      clearInterval(timer);
      s.close();
    }
    answered += n;
    return [...answers.values()];
  }

  before(async () => {
    table.set(new StaticRoutingTable(routes()));
    dns = new GslbDnsWorkers({
      host: '127.0.0.1',
      port: 0,
      workers: 2,
      table,
      zone: defaultZoneConfig([ZONE], { nameserverAddresses: ['127.0.0.1'] }),
      geo: () => GEO,
      registry,
      logger: createLogger('gslb-dns-workers-test', process.stderr),
      restartDelayMs: 100,
      heartbeatIntervalMs: 200,
      heartbeatTimeoutMs: 2_000,
    });
    const address = await dns.start();
    port = address.udpPort;
    assert.equal(dns.pids().length, 2);
  });
  after(() => dns.stop());

  test('both workers answer from one port what the table says, over UDP and TCP', async () => {
    assert.equal((await dig('+short', `failover.${ZONE}`, 'A')).trim(), '192.0.2.2');
    assert.equal((await dig('+short', '+tcp', `failover.${ZONE}`, 'A')).trim(), '192.0.2.2');
    assert.equal((await dig('+short', `geo.${ZONE}`, 'A', '+subnet=10.1.2.0/24')).trim(), '192.0.2.3');
    assert.match(await dig(`missing.${ZONE}`, 'A'), /status: NXDOMAIN/);
    assert.match(
      await dig(`failover.${ZONE}`, 'A'),
      /failover\.meridian\.test\.\s+42\s+IN\s+A\s+192\.0\.2\.2/,
    );
    // 60 addresses do not fit in 512 bytes: TC over UDP, then dig retries over TCP.
    const big = await dig('+ignore', '+noedns', `big.${ZONE}`, 'A');
    assert.match(big, /flags: qr aa tc/);
    const viaTcp = await dig('+noedns', `big.${ZONE}`, 'A');
    assert.equal((viaTcp.match(/\s42\s+IN\s+A\s/g) ?? []).length, 60, viaTcp);

    const answers = await flood('failover', 2000);
    assert.deepEqual(new Set(answers), new Set(['192.0.2.2']));
    await workers.assertEveryWorkerServed(dns);
  });

  test('a health change reaches every worker well within a health interval', async (t) => {
    await workers.assertChangeReachesEveryWorker(
      t,
      dns,
      () => table.set(new StaticRoutingTable(routes({ ...US, healthy: false }))),
      // And by answers, as a resolver sees it.
      async () => assert.deepEqual(new Set(await flood('failover', 2000)), new Set(['192.0.2.1'])),
      () => table.set(new StaticRoutingTable(routes())),
    );
    assert.deepEqual(new Set(await flood('failover', 200)), new Set(['192.0.2.2']));
  });

  test("the hub's metrics count every query the workers answered", async () => {
    const text = await registry.metrics();
    const udp =
      /meridian_gslb_dns_queries_total\{zone="meridian\.test",rcode="NOERROR",transport="udp"\} (\d+)/.exec(
        text,
      );
    // The flood, plus dig's own UDP queries (the NXDOMAIN is counted apart).
    assert.ok(
      udp && Number(udp[1]) >= answered,
      `${udp?.[0]} counts at least the ${answered} flooded queries\n${text}`,
    );
    assert.match(
      text,
      /meridian_gslb_dns_queries_total\{zone="meridian\.test",rcode="NOERROR",transport="tcp"\} [1-9]/,
    );
    assert.match(
      text,
      /meridian_gslb_dns_queries_total\{zone="meridian\.test",rcode="NXDOMAIN",transport="udp"\} 1/,
    );
    const count = /meridian_gslb_dns_answer_duration_seconds_count (\d+)/.exec(text);
    assert.ok(count && Number(count[1]) >= answered, count?.[0]);
  });

  test('a crashed worker is restarted, answers from the current table, and its counts are kept', async () => {
    const before = Number(
      /meridian_gslb_dns_queries_total\{zone="meridian\.test",rcode="NOERROR",transport="udp"\} (\d+)/.exec(
        await registry.metrics(),
      )?.[1],
    );
    const [victim, survivor] = dns.pids();
    process.kill(victim!, 'SIGKILL');
    const pids = await workers.replacementOf(dns, victim!);
    assert.ok(pids.includes(survivor!));
    table.set(new StaticRoutingTable(routes({ ...US, drained: true })));
    await synced();
    try {
      assert.deepEqual(new Set(await flood('failover', 2000)), new Set(['192.0.2.1']));
      await workers.assertEveryWorkerServed(dns);
    } finally {
      table.set(new StaticRoutingTable(routes()));
      await synced();
    }
    const afterKill = Number(
      /meridian_gslb_dns_queries_total\{zone="meridian\.test",rcode="NOERROR",transport="udp"\} (\d+)/.exec(
        await registry.metrics(),
      )?.[1],
    );
    assert.ok(afterKill >= before + 2000, `counter went from ${before} to ${afterKill}: it never goes back`);
  });

  test('a worker whose event loop is stuck is killed, replaced, and the new one answers', async () => {
    const [stuck, other] = dns.pids();
    dns.block(0, 60_000);
    const pids = await workers.replacementOf(dns, stuck!);
    assert.ok(pids.includes(other!));
    assert.ok(!workers.alive(stuck!), 'the stuck worker was killed');
    assert.deepEqual(new Set(await flood('failover', 2000)), new Set(['192.0.2.2']));
    await workers.assertEveryWorkerServed(dns);
  });
});

test('DNS workers exit when the hub process dies', async () => {
  // A stand-in hub: starts two workers, prints their PIDs, then is killed without any cleanup.
  const script = `
    import { GslbDnsWorkers } from './src/traffic/dns/dns-workers.ts';
    import { defaultZoneConfig } from './src/traffic/dns/gslb-answer.ts';
    import { SwappableRoutingTable } from './src/traffic/routing/routing.ts';
    const dns = new GslbDnsWorkers({ host: '127.0.0.1', port: 0, workers: 2, table: new SwappableRoutingTable(),
      zone: defaultZoneConfig(['${ZONE}']) });
    await dns.start();
    console.log(JSON.stringify(dns.pids()));
  `;
  await workers.assertWorkersDieWithHub(script);
});
