import assert from 'node:assert/strict';
import { test } from 'node:test';
import { derivedServiceName, endpointSliceName, planService } from './endpoint-plan.ts';
import type {
  ClusterDecision,
  ExportFacts,
  MemberFacts,
  ServicePlan,
  ServicePlanInput,
} from './mesh-types.ts';
import type { SourceEndpoint } from './mesh-types.ts';

function member(name: string, region: string, over: Partial<MemberFacts> = {}): MemberFacts {
  return { name, region, ready: true, ...over };
}
const HTTP = [{ name: 'http', port: 8080, protocol: 'TCP' }];
function ep(address: string, ready = true, over: Partial<SourceEndpoint> = {}): SourceEndpoint {
  return { addresses: [address], ready, ports: HTTP, ...over };
}
const exp = (cluster: string, minute: number, over: Partial<ExportFacts> = {}): ExportFacts => ({
  cluster,
  createdAt: `2025-01-01T10:${String(minute).padStart(2, '0')}:00Z`,
  serviceExists: true,
  type: 'ClusterSetIP',
  ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }],
  ...over,
});

const CLUSTERS = [
  member('eu-1', 'eu-west'),
  member('eu-2', 'eu-west'),
  member('us-1', 'us-east'),
  member('ap-1', 'ap-south'),
];
const ENDPOINTS = {
  'eu-1': [ep('10.1.0.1'), ep('10.1.0.2')],
  'eu-2': [ep('10.2.0.1')],
  'us-1': [ep('10.3.0.1'), ep('10.3.0.2')],
  'ap-1': [ep('10.4.0.1')],
};

function fleet(over: Partial<ServicePlanInput> = {}): ServicePlanInput {
  return {
    namespace: 'shop',
    service: 'api',
    clusters: CLUSTERS,
    exports: [exp('eu-1', 1), exp('eu-2', 2), exp('us-1', 3), exp('ap-1', 4)],
    endpoints: ENDPOINTS,
    namespacePresentIn: CLUSTERS.map((c) => c.name),
    policy: undefined,
    now: 100_000,
    holdDownMs: 3000,
    ...over,
  };
}
const preferLocal = (order?: string[], minReadyLocal?: number): ServicePlanInput['policy'] => ({
  locality: 'PreferLocal',
  failover: { ...(order ? { order } : {}), ...(minReadyLocal !== undefined ? { minReadyLocal } : {}) },
});
function at(plan: ServicePlan, cluster: string): ClusterDecision {
  const d = plan.clusters.find((c) => c.cluster === cluster);
  assert.ok(d, `no decision for ${cluster}`);
  return d;
}
const decide = (over: Partial<ServicePlanInput>, cluster: string) => at(planService(fleet(over)), cluster);
/** Active group, changed flag and transition, in one line. */
const move = (d: ClusterDecision): string => `${d.activeGroup} changed=${d.changed} ${d.transition ?? '-'}`;
/** The derived Service's slices of remote sources (what failover decides). */
const remoteSlices = (d: ClusterDecision) => d.derivedSlices.filter((s) => s.sourceCluster !== d.cluster);
/** Ready remote endpoints published per source cluster. */
const readyBySource = (d: ClusterDecision): Record<string, number> =>
  Object.fromEntries(
    remoteSlices(d).map((s) => [s.sourceCluster, s.endpoints.filter((e) => e.conditions.ready).length]),
  );
const DERIVED = derivedServiceName('shop', 'api');
const down = (cluster: string, endpoints = ENDPOINTS) => ({
  ...endpoints,
  [cluster]: (endpoints[cluster as keyof typeof ENDPOINTS] ?? []).map((e) => ({ ...e, ready: false })),
});

