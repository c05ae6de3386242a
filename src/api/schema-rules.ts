// What the API server checks beyond JSON Schema, done in TypeScript: the CEL rules of our schemas
// (through their TypeScript twins) and list uniqueness (x-kubernetes-list-type set / map).
import type { TSchema } from '@sinclair/typebox';
import type { CelRule } from './common.ts';
import { childField, indexField } from './field-path.ts';
import { objectUnionVariants } from './object-union.ts';

/** A rule an already schema-valid value breaks. */
export interface RuleViolation {
  readonly field: string;
  readonly message: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function listViolation(schema: TSchema, list: readonly unknown[], field: string): RuleViolation | undefined {
  const listType = schema['x-kubernetes-list-type'];
  const mapKeys = schema['x-kubernetes-list-map-keys'] as string[] | undefined;
  if (listType !== 'set' && listType !== 'map') return undefined;
  const seen = new Set<string>();
  for (const [index, item] of list.entries()) {
    const identity =
      listType === 'map' && mapKeys ? mapKeys.map((k) => (isRecord(item) ? item[k] : undefined)) : item;
    const key = JSON.stringify(identity);
    if (seen.has(key)) {
      const shown =
        listType === 'map' && mapKeys?.length === 1 ? JSON.stringify((identity as unknown[])[0]) : key;
      return { field: indexField(field, index), message: `duplicate value ${shown}` };
    }
    seen.add(key);
  }
  return undefined;
}

/**
 * The first rule `value` breaks, walking `schema` depth-first in property order. Assumes the value
 * already passed the JSON Schema check.
 */
export function firstRuleViolation(schema: TSchema, value: unknown, field = ''): RuleViolation | undefined {
  const variants = objectUnionVariants(schema);
  if (variants) {
    const chosen = isRecord(value) ? variants.find((v) => v.tag in value) : undefined;
    if (chosen) return firstRuleViolation(chosen.schema, value, field);
  }
  if (Array.isArray(value)) {
    const duplicate = listViolation(schema, value, field);
    if (duplicate) return duplicate;
    const items = schema['items'] as TSchema | undefined;
    if (items) {
      for (const [index, item] of value.entries()) {
        const found = firstRuleViolation(items, item, indexField(field, index));
        if (found) return found;
      }
    }
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  // Children first, so the most specific violation is reported, as the API server does.
  const properties = (schema['properties'] as Record<string, TSchema> | undefined) ?? {};
  for (const [key, child] of Object.entries(properties)) {
    if (value[key] === undefined) continue;
    const found = firstRuleViolation(child, value[key], childField(field, key));
    if (found) return found;
  }
  const patterns = schema['patternProperties'] as Record<string, TSchema> | undefined;
  const valueSchema = patterns ? Object.values(patterns)[0] : undefined;
  if (valueSchema) {
    for (const [key, child] of Object.entries(value)) {
      const found = firstRuleViolation(valueSchema, child, childField(field, key));
      if (found) return found;
    }
  }
  for (const rule of (schema['x-kubernetes-validations'] as CelRule[] | undefined) ?? []) {
    const check = rule.check as ((self: unknown) => boolean) | undefined;
    if (check && !check(value)) return { field, message: rule.message };
  }
  return undefined;
}
