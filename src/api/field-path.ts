// Field paths the way Kubernetes prints them in errors: spec.placement.clusters[1].

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** Appends an object key: `.key`, or `[key]` for map keys that are not plain names (host names). */
export function childField(parent: string, key: string): string {
  if (!PLAIN_KEY.test(key)) return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

/** Appends a list index. */
export function indexField(parent: string, index: number): string {
  return `${parent}[${index}]`;
}

/** Converts a JSON pointer into `value` (`/spec/placement/clusters/1`) into a field path. */
export function pointerToField(pointer: string, value: unknown): string {
  let field = '';
  let current: unknown = value;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current) && /^\d+$/.test(key)) {
      field = indexField(field, Number(key));
      current = current[Number(key)];
    } else {
      field = childField(field, key);
      current =
        current !== null && typeof current === 'object'
          ? (current as Record<string, unknown>)[key]
          : undefined;
    }
  }
  return field;
}
