// What can be proven here about installing the hub on a real cluster without a container engine:
// the Helm chart lints and renders (defaults and every feature on), its values schema and checks
// refuse bad input naming the field, the Deployment is hardened (non-root, read-only root, probes,
// two replicas, anti-affinity, PDB) and its RBAC has no wildcards; every argument the chart gives
// `meridian hub` is one the hub accepts; and the Containerfile copies files that exist, installs
// the package whose files include its entry point, and runs the same command as the chart.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT, cachedBinaries } from '../src/toolchain/binaries.ts';
import { buildProgram } from '../src/cli/program.ts';
import { hubEnvName } from '../src/cli/hub-command.ts';

const CHART = join(REPO_ROOT, 'deploy', 'helm', 'meridian');
const NS = 'meridian-system';
const ALL_ON = [
  '--set',
  'dns.enabled=true',
  '--set',
  'dns.zones={shop.example.com,api.example.com}',
  '--set',
  'dns.nameserverAddresses={203.0.113.10}',
  '--set',
  'edge.enabled=true',
  '--set',
  'edge.service.type=NodePort',
  '--set',
  'api.tls.certManager.enabled=true',
  '--set',
  'api.tls.certManager.issuerRef.name=letsencrypt',
];

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}
interface Container {
  command: string[];
  args: string[];
  securityContext: Record<string, unknown>;
  startupProbe: { httpGet: { path: string; scheme: string } };
  livenessProbe: { httpGet: { path: string; scheme: string } };
  readinessProbe: { httpGet: { path: string; scheme: string } };
  ports: { name: string; containerPort: number; protocol: string }[];
}
interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

