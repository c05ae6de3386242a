// Installs CustomResourceDefinitions (server-side apply) and waits until the API server serves
// them, so nothing starts watching or writing a half-registered type.
import type { ClusterClient, KubeObject } from './cluster-client.ts';
import { MeridianError } from './errors.ts';
import { sleep } from './sleep.ts';

interface Crd extends KubeObject {
  status?: { conditions?: { type: string; status: string; message?: string }[] };
}

/** Applies `crds` (taking over their fields) and waits until each is Established. */
export async function applyCrds(
  client: ClusterClient,
  crds: readonly KubeObject[],
  timeoutMs = 30_000,
): Promise<void> {
  for (const crd of crds) await client.apply(crd, { force: true });
  await waitForCrds(client, crds, timeoutMs);
}

/** Waits until every CRD in `crds` is Established; the error names the cluster and the CRD. */
export async function waitForCrds(
  client: ClusterClient,
  crds: readonly KubeObject[],
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    for (;;) {
      const live = await client.get<Crd>(
        'apiextensions.k8s.io/v1',
        'CustomResourceDefinition',
        crd.metadata.name,
      );
      const established = live?.status?.conditions?.find((c) => c.type === 'Established');
      if (established?.status === 'True') break;
      if (Date.now() > deadline) {
        throw new MeridianError(
          'CrdNotEstablished',
          `cluster ${client.name}: CRD ${crd.metadata.name} not established after ${timeoutMs / 1000} s: ${established?.message ?? 'no condition yet'}`,
        );
      }
      await sleep(100);
    }
  }
  client.forgetDiscovery();
}
