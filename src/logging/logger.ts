// Structured logs: one JSON object per line (pino), with secrets removed at the logger itself so
// no caller can leak a kubeconfig, token, key or Authorization header by accident.
import { pino, type Logger } from 'pino';

const SECRET_KEYS =
  /^(authorization|token|bearer|password|kubeconfig|key|keydata|clientkey|client-key-data|client-certificate-data|certdata|privatekey|secret|cookie)$/i;
const SECRET_VALUES: readonly RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi,
  /\b(client-key-data|token|client-certificate-data):\s*\S+/gi,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, // JWTs (service-account tokens)
  // Query-string (or form) values of token-like keys: `?access_token=…`, `&X-Amz-Signature=…`.
  /(?<=(?:^|[?&;/\s])(?:[\w.-]*(?:token|secret|passw(?:or)?d|api[_-]?key|apikey|signature|credential|auth)[\w.-]*|sig|key|code)=)[^&#;\s"']+/gi,
];
/** A cheap test that a string contains none of the above, so most strings skip the regexes. */
const SECRET_HINT = /-----BEGIN|bearer|token|key-data|certificate-data|eyJ|=/i;

/** Replaces secret-looking values in one string (what `redact` does to every string it meets). */
export function scrubSecrets(s: string): string {
  if (!SECRET_HINT.test(s)) return s;
  for (const re of SECRET_VALUES) s = s.replace(re, '[REDACTED]');
  return s;
}

/** Replaces secret-looking values anywhere in a log record. Pure; exported for tests. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[deep]';
  if (typeof value === 'string') return scrubSecrets(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    if (value instanceof Error) {
      return { type: value.name, message: redact(value.message, depth + 1) };
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = SECRET_KEYS.test(k) ? '[REDACTED]' : redact(v, depth + 1);
    return out;
  }
  return value;
}

/** The process logger; `level` from MERIDIAN_LOG_LEVEL (default info). */
export function createLogger(name: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      name,
      level: process.env['MERIDIAN_LOG_LEVEL'] ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { log: (obj) => redact(obj) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          // Messages are scrubbed too: an interpolated error text may carry a token.
          const scrubbed = args.map((a) => (typeof a === 'string' ? (redact(a) as string) : a));
          method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    destination ?? pino.destination(2),
  );
}

export type { Logger };
