import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { placeBuiltinValues, withBuiltinValues } from './helm-builtin-values.ts';

const strict = (properties: Record<string, unknown>) => ({
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  properties,
});

describe('placeBuiltinValues', () => {
  test('a chart without a schema, or with an open one, gets them under meridian', () => {
    assert.deepEqual(placeBuiltinValues(undefined), { at: ['meridian'] });
    assert.deepEqual(placeBuiltinValues({ type: 'object', properties: { replicas: { type: 'integer' } } }), {
      at: ['meridian'],
    });
  });

  test('a schema forbidding unknown top-level keys moves them to global.meridian when global is open', () => {
    const placed = placeBuiltinValues(strict({ replicas: { type: 'integer' }, global: { type: 'object' } }));
    assert.deepEqual(placed.at, ['global', 'meridian']);
    assert.match(placed.note ?? '', /global\.meridian.*does not allow a top-level "meridian"/);
  });

  test('nowhere allowed: left out, with a note naming the way out', () => {
    const closedGlobal = strict({
      global: { type: 'object', additionalProperties: false, properties: { imageRegistry: {} } },
    });
    for (const schema of [strict({ replicas: {} }), closedGlobal]) {
      const placed = placeBuiltinValues(schema);
      assert.equal(placed.at, undefined);
      assert.match(placed.note ?? '', /left out.*helm\.meridianValuesKey/);
    }
  });

  test('a schema that declares meridian (or allows it by pattern) keeps the default', () => {
    assert.deepEqual(placeBuiltinValues(strict({ meridian: { type: 'object' } })), { at: ['meridian'] });
    assert.deepEqual(
      placeBuiltinValues({ type: 'object', additionalProperties: false, patternProperties: { '^m': {} } }),
      { at: ['meridian'] },
    );
  });

  test('a declared meridian that cannot hold the fields is not used', () => {
    const placed = placeBuiltinValues(strict({ meridian: { type: 'string' }, global: { type: 'object' } }));
    assert.deepEqual(placed.at, ['global', 'meridian']);
  });

  test('$ref and allOf are followed', () => {
    const schema = {
      $ref: '#/definitions/values',
      definitions: { values: strict({ global: { $ref: '#/definitions/open' } }), open: { type: 'object' } },
    };
    assert.deepEqual(placeBuiltinValues(schema).at, ['global', 'meridian']);
    assert.equal(placeBuiltinValues({ allOf: [{ type: 'object' }, strict({})] }).at, undefined);
  });

  test('meridianValues: false turns them off; meridianValuesKey is used as given', () => {
    const off = placeBuiltinValues(undefined, { enabled: false });
    assert.equal(off.at, undefined);
    assert.match(off.note, /off/);
    assert.deepEqual(placeBuiltinValues(strict({}), { key: 'podLabels.meridian' }), {
      at: ['podLabels', 'meridian'],
    });
  });

  test('withBuiltinValues nests the values at the path', () => {
    assert.deepEqual(withBuiltinValues({ cluster: 'eu' }, ['global', 'meridian']), {
      global: { meridian: { cluster: 'eu' } },
    });
  });
});
