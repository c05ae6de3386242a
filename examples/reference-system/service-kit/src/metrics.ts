// Prometheus metrics with the names dashboards expect: http_requests_total{method,route,code},
// http_request_duration_seconds{method,route,code}, and the failed calls to what a service
// depends on, upstream_request_errors_total{upstream,reason} (with retries counted apart).
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServiceMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'method' | 'route' | 'code'>;
  readonly duration: Histogram<'method' | 'route' | 'code'>;
  readonly upstreamErrors: Counter<'upstream' | 'reason'>;
  readonly upstreamRetries: Counter<'upstream'>;
}

export function createMetrics(): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests served, by method, route template and status code.',
      labelNames: ['method', 'route', 'code'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time to serve an HTTP request, by method, route template and status code.',
      labelNames: ['method', 'route', 'code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: 'upstream_request_errors_total',
      help: 'Failed calls to an upstream (each failed attempt), by upstream and reason.',
      labelNames: ['upstream', 'reason'],
      registers: [registry],
    }),
    upstreamRetries: new Counter({
      name: 'upstream_request_retries_total',
      help: 'Calls to an upstream retried on a new connection after a failed attempt.',
      labelNames: ['upstream'],
      registers: [registry],
    }),
  };
}
