import { domainToASCII } from 'node:url';
import picomatch from 'picomatch';
import {
  complexLabelProblem,
  GLOB_CHARS,
  globLabelProblem,
  hasOwnStar,
  literalCharacters,
  simpleLabelSource,
  splitOutsideGroups,
  starGroups,
} from './glob-syntax.js';
import { quote } from '../errors.js';
import { normalizeHost } from './hostname.js';

/** Label kinds, in precedence order: a lower rank wins. */
export const Rank = { Literal: 0, Partial: 1, Star: 2, Globstar: 3 } as const;
export type Rank = (typeof Rank)[keyof typeof Rank];

interface LabelMatcher {
  readonly rank: Rank;
  /** The label as written (a literal label's whole text). */
  readonly text: string;
  /** Partial labels: the compiled label, and which groups are `*` parts. */
  readonly regex?: RegExp;
  readonly starGroups?: readonly number[];
}

/** A compiled pattern: a literal suffix to index by, and labels to match left of it. */
export interface Pattern {
  readonly text: string;
  /** The trailing literal labels joined with `.` (`''` when the last label is a glob). */
  readonly suffix: string;
  /** The labels left of the suffix, left to right. */
  readonly labels: readonly LabelMatcher[];
  /** The rank of every label, right to left, for precedence. */
  readonly ranks: readonly Rank[];
  /** Characters outside glob syntax, for precedence. */
  readonly literalChars: number;
  /** How many `**` labels it has. */
  readonly globstars: number;
}

export type CompiledDomain =
  | { readonly kind: 'exact'; readonly text: string }
  | { readonly kind: 'pattern'; readonly text: string; readonly pattern: Pattern };

// eslint-disable-next-line no-control-regex -- the range starts at NUL on purpose: all of ASCII
const NON_ASCII = /[^\x00-\x7f]/;
const PICOMATCH_OPTIONS = { capture: true, nonegate: true, dot: true } as const;
/** What `picomatch.makeRe` returns for a glob it could not compile. */
const PICOMATCH_FAILED = '$^';
/** The longest domain or pattern a site file may list (a host name has at most 253 characters). */
const MAX_DOMAIN_TEXT = 1024;
const HOST_LABEL = /^[a-z0-9_-]{1,63}$/;
/** A label WHATWG reads as a number, making the host an IPv4 address. */
const NUMERIC_LABEL = /^(?:\d+|0x[0-9a-f]*)$/;
/** A label of an IPv4 address as routed: decimal 0–255 without leading zeros. */
const IPV4_OCTET = /^(?:0|[1-9]\d?|1\d\d|2[0-4]\d|25[0-5])$/;

/** A literal label of a pattern: a host name label, and valid punycode when it is `xn--`. */
function literalLabelProblem(label: string): string | undefined {
  if (!HOST_LABEL.test(label)) return `label ${quote(label)} is not a valid host name label`;
  if (label.startsWith('xn--') && domainToASCII(label) !== label) {
    return `label ${quote(label)} is not valid punycode: browsers reject such a host, so it can never match`;
  }
  return undefined;
}

