import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { KubeObject } from '../kube/cluster-client.ts';
import { APPLICATION_LABEL } from '../api/labels.ts';
import {
  applicationLabelValue,
  canonicalJson,
  digestObjects,
  foreignOwner,
  sortForApply,
  stampOwnership,
  stampRevision,
} from './ownership.ts';
import type { OwnershipContext } from './ownership.ts';

const NAMESPACED: Record<string, boolean> = {
  'v1/ConfigMap': true,
  'v1/Service': true,
  'apps/v1/Deployment': true,
  'v1/Namespace': false,
  'rbac.authorization.k8s.io/v1/ClusterRole': false,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': false,
};
const ctx: OwnershipContext = {
  application: { namespace: 'team-a', name: 'shop' },
  destinationNamespace: 'shop',
  cluster: 'eu-west',
  isNamespaced: (apiVersion, kind) => NAMESPACED[`${apiVersion}/${kind}`],
};
const obj = (apiVersion: string, kind: string, name: string, namespace?: string): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
});

test('labels every object and puts namespaced objects without a namespace in the destination', () => {
  const out = stampOwnership(
    [
      {
        ...obj('v1', 'ConfigMap', 'a'),
        metadata: { name: 'a', labels: { app: 'x', 'app.kubernetes.io/managed-by': 'Helm' } },
      },
      obj('v1', 'ConfigMap', 'b', 'elsewhere'),
      obj('rbac.authorization.k8s.io/v1', 'ClusterRole', 'r', 'ignored'),
    ],
    ctx,
  );
  assert.deepEqual(out.errors, []);
  assert.deepEqual(
    out.objects.map((o) => [o.kind, o.metadata.namespace, o.metadata.labels]),
    [
      [
        'ClusterRole',
        undefined,
        { 'app.kubernetes.io/managed-by': 'meridian', 'meridian.dev/application': 'team-a.shop' },
      ],
      [
        'ConfigMap',
        'elsewhere',
        { 'app.kubernetes.io/managed-by': 'meridian', 'meridian.dev/application': 'team-a.shop' },
      ],
      [
        'ConfigMap',
        'shop',
        { app: 'x', 'app.kubernetes.io/managed-by': 'meridian', 'meridian.dev/application': 'team-a.shop' },
      ],
    ],
  );
});

test('an unknown kind is an UnknownKind error naming kind, apiVersion, cluster and object', () => {
  const out = stampOwnership([obj('example.com/v1', 'Widget', 'w'), obj('v1', 'ConfigMap', 'c')], ctx);
  assert.deepEqual(out.errors, [
    {
      code: 'UnknownKind',
      cluster: 'eu-west',
      object: 'Widget w',
      message: 'unknown kind Widget (apiVersion example.com/v1) in cluster eu-west',
    },
  ]);
});

test('a kind defined by a CRD in the same render takes the scope the CRD declares', () => {
  const crd: KubeObject = {
    ...obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'widgets.example.com'),
    spec: { group: 'example.com', scope: 'Namespaced', names: { kind: 'Widget', plural: 'widgets' } },
  };
  const out = stampOwnership([obj('example.com/v1', 'Widget', 'w'), crd], ctx);
  assert.deepEqual(out.errors, []);
  assert.equal(out.objects.find((o) => o.kind === 'Widget')?.metadata.namespace, 'shop');
});

test('the same object rendered twice is a DuplicateObject error', () => {
  const out = stampOwnership([obj('v1', 'ConfigMap', 'a'), obj('v1', 'ConfigMap', 'a', 'shop')], ctx);
  assert.deepEqual(
    out.errors.map((e) => [e.code, e.object]),
    [['DuplicateObject', 'ConfigMap shop/a']],
  );
});

