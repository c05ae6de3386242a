import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import generated from '@opentelemetry/otlp-transformer/build/src/generated/root.js';
import { decodeProtobufRequest, encodeProtobufResponse, encodeProtobufStatus } from './otlp-proto.ts';
import { OtlpFormatError, decodeJsonRequest, jsonResponse } from './otlp-json.ts';
import { normalizeSpans, type NormalizeContext } from './span-normalize.ts';

interface Codec {
  encode(m: object): { finish(): Uint8Array };
  decode(b: Uint8Array): Record<string, unknown>;
}
const v1 = (
  generated as unknown as {
    opentelemetry: { proto: { collector: { trace: { v1: Record<string, Codec> } } } };
  }
).opentelemetry.proto.collector.trace.v1;

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';
const PARENT = '00f067aa0ba902b7';

const ctx = (over: Partial<NormalizeContext> = {}): NormalizeContext => ({
  regionOf: (c) => ({ 'eu-west': 'europe', 'us-east': 'america' })[c],
  isCluster: (c) => c === 'eu-west' || c === 'us-east',
  pods: { resolve: () => undefined },
  ...over,
});

function jsonRequest(span: Record<string, unknown>, resource: Record<string, string> = {}): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: {
          attributes: Object.entries(resource).map(([key, v]) => ({ key, value: { stringValue: v } })),
        },
        scopeSpans: [{ scope: { name: 'test', version: '1' }, spans: [span] }],
      },
    ],
  });
}

const okSpan = {
  traceId: TRACE,
  spanId: SPAN,
  parentSpanId: PARENT,
  name: 'GET /cart',
  kind: 2,
  startTimeUnixNano: '1700000000123456789',
  endTimeUnixNano: '1700000000223456789',
  attributes: [
    { key: 'http.status_code', value: { intValue: '200' } },
    { key: 'big', value: { intValue: '9007199254740993' } },
    { key: 'ok', value: { boolValue: true } },
    { key: 'tags', value: { arrayValue: { values: [{ stringValue: 'a' }, { doubleValue: 1.5 }] } } },
    { key: 'map', value: { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }] } } },
  ],
  status: { code: 2, message: 'boom' },
};

describe('OTLP JSON decoding', () => {
  test('reads hex ids, int64 strings, every AnyValue and the status', () => {
    const [rs] = decodeJsonRequest(jsonRequest(okSpan, { 'service.name': 'cart' }));
    const s = rs!.scopeSpans[0]!.spans[0]!;
    assert.equal(s.traceId, TRACE);
    assert.equal(s.parentSpanId, PARENT);
    assert.equal(s.startNs, 1700000000123456789n);
    assert.deepEqual(s.attributes, {
      'http.status_code': 200,
      big: '9007199254740993',
      ok: true,
      tags: ['a', 1.5],
      map: { k: 'v' },
    });
    assert.equal(s.statusCode, 2);
    assert.equal(rs!.resource['service.name'], 'cart');
  });

  test('accepts enum names and snake_case field names as protobuf JSON parsers must', () => {
    const [rs] = decodeJsonRequest(
      JSON.stringify({
        resource_spans: [
          {
            scope_spans: [
              {
                spans: [
                  {
                    trace_id: TRACE.toUpperCase(),
                    span_id: SPAN,
                    kind: 'SPAN_KIND_CLIENT',
                    start_time_unix_nano: 1700000000000000000,
                    end_time_unix_nano: '1700000000000001000',
                    status: { code: 'STATUS_CODE_ERROR' },
                  },
                ],
              },
            ],
          },
        ],
      }).replace('1700000000000000000', '"1700000000000000000"'),
    );
    const s = rs!.scopeSpans[0]!.spans[0]!;
    assert.equal(s.traceId, TRACE);
    assert.equal(s.kind, 3);
    assert.equal(s.statusCode, 2);
  });

  test('names the field that is wrong', () => {
    const cases: [string, RegExp][] = [
      ['{not json', /body is not JSON/],
      ['[]', /must be an ExportTraceServiceRequest object/],
      ['{"resourceSpans": {}}', /\.resourceSpans: must be an array/],
      [jsonRequest({ ...okSpan, traceId: 'CvdlGRbNQ92ESOshHIAxnA==' }), /spans\[0\]\.traceId: must be hex/],
      [
        jsonRequest({ ...okSpan, startTimeUnixNano: 'yesterday' }),
        /spans\[0\]\.startTimeUnixNano: must be a 64-bit/,
      ],
      [jsonRequest({ ...okSpan, kind: 'SERVER' }), /spans\[0\]\.kind: must be an integer/],
      [
        jsonRequest({ ...okSpan, attributes: [{ key: 'x', value: { boolValue: 'yes' } }] }),
        /attributes\[0\]\.value\.boolValue/,
      ],
    ];
    for (const [body, re] of cases)
      assert.throws(
        () => decodeJsonRequest(body),
        (e: unknown) => e instanceof OtlpFormatError && re.test(e.message),
        body,
      );
  });

  test('answers partial success with the count as an int64 string', () => {
    assert.deepEqual(jsonResponse(0, ''), {});
    assert.deepEqual(jsonResponse(2, 'why'), { partialSuccess: { rejectedSpans: '2', errorMessage: 'why' } });
  });
});

