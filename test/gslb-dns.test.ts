// The GSLB DNS against a real resolver client: `dig` (BIND 9) queries GslbDnsServer on loopback over
// UDP and TCP for every balancing strategy, Geo by EDNS Client Subnet and by resolver address, TTLs,
// negative answers, the zone apex, EDNS, and the TC → TCP fallback for answers too big for UDP.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { decode, encode } from 'dns-packet';
import { Registry } from 'prom-client';
import { createLogger } from '../src/logging/logger.ts';
import { GslbDnsServer } from '../src/traffic/dns/dns-server.ts';
import { parseGeoTable } from '../src/traffic/routing/geo-table.ts';
import { defaultZoneConfig } from '../src/traffic/dns/gslb-answer.ts';
import { StaticRoutingTable, SwappableRoutingTable, type HostRoute } from '../src/traffic/routing/routing.ts';

import { clusterTarget, publishedRoute } from '../src/traffic/routing/routing-fixtures.ts';

const hasDig = spawnSync('dig', ['-v']).status === 0;
const ZONE = 'meridian.test';
const TTL = 42;

const cluster = clusterTarget;
const EU = cluster('eu-west', ['192.0.2.1', '2001:db8::1']);
const US = cluster('us-east', ['192.0.2.2']);
const AP = cluster('ap-south', ['192.0.2.3']);
const route = (host: string, strategy: HostRoute['strategy'], clusters = [EU, US, AP]): HostRoute =>
  publishedRoute(host, ZONE, strategy, clusters, TTL);
const BIG = Array.from({ length: 60 }, (_, i) => cluster(`c${i}`, [`198.51.100.${i + 1}`]));
const ROUTES = [
  route('failover', { type: 'Failover', order: ['us-east', 'eu-west'] }),
  route('rr', { type: 'RoundRobin' }),
  route('weighted', { type: 'Weighted', weights: { 'eu-west': 3, 'us-east': 1 } }),
  route('geo', { type: 'Geo' }),
  route('big', { type: 'RoundRobin' }, BIG),
  route('shop.eu', { type: 'Failover', order: ['eu-west'] }),
];
// 127.0.0.2 is a loopback address dig can send from (-b): a resolver in eu-west.
const GEO = parseGeoTable(`
networks:
  - { cidr: 10.1.0.0/16, region: ap-south }
  - { cidr: 127.0.0.2/32, region: eu-west }
  - { cidr: 127.0.0.0/8, region: us-east }
`);

interface Dig {
  readonly status: string;
  readonly flags: readonly string[];
  readonly answer: readonly string[][];
  readonly authority: readonly string[][];
  readonly additional: readonly string[][];
  readonly edns?: string;
  readonly clientSubnet?: string;
  readonly transport?: string;
  readonly raw: string;
}

/** Parses dig's default output for one query: header, flags, OPT pseudo-section and sections. */
function parseDig(raw: string): Dig {
  const status = /status: (\w+)/.exec(raw)?.[1] ?? '';
  const flags = (/;; flags: ([^;]*);/.exec(raw)?.[1] ?? '').trim().split(/\s+/);
  const section = (name: string): string[][] => {
    const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(raw);
    return m ? m[1]!.split('\n').map((l) => l.trim().split(/\s+/)) : [];
  };
  return {
    status,
    flags,
    answer: section('ANSWER'),
    authority: section('AUTHORITY'),
    additional: section('ADDITIONAL'),
    edns: /; EDNS: (.*)/.exec(raw)?.[1],
    clientSubnet: /; CLIENT-SUBNET: (\S+)/.exec(raw)?.[1],
    transport: /;; SERVER: .*\((UDP|TCP)\)/.exec(raw)?.[1],
    raw,
  };
}

let port = 0;
function runDig(args: readonly string[], server = `127.0.0.1#${port}`): Promise<string> {
  const [host, p] = server.split('#');
  // Asynchronous: the server answers from this same process.
  return new Promise((resolve, reject) => {
    execFile(
      'dig',
      [`@${host}`, '-p', p!, '+norecurse', '+time=2', '+tries=1', ...args],
      { timeout: 15_000 },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`dig ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`))
          : resolve(stdout),
    );
  });
}
const dig = async (...args: string[]): Promise<Dig> => parseDig(await runDig(args));
const addresses = (d: Dig): string[] => d.answer.map((r) => r[4]!);
const name = (host: string): string => `${host}.${ZONE}`;

