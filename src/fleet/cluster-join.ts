// `meridian cluster join`: gives the hub its own least-privilege identity in a member (a
// ServiceAccount with the RBAC of member-rbac.ts, created with the user's kubeconfig), stores a
// kubeconfig holding that identity, never the user's credentials, in a hub Secret, and creates the
// Cluster. Everything is checked before anything is written, and a failed Cluster write removes the
// Secret it just created, so a bad join leaves nothing behind in the hub.
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import type { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION } from '../api/group.ts';
import { MEMBER_NAMESPACES_ANNOTATION } from '../api/labels.ts';
import type { Cluster } from '../api/cluster.ts';
import { validateResource } from '../api/validate.ts';
import { ClusterClient, loadKubeConfig, type KubeObject } from '../kube/cluster-client.ts';
import { MeridianError, errorMessage } from '../kube/errors.ts';
import { CREDENTIALS_LABEL, CREDENTIALS_NAMESPACE } from './cluster-controller.ts';
import {
  currentToken,
  ensureMemberAccess,
  issueToken,
  missingAccess,
  removeMemberAccess,
  revokeTokens,
  type HubToken,
} from './member-access.ts';
import { HUB_SERVICE_ACCOUNT, MEMBER_NAMESPACE, describeCheck, type AccessScope } from './member-rbac.ts';

export interface JoinRequest {
  readonly name: string;
  readonly kubeConfig: KubeConfig;
  readonly context?: string;
  readonly region: string;
  readonly zone?: string;
  readonly ingress?: { addresses: string[]; port?: number };
  /** The member's Prometheus-compatible HTTP API, for the hub's fleet metrics API. */
  readonly prometheusURL?: string;
  /** Only these namespaces (`--namespaces`); the whole cluster when absent. */
  readonly namespaces?: readonly string[];
}

const fileOrData = (data: string | undefined, file: string | undefined): string | undefined => {
  if (data) return data;
  if (file) return readFileSync(file).toString('base64');
  return undefined;
};

/**
 * A self-contained kubeconfig for the hub's identity in a member: the server, CA and TLS settings
 * of the user's current context, and the ServiceAccount's token as the only credential.
 */
export function identityKubeconfig(kc: KubeConfig, name: string, token: string): string {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new MeridianError('KubeconfigInvalid', 'kubeconfig: current context has no cluster');
  const clusterEntry: Record<string, unknown> = { server: cluster.server };
  const ca = fileOrData(cluster.caData, cluster.caFile);
  if (ca) clusterEntry['certificate-authority-data'] = ca;
  if (cluster.skipTLSVerify) clusterEntry['insecure-skip-tls-verify'] = true;
  if (cluster.tlsServerName) clusterEntry['tls-server-name'] = cluster.tlsServerName;
  const user = `${MEMBER_NAMESPACE}:${HUB_SERVICE_ACCOUNT}`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': name,
    clusters: [{ name, cluster: clusterEntry }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name, context: { cluster: name, user } }],
  });
}

export function secretNameFor(cluster: string): string {
  return `cluster-${cluster}-kubeconfig`;
}

/** The Cluster object a join creates. Pure. */
export function clusterObject(req: Omit<JoinRequest, 'kubeConfig'>): Cluster {
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

/** The user's client for the member; fails naming the server when it does not answer. */
async function reachMember(name: string, kc: KubeConfig): Promise<ClusterClient> {
  const member = new ClusterClient(name, kc);
  try {
    await member.version(5_000);
  } catch (e) {
    member.close();
    throw new MeridianError(
      'Unreachable',
      `cluster ${name}: API server ${member.rest.server} did not answer (${errorMessage(e)}); the hub's identity is created in the member, so it must be reachable with this kubeconfig`,
    );
  }
  return member;
}

/** Proves a stored kubeconfig works: the identity reaches the member and may list its Nodes. */
async function checkIdentity(name: string, kubeconfig: string): Promise<void> {
  const client = new ClusterClient(name, loadKubeConfig({ yaml: kubeconfig }));
  try {
    await client.version(5_000);
    await client.list('v1', 'Node', { timeoutMs: 10_000 });
  } catch (e) {
    throw new MeridianError(
      'IdentityCheckFailed',
      `cluster ${name}: the hub's ServiceAccount ${MEMBER_NAMESPACE}/${HUB_SERVICE_ACCOUNT} was created but its token does not work (${errorMessage(e)})`,
    );
  } finally {
    client.close();
  }
}

function credentialsSecret(name: string, kubeconfig: string, scope: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: secretNameFor(name),
      namespace: CREDENTIALS_NAMESPACE,
      labels: { [CREDENTIALS_LABEL]: 'true', 'meridian.dev/cluster': name },
      annotations: { [MEMBER_NAMESPACES_ANNOTATION]: scope },
    },
    type: 'Opaque',
    data: { kubeconfig: Buffer.from(kubeconfig).toString('base64') },
  };
}

export function accessScope(namespaces: readonly string[] | undefined): AccessScope {
  return namespaces && namespaces.length > 0
    ? { kind: 'namespaces', namespaces: [...new Set(namespaces)].sort() }
    : { kind: 'cluster' };
}

