// The reference system (APP 1 → APP 2 → database) on the local fleet: `fleet up` gives the apps
// their trace credentials, applies the Application, the TrafficPolicy and the GlobalIngress from
// examples/ and waits until every member runs it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { API_VERSION } from '../api/group.ts';
import type { Application } from '../api/application.ts';
import type { GlobalIngress } from '../api/global-ingress.ts';
import { ClusterClient, loadKubeConfig, type KubeObject } from '../kube/cluster-client.ts';
import { MeridianError } from '../kube/errors.ts';
import { sleep } from '../kube/sleep.ts';
import { REPO_ROOT } from '../toolchain/binaries.ts';
import { localHubClient } from './register.ts';
import { clusterFiles } from './components.ts';
import { fleetDir, readFleetState } from './fleet.ts';

export const REFERENCE_APP = join(REPO_ROOT, 'examples', 'reference-system', 'application.yaml');
export const REFERENCE_INGRESS = join(REPO_ROOT, 'examples', 'reference-system', 'global-ingress.yaml');
export const REFERENCE_POLICY = join(REPO_ROOT, 'examples', 'reference-system', 'traffic-policy.yaml');
/** The namespace the reference system runs in (the Application's destinationNamespace). */
export const REFERENCE_NAMESPACE = 'shop';
/** The Secret the chart reads OTEL_EXPORTER_OTLP_HEADERS from (values `telemetry.otlpHeadersSecret`). */
const OTLP_SECRET = 'meridian-otlp';
/** Trace credentials last a week; `fleet up` renews them. */
const TOKEN_SECONDS = 7 * 24 * 3600;
const FIELD_MANAGER = 'meridian-cli';

/** A token for ServiceAccount `default/<name>` of the hub (TokenRequest API). */
async function hubToken(hub: ClusterClient, name: string): Promise<string> {
  const r = await hub.rest.request<{ status?: { token?: string } }>(
    'POST',
    `/api/v1/namespaces/default/serviceaccounts/${name}/token`,
    {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: TOKEN_SECONDS },
      },
    },
  );
  const token = r.status?.token;
  if (!token) throw new MeridianError('TokenRequest', `the hub issued no token for ServiceAccount ${name}`);
  return token;
}

/** ServiceAccount `default/<name>` of the hub bound to `clusterRole` (created once, then kept). */
async function hubServiceAccount(hub: ClusterClient, name: string, clusterRole: string): Promise<void> {
  const labels = { 'app.kubernetes.io/part-of': 'meridian-local-fleet' };
  await hub.apply(
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'default', labels } },
    { fieldManager: FIELD_MANAGER, force: true },
  );
  await hub.apply(
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
      subjects: [{ kind: 'ServiceAccount', name, namespace: 'default' }],
    },
    { fieldManager: FIELD_MANAGER, force: true },
  );
}

/**
 * Lets each member's apps send traces to the hub, and no more: a ServiceAccount per member on the
 * hub whose role allows `create` on `traces.observe.meridian.dev` for that cluster's name only (the
 * OTLP path names the cluster), its token in Secret `meridian-otlp` of namespace shop there.
 */
export async function grantTraceWriters(say: (m: string) => void): Promise<void> {
  const dir = fleetDir();
  const hub = localHubClient(dir);
  const members = readFleetState(dir)?.layout.members ?? [];
  for (const m of members) {
    const name = `otlp-${m.name}`;
    await hub.apply(
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name, labels: { 'app.kubernetes.io/part-of': 'meridian-local-fleet' } },
        rules: [
          {
            apiGroups: ['observe.meridian.dev'],
            resources: ['traces'],
            resourceNames: [m.name],
            verbs: ['create'],
          },
        ],
      },
      { fieldManager: FIELD_MANAGER, force: true },
    );
    await hubServiceAccount(hub, name, name);
    const token = await hubToken(hub, name);
    const member = memberClient(dir, m.name);
    await member.apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: REFERENCE_NAMESPACE } },
      { fieldManager: FIELD_MANAGER, force: true },
    );
    await member.apply(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: OTLP_SECRET, namespace: REFERENCE_NAMESPACE },
        type: 'Opaque',
        // OTEL_EXPORTER_OTLP_HEADERS: comma-separated key=value, values percent-encoded.
        stringData: { headers: `authorization=Bearer%20${token}` },
      },
      { fieldManager: FIELD_MANAGER, force: true },
    );
  }
  say(
    `trace credentials for ${members.length} members (Secret ${REFERENCE_NAMESPACE}/${OTLP_SECRET} in each)`,
  );
}

