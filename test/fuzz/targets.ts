// Generated-input fuzzing of the parsers that take bytes from strangers (issue 16): the GSLB DNS
// decoder and answerer, the OTLP decoders (protobuf, JSON), the edge's request head parsers, its
// upstream response parser, and the PromQL API's parameters and complexity budget. Inputs are
// mutations of valid seeds (bit flips, byte insertions and deletions, truncation, splices,
// interesting numbers) and plain random bytes, from a seeded PRNG so a failure can be replayed.
// A crash is an exception the target does not document; a hang is one input taking longer than
// `hangMs`. Pure apart from the clock.
import { encode, type Packet } from 'dns-packet';
import { answerMessage, defaultZoneConfig, type AnswerContext } from '../../src/traffic/dns/gslb-answer.ts';
import { StaticRoutingTable } from '../../src/traffic/routing/routing.ts';
import { EMPTY_GEO_TABLE } from '../../src/traffic/routing/geo-table.ts';
import { BalancerCounters } from '../../src/traffic/routing/select.ts';
import { decodeProtobufRequest } from '../../src/observe/traces/otlp-proto.ts';
import { OtlpFormatError, decodeJsonRequest } from '../../src/observe/traces/otlp-json.ts';
import { parseFastHead } from '../../src/traffic/edge/edge-fast-head.ts';
import { parseTarget, upstreamHead } from '../../src/traffic/edge/edge-request-head.ts';
import { ResponseParser, UpstreamError } from '../../src/traffic/edge/upstream-response.ts';
import { instantParams, rangeParams, seriesParams } from '../../src/observe/metrics/prom-params.ts';
import { promqlOverBudget } from '../../src/observe/metrics/promql-budget.ts';

/** xorshift32: small, fast, reproducible from its seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  below(n: number): number {
    return this.next() % Math.max(1, n);
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x00, 0x3f, 0xc0, 0x0a, 0x0d, 0x20, 0x3a, 0x25, 0x22];

/** One mutation of `seed` (or, sometimes, random bytes or a splice of two seeds). */
export function mutate(rng: Rng, seeds: readonly Buffer[]): Buffer {
  const seed = seeds[rng.below(seeds.length)]!;
  const kind = rng.below(10);
  if (kind === 0) return rng.bytes(rng.below(512));
  let b = Buffer.from(seed);
  const rounds = 1 + rng.below(8);
  for (let r = 0; r < rounds; r++) {
    const at = rng.below(b.length + 1);
    switch (rng.below(7)) {
      case 0: // bit flip
        if (b.length) b[at % b.length]! ^= 1 << rng.below(8);
        break;
      case 1: // interesting byte
        if (b.length) b[at % b.length] = INTERESTING[rng.below(INTERESTING.length)]!;
        break;
      case 2: // insert random bytes
        b = Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.below(16)), b.subarray(at)]);
        break;
      case 3: // delete a run
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.below(16)))]);
        break;
      case 4: // truncate
        b = b.subarray(0, at);
        break;
      case 5: {
        // splice with another seed
        const other = seeds[rng.below(seeds.length)]!;
        b = Buffer.concat([b.subarray(0, at), other.subarray(rng.below(other.length + 1))]);
        break;
      }
      case 6: // duplicate a run (repeated sections, long lines)
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 64), b.subarray(at)]);
        break;
    }
  }
  return b;
}

export interface Target {
  readonly name: string;
  readonly seeds: readonly Buffer[];
  /** Runs one input; throws only on what counts as a crash. */
  run(input: Buffer): void;
}

const dnsCtx: AnswerContext = {
  table: new StaticRoutingTable([
    {
      host: 'shop.example.test',
      owner: { namespace: 'default', name: 'shop' },
      strategy: { type: 'Failover', order: ['a'] },
      ttlSeconds: 30,
      paths: ['/'],
      clusters: [
        { name: 'a', region: 'r1', addresses: ['192.0.2.1'], port: 80, healthy: true, drained: false },
      ],
    },
  ]),
  zone: defaultZoneConfig(['example.test']),
  geo: EMPTY_GEO_TABLE,
  counters: new BalancerCounters(),
  resolverAddress: '192.0.2.53',
  transport: 'udp',
};

const dnsQuery = (p: Packet): Buffer => encode(p);

