// Live connections to member clusters: one client and one Node informer per registered Cluster,
// rebuilt when its credentials or context change. Other services get member clients from here.
import type { Cluster } from '../api/cluster.ts';
import { MEMBER_NAMESPACES_ANNOTATION } from '../api/labels.ts';
import { ClusterClient, loadKubeConfig, type KubeObject } from '../kube/cluster-client.ts';
import { Informer } from '../kube/informer.ts';
import { errorMessage } from '../kube/errors.ts';
import type { Logger } from '../logging/logger.ts';

export interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

export interface MemberConnection {
  readonly name: string;
  /** Identity of the credentials in use: a change means reconnect. */
  readonly credentialKey: string;
  readonly client: ClusterClient;
  readonly nodes: Informer<KubeObject>;
  /**
   * The namespaces the hub may write to in this member (`cluster join --namespaces`); undefined
   * for the whole cluster. Watches of namespaced objects are then made per namespace.
   */
  readonly namespaces?: readonly string[];
}

/** The namespaces a credentials Secret's annotation names; undefined for `*` or none. */
export function memberNamespaces(secret: SecretObject): readonly string[] | undefined {
  const v = secret.metadata.annotations?.[MEMBER_NAMESPACES_ANNOTATION];
  if (v === undefined || v.trim() === '*') return undefined;
  const names = v
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  return names.length > 0 ? names : undefined;
}

/** A client for a member from its credentials Secret, or what is wrong with them (naming the field). */
export function clientFromSecret(
  cluster: Cluster,
  secret: SecretObject,
): ClusterClient | { error: string; reason: string } {
  const ref = cluster.spec.kubeconfigSecretRef;
  const b64 = secret.data?.[ref.key];
  if (!b64) {
    return {
      reason: 'CredentialsMissing',
      error: `spec.kubeconfigSecretRef: secret ${ref.namespace}/${ref.name} has no key "${ref.key}"`,
    };
  }
  try {
    const kc = loadKubeConfig({ yaml: Buffer.from(b64, 'base64').toString('utf8') }, cluster.spec.context);
    return new ClusterClient(cluster.metadata.name, kc);
  } catch (e) {
    return {
      reason: 'CredentialsInvalid',
      error: `spec.kubeconfigSecretRef: ${errorMessage(e).replace('(inline)', `in secret ${ref.namespace}/${ref.name}`)}`,
    };
  }
}

export class MemberConnections {
  private readonly conns = new Map<string, MemberConnection>();

  constructor(private readonly log: Logger) {}

  get(name: string): MemberConnection | undefined {
    return this.conns.get(name);
  }

  names(): string[] {
    return [...this.conns.keys()];
  }

  /**
   * Makes sure a connection for `cluster` exists and uses the credentials in `secret`.
   * Returns the connection, or an error message naming what is wrong with the credentials.
   */
  async ensure(
    cluster: Cluster,
    secret: SecretObject | undefined,
  ): Promise<MemberConnection | { error: string; reason: string }> {
    const name = cluster.metadata.name;
    const ref = cluster.spec.kubeconfigSecretRef;
    if (!secret) {
      await this.drop(name);
      return {
        reason: 'CredentialsMissing',
        error: `spec.kubeconfigSecretRef: secret ${ref.namespace}/${ref.name} does not exist`,
      };
    }
    const credentialKey = `${secret.metadata.resourceVersion}/${ref.key}/${cluster.spec.context ?? ''}`;
    const existing = this.conns.get(name);
    if (existing && existing.credentialKey === credentialKey) return existing;
    await this.drop(name);
    const made = clientFromSecret(cluster, secret);
    if ('error' in made) return made;
    const client = made;
    const nodes = new Informer<KubeObject>(client, 'v1', 'Node', {
      onError: (err, attempt) => {
        if (attempt === 1 || attempt % 20 === 0)
          this.log.warn({ cluster: name, err, attempt }, 'node watch failed; retrying');
      },
    }).start();
    const namespaces = memberNamespaces(secret);
    const conn: MemberConnection = {
      name,
      credentialKey,
      client,
      nodes,
      ...(namespaces ? { namespaces } : {}),
    };
    this.conns.set(name, conn);
    this.log.info({ cluster: name, server: client.rest.server }, 'connected to member');
    return conn;
  }

  async drop(name: string): Promise<void> {
    const c = this.conns.get(name);
    if (!c) return;
    this.conns.delete(name);
    await c.nodes.stop();
    c.client.close();
    this.log.info({ cluster: name }, 'disconnected from member');
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.names().map((n) => this.drop(n)));
  }
}