/**
 * A token of ServiceAccount `default/viewer` of the hub, bound to `meridian-viewer`: what the web
 * console signs in with (README: the same as `kubectl --context hub create token viewer`).
 */
export async function viewerToken(): Promise<string> {
  const hub = localHubClient();
  await hubServiceAccount(hub, 'viewer', 'meridian-viewer');
  return hubToken(hub, 'viewer');
}

/** The PreferLocal TrafficPolicy of APP 2 (hub namespace shop). */
export async function applyReferencePolicy(): Promise<void> {
  const hub = localHubClient();
  await hub.apply(
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: REFERENCE_NAMESPACE } },
    { fieldManager: FIELD_MANAGER, force: true },
  );
  const policy = parse(readFileSync(REFERENCE_POLICY, 'utf8')) as KubeObject;
  await hub.apply(policy, { fieldManager: FIELD_MANAGER, force: true });
}

function memberClient(dir: string, name: string): ClusterClient {
  return new ClusterClient(name, loadKubeConfig({ file: clusterFiles(join(dir, name)).adminKubeconfig }));
}

/**
 * Publishes app1 with the reference GlobalIngress and waits until it is Ready (every member's
 * ingress health-checked). Returns the host name.
 */
export async function publishReferenceSystem(timeoutMs: number, say: (m: string) => void): Promise<string> {
  const hub = localHubClient();
  const gi = parse(readFileSync(REFERENCE_INGRESS, 'utf8')) as GlobalIngress & KubeObject;
  await hub.apply(gi, { fieldManager: 'meridian-cli', force: true });
  const host = gi.spec.hosts[0]!;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = await hub.get<GlobalIngress & KubeObject>(
      API_VERSION,
      'GlobalIngress',
      gi.metadata.name,
      gi.metadata.namespace,
    );
    const healthy = (live?.status?.clusters ?? []).filter((c) => c.healthy && c.reason === 'Healthy');
    if (live?.status?.clusters?.length && healthy.length === live.status.clusters.length) {
      say(
        `${host} published through GSLB DNS and the edge gateway, served by ${healthy.map((c) => c.name).join(', ')}`,
      );
      return host;
    }
    if (Date.now() > deadline) {
      throw new MeridianError(
        'NotReady',
        `GlobalIngress ${gi.metadata.name} is not healthy everywhere after ${timeoutMs / 1000} s (see \`meridian traffic status ${host}\`)`,
        3,
      );
    }
    await sleep(500);
  }
}

export async function deployReferenceSystem(
  timeoutMs: number,
  say: (m: string) => void,
): Promise<Application> {
  const hub = localHubClient();
  const app = parse(readFileSync(REFERENCE_APP, 'utf8')) as Application & KubeObject;
  await hub.apply(app, { fieldManager: 'meridian-cli', force: true });
  say(`reference system applied (Application ${app.metadata.namespace}/${app.metadata.name}); rolling out…`);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const live = await hub.get<Application & KubeObject>(
      API_VERSION,
      'Application',
      app.metadata.name,
      app.metadata.namespace,
    );
    const st = live?.status;
    const line = `  revision ${st?.revision ?? '-'}: ${st?.phase ?? 'Pending'}, ready ${st?.readyClusters ?? '0/0'} ${(st?.clusters ?? []).map((c) => `${c.name}=${c.phase}`).join(' ')}`;
    if (line !== last) say((last = line));
    if (st?.phase === 'Healthy') return live!;
    if (st?.phase === 'Failed' || st?.phase === 'RolledBack') {
      throw new MeridianError(
        'DeployFailed',
        `the reference system ended in phase ${st.phase}: ${st.conditions?.find((c) => c.type === 'Ready')?.message ?? ''}`,
      );
    }
    if (Date.now() > deadline) {
      throw new MeridianError(
        'NotReady',
        `the reference system is not Healthy after ${timeoutMs / 1000} s (see \`meridian app status reference-system\`)`,
        3,
      );
    }
    await sleep(500);
  }
}
