// Creates, re-keys and removes the hub's identity in a member, using the joining user's kubeconfig:
// first every permission is asked (SelfSubjectAccessReview) so a user who cannot grant it gets one
// clear error and nothing is half-created; then the objects of member-rbac.ts are applied and a
// token is issued for the ServiceAccount.
//
// The token is a `kubernetes.io/service-account-token` Secret rather than a TokenRequest: it does
// not expire (the hub has no way to renew a token, only a user re-running a command does), and it
// is revoked at once by deleting one object, which is what rotate-credentials and remove need. A
// TokenRequest token stays valid until it expires unless its whole ServiceAccount goes.
import { randomBytes } from 'node:crypto';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { MeridianError } from '../kube/errors.ts';
import { objectKey, objectRef } from '../kube/objects.ts';
import { sleep } from '../kube/sleep.ts';
import { HUB_ACCESS_LABEL } from '../api/labels.ts';
import {
  HUB_SERVICE_ACCOUNT,
  MEMBER_NAMESPACE,
  accessChecks,
  accessLabels,
  describeCheck,
  renderMemberAccess,
  type AccessCheck,
  type AccessScope,
} from './member-rbac.ts';

const SELECTOR = `${HUB_ACCESS_LABEL}=true`;
const RBAC_KINDS = ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'] as const;

interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

/** Whether the client's user may do `check` (a SelfSubjectAccessReview). */
async function allowed(member: ClusterClient, check: AccessCheck): Promise<boolean> {
  const spec =
    'path' in check
      ? { nonResourceAttributes: { path: check.path, verb: check.verb } }
      : { resourceAttributes: check };
  const review = await member.rest.request<{ status?: { allowed?: boolean } }>(
    'POST',
    '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    {
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec },
      timeoutMs: 10_000,
    },
  );
  return review.status?.allowed === true;
}

/** The checks among `checks` the client's user is not allowed, asked a few at a time. */
export async function missingAccess(
  member: ClusterClient,
  checks: readonly AccessCheck[],
): Promise<AccessCheck[]> {
  const missing: AccessCheck[] = [];
  for (let i = 0; i < checks.length; i += 8) {
    const batch = checks.slice(i, i + 8);
    const answers = await Promise.all(batch.map((c) => allowed(member, c)));
    answers.forEach((ok, j) => {
      if (!ok) missing.push(batch[j]!);
    });
  }
  return missing;
}

/**
 * Makes the member hold exactly the hub's ServiceAccount and RBAC for `scope` (objects from an
 * earlier join with another scope are deleted). Throws `Forbidden`, having changed nothing, when
 * the user cannot create or grant all of it.
 */
export async function ensureMemberAccess(
  member: ClusterClient,
  scope: AccessScope,
  cluster: string,
): Promise<void> {
  const objects = renderMemberAccess(scope);
  const missing = await missingAccess(member, accessChecks(objects));
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).map(describeCheck).join('; ');
    const more = missing.length > 5 ? ` (and ${missing.length - 5} more)` : '';
    throw new MeridianError(
      'Forbidden',
      `cluster ${cluster}: the kubeconfig's user is not allowed to ${shown}${more}; joining creates a ServiceAccount ` +
        `${MEMBER_NAMESPACE}/${HUB_SERVICE_ACCOUNT} and grants it the hub's access, so it needs a user who may create ` +
        `RBAC and hold what it grants (e.g. cluster-admin). Nothing was created.`,
    );
  }
  for (const o of objects) await member.apply(o, { force: true });
  const want = new Set(objects.map(objectKey));
  for (const kind of RBAC_KINDS) {
    const list = await member.list<KubeObject>('rbac.authorization.k8s.io/v1', kind, {
      labelSelector: SELECTOR,
    });
    for (const item of list.items) {
      const o = { ...item, apiVersion: 'rbac.authorization.k8s.io/v1', kind };
      if (!want.has(objectKey(o)))
        await member.delete(o.apiVersion, kind, o.metadata.name, o.metadata.namespace);
    }
  }
}