test('orders CRDs, Namespaces, cluster-scoped, then namespaced objects (what pods consume first) by kind, namespace, name', () => {
  const sorted = sortForApply([
    obj('v1', 'Secret', 's', 'x'),
    obj('v1', 'Service', 'b', 'x'),
    obj('apps/v1', 'Deployment', 'a', 'x'),
    obj('v1', 'Service', 'a', 'x'),
    obj('v1', 'ConfigMap', 'z', 'a'),
    obj('rbac.authorization.k8s.io/v1', 'ClusterRole', 'r'),
    obj('v1', 'Namespace', 'x'),
    obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'w.example.com'),
  ]);
  assert.deepEqual(
    sorted.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`),
    [
      'CustomResourceDefinition//w.example.com',
      'Namespace//x',
      'ClusterRole//r',
      'Secret/x/s',
      'ConfigMap/a/z',
      'Service/x/a',
      'Service/x/b',
      'Deployment/x/a',
    ],
  );
});

test('the digest ignores key order and object order but sees every value', () => {
  const a = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'a', namespace: 's' },
    data: { x: '1', y: '2' },
  };
  const aReordered = {
    data: { y: '2', x: '1' },
    metadata: { namespace: 's', name: 'a' },
    kind: 'ConfigMap',
    apiVersion: 'v1',
  };
  const b = obj('v1', 'Service', 'b', 's');
  assert.equal(digestObjects([a, b]), digestObjects([b, aReordered]));
  assert.notEqual(digestObjects([a, b]), digestObjects([{ ...a, data: { x: '1', y: '3' } }, b]));
  assert.match(digestObjects([]), /^[0-9a-f]{64}$/);
  assert.equal(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] }), '{"a":[{"c":2,"d":1}],"b":1}');
});

test('the digest keeps its kind-name order when the apply order puts Secrets before Deployments', () => {
  const deployment = obj('apps/v1', 'Deployment', 'web', 's');
  const secret = obj('v1', 'Secret', 'creds', 's');
  assert.deepEqual(
    sortForApply([deployment, secret]).map((o) => o.kind),
    ['Secret', 'Deployment'],
  );
  // Revisions recorded before the apply order changed keep their digests (no spurious revision).
  const expected = createHash('sha256')
    .update(canonicalJson([deployment, secret]))
    .digest('hex');
  assert.equal(digestObjects([secret, deployment]), expected);
});

test('the revision annotation is added without touching the input', () => {
  const input = [obj('v1', 'ConfigMap', 'a', 's')];
  const out = stampRevision(input, 7);
  assert.deepEqual(out[0]?.metadata.annotations, { 'meridian.dev/revision': '7' });
  assert.equal(input[0]?.metadata.annotations, undefined);
});

test('long application label values stay valid and unique', () => {
  const long = applicationLabelValue('team-a', 'x'.repeat(80));
  assert.equal(long.length, 63);
  assert.match(long, /^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/);
  assert.notEqual(long, applicationLabelValue('team-a', `${'x'.repeat(79)}y`));
  assert.equal(applicationLabelValue('team-a', 'shop'), 'team-a.shop');
});

test('foreignOwner names another Application, or the other tools that wrote an unlabelled object', () => {
  const live = (labels?: Record<string, string>, managers: string[] = []) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: 'c',
      ...(labels ? { labels } : {}),
      managedFields: managers.map((manager) => ({ manager, operation: 'Apply' })),
    },
  });
  const ours = applicationLabelValue('team-a', 'shop');
  assert.equal(
    foreignOwner(live({ [APPLICATION_LABEL]: ours }, ['meridian', 'kubectl-edit']), ours),
    undefined,
  );
  assert.equal(
    foreignOwner(live({ [APPLICATION_LABEL]: 'team-b.web' }, ['meridian']), ours),
    'Application team-b/web',
  );
  assert.equal(
    foreignOwner(live(undefined, ['kubectl-client-side-apply', 'kube-controller-manager']), ours),
    'field managers kubectl-client-side-apply, kube-controller-manager',
  );
  assert.equal(foreignOwner(live(undefined, ['meridian']), ours), undefined);
});
