// Runtime validation of Meridian objects from the same schemas that produce the types and CRDs,
// with one-line messages that name the object and the field (CONVENTIONS.md, "Errors and logs").
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType } from '@sinclair/typebox/errors';
import type { ValueError } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { pointerToField } from './field-path.ts';
import './formats.ts';
import { KINDS } from './kinds.ts';
import type { KindName, ResourceByKind } from './kinds.ts';
import { objectUnionVariants } from './object-union.ts';
import { firstRuleViolation } from './schema-rules.ts';

/** Outcome of {@link validateResource}: the defaulted object, or the first problem found. */
export type ValidationResult<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      readonly code: 'Invalid';
      readonly field: string;
      readonly message: string;
      /** Every problem found (the first is `message`), each naming the object and field. */
      readonly messages: readonly string[];
    };

/** Thrown by {@link assertValidResource}; carries the same code, field and message. */
export class InvalidResourceError extends Error {
  readonly code = 'Invalid';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'InvalidResourceError';
  }
}

const checkers = new Map<KindName, TypeCheck<TSchema>>();

function checkerFor(kind: KindName): TypeCheck<TSchema> {
  let checker = checkers.get(kind);
  if (!checker) {
    checker = TypeCompiler.Compile(KINDS[kind].schema);
    checkers.set(kind, checker);
  }
  return checker;
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function plural(n: unknown, word: string): string {
  return `${String(n)} ${word}${n === 1 ? '' : 's'}`;
}

// A problem and the pointer it is at; the pointer becomes a field path once we know the whole value.
interface Problem {
  readonly pointer: string;
  readonly message: string;
}

function describeUnion(error: ValueError): Problem {
  const { schema, path, value } = error;
  const variants = objectUnionVariants(schema);
  if (variants) {
    const tags = variants.map((v) => v.tag);
    const present = value !== null && typeof value === 'object' ? tags.filter((t) => t in value) : [];
    const index = present.length === 1 ? tags.indexOf(present[0] as string) : -1;
    // One variant chosen: report why that variant is wrong rather than "matches no variant".
    const inner = index >= 0 ? error.errors[index]?.First() : undefined;
    if (inner) return describe(inner);
    const found = present.length > 1 ? ` (found ${present.join(' and ')})` : '';
    return { pointer: path, message: `exactly one of ${tags.join(', ')} must be set${found}` };
  }
  const anyOf = schema['anyOf'] as TSchema[];
  if (anyOf.every((v) => v['const'] !== undefined)) {
    return {
      pointer: path,
      message: `must be one of ${anyOf.map((v) => String(v['const'])).join(', ')}, got ${shown(value)}`,
    };
  }
  const hint = typeof schema['hint'] === 'string' ? schema['hint'] : 'a value of an allowed form';
  return { pointer: path, message: `must be ${hint}, got ${shown(value)}` };
}

function describe(error: ValueError): Problem {
  const { schema, path, value } = error;
  const hint = typeof schema['hint'] === 'string' ? ` (${schema['hint']})` : '';
  const got = `, got ${shown(value)}`;
  const at = (message: string): Problem => ({ pointer: path, message });
  switch (error.type) {
    case ValueErrorType.Union:
      return describeUnion(error);
    case ValueErrorType.ObjectRequiredProperty:
      return at('is required');
    case ValueErrorType.ObjectAdditionalProperties:
      return at('unknown field');
    case ValueErrorType.Object:
      return at(`must be an object${got}`);
    case ValueErrorType.Array:
      return at(`must be a list${got}`);
    case ValueErrorType.String:
      return at(`must be a string${got}`);
    case ValueErrorType.Integer:
      return at(`must be an integer${got}`);
    case ValueErrorType.Number:
      return at(`must be a number${got}`);
    case ValueErrorType.Boolean:
      return at(`must be true or false${got}`);
    case ValueErrorType.Literal:
      return at(`must be ${shown(schema['const'])}${got}`);
    case ValueErrorType.StringPattern:
      return at(`must match ${String(schema['pattern'])}${hint}${got}`);
    case ValueErrorType.StringFormat:
    case ValueErrorType.StringFormatUnknown:
      return at(`must be a valid ${String(schema['format'])}${hint}${got}`);
    case ValueErrorType.StringMinLength:
      return at(
        schema['minLength'] === 1
          ? 'must not be empty'
          : `must be at least ${plural(schema['minLength'], 'character')}`,
      );
    case ValueErrorType.StringMaxLength:
      return at(`must be at most ${plural(schema['maxLength'], 'character')}`);
    case ValueErrorType.ArrayMinItems:
      return at(`must have at least ${plural(schema['minItems'], 'item')}`);
    case ValueErrorType.ArrayMaxItems:
      return at(`must have at most ${plural(schema['maxItems'], 'item')}`);
    case ValueErrorType.ObjectMinProperties:
      return at(`must have at least ${plural(schema['minProperties'], 'entry')}`);
    case ValueErrorType.ObjectMaxProperties:
      return at(`must have at most ${plural(schema['maxProperties'], 'entry')}`);
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return at(`must be at least ${String(schema['minimum'])}${got}`);
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return at(`must be at most ${String(schema['maximum'])}${got}`);
    case ValueErrorType.IntegerExclusiveMinimum:
    case ValueErrorType.NumberExclusiveMinimum:
      return at(`must be greater than ${String(schema['exclusiveMinimum'])}${got}`);
    case ValueErrorType.IntegerExclusiveMaximum:
    case ValueErrorType.NumberExclusiveMaximum:
      return at(`must be less than ${String(schema['exclusiveMaximum'])}${got}`);
    default:
      return at(error.message.charAt(0).toLowerCase() + error.message.slice(1));
  }
}

// "Cluster eu-west", "Application team-a/shop", or just the kind when the name is unknown.
function objectRef(kind: KindName, obj: unknown): string {
  const metadata =
    obj !== null && typeof obj === 'object' ? (obj as { metadata?: unknown }).metadata : undefined;
  if (metadata === null || typeof metadata !== 'object') return kind;
  const { name, namespace } = metadata as { name?: unknown; namespace?: unknown };
  if (typeof name !== 'string' || name === '') return kind;
  return typeof namespace === 'string' && namespace !== ''
    ? `${kind} ${namespace}/${name}`
    : `${kind} ${name}`;
}

function invalid(
  kind: KindName,
  obj: unknown,
  field: string,
  message: string,
  more: readonly { field: string; message: string }[] = [],
) {
  const line = (f: string, m: string) => `${objectRef(kind, obj)}: ${f ? `${f}: ` : ''}${m}`;
  const messages = [...new Set([line(field, message), ...more.map((p) => line(p.field, p.message))])];
  return { ok: false, code: 'Invalid', field, message: messages[0]!, messages } as const;
}

/** How many schema problems one object reports at most. */
const MAX_PROBLEMS = 20;

/**
 * Validates `obj` as a `kind` object: schema, then the rules the API server would enforce (CEL
 * twins, list uniqueness). On success `value` is a copy with schema defaults applied, as the API
 * server would store it.
 */
export function validateResource<K extends KindName>(
  kind: K,
  obj: unknown,
): ValidationResult<ResourceByKind[K]> {
  const { schema } = KINDS[kind];
  let value: unknown;
  try {
    value = Value.Default(schema, structuredClone(obj));
  } catch {
    return invalid(kind, obj, '', 'must be plain JSON data');
  }
  const checker = checkerFor(kind);
  if (!checker.Check(value)) {
    const problems: { field: string; message: string }[] = [];
    for (const e of checker.Errors(value)) {
      const p = describe(e);
      const field = pointerToField(p.pointer, value);
      // One problem per field: a missing field is also "not a string" there.
      if (!problems.some((q) => q.field === field)) problems.push({ field, message: p.message });
      if (problems.length >= MAX_PROBLEMS) break;
    }
    const [first, ...rest] = problems.length > 0 ? problems : [{ field: '', message: 'is invalid' }];
    return invalid(kind, value, first!.field, first!.message, rest);
  }
  const violation = firstRuleViolation(schema, value);
  if (violation) return invalid(kind, value, violation.field, violation.message);
  return { ok: true, value: value as ResourceByKind[K] };
}

/** Like {@link validateResource}, but returns the defaulted object or throws {@link InvalidResourceError}. */
export function assertValidResource<K extends KindName>(kind: K, obj: unknown): ResourceByKind[K] {
  const result = validateResource(kind, obj);
  if (!result.ok) throw new InvalidResourceError(result.field, result.message);
  return result.value;
}
