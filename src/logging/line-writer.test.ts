import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { BufferedLineWriter } from './line-writer.ts';

/** A destination that records chunks and completes each write when told to. */
function slowSink(): { sink: Writable; chunks: string[]; release: () => void } {
  const chunks: string[] = [];
  const held: (() => void)[] = [];
  const sink = new Writable({
    decodeStrings: false,
    write(chunk: string, _e, cb) {
      chunks.push(chunk);
      held.push(() => cb());
    },
  });
  return { sink, chunks, release: () => held.splice(0).forEach((f) => f()) };
}

test('hands on a full chunk at once and keeps at most one chunk with the destination', () => {
  const { sink, chunks, release } = slowSink();
  const w = new BufferedLineWriter(sink, { chunkChars: 10, flushIntervalMs: 60_000 });
  w.write('aaaa\n');
  assert.equal(chunks.length, 0);
  w.write('bbbbb\n'); // 11 chars: a chunk
  assert.deepEqual(chunks, ['aaaa\nbbbbb\n']);
  w.write('cccccccccc\n'); // full, but the destination is still busy
  w.write('d\n');
  assert.equal(chunks.length, 1);
  release();
  assert.deepEqual(chunks, ['aaaa\nbbbbb\n', 'cccccccccc\nd\n']);
});

test('a line waits at most the flush interval', async () => {
  const { sink, chunks } = slowSink();
  const w = new BufferedLineWriter(sink, { flushIntervalMs: 20 });
  w.write('one\n');
  assert.equal(chunks.length, 0);
  const deadline = Date.now() + 2_000;
  while (chunks.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(chunks, ['one\n']);
});

test('flush and close resolve only when the destination has taken every line, late ones included', async () => {
  const { sink, chunks, release } = slowSink();
  const w = new BufferedLineWriter(sink, { flushIntervalMs: 60_000 });
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
  const w = new BufferedLineWriter(sink, { chunkChars: 4, maxBufferedChars: 8, flushIntervalMs: 60_000 });
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
      write(chunk, cb) {
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
    { flushIntervalMs: 60_000 },
  );
  w.write('lost\n');
  await w.flush();
  w.write('kept\n');
  await w.flush();
  assert.equal(w.lastError?.message, 'EPIPE');
  assert.deepEqual(chunks, ['kept\n']);
});
