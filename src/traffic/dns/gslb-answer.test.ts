import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode, encode, type Answer, type DecodedPacket, type OptAnswer, type Packet } from 'dns-packet';
import { MeridianError } from '../../kube/errors.ts';
import { EMPTY_GEO_TABLE, parseGeoTable, type GeoTable } from '../routing/geo-table.ts';
import {
  AnswerCache,
  answerMessage,
  answerQuery,
  malformedHeader,
  defaultZoneConfig,
  fitToUdp,
  udpPayloadLimit,
  validateZoneConfig,
  type AnswerContext,
  type DnsZoneConfig,
  type Transport,
} from './gslb-answer.ts';
import {
  StaticRoutingTable,
  SwappableRoutingTable,
  type HostRoute,
  type RoutingTable,
} from '../routing/routing.ts';
import { BalancerCounters } from '../routing/select.ts';
import { clusterTarget } from '../routing/routing-fixtures.ts';

const cluster = clusterTarget;
const EU = cluster('eu-west', ['192.0.2.1', '2001:db8::1']);
const US = cluster('us-east', ['192.0.2.2']);
const AP = cluster('ap-south', ['192.0.2.3', '192.0.2.33']);

const route = (
  host: string,
  strategy: HostRoute['strategy'],
  clusters = [EU, US, AP],
  ttlSeconds = 45,
): HostRoute => ({
  host,
  owner: { namespace: 'team-a', name: host.split('.')[0]! },
  strategy,
  ttlSeconds,
  paths: ['/'],
  clusters,
});
const ROUTES = [
  route('failover.example.com', { type: 'Failover', order: ['us-east', 'eu-west'] }),
  route('rr.example.com', { type: 'RoundRobin' }),
  route('weighted.example.com', { type: 'Weighted', weights: { 'eu-west': 3, 'us-east': 1 } }),
  route('geo.example.com', { type: 'Geo' }),
  route('deep.api.example.com', { type: 'Failover' }),
  route('example.com', { type: 'Failover', order: ['eu-west'] }, [EU], 60),
  route('outside.example.org', { type: 'Failover' }),
];
const TABLE = new StaticRoutingTable(ROUTES);
const GEO = parseGeoTable(`
networks:
  - { cidr: 10.1.0.0/16, region: ap-south }
  - { cidr: 10.2.0.0/16, region: eu-west }
  - { cidr: 2001:db8:aa::/48, region: ap-south }
  - { cidr: 198.51.100.0/24, region: us-east }
regions:
  ap-south: [eu-west, us-east]
`);
const ZONE: DnsZoneConfig = defaultZoneConfig(['example.com', 'sub.example.com'], {
  nameserverAddresses: ['192.0.2.53', '2001:db8::53'],
  now: Date.UTC(2026, 0, 1),
});

interface Ctx {
  table?: RoutingTable;
  zone?: DnsZoneConfig;
  geo?: GeoTable;
  counters?: BalancerCounters;
  resolverAddress?: string;
  transport?: Transport;
}
const context = (c: Ctx = {}): AnswerContext => ({
  table: c.table ?? TABLE,
  zone: c.zone ?? ZONE,
  geo: c.geo ?? GEO,
  counters: c.counters ?? new BalancerCounters(),
  resolverAddress: c.resolverAddress ?? '203.0.113.9',
  transport: c.transport ?? 'udp',
});

interface QueryOptions {
  id?: number;
  flags?: number;
  klass?: 'IN' | 'CH' | 'ANY';
  edns?: { udp?: number; version?: number; do?: boolean; ecs?: Buffer };
}
function query(name: string, type = 'A', o: QueryOptions = {}): Packet {
  const additionals: Answer[] = [];
  if (o.edns)
    additionals.push({
      name: '.',
      type: 'OPT',
      udpPayloadSize: o.edns.udp ?? 1232,
      extendedRcode: 0,
      ednsVersion: o.edns.version ?? 0,
      flags: o.edns.do ? 0x8000 : 0,
      flag_do: o.edns.do ?? false,
      options: o.edns.ecs ? [{ code: 8, ip: undefined, data: o.edns.ecs }] : [],
    });
  return {
    id: o.id ?? 4242,
    type: 'query',
    flags: o.flags ?? 0,
    questions: [{ name, type: type as 'A', class: o.klass ?? 'IN' }],
    additionals,
  };
}
/** An ECS option body: family, source prefix, scope prefix, address truncated to the prefix. */
function ecs(address: number[], source: number, family = address.length === 4 ? 1 : 2, scope = 0): Buffer {
  return Buffer.from([0, family, source, scope, ...address.slice(0, Math.ceil(source / 8))]);
}