function compileLabel(label: string): LabelMatcher | string {
  if (label === '*') return { rank: Rank.Star, text: label };
  if (label === '**') return { rank: Rank.Globstar, text: label };
  if (!GLOB_CHARS.test(label)) return literalLabelProblem(label) ?? { rank: Rank.Literal, text: label };
  const quoted = quote(label);
  const syntaxProblem = globLabelProblem(label, quoted);
  if (syntaxProblem !== undefined) return syntaxProblem;
  let regex: RegExp;
  let stars: number[];
  try {
    regex = picomatch.makeRe(label, PICOMATCH_OPTIONS);
    stars = starGroups(regex.source);
    if (regex.source === PICOMATCH_FAILED) {
      // picomatch answers a glob it cannot compile with a regex that never
      // matches, and with `capture` it cannot compile a `!(…)` extglob (it
      // leaves a group open). Compile again without captures, and throw on a
      // real error (an unbalanced brace), rather than never matching.
      regex = picomatch.makeRe(label, { ...PICOMATCH_OPTIONS, capture: false, debug: true });
      if (hasOwnStar(label)) return `label ${quoted} mixes !(…) with *: picomatch cannot capture its * parts`;
      stars = [];
    }
  } catch (err) {
    return `label ${quoted} is not a valid glob: ${(err as Error).message}`;
  }
  // Stars, ? and classes: a regex of our own that cannot backtrack
  // exponentially. Anything else keeps picomatch's, bounded first.
  const simple = simpleLabelSource(label);
  if (simple !== undefined) return { rank: Rank.Partial, text: label, regex: new RegExp(simple.source), starGroups: simple.stars };
  const costProblem = complexLabelProblem(label, quoted);
  if (costProblem !== undefined) return costProblem;
  return { rank: Rank.Partial, text: label, regex, starGroups: stars };
}

/** Unicode labels to punycode; a glob label must already be ASCII. */
function toAscii(labels: string[]): string | undefined {
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (!NON_ASCII.test(label)) continue;
    if (GLOB_CHARS.test(label)) return `label ${quote(label)} mixes Unicode and glob syntax; write it in punycode`;
    const ascii = domainToASCII(label);
    if (ascii === '') return `label ${quote(label)} is not a valid internationalised label`;
    labels[i] = ascii;
  }
  return undefined;
}

/**
 * A pattern whose last label is a literal number matches only IPv4
 * addresses, which are routed in dotted decimal (`127.0.0.1`): its literal
 * labels must be written so, and without `**` it has four labels.
 */
function ipv4PatternProblem(written: string, labels: readonly string[], matchers: readonly LabelMatcher[]): string | undefined {
  const last = matchers[matchers.length - 1]!;
  if (last.rank !== Rank.Literal || !NUMERIC_LABEL.test(last.text)) return undefined;
  const octets = matchers.every((m) => m.rank !== Rank.Literal || IPV4_OCTET.test(m.text));
  const globstar = matchers.some((m) => m.rank === Rank.Globstar);
  if (octets && (globstar ? labels.length <= 5 : labels.length === 4)) return undefined;
  return `${quote(written)} can never match: a host ending in a number is an IPv4 address, routed as four decimal numbers 0–255 (127.0.0.1)`;
}

/**
 * Compiles a configured domain once, at load: an exact host name, in the
 * form requests are routed by (Unicode to punycode, IPv4 and IPv6 in their
 * canonical WHATWG form), or a picomatch pattern matched label by label.
 * Returns a sentence on error.
 */
export function compileDomain(written: string): CompiledDomain | string {
  let text = written.trim();
  if (text === '') return 'a domain is empty';
  if (text.length > MAX_DOMAIN_TEXT) return `${quote(written)} is longer than ${MAX_DOMAIN_TEXT} characters`;
  if (text.startsWith('!')) return `${quote(written)} starts with "!": a domain is never negated (no host name has "!")`;
  if (text.startsWith('[')) {
    const host = normalizeHost(text);
    if (host === undefined || !text.endsWith(']')) return `${quote(written)} is not a bracketed IPv6 address (as a browser reads it)`;
    return { kind: 'exact', text: host };
  }
  if (text.endsWith('.') && !text.endsWith('..')) text = text.slice(0, -1);
  const labels = splitOutsideGroups(text, '.');
  if (labels.some((label) => label === '')) return `${quote(written)} has an empty label`;
  const unicodeProblem = toAscii(labels);
  if (unicodeProblem !== undefined) return unicodeProblem;
  for (let i = 0; i < labels.length; i++) labels[i] = labels[i]!.toLowerCase();
  text = labels.join('.');

  if (!labels.some((label) => GLOB_CHARS.test(label))) {
    // normalizeHost would drop a port: a domain has none.
    const host = text.includes(':') ? undefined : normalizeHost(text);
    if (host !== undefined) return { kind: 'exact', text: host };
    if (labels.every((label) => HOST_LABEL.test(label)) && text.length <= 253) {
      return `${quote(written)} is a host browsers reject (WHATWG URL), so no request can reach it`;
    }
    return `${quote(written)} is not a valid host name`;
  }

  const matchers: LabelMatcher[] = [];
  for (const label of labels) {
    const matcher = compileLabel(label);
    if (typeof matcher === 'string') return matcher;
    matchers.push(matcher);
  }
  const ipv4Problem = ipv4PatternProblem(written, labels, matchers);
  if (ipv4Problem !== undefined) return ipv4Problem;
  let split = matchers.length;
  while (split > 0 && matchers[split - 1]!.rank === Rank.Literal) split--;
  const literalChars = labels.reduce(
    (sum, label, i) => sum + (matchers[i]!.rank === Rank.Literal ? label.length : literalCharacters(label)),
    labels.length - 1,
  );
  return {
    kind: 'pattern',
    text,
    pattern: {
      text,
      suffix: labels.slice(split).join('.'),
      labels: matchers.slice(0, split),
      ranks: matchers.map((m) => m.rank).reverse(),
      literalChars,
      globstars: matchers.filter((m) => m.rank === Rank.Globstar).length,
    },
  };
}

