// The deploy service against a real local fleet (hub + 2 members): sources, overrides, waves,
// fleet-wide rollback, drift correction, prune, placement changes, bad input, manual rollback and
// hub restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  fleetUp,
  hubEvents,
  joinMembers,
  jsonpath as jsonpathIn,
  readPidFile,
  revisionNames,
  applyDocs,
  cli,
  deployment,
  kubectl,
  newFleetHome,
  startHub,
  waitFor,
  type HubProcess,
  type TestFleet,
  tearDownFleet,
  applicationStatus,
} from './support/harness.ts';

const fleet: TestFleet = newFleetHome('127.82.0');
let hub: HubProcess;
const hubFlags = (): string[] => ['--hub-kubeconfig', fleet.kubeconfig, '--hub-context', 'hub'];

interface AppStatus {
  revision?: number;
  phase?: string;
  readyClusters?: string;
  lastGoodRevision?: number;
  clusters?: { name: string; revision?: number; phase: string; message?: string; drifted?: boolean }[];
  conditions?: { type: string; status: string; reason: string; message: string }[];
  history?: { revision: number; outcome: string }[];
}

const appStatus = (name: string): Promise<AppStatus | undefined> => applicationStatus<AppStatus>(fleet, name);

async function applyApp(doc: object): Promise<void> {
  const file = join(fleet.home, `app-${Date.now()}.yaml`);
  writeFileSync(file, stringify(doc));
  const r = await cli(['app', 'apply', '-f', file, ...hubFlags()], fleet.env);
  assert.equal(r.code, 0, r.stderr);
}

async function waitPhase(
  name: string,
  phase: string,
  timeoutMs = 60_000,
  revision?: number,
): Promise<AppStatus> {
  return waitFor(
    `${name} phase ${phase}${revision ? ` at revision ${revision}` : ''}`,
    timeoutMs,
    async () => {
      const s = await appStatus(name);
      if (s?.phase === phase && (revision === undefined || s.revision === revision)) return s;
      if (s)
        throw new Error(
          JSON.stringify({
            phase: s.phase,
            revision: s.revision,
            clusters: s.clusters,
            conditions: s.conditions?.filter((c) => c.status !== 'True' || c.type !== 'Ready'),
          }),
        );
      return undefined;
    },
    250,
  );
}

const jsonpath = (context: string, args: string[], path: string): Promise<string> =>
  jsonpathIn(fleet, context, args, path);

const app = (name: string, spec: Record<string, unknown>): object => ({
  apiVersion: 'meridian.dev/v1alpha1',
  kind: 'Application',
  metadata: { name, namespace: 'default' },
  spec: { destinationNamespace: name, placement: { clusters: ['eu-west', 'us-east'] }, ...spec },
});

