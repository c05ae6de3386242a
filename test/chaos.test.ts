// Chaos against a real local fleet (hub + 2 members, 127.144.0.x): the hub killed with SIGKILL at
// random points of rollouts and of a rollback, a member's API server and the hub's etcd frozen
// mid-rollout, and a member reached through a loopback proxy that adds latency. After each, the
// fleet converges to the spec, with no lost or duplicate revision and no write storm.
// CI runs the short form (CHAOS_TRIALS=3); `npm run chaos` runs 50 trials. CHAOS_SEED replays one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify, parse } from 'yaml';
import { freeze, thaw } from './support/freeze.ts';
import { startLatencyProxy } from './support/latency-proxy.ts';
import {
  cli,
  deployment,
  fleetUp,
  joinMembers,
  jsonpath,
  newFleetHome,
  readPidFile,
  revisionNames,
  startHub,
  waitFor,
  type HubProcess,
  type TestFleet,
  tearDownFleet,
  applicationStatus,
} from './support/harness.ts';

const fleet: TestFleet = newFleetHome('127.144.0');
const MEMBERS = ['eu-west', 'us-east'];
const HUB_PORT = 17644;
const TRIALS = Math.min(99, Number(process.env['CHAOS_TRIALS'] ?? 3));
const SEED = Number(process.env['CHAOS_SEED'] ?? Date.now() % 2 ** 31);
let hub: HubProcess;
let hubs = 0;

// A small seeded PRNG (mulberry32), so a failing trial's kill times can be replayed.
let state = SEED;
function random(): number {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

interface AppStatus {
  revision?: number;
  phase?: string;
  lastGoodRevision?: number;
  clusters?: { name: string; revision?: number; phase: string }[];
}

const appStatus = (name: string): Promise<AppStatus | undefined> => applicationStatus<AppStatus>(fleet, name);

async function waitPhase(
  name: string,
  phase: string,
  revision: number,
  timeoutMs = 120_000,
): Promise<AppStatus> {
  return waitFor(`${name} ${phase} at revision ${revision}`, timeoutMs, async () => {
    const s = await appStatus(name);
    return s?.phase === phase && s.revision === revision ? s : undefined;
  });
}

const waves = {
  strategy: 'Waves',
  waves: [
    { name: 'canary', clusters: ['eu-west'] },
    { name: 'rest', clusters: ['us-east'] },
  ],
  progressDeadlineSeconds: 60,
};

async function applyApp(name: string, version: number, crashIn?: string): Promise<void> {
  const doc = {
    apiVersion: 'meridian.dev/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace: 'default' },
    spec: {
      destinationNamespace: name,
      placement: { clusters: MEMBERS },
      // Every revision kept (at most 100 trials), so a lost or doubled one shows.
      revisionHistoryLimit: 100,
      source: { manifests: [deployment('api', 2, { annotations: { version: String(version) } })] },
      rollout: waves,
      ...(crashIn
        ? {
            overrides: [
              {
                clusters: [crashIn],
                patches: [
                  {
                    apiVersion: 'apps/v1',
                    kind: 'Deployment',
                    metadata: { name: 'api' },
                    spec: { template: { metadata: { annotations: { 'meridian.dev/simulate': 'crash' } } } },
                  },
                ],
              },
            ],
          }
        : {}),
    },
  };
  const file = join(fleet.home, `chaos-${name}-${version}.yaml`);
  writeFileSync(file, stringify(doc));
  const r = await cli(
    ['app', 'apply', '-f', file, '--hub-kubeconfig', fleet.kubeconfig, '--hub-context', 'hub'],
    fleet.env,
  );
  assert.equal(r.code, 0, r.stderr);
}

/** The revision numbers stored for `app`: they must be 1..n, each once. */
async function revisionNumbers(app: string): Promise<number[]> {
  return (await revisionNames(fleet, app)).map((n) => Number(/-(\d+)$/.exec(n)?.[1])).sort((a, b) => a - b);
}

async function restartHub(): Promise<void> {
  hub = await startHub(fleet, `chaos-hub-${++hubs}`, HUB_PORT, [], 90_000);
}

/** How often the Application and its Deployments are written while nothing changes. */
async function writesAtRest(app: string, ms: number): Promise<number> {
  const versions = async (): Promise<string[]> => [
    await jsonpath(fleet, 'hub', ['get', 'application', app, '-n', 'default'], '{.metadata.resourceVersion}'),
    ...(await Promise.all(
      MEMBERS.map((c) =>
        jsonpath(fleet, c, ['get', 'deploy', 'api', '-n', app], '{.metadata.resourceVersion}'),
      ),
    )),
  ];
  const seen = new Set<string>();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    (await versions()).forEach((v, i) => seen.add(`${i}:${v}`));
    await new Promise((r) => setTimeout(r, 500));
  }
  return seen.size - (MEMBERS.length + 1);
}

async function versionsIn(app: string): Promise<string[]> {
  return Promise.all(
    MEMBERS.map((c) =>
      jsonpath(
        fleet,
        c,
        ['get', 'deploy', 'api', '-n', app],
        '{.spec.template.metadata.annotations.version}',
      ),
    ),
  );
}