/**
 * Precedence between two patterns (README: Routing › Precedence): right to left, the lower label
 * rank wins; a pattern that runs out of labels first loses; then more literal
 * characters win. Ties are left to file order by a stable sort.
 */
export function comparePatterns(a: Pattern, b: Pattern): number {
  const common = Math.min(a.ranks.length, b.ranks.length);
  for (let i = 0; i < common; i++) {
    const diff = a.ranks[i]! - b.ranks[i]!;
    if (diff !== 0) return diff;
  }
  if (a.ranks.length !== b.ranks.length) return b.ranks.length - a.ranks.length;
  return b.literalChars - a.literalChars;
}

/**
 * Matches the host labels left of the pattern's suffix, pushing each `*`
 * and `**` part onto `wildcards`, left to right; a `**` tries the fewest
 * labels first. With two or more `**`, positions already known to fail are
 * remembered, so a hostile host cannot make the backtracking exponential.
 */
export function matchPattern(pattern: Pattern, host: readonly string[], wildcards: string[]): boolean {
  // While matching, a `**` part is two numbers (its first and end label), joined only on success.
  const parts: (string | number)[] = [];
  if (!matchFrom(pattern.labels, 0, host, 0, parts, pattern.globstars > 1 ? new Set() : undefined)) return false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    wildcards.push(typeof part === 'string' ? part : host.slice(part, parts[++i] as number).join('.'));
  }
  return true;
}

function matchFrom(
  labels: readonly LabelMatcher[],
  li: number,
  host: readonly string[],
  hi: number,
  parts: (string | number)[],
  failed: Set<number> | undefined,
): boolean {
  if (li === labels.length) return hi === host.length;
  // A host has at most 127 labels (253 characters), so this key is unique.
  const state = li * 128 + hi;
  if (failed?.has(state)) return false;
  const matcher = labels[li]!;
  const mark = parts.length;
  if (matcher.rank === Rank.Globstar) {
    for (let end = hi; end <= host.length; end++) {
      parts.push(hi, end);
      if (matchFrom(labels, li + 1, host, end, parts, failed)) return true;
      parts.length = mark;
    }
  } else if (hi < host.length) {
    const label = host[hi]!;
    let matched = true;
    if (matcher.rank === Rank.Literal) {
      matched = label === matcher.text;
    } else if (matcher.rank === Rank.Star) {
      parts.push(label);
    } else {
      const found = matcher.regex!.exec(label);
      if (found === null) matched = false;
      else for (const group of matcher.starGroups!) parts.push(found[group] ?? '');
    }
    if (matched && matchFrom(labels, li + 1, host, hi + 1, parts, failed)) return true;
    parts.length = mark;
  }
  failed?.add(state);
  return false;
}