test('an export in two of three members gives every member the ServiceImport with the merged ports', () => {
  const plan = planService(
    fleet({
      clusters: CLUSTERS.slice(0, 3),
      exports: [exp('us-1', 2, { ports: [{ name: 'grpc', port: 9090 }] }), exp('eu-1', 1)],
      namespacePresentIn: ['eu-1', 'us-1'],
    }),
  );
  assert.equal(plan.clusters.map((c) => c.cluster).join(), 'eu-1,eu-2,us-1');
  for (const d of plan.clusters) {
    assert.deepEqual(d.serviceImport, {
      type: 'ClusterSetIP',
      ports: [
        { name: 'http', protocol: 'TCP', port: 80 },
        { name: 'grpc', protocol: 'TCP', port: 9090 },
      ],
      clusters: ['eu-1', 'us-1'],
      labels: {},
      annotations: {},
      serviceFields: {},
    });
  }
  assert.equal(plan.clusters.map((c) => c.namespaceNeeded).join(), 'false,true,false');
  const conditions = plan.exports.map(
    (e) => `${e.cluster}:${e.conditions.map((c) => `${c.type}=${c.status}`)}`,
  );
  assert.deepEqual(conditions, ['us-1:Valid=True,Conflict=False', 'eu-1:Valid=True,Conflict=False']);
});

test('the derived Service has a name of its own in every member, like the upstream controller', () => {
  assert.equal(DERIVED, 'derived-edt41efodf');
  assert.match(derivedServiceName('a'.repeat(63), 'b'.repeat(63)), /^derived-[0-9a-v]{10}$/);
  assert.notEqual(derivedServiceName('shop', 'api'), derivedServiceName('shop', 'api2'));
  const plan = planService(fleet({ exports: [exp('eu-1', 1), exp('us-1', 2)] }));
  for (const d of plan.clusters)
    assert.deepEqual(d.derivedService, {
      name: DERIVED,
      type: 'ClusterIP',
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 80 }],
    });
  const headless = planService(fleet({ exports: [exp('eu-1', 1, { type: 'Headless' })] }));
  assert.equal(at(headless, 'us-1').derivedService?.clusterIP, 'None');
  assert.equal(at(headless, 'us-1').serviceImport.type, 'Headless');
});

test('slices carry the MCS labels, source pod addresses, target ports and zone, but no node or pod refs', () => {
  const endpoints = {
    'us-1': [
      ep('10.3.0.9', true, { zone: 'us-east-1a', nodeName: 'node-0', targetRef: { kind: 'Pod', name: 'x' } }),
      ep('10.3.0.1', false),
    ],
  };
  const d = decide({ exports: [exp('us-1', 1)], endpoints }, 'eu-1');
  assert.deepEqual(d.endpointSlices, [], 'eu-1 does not export api: its plain name is left alone');
  assert.deepEqual(d.derivedSlices, [
    {
      name: `${DERIVED}-mcs-us-1`,
      sourceCluster: 'us-1',
      labels: {
        'endpointslice.kubernetes.io/managed-by': 'meridian.dev',
        'kubernetes.io/service-name': DERIVED,
        'multicluster.kubernetes.io/source-cluster': 'us-1',
        'multicluster.kubernetes.io/service-name': 'api',
      },
      addressType: 'IPv4',
      endpoints: [
        { addresses: ['10.3.0.1'], conditions: { ready: false } },
        { addresses: ['10.3.0.9'], conditions: { ready: true }, zone: 'us-east-1a' },
      ],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    },
  ]);
});

test('under the plain name an exporting importer gets one slice set per remote source, never its own', () => {
  const plan = planService(fleet());
  for (const d of plan.clusters) {
    assert.ok(d.unionUnderPlainName);
    assert.ok(!d.endpointSlices.some((s) => s.sourceCluster === d.cluster), d.cluster);
    assert.ok(d.endpointSlices.every((s) => s.labels['kubernetes.io/service-name'] === 'api'));
    assert.deepEqual(
      d.endpointSlices.map((s) => s.sourceCluster).sort(),
      CLUSTERS.map((c) => c.name)
        .filter((n) => n !== d.cluster)
        .sort(),
    );
  }
});

