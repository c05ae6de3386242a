import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { tokenFromFragment } from './hub-api.ts';

describe('a token handed over in the fragment', () => {
  test('is taken and the address bar moves on to the topology', () => {
    assert.deepEqual(tokenFromFragment('#token=eyJ.abc.def'), { token: 'eyJ.abc.def', rest: '#topology' });
    assert.deepEqual(tokenFromFragment('#token=a%2Bb'), { token: 'a+b', rest: '#topology' });
  });

  test('any other fragment is a view and is left alone', () => {
    assert.deepEqual(tokenFromFragment('#traces/abc'), { rest: '#traces/abc' });
    assert.deepEqual(tokenFromFragment(''), { rest: '' });
    assert.deepEqual(tokenFromFragment('#token='), { rest: '#token=' });
  });
});