type Response = DecodedPacket & { rcode: string; opcode: string };
function ask(name: string, type = 'A', o: QueryOptions = {}, c: Ctx = {}): Response {
  const wire = answerMessage(Buffer.from(encode(query(name, type, o))), context(c));
  assert.ok(wire, 'a response');
  return decode(wire.message) as Response;
}
const data = (p: Packet, section: 'answers' | 'authorities' | 'additionals' = 'answers'): string[] =>
  (p[section] ?? [])
    .filter((a) => a.type !== 'OPT')
    .map((a) => `${a.name} ${a.ttl} ${a.type} ${JSON.stringify((a as { data: unknown }).data)}`);
const addresses = (p: Packet): string[] =>
  (p.answers ?? []).map((a) => String((a as { data: unknown }).data));
const optOf = (p: Packet): OptAnswer | undefined =>
  p.additionals?.find((a): a is OptAnswer => a.type === 'OPT');
const NEGATIVE_SOA = `example.com 30 SOA`;

test('Failover answers the first in-rotation cluster in order, authoritatively, with the route TTL', () => {
  const r = ask('failover.example.com');
  assert.equal(r.rcode, 'NOERROR');
  assert.equal(r.flag_aa, true);
  assert.deepEqual(data(r), ['failover.example.com 45 A "192.0.2.2"']);
  const down = new StaticRoutingTable([
    route('failover.example.com', { type: 'Failover', order: ['us-east', 'eu-west'] }, [
      EU,
      { ...US, healthy: false },
      AP,
    ]),
  ]);
  assert.deepEqual(addresses(ask('failover.example.com', 'A', {}, { table: down })), ['192.0.2.1']);
});

