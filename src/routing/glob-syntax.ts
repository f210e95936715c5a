// The glob syntax of one label, read by hand where picomatch gives no
// answer: where a label ends, which capture groups are stars, and whether a
// label could match a host name at all.

/** Characters that make a label a glob. */
export const GLOB_CHARS = /[*?[\]{}()!|+@,^\\]/;

/**
 * Splits at `separator` where it is not inside `[]`, `{}` or `()`: a glob's
 * own dots and commas (`{1..3}`, `{www,cdn}`) do not split it.
 */
export function splitOutsideGroups(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '[' || c === '{' || c === '(') depth++;
    else if ((c === ']' || c === '}' || c === ')') && depth > 0) depth--;
    else if (c === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/**
 * The capturing groups of a picomatch regex that come from `*`: picomatch
 * also captures braces and extglobs, and wildcards hand over only stars.
 */
export function starGroups(source: string): number[] {
  const stars: number[] = [];
  let group = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (c === '[') {
      for (i++; i < source.length && source[i] !== ']'; i++) if (source[i] === '\\') i++;
    } else if (c === '(' && source[i + 1] !== '?') {
      group++;
      if (source.startsWith('([^/]*?)', i)) stars.push(group);
    }
  }
  return stars;
}

/** Characters of a glob label outside its syntax: `api-*` has 4. */
export function literalCharacters(label: string): number {
  let count = 0;
  let depth = 0;
  for (let i = 0; i < label.length; i++) {
    const c = label[i]!;
    if (c === '[' || c === '{' || c === '(') depth++;
    else if (c === ']' || c === '}' || c === ')') depth = Math.max(0, depth - 1);
    else if (depth === 0 && !GLOB_CHARS.test(c)) count++;
  }
  return count;
}

const HOST_CHAR = /[a-z0-9_-]/;

/**
 * Why a glob label could never match a host label, or undefined. picomatch
 * accepts any text, so `a+b` or `x@y` would load as patterns that never
 * match; here only host characters and glob syntax in its place pass:
 * `*`, `?`, `[…]`, `{a,b}`, `{1..9}` and the extglobs `?(…)`, `*(…)`,
 * `+(…)`, `@(…)`, `!(…)` with `|` inside.
 */
export function globLabelProblem(label: string): string | undefined {
  const rest = label
    .replace(/\[(?:[^\]\\]|\\.)+\]/g, 'x')
    .replace(/\{(?:-?\d+\.\.-?\d+|[a-z]\.\.[a-z])(?:\.\.\d+)?\}/g, 'x');
  let braces = 0;
  let parens = 0;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i]!;
    const next = rest[i + 1];
    if (HOST_CHAR.test(c) || c === '*' || c === '?') continue;
    if (c === '{') braces++;
    else if (c === '}' && braces > 0) braces--;
    else if (c === ',' && braces > 0) continue;
    else if ((c === '+' || c === '@' || c === '!') && next === '(') continue;
    else if (c === '(' && i > 0 && '?*+@!'.includes(rest[i - 1]!)) parens++;
    else if (c === ')' && parens > 0) parens--;
    else if (c === '|' && parens > 0) continue;
    else if (c === '.') return `label "${label}" has a "." inside a glob: a label never contains a dot`;
    else return `label "${label}" has "${c}", which is neither a host name character nor glob syntax there`;
  }
  return undefined;
}

/** True when a label has a `*` of its own, outside any extglob group (`*(` opens one). */
export function hasOwnStar(label: string): boolean {
  let depth = 0;
  for (let i = 0; i < label.length; i++) {
    const c = label[i];
    if (c === '\\') i++;
    else if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (c === '*' && depth === 0 && label[i + 1] !== '(') return true;
  }
  return false;
}