test('endpoints that differ in address family or ports get slices of their own; 1000 per slice at most', () => {
  const endpoints = {
    'us-1': [
      ep('fd00::1'),
      ep('10.3.0.1'),
      ep('10.3.0.2', true, { ports: [{ name: 'http', port: 9000, protocol: 'TCP' }] }),
    ],
  };
  const exports = [exp('us-1', 1), exp('eu-1', 2)];
  const slices = decide({ exports, endpoints }, 'eu-1').endpointSlices;
  assert.deepEqual(
    slices.map((s) => [s.name, s.addressType, s.ports[0]?.port, s.endpoints.map((e) => e.addresses[0])]),
    [
      ['api-mcs-us-1', 'IPv4', 8080, ['10.3.0.1']],
      ['api-mcs-us-1-1', 'IPv4', 9000, ['10.3.0.2']],
      ['api-mcs-us-1-2', 'IPv6', 8080, ['fd00::1']],
    ],
  );
  const many = { 'us-1': Array.from({ length: 2500 }, (_, i) => ep(`10.3.${i >> 8}.${i & 255}`)) };
  const big = decide({ exports: [exp('us-1', 1)], endpoints: many }, 'eu-1').derivedSlices;
  assert.equal(big.map((s) => s.endpoints.length).join(), '1000,1000,500');
  assert.equal(new Set(big.flatMap((s) => s.endpoints.map((e) => e.addresses[0]))).size, 2500);
});

test('behind an east-west gateway a source is one gateway endpoint on the gateway port', () => {
  const clusters = CLUSTERS.map((c) =>
    c.name === 'us-1' ? { ...c, eastWestGateway: { address: '192.0.2.10', port: 15443 } } : c,
  );
  const ports = [
    { name: 'http', port: 80 },
    { name: 'grpc', port: 9090, protocol: 'TCP' },
  ];
  const exports = [exp('us-1', 1, { ports })];
  const d = decide({ clusters, exports }, 'eu-1');
  assert.equal(remoteSlices(d).length, 1);
  assert.deepEqual(remoteSlices(d)[0]?.endpoints, [
    { addresses: ['192.0.2.10'], conditions: { ready: true } },
  ]);
  assert.deepEqual(remoteSlices(d)[0]?.ports, [
    { name: 'http', port: 15443, protocol: 'TCP' },
    { name: 'grpc', port: 15443, protocol: 'TCP' },
  ]);
  assert.equal(d.remoteReady, 2, 'instances behind the gateway are counted one by one');
  const own = decide({ clusters, exports }, 'us-1').derivedSlices;
  assert.deepEqual(
    own.flatMap((x) => x.endpoints.flatMap((e) => e.addresses)),
    ['10.3.0.1', '10.3.0.2'],
    'the gateway cluster reaches its own pods directly',
  );
  const allDown = decide({ clusters, exports, endpoints: down('us-1') }, 'eu-1');
  assert.equal(remoteSlices(allDown)[0]?.endpoints[0]?.conditions.ready, false);
  const v6Gateway = member('us-1', 'us-east', { eastWestGateway: { address: 'fd00::10', port: 1 } });
  const v6 = decide({ clusters: [v6Gateway, member('eu-1', 'eu-west')], exports }, 'eu-1');
  assert.equal(remoteSlices(v6)[0]?.addressType, 'IPv6');
});

test('without a TrafficPolicy locality is Any: every ready endpoint everywhere is published ready', () => {
  const d = decide({ endpoints: down('ap-1') }, 'eu-1');
  assert.equal(d.locality, 'Any');
  assert.equal(d.activeGroup, 'all');
  assert.deepEqual(readyBySource(d), { 'eu-2': 1, 'us-1': 2, 'ap-1': 0 });
  assert.equal(d.localReady, 2);
  assert.equal(d.remoteReady, 3);
  assert.match(d.reason, /^locality Any/);
});

test('a policy without locality means PreferLocal (the CRD default) with minReadyLocal 1', () => {
  const d = decide({ policy: {} }, 'eu-1');
  assert.equal(d.locality, 'PreferLocal');
  assert.equal(d.activeGroup, 'cluster:eu-1');
  assert.equal(d.reason, 'local cluster eu-1 has 2 ready endpoints (minReadyLocal 1)');
});

