// What the hub needs to know about each member's Prometheus beyond its data: its version (from
// /api/v1/status/buildinfo: which range semantics it evaluates with) and its external labels
// (from /api/v1/status/config: remote read adds them to every series, the query API does not).
// Kept for a while so a query pays for them at most once a minute per member; keyed by URL, so
// the first query after a member's prometheusURL changes asks afresh.
import { parse as parseYaml } from 'yaml';
import { askMember, type MetricsMember } from './member-queries.ts';

/** How long what was learnt is kept: an upgrade or a new config of a member shows within this. */
const KNOWN_TTL_MS = 60_000;
/** How long not knowing is kept (the member was down, or serves no buildinfo). */
const UNKNOWN_TTL_MS = 10_000;
/** An ask waits at most this long: a query must not wait for it like for its data. */
const ASK_TIMEOUT_MS = 2_000;

export interface MemberFacts {
  /** Prometheus version, undefined when unknown. */
  readonly version?: string;
  /** External labels as [name, value, …] ([] when none or unknown). */
  readonly external: readonly string[];
}

interface Entry {
  readonly at: number;
  readonly facts: Promise<MemberFacts>;
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

/** The external labels in a /api/v1/status/config answer (its YAML), as [name, value, …]. */
export function configExternalLabels(body: Uint8Array): string[] {
  try {
    const p = JSON.parse(new TextDecoder().decode(body)) as { status?: unknown; data?: { yaml?: unknown } };
    if (p.status !== 'success' || typeof p.data?.yaml !== 'string') return [];
    const config = parseYaml(p.data.yaml) as { global?: { external_labels?: unknown } } | null;
    const ext = config?.global?.external_labels;
    if (typeof ext !== 'object' || ext === null) return [];
    return Object.entries(ext).flatMap(([k, v]) => (typeof v === 'string' ? [k, v] : []));
  } catch {
    return [];
  }
}

export class MemberVersions {
  private readonly byUrl = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The version of each member (undefined where unknown). */
  async of(members: readonly MetricsMember[]): Promise<Map<string, string | undefined>> {
    const facts = await this.facts(members);
    return new Map([...facts].map(([m, f]) => [m, f.version]));
  }

  /** What is known of each member. */
  async facts(members: readonly MetricsMember[]): Promise<Map<string, MemberFacts>> {
    const t = this.now();
    const all = await Promise.all(
      members.map(async (m) => {
        let e = this.byUrl.get(m.url);
        if (!e || t - e.at > ((await e.facts).version ? KNOWN_TTL_MS : UNKNOWN_TTL_MS)) {
          e = { at: t, facts: this.ask(m) };
          this.byUrl.set(m.url, e);
        }
        return [m.name, await e.facts] as const;
      }),
    );
    // Forget URLs no member has any more (a member left, or its prometheusURL changed).
    const urls = new Set(members.map((m) => m.url));
    if (this.byUrl.size > urls.size * 2)
      for (const u of this.byUrl.keys()) if (!urls.has(u)) this.byUrl.delete(u);
    return new Map(all);
  }

  private async ask(m: MetricsMember): Promise<MemberFacts> {
    const get = (endpoint: string) =>
      askMember(m, endpoint, new URLSearchParams(), AbortSignal.timeout(ASK_TIMEOUT_MS), 'GET');
    const [info, config] = await Promise.all([get('status/buildinfo'), get('status/config')]);
    return {
      version: info.ok ? buildinfoVersion(info.body) : undefined,
      external: config.ok ? configExternalLabels(config.body) : [],
    };
  }
}
