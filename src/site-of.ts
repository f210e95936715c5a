import { SITE_INFO } from './symbols.js';

/**
 * What hostmux tells a site about the request it dispatched.
 * @public
 */
export interface SiteInfo {
  /** The site's name. */
  readonly name: string;
  /** The normalised host the request was routed by; `''` when it had none. */
  readonly hostname: string;
  /** What each `*` and `**` of the matched pattern matched, left to right. */
  readonly wildcards: readonly string[];
}


/**
 * The site that hostmux dispatched a request to.
 *
 * @param request - a Node request, or the `Request` a fetch-style site receives
 * @returns the site's name, the routed host name and the pattern's wildcard
 * parts; `undefined` for a request hostmux did not dispatch
 *
 * @example
 * ```ts
 * import { siteOf } from 'hostmux';
 * export default (req, res) => res.end(`hello from ${siteOf(req)?.wildcards[0]}`);
 * ```
 * @public
 */
export function siteOf(request: object): SiteInfo | undefined {
  return (request as { [SITE_INFO]?: SiteInfo })[SITE_INFO];
}