test('PreferLocal with enough local endpoints publishes every remote endpoint not ready', () => {
  const d = decide({ policy: preferLocal() }, 'eu-1');
  assert.deepEqual(readyBySource(d), { 'eu-2': 0, 'us-1': 0, 'ap-1': 0 });
  assert.equal(d.endpointSlices.length, 3, 'slices stay, so failing over is a status flip');
  assert.equal(d.remoteReady, 0);
});

test('PreferLocal fails over by default to the same region, then the nearest region, then by name', () => {
  const regionDistance = { 'eu-west': ['us-east', 'ap-south'] };
  let endpoints = down('eu-1');
  let d = decide({ policy: preferLocal(), endpoints, regionDistance }, 'eu-1');
  assert.equal(d.activeGroup, 'region:eu-west');
  assert.deepEqual(readyBySource(d), { 'eu-2': 1, 'us-1': 0, 'ap-1': 0 });
  assert.equal(
    d.reason,
    'local cluster eu-1 has 0 ready endpoints (minReadyLocal 1); failing over to region eu-west (1 ready)',
  );
  endpoints = down('eu-2', endpoints);
  d = decide({ policy: preferLocal(), endpoints, regionDistance }, 'eu-1');
  assert.equal(d.activeGroup, 'region:us-east', 'the nearest region');
  assert.deepEqual(readyBySource(d), { 'eu-2': 0, 'us-1': 2, 'ap-1': 0 });
  d = decide({ policy: preferLocal(), endpoints }, 'eu-1');
  assert.equal(d.activeGroup, 'region:ap-south', 'without distances: regions by name');
  assert.deepEqual(
    d.groups.map((g) => `${g.id}=${g.clusters.join('+')}:${g.ready}${g.sufficient ? '!' : ''}`),
    ['cluster:eu-1=eu-1:0', 'region:eu-west=eu-2:0', 'region:ap-south=ap-1:1!', 'region:us-east=us-1:2!'],
  );
});

test('failover.order names regions and clusters, before the default order; unknown names are skipped', () => {
  const endpoints = down('eu-1');
  const d = decide({ policy: preferLocal(['nowhere', 'us-east', 'ap-1']), endpoints }, 'eu-1');
  assert.equal(d.groups.map((g) => g.id).join(), 'cluster:eu-1,region:us-east,cluster:ap-1,region:eu-west');
  assert.equal(d.activeGroup, 'region:us-east');
  assert.deepEqual(readyBySource(d), { 'eu-2': 0, 'us-1': 2, 'ap-1': 0 });
  const byCluster = decide({ policy: preferLocal(['ap-1']), endpoints }, 'eu-1');
  assert.equal(byCluster.activeGroup, 'cluster:ap-1');
  // A name that is both a cluster and a region means the cluster.
  const clusters = [...CLUSTERS, member('emea', 'emea'), member('x-1', 'ap-1')];
  const ambiguous = decide({ clusters, policy: preferLocal(['ap-1']), endpoints }, 'eu-1');
  assert.equal(ambiguous.groups[1]?.id, 'cluster:ap-1');
});

test('minReadyLocal: local below the minimum spills over; 0 keeps a cluster that runs the service local', () => {
  const endpoints = { ...ENDPOINTS, 'eu-1': [ep('10.1.0.1'), ep('10.1.0.2', false)] };
  assert.equal(
    decide({ policy: preferLocal(undefined, 2), endpoints }, 'eu-1').activeGroup,
    'region:eu-west',
  );
  assert.equal(decide({ policy: preferLocal(undefined, 1), endpoints }, 'eu-1').activeGroup, 'cluster:eu-1');
  const strict = decide({ policy: preferLocal(undefined, 0), endpoints: down('eu-1') }, 'eu-1');
  assert.equal(strict.activeGroup, 'cluster:eu-1');
  assert.deepEqual(readyBySource(strict), { 'eu-2': 0, 'us-1': 0, 'ap-1': 0 });
  const usOnly = { exports: [exp('us-1', 1)], endpoints: { 'us-1': ENDPOINTS['us-1'] } };
  const noLocal = decide({ ...usOnly, policy: preferLocal(undefined, 0) }, 'eu-1');
  assert.equal(noLocal.activeGroup, 'region:us-east');
});

