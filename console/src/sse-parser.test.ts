import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { SseParser } from './sse-parser.ts';

describe('SseParser', () => {
  test('parses named events with multi-line data and skips comments', () => {
    const p = new SseParser();
    const evs = p.push(': meridian logs stream\n\nevent: line\ndata: {"a":1}\ndata: more\n\n: keepalive\n\n');
    assert.deepEqual(evs, [{ event: 'line', data: '{"a":1}\nmore', id: '' }]);
  });

  test('completes events split anywhere across chunks, CRLF included', () => {
    const text = 'event: marker\r\ndata: x\r\nid: 7\r\n\r\ndata: plain\r\n\r\n';
    for (let cut = 1; cut < text.length; cut++) {
      const p = new SseParser();
      const evs = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      assert.deepEqual(
        evs,
        [
          { event: 'marker', data: 'x', id: '7' },
          { event: 'message', data: 'plain', id: '7' },
        ],
        `cut at ${cut}`,
      );
    }
  });

  test('a field without a colon and an event without data dispatch nothing', () => {
    const p = new SseParser();
    assert.deepEqual(p.push('event: line\n\ndata\n\n'), [{ event: 'message', data: '', id: '' }]);
  });
});
