// Answers in the Prometheus HTTP API's envelope: `{status, data, warnings, infos}` or
// `{status: "error", errorType, error}` with the HTTP status Prometheus uses for each type.
export type ErrorType =
  'bad_data' | 'execution' | 'timeout' | 'canceled' | 'unavailable' | 'internal' | 'not_found';

const STATUS: Record<ErrorType, number> = {
  bad_data: 400,
  execution: 422,
  timeout: 503,
  canceled: 503,
  unavailable: 503,
  internal: 500,
  not_found: 404,
};

/** An API answer as JSON text, so large results computed elsewhere pass through unparsed. */
export interface ApiAnswer {
  readonly status: number;
  readonly body: string;
  /** How a query was answered (X-Meridian-Query-Mode), for operators, tests and benchmarks. */
  readonly mode?: 'pushdown' | 'central';
  /** Seconds before a retry is worth it (Retry-After), on 503s of a busy engine. */
  readonly retryAfterS?: number;
}

export function apiError(errorType: ErrorType, error: string): ApiAnswer {
  return { status: STATUS[errorType], body: JSON.stringify({ status: 'error', errorType, error }) };
}

/** `dataJson` is the `data` value as JSON text. */
export function apiSuccess(
  dataJson: string,
  warnings: readonly string[] = [],
  infos: readonly string[] = [],
): ApiAnswer {
  const extra =
    (warnings.length > 0 ? `,"warnings":${JSON.stringify(warnings)}` : '') +
    (infos.length > 0 ? `,"infos":${JSON.stringify(infos)}` : '');
  return { status: 200, body: `{"status":"success","data":${dataJson}${extra}}` };
}

/** The warning for a member left out of an answer. */
export function memberMissing(cluster: string, why: string): string {
  return `cluster "${cluster}" did not answer (${why}); the result leaves out its series`;
}