test('an importer without a local Service behaves as PreferLocal with 0 local endpoints', () => {
  const endpoints = { 'us-1': ENDPOINTS['us-1'], 'ap-1': ENDPOINTS['ap-1'] };
  const d = decide({ policy: preferLocal(), exports: [exp('us-1', 1), exp('ap-1', 2)], endpoints }, 'eu-2');
  assert.equal(d.localReady, 0);
  assert.equal(d.activeGroup, 'region:ap-south');
  assert.match(d.reason, /^local cluster eu-2 has 0 ready endpoints/);
});

test('with too few ready endpoints anywhere the local ones stay in use; with none the reason says so', () => {
  const endpoints = { 'eu-1': [ep('10.1.0.1')], 'us-1': [ep('10.3.0.1', false)] };
  const exports = [exp('eu-1', 1), exp('us-1', 2)];
  const few = decide({ policy: preferLocal(undefined, 3), endpoints, exports }, 'eu-1');
  assert.equal(few.activeGroup, 'cluster:eu-1');
  assert.match(few.reason, /no other group has ready endpoints; staying on local cluster eu-1/);
  const none = decide({ policy: preferLocal(), endpoints: { 'us-1': endpoints['us-1'] }, exports }, 'eu-1');
  assert.equal(none.reason, 'no ready endpoints in any cluster');
  assert.equal(none.activeGroup, 'cluster:eu-1');
});

test('PreferRegion uses every cluster of the region while it has minReadyLocal, then the next region', () => {
  const policy = { locality: 'PreferRegion' as const, failover: { minReadyLocal: 2 } };
  const d = decide({ policy }, 'eu-1');
  assert.equal(d.activeGroup, 'region:eu-west');
  assert.deepEqual(readyBySource(d), { 'eu-2': 1, 'us-1': 0, 'ap-1': 0 });
  assert.equal(d.reason, 'local region eu-west has 3 ready endpoints (minReadyLocal 2)');
  const endpoints = { ...down('eu-2'), 'eu-1': [ep('10.1.0.1')] };
  const spilled = decide({ policy, endpoints, regionDistance: { 'eu-west': ['us-east'] } }, 'eu-1');
  assert.equal(spilled.activeGroup, 'region:us-east');
  assert.deepEqual(readyBySource(spilled), { 'eu-2': 0, 'us-1': 2, 'ap-1': 0 });
});

test('a lost cluster keeps its slices but contributes no ready endpoint and is never a failover target', () => {
  const clusters = CLUSTERS.map((c) => (c.name === 'eu-2' ? { ...c, ready: false } : c));
  const any = decide({ clusters }, 'eu-1');
  assert.deepEqual(readyBySource(any), { 'eu-2': 0, 'us-1': 2, 'ap-1': 1 });
  const failover = decide({ clusters, policy: preferLocal(), endpoints: down('eu-1') }, 'eu-1');
  assert.equal(failover.groups.find((g) => g.id === 'region:eu-west')?.ready, 0);
  assert.equal(failover.activeGroup, 'region:ap-south');
  // The lost cluster itself is still planned (nothing there is deleted) and rejoins with the same slices.
  const lost = decide({ clusters }, 'eu-2');
  assert.equal(lost.endpointSlices.length, 3);
  const rejoined = decide({}, 'eu-1');
  assert.equal(
    rejoined.endpointSlices.map((s) => s.name).join(),
    any.endpointSlices.map((s) => s.name).join(),
  );
  assert.deepEqual(readyBySource(rejoined), { 'eu-2': 1, 'us-1': 2, 'ap-1': 1 });
});

