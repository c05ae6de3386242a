// What one PromQL query may cost before the engine sees it. Prometheus' parser and planner recurse
// over the expression tree: a query nested 800 brackets deep held the hub's event loop 1.2 s, a
// chain of 1,000 binary operators 2.9 s, and 5,000 overflowed the WebAssembly stack. A single
// linear scan (strings and comments skipped, label matchers not counted) refuses those first. Pure.

export interface PromqlBudget {
  /** Longest query text, in UTF-16 code units. */
  readonly maxLength: number;
  /** Deepest nesting of (), [] and {}. */
  readonly maxDepth: number;
  /** Most binary operators (arithmetic, comparison, set, atan2). */
  readonly maxOperators: number;
}

export const PROMQL_BUDGET: PromqlBudget = { maxLength: 64 * 1024, maxDepth: 64, maxOperators: 64 };

const KEYWORD_OPERATORS = new Set(['and', 'or', 'unless', 'atan2']);

/** Why `query` is over budget, or undefined when it is within it. */
export function promqlOverBudget(query: string, budget: PromqlBudget = PROMQL_BUDGET): string | undefined {
  if (query.length > budget.maxLength)
    return `query is ${query.length} characters long; the limit is ${budget.maxLength}`;
  let depth = 0;
  let maxDepth = 0;
  let braces = 0;
  let operators = 0;
  for (let i = 0; i < query.length; i++) {
    const c = query[i]!;
    if (c === '"' || c === "'" || c === '`') {
      // A string: skip to its closing quote (backslash escapes in all but raw strings).
      for (i++; i < query.length && query[i] !== c; i++) if (c !== '`' && query[i] === '\\') i++;
      continue;
    }
    if (c === '#') {
      while (i < query.length && query[i] !== '\n') i++;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') {
      if (c === '{') braces++;
      maxDepth = Math.max(maxDepth, ++depth);
      continue;
    }
    if (c === ')' || c === ']' || c === '}') {
      if (c === '}') braces = Math.max(0, braces - 1);
      depth = Math.max(0, depth - 1);
      continue;
    }
    if (braces > 0) continue; // label matchers (=, !=, =~, !~) are not operators
    if ('+-*/%^'.includes(c)) {
      operators++;
    } else if ((c === '=' || c === '!') && query[i + 1] === '=') {
      operators++;
      i++;
    } else if (c === '<' || c === '>') {
      operators++;
      if (query[i + 1] === '=') i++;
    } else if (/[a-z_]/i.test(c) && (i === 0 || !/[\w:.]/.test(query[i - 1]!))) {
      let j = i;
      while (j < query.length && /[\w:]/.test(query[j]!)) j++;
      if (KEYWORD_OPERATORS.has(query.slice(i, j).toLowerCase())) operators++;
      i = j - 1;
    }
  }
  if (maxDepth > budget.maxDepth)
    return `query nests brackets ${maxDepth} deep; the limit is ${budget.maxDepth}`;
  if (operators > budget.maxOperators)
    return `query has ${operators} binary operators; the limit is ${budget.maxOperators}`;
  return undefined;
}
