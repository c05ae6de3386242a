import assert from 'node:assert/strict';
import { test } from 'node:test';
import { API_VERSION } from './group.ts';
import { assertValidResource, InvalidResourceError, validateResource } from './validate.ts';
import type { KindName } from './kinds.ts';

const secretRef = { namespace: 'meridian-system', name: 'eu-west-kubeconfig', key: 'kubeconfig' };

function cluster(spec: Record<string, unknown>) {
  return { apiVersion: API_VERSION, kind: 'Cluster', metadata: { name: 'eu-west' }, spec };
}
const goodClusterSpec = { kubeconfigSecretRef: secretRef, region: 'eu-west-1' };

function application(spec: Record<string, unknown>) {
  return {
    apiVersion: API_VERSION,
    kind: 'Application',
    metadata: { name: 'shop', namespace: 'team-a' },
    spec,
  };
}
const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { a: '1' } };

function globalIngress(spec: Record<string, unknown>) {
  return {
    apiVersion: API_VERSION,
    kind: 'GlobalIngress',
    metadata: { name: 'shop', namespace: 'team-a' },
    spec,
  };
}
const goodIngressSpec = {
  hosts: ['shop.example.com'],
  rules: [{ path: '/', service: 'frontend', port: 8080 }],
  applicationRef: { name: 'shop' },
};

function rejection(kind: KindName, obj: unknown): { field: string; message: string } {
  const result = validateResource(kind, obj);
  assert.equal(result.ok, false, `expected ${kind} to be rejected`);
  if (result.ok) throw new Error('unreachable');
  assert.equal(result.code, 'Invalid');
  assert.doesNotMatch(result.message, /\n/, 'message must be one line');
  return { field: result.field, message: result.message };
}

test('accepts a good Cluster and applies schema defaults to a copy', () => {
  const input = cluster({
    ...goodClusterSpec,
    zone: 'eu-west-1a',
    context: 'kind-eu',
    ingress: { addresses: ['127.0.0.1', '::1'] },
    eastWestGateway: { address: '127.0.0.2', port: 15443 },
    observability: { prometheusURL: 'http://127.0.0.1:9090' },
  });
  const result = validateResource('Cluster', input);
  assert.ok(result.ok, result.ok ? '' : result.message);
  assert.equal(result.value.spec.ingress?.port, 443);
  assert.equal((input.spec['ingress'] as { port?: number }).port, undefined, 'input is not mutated');
});

test('rejects a Cluster without region, naming the field', () => {
  const { field, message } = rejection('Cluster', cluster({ kubeconfigSecretRef: secretRef }));
  assert.equal(field, 'spec.region');
  assert.equal(message, 'Cluster eu-west: spec.region: is required');
});

test('rejects a Cluster region that is not a DNS label', () => {
  const { field, message } = rejection('Cluster', cluster({ ...goodClusterSpec, region: 'EU West' }));
  assert.equal(field, 'spec.region');
  assert.match(message, /^Cluster eu-west: spec\.region: must match \^\[a-z0-9\].* got "EU West"$/);
});

test('rejects a Cluster ingress port out of range', () => {
  const obj = cluster({ ...goodClusterSpec, ingress: { addresses: ['127.0.0.1'], port: 70000 } });
  assert.deepEqual(rejection('Cluster', obj), {
    field: 'spec.ingress.port',
    message: 'Cluster eu-west: spec.ingress.port: must be at most 65535, got 70000',
  });
  const zero = cluster({ ...goodClusterSpec, eastWestGateway: { address: '127.0.0.1', port: 0 } });
  assert.equal(rejection('Cluster', zero).field, 'spec.eastWestGateway.port');
});

test('rejects an ingress address that is not an IP, at its index', () => {
  const obj = cluster({ ...goodClusterSpec, ingress: { addresses: ['127.0.0.1', 'eu.example.com'] } });
  assert.deepEqual(rejection('Cluster', obj), {
    field: 'spec.ingress.addresses[1]',
    message:
      'Cluster eu-west: spec.ingress.addresses[1]: must be an IPv4 or IPv6 address, got "eu.example.com"',
  });
});