test('failover is immediate; recovery waits until local has been healthy for the hold-down', () => {
  const policy = preferLocal();
  const t0 = 1_000_000;
  const first = decide({ policy, now: t0 }, 'eu-1');
  assert.equal(move(first), 'cluster:eu-1 changed=false -');
  const back = (now: number, previous: ClusterDecision, endpoints = ENDPOINTS) =>
    decide({ policy, now, endpoints, previous: { 'eu-1': previous.state } }, 'eu-1');
  const failed = back(t0 + 10, first, down('eu-1'));
  assert.equal(move(failed), 'region:eu-west changed=true Failover');
  assert.deepEqual(failed.state, { activeGroup: 'region:eu-west', since: t0 + 10 });
  const held = back(t0 + 1000, failed);
  assert.equal(move(held), 'region:eu-west changed=false -');
  assert.equal(held.recheckAfterMs, 3000);
  assert.deepEqual(held.state.pending, { group: 'cluster:eu-1', since: t0 + 1000 });
  assert.deepEqual(readyBySource(held), { 'eu-2': 1, 'us-1': 0, 'ap-1': 0 });
  assert.match(
    held.reason,
    /^local cluster eu-1 is healthy again \(2 ready\); staying on region eu-west .*\(3000 ms left\)/,
  );
  const still = back(t0 + 3999, held);
  assert.deepEqual(
    [still.activeGroup, still.recheckAfterMs, still.state.since],
    ['region:eu-west', 1, t0 + 10],
  );
  const recovered = back(t0 + 4000, still);
  assert.equal(move(recovered), 'cluster:eu-1 changed=true Recovery');
  assert.equal(recovered.recheckAfterMs, undefined);
  assert.deepEqual(recovered.state, { activeGroup: 'cluster:eu-1', since: t0 + 4000 });
  // A local flap during the hold-down restarts it.
  const flapped = back(t0 + 2000, back(t0 + 1500, held, down('eu-1')));
  assert.deepEqual(flapped.state.pending, { group: 'cluster:eu-1', since: t0 + 2000 });
  // The remote group failing during the hold-down sends traffic home at once.
  const remoteGone = back(t0 + 1500, held, down('eu-2'));
  assert.equal(move(remoteGone), 'cluster:eu-1 changed=true Recovery');
  // After a restart (no previous state) the preferred group is used at once.
  assert.equal(decide({ policy, now: t0 }, 'eu-1').activeGroup, 'cluster:eu-1');
});

test('a better remote group also waits out the hold-down; a policy change is a change but not a failover', () => {
  const policy = preferLocal(['us-east', 'ap-south']);
  const endpoints = down('eu-1', down('us-1'));
  const onAp = decide({ policy, endpoints }, 'eu-1');
  assert.equal(onAp.activeGroup, 'region:ap-south');
  const usBack = decide({ policy, endpoints: down('eu-1'), previous: { 'eu-1': onAp.state } }, 'eu-1');
  assert.equal(usBack.activeGroup, 'region:ap-south');
  assert.equal(usBack.state.pending?.group, 'region:us-east');
  const toAny = decide({ previous: { 'eu-1': onAp.state } }, 'eu-1');
  assert.equal(move(toAny), 'all changed=true -');
});

