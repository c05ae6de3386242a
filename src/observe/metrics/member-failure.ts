// Which member failures fail a whole fleet query and which only leave a member out. A member that
// refuses the query itself (Prometheus' 400 `bad_data`, 422 `execution`: an invalid regex in
// label_replace, duplicate label sets, too many samples) refused something one Prometheus holding
// every cluster would refuse too, since the union's answer contains each member's: answering the
// others' series as if nothing happened would hand a dashboard or an alert rule a wrong answer,
// and a 503 would make clients retry a query that can never succeed. Only a member that could not
// answer (unreachable, timed out, 5xx, a proxy's non-Prometheus answer) is left out with a
// warning, and only when partial answers are allowed (Thanos' `partial_response`). Pure.
import { apiError, memberMissing, type ApiAnswer } from './prom-response.ts';

/** A member's refusal of the query, in Prometheus' terms. */
export interface QueryRefusal {
  readonly errorType: 'bad_data' | 'execution';
  readonly error: string;
}

/** Prometheus' HTTP status for each refusal type (web/api/v1/api.go). */
const REFUSAL_STATUS = { bad_data: 400, execution: 422 } as const;

/**
 * The refusal in a member's non-200 answer, or undefined when the answer says the member could not
 * answer (any other status or errorType, or a body that is not Prometheus' error envelope — a
 * proxy's 400 says nothing about the query).
 */
export function refusalOf(statusCode: number, body: string): QueryRefusal | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const p = parsed as { status?: unknown; errorType?: unknown; error?: unknown };
  if (p.status !== 'error' || typeof p.error !== 'string') return undefined;
  if (p.errorType !== 'bad_data' && p.errorType !== 'execution') return undefined;
  return REFUSAL_STATUS[p.errorType] === statusCode ? { errorType: p.errorType, error: p.error } : undefined;
}

/** Members' failures of one fleet call, by cluster name. */
export interface MemberFailures {
  /** Members that refused the query (deterministic: the whole answer fails). */
  readonly refused: ReadonlyMap<string, QueryRefusal>;
  /** Members that could not answer, with why (left out, or the whole answer fails). */
  readonly failed: ReadonlyMap<string, string>;
}

/**
 * The error answer for a fleet call whose `asked` members failed as `f` says, or undefined when
 * the answer goes on (with a warning per missing member). A refusal wins, the first in `asked`
 * order (so the same query always gets the same text), with the member's own status, type and
 * message; then unavailability when every member failed or `partial` is false.
 */
export function failureAnswer(
  asked: readonly string[],
  f: MemberFailures,
  partial: boolean,
): ApiAnswer | undefined {
  for (const m of asked) {
    const r = f.refused.get(m);
    if (r) return apiError(r.errorType, r.error);
  }
  const missing = asked.filter((m) => f.failed.has(m));
  if (missing.length === 0) return undefined;
  const why = missing.map((m) => `cluster "${m}": ${f.failed.get(m)!}`).join('; ');
  if (missing.length === asked.length) return apiError('unavailable', `no cluster answered: ${why}`);
  if (!partial)
    return apiError('unavailable', `partial response disabled and not every cluster answered: ${why}`);
  return undefined;
}

/** The warnings for the members left out of a partial answer. */
export function missingWarnings(asked: readonly string[], failed: ReadonlyMap<string, string>): string[] {
  return asked.filter((m) => failed.has(m)).map((m) => memberMissing(m, failed.get(m)!));
}

/**
 * Whether partial answers are allowed: the request's `partial_response` (Thanos' parameter, Go's
 * strconv.ParseBool spellings) over the hub's default. Undefined on an unreadable value.
 */
export function partialResponse(params: URLSearchParams, hubDefault: boolean): boolean | undefined {
  const raw = params.get('partial_response');
  if (raw === null || raw === '') return hubDefault;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false;
  return undefined;
}
