import type { SiteFile, SiteFileBase, SiteSection } from '../../config/site-file.js';
import { parseHttpTarget } from '../../config/values.js';
import { quote } from '../../errors.js';

export interface RedirectSiteFile extends SiteFile {
  readonly kind: 'redirect';
  /** The target, without a trailing slash: the request path is appended. */
  readonly location: string;
  readonly status: number;
}

const REDIRECT_STATUSES = new Set([301, 302, 307, 308]);

/** `redirect =`, `redirect_status`: a redirect site. */
export function readRedirectSite(section: SiteSection, base: SiteFileBase): RedirectSiteFile | undefined {
  const target = section.scalar('redirect');
  const location = target === undefined ? undefined : parseHttpTarget(target);
  if (target !== undefined && location === undefined) {
    section.problem('redirect', `${quote(target)} is not an http(s) URL without query or fragment`);
  }
  const statusText = section.scalar('redirect_status') ?? '308';
  const status = Number(statusText);
  if (!REDIRECT_STATUSES.has(status) || !/^\d+$/.test(statusText)) {
    section.problem('redirect_status', `${quote(statusText)} is not 301, 302, 307 or 308`);
  }
  return location === undefined ? undefined : { ...base, kind: 'redirect', location, status };
}