test('RoundRobin answers every in-rotation cluster, rotated by one per query', () => {
  const counters = new BalancerCounters();
  const first = addresses(ask('rr.example.com', 'A', {}, { counters }));
  const second = addresses(ask('rr.example.com', 'A', {}, { counters }));
  assert.deepEqual(first, ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.33']);
  assert.deepEqual(second, ['192.0.2.2', '192.0.2.3', '192.0.2.33', '192.0.2.1']);
});

test('Weighted 3:1 answers eu-west three times as often as us-east', () => {
  const counters = new BalancerCounters();
  const seen = Array.from(
    { length: 200 },
    () => addresses(ask('weighted.example.com', 'A', {}, { counters }))[0],
  );
  assert.equal(seen.filter((a) => a === '192.0.2.1').length, 150);
  assert.equal(seen.filter((a) => a === '192.0.2.2').length, 50);
});

test('Geo uses the ECS client subnet and echoes it with SCOPE = SOURCE', () => {
  const r = ask('geo.example.com', 'A', { edns: { ecs: ecs([10, 1, 2, 0], 24) } });
  assert.deepEqual(addresses(r), ['192.0.2.3', '192.0.2.33']);
  const option = optOf(r)?.options[0] as {
    code: number;
    sourcePrefixLength: number;
    scopePrefixLength: number;
    ip: string;
  };
  assert.equal(option.code, 8);
  assert.equal(option.sourcePrefixLength, 24);
  assert.equal(option.scopePrefixLength, 24);
  assert.equal(option.ip, '10.1.2.0');
  const v6 = ask('geo.example.com', 'A', { edns: { ecs: ecs([0x20, 0x01, 0x0d, 0xb8, 0, 0xaa, 0, 0], 56) } });
  assert.deepEqual(addresses(v6), ['192.0.2.3', '192.0.2.33']);
});

test('a Geo NODATA chosen by subnet is scoped to that subnet too', () => {
  const r = ask('geo.example.com', 'AAAA', { edns: { ecs: ecs([10, 1, 2, 0], 24) } });
  assert.deepEqual(r.answers, []);
  assert.equal((optOf(r)?.options[0] as { scopePrefixLength: number }).scopePrefixLength, 24);
  const eu = ask('geo.example.com', 'AAAA', { edns: { ecs: ecs([10, 2, 0, 0], 16) } });
  assert.deepEqual(addresses(eu), ['2001:db8::1']);
});

test('Geo without ECS uses the resolver address; unknown clients get Failover order', () => {
  assert.deepEqual(addresses(ask('geo.example.com', 'A', {}, { resolverAddress: '198.51.100.7' })), [
    '192.0.2.2',
  ]);
  assert.deepEqual(addresses(ask('geo.example.com', 'A', {}, { resolverAddress: '::ffff:10.2.0.1' })), [
    '192.0.2.1',
  ]);
  assert.deepEqual(addresses(ask('geo.example.com', 'A', {}, { resolverAddress: '203.0.113.1' })), [
    '192.0.2.1',
  ]);
});

test('Geo falls back to the nearest region when the client region has no healthy cluster', () => {
  const table = new StaticRoutingTable([
    route('geo.example.com', { type: 'Geo' }, [EU, US, { ...AP, healthy: false }]),
  ]);
  const r = ask('geo.example.com', 'A', { edns: { ecs: ecs([10, 1, 0, 0], 16) } }, { table });
  assert.deepEqual(addresses(r), ['192.0.2.1']);
});

test('ECS on a non-Geo answer, or with SOURCE 0 (client opted out), is echoed with SCOPE 0', () => {
  const r = ask('failover.example.com', 'A', { edns: { ecs: ecs([10, 1, 2, 0], 24) } });
  assert.equal((optOf(r)?.options[0] as { scopePrefixLength: number }).scopePrefixLength, 0);
  const optOut = ask(
    'geo.example.com',
    'A',
    { edns: { ecs: ecs([0, 0, 0, 0], 0) } },
    { resolverAddress: '198.51.100.7' },
  );
  assert.deepEqual(addresses(optOut), ['192.0.2.2'], 'answered for the resolver address');
  assert.equal((optOf(optOut)?.options[0] as { scopePrefixLength: number }).scopePrefixLength, 0);
});

test('a malformed ECS option is FORMERR (RFC 7871 §7.1)', () => {
  const bad = [
    ecs([10, 1, 2, 0], 24, 1, 24), // SCOPE set in a query
    Buffer.from([0, 1, 24, 0, 10, 1, 2, 0]), // more address bytes than SOURCE needs
    ecs([10, 1, 2, 1], 31), // bits beyond SOURCE set
    ecs([10, 1, 2, 0], 33), // SOURCE longer than an IPv4 address
    ecs([10, 1, 2, 0], 24, 3), // unknown family
    Buffer.from([0, 1]), // truncated
  ];
  for (const option of bad)
    assert.equal(
      ask('geo.example.com', 'A', { edns: { ecs: option } }).rcode,
      'FORMERR',
      option.toString('hex'),
    );
});

test('AAAA answers only IPv6 addresses; a chosen cluster without one is NODATA with the negative SOA', () => {
  assert.deepEqual(data(ask('geo.example.com', 'AAAA', {}, { resolverAddress: '10.2.0.1' })), [
    'geo.example.com 45 AAAA "2001:db8::1"',
  ]);
  const r = ask('failover.example.com', 'AAAA');
  assert.equal(r.rcode, 'NOERROR');
  assert.equal(r.flag_aa, true);
  assert.deepEqual(data(r), []);
  assert.match(data(r, 'authorities')[0]!, new RegExp(`^${NEGATIVE_SOA} `));
});

test('a published host asked for another type is NODATA', () => {
  for (const type of ['MX', 'TXT', 'CNAME', 'SOA', 'NS']) {
    const r = ask('rr.example.com', type);
    assert.equal(r.rcode, 'NOERROR', type);
    assert.deepEqual(data(r), [], type);
    assert.equal(r.authorities?.length, 1, type);
  }
});

test('an unknown name in a zone is NXDOMAIN with the SOA, its TTL capped by SOA minimum', () => {
  for (const name of ['nope.example.com', 'x.rr.example.com']) {
    const r = ask(name);
    assert.equal(r.rcode, 'NXDOMAIN', name);
    assert.equal(r.flag_aa, true);
    assert.deepEqual(data(r), []);
    assert.deepEqual(data(r, 'authorities'), [`example.com 30 SOA ${JSON.stringify({ ...ZONE.soa })}`]);
  }
});

test('an ancestor of a published host (empty non-terminal) is NODATA, not NXDOMAIN', () => {
  const r = ask('api.example.com');
  assert.equal(r.rcode, 'NOERROR');
  assert.deepEqual(data(r), []);
  assert.equal(r.authorities?.length, 1);
});

test('names outside every zone are REFUSED without AA, including look-alike suffixes', () => {
  for (const name of ['outside.example.org', 'notexample.com', 'com', '.']) {
    const r = ask(name);
    assert.equal(r.rcode, 'REFUSED', name);
    assert.equal(r.flag_aa, false, name);
    assert.deepEqual(r.answers, [], name);
  }
});

test('the longest zone holds the name: its SOA is the one in the authority section', () => {
  const r = ask('nope.sub.example.com');
  assert.equal(r.rcode, 'NXDOMAIN');
  assert.equal(r.authorities?.[0]?.name, 'sub.example.com');
});

test('the apex has SOA and NS, with glue for the name server, and a host there too', () => {
  const soa = ask('example.com', 'SOA');
  assert.deepEqual(data(soa), [`example.com 3600 SOA ${JSON.stringify({ ...ZONE.soa })}`]);
  const ns = ask('example.com', 'NS');
  assert.deepEqual(data(ns), ['example.com 3600 NS "ns1.example.com"']);
  assert.deepEqual(data(ns, 'additionals'), [
    'ns1.example.com 3600 A "192.0.2.53"',
    'ns1.example.com 3600 AAAA "2001:db8::53"',
  ]);
  assert.deepEqual(data(ask('example.com', 'A')), ['example.com 60 A "192.0.2.1"']);
  assert.deepEqual(data(ask('sub.example.com', 'NS')), ['sub.example.com 3600 NS "ns1.example.com"']);
});

test('the name server name answers its own addresses', () => {
  assert.deepEqual(data(ask('ns1.example.com', 'A')), ['ns1.example.com 3600 A "192.0.2.53"']);
  assert.deepEqual(data(ask('ns1.example.com', 'AAAA')), ['ns1.example.com 3600 AAAA "2001:db8::53"']);
});

test('ANY answers every record the name has', () => {
  assert.deepEqual(
    data(ask('example.com', 'ANY')).map((r) => r.split(' ').slice(0, 3).join(' ')),
    ['example.com 3600 SOA', 'example.com 3600 NS', 'example.com 60 A', 'example.com 60 AAAA'],
  );
  assert.deepEqual(addresses(ask('geo.example.com', 'ANY', {}, { resolverAddress: '10.2.0.1' })), [
    '192.0.2.1',
    '2001:db8::1',
  ]);
});

test('the question is echoed as asked (0x20) and matched case-insensitively', () => {
  const r = ask('FaIlOvEr.ExAmPlE.CoM', 'A', { id: 777 });
  assert.equal(r.id, 777);
  assert.equal(r.questions?.[0]?.name, 'FaIlOvEr.ExAmPlE.CoM');
  assert.deepEqual(addresses(r), ['192.0.2.2']);
  assert.deepEqual(addresses(ask('failover.example.com.', 'A')), ['192.0.2.2']);
});

test('RD and CD are copied, RA never set', () => {
  const r = ask('failover.example.com', 'A', { flags: 0x0100 | 0x0010 });
  assert.equal(r.flag_rd, true);
  assert.equal(r.flag_cd, true);
  assert.equal(r.flag_ra, false);
});

test('a DNS label with ":" does not reach the host before it (hostKey strips ports)', () => {
  assert.equal(ask('failover.example.com:53.example.com').rcode, 'NXDOMAIN');
});

test('with no cluster healthy the answer names all of them rather than none', () => {
  const table = new StaticRoutingTable([
    route('failover.example.com', { type: 'Failover' }, [
      { ...EU, healthy: false },
      { ...US, healthy: false },
    ]),
  ]);
  assert.deepEqual(addresses(ask('failover.example.com', 'A', {}, { table })), ['192.0.2.1', '192.0.2.2']);
});

test('a drained cluster gets no answers while another serves', () => {
  const table = new StaticRoutingTable([
    route('rr.example.com', { type: 'RoundRobin' }, [{ ...EU, drained: true }, US]),
  ]);
  assert.deepEqual(addresses(ask('rr.example.com', 'A', {}, { table })), ['192.0.2.2']);
});

test('an address shared by two clusters appears once', () => {
  const table = new StaticRoutingTable([
    route('rr.example.com', { type: 'RoundRobin' }, [EU, { ...US, addresses: ['192.0.2.1'] }]),
  ]);
  assert.deepEqual(addresses(ask('rr.example.com', 'A', {}, { table })), ['192.0.2.1']);
});

test('class other than IN, zone transfers and other opcodes are refused or not implemented', () => {
  assert.equal(ask('failover.example.com', 'A', { klass: 'CH' }).rcode, 'REFUSED');
  assert.equal(ask('failover.example.com', 'A', { klass: 'ANY' }).rcode, 'REFUSED');
  assert.equal(ask('example.com', 'AXFR').rcode, 'REFUSED');
  assert.equal(ask('example.com', 'IXFR').rcode, 'REFUSED');
  const notify = ask('example.com', 'SOA', { flags: 4 << 11 });
  assert.equal(notify.rcode, 'NOTIMP');
  assert.equal(notify.opcode, 'NOTIFY');
});

test('zero or two questions are FORMERR; a response is never answered', () => {
  const none = answerQuery({ id: 1, type: 'query', questions: [] }, context());
  assert.equal((none?.flags ?? 0) & 0xf, 1);
  const two = answerQuery(
    {
      id: 1,
      type: 'query',
      questions: [
        { name: 'rr.example.com', type: 'A' },
        { name: 'geo.example.com', type: 'A' },
      ],
    },
    context(),
  );
  assert.equal((two?.flags ?? 0) & 0xf, 1);
  assert.equal(answerQuery({ ...query('rr.example.com'), type: 'response' }, context()), undefined);
  const wire = Buffer.from(encode({ ...query('rr.example.com'), type: 'response' }));
  assert.equal(answerMessage(wire, context()), undefined);
});

test('EDNS: the OPT is answered with our 1232-byte size and DO clear; no OPT without one', () => {
  const r = ask('failover.example.com', 'A', { edns: { udp: 4096, do: true } });
  const opt = optOf(r)!;
  assert.equal(opt.udpPayloadSize, 1232);
  assert.equal(opt.flag_do, false);
  assert.equal(opt.ednsVersion, 0);
  assert.equal(optOf(ask('failover.example.com')), undefined);
});

test('EDNS version 1 is BADVERS (extended rcode in the OPT); two OPTs are FORMERR', () => {
  const r = ask('failover.example.com', 'A', { edns: { version: 1 } });
  assert.equal(r.rcode, 'NOERROR', 'low four bits are 0: BADVERS is 16');
  assert.equal(optOf(r)?.extendedRcode, 1);
  assert.equal(optOf(r)?.ednsVersion, 0);
  assert.deepEqual(r.answers, []);
  const q = query('failover.example.com', 'A', { edns: {} });
  const twice = answerQuery({ ...q, additionals: [...q.additionals!, ...q.additionals!] }, context());
  assert.equal((twice?.flags ?? 0) & 0xf, 1);
});

test('undecodable messages get FORMERR when the header is readable, else nothing, and never throw', () => {
  const garbage = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0x3f, 0x61]);
  const r = answerMessage(garbage, context());
  assert.equal(r?.rcode, 'FORMERR');
  assert.equal(r?.message.readUInt16BE(0), 0x1234);
  assert.equal(decode(r!.message).flag_rd, true);
  assert.equal(answerMessage(Buffer.from([1, 2, 3]), context()), undefined);
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
  const base = Buffer.from(encode(query('geo.example.com', 'A', { edns: { ecs: ecs([10, 1, 2, 0], 24) } })));
  const cache = new AnswerCache();
  for (let i = 0; i < 3000; i++) {
    const m = Buffer.from(base);
    for (let k = 0; k < 1 + (i % 4); k++) m[2 + (rnd() % (m.length - 2))] = rnd();
    const cut = i % 7 === 0 ? m.subarray(0, rnd() % m.length) : m;
    assert.doesNotThrow(() => answerMessage(cut, context()));
    assert.doesNotThrow(() => cache.answer(cut, context()));
  }
});

