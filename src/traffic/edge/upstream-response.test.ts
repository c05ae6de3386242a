import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResponseParser, UpstreamError } from './upstream-response.ts';

interface Parsed {
  heads: [number, string[]][];
  body: string;
  complete: number;
  keepAlive: boolean;
  /** Bytes execute left unconsumed (after the end of the response). */
  rest: number;
}

/** Parses `wire` fed whole, or byte by byte; the two must agree (see `both`). */
function parse(wire: string, opts: { head?: boolean; bytewise?: boolean; close?: boolean } = {}): Parsed {
  const out: Parsed = { heads: [], body: '', complete: 0, keepAlive: false, rest: 0 };
  const p = new ResponseParser({
    onHead: (status, headers) => out.heads.push([status, headers]),
    onBody: (chunk) => (out.body += chunk.toString('latin1')),
    onComplete: () => out.complete++,
  });
  p.start(opts.head ?? false);
  const buf = Buffer.from(wire, 'latin1');
  const pieces = opts.bytewise ? [...buf].map((b) => Buffer.from([b])) : [buf];
  for (const piece of pieces) {
    if (p.done) {
      out.rest += piece.length;
      continue;
    }
    out.rest += piece.length - p.execute(piece);
  }
  if (opts.close) p.finish();
  out.keepAlive = p.keepAlive;
  return out;
}

function both(wire: string, opts: { head?: boolean; close?: boolean } = {}): Parsed {
  const whole = parse(wire, opts);
  assert.deepEqual(parse(wire, { ...opts, bytewise: true }), whole, 'byte by byte parses alike');
  return whole;
}

const badResponse = (wire: string, opts: { close?: boolean } = {}) => {
  for (const bytewise of [false, true])
    assert.throws(
      () => parse(wire, { ...opts, bytewise }),
      (e: unknown) => e instanceof UpstreamError && e.code === 'UPSTREAM_BAD_RESPONSE',
      JSON.stringify(wire),
    );
};

