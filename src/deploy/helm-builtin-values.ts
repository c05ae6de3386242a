// Where Meridian's built-in Helm values (`meridian.{cluster,region,zone}`) may go in a chart: a
// chart whose values.schema.json forbids unknown keys would refuse them, so they go only where the
// schema allows them. Pure: the schema in, a placement out.
import { isJsonMap } from './merge.ts';
import type { JsonMap } from './merge.ts';

export const DEFAULT_BUILTIN_KEY = 'meridian';
/** Helm hands `global` to every subchart, and strict charts often leave it open. */
export const GLOBAL_BUILTIN_KEY = 'global.meridian';

/** The keys of the built-in values object. */
export const BUILTIN_FIELDS = ['cluster', 'region', 'zone'] as const;

export type BuiltinPlacement =
  | { readonly at: readonly string[]; readonly note?: string }
  | { readonly at?: undefined; readonly note: string };

export interface BuiltinOptions {
  /** `helm.meridianValues`: false turns the built-in values off. */
  readonly enabled?: boolean;
  /** `helm.meridianValuesKey`: a dotted path the user chose; used as given. */
  readonly key?: string;
}

const keyPath = (key: string): string[] => key.split('.').filter((k) => k !== '');

/**
 * Decides where the built-in values go: the user's key when set, else `meridian` when the chart's
 * schema allows it, else `global.meridian`, else nowhere. `note` says why whenever they did not
 * land at the default place, for an Event.
 */
export function placeBuiltinValues(schema: unknown, opts: BuiltinOptions = {}): BuiltinPlacement {
  if (opts.enabled === false) return { note: 'built-in values are off (helm.meridianValues: false)' };
  if (opts.key !== undefined) {
    const at = keyPath(opts.key);
    if (at.length > 0) return { at };
  }
  if (schema === undefined || allows(schema, schema, keyPath(DEFAULT_BUILTIN_KEY))) {
    return { at: keyPath(DEFAULT_BUILTIN_KEY) };
  }
  if (allows(schema, schema, keyPath(GLOBAL_BUILTIN_KEY))) {
    return {
      at: keyPath(GLOBAL_BUILTIN_KEY),
      note: `built-in values go to .Values.${GLOBAL_BUILTIN_KEY}: the chart's values.schema.json does not allow a top-level "${DEFAULT_BUILTIN_KEY}"`,
    };
  }
  return {
    note: `built-in values (${DEFAULT_BUILTIN_KEY}.{${BUILTIN_FIELDS.join(',')}}) were left out: the chart's values.schema.json allows neither "${DEFAULT_BUILTIN_KEY}" nor "${GLOBAL_BUILTIN_KEY}"; set helm.meridianValuesKey to a key it allows`,
  };
}

/** `values` with `builtin` put at `at` (under the user's values, which win). */
export function withBuiltinValues(builtin: JsonMap, at: readonly string[]): JsonMap {
  let out: JsonMap = builtin;
  for (let i = at.length - 1; i >= 0; i--) out = { [at[i]!]: out };
  return out;
}

// Whether `schema` (JSON Schema, draft 4–2020) lets an object hold a built-in values object at `path`.
function allows(root: unknown, schema: unknown, path: readonly string[], depth = 0): boolean {
  if (depth > 32) return true;
  if (schema === false) return false;
  if (!isJsonMap(schema)) return true;
  const ref = schema['$ref'];
  if (typeof ref === 'string') {
    const target = resolveRef(root, ref);
    if (target !== undefined && !allows(root, target, path, depth + 1)) return false;
  }
  for (const sub of arrayOf(schema['allOf'])) if (!allows(root, sub, path, depth + 1)) return false;
  for (const k of ['anyOf', 'oneOf'] as const) {
    const subs = arrayOf(schema[k]);
    if (subs.length > 0 && !subs.some((s) => allows(root, s, path, depth + 1))) return false;
  }
  if (!acceptsObject(schema)) return false;
  const [head, ...rest] = path;
  if (head === undefined) return BUILTIN_FIELDS.every((f) => acceptsString(propertySchema(schema, f)));
  const sub = propertySchema(schema, head);
  if (sub === false) return false;
  return allows(root, sub, rest, depth + 1);
}

// The schema an object property `key` is checked against: properties, patternProperties, else
// additionalProperties (false when forbidden; undefined when anything goes).
function propertySchema(schema: JsonMap, key: string): unknown {
  const props = schema['properties'];
  if (isJsonMap(props) && key in props) return props[key];
  const patterns = schema['patternProperties'];
  if (isJsonMap(patterns)) {
    for (const [pattern, sub] of Object.entries(patterns)) {
      try {
        if (new RegExp(pattern, 'u').test(key)) return sub;
      } catch {
        // A pattern JavaScript cannot read: Helm (Go) may; do not guess.
      }
    }
  }
  const additional = schema['additionalProperties'] ?? schema['unevaluatedProperties'];
  return additional === undefined ? undefined : additional;
}

function acceptsObject(schema: JsonMap): boolean {
  const type = schema['type'];
  if (type === undefined) return true;
  if (typeof type === 'string') return type === 'object';
  return Array.isArray(type) && type.includes('object');
}

function acceptsString(schema: unknown): boolean {
  if (schema === false) return false;
  if (!isJsonMap(schema)) return true;
  const type = schema['type'];
  if (type === undefined) return true;
  return type === 'string' || (Array.isArray(type) && type.includes('string'));
}

function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const part of ref.slice(1).split('/').filter(Boolean)) {
    const key = decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isJsonMap(node)) return undefined;
    node = node[key];
  }
  return node;
}

function arrayOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