test('conflicting exports are flagged, and their endpoints still join the service', () => {
  const exports = [
    exp('us-1', 2, { ports: [{ name: 'http', port: 8080 }], type: 'Headless' }),
    exp('eu-1', 1),
    exp('ap-1', 3, { serviceExists: false }),
    exp('eu-2', 4, { externalName: true }),
  ];
  const plan = planService(fleet({ exports }));
  const conditions = Object.fromEntries(plan.exports.map((e) => [e.cluster, e.conditions]));
  assert.deepEqual(conditions['us-1']?.[1], {
    type: 'Conflict',
    status: 'True',
    reason: 'TypeConflict,PortConflict',
    message:
      'type Headless conflicts with ClusterSetIP in cluster eu-1, whose export is older and wins; ' +
      'port "http" is 8080/TCP here but 80/TCP in cluster eu-1, whose export is older and wins',
  });
  // KEP-1645: the older export that keeps the properties is told of the conflict too.
  assert.deepEqual(conditions['eu-1']?.[1], {
    type: 'Conflict',
    status: 'True',
    reason: 'TypeConflict,PortConflict',
    message:
      'cluster us-1 disagrees and loses: type Headless conflicts with ClusterSetIP in cluster eu-1; ' +
      'cluster us-1 disagrees and loses: port "http" is 8080/TCP here but 80/TCP in cluster eu-1',
  });
  const noService = 'Service shop/api does not exist in cluster ap-1';
  assert.deepEqual(conditions['ap-1'], [
    { type: 'Valid', status: 'False', reason: 'NoService', message: noService },
  ]);
  assert.equal(conditions['eu-2']?.[0]?.reason, 'InvalidServiceType');
  assert.deepEqual(at(plan, 'ap-1').serviceImport.clusters, ['eu-1', 'us-1']);
  assert.deepEqual(readyBySource(at(plan, 'ap-1')), { 'eu-1': 2, 'us-1': 2 });
  assert.equal(at(plan, 'ap-1').derivedService.name, DERIVED, 'an export without its Service imports too');
  assert.deepEqual(
    at(plan, 'ap-1').endpointSlices,
    [],
    'no union under the plain name without a valid export',
  );
  assert.deepEqual(at(plan, 'eu-2').endpointSlices, [], 'the ExternalName Service is not touched');
  assert.equal(at(plan, 'eu-2').localReady, 0);
  const onlyInvalid = planService(fleet({ exports: [exp('ap-1', 3, { serviceExists: false })] }));
  assert.deepEqual([onlyInvalid.merged, onlyInvalid.clusters], [undefined, []]);
  assert.equal(onlyInvalid.exports[0]?.valid, false);
});

test('slice names stay within 63 characters, hashed and distinct when longer', () => {
  assert.equal(endpointSliceName('api', 'us-1'), 'api-mcs-us-1');
  assert.equal(endpointSliceName('api', 'us-1', 2), 'api-mcs-us-1-2');
  const service = 's'.repeat(63);
  const names = ['cluster-a', 'cluster-b'].flatMap((c) =>
    [0, 1].map((i) => endpointSliceName(service, c, i)),
  );
  for (const name of names) {
    assert.ok(name.length <= 63, name);
    assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  }
  assert.equal(new Set(names).size, 4);
  assert.equal(endpointSliceName(service, 'cluster-a'), names[0]);
  const d = decide({ service, exports: [exp('us-1', 1), exp('eu-1', 2)] }, 'eu-1');
  assert.equal(d.endpointSlices[0]?.name, endpointSliceName(service, 'us-1'));
  assert.ok((d.endpointSlices[0]?.name.length ?? 99) <= 63);
  assert.equal(d.endpointSlices[0]?.labels['kubernetes.io/service-name'], service);
});

test('the plan is deterministic: input order of exports and endpoints does not change it', () => {
  const policy = preferLocal(['us-east']);
  const shuffled = Object.fromEntries(
    Object.entries(ENDPOINTS)
      .reverse()
      .map(([c, eps]) => [c, [...eps].reverse()]),
  );
  const a = planService(fleet({ policy, endpoints: down('eu-1') }));
  const exports = [...fleet().exports].reverse();
  const b = planService(fleet({ policy, endpoints: down('eu-1', shuffled as typeof ENDPOINTS), exports }));
  assert.deepEqual(a.clusters, b.clusters);
  assert.deepEqual(a.merged, b.merged);
  for (const d of a.clusters) {
    const names = d.endpointSlices.map((s) => s.name);
    assert.deepEqual(names, [...names].sort());
  }
});

test('the derived Service gets every exporting cluster, the importer’s own endpoints with their own readiness', () => {
  const d = decide({ policy: preferLocal(), endpoints: down('eu-1') }, 'eu-1');
  assert.deepEqual(
    d.derivedSlices.map((s) => [s.name, s.sourceCluster, s.labels['kubernetes.io/service-name']]),
    ['ap-1', 'eu-1', 'eu-2', 'us-1'].map((c) => [`${DERIVED}-mcs-${c}`, c, DERIVED]),
  );
  const own = d.derivedSlices.find((s) => s.sourceCluster === 'eu-1');
  assert.deepEqual(
    own?.endpoints.map((e) => e.conditions.ready),
    [false, false],
  );
  const healthy = decide({ policy: preferLocal() }, 'eu-1');
  assert.deepEqual(healthy.derivedSlices.find((s) => s.sourceCluster === 'eu-1')?.endpoints.length, 2);
  assert.deepEqual(readyBySource(healthy), { 'eu-2': 0, 'us-1': 0, 'ap-1': 0 });
});

