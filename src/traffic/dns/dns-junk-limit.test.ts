import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode, encode } from 'dns-packet';
import { DnsJunkLimiter, truncatedReply } from './dns-junk-limit.ts';

describe('DNS junk per source', () => {
  it('drops a source over its junk budget, truncating every second packet, until it refills', () => {
    let now = 0;
    const limit = new DnsJunkLimiter({ perSecond: 10, slip: 2, maxSources: 100 }, () => now);
    for (let i = 0; i < 10; i++) {
      assert.equal(limit.admit('10.0.0.1'), 'answer');
      limit.junk('10.0.0.1');
    }
    assert.deepEqual(
      [1, 2, 3, 4].map(() => limit.admit('10.0.0.1')),
      ['drop', 'truncate', 'drop', 'truncate'],
    );
    assert.equal(limit.admit('10.0.0.2'), 'answer', 'other sources are not affected');
    now = 150; // 1.5 tokens back
    assert.equal(limit.admit('10.0.0.1'), 'answer');
  });

  it('a source that sends no junk is never tracked, and sources are bounded', () => {
    const limit = new DnsJunkLimiter({ perSecond: 10, slip: 2, maxSources: 3 }, () => 0);
    for (let i = 0; i < 1000; i++) limit.admit(`10.0.${i >> 8}.${i & 255}`);
    assert.equal(limit.size, 0);
    for (let i = 0; i < 1000; i++) limit.junk(`10.1.${i >> 8}.${i & 255}`);
    assert.equal(limit.size, 3);
  });

  it('a truncated reply keeps the id and RD, sets QR and TC, and carries nothing', () => {
    const q = encode({ type: 'query', id: 4242, flags: 1 << 8, questions: [{ type: 'A', name: 'x.test' }] });
    const r = decode(truncatedReply(q)!);
    assert.equal(r.id, 4242);
    assert.equal(r.type, 'response');
    assert.equal(r.flag_tc, true);
    assert.equal(r.flag_rd, true);
    assert.equal(r.questions?.length ?? 0, 0);
    assert.equal(truncatedReply(Buffer.alloc(5)), undefined);
    assert.equal(truncatedReply(truncatedReply(q)!), undefined, 'never answers a response');
  });
});
