import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode as decodePacket, encode, type DecodedPacket } from 'dns-packet';
import {
  DERIVED_SERVICE_ANNOTATION,
  clusterDnsAnswer,
  clustersetService,
  dnsRecords,
  type ImportLike,
} from './cluster-dns-answer.ts';
import { clusterDnsResponse } from './cluster-dns-server.ts';
import type { ServiceObject } from './service-backends.ts';

type Response = DecodedPacket & { rcode: string };
const decode = (b: Buffer): Response => decodePacket(b) as Response;

const service = (name: string, clusterIP: string): ServiceObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'shop' },
  spec: { clusterIP, ports: [{ port: 80 }] },
});
const imp = (name: string, spec: ImportLike['spec']): ImportLike => ({
  metadata: { name, namespace: 'shop' },
  spec,
});
const addresses = new Map([
  ['app2.shop', ['127.9.64.1']],
  ['derived-app3.shop', ['127.9.64.2']],
  ['db.shop', ['127.9.16.4', '127.9.16.5']],
]);
const services = [
  service('app2', '10.96.0.20'),
  service('derived-app3', '10.96.0.30'),
  service('db', 'None'),
];
const records = dnsRecords(
  addresses,
  [
    imp('app2', { type: 'ClusterSetIP', ips: ['10.96.0.20'] }),
    imp('app3', { type: 'ClusterSetIP', ips: ['10.96.0.30'] }),
    imp('db', { type: 'Headless' }),
    imp('gone', { type: 'ClusterSetIP', ips: ['10.96.0.99'] }),
  ],
  services,
);

test('cluster names answer the Service listener; clusterset names the Service serving the import', () => {
  assert.deepEqual(clusterDnsAnswer('app2.shop.svc.cluster.local', 'A', records), {
    rcode: 'NOERROR',
    addresses: ['127.9.64.1'],
  });
  assert.deepEqual(clusterDnsAnswer('APP2.shop.svc.clusterset.local.', 'A', records), {
    rcode: 'NOERROR',
    addresses: ['127.9.64.1'],
  });
  // The import names its derived Service through its cluster-set IP.
  assert.deepEqual(clusterDnsAnswer('app3.shop.svc.clusterset.local', 'A', records), {
    rcode: 'NOERROR',
    addresses: ['127.9.64.2'],
  });
  assert.deepEqual(clusterDnsAnswer('db.shop.svc.clusterset.local', 'A', records), {
    rcode: 'NOERROR',
    addresses: ['127.9.16.4', '127.9.16.5'],
  });
  assert.deepEqual(clusterDnsAnswer('app3.shop.svc.cluster.local', 'A', records), { rcode: 'NXDOMAIN' });
  assert.deepEqual(clusterDnsAnswer('gone.shop.svc.clusterset.local', 'A', records), { rcode: 'NXDOMAIN' });
});

test('other types, the zone structure, unknown names and foreign zones', () => {
  assert.deepEqual(clusterDnsAnswer('app2.shop.svc.cluster.local', 'AAAA', records), {
    rcode: 'NOERROR',
    addresses: [],
  });
  assert.deepEqual(clusterDnsAnswer('shop.svc.cluster.local', 'A', records), {
    rcode: 'NOERROR',
    addresses: [],
  });
  assert.deepEqual(clusterDnsAnswer('cluster.local', 'SOA', records), { rcode: 'NOERROR', addresses: [] });
  assert.deepEqual(clusterDnsAnswer('x.app2.shop.svc.cluster.local', 'A', records), { rcode: 'NXDOMAIN' });
  assert.deepEqual(clusterDnsAnswer('app2.shop.pod.cluster.local', 'A', records), { rcode: 'NXDOMAIN' });
  assert.deepEqual(clusterDnsAnswer('example.com', 'A', records), { rcode: 'REFUSED' });
  assert.deepEqual(clusterDnsAnswer('notcluster.local', 'A', records), { rcode: 'REFUSED' });
});

test('clustersetService falls back to the Service of the import name', () => {
  assert.equal(clustersetService(imp('app2', { type: 'ClusterSetIP' }), services), 'app2');
  assert.equal(
    clustersetService(imp('x', { type: 'ClusterSetIP', ips: ['10.96.0.30'] }), services),
    'derived-app3',
  );
  assert.equal(clustersetService(imp('x', { type: 'ClusterSetIP' }), services), undefined);
});

test('clustersetService takes the Service the import names as derived, headless imports included', () => {
  const headless: ImportLike = {
    metadata: {
      name: 'db',
      namespace: 'shop',
      annotations: { [DERIVED_SERVICE_ANNOTATION]: 'derived-app3' },
    },
    spec: { type: 'Headless' },
  };
  assert.equal(clustersetService(headless, services), 'derived-app3');
  const gone: ImportLike = {
    ...headless,
    metadata: { ...headless.metadata, annotations: { [DERIVED_SERVICE_ANNOTATION]: 'nope' } },
  };
  assert.equal(clustersetService(gone, services), undefined);
});

test('the wire answer carries id, question, rcode and A records', () => {
  const q = encode({
    id: 4242,
    type: 'query',
    flags: 0x0100,
    questions: [{ name: 'app2.shop.svc.cluster.local', type: 'A', class: 'IN' }],
  });
  const r = decode(clusterDnsResponse(q, records)!);
  assert.equal(r.id, 4242);
  assert.equal(r.rcode, 'NOERROR');
  assert.equal(r.flag_aa, true);
  assert.deepEqual(
    r.answers?.map((a) => [a.type, (a as { data?: unknown }).data, (a as { ttl?: number }).ttl]),
    [['A', '127.9.64.1', 5]],
  );
  const nx = encode({
    id: 1,
    type: 'query',
    questions: [{ name: 'nope.shop.svc.cluster.local', type: 'A' }],
  });
  assert.equal(decode(clusterDnsResponse(nx, records)!).rcode, 'NXDOMAIN');
  assert.equal(decode(clusterDnsResponse(Buffer.from('0123456789abcdef'), records)!).rcode, 'FORMERR');
});
