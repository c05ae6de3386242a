// Installs kwok's Logs/ClusterLogs CRDs in a local cluster and waits until they are served: kwok
// starts watching them at once (--enable-crds) and exits if the API server does not know them.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { applyCrds } from '../kube/crds.ts';
import { KWOK_LOGS_CRDS } from './components.ts';

export async function installKwokCrds(client: ClusterClient, timeoutMs = 30_000): Promise<void> {
  const crds = parseAllDocuments(readFileSync(KWOK_LOGS_CRDS, 'utf8')).map((d) => d.toJS() as KubeObject);
  await applyCrds(client, crds, timeoutMs);
}