test('UDP limits: 512 without EDNS, else the client size capped at 1232', () => {
  assert.equal(udpPayloadLimit(query('a.example.com')), 512);
  assert.equal(udpPayloadLimit(query('a.example.com', 'A', { edns: { udp: 4096 } })), 1232);
  assert.equal(udpPayloadLimit(query('a.example.com', 'A', { edns: { udp: 1000 } })), 1000);
  assert.equal(udpPayloadLimit(query('a.example.com', 'A', { edns: { udp: 100 } })), 512);
});

const many = Array.from({ length: 60 }, (_, i) =>
  cluster(`c${i}`, [`198.51.100.${i + 1}`], { region: 'eu-west' }),
);
const BIG = new StaticRoutingTable([route('big.example.com', { type: 'RoundRobin' }, many)]);

test('a response too large for UDP is truncated (TC, no records, OPT kept); TCP gets all of it', () => {
  const udp = ask('big.example.com', 'A', {}, { table: BIG });
  assert.equal(udp.flag_tc, true);
  assert.deepEqual(udp.answers, []);
  assert.equal(udp.questions?.[0]?.name, 'big.example.com');
  const edns = ask('big.example.com', 'A', { edns: { udp: 4096 } }, { table: BIG });
  assert.equal(edns.flag_tc, true);
  assert.equal(optOf(edns)?.udpPayloadSize, 1232);
  const tcp = ask('big.example.com', 'A', {}, { table: BIG, transport: 'tcp' });
  assert.equal(tcp.flag_tc, false);
  assert.equal(tcp.answers?.length, 60);
  const small = ask('rr.example.com', 'A');
  assert.equal(small.flag_tc, false);
});

