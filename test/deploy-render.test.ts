// The deploy render pipeline with the real tools (helm, kubectl kustomize, git) and no Kubernetes:
// local and HTTP-repository charts, kustomize, git sources, and the errors users see.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Application } from '../src/api/application.ts';
import { assertValidResource } from '../src/api/validate.ts';
import type { KubeObject } from '../src/kube/cluster-client.ts';
import { cacheRoot, cachedBinaries, REPO_ROOT } from '../src/toolchain/binaries.ts';
import { fetchGit } from '../src/deploy/git-source.ts';
import { renderApplication } from '../src/deploy/render.ts';
import type { RenderEnv, RenderTools } from '../src/deploy/render.ts';
import type { RenderedCluster, RenderOutcome } from '../src/deploy/deploy-types.ts';
import type { TargetCluster } from '../src/fleet/targets.ts';

function findTools(): RenderTools | undefined {
  try {
    const bins = cachedBinaries();
    return bins ? { helm: bins.path('helm'), kubectl: bins.path('kubectl') } : undefined;
  } catch {
    return undefined;
  }
}
const tools = findTools();
const skip = tools ? false : 'helm and kubectl are not built (run `meridian fleet build`)';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures');

const KINDS: Record<string, boolean> = {
  'v1/ConfigMap': true,
  'v1/Service': true,
  'apps/v1/Deployment': true,
  'monitoring.coreos.com/v1/ServiceMonitor': true,
  'v1/Namespace': false,
};

const eu: TargetCluster = {
  name: 'eu-west',
  region: 'eu-west',
  zone: 'eu-west-a',
  labels: { tier: 'prod', 'topology.kubernetes.io/region': 'eu-west' },
  kubernetesVersion: 'v1.35.4',
  apiVersions: ['monitoring.coreos.com/v1', 'monitoring.coreos.com/v1/ServiceMonitor'],
  ready: true,
};
const us: TargetCluster = {
  name: 'us-east',
  region: 'us-east',
  labels: { tier: 'dev' },
  kubernetesVersion: 'v1.32.1',
  ready: true,
};

let work: string;
let env: RenderEnv;

function application(spec: Record<string, unknown>): Application {
  return assertValidResource('Application', {
    apiVersion: 'meridian.dev/v1alpha1',
    kind: 'Application',
    metadata: { name: 'shop', namespace: 'team-a' },
    spec: { destinationNamespace: 'shop', placement: { clusters: ['eu-west', 'us-east'] }, ...spec },
  });
}

function rendered(outcome: RenderOutcome): readonly RenderedCluster[] {
  assert.ok(outcome.ok, outcome.ok ? '' : JSON.stringify(outcome.errors, null, 2));
  return outcome.clusters;
}