describe('OTLP protobuf decoding', () => {
  const request = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'cart' } }] },
        scopeSpans: [
          {
            scope: { name: 'lib', version: '2' },
            spans: [
              {
                traceId: Buffer.from(TRACE, 'hex'),
                spanId: Buffer.from(SPAN, 'hex'),
                parentSpanId: Buffer.from(PARENT, 'hex'),
                name: 'GET /cart',
                kind: 2,
                startTimeUnixNano: '1700000000123456789',
                endTimeUnixNano: '1700000000223456789',
                attributes: [
                  { key: 'n', value: { intValue: 42 } },
                  { key: 'b', value: { bytesValue: Buffer.from('hi') } },
                ],
                events: [{ timeUnixNano: '1700000000200000000', name: 'retry' }],
                status: { code: 2, message: 'boom' },
              },
            ],
          },
        ],
      },
    ],
  };

  test('decodes what the official schema encodes, ids as hex and times exactly', () => {
    const bytes = v1['ExportTraceServiceRequest']!.encode(request).finish();
    const [rs] = decodeProtobufRequest(bytes);
    const s = rs!.scopeSpans[0]!.spans[0]!;
    assert.equal(s.traceId, TRACE);
    assert.equal(s.spanId, SPAN);
    assert.equal(s.parentSpanId, PARENT);
    assert.equal(s.startNs, 1700000000123456789n);
    assert.equal(s.endNs - s.startNs, 100_000_000n);
    assert.deepEqual(s.attributes, { n: 42, b: Buffer.from('hi').toString('base64') });
    assert.equal(s.events[0]!.name, 'retry');
    assert.deepEqual(rs!.scopeSpans[0]!.scope, { name: 'lib', version: '2' });
  });

  test('rejects truncated bytes', () => {
    const bytes = v1['ExportTraceServiceRequest']!.encode(request).finish();
    assert.throws(() => decodeProtobufRequest(bytes.subarray(0, bytes.length - 7)), /index out of range/);
  });

  test('encodes the response and google.rpc.Status', () => {
    assert.equal(encodeProtobufResponse(0, '').length, 0);
    const r = v1['ExportTraceServiceResponse']!.decode(encodeProtobufResponse(3, 'bad ids'));
    const partial = r['partialSuccess'] as {
      rejectedSpans: { toNumber(): number } | number;
      errorMessage: string;
    };
    assert.equal(Number(partial.rejectedSpans), 3);
    assert.equal(partial.errorMessage, 'bad ids');
    // field 1 varint 3, field 2 length-delimited "x"
    assert.deepEqual([...encodeProtobufStatus(3, 'x')], [0x08, 3, 0x12, 1, 0x78]);
  });
});

