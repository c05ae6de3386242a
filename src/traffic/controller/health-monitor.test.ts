import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readyOfLeastServed, type EndpointSlice } from './health-monitor.ts';

function slice(
  namespace: string,
  service: string,
  ready: (boolean | undefined)[],
  managedBy = 'endpointslice-controller.k8s.io',
): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${service}-${Math.random().toString(36).slice(2, 7)}`,
      namespace,
      labels: {
        'kubernetes.io/service-name': service,
        'endpointslice.kubernetes.io/managed-by': managedBy,
      },
    },
    endpoints: ready.map((r) => (r === undefined ? {} : { conditions: { ready: r } })),
  };
}

test('ready endpoints are those of the least-served Service, summed over its slices', () => {
  const slices = [
    slice('shop', 'web', [true, true]),
    slice('shop', 'web', [true, undefined]),
    slice('shop', 'api', [true, false]),
  ];
  assert.equal(readyOfLeastServed(slices, 'shop', ['web']), 4);
  assert.equal(readyOfLeastServed(slices, 'shop', ['web', 'api']), 1);
});

test('a Service without any slice counts as none ready', () => {
  assert.equal(readyOfLeastServed([slice('shop', 'web', [true])], 'shop', ['web', 'missing']), 0);
});

test('slices of other namespaces, other Services and the mesh import are not this cluster’s replicas', () => {
  const slices = [
    slice('other', 'web', [true, true, true]),
    slice('shop', 'web', [true]),
    slice('shop', 'web', [true, true], 'meridian.dev'),
    slice('shop', 'cache', [true]),
  ];
  assert.equal(readyOfLeastServed(slices, 'shop', ['web']), 1);
});
