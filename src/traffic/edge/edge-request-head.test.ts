import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  downstreamHeaders,
  isIdempotent,
  matchesPaths,
  parseTarget,
  upstreamHead,
} from './edge-request-head.ts';

const HTTP = { proto: 'http', port: 8080 } as const;

/** Header list as lower-case name → values, for order-insensitive checks. */
function byName(flat: readonly string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i]!.toLowerCase();
    m.set(k, [...(m.get(k) ?? []), flat[i + 1]!]);
  }
  return m;
}

describe('edge request head', () => {
  it('counts Host headers and drops a trailing dot of the name, port kept', () => {
    const two = upstreamHead(['Host', 'a.test', 'Host', 'b.test'], '10.0.0.9', HTTP);
    assert.equal(two.hosts, 2);
    const dot = upstreamHead(['Host', 'Shop.Example.test.:8080'], '10.0.0.9', HTTP);
    assert.equal(dot.hosts, 1);
    assert.equal(dot.host, 'Shop.Example.test:8080');
    assert.deepEqual(byName(dot.headers).get('host'), ['Shop.Example.test:8080']);
    assert.deepEqual(byName(dot.headers).get('x-forwarded-host'), ['Shop.Example.test:8080']);
    assert.equal(upstreamHead(['Host', 'shop.test.'], '10.0.0.9', HTTP).host, 'shop.test');
    assert.equal(upstreamHead([], '10.0.0.9', HTTP).hosts, 0);
  });

  it('keeps Host, appends the client to X-Forwarded-For and replaces the other X-Forwarded-*', () => {
    const head = upstreamHead(
      [
        'Host',
        'Shop.Example.test:8080',
        'X-Forwarded-For',
        '10.0.0.1',
        'x-forwarded-for',
        '10.0.0.2',
        'X-Forwarded-Proto',
        'https',
        'X-Forwarded-Host',
        'evil.example',
        'Accept',
        '*/*',
      ],
      '192.0.2.7',
      HTTP,
    );
    const h = byName(head.headers);
    assert.equal(head.host, 'Shop.Example.test:8080');
    assert.deepEqual(h.get('host'), ['Shop.Example.test:8080']);
    assert.deepEqual(h.get('x-forwarded-for'), ['10.0.0.1, 10.0.0.2, 192.0.2.7']);
    assert.deepEqual(h.get('x-forwarded-proto'), ['http'], 'the client cannot claim https');
    assert.deepEqual(h.get('x-forwarded-host'), ['Shop.Example.test:8080']);
    assert.deepEqual(h.get('x-forwarded-port'), ['8080']);
    assert.deepEqual(h.get('accept'), ['*/*']);
  });

  it('sets X-Forwarded-For to the client when there was none', () => {
    const h = byName(upstreamHead(['Host', 'a'], '::1', { proto: 'https', port: 443 }).headers);
    assert.deepEqual(h.get('x-forwarded-for'), ['::1']);
    assert.deepEqual(h.get('x-forwarded-proto'), ['https']);
  });

  it('drops hop-by-hop headers, the ones Connection names, and Expect', () => {
    const head = upstreamHead(
      [
        'Host',
        'a',
        'Connection',
        'keep-alive, X-Secret',
        'Keep-Alive',
        'timeout=5',
        'X-Secret',
        'hop',
        'TE',
        'trailers',
        'Proxy-Authorization',
        'Basic x',
        'Expect',
        '100-continue',
        'Upgrade',
        'websocket',
        'X-Kept',
        'yes',
      ],
      '127.0.0.1',
      HTTP,
    );
    const names = [...byName(head.headers).keys()];
    for (const gone of [
      'connection',
      'keep-alive',
      'x-secret',
      'te',
      'proxy-authorization',
      'expect',
      'upgrade',
    ])
      assert.ok(!names.includes(gone), `${gone} must not be forwarded`);
    assert.ok(names.includes('x-kept'));
  });

  it('keeps Connection: Upgrade and Upgrade for an upgrade request', () => {
    const h = byName(
      upstreamHead(
        ['Host', 'a', 'Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k'],
        '127.0.0.1',
        HTTP,
        true,
      ).headers,
    );
    assert.deepEqual(h.get('connection'), ['Upgrade']);
    assert.deepEqual(h.get('upgrade'), ['websocket']);
    assert.deepEqual(h.get('sec-websocket-key'), ['k']);
  });

  it('knows which requests have a body (and so cannot be replayed)', () => {
    assert.equal(upstreamHead(['Host', 'a'], 'c', HTTP).hasBody, false);
    assert.equal(upstreamHead(['Host', 'a', 'Content-Length', '0'], 'c', HTTP).hasBody, false);
    assert.equal(upstreamHead(['Host', 'a', 'Content-Length', '12'], 'c', HTTP).hasBody, true);
    const chunked = upstreamHead(['Host', 'a', 'Transfer-Encoding', 'chunked'], 'c', HTTP);
    assert.equal(chunked.hasBody, true);
    assert.ok(!byName(chunked.headers).has('transfer-encoding'), 'the upstream client frames the body');
  });

  it('drops hop-by-hop headers from responses, keeps the rest byte for byte', () => {
    const out = downstreamHeaders(
      ['Content-Type', 'text/plain', 'Connection', 'keep-alive, X-Internal', 'Keep-Alive', 'timeout=5']
        .concat(['Transfer-Encoding', 'chunked', 'X-Internal', 'x', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'])
        .concat(['X-Latin', 'caf\u00e9'])
        // Every other hop-by-hop name, in any case.
        .concat(['TE', 'trailers', 'Trailer', 'X-T', 'UPGRADE', 'h2c', 'proxy-connection', 'close'])
        .concat(['Proxy-Authenticate', 'Basic', 'Proxy-Authorization', 'Basic eA=='])
        .map((s) => Buffer.from(s, 'latin1')),
    );
    assert.deepEqual(out, [
      'Content-Type',
      'text/plain',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
      'X-Latin',
      'caf\u00e9',
    ]);
  });

  it('matches path prefixes by whole segments', () => {
    const paths = ['/api', '/v2/'];
    assert.equal(matchesPaths(paths, '/api'), true);
    assert.equal(matchesPaths(paths, '/api/orders'), true);
    assert.equal(matchesPaths(paths, '/apix'), false);
    assert.equal(matchesPaths(paths, '/v2/x'), true);
    assert.equal(matchesPaths(paths, '/v2'), false);
    assert.equal(matchesPaths(paths, '/'), false);
    assert.equal(matchesPaths(['/'], '/anything/at/all'), true);
    assert.equal(matchesPaths([], '/'), false);
  });

  it('parses origin-form targets and refuses the rest and dot segments', () => {
    assert.deepEqual(parseTarget('/a/b?token=s3cret'), { pathAndQuery: '/a/b?token=s3cret', path: '/a/b' });
    assert.deepEqual(parseTarget('/'), { pathAndQuery: '/', path: '/' });
    assert.deepEqual(parseTarget('/v1.2/file.txt'), {
      pathAndQuery: '/v1.2/file.txt',
      path: '/v1.2/file.txt',
    });
    assert.deepEqual(parseTarget('/a/..b'), { pathAndQuery: '/a/..b', path: '/a/..b' });
    for (const bad of [
      '*',
      'http://x/y',
      '',
      '/api/../admin',
      '/api/./x',
      '/api/..',
      '/api/%2e%2E/admin',
      '/api/%2e',
    ])
      assert.equal(parseTarget(bad), undefined, bad);
  });

  it('retries only idempotent methods', () => {
    assert.deepEqual(
      ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'POST', 'PATCH', 'CONNECT'].map(isIdempotent),
      [true, true, true, true, true, true, false, false, false],
    );
  });
});