/** The hub's token Secrets in the member, newest first. */
async function tokenSecrets(member: ClusterClient): Promise<SecretObject[]> {
  const list = await member.list<SecretObject>('v1', 'Secret', {
    namespace: MEMBER_NAMESPACE,
    labelSelector: SELECTOR,
  });
  return list.items
    .filter((s) => s.type === 'kubernetes.io/service-account-token')
    .sort((a, b) => String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)));
}

export interface HubToken {
  /** The Secret holding it (deleting it revokes the token). */
  readonly secret: string;
  readonly token: string;
}

/** The newest filled token Secret of the hub's ServiceAccount, if any (a re-join reuses it). */
export async function currentToken(member: ClusterClient): Promise<HubToken | undefined> {
  for (const s of await tokenSecrets(member)) {
    const t = s.data?.['token'];
    if (t) return { secret: s.metadata.name, token: Buffer.from(t, 'base64').toString('utf8') };
  }
  return undefined;
}

/** Creates a new token Secret for the hub's ServiceAccount and waits until the token controller fills it. */
export async function issueToken(member: ClusterClient, timeoutMs = 30_000): Promise<HubToken> {
  const name = `${HUB_SERVICE_ACCOUNT}-token-${randomBytes(3).toString('hex')}`;
  await member.apply({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace: MEMBER_NAMESPACE,
      labels: accessLabels(),
      annotations: { 'kubernetes.io/service-account.name': HUB_SERVICE_ACCOUNT },
    },
    type: 'kubernetes.io/service-account-token',
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await member.get<SecretObject>('v1', 'Secret', name, MEMBER_NAMESPACE);
    const t = s?.data?.['token'];
    if (t) return { secret: name, token: Buffer.from(t, 'base64').toString('utf8') };
    if (Date.now() > deadline) {
      await member.delete('v1', 'Secret', name, MEMBER_NAMESPACE).catch(() => undefined);
      throw new MeridianError(
        'TokenNotIssued',
        `cluster ${member.name}: Secret ${MEMBER_NAMESPACE}/${name} got no token within ${timeoutMs / 1000} s ` +
          `(${s ? 'is the service-account token controller of kube-controller-manager running?' : 'it was deleted'})`,
      );
    }
    await sleep(200);
  }
}

/** Deletes every hub token Secret but `keep`, which revokes those tokens. Returns their names. */
export async function revokeTokens(member: ClusterClient, keep: string): Promise<string[]> {
  const revoked: string[] = [];
  for (const s of await tokenSecrets(member)) {
    if (s.metadata.name === keep) continue;
    await member.delete('v1', 'Secret', s.metadata.name, MEMBER_NAMESPACE);
    revoked.push(s.metadata.name);
  }
  return revoked;
}

/**
 * Deletes the hub's RBAC, token Secrets and ServiceAccount from a member (the `meridian-system`
 * namespace stays: it may hold other things). Returns what was deleted, as `Kind ns/name`.
 */
export async function removeMemberAccess(member: ClusterClient): Promise<string[]> {
  const gone: string[] = [];
  const del = async (o: KubeObject): Promise<void> => {
    if (await member.delete(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace))
      gone.push(objectRef(o));
  };
  for (const kind of ['RoleBinding', 'ClusterRoleBinding', 'Role', 'ClusterRole'] as const) {
    const list = await member.list<KubeObject>('rbac.authorization.k8s.io/v1', kind, {
      labelSelector: SELECTOR,
    });
    for (const o of list.items) await del({ ...o, apiVersion: 'rbac.authorization.k8s.io/v1', kind });
  }
  for (const s of await tokenSecrets(member)) await del({ ...s, apiVersion: 'v1', kind: 'Secret' });
  await del({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: HUB_SERVICE_ACCOUNT, namespace: MEMBER_NAMESPACE },
  });
  return gone;
}
