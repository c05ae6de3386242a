// Merging of Helm values and of override patches into rendered objects.

/** A JSON object. */
export type JsonMap = Record<string, unknown>;

/** Whether `value` is a plain JSON object (not an array, not null). */
export function isJsonMap(value: unknown): value is JsonMap {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export interface ValuesMergeOptions {
  /**
   * What a `null` in `over` does. `delete` (default) removes the key from the result. `keep`
   * keeps the `null`, which is how Helm itself layers `-f` files: the null survives until Helm
   * coalesces the result with the chart's defaults, where it deletes the chart's default too.
   * Use `keep` when the result is still to be layered over chart defaults.
   */
  readonly nulls?: 'delete' | 'keep';
}

/**
 * Merges Helm values the way Helm layers values files: maps merge recursively, any other value
 * (lists included) replaces, and `null` deletes a key (see {@link ValuesMergeOptions.nulls}).
 * Neither input is modified.
 */
export function deepMergeValues(base: JsonMap, over: JsonMap, options: ValuesMergeOptions = {}): JsonMap {
  const keepNulls = options.nulls === 'keep';
  const out: JsonMap = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    if (value === null) {
      if (keepNulls) out[key] = null;
      else delete out[key];
      continue;
    }
    const current = out[key];
    out[key] = isJsonMap(value) && isJsonMap(current) ? deepMergeValues(current, value, options) : value;
  }
  return out;
}

// A list whose items are all objects with a string `name`: containers, env, ports, volumes,
// volumeMounts… Strategic merge patch keys most of these lists by name.
function isNamedList(list: readonly unknown[]): list is JsonMap[] {
  return list.every((item) => isJsonMap(item) && typeof item['name'] === 'string');
}

function mergeNamedLists(original: readonly JsonMap[], patch: readonly JsonMap[]): JsonMap[] {
  const out = original.map((item) => ({ ...item }));
  for (const patchItem of patch) {
    const at = out.findIndex((item) => item['name'] === patchItem['name']);
    if (at >= 0) out[at] = strategicMerge(out[at] as JsonMap, patchItem);
    else out.push(strategicMerge({}, patchItem));
  }
  return out;
}

/**
 * Merges `patch` into `obj`; the common subset of Kubernetes strategic merge patch that needs no
 * schema: maps merge recursively; `null` deletes a key; a list of objects that all carry a `name`
 * (containers, env, ports, volumes, volumeMounts…) merges item by item on `name`, appending new
 * names; every other list is replaced. Not supported: `$patch`/`$setElementOrder` directives,
 * lists keyed by something other than `name` (e.g. Service ports without names merge by
 * replacement), and deleting a list item. Neither input is modified.
 */
export function strategicMerge(obj: JsonMap, patch: JsonMap): JsonMap {
  const out: JsonMap = { ...obj };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === null) {
      delete out[key];
      continue;
    }
    const current = out[key];
    if (isJsonMap(value) && isJsonMap(current)) {
      out[key] = strategicMerge(current, value);
    } else if (
      Array.isArray(value) &&
      Array.isArray(current) &&
      value.length > 0 &&
      isNamedList(value) &&
      isNamedList(current)
    ) {
      out[key] = mergeNamedLists(current, value);
    } else {
      out[key] = structuredClone(value);
    }
  }
  return out;
}