test('fitToUdp keeps a response that fits and truncates one that does not', () => {
  const response = answerQuery(query('big.example.com', 'A'), context({ table: BIG }))!;
  assert.equal(decode(fitToUdp(response, 65535)).answers?.length, 60);
  const cut = fitToUdp(response, 512);
  assert.ok(cut.length <= 512);
  assert.equal(decode(cut).flag_tc, true);
});

test('zone config: defaults, and errors that name the field', () => {
  const z = defaultZoneConfig(['Example.COM.'], { now: 1_800_000_000_000 });
  assert.deepEqual(z.zones, ['example.com']);
  assert.deepEqual(z.nameservers, [{ name: 'ns1.example.com', addresses: [] }]);
  assert.equal(z.soa.mname, 'ns1.example.com');
  assert.equal(z.soa.rname, 'hostmaster.example.com');
  assert.equal(z.soa.serial, 1_800_000_000);
  assert.equal(z.soa.minimum, 30);
  const fails = (c: Partial<DnsZoneConfig>, message: RegExp): void =>
    assert.throws(
      () => validateZoneConfig({ ...z, ...c }),
      (e: unknown) => e instanceof MeridianError && e.code === 'InvalidDnsZone' && message.test(e.message),
    );
  fails({ zones: [] }, /zones: at least one zone/);
  fails({ zones: ['example.com', 'bad..name'] }, /zones\[1\]: "bad\.\.name" is not a DNS name/);
  fails(
    { nameservers: [{ name: 'ns1.example.com', addresses: ['nope'] }] },
    /nameservers\[0\]\.addresses\[0\]/,
  );
  fails({ soa: { ...z.soa, serial: -1 } }, /soa\.serial: -1/);
  fails({ nameservers: [] }, /nameservers: at least one/);
});

