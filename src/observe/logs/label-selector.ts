// Checks a Kubernetes label selector before any cluster sees it, so a typo is one clear error
// naming the flag instead of one 400 per cluster. Grammar as in k8s.io/apimachinery/pkg/labels:
// `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, joined by commas.

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function keyProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return `label key "${key}" has more than one "/"`;
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2 && (parts[0]!.length > 253 || !PREFIX.test(parts[0]!)))
    return `label key "${key}" has an invalid prefix (a DNS subdomain)`;
  if (!NAME.test(name))
    return `label key "${key}" is invalid (at most 63 characters: letters, digits, '-', '_', '.', starting and ending with a letter or digit)`;
  return undefined;
}

function valueProblem(value: string): string | undefined {
  if (value === '' || NAME.test(value)) return undefined;
  return `label value "${value}" is invalid (at most 63 characters: letters, digits, '-', '_', '.', starting and ending with a letter or digit)`;
}

/** Splits on commas outside parentheses. */
function requirements(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((r) => r.trim());
}

/** Why the selector is invalid, or undefined when the API servers will accept it. */
export function labelSelectorProblem(selector: string): string | undefined {
  if (selector.trim() === '') return 'is empty';
  for (const req of requirements(selector)) {
    if (req === '') return `"${selector}" has an empty requirement (stray comma?)`;
    const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(req);
    if (set) {
      const values = set[3]!.split(',').map((v) => v.trim());
      const p = keyProblem(set[1]!) ?? values.map(valueProblem).find((x) => x !== undefined);
      if (p) return p;
      if (values.length === 1 && values[0] === '') return `"${req}" lists no values`;
      continue;
    }
    const cmp = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(req);
    if (cmp) {
      const p = keyProblem(cmp[1]!) ?? valueProblem(cmp[3]!);
      if (p) return p;
      continue;
    }
    const exists = /^(!?)\s*([^=!\s()]+)$/.exec(req);
    if (exists) {
      const p = keyProblem(exists[2]!);
      if (p) return p;
      continue;
    }
    return `"${req}" is not a requirement (use k=v, k!=v, k in (a,b), k notin (a,b), k or !k)`;
  }
  return undefined;
}
