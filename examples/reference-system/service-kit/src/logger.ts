// JSON logs, one object per line (pino), with the service and cluster on every line and the
// trace and span ids on every line written for a request, so a log line leads to its trace.
import { isSpanContextValid, type Span } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(service: string, cluster: string, destination?: DestinationStream): Logger {
  const options = {
    level: process.env['LOG_LEVEL'] ?? 'info',
    base: { service, cluster, pod: process.env['POD_NAME'] },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: ['req.headers.authorization', 'password'], censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** `trace_id`/`span_id` of a span, or nothing when the span carries no valid context. */
export function traceFields(span: Span): { trace_id?: string; span_id?: string } {
  const c = span.spanContext();
  return isSpanContextValid(c) ? { trace_id: c.traceId, span_id: c.spanId } : {};
}
