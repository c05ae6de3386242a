// Each member's Prometheus version, from its /api/v1/status/buildinfo, kept for a while so a
// query pays for it at most once a minute per member (the first query after a member's
// prometheusURL changes asks it afresh: the cache is keyed by URL).
import { askMember, type MetricsMember } from './member-prometheus.ts';

/** How long a known version is kept: an upgrade of a member shows within this. */
const KNOWN_TTL_MS = 60_000;
/** How long an unknown one is kept (the member was down, or serves no buildinfo). */
const UNKNOWN_TTL_MS = 10_000;
/** A version read waits at most this long: a query must not wait for it like for its data. */
const ASK_TIMEOUT_MS = 2_000;

interface Entry {
  readonly at: number;
  readonly version: Promise<string | undefined>;
}

/** The version in a buildinfo answer, or undefined. */
export function buildinfoVersion(body: Uint8Array): string | undefined {
  try {
    const p = JSON.parse(new TextDecoder().decode(body)) as {
      status?: unknown;
      data?: { version?: unknown };
    };
    return p.status === 'success' && typeof p.data?.version === 'string' ? p.data.version : undefined;
  } catch {
    return undefined;
  }
}

export class MemberVersions {
  private readonly byUrl = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The version of each member (undefined where unknown). */
  async of(members: readonly MetricsMember[]): Promise<Map<string, string | undefined>> {
    const t = this.now();
    const versions = await Promise.all(
      members.map(async (m) => {
        let e = this.byUrl.get(m.url);
        if (!e || t - e.at > ((await e.version) ? KNOWN_TTL_MS : UNKNOWN_TTL_MS)) {
          e = { at: t, version: this.ask(m) };
          this.byUrl.set(m.url, e);
        }
        return [m.name, await e.version] as const;
      }),
    );
    // Forget URLs no member has any more (a member left, or its prometheusURL changed).
    const urls = new Set(members.map((m) => m.url));
    if (this.byUrl.size > urls.size * 2)
      for (const u of this.byUrl.keys()) if (!urls.has(u)) this.byUrl.delete(u);
    return new Map(versions);
  }

  private async ask(m: MetricsMember): Promise<string | undefined> {
    const a = await askMember(
      m,
      'status/buildinfo',
      new URLSearchParams(),
      AbortSignal.timeout(ASK_TIMEOUT_MS),
      'GET',
    );
    return a.ok ? buildinfoVersion(a.body) : undefined;
  }
}
