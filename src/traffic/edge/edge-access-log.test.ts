import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { redact, scrubSecrets } from '../../logging/logger.ts';
import { ACCESS_MESSAGE, EdgeAccessLog, encodeAccessLine, linePrefix } from './edge-access-log.ts';
import type { AccessRecord } from './edge-runtime.ts';

const record = (over: Partial<AccessRecord> = {}): AccessRecord => ({
  host: 'shop.example.test',
  method: 'GET',
  path: '/cart',
  status: 200,
  cluster: 'eu-west',
  attempts: 1,
  ms: 1.25,
  bytes: 23,
  client: '127.0.0.1',
  ...over,
});

/** One access log line (with its newline) as a string: what `encodeAccessLine` writes. */
function formatAccessLine(prefix: string, rec: AccessRecord): string {
  const pre = Buffer.from(prefix);
  for (let size = 1024; ; size *= 2) {
    const buf = Buffer.alloc(size);
    const end = encodeAccessLine(pre, rec, buf, 0);
    if (end >= 0) return buf.toString('utf8', 0, end);
  }
}

const FIELDS = ['host', 'method', 'path', 'status', 'cluster', 'attempts', 'ms', 'bytes', 'client'];

test('formats a pino-compatible line: level, time, pid, name, the record, msg', () => {
  const t = Date.UTC(2026, 10, 26, 17, 30, 0, 123);
  const line = formatAccessLine(linePrefix(t, 42, 'meridian-hub'), record());
  assert.ok(line.endsWith('}\n') && !line.slice(0, -1).includes('\n'), line);
  const parsed = JSON.parse(line) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed), ['level', 'time', 'pid', 'name', ...FIELDS, 'msg']);
  assert.equal(parsed['level'], 30);
  assert.equal(parsed['time'], '2026-11-26T17:30:00.123Z');
  assert.equal(parsed['pid'], 42);
  assert.equal(parsed['msg'], ACCESS_MESSAGE);
  assert.deepEqual(
    FIELDS.map((f) => parsed[f]),
    ['shop.example.test', 'GET', '/cart', 200, 'eu-west', 1, 1.25, 23, '127.0.0.1'],
  );
});

test('escapes quotes, backslashes and control characters in free-form fields', () => {
  const host = 'evil"host\\\n{"x":1}';
  const parsed = JSON.parse(
    formatAccessLine(linePrefix(0, 1, 'n'), record({ host, path: '/a\u0001b' })),
  ) as Record<string, unknown>;
  assert.equal(parsed['host'], host);
  assert.equal(parsed['path'], '/a\u0001b');
  assert.equal(parsed['x'], undefined);
});

test('writes non-finite numbers as null, keeping the line valid JSON', () => {
  const parsed = JSON.parse(formatAccessLine(linePrefix(0, 1, 'n'), record({ ms: Number.NaN }))) as Record<
    string,
    unknown
  >;
  assert.equal(parsed['ms'], null);
});

test('scrubs secrets from every string field exactly as the project logger does', () => {
  const cases: AccessRecord[] = [
    record({ path: '/reset/eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' }),
    record({ path: '/cb;access_token=s3cr3t;x=1' }),
    record({ host: 'Bearer abc.def', path: '/api/token=t0k' }),
    record({ path: '/plain/path', cluster: 'us-east' }),
  ];
  for (const rec of cases) {
    const line = formatAccessLine(linePrefix(0, 1, 'n'), rec);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    const expected = redact(rec) as Record<string, unknown>;
    for (const f of FIELDS) assert.equal(parsed[f], expected[f], `${f} of ${JSON.stringify(rec)}`);
    assert.ok(!/s3cr3t|t0k|abc\.def|c2lnbmF0dXJl/.test(line), line);
  }
});

/** The line as formatted before field texts were memoized: every field scrubbed and escaped afresh. */
function reference(prefix: string, r: AccessRecord): string {
  const str = (s: string): string => JSON.stringify(scrubSecrets(s));
  const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');
  return (
    `${prefix}"host":${str(r.host)},"method":${str(r.method)},"path":${str(r.path)},` +
    `"status":${num(r.status)},"cluster":${str(r.cluster)},"attempts":${num(r.attempts)},` +
    `"ms":${num(r.ms)},"bytes":${num(r.bytes)},"client":${str(r.client)},"msg":"${ACCESS_MESSAGE}"}\n`
  );
}