test('KEP-1645: a Service that is not exported in the importer keeps its cluster.local name untouched', () => {
  // eu-2 has its own api Service and endpoints but no export: they join nothing, and nothing joins them.
  const exports = [exp('eu-1', 1), exp('us-1', 2)];
  const d = decide({ exports }, 'eu-2');
  assert.equal(d.unionUnderPlainName, false);
  assert.deepEqual(d.endpointSlices, []);
  assert.equal(d.localReady, 0);
  assert.deepEqual(
    d.derivedSlices.map((s) => s.sourceCluster),
    ['eu-1', 'us-1'],
  );
  for (const other of ['eu-1', 'us-1'])
    assert.ok(!decide({ exports }, other).derivedSlices.some((s) => s.sourceCluster === 'eu-2'));
  const exporting = decide({ exports: [...exports, exp('eu-2', 3)] }, 'eu-2');
  assert.equal(exporting.unionUnderPlainName, true);
  assert.deepEqual(
    exporting.endpointSlices.map((s) => [s.name, s.sourceCluster]),
    [
      ['api-mcs-eu-1', 'eu-1'],
      ['api-mcs-us-1', 'us-1'],
    ],
  );
});

test('per-endpoint hostnames and port appProtocol are kept in every slice', () => {
  const h2 = [{ name: 'grpc', port: 9090, protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' }];
  const endpoints = {
    'us-1': [
      ep('10.3.0.1', true, { hostname: 'db-0', ports: h2 }),
      ep('10.3.0.2', true, { hostname: 'db-1', ports: h2 }),
    ],
  };
  const d = decide({ exports: [exp('us-1', 1), exp('eu-1', 2)], endpoints }, 'eu-1');
  for (const slices of [d.endpointSlices, remoteSlices(d)]) {
    assert.deepEqual(
      slices.flatMap((s) => s.endpoints.map((e) => e.hostname)),
      ['db-0', 'db-1'],
    );
    assert.deepEqual(slices[0]?.ports, h2);
  }
});

test('ClientIP affinity of the oldest export goes on every ServiceImport and derived Service, not on a headless one', () => {
  const sticky = { sessionAffinity: 'ClientIP' as const, affinityTimeoutSeconds: 60 };
  const plan = planService(
    fleet({
      exports: [exp('eu-1', 1, { ...sticky, exportedLabels: { tier: 'db' } }), exp('us-1', 2)],
    }),
  );
  for (const d of plan.clusters) {
    assert.equal(d.serviceImport.sessionAffinity, 'ClientIP');
    assert.equal(d.serviceImport.affinityTimeoutSeconds, 60);
    assert.deepEqual(d.serviceImport.labels, { tier: 'db' });
    assert.equal(d.derivedService.sessionAffinity, 'ClientIP');
    assert.equal(d.derivedService.affinityTimeoutSeconds, 60);
  }
  // us-1 exports without affinity or labels: it lost both properties, and eu-1 is told too.
  const conflict = (c: string) =>
    plan.exports.find((e) => e.cluster === c)?.conditions.find((x) => x.type === 'Conflict');
  assert.equal(conflict('us-1')?.reason, 'SessionAffinityConflict,LabelsConflict');
  assert.match(
    conflict('us-1')?.message ?? '',
    /sessionAffinity None conflicts with ClientIP in cluster eu-1/,
  );
  assert.equal(conflict('eu-1')?.status, 'True');

  const headless = planService(fleet({ exports: [exp('eu-1', 1, { ...sticky, type: 'Headless' })] }));
  for (const d of headless.clusters) {
    assert.equal(d.serviceImport.sessionAffinity, undefined);
    assert.equal(d.derivedService.sessionAffinity, undefined);
  }
});