// The cache must be invisible: the same queries through AnswerCache and through answerMessage
// (each with its own rotation counters) give byte-identical responses.
test('AnswerCache answers exactly what answerMessage answers, query after query', () => {
  const names = [
    'failover',
    'RR',
    'weighted',
    'geo',
    'Geo',
    'example',
    'nope',
    'api',
    'ns1',
    'big',
    'deep.api',
  ];
  const table = new StaticRoutingTable([...ROUTES, route('big.example.com', { type: 'RoundRobin' }, many)]);
  const types = ['A', 'AAAA', 'MX', 'ANY', 'UNKNOWN_65', 'UNKNOWN_97'];
  const resolvers = ['198.51.100.7', '10.2.0.1', '203.0.113.1'];
  const cached = { cache: new AnswerCache(50), counters: new BalancerCounters() };
  const plain = new BalancerCounters();
  let n = 0;
  for (let round = 0; round < 6; round++) {
    for (const name of names) {
      for (const type of types) {
        for (const variant of [
          {},
          { edns: {} },
          { edns: { ecs: ecs([10, 1, 2, 0], 24) } },
          { edns: { udp: 4096 } },
        ] as QueryOptions[]) {
          n++;
          const wire = Buffer.from(
            encode(query(`${name}.example.com`, type, { ...variant, id: n, flags: n % 3 ? 0x100 : 0 })),
          );
          const c = {
            table,
            resolverAddress: resolvers[n % 3],
            transport: (n % 5 ? 'udp' : 'tcp') as Transport,
          };
          const want = answerMessage(wire, context({ ...c, counters: plain }));
          const got = cached.cache.answer(wire, context({ ...c, counters: cached.counters }));
          assert.deepEqual(got, want, `query ${n}: ${name} ${type} ${JSON.stringify(variant)}`);
        }
      }
    }
  }
});

