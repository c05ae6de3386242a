import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextClusterStatus } from './cluster-health.ts';

const t0 = new Date('2026-05-01T10:00:00Z');
const at = (s: number): Date => new Date(t0.getTime() + s * 1000);
const ok = { ok: true as const, version: 'v1.35.4', nodeCount: 3, latencyMs: 4.27 };
const down = { ok: false as const, reason: 'Unreachable', message: 'connect ECONNREFUSED 127.77.0.2:6443' };
const ready = (s: { conditions?: { type: string; status: string }[] }): string | undefined =>
  s.conditions?.find((c) => c.type === 'Ready')?.status;

test('a first successful probe makes the cluster Ready with version, nodes and latency', () => {
  const d = nextClusterStatus(undefined, ok, 0, 1, t0);
  assert.equal(d.write, true);
  assert.equal(ready(d.status), 'True');
  assert.equal(d.status.kubernetesVersion, 'v1.35.4');
  assert.equal(d.status.nodeCount, 3);
  assert.equal(d.status.apiLatencyMs, 4.3);
  assert.equal(d.status.lastProbeTime, '2026-05-01T10:00:00Z');
});

test('one failed probe is tolerated, the second turns Ready False with the reason', () => {
  const s1 = nextClusterStatus(undefined, ok, 0, 1, t0).status;
  const d1 = nextClusterStatus(s1, down, 1, 1, at(2));
  assert.equal(d1.write, false);
  const d2 = nextClusterStatus(s1, down, 2, 1, at(4));
  assert.equal(d2.write, true);
  assert.equal(ready(d2.status), 'False');
  const c = d2.status.conditions?.find((x) => x.type === 'Ready');
  assert.equal(c?.reason, 'Unreachable');
  assert.match(c?.message ?? '', /ECONNREFUSED/);
  assert.equal(c?.lastTransitionTime, '2026-05-01T10:00:04Z');
});

test('recovery turns Ready True again at once', () => {
  const s1 = nextClusterStatus(undefined, ok, 0, 1, t0).status;
  const s2 = nextClusterStatus(s1, down, 2, 1, at(4)).status;
  const d3 = nextClusterStatus(s2, ok, 0, 1, at(6));
  assert.equal(d3.write, true);
  assert.equal(ready(d3.status), 'True');
});

test('unchanged healthy probes are not written until the heartbeat is due', () => {
  const s1 = nextClusterStatus(undefined, ok, 0, 1, t0).status;
  assert.equal(nextClusterStatus(s1, { ...ok, latencyMs: 9 }, 0, 1, at(2)).write, false);
  assert.equal(nextClusterStatus(s1, ok, 0, 1, at(31)).write, true);
  assert.equal(nextClusterStatus(s1, { ...ok, nodeCount: 4 }, 0, 1, at(2)).write, true);
});

test('a cluster never seen healthy reports Unknown, then False', () => {
  const d1 = nextClusterStatus(undefined, down, 1, 1, t0);
  assert.equal(ready(d1.status), 'Unknown');
  const d2 = nextClusterStatus(d1.status, down, 2, 1, at(2));
  assert.equal(ready(d2.status), 'False');
});

test('a status read back from the API server with its keys in another order is not rewritten', () => {
  const s1 = nextClusterStatus(undefined, ok, 0, 1, t0).status;
  // The server returns fields in its own order: reverse every object's keys.
  const reorder = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(reorder)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v)
              .reverse()
              .map(([k, x]) => [k, reorder(x)]),
          )
        : v;
  const fromServer = reorder(s1) as typeof s1;
  assert.equal(nextClusterStatus(fromServer, ok, 0, 1, at(2)).write, false);
});
