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
 * `+(…)`, `@(…)`, `!(…)` with `|` inside (`complexLabelProblem` then
 * refuses the forms whose matching cost cannot be bounded).
 */
export function globLabelProblem(label: string, quoted: string): string | undefined {
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
    else if (c === '.') return `label ${quoted} has a "." inside a glob: a label never contains a dot`;
    else return `label ${quoted} has "${c}", which is neither a host name character nor glob syntax there`;
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

/** A label hostmux matches without backtracking: host characters, `*`, `?` and `[…]` of host characters. */
const SIMPLE_LABEL = /^(?:[a-z0-9_*?-]|\[\^?[a-z0-9_-]+\])+$/;

/**
 * The regex source of a label made only of host characters, `*`, `?` and
 * `[…]`, or undefined for any other label. picomatch compiles each `*` to a
 * lazy `([^/]*?)`, and k stars then backtrack like n^k on a hostile label.
 * Here the text between two stars is a run of one-character items, so if it
 * can be placed at all, its earliest place works too: each run is found at
 * its earliest place inside a lookahead, which V8 never re-enters, and
 * consumed by back-reference (the `(?=(…))\1` atomic-group idiom). The
 * captures are those of picomatch's lazy regex; a match costs at most
 * stars × label length × run length character tests.
 * Groups 1, 3, 5… are the stars.
 */
export function simpleLabelSource(label: string): { source: string; stars: number[] } | undefined {
  if (!SIMPLE_LABEL.test(label)) return undefined;
  // `**` inside a label is one star, as picomatch reads it. Host characters
  // and classes of them are regex syntax as they stand; `?` is one character.
  const runs = label.split(/\*+/).map((run) => run.replace(/\?/g, '[^.]'));
  const last = runs.length - 1;
  if (last === 0) return { source: `^${runs[0]}$`, stars: [] };
  let source = `^${runs[0]}`;
  const stars: number[] = [];
  for (let i = 1; i < last; i++) {
    const group = 2 * i - 1;
    source += `(?=([^.]*?)(${runs[i]}))\\${group}\\${group + 1}`;
    stars.push(group);
  }
  // The last run is fixed-length and ends the label: one lazy star reaches it.
  source += `([^.]*?)${runs[last]}$`;
  stars.push(2 * last - 1);
  return { source, stars };
}

/** Any `*` outside a group, `!(…)` and each star inside a group: up to 64 places each. */
const PLACES_PER_STAR = 64;
/** The most backtracking paths a label outside the simple form may have (64 × 64). */
export const MAX_LABEL_PATHS = 4096;

/**
 * Why a label with braces or extglobs could make matching slow, or
 * undefined. Such a label keeps picomatch's backtracking regex, so it is
 * bounded before it loads: no group inside a group, no `*(…)` or `+(…)`
 * (a repeated group with overlapping alternatives, `+(a|aa)`, is
 * exponential), and at most 4096 paths, counting 64 for each `*` and
 * `!(…)` and the number of alternatives of each `{…}`, `@(…)` and `?(…)`.
 */
export function complexLabelProblem(label: string, quoted: string): string | undefined {
  let paths = 1;
  let open = '';
  let alternatives = 1;
  let repeated: string | undefined;
  for (let i = 0; i < label.length; i++) {
    const c = label[i]!;
    const next = label[i + 1];
    if (c === '[') {
      const close = label.indexOf(']', i + 1);
      if (close !== -1) i = close;
      continue;
    }
    const extglob = next === '(' && '?*+@!'.includes(c);
    if (extglob || c === '{') {
      if (open !== '') return `label ${quoted} nests a group inside a group: nested groups can take exponential time to match`;
      if (extglob && (c === '*' || c === '+')) repeated ??= c;
      open = extglob ? c : '{';
      alternatives = c === '?' ? 2 : 1;
      if (extglob) i++;
      continue;
    }
    if (open !== '' && (c === ')' || c === '}')) {
      paths *= open === '!' ? PLACES_PER_STAR : alternatives;
      open = '';
    } else if (open !== '' && (c === '|' || c === ',')) {
      alternatives++;
    } else if (c === '*') {
      paths *= PLACES_PER_STAR;
      while (label[i + 1] === '*') i++;
    }
    if (paths > MAX_LABEL_PATHS && repeated === undefined) {
      return `label ${quoted} could take too long to match: with braces or extglobs, a label may have at most two * (each * and !(…) counts 64 ways, each {…}, @(…), ?(…) its number of alternatives; at most ${MAX_LABEL_PATHS} in all)`;
    }
  }
  if (repeated !== undefined) {
    return `label ${quoted} has ${repeated}(…): a repeated group can take exponential time to match; use * or {a,b} instead`;
  }
  return undefined;
}