describe(
  'GSLB DNS served to dig',
  { skip: hasDig ? false : 'dig is not installed (Debian: dnsutils)' },
  () => {
    const table = new SwappableRoutingTable();
    const registry = new Registry();
    let server: GslbDnsServer;

    before(async () => {
      table.set(new StaticRoutingTable(ROUTES));
      server = new GslbDnsServer({
        host: '127.0.0.1',
        port: 0,
        table,
        zone: defaultZoneConfig([ZONE], { nameserverAddresses: ['127.0.0.1'] }),
        geo: () => GEO,
        registry,
        logger: createLogger('gslb-dns-test', process.stderr),
      });
      const address = await server.start();
      assert.equal(address.udpPort, address.tcpPort);
      port = address.udpPort;
    });
    after(() => server.stop());

    test('Failover answers the first cluster in order with the spec TTL, then the next when it is unhealthy', async () => {
      const d = await dig(name('failover'), 'A');
      assert.equal(d.status, 'NOERROR');
      assert.ok(d.flags.includes('aa'), d.raw);
      assert.deepEqual(d.answer, [[`${name('failover')}.`, String(TTL), 'IN', 'A', '192.0.2.2']]);
      table.set(
        new StaticRoutingTable([
          route('failover', { type: 'Failover', order: ['us-east', 'eu-west'] }, [
            EU,
            { ...US, healthy: false },
            AP,
          ]),
        ]),
      );
      try {
        assert.deepEqual(addresses(await dig(name('failover'), 'A')), ['192.0.2.1']);
      } finally {
        table.set(new StaticRoutingTable(ROUTES));
      }
      assert.deepEqual(addresses(await dig(name('failover'), 'A')), ['192.0.2.2']);
    });

    test('RoundRobin answers every cluster, rotated by one per query', async () => {
      const seen = [];
      for (let i = 0; i < 3; i++) seen.push(addresses(await dig(name('rr'), 'A')));
      for (const s of seen) assert.deepEqual([...s].sort(), ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
      assert.deepEqual(new Set(seen.map((s) => s[0])), new Set(['192.0.2.1', '192.0.2.2', '192.0.2.3']));
      assert.deepEqual(seen[1], [...seen[0]!.slice(1), seen[0]![0]]);
    });

    test('Weighted 3:1 answers eu-west three times in four', async () => {
      // One dig process, 40 queries.
      const out = await runDig([
        '+short',
        ...Array.from({ length: 40 }, () => [name('weighted'), 'A']).flat(),
      ]);
      const picks = out.trim().split('\n');
      assert.equal(picks.length, 40, out);
      assert.equal(picks.filter((a) => a === '192.0.2.1').length, 30);
      assert.equal(picks.filter((a) => a === '192.0.2.2').length, 10);
    });

    test('Geo follows the EDNS Client Subnet and echoes it with the scope it used', async () => {
      const d = await dig(name('geo'), 'A', '+subnet=10.1.2.0/24');
      assert.deepEqual(addresses(d), ['192.0.2.3']);
      assert.equal(d.clientSubnet, '10.1.2.0/24/24');
      const other = await dig(name('failover'), 'A', '+subnet=10.1.2.0/24');
      assert.equal(other.clientSubnet, '10.1.2.0/24/0', 'a non-Geo answer is valid for every subnet');
    });

    test('Geo without ECS follows the resolver address', async () => {
      assert.deepEqual(addresses(await dig(name('geo'), 'A', '-b', '127.0.0.2')), ['192.0.2.1']);
      assert.deepEqual(addresses(await dig(name('geo'), 'A', '-b', '127.0.0.3')), ['192.0.2.2']);
    });

    test('AAAA answers IPv6 addresses; a host without one is NODATA with the SOA', async () => {
      const v6 = await dig(name('shop.eu'), 'AAAA');
      assert.deepEqual(v6.answer, [[`${name('shop.eu')}.`, String(TTL), 'IN', 'AAAA', '2001:db8::1']]);
      const nodata = await dig(name('failover'), 'AAAA');
      assert.equal(nodata.status, 'NOERROR');
      assert.deepEqual(nodata.answer, []);
      assert.equal(nodata.authority[0]?.[3], 'SOA');
      const mx = await dig(name('rr'), 'MX');
      assert.equal(mx.status, 'NOERROR');
      assert.deepEqual(mx.answer, []);
    });

    test('an unknown name is NXDOMAIN with the SOA (negative TTL); an empty non-terminal is NODATA', async () => {
      const d = await dig(name('nope'), 'A');
      assert.equal(d.status, 'NXDOMAIN');
      assert.ok(d.flags.includes('aa'));
      assert.deepEqual(d.authority[0]?.slice(0, 4), [`${ZONE}.`, '30', 'IN', 'SOA']);
      const ent = await dig(name('eu'), 'A');
      assert.equal(ent.status, 'NOERROR');
      assert.deepEqual(ent.answer, []);
    });

    test('names outside the zone are REFUSED, not answered authoritatively', async () => {
      const d = await dig('www.example.org', 'A');
      assert.equal(d.status, 'REFUSED');
      assert.ok(!d.flags.includes('aa'), d.raw);
    });

    test('the apex has SOA and NS, with the name server glue', async () => {
      const soa = await dig(ZONE, 'SOA');
      assert.deepEqual(soa.answer[0]?.slice(0, 6), [
        `${ZONE}.`,
        '3600',
        'IN',
        'SOA',
        `ns1.${ZONE}.`,
        `hostmaster.${ZONE}.`,
      ]);
      const ns = await dig(ZONE, 'NS');
      assert.deepEqual(ns.answer, [[`${ZONE}.`, '3600', 'IN', 'NS', `ns1.${ZONE}.`]]);
      assert.deepEqual(ns.additional, [[`ns1.${ZONE}.`, '3600', 'IN', 'A', '127.0.0.1']]);
    });

    test('EDNS is answered with a 1232-byte buffer, and not at all when the query has none', async () => {
      assert.equal((await dig(name('rr'), 'A', '+bufsize=4096')).edns, 'version: 0, flags:; udp: 1232');
      assert.equal((await dig(name('rr'), 'A', '+noedns')).edns, undefined);
      const badvers = await dig(name('rr'), 'A', '+edns=1', '+noednsneg');
      assert.equal(badvers.status, 'BADVERS');
    });

    test('the question is echoed in the case it was asked', async () => {
      const d = await dig('FaIlOvEr.MeRiDiAn.TeSt', 'A');
      assert.match(d.raw, /;FaIlOvEr\.MeRiDiAn\.TeSt\.\s+IN\s+A/);
      assert.deepEqual(addresses(d), ['192.0.2.2']);
    });

    test('an answer too big for UDP comes back truncated, and dig gets all of it over TCP', async () => {
      const udp = await dig(name('big'), 'A', '+ignore');
      assert.ok(udp.flags.includes('tc'), udp.raw);
      assert.deepEqual(udp.answer, []);
      assert.equal(udp.transport, 'UDP');
      const retried = await dig(name('big'), 'A');
      assert.match(retried.raw, /Truncated, retrying in TCP mode/);
      assert.equal(retried.transport, 'TCP');
      assert.equal(retried.answer.length, 60);
      assert.ok(!retried.flags.includes('tc'));
    });

    test('+tcp queries are answered over TCP, several on one connection', async () => {
      const d = await dig('+tcp', name('failover'), 'A');
      assert.equal(d.transport, 'TCP');
      assert.deepEqual(addresses(d), ['192.0.2.2']);
      const out = await runDig([
        '+tcp',
        '+keepopen',
        '+short',
        name('failover'),
        'A',
        name('shop.eu'),
        'A',
        name('geo'),
        'A',
      ]);
      assert.deepEqual(out.trim().split('\n'), ['192.0.2.2', '192.0.2.1', '192.0.2.2']);
    });

    test('pipelined TCP queries in one write get one framed answer each', async () => {
      const frame = (id: number, host: string): Buffer => {
        const m = Buffer.from(encode({ id, type: 'query', questions: [{ name: name(host), type: 'A' }] }));
        return Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]);
      };
      const answers = await new Promise<Map<number, string>>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        const got = new Map<number, string>();
        let buf = Buffer.alloc(0);
        const deadline = setTimeout(() => {
          socket.destroy();
          reject(new Error(`3 answers expected within 5 s, got ${JSON.stringify([...got])}`));
        }, 5_000);
        socket.on('error', reject);
        socket.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
            const p = decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
            got.set(p.id!, String((p.answers?.[0] as { data?: unknown } | undefined)?.data));
            buf = buf.subarray(2 + buf.readUInt16BE(0));
          }
          if (got.size === 3) {
            clearTimeout(deadline);
            socket.end();
            resolve(got);
          }
        });
        socket.write(Buffer.concat([frame(1, 'failover'), frame(2, 'shop.eu'), frame(3, 'nope')]));
      });
      assert.deepEqual([...answers.entries()].sort(), [
        [1, '192.0.2.2'],
        [2, '192.0.2.1'],
        [3, 'undefined'],
      ]);
    });

    test('a malformed UDP packet gets FORMERR and the server keeps answering', async () => {
      const reply = await new Promise<Buffer>((resolve, reject) => {
        const s = createSocket('udp4');
        const deadline = setTimeout(() => {
          s.close();
          reject(new Error('no reply to a malformed packet within 5 s'));
        }, 5_000);
        s.on('error', reject);
        s.on('message', (m) => {
          clearTimeout(deadline);
          s.close();
          resolve(m);
        });
        s.send(Buffer.from([0xab, 0xcd, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x3f, 1, 2]), port, '127.0.0.1');
      });
      assert.equal(reply.readUInt16BE(0), 0xabcd);
      assert.equal(reply.readUInt16BE(2) & 0x8000, 0x8000, 'a response');
      assert.equal(reply.readUInt16BE(2) & 0xf, 1, 'FORMERR');
      assert.equal((await dig(name('failover'), 'A')).status, 'NOERROR');
    });

    test('queries are counted by zone, rcode and transport', async () => {
      const text = await registry.metrics();
      assert.match(
        text,
        /meridian_gslb_dns_queries_total\{zone="meridian\.test",rcode="NOERROR",transport="udp"\} \d+/,
      );
      assert.match(
        text,
        /meridian_gslb_dns_queries_total\{zone="meridian\.test",rcode="NXDOMAIN",transport="udp"\} \d+/,
      );
      assert.match(
        text,
        /meridian_gslb_dns_queries_total\{zone="meridian\.test",rcode="NOERROR",transport="tcp"\} \d+/,
      );
      assert.match(
        text,
        /meridian_gslb_dns_queries_total\{zone="\(none\)",rcode="REFUSED",transport="udp"\} 1/,
      );
      assert.match(text, /meridian_gslb_dns_answer_duration_seconds_count \d+/);
    });

    test('an IPv6 listen address serves UDP and TCP too', async (t) => {
      const v6 = new GslbDnsServer({
        host: '::1',
        port: 0,
        table,
        zone: defaultZoneConfig([ZONE]),
        logger: createLogger('gslb-dns-test', process.stderr),
      });
      let address;
      try {
        address = await v6.start();
      } catch (e) {
        t.skip(`no IPv6 loopback here: ${(e as Error).message}`);
        return;
      }
      try {
        const at = `::1#${address.udpPort}`;
        assert.equal((await runDig(['+short', name('failover'), 'A'], at)).trim(), '192.0.2.2');
        assert.equal((await runDig(['+short', '+tcp', name('shop.eu'), 'AAAA'], at)).trim(), '2001:db8::1');
      } finally {
        await v6.stop();
      }
    });

    test('stop closes UDP and TCP, open connections included', async () => {
      const idle = connect(port, '127.0.0.1');
      await new Promise((resolve) => idle.once('connect', resolve));
      const closed = new Promise((resolve) => idle.once('close', resolve));
      const t0 = Date.now();
      await server.stop();
      await closed;
      // Without closing it, the idle connection would hold stop() for the 10 s idle timeout.
      assert.ok(Date.now() - t0 < 3_000, `stop took ${Date.now() - t0} ms`);
      const d = await runDig(['+tcp', name('failover'), 'A']).catch((e: Error) => e.message);
      assert.match(d, /connection refused|no servers could be reached/);
      // Restart so after() has something to stop and the port is known to be reusable.
      port = (await server.start()).udpPort;
    });
  },
);
