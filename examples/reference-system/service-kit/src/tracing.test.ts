import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SpanKind, trace } from '@opentelemetry/api';
import { startTracing, tracingConfigured } from './tracing.ts';

describe('tracing', () => {
  test('is on only when an OTLP endpoint is set and the SDK is not disabled', () => {
    assert.equal(tracingConfigured({}), false);
    assert.equal(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:7443' }), true);
    assert.equal(
      tracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:7443/v1/traces' }),
      true,
    );
    assert.equal(
      tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:7443', OTEL_SDK_DISABLED: 'true' }),
      false,
    );
    assert.equal(
      tracingConfigured({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:7443',
        OTEL_TRACES_EXPORTER: 'none',
      }),
      false,
    );
  });

  test('off, it records nothing but still passes the caller trace on', async () => {
    const tracing = startTracing({ serviceName: 'app1', env: {} });
    assert.equal(tracing.enabled, false);
    const incoming = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const parent = tracing.extract({ traceparent: incoming });
    const span = tracing.tracer.startSpan('GET /items', { kind: SpanKind.SERVER }, parent);
    assert.equal(span.isRecording(), false);
    const headers: Record<string, string> = {};
    tracing.inject(trace.setSpan(parent, span), headers);
    assert.equal(headers['traceparent'], incoming);
    span.end();
    await tracing.shutdown();
  });
});
