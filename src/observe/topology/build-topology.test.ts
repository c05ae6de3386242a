import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTopology, type GraphEdgeFacts, type TopologyInput } from './build-topology.ts';

const member = (name: string, region: string, ready = true) => ({ name, region, ready, observability: {} });

function input(over: Partial<TopologyInput> = {}): TopologyInput {
  return {
    members: [member('eu-west', 'eu'), member('us-east', 'us'), member('us-west', 'us', false)],
    workloads: new Map([
      [
        'eu-west',
        [
          {
            kind: 'Deployment',
            name: 'app2',
            app: 'app2',
            namespace: 'shop',
            application: 'default.ref',
            revision: '3',
          },
          { kind: 'StatefulSet', name: 'db', app: 'db', namespace: 'shop' },
        ],
      ],
    ]),
    applications: [
      {
        namespace: 'default',
        name: 'ref',
        phase: 'Healthy',
        clusters: [
          { name: 'eu-west', revision: 3, phase: 'Healthy' },
          { name: 'us-east', revision: 2, phase: 'Progressing' },
        ],
      },
    ],
    imports: [
      {
        cluster: 'eu-west',
        namespace: 'shop',
        name: 'app2',
        sourceClusters: ['us-east'],
        activeGroup: 'local',
      },
    ],
    globalIngresses: [
      {
        namespace: 'default',
        name: 'shop',
        hosts: ['shop.example'],
        clusters: [
          { name: 'eu-west', healthy: true },
          { name: 'us-east', healthy: false, reason: 'CheckFailed' },
        ],
      },
    ],
    graphEdges: [],
    unreachable: ['us-west'],
    ...over,
  };
}

test('groups clusters by region and places apps, revisions, imports and GSLB health on their cluster', () => {
  const t = buildTopology(input());
  assert.deepEqual(t.regions, [
    { name: 'eu', clusters: ['eu-west'] },
    { name: 'us', clusters: ['us-east', 'us-west'] },
  ]);
  const eu = t.clusters.find((c) => c.name === 'eu-west')!;
  assert.deepEqual(
    eu.apps.map((a) => `${a.app}:${a.revision ?? '-'}`),
    ['app2:3', 'db:-'],
  );
  assert.deepEqual(eu.applications, [{ namespace: 'default', name: 'ref', revision: 3, phase: 'Healthy' }]);
  assert.equal(eu.imports[0]?.name, 'app2');
  const us = t.clusters.find((c) => c.name === 'us-east')!;
  assert.deepEqual(us.globalTraffic, [
    { namespace: 'default', name: 'shop', hosts: ['shop.example'], healthy: false, reason: 'CheckFailed' },
  ]);
  assert.equal(us.applications[0]?.phase, 'Progressing');
  const usw = t.clusters.find((c) => c.name === 'us-west')!;
  assert.equal(usw.reachable, false);
  assert.equal(usw.ready, false);
});

test('marks cross-cluster edges east–west only when the callee is imported in the caller cluster', () => {
  const t = buildTopology(
    input({
      graphEdges: [
        {
          source: { service: 'app1', cluster: 'eu-west', namespace: 'shop' },
          target: { service: 'app2', cluster: 'us-east', namespace: 'shop' },
          crossCluster: true,
          callsPerSecond: 2,
        } as GraphEdgeFacts,
        {
          source: { service: 'app1', cluster: 'us-east', namespace: 'shop' },
          target: { service: 'app2', cluster: 'eu-west', namespace: 'shop' },
          crossCluster: true,
        },
        {
          source: { service: 'app1', cluster: 'eu-west', namespace: 'shop' },
          target: { service: 'app2', cluster: 'eu-west', namespace: 'shop' },
          crossCluster: false,
        },
      ],
    }),
  );
  assert.deepEqual(
    t.serviceGraph.edges.map((e) => e.eastWest),
    [true, false, false],
  );
  assert.equal((t.serviceGraph.edges[0] as { callsPerSecond?: number }).callsPerSecond, 2, 'metrics pass');
  assert.deepEqual(
    t.serviceGraph.nodes.map((n) => `${n.id}@${n.region}`),
    ['eu-west/shop/app1@eu', 'eu-west/shop/app2@eu', 'us-east/shop/app1@us', 'us-east/shop/app2@us'],
  );
});

test('a callee known only by its clusterset name is placed in the one cluster the caller imports it from', () => {
  const t = buildTopology(
    input({
      imports: [
        { cluster: 'eu-west', namespace: 'shop', name: 'db', sourceClusters: ['us-east'] },
        { cluster: 'us-east', namespace: 'shop', name: 'db', sourceClusters: ['us-east'] },
        { cluster: 'us-west', namespace: 'shop', name: 'cache', sourceClusters: ['eu-west', 'us-east'] },
      ],
      graphEdges: [
        {
          source: { service: 'app2', cluster: 'eu-west', namespace: 'shop' },
          target: { service: 'db', namespace: 'shop' },
          crossCluster: false,
        },
        {
          source: { service: 'app2', cluster: 'us-east', namespace: 'shop' },
          target: { service: 'db', namespace: 'shop' },
          crossCluster: false,
        },
        {
          // Two exporters: which one served is unknown, so no cluster is made up.
          source: { service: 'app2', cluster: 'us-west', namespace: 'shop' },
          target: { service: 'cache', namespace: 'shop' },
          crossCluster: false,
        },
      ],
    }),
  );
  assert.deepEqual(
    t.serviceGraph.edges.map((e) => [e.source.cluster, e.target.cluster, e.crossCluster, e.eastWest]),
    [
      ['eu-west', 'us-east', true, true],
      ['us-east', 'us-east', false, false],
      ['us-west', undefined, false, false],
    ],
  );
  assert.deepEqual(
    t.serviceGraph.nodes.map((n) => n.id),
    ['?/shop/cache', 'eu-west/shop/app2', 'us-east/shop/app2', 'us-east/shop/db', 'us-west/shop/app2'],
  );
});
