// Installs kwok's Logs/ClusterLogs CRDs in a local cluster and waits until they are served: kwok
// starts watching them at once (--enable-crds) and exits if the API server does not know them.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { MeridianError } from '../kube/errors.ts';
import { sleep } from '../kube/sleep.ts';
import { KWOK_LOGS_CRDS } from './components.ts';

interface Crd extends KubeObject {
  status?: { conditions?: { type: string; status: string; message?: string }[] };
}

export async function installKwokCrds(client: ClusterClient, timeoutMs = 30_000): Promise<void> {
  const crds = parseAllDocuments(readFileSync(KWOK_LOGS_CRDS, 'utf8')).map((d) => d.toJS() as Crd);
  for (const crd of crds) await client.apply(crd, { force: true });
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
          `cluster ${client.name}: CRD ${crd.metadata.name} not established after ${timeoutMs / 1000} s`,
        );
      }
      await sleep(100);
    }
  }
  client.forgetDiscovery();
}
