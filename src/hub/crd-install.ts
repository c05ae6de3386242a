// Installs or updates Meridian's CRDs in the hub (server-side apply) and waits until the API
// server serves them, so controllers never start against a half-registered type.
import { allCrds } from '../api/crd.ts';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { applyCrds } from '../kube/crds.ts';

export async function installCrds(hub: ClusterClient, timeoutMs = 30_000): Promise<string[]> {
  const crds = allCrds() as unknown as KubeObject[];
  await applyCrds(hub, crds, timeoutMs);
  return crds.map((c) => c.metadata.name);
}

/** Namespace, RBAC for reading the API, everything the hub needs besides CRDs. */
export async function installHubBasics(hub: ClusterClient): Promise<void> {
  await hub.apply(
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'meridian-system' } },
    { force: true },
  );
  // Read-only access to Meridian's API and its /metrics, to bind to viewers (`kubectl create
  // clusterrolebinding … --clusterrole=meridian-viewer`).
  await hub.apply(
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'meridian-viewer', labels: { 'app.kubernetes.io/part-of': 'meridian' } },
      rules: [
        // Not `applications`: an Application's spec can carry Secrets inline (manifests, Helm
        // values); viewers list them through the hub API, redacted (`applications/redacted`).
        {
          apiGroups: ['meridian.dev'],
          resources: [
            'clusters',
            'applicationrevisions',
            'globalingresses',
            'trafficpolicies',
            'applications/redacted',
          ],
          verbs: ['get', 'list', 'watch'],
        },
        { nonResourceURLs: ['/metrics'], verbs: ['get'] },
        // The observability API (logs, metrics, traces, topology) is read-only for viewers.
        {
          apiGroups: ['observe.meridian.dev'],
          resources: ['topology', 'logs', 'metrics', 'traces'],
          verbs: ['get'],
        },
      ],
    },
    { force: true },
  );
  // What an OpenTelemetry Collector needs to send spans; a copy with `resourceNames: [<cluster>]`
  // pins a credential to one cluster's ingest endpoint.
  await hub.apply(
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'meridian-telemetry-writer', labels: { 'app.kubernetes.io/part-of': 'meridian' } },
      rules: [{ apiGroups: ['observe.meridian.dev'], resources: ['traces'], verbs: ['create'] }],
    },
    { force: true },
  );
}