describe('deploy service', () => {
  before(async () => {
    await fleetUp(fleet, 2);
    hub = await startHub(fleet, 'deploy-hub', 17543);
    await joinMembers(fleet, ['eu-west', 'us-east']);
  });

  after(async () => {
    await tearDownFleet(fleet, hub);
  });

  test('raw manifests reach every placed cluster with ownership labels and the app turns Healthy', async () => {
    await applyApp(
      app('raw', {
        source: {
          manifests: [
            deployment('web', 2),
            {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name: 'web-config' },
              data: { greeting: 'hello' },
            },
          ],
        },
      }),
    );
    const s = await waitPhase('raw', 'Healthy');
    assert.equal(s.readyClusters, '2/2');
    assert.equal(s.revision, 1);
    for (const c of ['eu-west', 'us-east']) {
      assert.equal(
        await jsonpath(c, ['get', 'deploy', 'web', '-n', 'raw'], '{.status.availableReplicas}'),
        '2',
      );
      assert.equal(
        await jsonpath(
          c,
          ['get', 'configmap', 'web-config', '-n', 'raw'],
          '{.metadata.labels.meridian\\.dev/application}',
        ),
        'default.raw',
      );
    }
    const cols = await kubectl(['--context', 'hub', 'get', 'applications', '-n', 'default'], fleet);
    assert.match(cols.stdout, /raw\s+1\s+Healthy\s+2\/2/);
    const rev = await kubectl(
      ['--context', 'hub', 'get', 'applicationrevision', 'raw-1', '-n', 'default'],
      fleet,
    );
    assert.equal(rev.code, 0, rev.stderr);
  });

  test('a manual edit or deletion in a member is corrected within 5 s and reported', async () => {
    await kubectl(['--context', 'eu-west', 'scale', 'deploy', 'web', '-n', 'raw', '--replicas', '5'], fleet);
    const t0 = Date.now();
    await waitFor(
      'replicas back to 2',
      5_000,
      async () =>
        (await jsonpath('eu-west', ['get', 'deploy', 'web', '-n', 'raw'], '{.spec.replicas}')) === '2'
          ? true
          : undefined,
      100,
    );
    const healed = Date.now() - t0;
    await kubectl(['--context', 'us-east', 'delete', 'configmap', 'web-config', '-n', 'raw'], fleet);
    const t1 = Date.now();
    await waitFor(
      'configmap recreated',
      5_000,
      async () =>
        (await jsonpath('us-east', ['get', 'configmap', 'web-config', '-n', 'raw'], '{.data.greeting}')) ===
        'hello'
          ? true
          : undefined,
      100,
    );
    process.stderr.write(`# drift corrected in ${healed} ms (edit) and ${Date.now() - t1} ms (deletion)\n`);
    const ev = await hubEvents(fleet, 'reason=Drifted', 'json');
    assert.match(ev, /spec\.replicas/);
    assert.match(ev, /ConfigMap raw\/web-config was deleted/);
  });

  test('an object that leaves the revision is pruned', async () => {
    await applyApp(app('raw', { source: { manifests: [deployment('web', 2)] } }));
    await waitPhase('raw', 'Healthy', 60_000, 2);
    for (const c of ['eu-west', 'us-east']) {
      const r = await kubectl(['--context', c, 'get', 'configmap', 'web-config', '-n', 'raw'], fleet);
      assert.notEqual(r.code, 0, `configmap still in ${c}`);
    }
  });

  test('bad input changes nothing anywhere and names the cluster, object and field', async () => {
    await applyApp(
      app('bad', {
        placement: { clusters: ['eu-west', 'eu-wst'] },
        source: { manifests: [deployment('x', 1)] },
      }),
    );
    const s1 = await waitFor('InvalidPlacement', 20_000, async () => {
      const s = await appStatus('bad');
      const c = s?.conditions?.find((x) => x.type === 'Ready');
      return c?.reason === 'InvalidPlacement' ? c : undefined;
    });
    assert.match(s1.message, /spec\.placement\.clusters\[1\].*cluster "eu-wst" does not exist/);
    // A schema violation only the member's API server knows about: nothing may be applied.
    await applyApp(
      app('bad', {
        source: {
          manifests: [
            { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'first' }, data: { a: 'b' } },
            { ...deployment('x', 1), spec: { replicas: 'three', selector: { matchLabels: { app: 'x' } } } },
          ],
        },
      }),
    );
    const s2 = await waitFor('ValidationFailed', 20_000, async () => {
      const s = await appStatus('bad');
      const c = s?.conditions?.find((x) => x.type === 'Ready');
      return c?.reason === 'ValidationFailed' ? c : undefined;
    });
    assert.match(s2.message, /cluster (eu-west|us-east): Deployment bad\/x/);
    assert.match(s2.message, /spec\.replicas/);
    for (const c of ['eu-west', 'us-east']) {
      const r = await kubectl(['--context', c, 'get', 'configmap', 'first', '-n', 'bad'], fleet);
      assert.notEqual(r.code, 0, `half-applied: configmap exists in ${c}`);
    }
    assert.deepEqual(await revisionNames(fleet, 'bad'), [], 'no revision may be created from bad input');
    await kubectl(['--context', 'hub', 'delete', 'application', 'bad', '-n', 'default'], fleet);
  });

  test('rolls every cluster back when wave 2 fails, and does not roll forward to the bad revision again', async () => {
    const waves = {
      strategy: 'Waves',
      waves: [
        { name: 'canary', clusters: ['eu-west'] },
        { name: 'rest', clusters: ['us-east'] },
      ],
      progressDeadlineSeconds: 60,
    };
    await applyApp(app('shop', { source: { manifests: [deployment('api', 2)] }, rollout: waves }));
    await waitPhase('shop', 'Healthy', 60_000, 1);
    // Revision 2 crashes only in us-east (wave 2): a kwok Stage makes its pods CrashLoopBackOff.
    await applyApp(
      app('shop', {
        source: { manifests: [deployment('api', 2, { annotations: { version: '2' } })] },
        rollout: waves,
        overrides: [
          {
            clusters: ['us-east'],
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
      }),
    );
    const s = await waitPhase('shop', 'RolledBack', 90_000);
    assert.equal(s.revision, 2);
    assert.equal(s.lastGoodRevision, 1);
    for (const c of s.clusters ?? []) assert.equal(c.revision, 1, `${c.name} not back on revision 1`);
    for (const c of ['eu-west', 'us-east']) {
      assert.equal(
        await jsonpath(
          c,
          ['get', 'deploy', 'api', '-n', 'shop'],
          '{.spec.template.metadata.annotations.version}',
        ),
        '',
      );
      assert.equal(
        await jsonpath(c, ['get', 'deploy', 'api', '-n', 'shop'], '{.status.availableReplicas}'),
        '2',
      );
    }
    const cond = s.conditions?.find((c) => c.type === 'RolledBack');
    assert.equal(cond?.status, 'True');
    assert.match(cond?.message ?? '', /us-east/);
    const ev = await hubEvents(fleet, 'reason=RolledBack', 'name');
    assert.notEqual(ev.trim(), '');
    // Still rolled back a while later: the bad digest is not retried.
    await new Promise((r) => setTimeout(r, 3_000));
    const later = await appStatus('shop');
    assert.equal(later?.phase, 'RolledBack');
    assert.ok(later?.clusters?.every((c) => c.revision === 1));
    // A new spec rolls forward again.
    await applyApp(app('shop', { source: { manifests: [deployment('api', 3)] }, rollout: waves }));
    await waitPhase('shop', 'Healthy', 60_000, 3);
  });

  test('meridian app rollback puts every cluster on an earlier revision', async () => {
    const r = await cli(['app', 'rollback', 'shop', '--to', '1', ...hubFlags()], fleet.env);
    assert.equal(r.code, 0, r.stderr);
    const s = await waitPhase('shop', 'RolledBack', 60_000);
    assert.ok(
      s.clusters?.every((c) => c.revision === 1),
      JSON.stringify(s.clusters),
    );
    const hist = await cli(['app', 'history', 'shop', ...hubFlags()], fleet.env);
    assert.match(hist.stdout, /REVISION\s+DIGEST\s+OUTCOME/);
    assert.match(hist.stdout, /\n2\s+sha256:\S+\s+RolledBack/);
    const bad = await cli(['app', 'rollback', 'shop', '--to', '99', ...hubFlags()], fleet.env);
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /revision 99 of default\/shop is not stored/);
  });

  test('a Helm chart with per-cluster overrides: values and built-in meridian.region differ per cluster', async () => {
    await applyApp(
      app('ref', {
        source: { helm: { chart: 'examples/reference-system/chart' } },
        overrides: [{ clusters: ['us-east'], values: { app1: { replicas: 1 } } }],
      }),
    );
    await waitPhase('ref', 'Healthy', 90_000);
    assert.equal(await jsonpath('eu-west', ['get', 'deploy', 'app1', '-n', 'ref'], '{.spec.replicas}'), '2');
    assert.equal(await jsonpath('us-east', ['get', 'deploy', 'app1', '-n', 'ref'], '{.spec.replicas}'), '1');
    const env = await jsonpath(
      'us-east',
      ['get', 'deploy', 'app1', '-n', 'ref'],
      '{.spec.template.spec.containers[0].env[?(@.name=="MERIDIAN_REGION")].value}',
    );
    assert.equal(env, 'us-east');
    assert.equal(
      await jsonpath('eu-west', ['get', 'statefulset', 'db', '-n', 'ref'], '{.status.readyReplicas}'),
      '1',
    );
    const diff = await cli(['app', 'diff', 'ref', ...hubFlags()], fleet.env);
    assert.equal(diff.code, 0, diff.stdout + diff.stderr);
    assert.match(diff.stdout, /no differences/);
  });

  test('a field owned by another manager is reported as a conflict, and taken over only with sync.force', async () => {
    const theirs = `apiVersion: v1
kind: ConfigMap
metadata: { name: shared, namespace: conflict }
data: { owner: someone-else }
`;
    await kubectl(['--context', 'eu-west', 'create', 'namespace', 'conflict'], fleet);
    const r = await kubectl(
      ['--context', 'eu-west', 'apply', '--server-side', '--field-manager', 'someone-else', '-f', '-'],
      fleet,
      theirs,
    );
    assert.equal(r.code, 0, r.stderr);
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'shared' },
      data: { owner: 'meridian' },
    };
    await applyApp(app('conflict', { source: { manifests: [cm] }, rollback: { automatic: false } }));
    // Caught by the dry-run in every member before anything changes anywhere.
    const cond = await waitFor(
      'conflict reported',
      30_000,
      async () => {
        const c = (await appStatus('conflict'))?.conditions?.find((x) => x.type === 'Ready');
        return c?.reason === 'ValidationFailed' ? c : undefined;
      },
      250,
    );
    assert.match(
      cond.message,
      /cluster eu-west: ConfigMap conflict\/shared: \.data\.owner: conflicts with another field manager/,
    );
    assert.match(cond.message, /someone-else/);
    assert.equal(
      await jsonpath('eu-west', ['get', 'configmap', 'shared', '-n', 'conflict'], '{.data.owner}'),
      'someone-else',
    );
    await applyApp(
      app('conflict', { source: { manifests: [cm] }, rollback: { automatic: false }, sync: { force: true } }),
    );
    await waitPhase('conflict', 'Healthy', 60_000);
    assert.equal(
      await jsonpath('eu-west', ['get', 'configmap', 'shared', '-n', 'conflict'], '{.data.owner}'),
      'meridian',
    );
    await kubectl(
      ['--context', 'hub', 'delete', 'application', 'conflict', '-n', 'default', '--wait=true'],
      fleet,
    );
  });

  test('a kustomize directory is built and applied to every cluster', async () => {
    await applyApp(app('kust', { source: { kustomize: { path: 'test/fixtures/kustomize/web' } } }));
    const s = await waitPhase('kust', 'Healthy', 60_000);
    assert.equal(s.readyClusters, '2/2');
    const objs = await kubectl(
      [
        '--context',
        'us-east',
        'get',
        'all',
        '-n',
        'kust',
        '-l',
        'app.kubernetes.io/managed-by=meridian',
        '-o',
        'name',
      ],
      fleet,
    );
    assert.notEqual(objs.stdout.trim(), '', 'nothing from the kustomization in us-east');
    await kubectl(
      ['--context', 'hub', 'delete', 'application', 'kust', '-n', 'default', '--wait=true'],
      fleet,
    );
  });

  test('a local kustomize directory with a custom resource kind renders again after discovery, from the same root', async () => {
    // Widget is defined by a CRD in the members only: the first render does not know its scope,
    // discovery learns it, and the second render must still read the hub's local source root.
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      },
    };
    for (const m of ['eu-west', 'us-east']) {
      await applyDocs(fleet, m, [crd]);
      await kubectl(
        ['--context', m, 'wait', '--for=condition=Established', 'crd/widgets.example.com'],
        fleet,
      );
    }
    await applyApp(
      app('kust-crd', { source: { kustomize: { path: 'test/fixtures/kustomize/custom-kind' } } }),
    );
    const s = await waitPhase('kust-crd', 'Healthy', 60_000);
    assert.equal(s.readyClusters, '2/2');
    assert.equal(
      await jsonpath('eu-west', ['get', 'widgets.example.com', 'gizmo', '-n', 'kust-crd'], '{.spec.size}'),
      'small',
    );
    await kubectl(
      ['--context', 'hub', 'delete', 'application', 'kust-crd', '-n', 'default', '--wait=true'],
      fleet,
    );
  });

  test('a cluster unreachable during a rollout is waited for, never counted healthy, and converges when it returns', async () => {
    await applyApp(
      app('outage', {
        source: { manifests: [deployment('o', 1)] },
        rollout: { progressDeadlineSeconds: 120 },
      }),
    );
    await waitPhase('outage', 'Healthy', 60_000, 1);
    process.kill(readPidFile(join(fleet.dir, 'us-east', 'kube-apiserver.pid')), 'SIGKILL');
    await waitFor(
      'us-east not Ready on the hub',
      15_000,
      async () =>
        (await jsonpath(
          'hub',
          ['get', 'cluster', 'us-east'],
          '{.status.conditions[?(@.type=="Ready")].status}',
        )) === 'False'
          ? true
          : undefined,
      200,
    );
    await applyApp(
      app('outage', {
        source: { manifests: [deployment('o', 2)] },
        rollout: { progressDeadlineSeconds: 120 },
      }),
    );
    await new Promise((r) => setTimeout(r, 4_000));
    const during = await appStatus('outage');
    assert.equal(during?.revision, 2);
    assert.equal(during?.phase, 'Progressing', JSON.stringify(during?.clusters));
    assert.notEqual(during?.clusters?.find((c) => c.name === 'us-east')?.phase, 'Healthy');
    await fleetUp(fleet, 2);
    await waitPhase('outage', 'Healthy', 60_000, 2);
    assert.equal(await jsonpath('us-east', ['get', 'deploy', 'o', '-n', 'outage'], '{.spec.replicas}'), '2');
  });

  test('a git source: a new commit becomes a new revision after a poke', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'meridian-git-'));
    const work = join(repo, 'work');
    const bare = join(repo, 'origin.git');
    const git = (cwd: string, ...args: string[]): string =>
      execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], {
        cwd,
        encoding: 'utf8',
      });
    execFileSync('git', ['init', '-q', '--bare', bare]);
    execFileSync('git', ['init', '-q', '-b', 'main', work]);
    const write = (replicas: number): void =>
      writeFileSync(join(work, 'deploy.yaml'), stringify(deployment('gitweb', replicas)));
    write(1);
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'one');
    git(work, 'push', '-q', bare, 'main');
    await applyApp(app('gitapp', { source: { git: { url: `file://${bare}`, ref: 'main', manifests: {} } } }));
    const s1 = await waitPhase('gitapp', 'Healthy', 60_000, 1);
    assert.equal(s1.revision, 1);
    write(2);
    git(work, 'commit', '-qam', 'two');
    git(work, 'push', '-q', bare, 'main');
    await kubectl(
      [
        '--context',
        'hub',
        'annotate',
        'application',
        'gitapp',
        '-n',
        'default',
        '--overwrite',
        `meridian.dev/refresh=${Date.now()}`,
      ],
      fleet,
    );
    await waitPhase('gitapp', 'Healthy', 60_000, 2);
    assert.equal(
      await jsonpath('us-east', ['get', 'deploy', 'gitweb', '-n', 'gitapp'], '{.spec.replicas}'),
      '2',
    );
    const commit = git(work, 'rev-parse', 'HEAD').trim();
    assert.equal(
      await jsonpath(
        'hub',
        ['get', 'applicationrevision', 'gitapp-2', '-n', 'default'],
        '{.spec.sourceCommit}',
      ),
      commit,
    );
    rmSync(repo, { recursive: true, force: true });
  });

  test('a cluster that leaves the placement is cleaned up; one that joins gets the current revision', async () => {
    await applyApp(
      app('raw', { placement: { clusters: ['eu-west'] }, source: { manifests: [deployment('web', 2)] } }),
    );
    await waitFor('web gone from us-east', 30_000, async () => {
      const r = await kubectl(['--context', 'us-east', 'get', 'deploy', 'web', '-n', 'raw'], fleet);
      return r.code !== 0 ? true : undefined;
    });
    await applyApp(app('raw', { source: { manifests: [deployment('web', 2)] } }));
    await waitFor('web back in us-east', 30_000, async () =>
      (await jsonpath('us-east', ['get', 'deploy', 'web', '-n', 'raw'], '{.status.availableReplicas}')) ===
      '2'
        ? true
        : undefined,
    );
    await waitPhase('raw', 'Healthy', 30_000);
  });

  test('a hub restart in the middle of a rollout converges to the same end', async () => {
    await applyApp(app('restart', { source: { manifests: [deployment('svc', 3)] } }));
    await waitFor(
      'rollout started',
      20_000,
      async () => ((await appStatus('restart'))?.revision === 1 ? true : undefined),
      100,
    );
    await hub.stop('SIGKILL');
    hub = await startHub(fleet, 'deploy-hub-2', 17544);
    const s = await waitPhase('restart', 'Healthy', 60_000, 1);
    assert.equal(s.readyClusters, '2/2');
    assert.equal((await revisionNames(fleet, 'restart')).length, 1, 'a restart must not mint a new revision');
  });

  test('deleting an Application removes its objects from every cluster', async () => {
    const r = await kubectl(
      [
        '--context',
        'hub',
        'delete',
        'application',
        'restart',
        '-n',
        'default',
        '--wait=true',
        '--timeout=60s',
      ],
      fleet,
    );
    assert.equal(r.code, 0, r.stderr);
    for (const c of ['eu-west', 'us-east']) {
      const g = await kubectl(['--context', c, 'get', 'deploy', 'svc', '-n', 'restart'], fleet);
      assert.notEqual(g.code, 0, `svc still in ${c}`);
    }
  });
});