const dns: Target = {
  name: 'GSLB DNS decoder and answerer',
  seeds: [
    dnsQuery({ type: 'query', id: 1, flags: 0x100, questions: [{ type: 'A', name: 'shop.example.test' }] }),
    dnsQuery({ type: 'query', id: 2, questions: [{ type: 'AAAA', name: 'x.example.test' }] }),
    dnsQuery({
      type: 'query',
      id: 3,
      questions: [{ type: 'A', name: 'shop.example.test' }],
      additionals: [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: 4096,
          options: [{ code: 8, family: 1, sourcePrefixLength: 24, ip: '10.1.2.0' }],
        } as never,
      ],
    }),
    dnsQuery({ type: 'query', id: 4, questions: [{ type: 'SOA', name: 'example.test' }] }),
  ],
  run: (input) => {
    // answerMessage never throws: anything it throws is a crash.
    answerMessage(input, dnsCtx);
  },
};

const okSpan = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  name: 'GET /x',
  kind: 2,
  startTimeUnixNano: '1700000000000000000',
  endTimeUnixNano: '1700000000100000000',
  attributes: [
    { key: 'a', value: { arrayValue: { values: [{ intValue: '7' }, { kvlistValue: { values: [] } }] } } },
  ],
  events: [{ timeUnixNano: '1700000000050000000', name: 'e' }],
  status: { code: 2, message: 'boom' },
};
const otlpJsonSeed = Buffer.from(
  JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'cart' } }] },
        scopeSpans: [
          { scope: { name: 's', version: '1' }, spans: [okSpan, { ...okSpan, spanId: 'b7ad6b7169203332' }] },
        ],
      },
    ],
  }),
);

const otlpJson: Target = {
  name: 'OTLP JSON decoder',
  seeds: [otlpJsonSeed, Buffer.from('{"resourceSpans":[]}')],
  run: (input) => {
    try {
      decodeJsonRequest(input.toString('utf8'));
    } catch (e) {
      // Documented failures: a field named as wrong, or text that is not JSON.
      if (e instanceof OtlpFormatError || e instanceof SyntaxError) return;
      throw e;
    }
  },
};

/** A protobuf ExportTraceServiceRequest built by hand (field numbers of the OTLP proto). */
function protoSeed(): Buffer {
  const varint = (n: number): number[] => {
    const out: number[] = [];
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return out;
  };
  const field = (no: number, bytes: Buffer): Buffer =>
    Buffer.concat([Buffer.from([(no << 3) | 2, ...varint(bytes.length)]), bytes]);
  const fixed64 = (no: number, v: bigint): Buffer => {
    const b = Buffer.alloc(9);
    b[0] = (no << 3) | 1;
    b.writeBigUInt64LE(v, 1);
    return b;
  };
  const span = Buffer.concat([
    field(1, Buffer.from(okSpan.traceId, 'hex')),
    field(2, Buffer.from(okSpan.spanId, 'hex')),
    field(5, Buffer.from('GET /x')),
    Buffer.from([6 << 3, 2]),
    fixed64(7, 1700000000000000000n),
    fixed64(8, 1700000000100000000n),
    field(9, Buffer.concat([field(1, Buffer.from('k')), field(2, field(1, Buffer.from('v')))])),
  ]);
  const scopeSpans = field(2, span);
  const resource = field(
    1,
    field(1, Buffer.concat([field(1, Buffer.from('service.name')), field(2, field(1, Buffer.from('cart')))])),
  );
  return field(1, Buffer.concat([resource, scopeSpans]));
}

const otlpProto: Target = {
  name: 'OTLP protobuf decoder',
  seeds: [protoSeed()],
  run: (input) => {
    try {
      decodeProtobufRequest(input);
    } catch (e) {
      // protobufjs reports malformed input with Error (RangeError "index out of range", "invalid
      // wire type"), which the receiver answers 400: documented. A TypeError or a stack
      // overflow would not be.
      if (e instanceof TypeError) throw e;
      if (e instanceof RangeError && /call stack/i.test(e.message)) throw e;
    }
  },
};

