import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { BufferedLineWriter, type LineEncoder, type TextLineDestination } from './line-writer.ts';

/** A destination that records chunks (as text) and completes each write when told to. */
function slowSink(): { sink: Writable; chunks: string[]; release: () => void } {
  const chunks: string[] = [];
  const held: (() => void)[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      chunks.push(chunk.toString());
      held.push(() => cb());
    },
  });
  return { sink, chunks, release: () => held.splice(0).forEach((f) => f()) };
}

const encoder = new TextEncoder();

/** The LineEncoder of lines given as strings. */
const textLine: LineEncoder<string> = (line, buf, at) => {
  const { read, written } = encoder.encodeInto(line, buf.subarray(at));
  return read === line.length ? at + written : -1;
};

test('hands on a full chunk at once and keeps at most one chunk with the destination', () => {
  const { sink, chunks, release } = slowSink();
  const w = new BufferedLineWriter(sink, textLine, { chunkBytes: 10, flushIntervalMs: 60_000 });
  w.write('aaaa\n');
  assert.equal(chunks.length, 0);
  w.write('bbbbb\n'); // 11 bytes: a chunk
  assert.deepEqual(chunks, ['aaaa\nbbbbb\n']);
  w.write('cccccccccc\n'); // full, but the destination is still busy
  w.write('d\n');
  assert.equal(chunks.length, 1);
  release();
  assert.deepEqual(chunks, ['aaaa\nbbbbb\n', 'cccccccccc\nd\n']);
});

test('a line waits at most the flush interval', async () => {
  const { sink, chunks } = slowSink();
  const w = new BufferedLineWriter(sink, textLine, { flushIntervalMs: 20 });
  w.write('one\n');
  assert.equal(chunks.length, 0);
  const deadline = Date.now() + 2_000;
  while (chunks.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(chunks, ['one\n']);
});

test('flush and close resolve only when the destination has taken every line, late ones included', async () => {
  const { sink, chunks, release } = slowSink();
  const w = new BufferedLineWriter(sink, textLine, { flushIntervalMs: 60_000 });
  w.write('1\n');
  let flushed = false;
  const f = w.flush().then(() => (flushed = true));
  w.write('2\n'); // arrives while the first chunk is being written
  await new Promise((r) => setImmediate(r));
  assert.equal(flushed, false);
  release(); // chunk 1 done: chunk 2 goes at once, since a flush is waiting
  await new Promise((r) => setImmediate(r));
  assert.equal(flushed, false);
  assert.deepEqual(chunks, ['1\n', '2\n']);
  release();
  await f;
  const closed = w.close();
  await closed;
  assert.deepEqual(chunks, ['1\n', '2\n']);
});

test('drops and counts lines beyond the buffer limit while the destination is stuck', () => {
  const { sink, chunks, release } = slowSink();
  const w = new BufferedLineWriter(sink, textLine, {
    chunkBytes: 4,
    maxBufferedBytes: 8,
    flushIntervalMs: 60_000,
  });
  w.write('aaa\n'); // handed on
  w.write('bbb\n');
  w.write('ccc\n');
  w.write('ddd\n'); // over the limit
  assert.equal(w.dropped, 1);
  release();
  assert.deepEqual(chunks, ['aaa\n', 'bbb\nccc\n']);
});

test('a destination error loses that chunk only and is kept for inspection', async () => {
  let fail = true;
  const chunks: string[] = [];
  const w = new BufferedLineWriter(
    {
      write(chunk: string, cb: Parameters<TextLineDestination['write']>[1]) {
        if (fail) {
          fail = false;
          cb(new Error('EPIPE'));
        } else {
          chunks.push(chunk);
          cb();
        }
        return true;
      },
    },
    textLine,
    { flushIntervalMs: 60_000 },
  );
  w.write('lost\n');
  await w.flush();
  w.write('kept\n');
  await w.flush();
  assert.equal(w.lastError?.message, 'EPIPE');
  assert.deepEqual(chunks, ['kept\n']);
});

test('a byte stream gets whole lines as UTF-8 buffers, multi-byte characters intact', async () => {
  // 'é' and '€' take 2 and 3 bytes, the emoji a surrogate pair (4 bytes); a lone surrogate
  // becomes U+FFFD, as Buffer.from writes it.
  const lines = ['a\n', '/caf\u00e9/\u20ac\n', 'x'.repeat(9) + '\n', '\u{1F600}\ud800!\n', 'plain\n'];
  const chunks: Buffer[] = [];
  const sink = new Writable({
    decodeStrings: false,
    write(chunk: Buffer, _e, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  const w = new BufferedLineWriter(sink, textLine, { chunkBytes: 8, flushIntervalMs: 60_000 });
  for (const l of lines) {
    w.write(l);
    await new Promise((r) => setImmediate(r)); // the stream calls back: the next chunk may go
  }
  await w.flush();
  assert.equal(chunks.length, 4); // 'a' + 'café' (13 bytes), the x's, the emoji line, 'plain'
  assert.ok(chunks.every((c) => Buffer.isBuffer(c)));
  for (const c of chunks) assert.equal(c.at(-1), 0x0a, `a chunk ends mid-line: ${c.toString()}`);
  assert.deepEqual(Buffer.concat(chunks), Buffer.from(lines.join('')));
});

test('a destination that is not a byte stream gets strings', async () => {
  const chunks: unknown[] = [];
  const w = new BufferedLineWriter(
    {
      write(chunk: string, cb: Parameters<TextLineDestination['write']>[1]) {
        chunks.push(chunk);
        cb();
        return true;
      },
    },
    textLine,
    { flushIntervalMs: 60_000 },
  );
  w.write('caf\u00e9\n');
  await w.flush();
  assert.deepEqual(chunks, ['caf\u00e9\n']);
});

test('lines that outgrow the buffer while the destination is busy are kept whole and in order', async () => {
  const lines = Array.from({ length: 2000 }, (_, i) => `${i}:${'y'.repeat(100)}\u00e9\n`);
  lines.splice(1000, 0, `${'z'.repeat(300_000)}\n`); // more than doubling the buffer makes room for
  const textChunks: string[] = [];
  const stream = slowSink();
  const held: (() => void)[] = [];
  const plain = {
    write(chunk: string, cb: (err?: Error | null) => void): boolean {
      textChunks.push(chunk);
      held.push(() => cb());
      return true;
    },
  };
  for (const [sink, chunks, release] of [
    [stream.sink, stream.chunks, stream.release],
    [plain, textChunks, () => held.splice(0).forEach((f) => f())],
  ] as const) {
    const w = new BufferedLineWriter(sink, textLine, { flushIntervalMs: 60_000 });
    w.write('first\n');
    const f = w.flush(); // 'first' is with the destination until released
    for (const l of lines) w.write(l);
    w.write('last\n');
    release();
    await new Promise((r) => setImmediate(r));
    release();
    await f;
    assert.equal(w.dropped, 0);
    assert.deepEqual(chunks, ['first\n', [...lines, 'last\n'].join('')]);
  }
});

test('a line longer than the buffer limit is dropped and counted, and the next one kept', async () => {
  const { sink, chunks, release } = slowSink();
  const w = new BufferedLineWriter(sink, textLine, { maxBufferedBytes: 100_000, flushIntervalMs: 60_000 });
  w.write('a\n');
  w.write(`${'b'.repeat(100_000)}\n`);
  w.write('c\n');
  const f = w.flush();
  release();
  await f;
  assert.equal(w.dropped, 1);
  assert.deepEqual(chunks, ['a\nc\n']);
});
