// Writes samples into a real Prometheus through its remote-write receiver
// (`--web.enable-remote-write-receiver`), staleness markers included: the only way to give a test
// server series that end and come back exactly as scraping would leave them (OpenMetrics
// backfilling cannot write a staleness marker). The protobuf WriteRequest and the snappy framing
// are written by hand: a few lines, and no library for either is a dependency of the project.
import { request } from 'undici';

/** A sample's value, or the staleness marker Prometheus writes when a series ends. */
export type SampleValue = number | 'stale';

export interface WriteSeries {
  readonly labels: Readonly<Record<string, string>>;
  /** In time order: [ms, value]. */
  readonly samples: readonly (readonly [number, SampleValue])[];
}

class Bytes {
  private readonly parts: number[] = [];
  varint(n: number | bigint): this {
    let v = BigInt(n);
    if (v < 0n) v += 1n << 64n; // two's complement, as int64 is written
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) b |= 0x80;
      this.parts.push(b);
    } while (v > 0n);
    return this;
  }
  raw(b: Uint8Array): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  field(no: number, wire: number): this {
    return this.varint((no << 3) | wire);
  }
  bytes(no: number, b: Uint8Array): this {
    return this.field(no, 2).varint(b.length).raw(b);
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** Prometheus' staleness marker: a NaN with this exact bit pattern (value.StaleNaN). */
const STALE_NAN = Uint8Array.from([0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f]);

function double(v: SampleValue): Uint8Array {
  if (v === 'stale') return STALE_NAN;
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  return b;
}

/** prometheus.WriteRequest { repeated TimeSeries timeseries = 1 } as protobuf. */
export function writeRequest(series: readonly WriteSeries[]): Uint8Array {
  const out = new Bytes();
  const enc = new TextEncoder();
  for (const s of series) {
    const ts = new Bytes();
    for (const [name, value] of Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1))) {
      ts.bytes(1, new Bytes().bytes(1, enc.encode(name)).bytes(2, enc.encode(value)).done());
    }
    for (const [t, v] of s.samples) {
      ts.bytes(2, new Bytes().field(1, 1).raw(double(v)).field(2, 0).varint(t).done());
    }
    out.bytes(1, ts.done());
  }
  return out.done();
}

/** Snappy block format with literals only: valid for every decoder, compresses nothing. */
export function snappyLiteral(data: Uint8Array): Uint8Array {
  const out = new Bytes().varint(data.length);
  for (let i = 0; i < data.length; i += 65536) {
    const chunk = data.subarray(i, Math.min(i + 65536, data.length));
    const n = chunk.length - 1;
    if (n < 60) out.raw(Uint8Array.of(n << 2));
    else if (n < 256) out.raw(Uint8Array.of(60 << 2, n));
    else out.raw(Uint8Array.of(61 << 2, n & 0xff, n >> 8));
    out.raw(chunk);
  }
  return out.done();
}

/** Sends `series` to a Prometheus at `listen` (host:port); throws with its answer if refused. */
export async function remoteWrite(listen: string, series: readonly WriteSeries[]): Promise<void> {
  const res = await request(`http://${listen}/api/v1/write`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'snappy',
      'x-prometheus-remote-write-version': '0.1.0',
    },
    body: snappyLiteral(writeRequest(series)),
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`remote write to ${listen}: HTTP ${res.statusCode}: ${text}`);
}

/**
 * A series scraped only in even minutes of the 18 minutes from `w0`, every 15 s, with a staleness
 * marker at the first scrape of every odd minute: what `absent`, `*_over_time` and subqueries must
 * see vanish and return. Shared by test/metrics.test.ts and bench/metrics-corpus.ts.
 */
export function flappySeries(w0: number, labels: Record<string, string>): WriteSeries {
  const samples: [number, SampleValue][] = [];
  for (let t = w0 + 7_500; t < w0 + 18 * 60_000; t += 15_000) {
    const minute = Math.floor((t - w0) / 60_000);
    if (minute % 2 === 0) samples.push([t, 100 + ((t / 15_000) % 7)]);
    else if (Math.floor((t - 15_000 - w0) / 60_000) === minute - 1) samples.push([t, 'stale']);
  }
  return { labels: { __name__: 'flappy_bytes', job: 'flap', ...labels }, samples };
}
