import { comparePatterns, matchPattern, type Pattern } from './pattern.js';

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
}

/** The wildcards of every exact hit: one frozen empty list. */
export const NO_WILDCARDS: readonly string[] = Object.freeze([]);

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

  /** Adds an exact domain (the caller keeps domains unique). */
  addExact(host: string, owner: T): void {
    this.#exact.set(host, Object.freeze({ owner, pattern: host, wildcards: NO_WILDCARDS }));
  }

  /** Adds a pattern, in file order (the caller keeps patterns unique). */
  addPattern(pattern: Pattern, owner: T): void {
    let list = this.#bySuffix.get(pattern.suffix);
    if (list === undefined) this.#bySuffix.set(pattern.suffix, (list = []));
    list.push({ owner, pattern });
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
    let start = 0;
    for (;;) {
      const list = this.#bySuffix.get(start === 0 ? host : host.slice(start));
      if (list !== undefined) {
        const hit = matchList(list, start === 0 ? [] : host.slice(0, start - 1).split('.'));
        if (hit !== undefined) return hit;
      }
      const dot = host.indexOf('.', start);
      if (dot === -1) break;
      start = dot + 1;
    }
    const rest = this.#bySuffix.get('');
    return rest === undefined ? undefined : matchList(rest, host.split('.'));
  }
}

function matchList<T>(list: readonly PatternRoute<T>[], labels: readonly string[]): RouteHit<T> | undefined {
  for (const route of list) {
    const wildcards: string[] = [];
    if (matchPattern(route.pattern, labels, wildcards)) {
      return { owner: route.owner, pattern: route.pattern.text, wildcards };
    }
  }
  return undefined;
}
