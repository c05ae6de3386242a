// Helm hooks run like Helm runs them, against a real local fleet (hub + 1 member, 127.124.0) and a
// chart of our own (test/fixtures/charts/hooked): its hook Jobs are real processes of the local
// image meridian.local/hook-job, so a test decides how long a hook runs and whether it fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../src/toolchain/binaries.ts';
import { freePort } from './support/free-port.ts';
import {
  applyApplication,
  fleetUp,
  joinMembers,
  kubectl,
  newFleetHome,
  startHub,
  waitFor,
  type HubProcess,
  type TestFleet,
  tearDownFleet,
  applicationStatus,
  waitApplication,
  applicationEvents,
} from './support/harness.ts';

const fleet: TestFleet = newFleetHome('127.124.0');
const MEMBER = 'eu-west';
const NS = 'hooked';
const CHART = 'test/fixtures/charts/hooked';
let hub: HubProcess;

interface AppStatus {
  revision?: number;
  phase?: string;
  rollbackCause?: string;
  clusters?: { name: string; phase: string; message?: string; revision?: number }[];
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

interface LiveObject {
  metadata: { creationTimestamp: string };
  data?: Record<string, string>;
  status?: { completionTime?: string };
}

/** The member's live object as JSON, or undefined when it does not exist. */
async function live(kind: string, name: string): Promise<LiveObject | undefined> {
  const r = await kubectl(['--context', MEMBER, 'get', kind, name, '-n', NS, '-o', 'json'], fleet);
  if (r.code !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return undefined;
    throw new Error(`get ${kind} ${name}: ${r.stderr}`);
  }
  return JSON.parse(r.stdout) as LiveObject;
}

const spec = (values: object = {}, extra: object = {}) => ({
  destinationNamespace: NS,
  placement: { clusters: [MEMBER] },
  source: { helm: { chart: CHART, values } },
  ...extra,
});

describe('Helm hooks', () => {
  before(async () => {
    // The hook Jobs' image: a real process that sleeps SLEEP_MS and exits with EXIT_CODE.
    writeFileSync(
      join(fleet.home, 'local-images.yaml'),
      'images:\n  meridian.local/hook-job:\n    entrypoint: [node, test/fixtures/local-images/hook-job.mjs]\n',
    );
    await fleetUp(fleet, 1);
    hub = await startHub(fleet, 'hooks-hub', await freePort(), ['--local-source-root', REPO_ROOT], 120_000);
    await joinMembers(fleet, [MEMBER]);
  });

  after(async () => {
    await tearDownFleet(fleet, hub);
  });

  test('a pre-install hook Job finishes before the release objects appear; post-install runs after; test hooks never', async () => {
    await applyApplication(fleet, 'hooked', spec());
    // While the pre-install Job runs (3 s), the lighter hook before it exists and the release does not.
    await waitFor('the pre-install Job running', 60_000, async () => {
      const job = await live('job', 'hooked-migrate');
      return job && !job.status?.completionTime ? job : undefined;
    });
    assert.ok(await live('configmap', 'hooked-hook-marker'), 'the weight -5 hook ran first');
    assert.equal(await live('configmap', 'hooked-settings'), undefined, 'ConfigMap before the hook finished');
    assert.equal(await live('deployment', 'hooked'), undefined, 'Deployment before the hook finished');
    const waiting = await appStatus('hooked');
    assert.match(
      waiting?.clusters?.[0]?.message ?? '',
      /waiting for pre-install hook Job hooked\/hooked-migrate/,
    );

    await waitStatus('hooked', 'Healthy', (s) => s.phase === 'Healthy', 120_000);
    const job = await live('job', 'hooked-migrate');
    const settings = await live('configmap', 'hooked-settings');
    assert.ok(job?.status?.completionTime && settings);
    assert.ok(
      Date.parse(settings.metadata.creationTimestamp) >= Date.parse(job.status.completionTime),
      `ConfigMap created ${settings.metadata.creationTimestamp}, hook Job completed ${job.status.completionTime}`,
    );
    // post-install: ran (an event says so) and was deleted by its hook-succeeded policy.
    assert.ok(
      (await eventsOf('hooked', 'HookSucceeded')).some((m) =>
        /post-install hook Job hooked\/hooked-notify/.test(m),
      ),
    );
    assert.equal(await live('job', 'hooked-notify'), undefined);
    assert.equal(await live('pod', 'hooked-test'), undefined, 'the test hook is never applied');
    // A few reconciles later: hooks are neither missing nor drift.
    await new Promise((r) => setTimeout(r, 3_000));
    assert.deepEqual(await eventsOf('hooked', 'Drifted'), []);
    assert.equal((await appStatus('hooked'))?.phase, 'Healthy');
  });

  test('a failing pre-upgrade hook fails the revision, naming the hook, and the fleet rolls back', async () => {
    await applyApplication(fleet, 'hooked', spec({ version: '2', migrate: { sleepMs: 500, exitCode: 1 } }));
    const s = await waitStatus('hooked', 'RolledBack', (st) => st.phase === 'RolledBack', 120_000);
    assert.match(s.rollbackCause ?? '', /Job hooked\/hooked-migrate: pre-upgrade hook failed/);
    assert.equal(s.history?.find((h) => h.revision === 2)?.outcome, 'RolledBack');
    assert.ok((await eventsOf('hooked', 'HookFailed')).some((m) => /hooked-migrate/.test(m)));
    // Revision 2's objects were never applied: the hook failed before them.
    assert.equal((await live('configmap', 'hooked-settings'))?.data?.version, '1');
  });

  test('a pre-install hook that outlives the progress deadline fails the rollout', async () => {
    await applyApplication(
      fleet,
      'slow',
      spec(
        { migrate: { sleepMs: 600_000 } },
        { destinationNamespace: 'slow', rollout: { progressDeadlineSeconds: 4 } },
      ),
    );
    const s = await waitStatus('slow', 'Failed', (st) => st.phase === 'Failed', 90_000);
    assert.match(s.clusters?.[0]?.message ?? '', /pre-install hook did not finish within 4s/);
    await kubectl(
      ['--context', 'hub', 'delete', 'application', 'slow', '-n', 'default', '--wait=false'],
      fleet,
    );
  });

  test('deleting the Application runs its pre-delete hook before its objects are deleted', async () => {
    await kubectl(
      ['--context', 'hub', 'delete', 'application', 'hooked', '-n', 'default', '--wait=false'],
      fleet,
    );
    await waitFor('the pre-delete Job running', 60_000, async () => {
      const job = await live('job', 'hooked-goodbye');
      return job && !job.status?.completionTime ? job : undefined;
    });
    assert.ok(await live('configmap', 'hooked-settings'), 'objects are kept while the pre-delete hook runs');
    assert.ok(await live('deployment', 'hooked'));
    await waitFor('the Application gone', 90_000, async () =>
      (await appStatus('hooked')) ? undefined : true,
    );
    assert.equal(await live('configmap', 'hooked-settings'), undefined);
    assert.equal(await live('deployment', 'hooked'), undefined);
    assert.ok(
      (await eventsOf('hooked', 'HookSucceeded')).some((m) =>
        /pre-delete hook Job hooked\/hooked-goodbye/.test(m),
      ),
    );
    await waitFor('slow gone', 90_000, async () => ((await appStatus('slow')) ? undefined : true));
  });
});
