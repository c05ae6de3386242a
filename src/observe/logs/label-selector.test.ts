import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelSelectorProblem } from './label-selector.ts';

test('accepts every form the API server accepts', () => {
  for (const s of [
    'app=app2',
    'app==app2',
    'app!=app2',
    'app.kubernetes.io/name=app2,tier in (web, api),!legacy',
    'env notin (dev)',
    'app',
    'app=',
  ]) {
    assert.equal(labelSelectorProblem(s), undefined, s);
  }
});

test('names what is wrong with a bad selector', () => {
  assert.match(labelSelectorProblem('app=app2,')!, /empty requirement/);
  assert.match(labelSelectorProblem('app=a b')!, /not a requirement/);
  assert.match(labelSelectorProblem('app=-x')!, /label value "-x"/);
  assert.match(labelSelectorProblem('a/b/c=x')!, /more than one/);
  assert.match(labelSelectorProblem('Bad_Prefix/x=1')!, /prefix/);
  assert.match(labelSelectorProblem('tier in ()')!, /lists no values/);
  assert.match(labelSelectorProblem('')!, /empty/);
});
