// OpenTelemetry tracing for a reference app, configured by the standard OTEL_* environment
// variables (OTEL_EXPORTER_OTLP_ENDPOINT or _TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*). Off —
// a no-op tracer that still forwards an incoming traceparent — when no endpoint is set.
// Contexts are passed explicitly (no global context manager): each request carries its own
// Context from the server span down to the outgoing call or SQL span, which keeps the parent/child
// relation visible in the code rather than in async-hooks magic.
import type { IncomingHttpHeaders } from 'node:http';
import {
  ROOT_CONTEXT,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
  type Context,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';

export interface Tracing {
  readonly tracer: Tracer;
  /** False when no exporter is configured: spans are not recorded, context still propagates. */
  readonly enabled: boolean;
  /** The W3C trace context carried by incoming request headers (ROOT_CONTEXT when none). */
  extract(headers: IncomingHttpHeaders): Context;
  /** Writes `traceparent`/`tracestate` for `ctx` into outgoing request headers. */
  inject(ctx: Context, headers: Record<string, string>): void;
  /** Exports what is buffered and stops; later spans are dropped. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** service.name when OTEL_SERVICE_NAME does not say otherwise. */
  readonly serviceName: string;
  /** The cluster this process runs in (k8s.cluster.name unless OTEL_RESOURCE_ATTRIBUTES sets it). */
  readonly cluster?: string | undefined;
  /** Exports every span at once to this exporter instead of OTLP (tests). */
  readonly exporter?: SpanExporter;
  readonly env?: NodeJS.ProcessEnv;
}

const propagator = new W3CTraceContextPropagator();

/** True when the environment asks for trace export (an OTLP endpoint is set and the SDK is not off). */
export function tracingConfigured(env: NodeJS.ProcessEnv): boolean {
  if (env['OTEL_SDK_DISABLED'] === 'true' || env['OTEL_TRACES_EXPORTER'] === 'none') return false;
  return Boolean(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_ENDPOINT']);
}

function otlpExporter(env: NodeJS.ProcessEnv): SpanExporter {
  const protocol = env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] ?? env['OTEL_EXPORTER_OTLP_PROTOCOL'];
  // http/protobuf is the specification's default; grpc is not offered (the hub speaks OTLP/HTTP).
  return protocol === 'http/json' ? new OtlpJsonExporter() : new OtlpProtoExporter();
}

export function startTracing(options: TracingOptions): Tracing {
  const env = options.env ?? process.env;
  const enabled = options.exporter !== undefined || tracingConfigured(env);
  const base = {
    extract: (headers: IncomingHttpHeaders) =>
      propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter),
    inject: (ctx: Context, headers: Record<string, string>) =>
      propagator.inject(ctx, headers, defaultTextMapSetter),
  };
  if (!enabled) {
    // The API's tracer without a registered provider: non-recording spans that keep the parent's ids.
    return { ...base, tracer: trace.getTracer(options.serviceName), enabled, shutdown: async () => {} };
  }
  const defaults: Record<string, string> = { 'service.name': options.serviceName };
  if (options.cluster) defaults['k8s.cluster.name'] = options.cluster;
  if (env['POD_NAME']) defaults['k8s.pod.name'] = env['POD_NAME'];
  if (env['POD_NAMESPACE']) defaults['k8s.namespace.name'] = env['POD_NAMESPACE'];
  // envDetector reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; they win over the defaults.
  const resource = resourceFromAttributes(defaults).merge(detectResources({ detectors: [envDetector] }));
  const processor = options.exporter
    ? new SimpleSpanProcessor(options.exporter)
    : new BatchSpanProcessor(otlpExporter(env));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [processor] });
  return {
    ...base,
    tracer: provider.getTracer(options.serviceName),
    enabled,
    shutdown: () => provider.shutdown(),
  };
}