test('rejects unknown fields, the wrong kind and non-objects', () => {
  assert.equal(
    rejection('Cluster', cluster({ ...goodClusterSpec, regoin: 'x' })).message,
    'Cluster eu-west: spec.regoin: unknown field',
  );
  const wrongKind = { ...cluster(goodClusterSpec), kind: 'Application' };
  assert.equal(rejection('Cluster', wrongKind).field, 'kind');
  assert.equal(rejection('Cluster', 'nope').message, 'Cluster: must be an object, got "nope"');
});

test('accepts each Application source flavour', () => {
  const sources = [
    { manifests: [configMap] },
    { kustomize: { path: 'overlays/prod' } },
    {
      helm: {
        chart: 'shop',
        version: '1.2.3',
        repoURL: 'https://charts.example.com',
        values: { replicas: 2 },
      },
    },
    { git: { url: 'https://git.example.com/shop.git', ref: 'main', path: 'deploy', kustomize: {} } },
    { git: { url: 'https://git.example.com/shop.git', helm: { values: { a: { b: [1] } } } } },
  ];
  for (const source of sources) {
    const result = validateResource(
      'Application',
      application({ source, placement: { clusters: ['eu-west'] } }),
    );
    assert.ok(result.ok, result.ok ? '' : result.message);
  }
});

test('accepts a full Application and defaults its policies', () => {
  const result = validateResource(
    'Application',
    application({
      source: { manifests: [configMap] },
      destinationNamespace: 'shop',
      placement: {
        clusterSelector: {
          matchLabels: { tier: 'prod' },
          matchExpressions: [{ key: 'region', operator: 'Exists' }],
        },
      },
      overrides: [
        {
          clusters: ['us-east'],
          patches: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' } }],
        },
      ],
      rollout: {
        strategy: 'Waves',
        waves: [{ clusters: ['eu-west'] }, { clusterSelector: {} }],
        maxUnavailableClusters: 1,
      },
      rollback: { automatic: true, when: ['AnyClusterFailed'] },
      sync: {},
    }),
  );
  assert.ok(result.ok, result.ok ? '' : result.message);
  assert.deepEqual(result.value.spec.sync, {
    selfHeal: true,
    prune: true,
    force: false,
    adopt: false,
    replace: false,
  });
  assert.equal(result.value.spec.rollout?.progressDeadlineSeconds, 600);
});

test('reports the missing field inside the chosen source, not a vague union error', () => {
  const obj = application({ source: { helm: { version: '1.0.0' } }, placement: { clusters: ['eu-west'] } });
  assert.equal(
    rejection('Application', obj).message,
    'Application team-a/shop: spec.source.helm.chart: is required',
  );
});

test('rejects a source that sets two flavours or none', () => {
  const two = application({
    source: { helm: { chart: 'x' }, kustomize: { path: '.' } },
    placement: { clusters: ['a'] },
  });
  assert.deepEqual(rejection('Application', two), {
    field: 'spec.source',
    message:
      'Application team-a/shop: spec.source: exactly one of manifests, kustomize, helm, git must be set (found kustomize and helm)',
  });
  const gitWithout = application({ source: { git: { url: 'https://x' } }, placement: { clusters: ['a'] } });
  assert.equal(rejection('Application', gitWithout).field, 'spec.source.git');
});

test('names a bad placement cluster by index', () => {
  const obj = application({
    source: { manifests: [configMap] },
    placement: { clusters: ['eu-west', 'EU_West'] },
  });
  assert.equal(rejection('Application', obj).field, 'spec.placement.clusters[1]');
  const duplicate = application({
    source: { manifests: [configMap] },
    placement: { clusters: ['a', 'b', 'a'] },
  });
  assert.deepEqual(rejection('Application', duplicate), {
    field: 'spec.placement.clusters[2]',
    message: 'Application team-a/shop: spec.placement.clusters[2]: duplicate value "a"',
  });
});

