import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareExportAge, mergeExports } from './port-merge.ts';
import type { ExportedService } from './mesh-types.ts';

function exported(cluster: string, createdAt: string, over: Partial<ExportedService> = {}): ExportedService {
  return {
    cluster,
    createdAt,
    type: 'ClusterSetIP',
    ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
    ...over,
  };
}
const T1 = '2025-01-01T10:00:00Z';
const T2 = '2025-01-01T11:00:00Z';
const T3 = '2025-01-01T12:00:00Z';

test('no exports merge to nothing', () => {
  assert.equal(mergeExports([]), undefined);
});

test('identical exports merge to one port and no conflicts', () => {
  const merged = mergeExports([exported('us-1', T2), exported('eu-1', T1)]);
  assert.deepEqual(merged, {
    type: 'ClusterSetIP',
    ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
    sessionAffinity: 'None',
    labels: {},
    annotations: {},
    serviceFields: {},
    exports: [
      { cluster: 'eu-1', conflicts: [] },
      { cluster: 'us-1', conflicts: [] },
    ],
  });
});

test('session affinity, its timeout, exported labels and annotations: the oldest export wins, the others conflict', () => {
  const merged = mergeExports([
    exported('a', T1, {
      sessionAffinity: 'ClientIP',
      affinityTimeoutSeconds: 300,
      exportedLabels: { tier: 'web' },
      exportedAnnotations: { note: 'x' },
    }),
    exported('b', T2, {
      sessionAffinity: 'ClientIP',
      affinityTimeoutSeconds: 600,
      exportedLabels: { tier: 'web' },
      exportedAnnotations: { note: 'x' },
    }),
    exported('c', T3, { exportedLabels: { tier: 'api' }, exportedAnnotations: { note: 'x', more: 'y' } }),
  ]);
  assert.equal(merged?.sessionAffinity, 'ClientIP');
  assert.equal(merged?.affinityTimeoutSeconds, 300);
  assert.deepEqual(merged?.labels, { tier: 'web' });
  assert.deepEqual(merged?.annotations, { note: 'x' });
  const reasons = (c: string) => merged?.exports.find((e) => e.cluster === c)?.conflicts.map((x) => x.reason);
  assert.deepEqual(reasons('a'), []);
  assert.deepEqual(reasons('b'), ['SessionAffinityConfigConflict']);
  assert.deepEqual(reasons('c'), ['SessionAffinityConflict', 'LabelsConflict', 'AnnotationsConflict']);
  assert.match(
    merged?.exports.find((e) => e.cluster === 'b')?.conflicts[0]?.message ?? '',
    /ClientIP affinity timeout 600s conflicts with 300s in cluster a, whose export is older and wins/,
  );
  // The same labels in another key order are no conflict.
  const same = mergeExports([
    exported('a', T1, { exportedLabels: { x: '1', y: '2' } }),
    exported('b', T2, { exportedLabels: { y: '2', x: '1' } }),
  ]);
  assert.deepEqual(
    same?.exports.flatMap((e) => e.conflicts),
    [],
  );
});

test('ports are the union, in the order the oldest exports define them; targetPort is not merged', () => {
  const merged = mergeExports([
    exported('b', T2, {
      ports: [
        { name: 'grpc', protocol: 'TCP', port: 9090 },
        { name: 'http', port: 80 },
      ],
    }),
    exported('a', T1, { ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }] }),
    exported('c', T3, { ports: [{ name: 'metrics', protocol: 'TCP', port: 9100, appProtocol: 'http' }] }),
  ]);
  assert.deepEqual(merged?.ports, [
    { name: 'http', protocol: 'TCP', port: 80 },
    { name: 'grpc', protocol: 'TCP', port: 9090 },
    { name: 'metrics', protocol: 'TCP', appProtocol: 'http', port: 9100 },
  ]);
  assert.ok(merged?.exports.every((e) => e.conflicts.length === 0));
});

test('protocol defaults to TCP, so an explicit TCP and an omitted one are the same port', () => {
  const merged = mergeExports([
    exported('a', T1, { ports: [{ name: 'http', port: 80 }] }),
    exported('b', T2, { ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }),
  ]);
  assert.deepEqual(merged?.ports, [{ name: 'http', protocol: 'TCP', port: 80 }]);
  assert.deepEqual(merged?.exports[1]?.conflicts, []);
});

