// `meridian cluster join`: stores a member's credentials in a hub Secret and creates its Cluster.
// Everything is checked before anything is written, and a failed Cluster write removes the Secret
// it just created, so a bad join leaves nothing behind.
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import type { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION } from '../api/group.ts';
import type { Cluster } from '../api/cluster.ts';
import { validateResource } from '../api/validate.ts';
import { ClusterClient, type KubeObject } from '../kube/cluster-client.ts';
import { MeridianError, errorMessage } from '../kube/errors.ts';
import { CREDENTIALS_LABEL, CREDENTIALS_NAMESPACE } from './cluster-controller.ts';

export interface JoinRequest {
  readonly name: string;
  readonly kubeConfig: KubeConfig;
  readonly context?: string;
  readonly region: string;
  readonly zone?: string;
  readonly ingress?: { addresses: string[]; port?: number };
  /** The member's Prometheus-compatible HTTP API, for the hub's fleet metrics API. */
  readonly prometheusURL?: string;
  readonly verify: boolean;
}

const fileOrData = (data: string | undefined, file: string | undefined): string | undefined => {
  if (data) return data;
  if (file) return readFileSync(file).toString('base64');
  return undefined;
};

/** A self-contained kubeconfig with only the selected context, files inlined. */
export function flattenKubeconfig(kc: KubeConfig): string {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  const ctx = kc.getContextObject(kc.getCurrentContext());
  if (!cluster || !user || !ctx)
    throw new MeridianError('KubeconfigInvalid', 'kubeconfig: current context is incomplete');
  const userEntry: Record<string, unknown> = {};
  const cert = fileOrData(user.certData, user.certFile);
  const key = fileOrData(user.keyData, user.keyFile);
  if (cert) userEntry['client-certificate-data'] = cert;
  if (key) userEntry['client-key-data'] = key;
  if (user.token) userEntry['token'] = user.token;
  if (user.username) userEntry['username'] = user.username;
  if (user.password) userEntry['password'] = user.password;
  if (user.exec) userEntry['exec'] = user.exec;
  const clusterEntry: Record<string, unknown> = { server: cluster.server };
  const ca = fileOrData(cluster.caData, cluster.caFile);
  if (ca) clusterEntry['certificate-authority-data'] = ca;
  if (cluster.skipTLSVerify) clusterEntry['insecure-skip-tls-verify'] = true;
  if (cluster.tlsServerName) clusterEntry['tls-server-name'] = cluster.tlsServerName;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': ctx.name,
    clusters: [{ name: cluster.name, cluster: clusterEntry }],
    users: [{ name: user.name, user: userEntry }],
    contexts: [
      { name: ctx.name, context: { cluster: cluster.name, user: user.name, namespace: ctx.namespace } },
    ],
  });
}

export function secretNameFor(cluster: string): string {
  return `cluster-${cluster}-kubeconfig`;
}

/** The Cluster object a join creates. Pure. */
export function clusterObject(req: Omit<JoinRequest, 'kubeConfig' | 'verify'>): Cluster {
  return {
    apiVersion: API_VERSION,
    kind: 'Cluster',
    metadata: { name: req.name, labels: { 'topology.kubernetes.io/region': req.region } },
    spec: {
      kubeconfigSecretRef: {
        namespace: CREDENTIALS_NAMESPACE,
        name: secretNameFor(req.name),
        key: 'kubeconfig',
      },
      region: req.region,
      ...(req.zone ? { zone: req.zone } : {}),
      ...(req.ingress ? { ingress: req.ingress } : {}),
      ...(req.prometheusURL ? { observability: { prometheusURL: req.prometheusURL } } : {}),
    },
  } as Cluster;
}

export async function joinCluster(hub: ClusterClient, req: JoinRequest): Promise<Cluster> {
  const cluster = clusterObject(req);
  const valid = validateResource('Cluster', cluster);
  if (!valid.ok) throw new MeridianError('Invalid', valid.message, 2);
  const kubeconfig = flattenKubeconfig(req.kubeConfig);
  if (req.verify) {
    const member = new ClusterClient(req.name, req.kubeConfig);
    try {
      await member.version(5_000);
    } catch (e) {
      throw new MeridianError(
        'Unreachable',
        `cluster ${req.name}: API server ${member.rest.server} did not answer (${errorMessage(e)}); fix the kubeconfig or pass --no-verify to register it anyway`,
      );
    }
  }
  const secretExisted =
    (await hub.get('v1', 'Secret', secretNameFor(req.name), CREDENTIALS_NAMESPACE)) !== undefined;
  await hub.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: CREDENTIALS_NAMESPACE } });
  const secret: KubeObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: secretNameFor(req.name),
      namespace: CREDENTIALS_NAMESPACE,
      labels: { [CREDENTIALS_LABEL]: 'true', 'meridian.dev/cluster': req.name },
    },
    type: 'Opaque',
    data: { kubeconfig: Buffer.from(kubeconfig).toString('base64') },
  };
  await hub.apply(secret, { force: true });
  try {
    return await hub.apply(cluster as unknown as KubeObject & Cluster, { force: true });
  } catch (e) {
    if (!secretExisted)
      await hub.delete('v1', 'Secret', secretNameFor(req.name), CREDENTIALS_NAMESPACE).catch(() => undefined);
    throw new MeridianError('JoinFailed', `cluster ${req.name}: ${errorMessage(e)}`);
  }
}

/** Removes a Cluster and its credentials Secret. Returns false when it did not exist. */
export async function removeCluster(hub: ClusterClient, name: string): Promise<boolean> {
  const existed = await hub.delete(API_VERSION, 'Cluster', name);
  await hub.delete('v1', 'Secret', secretNameFor(name), CREDENTIALS_NAMESPACE);
  return existed;
}
