import { comparePatterns, matchPattern, Rank, type Pattern } from './pattern.js';

/** What a lookup found: the route, and the pattern's wildcard parts. */
export interface RouteHit<T> {
  readonly owner: T;
  /** The domain or pattern that matched, as normalised. */
  readonly pattern: string;
  readonly wildcards: readonly string[];
}

interface PatternRoute<T> {
  readonly owner: T;
  readonly pattern: Pattern;
  /**
   * `Rank.Star` for `*.suffix`, `Rank.Globstar` for `**.suffix` (most
   * patterns): matched on the host string itself, without splitting it into
   * labels. Otherwise undefined: the general label matcher.
   */
  readonly single: Rank | undefined;
}

/** The wildcards of every exact hit: one frozen empty list. */
export const NO_WILDCARDS: readonly string[] = Object.freeze([]);

const NO_LABELS: readonly string[] = NO_WILDCARDS;

/**
 * Host → owner. Exact domains are one `Map` lookup, with the hit built at
 * load so that the common case allocates nothing. Patterns are indexed by
 * their literal suffix: a lookup walks the host's suffixes longest first
 * (one `Map` lookup each), and a longer literal suffix always has
 * precedence, so the cost depends on the host's depth, not on the number of
 * sites. Each suffix's patterns are sorted by precedence once, at load.
 */
export class RoutingTable<T> {
  readonly #exact = new Map<string, RouteHit<T>>();
  readonly #bySuffix = new Map<string, PatternRoute<T>[]>();
  /**
   * Which suffix lengths some pattern has: a suffix of any other length is
   * not sliced out of the host and looked up at all. A host name has at most
   * 253 characters.
   */
  readonly #suffixLengths = new Uint8Array(254);

  /** Adds an exact domain (the caller keeps domains unique). */
  addExact(host: string, owner: T): void {
    this.#exact.set(host, Object.freeze({ owner, pattern: host, wildcards: NO_WILDCARDS }));
  }

  /** Adds a pattern, in file order (the caller keeps patterns unique). */
  addPattern(pattern: Pattern, owner: T): void {
    let list = this.#bySuffix.get(pattern.suffix);
    if (list === undefined) this.#bySuffix.set(pattern.suffix, (list = []));
    this.#suffixLengths[pattern.suffix.length] = 1;
    const only = pattern.labels.length === 1 ? pattern.labels[0]!.rank : undefined;
    list.push({ owner, pattern, single: only === Rank.Star || only === Rank.Globstar ? only : undefined });
  }

  /** Sorts each suffix's patterns by precedence; call once, after the last add. */
  seal(): this {
    // Array.prototype.sort is stable, so equal patterns stay in file order.
    for (const list of this.#bySuffix.values()) if (list.length > 1) list.sort((a, b) => comparePatterns(a.pattern, b.pattern));
    return this;
  }

  /** The route for a normalised, non-empty host, or undefined. */
  lookup(host: string): RouteHit<T> | undefined {
    return this.#exact.get(host) ?? (this.#bySuffix.size === 0 ? undefined : this.#lookupPattern(host));
  }

  #lookupPattern(host: string): RouteHit<T> | undefined {
    // Suffixes longest first: the whole host (for a `**` that matches no
    // label), then after each dot, then '' for patterns ending in a glob.
    // Left of a suffix is the prefix `host.slice(0, prefixEnd)`.
    let start = 0;
    for (;;) {
      const list = this.#suffixLengths[host.length - start] === 0
        ? undefined
        : this.#bySuffix.get(start === 0 ? host : host.slice(start));
      if (list !== undefined) {
        const hit = matchList(list, host, start === 0 ? 0 : start - 1);
        if (hit !== undefined) return hit;
      }
      const dot = host.indexOf('.', start);
      if (dot === -1) break;
      start = dot + 1;
    }
    const rest = this.#bySuffix.get('');
    return rest === undefined ? undefined : matchList(rest, host, host.length);
  }
}

/**
 * The first route of `list` (in precedence order) whose labels match the
 * host's prefix `host.slice(0, prefixEnd)`; `prefixEnd` 0 is no label at
 * all. `*` and `**` alone are matched on the string: the request path then
 * allocates only the hit and its wildcard.
 */
function matchList<T>(list: readonly PatternRoute<T>[], host: string, prefixEnd: number): RouteHit<T> | undefined {
  let labels: readonly string[] | undefined;
  for (const route of list) {
    if (route.single === Rank.Star) {
      // Exactly one label: a prefix without a dot.
      if (prefixEnd !== 0 && host.lastIndexOf('.', prefixEnd - 1) === -1) return hit(route, [host.slice(0, prefixEnd)]);
    } else if (route.single === Rank.Globstar) {
      // Any number of labels, none included: what they span, '' for none.
      return hit(route, [prefixEnd === 0 ? '' : host.slice(0, prefixEnd)]);
    } else {
      labels ??= prefixEnd === 0 ? NO_LABELS : host.slice(0, prefixEnd).split('.');
      const wildcards: string[] = [];
      if (matchPattern(route.pattern, labels, wildcards)) return hit(route, wildcards);
    }
  }
  return undefined;
}

function hit<T>(route: PatternRoute<T>, wildcards: readonly string[]): RouteHit<T> {
  return { owner: route.owner, pattern: route.pattern.text, wildcards };
}