test('AnswerCache copies the ID and the question case of each query into a reused response', () => {
  const cache = new AnswerCache();
  const ctx = context();
  cache.answer(Buffer.from(encode(query('failover.example.com', 'A', { id: 1 }))), ctx);
  const r = decode(
    cache.answer(Buffer.from(encode(query('FAILOVER.example.COM', 'A', { id: 2 }))), ctx)!.message,
  );
  assert.equal(r.id, 2);
  assert.equal(r.questions?.[0]?.name, 'FAILOVER.example.COM');
  assert.deepEqual(addresses(r), ['192.0.2.2']);
});

test('AnswerCache folds the case of ASCII letters only: other bytes tell names apart', () => {
  const cache = new AnswerCache();
  const table = new StaticRoutingTable([route('h1.example.com', { type: 'Failover' })]);
  const ctx = context({ table });
  const rcode = (name: string): string =>
    (decode(cache.answer(Buffer.from(encode(query(name))), ctx)!.message) as Response).rcode;
  assert.equal(rcode('h1.example.com'), 'NOERROR');
  assert.equal(rcode('h\x11.example.com'), 'NXDOMAIN', '0x11 differs from "1" (0x31) only in the 0x20 bit');
});

test('AnswerCache follows the routing table: a new route object means a new answer', () => {
  const table = new SwappableRoutingTable();
  table.set(TABLE);
  const cache = new AnswerCache();
  const ctx = context({ table });
  const ask2 = (): string[] =>
    addresses(decode(cache.answer(Buffer.from(encode(query('failover.example.com'))), ctx)!.message));
  assert.deepEqual(ask2(), ['192.0.2.2']);
  assert.deepEqual(ask2(), ['192.0.2.2']);
  table.set(
    new StaticRoutingTable([
      route('failover.example.com', { type: 'Failover', order: ['us-east'] }, [
        EU,
        { ...US, healthy: false },
      ]),
    ]),
  );
  assert.deepEqual(ask2(), ['192.0.2.1']);
  table.set(new StaticRoutingTable([]));
  assert.equal(
    (decode(cache.answer(Buffer.from(encode(query('failover.example.com'))), ctx)!.message) as Response)
      .rcode,
    'NXDOMAIN',
  );
});

