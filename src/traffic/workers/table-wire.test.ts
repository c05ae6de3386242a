import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode, type Packet } from 'dns-packet';
import { decodeTable, encodeTable } from './table-wire.ts';
import { parseGeoTable, regionOf } from '../routing/geo-table.ts';
import { answerMessage, defaultZoneConfig, type AnswerContext } from '../dns/gslb-answer.ts';
import { StaticRoutingTable, type HostRoute } from '../routing/routing.ts';
import { BalancerCounters } from '../routing/select.ts';
import { clusterTarget } from '../routing/routing-fixtures.ts';

const cluster = clusterTarget;
const EU = cluster('eu-west', ['192.0.2.1', '2001:db8::1'], { zone: 'eu-west-1a' });
const US = cluster('us-east', ['192.0.2.2'], { healthy: false });
const AP = cluster('ap-south', ['192.0.2.3'], { drained: true });
const route = (host: string, strategy: HostRoute['strategy'], ttlSeconds = 45): HostRoute => ({
  host: `${host}.example.com`,
  owner: { namespace: 'team-a', name: host },
  strategy,
  ttlSeconds,
  paths: ['/', '/api'],
  clusters: [EU, US, AP],
  tls: { certPem: 'CERT', keyPem: 'PRIVATE KEY' },
});
const ROUTES = [
  route('failover', { type: 'Failover', order: ['us-east', 'eu-west'] }),
  route('rr', { type: 'RoundRobin' }, 7),
  route('weighted', { type: 'Weighted', weights: { 'eu-west': 3, 'ap-south': 1 } }),
  route('geo', { type: 'Geo' }),
];
const GEO = parseGeoTable(`
networks:
  - { cidr: 10.1.0.0/16, region: ap-south }
  - { cidr: 10.1.2.128/25, region: us-east }
  - { cidr: 2001:db8:42::/48, region: eu-west }
  - { cidr: 0.0.0.0/0, region: us-east }
regions:
  ap-south: [eu-west]
`);

/** What crosses the IPC channel: JSON, as process.send() serialises it. */
const overTheWire = (routes: readonly HostRoute[], withTls = false) =>
  decodeTable(JSON.parse(JSON.stringify(encodeTable(routes, GEO, { withTls }))));

test('a worker decoding the table answers every query byte for byte like the hub', () => {
  const zone = defaultZoneConfig(['example.com'], { nameserverAddresses: ['192.0.2.53'], now: 0 });
  const worker = overTheWire(ROUTES);
  const hub: AnswerContext = {
    table: new StaticRoutingTable(ROUTES),
    zone,
    geo: GEO,
    counters: new BalancerCounters(),
    transport: 'udp',
  };
  const copy: AnswerContext = {
    ...hub,
    table: worker.table,
    geo: worker.geo,
    counters: new BalancerCounters(),
  };
  const ecs = (address: number[], source: number): Buffer => Buffer.from([0, 1, source, 0, ...address]);
  let id = 0;
  for (let round = 0; round < 20; round++) {
    for (const name of ['failover', 'rr', 'weighted', 'geo', 'missing', 'ns1']) {
      for (const type of ['A', 'AAAA', 'ANY'] as const) {
        for (const [resolver, subnet] of [
          ['127.0.0.1', undefined],
          ['10.1.2.200', undefined],
          ['127.0.0.1', ecs([10, 1, 9], 24)],
        ] as const) {
          const query: Packet = {
            id: id++ & 0xffff,
            type: 'query',
            flags: 0x0100,
            questions: [{ name: `${name}.example.com`, type: type as 'A', class: 'IN' }],
            additionals: subnet
              ? [
                  {
                    name: '.',
                    type: 'OPT',
                    udpPayloadSize: 1232,
                    flags: 0,
                    options: [{ code: 8, data: subnet }],
                  } as never,
                ]
              : [],
          };
          const message = encode(query);
          const expected = answerMessage(message, { ...hub, resolverAddress: resolver });
          const got = answerMessage(message, { ...copy, resolverAddress: resolver });
          assert.deepEqual(got, expected, `${name} ${type} from ${resolver}${subnet ? ' with ECS' : ''}`);
        }
      }
    }
  }
});

test('the geo table survives the trip: same regions for every address, same nearest regions', () => {
  const { geo } = overTheWire(ROUTES);
  for (const a of ['10.1.0.1', '10.1.2.129', '10.1.2.1', '2001:db8:42::1', '2001:db8:43::1', '8.8.8.8'])
    assert.equal(regionOf(geo, a), regionOf(GEO, a), a);
  assert.deepEqual([...geo.nearest], [...GEO.nearest]);
});

test('TLS certificates and keys are not sent to DNS workers', () => {
  const wire = JSON.stringify(encodeTable(ROUTES, GEO, { withTls: false }));
  assert.doesNotMatch(wire, /PRIVATE KEY|CERT/);
  const { table } = overTheWire(ROUTES);
  assert.equal(table.route('rr.example.com')?.tls, undefined);
  assert.equal(table.route('rr.example.com')?.ttlSeconds, 7);
  assert.deepEqual(table.route('failover.example.com')?.clusters, [EU, US, AP]);
});

test('routes of one GlobalIngress share their cluster objects again after decoding', () => {
  const { table } = overTheWire(ROUTES);
  assert.equal(table.route('rr.example.com')!.clusters[0], table.route('geo.example.com')!.clusters[0]);
});

test("edge workers get each route's certificate, shared again by the routes of one GlobalIngress", () => {
  const { table } = overTheWire(ROUTES, true);
  assert.deepEqual(table.route('rr.example.com')?.tls, { certPem: 'CERT', keyPem: 'PRIVATE KEY' });
  // One object: the gateway keeps one secure context per certificate object.
  assert.equal(table.route('rr.example.com')!.tls, table.route('geo.example.com')!.tls);
  assert.deepEqual(table.route('failover.example.com')?.clusters, [EU, US, AP]);
});
