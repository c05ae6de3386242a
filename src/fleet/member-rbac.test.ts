import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../kube/cluster-client.ts';
import { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { accessScope, identityKubeconfig } from './cluster-join.ts';
import { HUB_ACCESS_LABEL } from '../api/labels.ts';
import {
  accessChecks,
  describeCheck,
  renderMemberAccess,
  serviceRules,
  type PolicyRule,
} from './member-rbac.ts';

const rulesOf = (o: KubeObject): PolicyRule[] => (o['rules'] as PolicyRule[] | undefined) ?? [];
const byKind = (objs: KubeObject[], kind: string): KubeObject[] => objs.filter((o) => o.kind === kind);
const grants = (rules: readonly PolicyRule[], group: string, resource: string, verb: string): boolean =>
  rules.some(
    (r) =>
      (r.apiGroups?.includes(group) || r.apiGroups?.includes('*')) &&
      (r.resources?.includes(resource) || r.resources?.includes('*')) &&
      (r.verbs.includes(verb) || r.verbs.includes('*')) &&
      r.resourceNames === undefined,
  );

test('cluster-wide: deploy may do anything, the other services get precise ClusterRoles', () => {
  const objs = renderMemberAccess({ kind: 'cluster' });
  assert.deepEqual(byKind(objs, 'Role'), []);
  assert.deepEqual(byKind(objs, 'RoleBinding'), []);
  const roles = new Map(byKind(objs, 'ClusterRole').map((r) => [r.metadata.name, rulesOf(r)]));
  assert.deepEqual([...roles.keys()].sort(), [
    'meridian-hub-deploy',
    'meridian-hub-fleet',
    'meridian-hub-mesh',
    'meridian-hub-observe',
    'meridian-hub-traffic',
  ]);
  assert.deepEqual(roles.get('meridian-hub-deploy'), [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]);
  for (const [name, rules] of roles) {
    if (name === 'meridian-hub-deploy') continue;
    for (const r of rules) {
      assert.ok(!r.verbs.includes('*'), `${name}: no wildcard verbs`);
      assert.ok(!r.resources?.includes('*') && !r.apiGroups?.includes('*'), `${name}: no wildcard resources`);
      assert.ok(!r.resources?.includes('secrets'), `${name}: never Secrets`);
    }
  }
  const mesh = roles.get('meridian-hub-mesh')!;
  assert.ok(grants(mesh, 'multicluster.x-k8s.io', 'serviceexports/status', 'patch'));
  assert.ok(!grants(mesh, 'multicluster.x-k8s.io', 'serviceexports', 'create'), 'exports are the users');
  assert.ok(grants(mesh, 'discovery.k8s.io', 'endpointslices', 'create'));
  assert.ok(grants(mesh, '', 'namespaces', 'delete'));
  // CRD updates only for the two MCS CRDs.
  assert.ok(!grants(mesh, 'apiextensions.k8s.io', 'customresourcedefinitions', 'update'));
  assert.ok(
    mesh.some(
      (r) => r.resourceNames?.includes('serviceexports.multicluster.x-k8s.io') && r.verbs.includes('update'),
    ),
  );
  assert.ok(grants(roles.get('meridian-hub-observe')!, '', 'pods/log', 'get'));
  assert.ok(grants(roles.get('meridian-hub-fleet')!, '', 'nodes', 'watch'));
  assert.ok(roles.get('meridian-hub-fleet')!.some((r) => r.nonResourceURLs?.includes('/readyz')));
  for (const b of byKind(objs, 'ClusterRoleBinding'))
    assert.deepEqual(b['subjects'], [
      { kind: 'ServiceAccount', name: 'meridian-hub', namespace: 'meridian-system' },
    ]);
});

test('--namespaces: every write and every Secret read is confined to the listed namespaces', () => {
  const objs = renderMemberAccess({ kind: 'namespaces', namespaces: ['team-a', 'team-b'] });
  assert.ok(!byKind(objs, 'ClusterRole').some((r) => r.metadata.name === 'meridian-hub-deploy'));
  const roles = byKind(objs, 'Role');
  assert.deepEqual(
    roles.map((r) => `${r.metadata.namespace}/${r.metadata.name}`),
    ['team-a/meridian-hub-deploy', 'team-b/meridian-hub-deploy'],
  );
  for (const r of roles) assert.deepEqual(rulesOf(r), [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]);
  assert.equal(byKind(objs, 'RoleBinding').length, 2);
  const clusterRules = byKind(objs, 'ClusterRole').flatMap(rulesOf);
  for (const r of clusterRules) {
    assert.ok(!r.resources?.includes('secrets') && !r.resources?.includes('*'), JSON.stringify(r));
    assert.ok(
      !r.resources?.some((x) => x.includes('/')),
      `no subresources cluster-wide: ${JSON.stringify(r)}`,
    );
    const crdWrite = r.resources?.includes('customresourcedefinitions');
    if (!crdWrite && r.resources)
      assert.deepEqual(
        r.verbs.filter((v) => !['get', 'list', 'watch'].includes(v)),
        [],
        `cluster-wide reads only: ${JSON.stringify(r)}`,
      );
  }
  assert.ok(grants(clusterRules, 'discovery.k8s.io', 'endpointslices', 'list'));
  assert.ok(grants(clusterRules, '', 'namespaces', 'get'));
  assert.ok(!grants(clusterRules, '', 'namespaces', 'create'));
  assert.ok(!grants(clusterRules, '', 'services', 'create'));
  // The listed namespaces are created by the join (a RoleBinding needs its namespace).
  assert.deepEqual(
    byKind(objs, 'Namespace').map((n) => n.metadata.name),
    ['meridian-system', 'team-a', 'team-b'],
  );
});

test('a service never loses its cluster-wide reads with --namespaces', () => {
  for (const s of ['fleet', 'mesh', 'traffic', 'observe'] as const) {
    const wide = serviceRules(s, { kind: 'cluster' });
    const narrow = serviceRules(s, { kind: 'namespaces', namespaces: ['x'] });
    for (const r of wide)
      for (const g of r.apiGroups ?? [])
        for (const res of (r.resources ?? []).filter((x) => !x.includes('/')))
          if (r.verbs.includes('list') && r.resourceNames === undefined)
            assert.ok(grants(narrow, g, res, 'list'), `${s}: list ${res}`);
  }
});

test('everything join creates carries the managed-by and hub-access labels', () => {
  for (const o of renderMemberAccess({ kind: 'namespaces', namespaces: ['a'] })) {
    assert.equal(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'meridian', o.metadata.name);
    if (o.kind !== 'Namespace' || o.metadata.name === 'meridian-system')
      assert.equal(o.metadata.labels?.[HUB_ACCESS_LABEL], 'true', `${o.kind} ${o.metadata.name}`);
  }
});

test('the joining user is asked for every object it creates and every permission it grants', () => {
  const checks = accessChecks(renderMemberAccess({ kind: 'namespaces', namespaces: ['team-a'] }));
  const text = checks.map(describeCheck);
  assert.ok(text.includes('create clusterrolebindings.rbac.authorization.k8s.io (cluster-wide)'));
  assert.ok(text.includes('create rolebindings.rbac.authorization.k8s.io in namespace team-a'));
  assert.ok(
    text.includes('use every verb on every resource in namespace team-a'),
    'the deploy Role grants everything there',
  );
  assert.ok(text.includes('create secrets in namespace meridian-system'));
  assert.ok(text.includes('get /readyz (non-resource URL)'));
  assert.ok(
    text.includes(
      'update customresourcedefinitions.apiextensions.k8s.io named serviceimports.multicluster.x-k8s.io (cluster-wide)',
    ),
  );
  assert.ok(
    text.includes('get pods/log (cluster-wide)') === false,
    'logs are not read cluster-wide with --namespaces',
  );
  assert.equal(new Set(text).size, text.length, 'no duplicates');
});

test('namespaces are de-duplicated and sorted; none means the whole cluster', () => {
  assert.deepEqual(accessScope(['b', 'a', 'b']), { kind: 'namespaces', namespaces: ['a', 'b'] });
  assert.deepEqual(accessScope(undefined), { kind: 'cluster' });
  assert.deepEqual(accessScope([]), { kind: 'cluster' });
});

test("the stored kubeconfig holds the ServiceAccount's token, never the user's credentials", () => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', caData: 'Q0E=', skipTLSVerify: false }],
    users: [{ name: 'admin', certData: 'Y2VydA==', keyData: 'a2V5', token: 'user-token' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'admin' }],
    currentContext: 'ctx',
  });
  const out = identityKubeconfig(kc, 'eu-west', 'sa-token');
  assert.doesNotMatch(out, /a2V5|Y2VydA|user-token|client-key/);
  const cfg = parse(out) as {
    clusters: { cluster: Record<string, unknown> }[];
    users: { user: Record<string, unknown> }[];
  };
  assert.deepEqual(cfg.users[0]!.user, { token: 'sa-token' });
  assert.equal(cfg.clusters[0]!.cluster['server'], 'https://127.0.0.1:6443');
  assert.equal(cfg.clusters[0]!.cluster['certificate-authority-data'], 'Q0E=');
});