function helm(args: readonly string[]): { code: number; out: string } {
  const bins = cachedBinaries();
  if (!bins) throw new Error('binaries not built: run `meridian fleet build` first (helm comes with them)');
  const r = spawnSync(bins.path('helm'), args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function render(extra: readonly string[] = []): K8sObject[] {
  const r = helm(['template', 'meridian', CHART, '--namespace', NS, ...extra]);
  assert.equal(r.code, 0, r.out);
  return parseAllDocuments(r.out)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

const only = (objs: K8sObject[], kind: string, name?: string): K8sObject => {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `${kind} ${name ?? ''}: ${found.length} rendered`);
  return found[0]!;
};
const hubContainer = (objs: K8sObject[]): Container => {
  const d = only(objs, 'Deployment') as unknown as {
    spec: { template: { spec: { containers: Container[] } } };
  };
  return d.spec.template.spec.containers[0]!;
};

/** The Containerfile's instructions, one per line (it uses no line continuations). */
function containerfile(): { op: string; rest: string; stage: number }[] {
  const out: { op: string; rest: string; stage: number }[] = [];
  let stage = -1;
  for (const line of readFileSync(join(REPO_ROOT, 'Containerfile'), 'utf8').split('\n')) {
    const m = /^([A-Z]+)\s+(.*)$/.exec(line.trim());
    if (!m || line.trim().startsWith('#')) continue;
    assert.ok(!line.trimEnd().endsWith('\\'), `continued lines are not parsed here: ${line}`);
    if (m[1] === 'FROM') stage++;
    out.push({ op: m[1]!, rest: m[2]!, stage });
  }
  return out;
}

describe('the Helm chart', () => {
  test('lints with default values and with DNS, edge and cert-manager on', () => {
    for (const extra of [[], ALL_ON]) {
      const r = helm(['lint', '--strict', CHART, '--namespace', NS, ...extra]);
      assert.equal(r.code, 0, r.out);
    }
  });

  test('renders a hardened, highly available Deployment probed on /healthz and /readyz', () => {
    const objs = render();
    const d = only(objs, 'Deployment') as unknown as {
      spec: {
        replicas: number;
        template: {
          spec: { securityContext: Record<string, unknown>; affinity?: { podAntiAffinity?: object } };
        };
      };
    };
    assert.equal(d.spec.replicas, 2);
    assert.ok(d.spec.template.spec.affinity?.podAntiAffinity, 'no pod anti-affinity');
    assert.equal(d.spec.template.spec.securityContext['runAsNonRoot'], true);
    const c = hubContainer(objs);
    assert.equal(c.securityContext['readOnlyRootFilesystem'], true);
    assert.equal(c.securityContext['allowPrivilegeEscalation'], false);
    assert.deepEqual(c.securityContext['capabilities'], { drop: ['ALL'] });
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.startupProbe.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    // TLS by default: with no certificate given the chart makes a CA and a serving certificate,
    // one Secret every replica mounts.
    assert.equal(c.readinessProbe.httpGet.scheme, 'HTTPS');
    assert.ok(c.args.includes('--tls-cert=/etc/meridian/tls/tls.crt') && !c.args.includes('--plain-http'));
    const tls = only(objs, 'Secret', 'meridian-api-tls') as unknown as {
      type: string;
      data: Record<string, string>;
    };
    assert.equal(tls.type, 'kubernetes.io/tls');
    const leaf = new X509Certificate(Buffer.from(tls.data['tls.crt']!, 'base64'));
    const ca = new X509Certificate(Buffer.from(tls.data['ca.crt']!, 'base64'));
    assert.ok(leaf.verify(ca.publicKey) && leaf.checkHost('meridian-api.meridian-system.svc'));
    const plain = hubContainer(render(['--set', 'api.tls.plainHttp=true']));
    assert.ok(plain.args.includes('--plain-http'));
    assert.equal(plain.livenessProbe.httpGet.scheme, 'HTTP');
    only(objs, 'PodDisruptionBudget');
    only(objs, 'ServiceAccount');
    only(objs, 'Service', 'meridian-api');
    assert.equal(
      objs.filter((o) => o.kind === 'Service').length,
      1,
      'DNS and edge Services are off by default',
    );
  });

  test('with every feature on: DNS over UDP and TCP, the edge gateway, TLS from cert-manager', () => {
    const objs = render(ALL_ON);
    const dns = only(objs, 'Service', 'meridian-dns') as unknown as {
      spec: { type: string; ports: { protocol: string }[] };
    };
    assert.deepEqual(dns.spec.ports.map((p) => p.protocol).sort(), ['TCP', 'UDP']);
    assert.equal(dns.spec.type, 'LoadBalancer');
    const edge = only(objs, 'Service', 'meridian-edge') as unknown as { spec: { type: string } };
    assert.equal(edge.spec.type, 'NodePort');
    const cert = only(objs, 'Certificate') as unknown as { spec: { secretName: string; dnsNames: string[] } };
    assert.ok(cert.spec.dnsNames.includes('meridian-api.meridian-system.svc'));
    const c = hubContainer(objs);
    assert.ok(c.args.includes('--tls-cert=/etc/meridian/tls/tls.crt'));
    assert.ok(c.args.includes('--dns-zone=api.example.com'));
    assert.equal(c.readinessProbe.httpGet.scheme, 'HTTPS');
  });

  test('gives the hub the PostgreSQL trace store URL from a Secret, never as a value or argument', () => {
    type Env = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } };
    const envOf = (objs: K8sObject[]) => (hubContainer(objs) as unknown as { env: Env[] }).env;
    const name = hubEnvName('--trace-database-url');
    assert.equal(name, 'MERIDIAN_HUB_TRACE_DATABASE_URL');
    assert.ok(!envOf(render()).some((e) => e.name === name), 'the embedded store is the default');
    const objs = render(['--set', 'traces.postgres.urlSecret.name=meridian-traces-db']);
    assert.deepEqual(
      envOf(objs).find((e) => e.name === name),
      { name, valueFrom: { secretKeyRef: { name: 'meridian-traces-db', key: 'url' } } },
    );
    assert.ok(!hubContainer(objs).args.some((a) => a.includes('postgres')), 'the URL is not an argument');
    const key = render([
      '--set',
      'traces.postgres.urlSecret.name=db',
      '--set',
      'traces.postgres.urlSecret.key=uri',
    ]);
    assert.deepEqual(envOf(key).find((e) => e.name === name)?.valueFrom, {
      secretKeyRef: { name: 'db', key: 'uri' },
    });
  });

  test('every argument it gives the hub is one `meridian hub` accepts', async () => {
    for (const extra of [[], ALL_ON]) {
      const c = hubContainer(render(extra));
      assert.equal(c.args[0], 'hub');
      const program = await buildProgram(['hub']);
      let parsed: Record<string, unknown> | undefined;
      // The real option parsers and checks, without running the hub.
      program.commands
        .find((x) => x.name() === 'hub')!
        .action((opts: Record<string, unknown>) => {
          parsed = opts;
        });
      await program.parseAsync(['node', 'meridian', ...c.args]);
      assert.ok(parsed, `meridian hub ${c.args.join(' ')} did not parse`);
      assert.deepEqual(parsed['listen'], { host: '0.0.0.0', port: 7443 });
    }
  });

  test('grants no wildcards; the Lease only in its namespace', () => {
    const objs = render(ALL_ON);
    const cr = only(objs, 'ClusterRole') as unknown as { rules: Rule[] };
    for (const r of cr.rules) {
      for (const v of [
        ...(r.apiGroups ?? []),
        ...(r.resources ?? []),
        ...r.verbs,
        ...(r.nonResourceURLs ?? []),
      ])
        assert.ok(!v.includes('*'), `wildcard in ${JSON.stringify(r)}`);
      assert.ok(!r.resources?.includes('leases'), 'leases granted cluster-wide');
      assert.ok(
        !r.verbs.includes('escalate') && !r.verbs.includes('bind') && !r.verbs.includes('impersonate'),
      );
    }
    const role = only(objs, 'Role') as unknown as { metadata: { namespace: string }; rules: Rule[] };
    assert.equal(role.metadata.namespace, NS);
    assert.deepEqual(
      role.rules.flatMap((r) => r.resources),
      ['leases', 'leases'],
    );
  });

  test('refuses bad values, naming the field', () => {
    const cases: [string[], RegExp][] = [
      [['--set', 'replicaCount=0'], /replicaCount.*minimum/],
      [['--set', 'edge.service.type=Ingress'], /edge\/service\/type/],
      [['--set', 'dns.enabled=true'], /dns\.zones: give at least one zone/],
      [['--set', 'api.tls.certManager.enabled=true'], /api\.tls\.certManager\.issuerRef\.name/],
      [['--set', 'replicas=3'], /additional properties 'replicas' not allowed/],
      // A URL with its password in plain values is refused: it belongs in a Secret.
      [['--set', 'traces.postgres.url=postgres://u:p@db/t'], /additional properties 'url' not allowed/],
    ];
    for (const [args, message] of cases) {
      const r = helm(['template', 'meridian', CHART, '--namespace', NS, ...args]);
      assert.notEqual(r.code, 0, `${args.join(' ')} rendered`);
      assert.match(r.out, message);
    }
    const elsewhere = helm(['template', 'meridian', CHART, '--namespace', 'default']);
    assert.match(elsewhere.out, /install the hub into meridian-system/);
  });
});

