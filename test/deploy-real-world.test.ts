// What real charts and real operators do to the deploy service, against a real local fleet (hub + 2
// members, 127.118.0): a bad object in a namespace that does not exist yet, a chart with Helm hooks,
// a Job removed by its TTL, an immutable Job change, a restart in a healthy cluster, two
// Applications rendering one object, and what the fleet's nodes advertise.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { REPO_ROOT } from '../src/toolchain/binaries.ts';
import { freePort } from './support/free-port.ts';
import {
  applyApplication,
  deployment,
  fleetUp,
  joinMembers,
  jsonpath,
  kubectl,
  newFleetHome,
  revisionNames,
  startHub,
  waitFor,
  type HubProcess,
  type TestFleet,
  tearDownFleet,
  applicationStatus,
  waitApplication,
  applicationEvents,
} from './support/harness.ts';

const fleet: TestFleet = newFleetHome('127.118.0');
const MEMBERS = ['eu-west', 'us-east'];
let hub: HubProcess;

interface AppStatus {
  revision?: number;
  runningRevision?: number;
  phase?: string;
  clusters?: { name: string; phase: string; message?: string; applyError?: string; rolledOutAt?: string }[];
  conditions?: { type: string; status: string; reason: string; message: string }[];
  history?: { revision: number; outcome: string }[];
}

const appStatus = (name: string): Promise<AppStatus | undefined> => applicationStatus<AppStatus>(fleet, name);

const waitStatus = (
  name: string,
  what: string,
  ok: (s: AppStatus) => boolean,
  timeoutMs?: number,
): Promise<AppStatus> => waitApplication<AppStatus>(fleet, name, what, ok, timeoutMs);

const eventsOf = (name: string, reason: string): Promise<string[]> => applicationEvents(fleet, name, reason);

const spec = (namespace: string, source: object, extra: object = {}) => ({
  destinationNamespace: namespace,
  placement: { clusters: MEMBERS },
  source,
  ...extra,
});

