import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../kube/cluster-client.ts';
import { derivedServiceName } from './endpoint-plan.ts';
import { namespaceBlockers } from './namespace-cleanup.ts';

const obj = (apiVersion: string, kind: string, name: string, over: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion,
  kind,
  ...over,
  metadata: { name, namespace: 'shop', ...(over.metadata ?? {}) },
});
const MERIDIAN = { 'app.kubernetes.io/managed-by': 'meridian' };
const derived = derivedServiceName('shop', 'app2');
const meshObjects = (service: string): KubeObject[] => [
  obj('multicluster.x-k8s.io/v1beta1', 'ServiceImport', service, {
    metadata: { name: service, labels: MERIDIAN },
  }),
  obj('v1', 'Service', derivedServiceName('shop', service), {
    metadata: {
      name: derivedServiceName('shop', service),
      labels: {
        ...MERIDIAN,
        'meridian.dev/mcs-derived': 'true',
        'multicluster.kubernetes.io/service-name': service,
      },
      managedFields: [{ manager: 'meridian', operation: 'Apply' }],
    },
    spec: { type: 'ClusterIP', ports: [{ port: 80 }] },
  }),
  obj('discovery.k8s.io/v1', 'EndpointSlice', `${service}-mcs-eu-west`, {
    metadata: {
      name: `${service}-mcs-eu-west`,
      labels: {
        'endpointslice.kubernetes.io/managed-by': 'meridian.dev',
        'multicluster.kubernetes.io/service-name': service,
      },
    },
  }),
];
const defaults = [
  obj('v1', 'ConfigMap', 'kube-root-ca.crt'),
  obj('v1', 'ServiceAccount', 'default'),
  obj('v1', 'Event', 'app2.17f'),
  obj('events.k8s.io/v1', 'Event', 'app2.17f'),
];
const names = (os: KubeObject[]) => os.map((o) => `${o.kind}/${o.metadata.name}`);

test("a namespace holding only the mesh's objects of the service and the defaults may go", () => {
  assert.deepEqual(namespaceBlockers([...meshObjects('app2'), ...defaults], 'app2'), []);
  assert.equal(meshObjects('app2')[1]?.metadata.name, derived);
});

test("any object Meridian's mesh did not create keeps the namespace, whatever its kind", () => {
  const user = [
    obj('apps/v1', 'Deployment', 'web'),
    obj('v1', 'ConfigMap', 'settings'),
    obj('v1', 'Secret', 'password', { type: 'Opaque' }),
    obj('v1', 'ServiceAccount', 'builder'),
    obj('multicluster.x-k8s.io/v1beta1', 'ServiceExport', 'app2'),
    obj('example.com/v1', 'Widget', 'w'),
    // Applied by Meridian's deploy service: managed-by meridian, but not the mesh's.
    obj('v1', 'ConfigMap', 'app-config', { metadata: { name: 'app-config', labels: MERIDIAN } }),
  ];
  assert.deepEqual(
    names(namespaceBlockers([...meshObjects('app2'), ...defaults, ...user], 'app2')),
    names(user),
  );
});

test("a user's Service over a derived one is the user's: a selector, or another field manager", () => {
  const [, svc] = meshObjects('app2') as [KubeObject, KubeObject];
  const withSelector = { ...svc, spec: { selector: { app: 'x' }, ports: [{ port: 80 }] } };
  const edited = {
    ...svc,
    metadata: {
      ...svc.metadata,
      managedFields: [{ manager: 'meridian' }, { manager: 'kubectl-client-side-apply' }],
    },
  };
  assert.equal(namespaceBlockers([withSelector], 'app2').length, 1);
  assert.equal(namespaceBlockers([edited], 'app2').length, 1);
});

test("the mesh's objects of another imported service keep the namespace", () => {
  assert.deepEqual(
    names(namespaceBlockers([...meshObjects('app2'), ...meshObjects('db')], 'app2')),
    names(meshObjects('db')),
  );
});
