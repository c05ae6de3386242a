import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  headlessAddresses,
  servedPorts,
  serviceKind,
  type EndpointSliceObject,
  type ServiceObject,
} from './service-backends.ts';

const svc = (spec: ServiceObject['spec'], name = 'app2'): ServiceObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'shop' },
  spec,
});
const slice = (
  name: string,
  endpoints: { ip: string; ready?: boolean }[],
  ports: EndpointSliceObject['ports'],
  extra: Partial<EndpointSliceObject> = {},
  service = 'app2',
): EndpointSliceObject => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  endpoints: endpoints.map((e) => ({
    addresses: [e.ip],
    ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
  })),
  ports,
  ...extra,
});
const map: Record<string, string> = {
  '10.101.0.5': '127.1.16.5',
  '10.101.0.6': '127.1.16.6',
  '10.102.0.7': '127.1.17.7',
  '10.101.0.9': '192.0.2.9',
};
const loopbackFor = (ip: string): string | undefined => map[ip];

test('a named port takes the port of the same-named slice port in every slice, local and multi-cluster', () => {
  const s = svc({ ports: [{ name: 'http', port: 80, targetPort: 'http' }] });
  const ports = servedPorts(
    s,
    [
      slice(
        'app2-abc',
        [{ ip: '10.101.0.5' }, { ip: '10.101.0.6', ready: true }],
        [{ name: 'http', port: 8080, protocol: 'TCP' }],
      ),
      slice('app2-mcs-us-east', [{ ip: '10.102.0.7', ready: true }], [{ name: 'http', port: 9090 }]),
      slice('other', [{ ip: '10.101.0.5' }], [{ name: 'http', port: 1 }], {}, 'other'),
    ],
    loopbackFor,
  );
  assert.deepEqual(ports, [
    {
      name: 'http',
      port: 80,
      protocol: 'TCP',
      backends: [
        { host: '127.1.16.5', port: 8080 },
        { host: '127.1.16.6', port: 8080 },
        { host: '127.1.17.7', port: 9090 },
      ],
    },
  ]);
});

test('not-ready, unmapped, non-loopback, duplicate and FQDN endpoints are left out', () => {
  const s = svc({ ports: [{ port: 5432 }] });
  const [p] = servedPorts(
    s,
    [
      slice(
        'a',
        [{ ip: '10.101.0.5', ready: false }, { ip: '10.101.0.6' }, { ip: '10.101.0.8' }],
        [{ port: 5432 }],
      ),
      slice('b', [{ ip: '10.101.0.6' }, { ip: '10.101.0.9' }], [{ port: 5432 }]),
      slice('c', [{ ip: '10.101.0.5' }], [{ port: 5432 }], { addressType: 'FQDN' }),
    ],
    loopbackFor,
  );
  assert.deepEqual(p?.backends, [{ host: '127.1.16.6', port: 5432 }]);
});

test('ports match by name and protocol; UDP ports are not served', () => {
  const s = svc({
    ports: [
      { name: 'http', port: 80 },
      { name: 'metrics', port: 9100 },
      { name: 'dns', port: 53, protocol: 'UDP' },
    ],
  });
  const ports = servedPorts(
    s,
    [
      slice(
        'a',
        [{ ip: '10.101.0.5' }],
        [
          { name: 'http', port: 8080 },
          { name: 'dns', port: 53, protocol: 'UDP' },
        ],
      ),
    ],
    loopbackFor,
  );
  assert.deepEqual(
    ports.map((p) => [p.name, p.port, p.backends.length]),
    [
      ['http', 80, 1],
      ['metrics', 9100, 0],
    ],
  );
});

test('headless and ExternalName Services get no virtual address; headless resolve to ready pods', () => {
  assert.equal(serviceKind(svc({ clusterIP: 'None', ports: [{ port: 80 }] })), 'headless');
  assert.equal(serviceKind(svc({ type: 'ExternalName' })), 'none');
  assert.equal(serviceKind(svc({ clusterIP: '10.96.0.10', ports: [{ port: 80 }] })), 'virtual');
  const h = svc({ clusterIP: 'None', ports: [{ port: 5432 }] }, 'db');
  assert.deepEqual(servedPorts(h, [], loopbackFor), []);
  assert.deepEqual(
    headlessAddresses(
      h,
      [
        slice(
          'db-1',
          [{ ip: '10.101.0.6' }, { ip: '10.101.0.5', ready: false }, { ip: '10.101.0.8' }],
          [{ port: 5432 }],
          {},
          'db',
        ),
      ],
      loopbackFor,
    ),
    ['127.1.16.6'],
  );
});
