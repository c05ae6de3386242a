import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TSchema } from '@sinclair/typebox';
import type { CelRule } from './common.ts';
import { KIND_NAMES, KINDS } from './kinds.ts';
import { firstRuleViolation } from './schema-rules.ts';

function collectRules(schema: unknown, found: CelRule[] = []): CelRule[] {
  if (Array.isArray(schema)) {
    for (const item of schema) collectRules(item, found);
  } else if (schema !== null && typeof schema === 'object') {
    const rules = (schema as TSchema)['x-kubernetes-validations'] as CelRule[] | undefined;
    if (rules) found.push(...rules);
    for (const [key, child] of Object.entries(schema))
      if (key !== 'x-kubernetes-validations') collectRules(child, found);
  }
  return found;
}

test('every CEL rule that does not compare with oldSelf has a TypeScript twin', () => {
  for (const kind of KIND_NAMES) {
    for (const rule of collectRules(KINDS[kind].schema)) {
      if (rule.rule.includes('oldSelf')) continue;
      assert.equal(typeof rule.check, 'function', `${kind}: rule ${rule.rule} has no TypeScript twin`);
    }
  }
});

test('reports duplicate keys of list maps at the second entry', () => {
  const schema = KINDS.GlobalIngress.schema;
  const status = {
    clusters: [
      { name: 'eu-west', healthy: true },
      { name: 'eu-west', healthy: false },
    ],
  };
  assert.deepEqual(firstRuleViolation(schema, { spec: { applicationRef: { name: 'shop' } }, status }), {
    field: 'status.clusters[1]',
    message: 'duplicate value "eu-west"',
  });
});
