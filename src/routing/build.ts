import { checkpoint, type Steps } from '../config/steps.js';
import { quote, type ConfigProblem } from '../errors.js';
import type { CompiledDomain } from './pattern.js';
import { RoutingTable } from './table.js';

/** One site's compiled domains, and what its routes store. */
export interface SiteRoutes<T> {
  readonly name: string;
  readonly file: string;
  readonly domains: readonly CompiledDomain[];
  /** What a route stores: called once per exact domain, and once with `undefined` for all patterns. */
  ownerFor(exactDomain: string | undefined): T;
}

/**
 * Puts every site's domains, in file order, into one sealed table. A domain
 * or pattern claimed twice (after normalisation) is a problem. Steps, so
 * that a reload lets requests in between sites.
 */
export function* buildRoutingTable<T>(sites: readonly SiteRoutes<T>[], problems: ConfigProblem[]): Steps<RoutingTable<T>> {
  const table = new RoutingTable<T>();
  const claimedBy = new Map<string, SiteRoutes<T>>();
  for (const site of sites) {
    yield* checkpoint();
    let patternOwner: T | undefined;
    for (const domain of site.domains) {
      const other = claimedBy.get(domain.text);
      if (other !== undefined) {
        problems.push({
          file: site.file,
          section: 'site',
          key: 'domains',
          message: other === site
            ? `${quote(domain.text)} is listed twice`
            : `${quote(domain.text)} is already claimed by site ${other.name} (${other.file})`,
        });
        continue;
      }
      claimedBy.set(domain.text, site);
      if (domain.kind === 'exact') table.addExact(domain.text, site.ownerFor(domain.text));
      else table.addPattern(domain.pattern, (patternOwner ??= site.ownerFor(undefined)));
    }
  }
  return table.seal();
}