test('enforces the Application rules the CRD states in CEL', () => {
  const base = { source: { manifests: [configMap] }, placement: { clusters: ['a'] } };
  assert.deepEqual(rejection('Application', application({ ...base, rollout: { strategy: 'Waves' } })), {
    field: 'spec.rollout',
    message: 'Application team-a/shop: spec.rollout: waves must be set when strategy is Waves',
  });
  assert.equal(rejection('Application', application({ ...base, placement: {} })).field, 'spec.placement');
  const bothTargets = { ...base, overrides: [{ clusters: ['a'], clusterSelector: {} }] };
  assert.equal(rejection('Application', application(bothTargets)).field, 'spec.overrides[0]');
  const inWithoutValues = {
    ...base,
    placement: { clusterSelector: { matchExpressions: [{ key: 'k', operator: 'In' }] } },
  };
  assert.equal(
    rejection('Application', application(inWithoutValues)).field,
    'spec.placement.clusterSelector.matchExpressions[0]',
  );
});

test('rejects an inline manifest without kind', () => {
  const obj = application({ source: { manifests: [{ apiVersion: 'v1' }] }, placement: { clusters: ['a'] } });
  assert.equal(rejection('Application', obj).field, 'spec.source.manifests[0].kind');
});

test('accepts a good GlobalIngress and defaults its strategy and DNS', () => {
  const result = validateResource(
    'GlobalIngress',
    globalIngress({ ...goodIngressSpec, dns: {}, healthCheck: { path: '/ready' } }),
  );
  assert.ok(result.ok, result.ok ? '' : result.message);
  assert.deepEqual(result.value.spec.strategy, { type: 'RoundRobin' });
  assert.equal(result.value.spec.dns?.ttlSeconds, 30);
  assert.equal(result.value.spec.healthCheck?.intervalSeconds, 10);
});

test('rejects a GlobalIngress with empty hosts', () => {
  assert.deepEqual(rejection('GlobalIngress', globalIngress({ ...goodIngressSpec, hosts: [] })), {
    field: 'spec.hosts',
    message: 'GlobalIngress team-a/shop: spec.hosts: must have at least 1 item',
  });
});

test('rejects a bad or duplicate host name at its index', () => {
  const bad = globalIngress({ ...goodIngressSpec, hosts: ['shop.example.com', 'Shop_Example'] });
  assert.equal(rejection('GlobalIngress', bad).field, 'spec.hosts[1]');
  const duplicate = globalIngress({ ...goodIngressSpec, hosts: ['a.example.com', 'a.example.com'] });
  assert.deepEqual(rejection('GlobalIngress', duplicate), {
    field: 'spec.hosts[1]',
    message: 'GlobalIngress team-a/shop: spec.hosts[1]: duplicate value "a.example.com"',
  });
});

test('rejects an unknown balancing strategy, listing the allowed ones', () => {
  const obj = globalIngress({ ...goodIngressSpec, strategy: { type: 'Random' } });
  assert.deepEqual(rejection('GlobalIngress', obj), {
    field: 'spec.strategy.type',
    message:
      'GlobalIngress team-a/shop: spec.strategy.type: must be one of Failover, RoundRobin, Weighted, Geo, got "Random"',
  });
});

test('rejects a Weighted strategy without a positive weight', () => {
  for (const strategy of [{ type: 'Weighted' }, { type: 'Weighted', weights: { 'eu-west': 0 } }]) {
    const { field, message } = rejection('GlobalIngress', globalIngress({ ...goodIngressSpec, strategy }));
    assert.equal(field, 'spec.strategy');
    assert.match(message, /weights must give at least one cluster a weight above 0/);
  }
  const negative = globalIngress({
    ...goodIngressSpec,
    strategy: { type: 'Weighted', weights: { 'eu-west': -1 } },
  });
  assert.equal(rejection('GlobalIngress', negative).field, 'spec.strategy.weights.eu-west');
  const ok = globalIngress({
    ...goodIngressSpec,
    strategy: { type: 'Weighted', weights: { 'eu-west': 3, 'us-east': 1 } },
  });
  assert.ok(validateResource('GlobalIngress', ok).ok);
});

test('rejects a GlobalIngress with both placement and applicationRef, or neither', () => {
  const both = globalIngress({ ...goodIngressSpec, placement: { clusters: ['a'] } });
  assert.match(
    rejection('GlobalIngress', both).message,
    /^GlobalIngress team-a\/shop: spec: set exactly one of placement or applicationRef$/,
  );
  const { applicationRef: _unused, ...neither } = goodIngressSpec;
  assert.equal(rejection('GlobalIngress', globalIngress(neither)).field, 'spec');
});

