import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { NODE_H, NODE_W, edgeLabel, edgeLabelPoint, edgePath, layoutGraph } from './graph-layout.ts';

describe('layoutGraph', () => {
  const nodes = [
    { id: 'us/shop/app2', service: 'app2', cluster: 'us' },
    { id: 'eu/shop/app1', service: 'app1', cluster: 'eu' },
    { id: 'eu/shop/app2', service: 'app2', cluster: 'eu' },
    { id: '?/shop/db', service: 'db' },
    { id: 'xx/shop/cache', service: 'cache', cluster: 'xx' },
  ];

  test('one column per cluster in the hub order; unknown clusters after, no-cluster last', () => {
    const l = layoutGraph(nodes, ['eu', 'us', 'ap']);
    assert.deepEqual(
      l.columns.map((c) => c.name),
      ['eu', 'us', 'ap', 'xx', '(no cluster)'],
    );
    const x = (id: string): number | undefined => l.nodes.get(id)?.x;
    assert.equal(x('eu/shop/app1'), x('eu/shop/app2'));
    assert.notEqual(x('eu/shop/app2'), x('us/shop/app2'));
    assert.ok((x('?/shop/db') ?? 0) > (x('xx/shop/cache') ?? 0));
  });

  test('nodes of a column do not overlap and every node is inside the drawing', () => {
    const l = layoutGraph(nodes, ['eu', 'us']);
    const eu = [...l.nodes.values()].filter((n) => n.column === 'eu').sort((a, b) => a.y - b.y);
    assert.equal(eu.length, 2);
    assert.ok((eu[1]?.y ?? 0) - (eu[0]?.y ?? 0) >= NODE_H);
    for (const n of l.nodes.values())
      assert.ok(n.x >= 0 && n.x < l.width && n.y >= 0 && n.y + NODE_H <= l.height);
  });

  test('an edge leaves from the side facing its target', () => {
    const l = layoutGraph(nodes, ['eu', 'us']);
    const a = l.nodes.get('eu/shop/app1');
    const b = l.nodes.get('us/shop/app2');
    assert.ok(a && b);
    assert.match(edgePath(a, b), new RegExp(`^M ${a.x + 150} `));
    assert.match(edgePath(b, a), new RegExp(`^M ${b.x} `));
  });
});

describe('edge labels', () => {
  test('rate with one decimal below 10/s, whole above; errors only when there are some', () => {
    assert.equal(edgeLabel(1.1066, 0), '1.1/s');
    assert.equal(edgeLabel(42.4, undefined), '42/s');
    assert.equal(edgeLabel(undefined, undefined), '0.0/s');
    assert.equal(edgeLabel(2, 0.05), '2.0/s · 5.0% err');
    assert.equal(edgeLabel(2, 0.5), '2.0/s · 50% err');
  });

  test('a label sits between the nodes, or beside a loop within a column', () => {
    const a = { id: 'a', service: 'a', column: 'x', x: 20, y: 40 };
    const b = { id: 'b', service: 'b', column: 'y', x: 240, y: 40 };
    const c = { id: 'c', service: 'c', column: 'x', x: 20, y: 100 };
    const across = edgeLabelPoint(a, b);
    assert.ok(across.x > a.x + NODE_W && across.x < b.x, JSON.stringify(across));
    const loop = edgeLabelPoint(a, c);
    assert.ok(loop.x > a.x + NODE_W, 'right of the column');
    assert.ok(loop.y > a.y && loop.y < c.y + NODE_H, 'between the two rows');
  });
});
