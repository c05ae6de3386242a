// Kubernetes manifests are YAML 1.1 in practice: kubectl and Helm read them with sigs.k8s.io/yaml,
// which resolves plain scalars with go-yaml v2's rules (`0755` is octal 493, `on`/`yes`/`y` are
// true, timestamps stay strings, no base-60 numbers). A YAML 1.2 reader gets some of these wrong
// (`0755` becomes 755, a file mode the API server then refuses), so rendered streams are parsed as
// plain strings and every untagged plain scalar is resolved here, the way kubectl would. Pure.
import { parseAllDocuments, visit, Scalar } from 'yaml';
import type { Document } from 'yaml';

const TRUE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']);
const FALSE = new Set(['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']);
const NULL = new Set(['', '~', 'null', 'Null', 'NULL']);
const SPECIAL_FLOATS: ReadonlyMap<string, number> = new Map([
  ...['.nan', '.NaN', '.NAN'].map((s) => [s, Number.NaN] as const),
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((s) => [s, Infinity] as const),
  ...['-.inf', '-.Inf', '-.INF'].map((s) => [s, -Infinity] as const),
]);

// Go's strconv.ParseInt(s, 0, 64) syntax: sign, then 0x / 0o / 0b / leading-0 octal / decimal.
const GO_INT = /^([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]+)|(0|[1-9][0-9]*))$/;
// go-yaml v2's yamlStyleFloat.
const GO_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

function goInt(plain: string): number | undefined {
  const m = GO_INT.exec(plain);
  if (!m) return undefined;
  const [, sign, hex, oct, bin, legacyOct, dec] = m;
  const n =
    hex !== undefined
      ? parseInt(hex, 16)
      : oct !== undefined
        ? parseInt(oct, 8)
        : bin !== undefined
          ? parseInt(bin, 2)
          : legacyOct !== undefined
            ? parseInt(legacyOct, 8)
            : parseInt(dec ?? '', 10);
  // Beyond uint64 go-yaml gives up on an integer (and a float may still match).
  if (n >= 2 ** 64) return undefined;
  return sign === '-' ? -n : n;
}

/**
 * The value go-yaml v2 (and so kubectl and Helm) gives an untagged plain scalar: null, a boolean,
 * a number, or the text itself.
 */
export function resolvePlainScalar(text: string): null | boolean | number | string {
  if (NULL.has(text)) return null;
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  const special = SPECIAL_FLOATS.get(text);
  if (special !== undefined) return special;
  // Timestamps (2001-12-14) need no rule: go-yaml keeps them as text when decoding untyped.
  const first = text[0] ?? '';
  if (first === '.') {
    return GO_FLOAT.test(text) ? Number(text) : text;
  }
  if (!/[-+0-9]/.test(first)) return text;
  // go-yaml drops every underscore before reading a number: 1_000 is 1000.
  const plain = text.replace(/_/g, '');
  const int = goInt(plain);
  if (int !== undefined) return int;
  if (GO_FLOAT.test(plain)) return Number(plain);
  return text;
}

/** The value of a scalar with an explicit standard tag (`!!int "0755"`), as go-yaml v2 reads it. */
function resolveTagged(tag: string, text: string): unknown {
  switch (tag) {
    case 'tag:yaml.org,2002:int':
    case 'tag:yaml.org,2002:float':
    case 'tag:yaml.org,2002:bool':
    case 'tag:yaml.org,2002:null': {
      const v = resolvePlainScalar(text);
      return typeof v === 'string' ? text : v;
    }
    default:
      // !!str, !!binary, !!timestamp and application tags are kept as text.
      return text;
  }
}

function resolveDocument(doc: Document.Parsed): void {
  visit(doc, {
    Scalar(_key, node: Scalar) {
      if (typeof node.value !== 'string') return;
      if (node.tag) node.value = resolveTagged(node.tag, node.value);
      else if (node.type === Scalar.PLAIN) node.value = resolvePlainScalar(node.value);
    },
  });
}

/**
 * Parses a multi-document YAML stream with kubectl's scalar semantics. Documents keep their
 * errors, ranges and comments for error messages; their values (`toJS()`) are what kubectl sends.
 */
export function parseKubeYaml(text: string): Document.Parsed[] {
  // failsafe: every scalar is read as text, then resolved above (merge keys `<<` still merge).
  const docs = parseAllDocuments(text, { schema: 'failsafe', merge: true });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) if (doc.errors.length === 0) resolveDocument(doc);
  return list;
}