test('rejects GlobalIngress health checks and TTLs out of range', () => {
  const slow = globalIngress({ ...goodIngressSpec, healthCheck: { intervalSeconds: 5, timeoutSeconds: 10 } });
  assert.equal(rejection('GlobalIngress', slow).field, 'spec.healthCheck');
  const zero = globalIngress({ ...goodIngressSpec, healthCheck: { unhealthyThreshold: 0 } });
  assert.equal(rejection('GlobalIngress', zero).field, 'spec.healthCheck.unhealthyThreshold');
  const ttl = globalIngress({ ...goodIngressSpec, dns: { ttlSeconds: 86401 } });
  assert.equal(rejection('GlobalIngress', ttl).field, 'spec.dns.ttlSeconds');
});

test('validates TrafficPolicy and ApplicationRevision', () => {
  const policy = {
    apiVersion: API_VERSION,
    kind: 'TrafficPolicy',
    metadata: { name: 'checkout', namespace: 'team-a' },
    spec: { service: 'checkout', failover: { order: ['eu-west', 'us-east'] } },
  };
  const accepted = validateResource('TrafficPolicy', policy);
  assert.ok(accepted.ok);
  assert.equal(accepted.value.spec.locality, 'PreferLocal');
  assert.equal(accepted.value.spec.failover?.minReadyLocal, 1);
  const bad = { ...policy, spec: { service: 'checkout', locality: 'Nearest' } };
  assert.equal(rejection('TrafficPolicy', bad).field, 'spec.locality');

  const revision = {
    apiVersion: API_VERSION,
    kind: 'ApplicationRevision',
    metadata: { name: 'shop-3', namespace: 'team-a' },
    spec: {
      application: 'shop',
      revision: 3,
      digest: `sha256:${'a'.repeat(64)}`,
      clusters: { 'eu-west': [configMap] },
    },
    status: { outcome: 'Succeeded' },
  };
  assert.ok(validateResource('ApplicationRevision', revision).ok);
  const badDigest = { ...revision, spec: { ...revision.spec, digest: 'md5:abc' } };
  assert.equal(rejection('ApplicationRevision', badDigest).field, 'spec.digest');
});

test('validates status written by controllers, including conditions', () => {
  const obj = {
    ...cluster(goodClusterSpec),
    status: {
      conditions: [
        {
          type: 'Ready',
          status: 'Maybe',
          reason: 'Probed',
          message: '',
          lastTransitionTime: '2025-01-01T00:00:00Z',
        },
      ],
    },
  };
  assert.equal(rejection('Cluster', obj).field, 'status.conditions[0].status');
  const good = {
    ...obj,
    status: { ...obj.status, conditions: [{ ...obj.status.conditions[0], status: 'True' }] },
  };
  assert.ok(validateResource('Cluster', good).ok);
});

test('assertValidResource throws an error carrying code and field', () => {
  assert.throws(
    () => assertValidResource('Cluster', cluster({ kubeconfigSecretRef: secretRef })),
    (error: unknown) =>
      error instanceof InvalidResourceError && error.code === 'Invalid' && error.field === 'spec.region',
  );
});

test('reports every problem of an Application, each naming its field, the first as the message', () => {
  const result = validateResource('Application', {
    apiVersion: 'meridian.dev/v1alpha1',
    kind: 'Application',
    metadata: { name: 'shop', namespace: 'team-a' },
    spec: {
      source: { helm: { chart: 'shop' } },
      placement: { clusters: ['eu-west'] },
      revisionHistoryLimit: 0,
      sync: { selfHeal: 'yes' },
    },
  });
  assert.ok(!result.ok);
  assert.equal(result.message, result.messages[0]);
  assert.ok(
    result.messages.some((m) => m.includes('spec.revisionHistoryLimit')),
    result.messages.join('\n'),
  );
  assert.ok(
    result.messages.some((m) => m.includes('spec.sync.selfHeal')),
    result.messages.join('\n'),
  );
});