test('same port name with another number: the oldest export wins and the newer one is told why', () => {
  const merged = mergeExports([
    exported('us-1', T2, { ports: [{ name: 'http', protocol: 'TCP', port: 8080 }] }),
    exported('eu-1', T1),
  ]);
  assert.deepEqual(merged?.ports, [{ name: 'http', protocol: 'TCP', port: 80 }]);
  assert.deepEqual(merged?.exports[0], { cluster: 'eu-1', conflicts: [] });
  const loser = merged?.exports[1];
  assert.equal(loser?.cluster, 'us-1');
  assert.equal(loser?.conflicts.length, 1);
  assert.equal(loser?.conflicts[0]?.reason, 'PortConflict');
  assert.equal(
    loser?.conflicts[0]?.message,
    'port "http" is 8080/TCP here but 80/TCP in cluster eu-1, whose export is older and wins',
  );
});

test('same port name with another protocol or appProtocol is a conflict too', () => {
  const udp = mergeExports([
    exported('a', T1),
    exported('b', T2, { ports: [{ name: 'http', protocol: 'UDP', port: 80 }] }),
  ]);
  assert.match(
    udp?.exports[1]?.conflicts[0]?.message ?? '',
    /port "http" is 80\/UDP here but 80\/TCP in cluster a/,
  );
  const app = mergeExports([
    exported('a', T1, { ports: [{ name: 'web', port: 80, appProtocol: 'http' }] }),
    exported('b', T2, { ports: [{ name: 'web', port: 80, appProtocol: 'kubernetes.io/h2c' }] }),
  ]);
  assert.equal(app?.exports[1]?.conflicts[0]?.reason, 'PortConflict');
  assert.match(
    app?.exports[1]?.conflicts[0]?.message ?? '',
    /appProtocol kubernetes\.io\/h2c.*appProtocol http/,
  );
  assert.deepEqual(app?.ports, [{ name: 'web', protocol: 'TCP', appProtocol: 'http', port: 80 }]);
});

test('a port/protocol pair under a second name is a conflict: a Service cannot hold both', () => {
  const merged = mergeExports([
    exported('a', T1),
    exported('b', T2, { ports: [{ name: 'web', protocol: 'TCP', port: 80 }] }),
  ]);
  assert.deepEqual(merged?.ports, [{ name: 'http', protocol: 'TCP', port: 80 }]);
  assert.equal(
    merged?.exports[1]?.conflicts[0]?.message,
    'port "web" (80/TCP) uses the port of port "http" from cluster a, whose export is older and wins',
  );
  // The same number on another protocol is a different port.
  const dns = mergeExports([
    exported('a', T1, { ports: [{ name: 'dns', protocol: 'UDP', port: 53 }] }),
    exported('b', T2, { ports: [{ name: 'dns-tcp', protocol: 'TCP', port: 53 }] }),
  ]);
  assert.equal(dns?.ports.length, 2);
  assert.deepEqual(dns?.exports[1]?.conflicts, []);
});

test('an unnamed port merges with an identical unnamed port but not with named ones', () => {
  const same = mergeExports([
    exported('a', T1, { ports: [{ port: 80 }] }),
    exported('b', T2, { ports: [{ port: 80 }] }),
  ]);
  assert.deepEqual(same?.ports, [{ protocol: 'TCP', port: 80 }]);
  assert.deepEqual(same?.exports[1]?.conflicts, []);
  const other = mergeExports([
    exported('a', T1, { ports: [{ port: 80 }] }),
    exported('b', T2, { ports: [{ port: 81 }] }),
  ]);
  assert.match(
    other?.exports[1]?.conflicts[0]?.message ?? '',
    /^the unnamed port is 81\/TCP here but 80\/TCP in cluster a/,
  );
  const named = mergeExports([
    exported('a', T1, { ports: [{ port: 80 }] }),
    exported('b', T2, { ports: [{ name: 'http', port: 8080 }] }),
  ]);
  assert.deepEqual(named?.ports, [{ protocol: 'TCP', port: 80 }]);
  assert.match(named?.exports[1]?.conflicts[0]?.message ?? '', /must name them all/);
  const unnamedLater = mergeExports([exported('a', T1), exported('b', T2, { ports: [{ port: 8080 }] })]);
  assert.deepEqual(unnamedLater?.ports, [{ name: 'http', protocol: 'TCP', port: 80 }]);
  assert.match(
    unnamedLater?.exports[1]?.conflicts[0]?.message ?? '',
    /the unnamed port \(8080\/TCP\) cannot join port "http"/,
  );
});