const edgeHead: Target = {
  name: 'edge request head parsers',
  seeds: [
    Buffer.from('GET /a/b?c=d HTTP/1.1\r\nHost: shop.example.test\r\nAccept: */*\r\n\r\n'),
    Buffer.from(
      'GET / HTTP/1.1\r\nHost: shop.example.test.\r\nConnection: close\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n',
    ),
    Buffer.from(
      'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello',
    ),
    Buffer.from(
      'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, x-y\r\nUpgrade: websocket\r\nx-y: 1\r\n\r\n',
    ),
  ],
  run: (input) => {
    const r = parseFastHead(input);
    if (r.kind === 'request') {
      upstreamHead(r.headers, '10.0.0.1', { proto: 'http', port: 80 });
      parseTarget(r.target);
    }
    // The node:http path hands upstreamHead whatever header pairs llhttp accepted: any strings.
    const text = input.toString('latin1');
    const lines = text.split('\r\n');
    const raw = lines.slice(1).flatMap((l) => {
      const i = l.indexOf(':');
      return i < 0 ? [] : [l.slice(0, i), l.slice(i + 1).trim()];
    });
    upstreamHead(raw, '10.0.0.1', { proto: 'https', port: 443 }, true);
    parseTarget(lines[0]?.split(' ')[1] ?? '');
  },
};

const upstreamResponse: Target = {
  name: 'edge upstream response parser',
  seeds: [
    Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'),
    Buffer.from(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n\r\n',
    ),
    Buffer.from('HTTP/1.1 204 No Content\r\nKeep-Alive: timeout=5\r\n\r\n'),
    Buffer.from('HTTP/1.0 200 OK\r\n\r\nuntil close'),
  ],
  run: (input) => {
    const p = new ResponseParser({
      onHead: () => undefined,
      onBody: () => undefined,
      onComplete: () => undefined,
    });
    try {
      p.start(false);
      // Fed in two pieces, as a socket would.
      const cut = input.length >> 1;
      for (const piece of [input.subarray(0, cut), input.subarray(cut)]) {
        if (p.done || piece.length === 0) continue;
        p.execute(piece);
      }
      if (!p.done) p.finish();
    } catch (e) {
      if (e instanceof UpstreamError) return; // the documented refusal of a malformed response
      throw e;
    }
  },
};

const promParams: Target = {
  name: 'PromQL API parameters and complexity budget',
  seeds: [
    Buffer.from('query=sum(rate(x{a="b"}[5m]))&time=1700000000.5'),
    Buffer.from('query=up&start=2026-01-01T00:00:00Z&end=2026-01-01T01:00:00Z&step=15s'),
    Buffer.from('match[]=up{job=~"a.*"}&start=-1e300&end=1e300'),
    Buffer.from('query=histogram_quantile(0.9,(((x))))%20%2B%20y%20or%20z&step=1h30m'),
  ],
  run: (input) => {
    const params = new URLSearchParams(input.toString('latin1'));
    instantParams(params, 1_700_000_000_000);
    rangeParams(params);
    seriesParams(params, true);
    promqlOverBudget(params.get('query') ?? input.toString('latin1'));
  },
};

export const TARGETS: readonly Target[] = [dns, otlpJson, otlpProto, edgeHead, upstreamResponse, promParams];

export interface FuzzResult {
  readonly target: string;
  readonly inputs: number;
  readonly crashes: { readonly input: string; readonly error: string }[];
  readonly hangs: { readonly input: string; readonly ms: number }[];
  readonly slowestMs: number;
}

/** Runs `target` on generated inputs for `ms`; a crash or hang keeps its input (base64). */
export function fuzz(target: Target, ms: number, seed: number, hangMs = 100): FuzzResult {
  const rng = new Rng(seed);
  const crashes: FuzzResult['crashes'] = [];
  const hangs: FuzzResult['hangs'] = [];
  let inputs = 0;
  let slowestMs = 0;
  const end = performance.now() + ms;
  // The seeds themselves first: they must pass.
  const queue = [...target.seeds];
  while (queue.length > 0 || performance.now() < end) {
    const input = queue.shift() ?? mutate(rng, target.seeds);
    const t0 = performance.now();
    try {
      target.run(input);
    } catch (e) {
      if (crashes.length < 10)
        crashes.push({
          input: input.toString('base64'),
          error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
        });
    }
    const took = performance.now() - t0;
    slowestMs = Math.max(slowestMs, took);
    if (took > hangMs && hangs.length < 10) hangs.push({ input: input.toString('base64'), ms: took });
    inputs++;
  }
  return { target: target.name, inputs, crashes, hangs, slowestMs };
}