test('a remembered field text is always that of its own string, through the memo being cleared', () => {
  const prefix = linePrefix(0, 1, 'n');
  // More distinct strings than the memo holds, each asked for twice (the second from the memo
  // unless it was cleared in between), near-duplicates, long and non-ASCII ones.
  const strings = Array.from({ length: 3000 }, (_, i) => `/p/${i % 1500}`);
  strings.push(
    '/p/1',
    '/p/1 ',
    '/P/1',
    '/p/\u00e9',
    '/p/\u00e9',
    '/' + 'x'.repeat(500),
    '/' + 'x'.repeat(501),
    '/\u{1F600}',
    '/lone\ud800',
    '',
  );
  for (const [i, s] of strings.entries()) {
    const recs = [
      record({ path: s }),
      record({ host: s, cluster: strings[(i + 7) % strings.length]! }),
      record({ method: s, client: s.toUpperCase() }),
    ];
    for (const r of recs) assert.equal(formatAccessLine(prefix, r), reference(prefix, r));
  }
});

test('a secret is scrubbed every time its string comes back, not only the first', () => {
  const prefix = linePrefix(0, 1, 'n');
  const rec = record({
    host: 'Bearer abc.def',
    path: '/cb?access_token=s3cr3t',
    cluster: 'token: t0k',
    client: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl',
  });
  for (let i = 0; i < 3; i++) {
    const line = formatAccessLine(prefix, rec);
    assert.equal(line, reference(prefix, rec));
    assert.ok(!/s3cr3t|t0k|abc\.def|c2lnbmF0dXJl/.test(line), line);
  }
});

test('buffers lines and hands them on in one chunk on flush, in order', async () => {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const log = new EdgeAccessLog(sink, { name: 'edge-test', flushIntervalMs: 60_000 });
  for (let i = 0; i < 100; i++) log.write(record({ attempts: i }));
  assert.equal(chunks.length, 0, 'nothing written before the buffer fills or a flush');
  await log.flush();
  assert.equal(chunks.length, 1);
  const lines = chunks[0]!
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    lines.map((l) => l['attempts']),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.equal(lines[0]!['name'], 'edge-test');
  await log.close();
});

test('the bytes written are the UTF-8 of the lines, whole in every chunk, whatever the characters', async () => {
  const recs = [
    record(),
    record({ host: 'h\u00f6st.example.test', path: '/caf\u00e9/\u20ac' }),
    record({ path: '/\u{1F600}/lone\ud800', client: '\udc00' }),
    record({ path: `/${'\u00e9'.repeat(300)}` }), // not remembered: too long
    record({ path: '/cb?access_token=s3cr3t' }),
  ];
  const all = Array.from({ length: 60 }, (_, i) => recs[i % recs.length]!);
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  const log = new EdgeAccessLog(sink, { name: 'edge-t\u00e9st', chunkBytes: 1000, flushIntervalMs: 60_000 });
  for (const r of all) {
    log.write(r);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await log.close();
  assert.ok(chunks.length > 5);
  for (const c of chunks) assert.equal(c.at(-1), 0x0a, 'a chunk ends mid-line');
  const text = Buffer.concat(chunks).toString();
  const lines = text.split('\n').slice(0, -1);
  assert.equal(lines.length, all.length);
  const expected = lines.map((l, i) => reference(l.slice(0, l.indexOf('"host":')), all[i]!)).join('');
  assert.deepEqual(Buffer.concat(chunks), Buffer.from(expected));
  assert.ok(!text.includes('s3cr3t'));
});

test('a line is written only into a buffer with room for all of it', () => {
  const prefix = Buffer.from(linePrefix(0, 1, 'n'));
  const rec = record({ path: '/caf\u00e9', ms: 0.42 });
  const line = Buffer.from(reference(prefix.toString(), rec));
  for (let size = line.length - 3; size <= line.length + 1; size++) {
    const buf = Buffer.alloc(size + 5);
    const end = encodeAccessLine(prefix, rec, buf.subarray(0, size), 0);
    if (size < line.length) {
      assert.equal(end, -1, `size ${size}`);
      assert.ok(
        buf.subarray(size).every((b) => b === 0),
        'wrote past the end',
      );
    } else assert.deepEqual(buf.subarray(0, end), line);
  }
  const buf = Buffer.alloc(line.length + 10);
  assert.equal(encodeAccessLine(prefix, rec, buf, 10), line.length + 10);
  assert.equal(encodeAccessLine(prefix, rec, buf, 11), -1);
});
