// Which top-level command a command line names, found before the command tree is built, so that
// only that command's module is loaded (program.ts).
import type { Option } from 'commander';

/**
 * The first operand of `args` (argv without node and the script), skipping the global `options`
 * and their values; for `help <command>`, that command. Undefined when there is none.
 */
export function commandNameIn(args: readonly string[], options: readonly Option[]): string | undefined {
  // flag → whether its value is required (`<v>`) or optional (`[v]`, taken when it is no flag)
  const takesValue = new Map<string, 'required' | 'optional'>();
  for (const o of options) {
    const kind = o.required ? 'required' : o.optional ? 'optional' : undefined;
    if (!kind) continue;
    if (o.long) takesValue.set(o.long, kind);
    if (o.short) takesValue.set(o.short, kind);
  }
  let helpSeen = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return args[i + 1];
    if (a.startsWith('-') && a !== '-') {
      // `--opt value` consumes the next word; `--opt=value` does not.
      const kind = takesValue.get(a);
      if (kind === 'required' || (kind === 'optional' && !args[i + 1]?.startsWith('-'))) i++;
      continue;
    }
    if (a === 'help' && !helpSeen) {
      helpSeen = true;
      continue;
    }
    return a;
  }
  return undefined;
}