describe('deploy on real-world charts', () => {
  before(async () => {
    await fleetUp(fleet, 2);
    hub = await startHub(
      fleet,
      'real-world-hub',
      await freePort(),
      ['--local-source-root', REPO_ROOT],
      120_000,
    );
    await joinMembers(fleet, MEMBERS);
  });

  after(async () => {
    await tearDownFleet(fleet, hub);
  });

  test('a bad object in a namespace that does not exist yet: nothing applied anywhere, no revision', async () => {
    await applyApplication(
      fleet,
      'fresh-ns',
      spec('fresh-ns', {
        manifests: [
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'good' }, data: { a: 'b' } },
          {
            ...deployment('bad', 1),
            spec: { replicas: -1, selector: { matchLabels: { app: 'x' } }, template: {} },
          },
        ],
      }),
    );
    const s = await waitStatus('fresh-ns', 'ValidationFailed', (st) =>
      (st.conditions ?? []).some((c) => c.reason === 'ValidationFailed'),
    );
    const ready = s.conditions?.find((c) => c.type === 'Ready');
    assert.match(ready?.message ?? '', /Deployment fresh-ns\/bad/);
    assert.deepEqual(await revisionNames(fleet, 'fresh-ns'), []);
    for (const c of MEMBERS) {
      const ns = await kubectl(['--context', c, 'get', 'namespace', 'fresh-ns'], fleet);
      assert.notEqual(ns.code, 0, `${c}: the namespace was not created`);
    }
    await kubectl(
      ['--context', 'hub', 'delete', 'application', 'fresh-ns', '-n', 'default', '--wait=false'],
      fleet,
    );
  });

  test('a chart with Helm hooks turns Healthy; hook-succeeded hooks are deleted and never come back as drift', async () => {
    await applyApplication(
      fleet,
      'hooks',
      spec('hooks', { helm: { chart: 'test/fixtures/charts/prometheus-operator-admission-webhook' } }),
    );
    await waitStatus('hooks', 'Healthy', (st) => st.phase === 'Healthy', 120_000);
    for (const c of MEMBERS) {
      await waitFor(`${c}: hook Jobs deleted after success`, 30_000, async () => {
        const jobs = await jsonpath(fleet, c, ['get', 'jobs', '-n', 'hooks'], '{.items[*].metadata.name}');
        return jobs.trim() === '' ? true : undefined;
      });
      assert.ok(
        (await jsonpath(fleet, c, ['get', 'deploy', '-n', 'hooks'], '{.items[*].metadata.name}')).trim() !==
          '',
      );
    }
    // A few reconciles later: no drift was reported for the deleted hooks.
    await new Promise((r) => setTimeout(r, 3_000));
    assert.deepEqual(await eventsOf('hooks', 'Drifted'), []);
    assert.ok((await eventsOf('hooks', 'HookDeleted')).length > 0);
  });

  test('a Job removed by its TTL is not drift; changing it is Immutable until sync.replace', async () => {
    const job = (image: string) => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'migrate' },
      spec: {
        ttlSecondsAfterFinished: 2,
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'm', image }] } },
      },
    });
    await applyApplication(fleet, 'ttl', spec('ttl', { manifests: [job('example/migrate:1')] }));
    await waitStatus('ttl', 'Healthy', (st) => st.phase === 'Healthy');
    for (const c of MEMBERS) {
      await waitFor(`${c}: Job removed by its TTL`, 60_000, async () => {
        const r = await kubectl(['--context', c, 'get', 'job', 'migrate', '-n', 'ttl'], fleet);
        return r.code !== 0 ? true : undefined;
      });
    }
    await new Promise((r) => setTimeout(r, 3_000));
    for (const c of MEMBERS) {
      const r = await kubectl(['--context', c, 'get', 'job', 'migrate', '-n', 'ttl'], fleet);
      assert.notEqual(r.code, 0, `${c}: the finished Job was not re-created`);
    }
    assert.deepEqual(await eventsOf('ttl', 'Drifted'), []);
    assert.equal((await appStatus('ttl'))?.phase, 'Healthy');

    // An immutable change to a Job that still exists: make one that lives long enough.
    const long = { ...job('example/migrate:1'), spec: { ...job('x').spec, ttlSecondsAfterFinished: 3600 } };
    await applyApplication(fleet, 'immutable', spec('immutable', { manifests: [long] }));
    await waitStatus('immutable', 'Healthy', (st) => st.phase === 'Healthy');
    const changed = {
      ...long,
      spec: {
        ...long.spec,
        template: {
          spec: { restartPolicy: 'Never', containers: [{ name: 'm', image: 'example/migrate:2' }] },
        },
      },
    };
    await applyApplication(
      fleet,
      'immutable',
      spec('immutable', { manifests: [changed] }, { rollback: { automatic: false } }),
    );
    const refused = await waitStatus('immutable', 'refused as immutable, naming the way out', (st) =>
      (st.conditions ?? []).some(
        (c) =>
          c.reason === 'ValidationFailed' &&
          /Job immutable\/migrate.*field is immutable.*sync\.replace/.test(c.message),
      ),
    );
    assert.ok(refused);
    await applyApplication(
      fleet,
      'immutable',
      spec(
        'immutable',
        { manifests: [changed] },
        { rollback: { automatic: false }, sync: { replace: true } },
      ),
    );
    await waitFor('Job re-created with the new image', 60_000, async () => {
      const images = await Promise.all(
        MEMBERS.map((c) =>
          jsonpath(
            fleet,
            c,
            ['get', 'job', 'migrate', '-n', 'immutable'],
            '{.spec.template.spec.containers[0].image}',
          ),
        ),
      );
      return images.every((i) => i === 'example/migrate:2') ? true : undefined;
    });
  });

  test('a restart in a healthy cluster after the progress deadline is not a failed rollout', async () => {
    await applyApplication(
      fleet,
      'restart',
      spec('restart', { manifests: [deployment('web', 2)] }, { rollout: { progressDeadlineSeconds: 3 } }),
    );
    const healthy = await waitStatus(
      'restart',
      'Healthy and rolled out',
      (st) => st.phase === 'Healthy' && (st.clusters ?? []).every((c) => c.rolledOutAt !== undefined),
    );
    assert.equal(healthy.revision, 1);
    assert.equal(healthy.runningRevision, 1);
    await waitFor('revision 1 records its outcome', 30_000, async () =>
      (await jsonpath(
        fleet,
        'hub',
        ['get', 'applicationrevision', 'restart-1', '-n', 'default'],
        '{.status.outcome}',
      )) === 'Succeeded'
        ? true
        : undefined,
    );
    await new Promise((r) => setTimeout(r, 4_000)); // past the deadline
    const r = await kubectl(
      ['--context', 'eu-west', 'rollout', 'restart', 'deployment/web', '-n', 'restart'],
      fleet,
    );
    assert.equal(r.code, 0, r.stderr);
    // Watch for a while: never Failed or rolled back, Healthy again.
    const until = Date.now() + 6_000;
    while (Date.now() < until) {
      const s = await appStatus('restart');
      assert.ok(s && !['Failed', 'RolledBack', 'RollingBack'].includes(s.phase ?? ''), JSON.stringify(s));
      await new Promise((res) => setTimeout(res, 250));
    }
    await waitStatus('restart', 'Healthy', (st) => st.phase === 'Healthy');
    assert.deepEqual(await eventsOf('restart', 'RolledBack'), []);
  });

  test('a second Application rendering the same object is a Conflict naming the first; deleting the adopter keeps what the first renders', async () => {
    const shared = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'shared' },
      data: { owner: 'a' },
    };
    await applyApplication(fleet, 'own-a', spec('shared', { manifests: [shared] }));
    await waitStatus('own-a', 'Healthy', (st) => st.phase === 'Healthy');
    const other = { ...shared, data: { owner: 'b' } };
    await applyApplication(fleet, 'own-b', spec('shared', { manifests: [other] }));
    const s = await waitStatus('own-b', 'Conflict', (st) =>
      (st.conditions ?? []).some(
        (c) => c.reason === 'ValidationFailed' && /Application default\/own-a/.test(c.message),
      ),
    );
    assert.match(s.conditions?.find((c) => c.type === 'Ready')?.message ?? '', /sync\.adopt/);
    for (const c of MEMBERS)
      assert.equal(await jsonpath(fleet, c, ['get', 'cm', 'shared', '-n', 'shared'], '{.data.owner}'), 'a');
    // Adopting takes it over; deleting the adopter leaves the object, which own-a still renders.
    await applyApplication(fleet, 'own-b', spec('shared', { manifests: [other] }, { sync: { adopt: true } }));
    await waitStatus('own-b', 'Healthy', (st) => st.phase === 'Healthy');
    const del = await kubectl(
      ['--context', 'hub', 'delete', 'application', 'own-b', '-n', 'default', '--timeout=60s'],
      fleet,
    );
    assert.equal(del.code, 0, del.stderr);
    for (const c of MEMBERS) {
      const r = await kubectl(['--context', c, 'get', 'cm', 'shared', '-n', 'shared'], fleet);
      assert.equal(r.code, 0, `${c}: the ConfigMap own-a renders survived deleting own-b`);
    }
  });

  test('nodes advertise cpu, memory, pods and ephemeral-storage', async () => {
    const alloc = await jsonpath(fleet, 'eu-west', ['get', 'nodes'], '{.items[0].status.allocatable}');
    const parsed = JSON.parse(alloc) as Record<string, string>;
    for (const k of ['cpu', 'memory', 'pods', 'ephemeral-storage']) assert.ok(parsed[k], `${k} in ${alloc}`);
  });
});