describe('span normalization', () => {
  const decode = (span: Record<string, unknown>, resource: Record<string, string> = {}) =>
    decodeJsonRequest(jsonRequest(span, resource));

  test('keeps microsecond times and the resource topology; app falls back to service.name', () => {
    const r = normalizeSpans(
      decode(okSpan, {
        'service.name': 'cart',
        'k8s.cluster.name': 'eu-west',
        'k8s.namespace.name': 'shop',
        'k8s.pod.name': 'cart-7d9-abc',
      }),
      ctx(),
    );
    assert.equal(r.rejected, 0);
    const s = r.spans[0]!;
    assert.equal(s.startUs, 1700000000123456);
    assert.equal(s.durationUs, 100_000);
    assert.deepEqual(
      [s.service, s.cluster, s.region, s.namespace, s.pod, s.app, s.revision],
      ['cart', 'eu-west', 'europe', 'shop', 'cart-7d9-abc', 'cart', undefined],
    );
    assert.equal(s.statusMessage, 'boom');
  });

  test("the endpoint's cluster wins over k8s.cluster.name and is written into the resource", () => {
    const r = normalizeSpans(decode(okSpan, { 'k8s.cluster.name': 'wrong' }), ctx({ cluster: 'us-east' }));
    assert.equal(r.spans[0]!.cluster, 'us-east');
    assert.equal(r.spans[0]!.region, 'america');
    assert.equal(r.spans[0]!.resource['k8s.cluster.name'], 'us-east');
    assert.equal(r.spans[0]!.service, 'unknown_service');
  });

  test('app and revision come from the pod resolver when it knows the pod', () => {
    const seen: string[] = [];
    const r = normalizeSpans(
      decode(okSpan, { 'service.name': 'cart', 'k8s.namespace.name': 'shop', 'k8s.pod.name': 'p1' }),
      ctx({
        cluster: 'eu-west',
        pods: {
          resolve: (c, n, p) => {
            seen.push(`${c}/${n}/${p}`);
            return { app: 'shop-cart', revision: '7' };
          },
        },
      }),
    );
    assert.deepEqual(seen, ['eu-west/shop/p1']);
    assert.equal(r.spans[0]!.app, 'shop-cart');
    assert.equal(r.spans[0]!.revision, '7');
  });

  test('on the plain endpoint, spans of a resource naming an unregistered cluster are rejected', () => {
    const r = normalizeSpans(
      [
        ...decode(okSpan, { 'k8s.cluster.name': 'eu-wst' }),
        ...decode(okSpan, { 'k8s.cluster.name': 'eu-west' }),
        ...decode(okSpan),
      ],
      ctx(),
    );
    assert.equal(r.rejected, 1);
    assert.deepEqual(
      r.spans.map((s) => s.cluster),
      ['eu-west', undefined],
    );
    assert.match(r.reasons[0]!, /k8s.cluster.name "eu-wst" is not a registered Cluster/);
    // The per-cluster endpoint stamps its own (checked) cluster instead.
    const stamped = normalizeSpans(
      decode(okSpan, { 'k8s.cluster.name': 'eu-wst' }),
      ctx({ cluster: 'us-east' }),
    );
    assert.equal(stamped.rejected, 0);
  });

  test('rejects spans with bad ids or times alone and says why', () => {
    const bad = [
      { ...okSpan, traceId: '00000000000000000000000000000000' },
      { ...okSpan, spanId: 'abcd' },
      { ...okSpan, parentSpanId: 'abcd' },
      { ...okSpan, startTimeUnixNano: '0' },
      { ...okSpan, endTimeUnixNano: '1600000000000000000' },
    ];
    const batches = bad.flatMap((s) => decode(s));
    const r = normalizeSpans([...batches, ...decode({ ...okSpan, parentSpanId: '' })], ctx());
    assert.equal(r.rejected, 5);
    assert.equal(r.spans.length, 1);
    assert.equal(r.spans[0]!.parentSpanId, undefined);
    assert.match(r.reasons.join('\n'), /traceId must be 16 non-zero bytes/);
    assert.match(r.reasons.join('\n'), /endTimeUnixNano is before startTimeUnixNano/);
  });
});