describe(`chaos (${TRIALS} trials, CHAOS_SEED=${SEED})`, () => {
  before(async () => {
    process.stdout.write(`# chaos: CHAOS_SEED=${SEED} CHAOS_TRIALS=${TRIALS}\n`);
    await fleetUp(fleet, 2);
    await restartHub();
    await joinMembers(fleet, MEMBERS);
  });

  after(async () => {
    await tearDownFleet(fleet, hub);
  });

  test('the hub killed (SIGKILL) at random points of rollouts: each converges, no revision lost or doubled, no write storm', async () => {
    await applyApp('roll', 1);
    await waitPhase('roll', 'Healthy', 1);
    for (let v = 2; v <= TRIALS + 1; v++) {
      await applyApp('roll', v);
      // Anywhere from before the revision is minted to the middle of the second wave.
      const at = Math.floor(random() * 2_500);
      await new Promise((r) => setTimeout(r, at));
      await hub.stop('SIGKILL');
      await restartHub();
      await waitPhase('roll', 'Healthy', v);
      assert.deepEqual(
        await versionsIn('roll'),
        MEMBERS.map(() => String(v)),
        `trial ${v - 1} (kill at ${at} ms)`,
      );
      assert.deepEqual(
        await revisionNumbers('roll'),
        Array.from({ length: v }, (_, i) => i + 1),
        `trial ${v - 1} (kill at ${at} ms): one revision per spec change`,
      );
    }
    // At rest nothing is written again and again (a status or apply loop would show here).
    assert.ok((await writesAtRest('roll', 5_000)) <= 1, 'writes at rest');
  });

  test('the hub killed in the middle of a fleet-wide rollback: it finishes on the last good revision', async () => {
    await applyApp('back', 1);
    await waitPhase('back', 'Healthy', 1);
    await applyApp('back', 2, 'us-east');
    // Kill anywhere from the bad revision's first wave to the rollback's end (the crash in wave
    // 2 and the rollback take a few seconds).
    await waitFor('revision 2 minted', 60_000, async () =>
      (await appStatus('back'))?.revision === 2 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, Math.floor(random() * 8_000)));
    await hub.stop('SIGKILL');
    await restartHub();
    const s = await waitPhase('back', 'RolledBack', 2);
    assert.equal(s.lastGoodRevision, 1);
    await waitFor('every cluster back on revision 1', 60_000, async () => {
      const st = await appStatus('back');
      return st?.clusters?.every((c) => c.revision === 1) ? true : undefined;
    });
    assert.deepEqual(await versionsIn('back'), ['1', '1']);
    assert.deepEqual(await revisionNumbers('back'), [1, 2]);
  });

  test("a member's API server frozen mid-rollout is waited for; the rollout converges once it answers", async () => {
    await applyApp('frozen', 1);
    await waitPhase('frozen', 'Healthy', 1);
    const pid = readPidFile(join(fleet.dir, 'us-east', 'kube-apiserver.pid'));
    await applyApp('frozen', 2);
    await freeze(pid);
    try {
      await new Promise((r) => setTimeout(r, 8_000));
      const s = await appStatus('frozen');
      assert.notEqual(s?.phase, 'Healthy', 'a cluster that cannot answer is not counted healthy');
      assert.notEqual(s?.phase, 'RolledBack', 'an outage is not a failed rollout');
    } finally {
      thaw(pid);
    }
    await waitPhase('frozen', 'Healthy', 2);
    assert.deepEqual(await versionsIn('frozen'), ['2', '2']);
    assert.deepEqual(await revisionNumbers('frozen'), [1, 2]);
  });

  test("the hub cluster's etcd frozen mid-rollout: the hub recovers and the rollout converges", async () => {
    await applyApp('etcd', 1);
    await waitPhase('etcd', 'Healthy', 1);
    const pid = readPidFile(join(fleet.dir, 'hub', 'etcd.pid'));
    await applyApp('etcd', 2);
    await freeze(pid);
    await new Promise((r) => setTimeout(r, 6_000));
    thaw(pid);
    await waitPhase('etcd', 'Healthy', 2);
    assert.deepEqual(await versionsIn('etcd'), ['2', '2']);
    assert.deepEqual(await revisionNumbers('etcd'), [1, 2]);
    assert.equal(hub.child.exitCode, null, 'the hub process survived');
  });

  test('a member reached through 150 ms of added latency each way: rollouts complete and the hub stays responsive', async () => {
    // Re-join eu-west through the proxy: the hub's connection to it now crosses the delay.
    const config = parse(readFileSync(fleet.kubeconfig, 'utf8')) as {
      clusters: { name: string; cluster: { server: string } }[];
    };
    const entry = config.clusters.find((c) => c.name === 'eu-west')!;
    const direct = new URL(entry.cluster.server);
    const proxy = await startLatencyProxy(
      direct.hostname,
      { host: direct.hostname, port: Number(direct.port) },
      150,
    );
    try {
      entry.cluster.server = `https://${direct.hostname}:${proxy.port}`;
      const slow = join(fleet.home, 'slow-kubeconfig');
      writeFileSync(slow, stringify(config));
      await joinMembers({ ...fleet, kubeconfig: slow }, ['eu-west']);
      await applyApp('far', 1);
      const started = Date.now();
      let worst = 0;
      const probe = setInterval(() => {
        const t = Date.now();
        fetch(`http://127.0.0.1:${HUB_PORT}/healthz`).then(
          () => (worst = Math.max(worst, Date.now() - t)),
          () => (worst = Infinity),
        );
      }, 200);
      try {
        await waitPhase('far', 'Healthy', 1, 180_000);
      } finally {
        clearInterval(probe);
      }
      process.stdout.write(`# chaos: rollout through the latency proxy took ${Date.now() - started} ms\n`);
      assert.ok(proxy.bytes() > 0, 'the hub reached eu-west through the proxy');
      assert.ok(worst < 1_000, `the hub answered /healthz within ${worst} ms at worst`);
    } finally {
      await joinMembers(fleet, ['eu-west']);
      await proxy.close();
    }
  });
});