function find(cluster: RenderedCluster | undefined, kind: string, name?: string): KubeObject {
  const obj = cluster?.objects.find(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  assert.ok(
    obj,
    `${cluster?.cluster}: no ${kind} ${name ?? ''} in ${cluster?.objects.map((o) => o.kind).join(', ')}`,
  );
  return obj;
}

interface PodSpecShape {
  spec: {
    replicas?: number;
    template: { spec: { containers: { image: string }[]; initContainers?: { name: string }[] } };
  };
}
const deploymentSpec = (o: KubeObject) => (o as unknown as PodSpecShape).spec;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'meridian-render-test-'));
  env = {
    revision: 1,
    isNamespaced: (_cluster, apiVersion, kind) => KINDS[`${apiVersion}/${kind}`],
    cacheDir: join(work, 'cache'),
    localRoot: FIXTURES,
    ...(tools ? { tools } : {}),
  };
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('helm sources', { skip }, () => {
  const chartApp = () =>
    application({
      source: { helm: { chart: 'charts/web', values: { replicas: 2, tier: 'base' } } },
      overrides: [
        {
          clusters: ['eu-west'],
          values: { replicas: 4 },
          patches: [
            { apiVersion: 'v1', kind: 'Service', metadata: { name: 'shop', labels: { exposure: 'public' } } },
          ],
        },
        { clusterSelector: { matchLabels: { tier: 'dev' } }, values: { tier: 'dev', replicas: 1 } },
      ],
    });

  test('renders a local chart per cluster with that cluster’s values, capabilities and overrides', async () => {
    const [euOut, usOut] = rendered(await renderApplication(chartApp(), [eu, us], env));
    assert.deepEqual([euOut?.cluster, usOut?.cluster], ['eu-west', 'us-east']);

    const euDeploy = find(euOut, 'Deployment', 'shop');
    const usDeploy = find(usOut, 'Deployment', 'shop');
    assert.equal(deploymentSpec(euDeploy).replicas, 4);
    assert.equal(deploymentSpec(usDeploy).replicas, 1);
    // Built-in values reach the templates, per cluster.
    assert.equal(euDeploy.metadata.labels?.['meridian.dev/region'], 'eu-west');
    assert.equal(usDeploy.metadata.labels?.['meridian.dev/region'], 'us-east');
    assert.equal(euDeploy.metadata.labels?.['tier'], 'base');
    assert.equal(usDeploy.metadata.labels?.['tier'], 'dev');
    // --kube-version: the chart adds a native sidecar from 1.33 on.
    assert.equal(euDeploy.metadata.labels?.['kube-minor'], '35');
    assert.equal(usDeploy.metadata.labels?.['kube-minor'], '32');
    assert.deepEqual(
      deploymentSpec(euDeploy).template.spec.initContainers?.map((c) => c.name),
      ['log-shipper'],
    );
    assert.equal(deploymentSpec(usDeploy).template.spec.initContainers, undefined);
    // --api-versions: only eu-west serves ServiceMonitor.
    find(euOut, 'ServiceMonitor', 'shop');
    assert.equal(
      usOut?.objects.some((o) => o.kind === 'ServiceMonitor'),
      false,
    );
    // The patch applies to eu-west only.
    assert.equal(find(euOut, 'Service').metadata.labels?.['exposure'], 'public');
    assert.equal(find(usOut, 'Service').metadata.labels?.['exposure'], undefined);
    // Ownership and namespace.
    for (const obj of [...(euOut?.objects ?? []), ...(usOut?.objects ?? [])]) {
      assert.equal(obj.metadata.namespace, 'shop');
      assert.equal(obj.metadata.labels?.['app.kubernetes.io/managed-by'], 'meridian');
      assert.equal(obj.metadata.labels?.['meridian.dev/application'], 'team-a.shop');
      assert.equal(obj.metadata.annotations?.['meridian.dev/revision'], '1');
    }
    assert.notEqual(euOut?.digest, usOut?.digest);
  });

  test('digests do not change when only the revision number does', async () => {
    const one = await renderApplication(chartApp(), [eu, us], env);
    const two = await renderApplication(chartApp(), [eu, us], { ...env, revision: 2 });
    assert.ok(one.ok && two.ok);
    assert.equal(one.digest, two.digest);
    assert.deepEqual(
      one.clusters.map((c) => c.digest),
      two.clusters.map((c) => c.digest),
    );
    assert.equal(find(two.clusters[0], 'Service').metadata.annotations?.['meridian.dev/revision'], '2');
    const changed = await renderApplication(
      application({ source: { helm: { chart: 'charts/web', values: { replicas: 9 } } } }),
      [eu, us],
      env,
    );
    assert.ok(changed.ok);
    assert.notEqual(changed.digest, one.digest);
  });

  test('a missing local chart is a HelmFailed error naming spec.source.helm.chart in every cluster', async () => {
    const outcome = await renderApplication(
      application({ source: { helm: { chart: 'charts/nope' } } }),
      [eu, us],
      env,
    );
    assert.equal(outcome.ok, false);
    assert.ok(!outcome.ok);
    assert.deepEqual(
      outcome.errors.map((e) => [e.code, e.cluster, e.field]),
      [
        ['HelmFailed', 'eu-west', 'spec.source.helm.chart'],
        ['HelmFailed', 'us-east', 'spec.source.helm.chart'],
      ],
    );
    assert.match(outcome.errors[0]?.message ?? '', /charts\/nope.*not found/);
  });

  test('a chart path leaving the local root, or any local path without one, is refused', async () => {
    const escape = await renderApplication(
      application({ source: { helm: { chart: '../../etc' } } }),
      [eu],
      env,
    );
    assert.ok(!escape.ok);
    assert.deepEqual(
      escape.errors.map((e) => [e.code, e.field]),
      [['LocalPathNotAllowed', 'spec.source.helm.chart']],
    );
    const { localRoot: _unused, ...noRoot } = env;
    const refused = await renderApplication(
      application({ source: { helm: { chart: 'charts/web' } } }),
      [eu],
      noRoot,
    );
    assert.ok(!refused.ok);
    assert.equal(refused.errors[0]?.code, 'LocalPathNotAllowed');
  });

  describe('from an HTTP chart repository on 127.0.0.1', () => {
    let server: Server;
    let repoURL: string;
    let requests = 0;

    before(async () => {
      const repo = join(work, 'repo');
      mkdirSync(repo, { recursive: true });
      execFileSync(tools!.helm, ['package', join(FIXTURES, 'charts', 'web'), '--destination', repo], {
        env: {
          ...process.env,
          HELM_CACHE_HOME: join(work, 'h', 'c'),
          HELM_CONFIG_HOME: join(work, 'h', 'g'),
          HELM_DATA_HOME: join(work, 'h', 'd'),
        },
      });
      execFileSync(tools!.helm, ['repo', 'index', repo]);
      server = createServer((req, res) => {
        requests++;
        const name = (req.url ?? '/').replace(/^\/+/, '').split('?')[0] ?? '';
        if (!/^[\w.-]+$/.test(name)) {
          res.writeHead(404).end();
          return;
        }
        try {
          const body = readFileSync(join(repo, name));
          res
            .writeHead(200, { 'content-type': name.endsWith('.yaml') ? 'text/yaml' : 'application/gzip' })
            .end(body);
        } catch {
          res.writeHead(404).end();
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      repoURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    test('renders a chart fetched by name and version from the repository', async () => {
      const before = requests;
      const app = application({
        source: { helm: { chart: 'web', version: '0.1.0', repoURL, values: { replicas: 6 } } },
      });
      const [euOut] = rendered(await renderApplication(app, [eu], env));
      assert.equal(deploymentSpec(find(euOut, 'Deployment', 'shop')).replicas, 6);
      assert.ok(requests > before, 'helm fetched from the test repository');
    });

    test('a chart or version the repository does not have names the field to fix', async () => {
      const noChart = await renderApplication(
        application({ source: { helm: { chart: 'missing', repoURL } } }),
        [eu],
        env,
      );
      assert.ok(!noChart.ok);
      assert.deepEqual(
        noChart.errors.map((e) => [e.code, e.field]),
        [['HelmFailed', 'spec.source.helm.chart']],
      );
      assert.match(noChart.errors[0]?.message ?? '', /"missing" not found/);
      const noVersion = await renderApplication(
        application({ source: { helm: { chart: 'web', version: '9.9.9', repoURL } } }),
        [eu],
        env,
      );
      assert.ok(!noVersion.ok);
      assert.deepEqual(
        noVersion.errors.map((e) => [e.code, e.field]),
        [['HelmFailed', 'spec.source.helm.version']],
      );
    });
  });
  describe('from an OCI registry on 127.0.0.1', () => {
    let registry: ChildProcess | undefined;
    let ref: string;

    before(async () => {
      // go-containerregistry's small in-memory registry, built from the Go module proxy.
      const bin = join(cacheRoot(), 'peers', 'registry');
      if (!existsSync(bin)) {
        execFileSync('go', ['install', 'github.com/google/go-containerregistry/cmd/registry@v0.22.1'], {
          env: { ...process.env, GOBIN: dirname(bin) },
          stdio: 'inherit',
        });
      }
      const port = await new Promise<number>((resolve) => {
        const s = createNetServer();
        s.listen(0, '127.0.0.1', () => {
          const p = (s.address() as AddressInfo).port;
          s.close(() => resolve(p));
        });
      });
      registry = spawn(bin, ['-port', String(port)], { stdio: 'ignore' });
      const helmEnvVars = {
        ...process.env,
        HELM_CACHE_HOME: join(work, 'o', 'c'),
        HELM_CONFIG_HOME: join(work, 'o', 'g'),
        HELM_DATA_HOME: join(work, 'o', 'd'),
      };
      const pkgDir = join(work, 'oci');
      mkdirSync(pkgDir, { recursive: true });
      execFileSync(tools!.helm, ['package', join(FIXTURES, 'charts', 'web'), '--destination', pkgDir], {
        env: helmEnvVars,
      });
      // The registry takes a moment to listen: retry the push briefly.
      for (let i = 0; ; i++) {
        try {
          execFileSync(
            tools!.helm,
            ['push', join(pkgDir, 'web-0.1.0.tgz'), `oci://127.0.0.1:${port}/charts`, '--plain-http'],
            {
              env: helmEnvVars,
              stdio: 'pipe',
            },
          );
          break;
        } catch (e) {
          if (i > 50) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      ref = `oci://127.0.0.1:${port}/charts/web`;
    });
    after(() => {
      registry?.kill();
    });

    test('renders a chart pulled from an oci:// reference, per cluster', async () => {
      const app = application({
        source: { helm: { chart: ref, version: '0.1.0', values: { replicas: 5 } } },
      });
      const [euOut, usOut] = rendered(await renderApplication(app, [eu, us], env));
      assert.equal(deploymentSpec(find(euOut, 'Deployment', 'shop')).replicas, 5);
      assert.equal(deploymentSpec(find(usOut, 'Deployment', 'shop')).replicas, 5);
    });

    test('a tag the registry does not have names spec.source.helm.version', async () => {
      const out = await renderApplication(
        application({ source: { helm: { chart: ref, version: '9.9.9' } } }),
        [eu],
        env,
      );
      assert.ok(!out.ok);
      assert.deepEqual(
        [out.errors[0]?.code, out.errors[0]?.field],
        ['HelmFailed', 'spec.source.helm.version'],
      );
    });
  });
});

describe('kustomize sources', { skip }, () => {
  test('renders a kustomization once and applies images and patches per cluster', async () => {
    const app = application({
      source: { kustomize: { path: 'kustomize/web' } },
      images: [{ name: 'example/app2', newName: 'registry.example.com/app2' }],
      overrides: [
        {
          clusters: ['us-east'],
          images: [{ name: 'example/app2', newTag: '2.0.0' }],
          patches: [
            {
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              metadata: { name: 'shop-api' },
              spec: { replicas: 5 },
            },
          ],
        },
      ],
    });
    const [euOut, usOut] = rendered(await renderApplication(app, [eu, us], env));
    const euApi = deploymentSpec(find(euOut, 'Deployment', 'shop-api'));
    const usApi = deploymentSpec(find(usOut, 'Deployment', 'shop-api'));
    assert.equal(euApi.template.spec.containers[0]?.image, 'registry.example.com/app2:1.0.0');
    assert.equal(usApi.template.spec.containers[0]?.image, 'example/app2:2.0.0');
    assert.deepEqual([euApi.replicas, usApi.replicas], [2, 5]);
    const config = find(euOut, 'ConfigMap');
    assert.match(config.metadata.name, /^shop-settings-/);
    assert.equal(config.metadata.labels?.['app.kubernetes.io/part-of'], 'shop');
    assert.equal(config.metadata.namespace, 'shop');
  });

  test('a kustomize failure is a KustomizeFailed error naming the path', async () => {
    const outcome = await renderApplication(
      application({ source: { kustomize: { path: 'charts' } } }),
      [eu],
      env,
    );
    assert.ok(!outcome.ok);
    assert.deepEqual(
      outcome.errors.map((e) => [e.code, e.field]),
      [['KustomizeFailed', 'spec.source.kustomize.path']],
    );
    assert.match(outcome.errors[0]?.message ?? '', /kustomization/i);
  });
});

describe('git sources', { skip }, () => {
  let bare: string;
  let clone: string;
  const gitEnv = {
    ...process.env,
    GIT_AUTHOR_NAME: 'test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
  };
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8' }).trim();
  const configMap = (greeting: string) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  greeting: ${greeting}\n`;
  const commitAll = (message: string) => {
    git(clone, 'add', '-A');
    git(clone, 'commit', '-q', '-m', message);
    git(clone, 'push', '-q', 'origin', 'main');
    return git(clone, 'rev-parse', 'HEAD');
  };
  const manifestsApp = (git: Record<string, unknown>) =>
    application({ source: { git: { url: bare, path: 'deploy', manifests: { recurse: true }, ...git } } });

  before(() => {
    bare = join(work, 'origin.git');
    clone = join(work, 'clone');
    git(work, 'init', '-q', '--bare', '-b', 'main', bare);
    git(work, 'clone', '-q', bare, clone);
    git(clone, 'checkout', '-q', '-b', 'main');
    mkdirSync(join(clone, 'deploy', 'nested'), { recursive: true });
    writeFileSync(join(clone, 'deploy', 'config.yaml'), configMap('hello'));
    writeFileSync(
      join(clone, 'deploy', 'nested', 'service.yml'),
      '---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports: [{port: 80}]\n---\n',
    );
    writeFileSync(join(clone, 'deploy', 'README.md'), 'not a manifest\n');
  });

  test('two commits render to two different commits and digests; a pinned commit stays put', async () => {
    const first = commitAll('first');
    const one = await renderApplication(manifestsApp({ ref: 'main' }), [eu], env);
    assert.ok(one.ok, JSON.stringify(!one.ok && one.errors));
    assert.equal(one.sourceCommit, first);
    assert.deepEqual(
      one.clusters[0]?.objects.map((o) => `${o.kind}/${o.metadata.name}`),
      ['ConfigMap/settings', 'Service/web'],
    );

    writeFileSync(join(clone, 'deploy', 'config.yaml'), configMap('bonjour'));
    const second = commitAll('second');
    const two = await renderApplication(manifestsApp({ ref: 'main' }), [eu], env);
    assert.ok(two.ok);
    assert.equal(two.sourceCommit, second);
    assert.notEqual(two.digest, one.digest);
    assert.deepEqual(find(two.clusters[0], 'ConfigMap')['data'], { greeting: 'bonjour' });

    const pinned = await renderApplication(manifestsApp({ ref: first }), [eu], env);
    assert.ok(pinned.ok);
    assert.equal(pinned.sourceCommit, first);
    assert.equal(pinned.digest, one.digest);

    const byDefault = await renderApplication(manifestsApp({}), [eu], env);
    assert.ok(byDefault.ok);
    assert.equal(byDefault.sourceCommit, second, 'no ref means the remote HEAD');
  });

  test('renders a chart from a git directory per cluster', async () => {
    cpSync(join(FIXTURES, 'charts', 'web'), join(clone, 'chart'), { recursive: true });
    commitAll('chart');
    const app = application({
      source: {
        git: { url: `file://${bare}`, ref: 'main', path: 'chart', helm: { values: { replicas: 3 } } },
      },
    });
    const [euOut, usOut] = rendered(await renderApplication(app, [eu, us], env));
    assert.equal(deploymentSpec(find(euOut, 'Deployment', 'shop')).replicas, 3);
    assert.equal(find(usOut, 'Deployment', 'shop').metadata.labels?.['kube-minor'], '32');
  });

  test('an unknown ref, a missing path and an unreachable repository name their fields', async () => {
    const badRef = await fetchGit({ url: bare, ref: 'no-such-branch' }, env.cacheDir);
    assert.ok(!badRef.ok);
    assert.deepEqual(
      [badRef.errors[0]?.code, badRef.errors[0]?.field],
      ['GitRefNotFound', 'spec.source.git.ref'],
    );
    const badPath = await fetchGit({ url: bare, ref: 'main', path: 'nowhere' }, env.cacheDir);
    assert.ok(!badPath.ok);
    assert.deepEqual(
      [badPath.errors[0]?.code, badPath.errors[0]?.field],
      ['GitPathNotFound', 'spec.source.git.path'],
    );
    const escape = await fetchGit({ url: bare, ref: 'main', path: '../..' }, env.cacheDir);
    assert.ok(!escape.ok);
    assert.equal(escape.errors[0]?.field, 'spec.source.git.path');
    const unreachable = await fetchGit({ url: join(work, 'no-such-repo.git') }, env.cacheDir);
    assert.ok(!unreachable.ok);
    assert.deepEqual(
      [unreachable.errors[0]?.code, unreachable.errors[0]?.field],
      ['GitFetchFailed', 'spec.source.git.url'],
    );
    assert.match(unreachable.errors[0]?.message ?? '', /cannot fetch .*no-such-repo\.git/);
  });

  test('bad YAML and objects without a name are errors naming the file and document', async () => {
    writeFileSync(
      join(clone, 'deploy', 'broken.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [oops\n',
    );
    writeFileSync(
      join(clone, 'deploy', 'nested', 'anonymous.yaml'),
      `${configMap('x')}---\napiVersion: v1\nkind: Secret\n`,
    );
    commitAll('broken');
    const outcome = await renderApplication(manifestsApp({ ref: 'main' }), [eu, us], env);
    assert.ok(!outcome.ok);
    assert.deepEqual(
      outcome.errors.map((e) => [e.code, e.field, e.message.split(':')[0]]),
      [
        ['InvalidManifest', 'spec.source.git.path', 'deploy/broken.yaml'],
        ['InvalidManifest', 'spec.source.git.path', 'deploy/nested/anonymous.yaml'],
      ],
    );
    assert.match(outcome.errors[0]?.message ?? '', /document 0.*invalid YAML/);
    assert.match(
      outcome.errors[1]?.message ?? '',
      /document 1 \(line 8\) \(Secret\): metadata.name is required/,
    );
  });
});

test('collects errors from every cluster instead of stopping at the first', async () => {
  const app = application({
    source: {
      manifests: [
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } },
        { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } },
      ],
    },
    overrides: [
      { clusters: ['us-east'], patches: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b' } }] },
      { clusters: ['eu-west'], values: { replicas: 2 } },
    ],
  });
  const outcome = await renderApplication(app, [eu, us], env);
  assert.ok(!outcome.ok);
  assert.deepEqual(
    outcome.errors.map((e) => [e.code, e.cluster ?? '', e.field ?? e.object]),
    [
      ['ValuesNotApplicable', '', 'spec.overrides[1].values'],
      ['UnknownKind', 'eu-west', 'Widget w'],
      ['PatchTargetNotFound', 'us-east', 'spec.overrides[0].patches[0]'],
      ['UnknownKind', 'us-east', 'Widget w'],
    ],
  );
});

test('an aborted render rejects with the abort reason', async () => {
  const app = application({
    source: { manifests: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } }] },
  });
  await assert.rejects(renderApplication(app, [eu], { ...env, signal: AbortSignal.abort() }), {
    name: 'AbortError',
  });
});