describe('upstream response parser', () => {
  it('reads a Content-Length body and keeps the connection', () => {
    const r = both('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello');
    assert.deepEqual(r.heads, [[200, ['Content-Type', 'text/plain', 'Content-Length', '5']]]);
    assert.equal(r.body, 'hello');
    assert.equal(r.complete, 1);
    assert.equal(r.keepAlive, true);
  });

  it('reads chunked bodies with extensions and trailers, dropping the trailers', () => {
    const r = both(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '5;name=value\r\nhello\r\n1 ; x\r\n,\r\n6\r\n world\r\n0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n',
    );
    assert.equal(r.body, 'hello, world');
    assert.equal(r.complete, 1);
    assert.equal(r.keepAlive, true);
    assert.equal(r.rest, 0);
    const noTrailers = both(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n',
    );
    assert.equal(noTrailers.body, '0123456789');
    assert.equal(noTrailers.complete, 1);
  });

  it('expects no body after HEAD, 204 and 304 whatever the headers say', () => {
    const head = both('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', { head: true });
    assert.deepEqual([head.body, head.complete, head.keepAlive], ['', 1, true]);
    for (const status of [204, 304]) {
      const r = both(`HTTP/1.1 ${status} X\r\nContent-Length: 4\r\n\r\n`);
      assert.deepEqual([r.heads[0]![0], r.complete, r.keepAlive], [status, 1, true]);
    }
  });

  it('skips 100 Continue and 103 Early Hints and reports the final answer only', () => {
    const r = both(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n' +
        'HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok',
    );
    assert.deepEqual(
      r.heads.map((h) => h[0]),
      [201],
    );
    assert.equal(r.body, 'ok');
  });

  it('reads a body without length until the close, and never reuses that connection', () => {
    const r = both('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end', { close: true });
    assert.deepEqual([r.body, r.complete, r.keepAlive], ['until the end', 1, false]);
    const gzip = both('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc', { close: true });
    assert.deepEqual([gzip.body, gzip.complete, gzip.keepAlive], ['abc', 1, false]);
  });

  it('does not reuse after Connection: close, HTTP/1.0, or both Transfer-Encoding and Content-Length', () => {
    assert.equal(both('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').keepAlive, false);
    assert.equal(both('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').keepAlive, false);
    assert.equal(
      both('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').keepAlive,
      true,
    );
    const smuggle = both(
      'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n',
    );
    assert.deepEqual([smuggle.body, smuggle.complete, smuggle.keepAlive], ['hi', 1, false]);
  });

  it("notes the server's Keep-Alive timeout", () => {
    const p = new ResponseParser({
      onHead: () => undefined,
      onBody: () => undefined,
      onComplete: () => undefined,
    });
    p.start(false);
    p.execute(Buffer.from('HTTP/1.1 200 OK\r\nKeep-Alive: max=100, timeout=5\r\nContent-Length: 0\r\n\r\n'));
    assert.deepEqual([p.done, p.keepAlive, p.keepAliveTimeoutMs], [true, true, 5_000]);
    p.start(false);
    p.execute(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    assert.equal(p.keepAliveTimeoutMs, undefined);
  });

  it('accepts repeated Content-Length values that agree', () => {
    assert.equal(both('HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok').body, 'ok');
  });

  it('leaves bytes after the end of the response unconsumed', () => {
    assert.equal(both('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE').rest, 7);
    assert.equal(both('HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n\r\n').rest, 19);
    assert.equal(both('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nxyz').rest, 3);
  });

  it('rejects malformed heads', () => {
    badResponse('HTTP/2 200 OK\r\n\r\n');
    badResponse('HTTP/1.1 20 OK\r\n\r\n');
    badResponse('ICY 200 OK\r\n\r\n');
    badResponse('HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n'); // bare LF
    badResponse('HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n'); // obs-fold
    badResponse('HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n');
    badResponse('HTTP/1.1 200 OK\r\nNoColon\r\n\r\n');
    badResponse('HTTP/1.1 200 OK\r\nX-A: a\u0000b\r\n\r\n');
    badResponse('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n');
    badResponse('HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n');
    badResponse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok');
    badResponse('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n');
    badResponse(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`);
  });

  it('reads the status line strictly: HTTP/1.0 or 1.1, three digits, a reason without CR or LF', () => {
    for (const line of ['HTTP/1.1 200', 'HTTP/1.1 200 ', 'HTTP/1.1 299 A\u0000\u00ffB'])
      assert.equal(both(`${line}\r\nContent-Length: 0\r\n\r\n`).complete, 1, JSON.stringify(line));
    for (const line of [
      'HTTP/1.1 200 O\rK',
      'HTTP/1.1 200\tOK',
      'HTTP/1.1 2000',
      'HTTP/1.1 099 X',
      'HTTP/1.1 2x0 X',
      'HTTP/1.1 20x X',
      'HTTP/1.2 200 OK',
      'http/1.1 200 OK',
      'HTTP/1.1 200 OK\r', // ends in a bare CR before the CRLF
    ])
      badResponse(`${line}\r\nContent-Length: 0\r\n\r\n`);
  });

  it('passes values on byte for byte (obs-text included), trimmed of spaces and tabs at both ends', () => {
    const r = both(
      'HTTP/1.1 200 OK\r\nX-Text: caf\u00e9 \u00ff\u0080 a:b\r\nX-Empty:\r\nX-Tab:\t\t\r\nX-Pad: \t a \t b \t\r\n' +
        // NBSP is obs-text, not whitespace: it stays.
        'X-Nbsp:\u00a0v\u00a0\r\nContent-Length: 0\r\n\r\n',
    );
    assert.deepEqual(r.heads, [
      [
        200,
        [
          ...['X-Text', 'caf\u00e9 \u00ff\u0080 a:b', 'X-Empty', '', 'X-Tab', '', 'X-Pad', 'a \t b'],
          ...['X-Nbsp', '\u00a0v\u00a0', 'Content-Length', '0'],
        ],
      ],
    ]);
  });

  it('rejects control bytes inside values and anything but a token before the colon', () => {
    for (const line of [
      'X-A: a\u007fb',
      'X-A: a\rb',
      'X-A: a\nb',
      'X-A: a\u0001',
      // At the ends too: a stray CR or LF, or a VT, is not whitespace to trim away.
      'X-A: v\r',
      'X-A: v\n',
      'X-A: \u000bv',
      'Content-Length: \u00a05',
      'X-A\u0000: 1',
      'X-A : 1',
      'X-\u00e9: 1',
      ': v',
      'X-A',
    ])
      badResponse(`HTTP/1.1 200 OK\r\n${line}\r\nContent-Length: 0\r\n\r\n`);
  });

  it('names the status line, header line, name or field in the error', () => {
    const message = (wire: string) => {
      try {
        parse(wire);
      } catch (e) {
        return (e as Error).message.replace('bad upstream response: ', '');
      }
      return 'accepted';
    };
    assert.equal(message('ICY 200 OK\r\nX: 1\r\n\r\n'), 'status line "ICY 200 OK"');
    assert.equal(message('HTTP/1.1 200 OK\r\nX: 1\r\nNoColon\r\n\r\n'), 'header line "NoColon"');
    assert.equal(message('HTTP/1.1 200 OK\r\n: v\r\n\r\n'), 'header line ": v"');
    assert.equal(message('HTTP/1.1 200 OK\r\nBad Name: 1:2\r\n\r\n'), 'header name "Bad Name"');
    assert.equal(message('HTTP/1.1 200 OK\r\nX-A: a\u0000b\r\n\r\n'), 'value of header X-A');
    assert.equal(message('HTTP/1.1 200 OK\r\nContent-Length: 1,x\r\n\r\n'), 'Content-Length "1,x"');
  });

  it('compares repeated Content-Length values digit for digit, 15 digits at most', () => {
    assert.equal(both('HTTP/1.1 200 OK\r\nContent-Length: 2 ,\t2\r\ncontent-length: 2\r\n\r\nok').body, 'ok');
    assert.equal(both('HTTP/1.1 200 OK\r\nContent-Length: 000000000000002\r\n\r\nok').body, 'ok');
    for (const value of ['5\r\nContent-Length: 05', '0, 00', '1234567890123456', '2,', '', '+2', '2 2'])
      badResponse(`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n`);
  });

  it('matches the framing and connection headers, and the values it looks for, in any case', () => {
    assert.equal(
      both('HTTP/1.1 200 OK\r\nCONNECTION: Keep-Alive, CLOSE\r\ncontent-LENGTH: 0\r\n\r\n').keepAlive,
      false,
    );
    assert.equal(
      both('HTTP/1.0 200 OK\r\nconnection: KEEP-ALIVE\r\nContent-Length: 0\r\n\r\n').keepAlive,
      true,
    );
    const chunked = both('HTTP/1.1 200 OK\r\ntransfer-ENCODING: gzip, CHUNKED \r\n\r\n2\r\nhi\r\n0\r\n\r\n');
    assert.deepEqual([chunked.body, chunked.keepAlive], ['hi', true]);
    const notLast = both('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, deflate\r\n\r\n2\r\nhi', {
      close: true,
    });
    assert.deepEqual([notLast.body, notLast.keepAlive], ['2\r\nhi', false]);
    const p = new ResponseParser({
      onHead: () => undefined,
      onBody: () => undefined,
      onComplete: () => undefined,
    });
    p.start(false);
    p.execute(Buffer.from('HTTP/1.1 200 OK\r\nKEEP-ALIVE: Timeout = 7\r\nContent-Length: 0\r\n\r\n'));
    assert.equal(p.keepAliveTimeoutMs, 7_000);
  });

  it('rejects malformed chunked bodies', () => {
    const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    badResponse(`${head}zz\r\nhi\r\n0\r\n\r\n`);
    badResponse(`${head}2\r\nhello\r\n0\r\n\r\n`); // data longer than its size
    badResponse(`${head}2\nhi\r\n0\r\n\r\n`); // bare LF
    badResponse(`${head}-2\r\nhi\r\n0\r\n\r\n`);
    badResponse(`${head}1234567890abc\r\n`); // 13 hex digits
    badResponse(`${head}0\r\nBad Trailer\r\n\r\n`);
    badResponse(`${head}${'1'.repeat(5000)}`);
  });

  it('reports a response cut short by the close', () => {
    for (const wire of [
      'HTTP/1.1 200 OK\r\nContent-Len',
      'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab',
      '',
    ])
      assert.throws(
        () => parse(wire, { close: true }),
        (e: unknown) => e instanceof UpstreamError && e.code === 'UPSTREAM_CLOSED',
        JSON.stringify(wire),
      );
  });
});
