import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PROMQL_BUDGET, promqlOverBudget } from './promql-budget.ts';

describe('PromQL budget', () => {
  test('dashboard queries pass', () => {
    for (const q of [
      'up',
      'sum by (cluster) (rate(http_requests_total{code=~"5..", path!="/a+b"}[5m])) / sum by (cluster) (rate(http_requests_total[5m]))',
      'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
      'max_over_time(rate(x[1m])[1h:5m]) > 0.5 and on (pod) kube_pod_info',
      'up # a comment with ((((( and + + +\n',
      "\"(((((((\" + '))))\\')))'",
    ])
      assert.equal(promqlOverBudget(q), undefined, q);
  });

  test('refuses deep nesting, long operator chains and huge texts, naming the limit', () => {
    assert.match(
      promqlOverBudget('('.repeat(800) + 'up' + ')'.repeat(800))!,
      /nests brackets 800 deep; the limit is 64/,
    );
    assert.match(promqlOverBudget('abs('.repeat(65) + 'up' + ')'.repeat(65))!, /65 deep/);
    assert.match(
      promqlOverBudget(Array(1000).fill('up').join(' + '))!,
      /999 binary operators; the limit is 64/,
    );
    assert.match(promqlOverBudget(Array(66).fill('up').join(' or '))!, /65 binary operators/);
    assert.match(promqlOverBudget('up{a="' + 'x'.repeat(70_000) + '"}')!, /characters long/);
    assert.equal(
      promqlOverBudget(
        Array(PROMQL_BUDGET.maxOperators + 1)
          .fill('up')
          .join(' == '),
      ),
      undefined,
    );
  });

  test('label matchers and metric names with keywords are not operators', () => {
    assert.equal(promqlOverBudget(`sum(up{${Array(100).fill('a!="x",b=~"y"').join(',')}})`), undefined);
    assert.equal(promqlOverBudget(Array(60).fill('order_total').join(' or ')), undefined);
  });
});
