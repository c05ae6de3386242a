import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  corednsRbac,
  corefileSnippet,
  DEFAULT_COREDNS_OPTIONS,
  parseServiceAccount,
  parseZone,
} from './coredns-config.ts';

test('the Corefile line serves the chosen zone with the multicluster plugin', () => {
  assert.match(corefileSnippet(DEFAULT_COREDNS_OPTIONS), /^multicluster clusterset\.local$/m);
  const custom = { ...DEFAULT_COREDNS_OPTIONS, zone: parseZone('fleet.example.') };
  assert.match(corefileSnippet(custom), /^multicluster fleet\.example$/m);
});

test('RBAC grants CoreDNS list and watch on ServiceImports and EndpointSlices, nothing else', () => {
  const [role, binding] = corednsRbac({
    ...DEFAULT_COREDNS_OPTIONS,
    serviceAccount: parseServiceAccount('dns/resolver'),
  }) as unknown as [Record<string, unknown>, Record<string, unknown>];
  assert.deepEqual(role['rules'], [
    { apiGroups: ['multicluster.x-k8s.io'], resources: ['serviceimports'], verbs: ['list', 'watch'] },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
  ]);
  assert.deepEqual(binding['subjects'], [{ kind: 'ServiceAccount', namespace: 'dns', name: 'resolver' }]);
  assert.equal((binding['roleRef'] as { name: string }).name, (role['metadata'] as { name: string }).name);
});

test('a bad zone or ServiceAccount is refused naming the option', () => {
  for (const z of ['', 'Upper.case', 'a..b', '-x.local', `${'a'.repeat(64)}.local`])
    assert.throws(() => parseZone(z), /--zone: /, z);
  for (const sa of ['coredns', 'kube-system/', '/coredns', 'a/b/c', 'Kube/x'])
    assert.throws(() => parseServiceAccount(sa), /--service-account: /, sa);
});
