import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { chartOf, seriesLabel } from './series-chart.ts';

describe('chartOf', () => {
  test('scales every series onto one shared axis; NaN samples leave gaps, not zeros', () => {
    const c = chartOf(
      [
        {
          metric: { __name__: 'up', cluster: 'eu' },
          values: [
            [100, '0'],
            [160, '2'],
          ],
        },
        {
          metric: { cluster: 'us' },
          values: [
            [100, '1'],
            [130, 'NaN'],
            [160, '4'],
          ],
        },
      ],
      200,
      100,
    );
    assert.equal(c.min, 0);
    assert.equal(c.max, 4);
    assert.equal(c.lines[0]?.points, '0.0,100.0 200.0,50.0');
    assert.equal(c.lines[1]?.points, '0.0,75.0 200.0,0.0');
    assert.equal(c.lines[0]?.label, 'up{cluster="eu"}');
  });

  test('no finite sample gives an empty chart', () => {
    assert.deepEqual(chartOf([{ metric: {}, values: [[1, 'NaN']] }], 10, 10).lines, []);
  });

  test('labels print sorted, name first', () => {
    assert.equal(seriesLabel({ region: 'r', __name__: 'x', cluster: 'c' }), 'x{cluster="c", region="r"}');
  });
});