test('AnswerCache keeps rotating RoundRobin and Weighted on every hit', () => {
  const cache = new AnswerCache();
  const ctx = context();
  const first = (name: string): string =>
    addresses(decode(cache.answer(Buffer.from(encode(query(name))), ctx)!.message))[0]!;
  assert.deepEqual(
    [0, 1, 2, 3, 4].map(() => first('rr.example.com')),
    ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.1', '192.0.2.2'],
  );
  const w = Array.from({ length: 40 }, () => first('weighted.example.com'));
  assert.equal(w.filter((a) => a === '192.0.2.1').length, 30);
});

test('zones are matched with no trailing dot and any case in the config', () => {
  const zone = validateZoneConfig({ ...ZONE, zones: ['EXAMPLE.com.'] });
  assert.equal(ask('failover.example.com', 'A', {}, { zone }).rcode, 'NOERROR');
  assert.equal(ask('x.example.net', 'A', {}, { zone, geo: EMPTY_GEO_TABLE }).rcode, 'REFUSED');
});

test('impossible section counts are FORMERR from the header alone, without decoding', () => {
  const header = (flags: number, qd: number, an: number, ns: number, ar: number, extra = 0): Buffer => {
    const b = Buffer.alloc(12 + extra);
    b.writeUInt16BE(0xbeef, 0);
    b.writeUInt16BE(flags, 2);
    [qd, an, ns, ar].forEach((n, i) => b.writeUInt16BE(n, 4 + 2 * i));
    return b;
  };
  const RD_FLAG = 0x0100;
  // 12 bytes cannot hold 65,535 questions (5 bytes each at least) nor records (11 bytes each).
  for (const m of [
    header(RD_FLAG, 65_535, 0, 0, 0),
    header(RD_FLAG, 1, 65_535, 65_535, 65_535),
    header(RD_FLAG, 1, 0, 0, 1, 5 + 10), // one question, one record: a byte short
  ]) {
    assert.equal(malformedHeader(m), 'section counts larger than the message');
    const r = answerMessage(m, context());
    assert.equal(r?.rcode, 'FORMERR');
    const d = decode(r!.message) as Response;
    assert.equal(d.id, 0xbeef);
    assert.equal(d.type, 'response');
    assert.equal(d.flag_rd, true, 'RD echoed');
    assert.equal(d.rcode, 'FORMERR');
    assert.deepEqual([d.questions?.length, d.answers?.length, d.additionals?.length], [0, 0, 0]);
  }
  assert.equal(malformedHeader(header(RD_FLAG, 1, 0, 0, 1, 5 + 11)), undefined);
  assert.equal(malformedHeader(header(0, 0, 0, 0, 0)), 'not exactly one question');
  assert.equal(answerMessage(header(0, 0, 0, 0, 0), context())?.rcode, 'FORMERR');
  assert.equal(malformedHeader(Buffer.alloc(11)), 'shorter than a header');
  // A response is never answered, however malformed.
  assert.equal(answerMessage(header(0x8000, 65_535, 0, 0, 0), context()), undefined);
  assert.equal(new AnswerCache().answer(header(RD_FLAG, 65_535, 0, 0, 0), context())?.rcode, 'FORMERR');
  assert.equal(
    malformedHeader(Buffer.from(encode(query('failover.example.com', 'A', { edns: {} })))),
    undefined,
  );
});

test('two OPT records on the wire are FORMERR (RFC 6891 §6.1.1), cached path included', () => {
  const q = query('failover.example.com', 'A', { edns: {} });
  const wire = Buffer.from(encode({ ...q, additionals: [...q.additionals!, ...q.additionals!] }));
  assert.equal(answerMessage(wire, context())?.rcode, 'FORMERR');
  const cache = new AnswerCache();
  for (let i = 0; i < 2; i++) assert.equal(cache.answer(wire, context())?.rcode, 'FORMERR');
});