export async function joinCluster(hub: ClusterClient, req: JoinRequest): Promise<Cluster> {
  const cluster = clusterObject(req);
  const valid = validateResource('Cluster', cluster);
  if (!valid.ok) throw new MeridianError('Invalid', valid.message, 2);
  const scope = accessScope(req.namespaces);
  const member = await reachMember(req.name, req.kubeConfig);
  let kubeconfig: string;
  try {
    await ensureMemberAccess(member, scope, req.name);
    // A re-join (e.g. `fleet up` again) keeps the token in use; rotate-credentials replaces it.
    const token = (await currentToken(member)) ?? (await issueToken(member));
    kubeconfig = identityKubeconfig(req.kubeConfig, req.name, token.token);
  } finally {
    member.close();
  }
  await checkIdentity(req.name, kubeconfig);
  const secretExisted =
    (await hub.get('v1', 'Secret', secretNameFor(req.name), CREDENTIALS_NAMESPACE)) !== undefined;
  await hub.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: CREDENTIALS_NAMESPACE } });
  const scopeText = scope.kind === 'cluster' ? '*' : scope.namespaces.join(',');
  await hub.apply(credentialsSecret(req.name, kubeconfig, scopeText), { force: true });
  try {
    return await hub.apply(cluster as unknown as KubeObject & Cluster, { force: true });
  } catch (e) {
    if (!secretExisted)
      await hub.delete('v1', 'Secret', secretNameFor(req.name), CREDENTIALS_NAMESPACE).catch(() => undefined);
    throw new MeridianError('JoinFailed', `cluster ${req.name}: ${errorMessage(e)}`);
  }
}

/**
 * Issues a new token for the hub's ServiceAccount in a member, stores it in the hub, then deletes
 * the old token Secrets (revoking them). Returns the new Secret's name and the revoked ones.
 */
export async function rotateCredentials(
  hub: ClusterClient,
  name: string,
  kubeConfig: KubeConfig,
): Promise<{ token: string; revoked: string[] }> {
  const stored = await hub.get<KubeObject>('v1', 'Secret', secretNameFor(name), CREDENTIALS_NAMESPACE);
  if (!(await hub.get(API_VERSION, 'Cluster', name)) || !stored)
    throw new MeridianError('NotFound', `cluster ${name} does not exist (or has no credentials Secret)`, 3);
  const member = await reachMember(name, kubeConfig);
  try {
    const missing = await missingAccess(
      member,
      ['get', 'list', 'create', 'patch', 'delete'].map((verb) => ({
        verb,
        group: '',
        resource: 'secrets',
        namespace: MEMBER_NAMESPACE,
      })),
    );
    if (missing.length > 0)
      throw new MeridianError(
        'Forbidden',
        `cluster ${name}: the kubeconfig's user is not allowed to ${missing.map(describeCheck).join('; ')}; nothing was changed`,
      );
    if (!(await member.get('v1', 'ServiceAccount', HUB_SERVICE_ACCOUNT, MEMBER_NAMESPACE)))
      throw new MeridianError(
        'NotFound',
        `cluster ${name}: ServiceAccount ${MEMBER_NAMESPACE}/${HUB_SERVICE_ACCOUNT} does not exist in the member; run \`meridian cluster join\` again`,
        3,
      );
    const token: HubToken = await issueToken(member);
    const kubeconfig = identityKubeconfig(kubeConfig, name, token.token);
    try {
      await checkIdentity(name, kubeconfig);
      const scope = stored.metadata.annotations?.[MEMBER_NAMESPACES_ANNOTATION] ?? '*';
      await hub.apply(credentialsSecret(name, kubeconfig, scope), { force: true });
    } catch (e) {
      await member.delete('v1', 'Secret', token.secret, MEMBER_NAMESPACE).catch(() => undefined);
      throw e;
    }
    return { token: token.secret, revoked: await revokeTokens(member, token.secret) };
  } finally {
    member.close();
  }
}

export type MemberCleanup =
  | { readonly done: true; readonly deleted: readonly string[] }
  | { readonly done: false; readonly reason: string };

/**
 * Removes a Cluster and its credentials Secret from the hub and, given the user's kubeconfig for
 * the member, the hub's identity there. The hub side goes even when the member cannot be reached.
 */
export async function removeCluster(
  hub: ClusterClient,
  name: string,
  memberKubeConfig?: KubeConfig,
): Promise<{ existed: boolean; member: MemberCleanup }> {
  let cleanup: MemberCleanup = { done: false, reason: 'no kubeconfig for the member was given' };
  if (memberKubeConfig) {
    try {
      const member = await reachMember(name, memberKubeConfig);
      try {
        cleanup = { done: true, deleted: await removeMemberAccess(member) };
      } finally {
        member.close();
      }
    } catch (e) {
      cleanup = { done: false, reason: errorMessage(e) };
    }
  }
  const existed = await hub.delete(API_VERSION, 'Cluster', name);
  await hub.delete('v1', 'Secret', secretNameFor(name), CREDENTIALS_NAMESPACE);
  return { existed, member: cleanup };
}