test('a conflicting export still adds its other, non-conflicting ports', () => {
  const merged = mergeExports([
    exported('a', T1),
    exported('b', T2, {
      ports: [
        { name: 'http', port: 8080 },
        { name: 'grpc', port: 9090 },
      ],
    }),
  ]);
  assert.deepEqual(
    merged?.ports.map((p) => p.name),
    ['http', 'grpc'],
  );
  assert.equal(merged?.exports[1]?.conflicts.length, 1);
});

test('type conflict: the oldest export decides ClusterSetIP or Headless', () => {
  const merged = mergeExports([
    exported('b', T2, { type: 'Headless' }),
    exported('a', T1),
    exported('c', T3),
  ]);
  assert.equal(merged?.type, 'ClusterSetIP');
  assert.deepEqual(merged?.exports[1], {
    cluster: 'b',
    conflicts: [
      {
        reason: 'TypeConflict',
        with: 'a',
        message: 'type Headless conflicts with ClusterSetIP in cluster a, whose export is older and wins',
      },
    ],
  });
  assert.deepEqual(merged?.exports[2]?.conflicts, []);
  const headlessFirst = mergeExports([exported('b', T2), exported('a', T1, { type: 'Headless' })]);
  assert.equal(headlessFirst?.type, 'Headless');
  assert.equal(headlessFirst?.exports[1]?.conflicts[0]?.reason, 'TypeConflict');
});

test('an export can lose both its type and a port', () => {
  const merged = mergeExports([
    exported('a', T1),
    exported('b', T2, { type: 'Headless', ports: [{ name: 'http', port: 1 }] }),
  ]);
  assert.deepEqual(
    merged?.exports[1]?.conflicts.map((c) => c.reason),
    ['TypeConflict', 'PortConflict'],
  );
});

test('age: equal timestamps are ordered by cluster name; unreadable timestamps count as newest', () => {
  const byName = mergeExports([
    exported('zz', T1, { ports: [{ name: 'http', port: 2 }] }),
    exported('aa', T1, { ports: [{ name: 'http', port: 1 }] }),
  ]);
  assert.deepEqual(byName?.ports, [{ name: 'http', protocol: 'TCP', port: 1 }]);
  assert.equal(byName?.exports[1]?.cluster, 'zz');
  const broken = exported('a', 'not a time');
  assert.ok(compareExportAge(broken, exported('b', T3)) > 0);
  assert.ok(compareExportAge(exported('b', T3), broken) < 0);
  assert.equal(compareExportAge(exported('a', T1), exported('a', T1)), 0);
});

test('the result does not depend on input order', () => {
  const inputs = [
    exported('a', T1),
    exported('b', T2, {
      ports: [
        { name: 'http', port: 81 },
        { name: 'x', port: 5 },
      ],
    }),
    exported('c', T3, { type: 'Headless', ports: [{ name: 'y', port: 6 }] }),
  ];
  const expected = mergeExports(inputs);
  assert.deepEqual(mergeExports([...inputs].reverse()), expected);
  assert.deepEqual(mergeExports([inputs[1], inputs[2], inputs[0]].filter((e) => e !== undefined)), expected);
});

test('ipFamilies, internalTrafficPolicy and trafficDistribution: the oldest export wins, the others conflict', () => {
  const merged = mergeExports([
    exported('a', T1, {
      ipFamilies: ['IPv4'],
      internalTrafficPolicy: 'Cluster',
      trafficDistribution: 'PreferClose',
    }),
    exported('b', T2, { ipFamilies: ['IPv6'], internalTrafficPolicy: 'Local' }),
    exported('c', T3, { ipFamilies: ['IPv4'], trafficDistribution: 'PreferClose' }),
  ]);
  assert.deepEqual(merged?.serviceFields, {
    ipFamilies: ['IPv4'],
    internalTrafficPolicy: 'Cluster',
    trafficDistribution: 'PreferClose',
  });
  const reasons = (c: string) => merged?.exports.find((e) => e.cluster === c)?.conflicts.map((x) => x.reason);
  assert.deepEqual(reasons('b'), [
    'IPFamilyConflict',
    'InternalTrafficPolicyConflict',
    'TrafficDistributionConflict',
  ]);
  // An unset internalTrafficPolicy is Kubernetes' default, Cluster: no conflict.
  assert.deepEqual(reasons('c'), []);
});
