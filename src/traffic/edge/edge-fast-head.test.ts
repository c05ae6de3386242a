import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_HEAD_BYTES, parseFastHead, type FastHead } from './edge-fast-head.ts';

const parse = (text: string, scanned = 0): FastHead => parseFastHead(Buffer.from(text, 'latin1'), scanned);

/** The fallback reason, failing the test if the head was accepted or is partial. */
function reason(text: string): string {
  const h = parse(text);
  assert.equal(h.kind, 'fallback', `${JSON.stringify(text)} should fall back, got ${h.kind}`);
  return h.kind === 'fallback' ? h.reason : '';
}

const GET = 'GET /a?b=1 HTTP/1.1\r\nHost: shop.example.test\r\n';

describe('fast-path request head', () => {
  it('accepts a plain keep-alive GET and returns its fields as received', () => {
    const h = parse(`${GET}User-Agent: wrk\r\nX-Empty:\r\nX-Pad: \t spaced value \t\r\n\r\n`);
    assert.equal(h.kind, 'request');
    if (h.kind !== 'request') return;
    assert.equal(h.method, 'GET');
    assert.equal(h.target, '/a?b=1');
    assert.deepEqual(h.headers, [
      'Host',
      'shop.example.test',
      'User-Agent',
      'wrk',
      'X-Empty',
      '',
      'X-Pad',
      'spaced value',
    ]);
    assert.equal(h.close, false);
    assert.equal(
      h.length,
      Buffer.byteLength(GET) + 'User-Agent: wrk\r\nX-Empty:\r\nX-Pad: \t spaced value \t\r\n\r\n'.length,
    );
  });

  it('accepts Content-Length: 0, obs-text in values, every listed method, and Connection: close', () => {
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])
      assert.equal(parse(`${m} / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n`).kind, 'request', m);
    assert.equal(parse(`${GET}X-Name: caf\xe9\r\n\r\n`).kind, 'request');
    const h = parse(`${GET}Connection: keep-alive, Close\r\n\r\n`);
    assert.ok(h.kind === 'request' && h.close);
  });

  it('stops at the first blank line: pipelined bytes after it are the next request', () => {
    const text = `${GET}\r\nGET /next HTTP/1.1\r\n`;
    const h = parse(text);
    assert.ok(h.kind === 'request');
    assert.equal(text.slice(h.length), 'GET /next HTTP/1.1\r\n');
  });

  it('waits for more bytes while the head is incomplete, also when it trickles in byte by byte', () => {
    const full = `${GET}Accept: */*\r\n\r\n`;
    for (let n = 0; n < full.length; n++) {
      assert.equal(parse(full.slice(0, n)).kind, 'partial', `after ${n} bytes`);
      // The same with the earlier bytes marked as scanned (how the front calls it).
      assert.equal(parse(full.slice(0, n), Math.max(0, n - 1)).kind, 'partial', `after ${n} bytes (scanned)`);
    }
    assert.equal(parse(full, full.length - 1).kind, 'request', 'the blank line straddling reads is found');
    assert.equal(parse(full, full.length - 2).kind, 'request');
  });

  it('falls back for a body or any framing other than none', () => {
    assert.equal(reason(`POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello`), 'Content-Length');
    assert.equal(reason(`${GET}Content-Length: 00\r\n\r\n`), 'Content-Length');
    assert.equal(reason(`${GET}Content-Length: 0\r\nContent-Length: 0\r\n\r\n`), 'Content-Length');
    assert.equal(reason(`${GET}Transfer-Encoding: chunked\r\n\r\n`), 'Transfer-Encoding');
    assert.equal(
      reason(
        `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      ),
      'Transfer-Encoding',
      'CL+TE (the classic smuggling pair)',
    );
    assert.equal(reason(`${GET}transfer-encoding: identity\r\n\r\n`), 'Transfer-Encoding');
  });

  it('falls back for Host missing, empty or twice', () => {
    assert.equal(reason('GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'), 'Host');
    assert.equal(reason('GET / HTTP/1.1\r\nHost:\r\n\r\n'), 'Host');
    assert.equal(reason(`${GET}Host: other.example.test\r\n\r\n`), 'Host');
  });

  it('falls back for Upgrade, Connection: upgrade and Expect', () => {
    assert.equal(reason(`${GET}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n`), 'Connection: upgrade');
    assert.equal(reason(`${GET}Upgrade: websocket\r\n\r\n`), 'Upgrade');
    assert.equal(reason(`PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n`), 'Expect');
  });

  it('falls back for request lines outside HTTP/1.1 origin form with a known method', () => {
    for (const line of [
      'GET / HTTP/1.0',
      'GET / HTTP/2.0',
      'GET /  HTTP/1.1',
      'GET http://h/ HTTP/1.1',
      'OPTIONS * HTTP/1.1',
      'get / HTTP/1.1',
      'GET /a b HTTP/1.1',
      'GET /\x7f HTTP/1.1',
      'GET /caf\xe9 HTTP/1.1',
      ' GET / HTTP/1.1',
    ])
      assert.equal(reason(`${line}\r\nHost: h\r\n\r\n`), 'request line', JSON.stringify(line));
    assert.equal(reason('CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n'), 'method');
    assert.equal(reason('TRACE / HTTP/1.1\r\nHost: h\r\n\r\n'), 'method');
    assert.equal(reason('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 'request line');
  });

  it('falls back for malformed header lines: obs-fold, bad name, space before colon, controls', () => {
    for (const line of [
      'X-Folded: a\r\n  continued',
      'X Bad: v',
      'X-Bad : v',
      'X-Bad\t: v',
      '"quoted": v',
      'X-Bad(): v',
      ': no name',
      'no colon',
      'X-Nul: a\0b',
      'X-Ctl: a\x01b',
      'X-Del: a\x7fb',
      'X-CR: a\rb',
    ])
      assert.equal(reason(`${GET}${line}\r\n\r\n`), 'header line', JSON.stringify(line));
  });

  it('falls back for LF-only or bare-CR line ends, without waiting for a blank line', () => {
    assert.equal(reason('GET / HTTP/1.1\nHost: h\n\n'), 'bare LF');
    assert.equal(reason('GET / HTTP/1.1\nHost: h\n'), 'bare LF', 'incomplete head, decided at once');
    assert.equal(reason('GET / HTTP/1.1\rHost: h'), 'bare CR');
    assert.equal(reason('GET / HTTP/1.1\r\nHost: h\0'), 'control byte');
    assert.equal(reason(`${GET}X: a\nb\r\n\r\n`), 'header line');
    // A CR that ended the previous read is judged when the next byte comes.
    assert.equal(parse('GET / HTTP/1.1\r').kind, 'partial');
    assert.equal(parseFastHead(Buffer.from('GET / HTTP/1.1\rX'), 15).kind, 'fallback');
  });

  it('falls back for heads over 16 KiB and for too many header lines', () => {
    const big = `${GET}X-Big: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`;
    assert.equal(reason(big), 'head too large');
    assert.equal(
      reason(big.slice(0, MAX_HEAD_BYTES + 1)),
      'head too large',
      'incomplete and already too large',
    );
    let many = GET;
    for (let i = 0; i < 100; i++) many += `X-${i}: v\r\n`;
    assert.equal(reason(`${many}\r\n`), 'too many header lines');
  });

  it('parses a head of long whitespace runs in linear time (no regex backtracking)', () => {
    // A value pattern with lazy and greedy [\t ]* runs took 420 ms on this line (15 KiB of spaces
    // before a control byte): a CPU-exhaustion lever for any client. Linear parsing takes < 1 ms.
    const line = `X: a${' '.repeat(15_000)}\x01`;
    const started = performance.now();
    assert.equal(reason(`GET / HTTP/1.1\r\nHost: h\r\n${line}\r\n\r\n`), 'header line');
    const spaces = parse(`GET / HTTP/1.1\r\nHost: h\r\nX: a${' '.repeat(15_000)}b\r\n\r\n`);
    assert.equal(spaces.kind, 'request');
    assert.ok(performance.now() - started < 100, `took ${performance.now() - started} ms`);
  });
});
