import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { redact } from '../logging/logger.ts';
import { ACCESS_MESSAGE, EdgeAccessLog, formatAccessLine, linePrefix } from './edge-access-log.ts';
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
