// Authentication and authorization of the hub's HTTP API, delegated to the hub cluster: a bearer
// token is checked with a TokenReview, the request with a SubjectAccessReview, so who may see or
// change what follows the hub's RBAC. Answers are cached briefly (as kube-apiserver's webhook
// authenticator does) to keep a busy console from doubling the hub's API traffic, and concurrent
// misses for one token or decision share one review (as its singleflight does), so a burst of
// requests when an entry expires sends one review instead of one per request. Both caches are
// bounded (least recently used out first), and a rejected token is cached like an accepted one,
// so a client spraying made-up tokens costs one review per token and a bounded map, never an
// ever-growing one.
import { createHash } from 'node:crypto';
import type { ClusterClient } from '../kube/cluster-client.ts';
import type { AccessRequest, UserInfo } from '../http/route-contract.ts';

export type AuthResult =
  | { readonly ok: true; readonly user: UserInfo }
  | { readonly ok: false; readonly status: 401 | 403; readonly message: string };

/** Extracts the token from an Authorization header; undefined when absent or malformed. Pure. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

interface CacheEntry<T> {
  readonly value: T;
  readonly expires: number;
}

/** A map of at most `max` entries that forgets the least recently used first. */
export class LruCache<T> {
  private readonly entries = new Map<string, CacheEntry<T>>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The live entry for `key`, now the most recently used; undefined when absent or expired. */
  get(key: string, now: number): CacheEntry<T> | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    if (hit.expires <= now) return undefined;
    this.entries.set(key, hit);
    return hit;
  }

  set(key: string, entry: CacheEntry<T>): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }
}

/** Tokens and decisions the caches keep at most. */
export const AUTH_CACHE_LIMITS = { tokens: 4096, decisions: 16_384 } as const;

export class HubAuthorizer {
  private readonly tokens: LruCache<UserInfo | undefined>;
  private readonly decisions: LruCache<{ allowed: boolean; reason: string }>;
  /** Reviews under way, by cache key: callers that miss meanwhile wait for the same answer. */
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly hub: ClusterClient,
    private readonly ttlMs = 10_000,
    limits: { tokens: number; decisions: number } = AUTH_CACHE_LIMITS,
  ) {
    this.tokens = new LruCache(limits.tokens);
    this.decisions = new LruCache(limits.decisions);
  }

  /** One review per key at a time: a second caller gets the first one's promise. */
  private shared<T>(key: string, review: () => Promise<T>): Promise<T> {
    let p = this.inflight.get(key) as Promise<T> | undefined;
    if (!p) {
      p = review().finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async authenticate(token: string): Promise<UserInfo | undefined> {
    // Cache by digest so the token itself is never kept as a map key.
    const key = createHash('sha256').update(token).digest('hex');
    const hit = this.tokens.get(key, Date.now());
    if (hit) return hit.value;
    return this.shared(`token:${key}`, () => this.reviewToken(key, token));
  }

  private async reviewToken(key: string, token: string): Promise<UserInfo | undefined> {
    const review = await this.hub.rest.request<{
      status?: {
        authenticated?: boolean;
        user?: { username: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
      };
    }>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      timeoutMs: 5_000,
    });
    const u = review.status?.authenticated ? review.status.user : undefined;
    const user = u ? { username: u.username, uid: u.uid, groups: u.groups ?? [], extra: u.extra } : undefined;
    this.tokens.set(key, { value: user, expires: Date.now() + this.ttlMs });
    return user;
  }

  private async authorize(
    user: UserInfo,
    req: Exclude<AccessRequest, { kind: 'authenticated' }>,
  ): Promise<{ allowed: boolean; reason: string }> {
    const key = JSON.stringify([user.username, user.groups, req]);
    const hit = this.decisions.get(key, Date.now());
    if (hit) return hit.value;
    return this.shared(`decision:${key}`, () => this.reviewAccess(key, user, req));
  }

  private async reviewAccess(
    key: string,
    user: UserInfo,
    req: Exclude<AccessRequest, { kind: 'authenticated' }>,
  ): Promise<{ allowed: boolean; reason: string }> {
    const spec: Record<string, unknown> = {
      user: user.username,
      uid: user.uid,
      groups: user.groups,
      extra: user.extra,
    };
    if (req.kind === 'resource') {
      spec['resourceAttributes'] = {
        verb: req.verb,
        group: req.group,
        resource: req.resource,
        subresource: req.subresource,
        namespace: req.namespace,
        name: req.name,
      };
    } else {
      spec['nonResourceAttributes'] = { verb: req.verb, path: req.path };
    }
    const sar = await this.hub.rest.request<{ status?: { allowed?: boolean; reason?: string } }>(
      'POST',
      '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      {
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec },
        timeoutMs: 5_000,
      },
    );
    const value = { allowed: sar.status?.allowed === true, reason: sar.status?.reason ?? '' };
    this.decisions.set(key, { value, expires: Date.now() + this.ttlMs });
    return value;
  }

  /** Authenticates the Authorization header and authorizes `req` for the user it names. */
  async check(authorization: string | undefined, req: AccessRequest): Promise<AuthResult> {
    const token = bearerToken(authorization);
    if (!token)
      return { ok: false, status: 401, message: 'missing bearer token (Authorization: Bearer <token>)' };
    const user = await this.authenticate(token);
    if (!user) return { ok: false, status: 401, message: 'invalid or expired token' };
    if (req.kind === 'authenticated') return { ok: true, user };
    const d = await this.authorize(user, req);
    if (!d.allowed) {
      const what =
        req.kind === 'resource'
          ? `${req.verb} ${req.resource}${req.subresource ? `/${req.subresource}` : ''}${req.group ? `.${req.group}` : ''}` +
            `${req.name !== undefined ? ` "${req.name}"` : ''}${req.namespace ? ` in namespace ${req.namespace}` : ''}`
          : `${req.verb} ${req.path}`;
      return {
        ok: false,
        status: 403,
        message: `user "${user.username}" cannot ${what}${d.reason ? `: ${d.reason}` : ''}`,
      };
    }
    return { ok: true, user };
  }
}
