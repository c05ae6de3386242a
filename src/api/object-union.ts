// Our unions of objects are "exactly one of these keys" (spec.source: manifests | kustomize | helm |
// git). Both the CRD converter and the error reporter need to know which key tags which variant.
import type { TSchema } from '@sinclair/typebox';

/** One variant of an object union and the key that identifies it. */
export interface TaggedVariant {
  readonly tag: string;
  readonly schema: TSchema;
}

function isObjectSchema(schema: TSchema): boolean {
  return schema['type'] === 'object' && typeof schema['properties'] === 'object';
}

/**
 * The tag of each variant when `schema` is a union of objects that each require exactly one key the
 * others do not all have; undefined for any other schema.
 */
export function objectUnionVariants(schema: TSchema): TaggedVariant[] | undefined {
  const variants: unknown = schema['anyOf'];
  if (!Array.isArray(variants) || variants.length < 2) return undefined;
  const objects = variants as TSchema[];
  if (!objects.every(isObjectSchema)) return undefined;
  const keysOf = (s: TSchema) => Object.keys(s['properties'] as object);
  const shared = keysOf(objects[0] as TSchema).filter((key) => objects.every((s) => keysOf(s).includes(key)));
  const tagged: TaggedVariant[] = [];
  for (const variant of objects) {
    const required = (variant['required'] as string[] | undefined) ?? [];
    const tags = required.filter((key) => !shared.includes(key));
    if (tags.length !== 1) return undefined;
    tagged.push({ tag: tags[0] as string, schema: variant });
  }
  return new Set(tagged.map((v) => v.tag)).size === tagged.length ? tagged : undefined;
}