describe('the Containerfile', () => {
  let packed: Set<string>;
  before(() => {
    // The image installs the tarball `npm pack` makes from a build: list what it would hold.
    if (!existsSync(join(REPO_ROOT, 'dist', 'build-stamp.json'))) {
      const b = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 600_000 });
      assert.equal(b.status, 0, b.stderr);
    }
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    packed = new Set((JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
  });

  test('copies from the build context only files that exist and are not ignored', () => {
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    const copies = containerfile().filter((i) => i.op === 'COPY' && !i.rest.startsWith('--from'));
    assert.ok(copies.length > 0);
    for (const c of copies) {
      const parts = c.rest.split(/\s+/);
      for (const src of parts.slice(0, -1)) {
        assert.ok(existsSync(join(REPO_ROOT, src)), `COPY ${src}: no such file in the repository`);
        assert.ok(!ignored.includes(src.replace(/\/$/, '')), `COPY ${src} is excluded by .dockerignore`);
      }
    }
  });

  test("runs, as a non-root user on a slim base, a file the package holds, with the chart's command", () => {
    const ins = containerfile();
    const last = Math.max(...ins.map((i) => i.stage));
    const final = ins.filter((i) => i.stage === last);
    assert.match(final.find((i) => i.op === 'FROM')!.rest, /-slim$/);
    const user = final.find((i) => i.op === 'USER')?.rest ?? '';
    assert.match(user, /^[1-9]\d*:[1-9]\d*$/, `USER ${user}: a numeric non-root uid:gid`);
    const entrypoint = JSON.parse(final.find((i) => i.op === 'ENTRYPOINT')!.rest) as string[];
    const prefix = '/opt/meridian/lib/node_modules/meridian/';
    const script = entrypoint[1]!;
    assert.ok(script.startsWith(prefix), script);
    assert.ok(packed.has(script.slice(prefix.length)), `the package lacks ${script.slice(prefix.length)}`);
    for (const f of ['dist/console/index.html', 'dist/promql/promql.wasm', 'dist/promql/wasm_exec.js'])
      assert.ok(packed.has(f), `the package lacks ${f}`);
    assert.deepEqual(hubContainer(render()).command, entrypoint);
    const exposed = final.find((i) => i.op === 'EXPOSE')!.rest.split(/\s+/);
    for (const p of hubContainer(render(ALL_ON)).ports)
      assert.ok(exposed.includes(`${p.containerPort}/${p.protocol.toLowerCase()}`), `${p.name} not exposed`);
  });
});
