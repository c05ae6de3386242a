// One validated log query, from CLI flags or HTTP parameters alike. Every error names the flag or
// parameter it is about (the two spell them differently), so the user knows what to fix.
import { MeridianError } from '../../kube/errors.ts';
import { labelSelectorProblem } from './label-selector.ts';
import { normalizeTime, timeOfMs } from './log-timestamp.ts';
import { isDnsLabel } from '../../api/common.ts';

/** Inputs as typed by a user: strings, not yet checked. */
export interface RawLogQuery {
  readonly selector?: string;
  readonly namespace?: string;
  readonly clusters?: readonly string[];
  readonly allClusters?: boolean;
  readonly since?: string;
  readonly grep?: string;
  readonly limit?: string;
}

export interface LogQuery {
  readonly selector: string;
  /** Every namespace when unset. */
  readonly namespace?: string;
  /** Every member when unset. */
  readonly clusters?: readonly string[];
  /** Oldest time to show (inclusive, canonical), fixed when the query is parsed. */
  readonly since?: string;
  readonly grep?: RegExp;
  /** Only the newest `limit` lines (still in time order). */
  readonly limit?: number;
}

/** How each input is called where it came from, for error messages. */
export interface ParamNames {
  readonly selector: string;
  readonly namespace: string;
  readonly cluster: string;
  readonly allClusters: string;
  readonly since: string;
  readonly grep: string;
  readonly limit: string;
}

export const CLI_PARAMS: ParamNames = {
  selector: '-l/--selector',
  namespace: '-n/--namespace',
  cluster: '--cluster',
  allClusters: '--all-clusters',
  since: '--since',
  grep: '--grep',
  limit: '--limit',
};

export const API_PARAMS: ParamNames = {
  selector: 'selector',
  namespace: 'namespace',
  cluster: 'cluster',
  allClusters: 'allClusters',
  since: 'since',
  grep: 'grep',
  limit: 'limit',
};

export const MAX_LIMIT = 1_000_000;

/** A query the user must change; `param` is the flag or parameter at fault. */
export class LogQueryError extends MeridianError {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super('InvalidArgument', `${param}: ${message}`, 2);
  }
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration such as `10m`, `1h30m` or `90s`; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const whole = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
  if (!whole.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms;
}

export function parseLogQuery(raw: RawLogQuery, names: ParamNames, nowMs = Date.now()): LogQuery {
  const selector = raw.selector?.trim() ?? '';
  if (selector === '') throw new LogQueryError(names.selector, 'a label selector is required, e.g. app=app2');
  const selProblem = labelSelectorProblem(selector);
  if (selProblem) throw new LogQueryError(names.selector, selProblem);

  const namespace = raw.namespace?.trim() || undefined;
  if (namespace !== undefined && !isDnsLabel(namespace))
    throw new LogQueryError(names.namespace, `"${namespace}" is not a valid namespace name`);

  const clusters = (raw.clusters ?? []).flatMap((c) => c.split(',')).map((c) => c.trim());
  if (clusters.some((c) => c === ''))
    throw new LogQueryError(names.cluster, 'an empty cluster name was given');
  if (raw.allClusters && clusters.length > 0)
    throw new LogQueryError(names.cluster, `cannot be combined with ${names.allClusters}`);

  let since: string | undefined;
  if (raw.since !== undefined && raw.since.trim() !== '') {
    const text = raw.since.trim();
    const ms = parseDuration(text);
    if (ms !== undefined) {
      if (ms <= 0) throw new LogQueryError(names.since, `"${text}" must be longer than zero`);
      // Further back than 1970 (up to any number of digits) is simply everything.
      since = timeOfMs(Math.max(0, nowMs - ms));
    } else {
      since = normalizeTime(text);
      if (!since)
        throw new LogQueryError(
          names.since,
          `"${text}" is neither a duration (e.g. 30s, 10m, 1h30m, 2d) nor an RFC 3339 time (e.g. 2024-05-01T10:00:00Z)`,
        );
    }
  }

  let grep: RegExp | undefined;
  if (raw.grep !== undefined && raw.grep !== '') {
    if (raw.grep.length > 1_000) throw new LogQueryError(names.grep, 'is longer than 1000 characters');
    try {
      grep = new RegExp(raw.grep);
    } catch (e) {
      throw new LogQueryError(names.grep, `not a valid regular expression: ${(e as Error).message}`);
    }
  }

  let limit: number | undefined;
  if (raw.limit !== undefined && raw.limit !== '') {
    const n = Number(raw.limit);
    if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT)
      throw new LogQueryError(
        names.limit,
        `must be a whole number from 1 to ${MAX_LIMIT}, got "${raw.limit}"`,
      );
    limit = n;
  }

  return {
    selector,
    namespace,
    clusters: clusters.length > 0 ? [...new Set(clusters)] : undefined,
    since,
    grep,
    limit,
  };
}

/** The members the query reads; an unknown name is the user's error, named with the flag. */
export function selectClusters(query: LogQuery, known: readonly string[], names: ParamNames): string[] {
  if (!query.clusters) return [...known];
  const unknown = query.clusters.filter((c) => !known.includes(c));
  if (unknown.length > 0)
    throw new LogQueryError(
      names.cluster,
      `cluster${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => `"${c}"`).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not registered (known: ${known.join(', ') || 'none'})`,
    );
  return [...query.clusters];
}
