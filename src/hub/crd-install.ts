// Installs or updates Meridian's CRDs in the hub (server-side apply) and waits until the API
// server serves them, so controllers never start against a half-registered type.
import { allCrds } from '../api/crd.ts';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { MeridianError } from '../kube/errors.ts';
import { sleep } from '../kube/sleep.ts';

interface Crd extends KubeObject {
  status?: { conditions?: { type: string; status: string; message?: string }[] };
}

export async function installCrds(hub: ClusterClient, timeoutMs = 30_000): Promise<string[]> {
  const crds = allCrds() as unknown as Crd[];
  for (const crd of crds) await hub.apply(crd, { force: true });
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    for (;;) {
      const live = await hub.get<Crd>(
        'apiextensions.k8s.io/v1',
        'CustomResourceDefinition',
        crd.metadata.name,
      );
      const established = live?.status?.conditions?.find((c) => c.type === 'Established');
      if (established?.status === 'True') break;
      if (Date.now() > deadline) {
        throw new MeridianError(
          'CrdNotEstablished',
          `CRD ${crd.metadata.name} not established after ${timeoutMs / 1000} s: ${established?.message ?? 'no condition yet'}`,
        );
      }
      await sleep(100);
    }
  }
  hub.forgetDiscovery();
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
        { apiGroups: ['meridian.dev'], resources: ['*'], verbs: ['get', 'list', 'watch'] },
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
