import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LruCache, bearerToken } from './auth.ts';

test('the review caches keep at most their bound, least recently used out first', () => {
  const c = new LruCache<string | undefined>(2);
  c.set('a', { value: 'alice', expires: 100 });
  c.set('b', { value: undefined, expires: 100 }); // a rejected token is cached too
  assert.equal(c.get('a', 0)?.value, 'alice'); // a is now the most recent
  c.set('c', { value: 'carol', expires: 100 });
  assert.equal(c.size, 2);
  assert.equal(c.get('b', 0), undefined, 'b went first');
  assert.equal(c.get('a', 0)?.value, 'alice');
  assert.ok(c.get('c', 0), 'c is kept');
  for (let i = 0; i < 10_000; i++) c.set(`junk-${i}`, { value: undefined, expires: 100 });
  assert.equal(c.size, 2, 'made-up tokens do not grow the cache');
  assert.deepEqual(
    c.get('junk-9999', 0),
    { value: undefined, expires: 100 },
    'the negative answer is served',
  );
  assert.equal(c.get('junk-9999', 100), undefined, 'until it expires');
  assert.equal(c.size, 1, 'an expired entry is dropped when met');
});

test('bearer tokens are read from the Authorization header only in the Bearer form', () => {
  assert.equal(bearerToken('Bearer abc'), 'abc');
  assert.equal(bearerToken('bearer  abc '), 'abc');
  assert.equal(bearerToken('Basic abc'), undefined);
  assert.equal(bearerToken(undefined), undefined);
});
