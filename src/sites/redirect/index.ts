import type { SiteKindDescriptor } from '../kind.js';
import { RedirectSite } from './redirect-site.js';
import { readRedirectSite, type RedirectSiteFile } from './settings.js';

const NOTHING: readonly string[] = Object.freeze([]);

/** `redirect = https://example.com`: every request answered with a redirect there. */
export const redirectKind: SiteKindDescriptor<RedirectSiteFile> = {
  kind: 'redirect',
  key: 'redirect',
  keys: ['redirect_status'],
  read: readRedirectSite,
  create: (file, domains) => new RedirectSite(file, domains),
  keeps: () => true,
  watched: () => NOTHING,
};
