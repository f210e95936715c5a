import type { SiteFile, SiteKindReader } from '../config/site-file.js';
import type { LoggerFactory, Site } from './site.js';

/** What a kind of site is made with, besides its site file. */
export interface SiteEnvironment {
  /** The configuration directory. */
  readonly configDir: string;
  /** The configuration's loggers: a site logs to `site.<name>`. */
  readonly loggers: LoggerFactory;
  /** `trust_proxy`; false when unset (the host framework then decides per request). */
  readonly trustProxy: boolean;
  /** True when a reload makes the site: a module is imported afresh, not from `import()`'s cache. */
  readonly fresh: boolean;
  /** `attribution = context`: the site's code runs in its AsyncLocalStorage context. */
  readonly context: boolean;
}

/** What changed across a reload besides the site file, for `keeps`. */
export interface ReloadChange {
  /** `trust_proxy` (or `options.trustProxy`) is not what it was. */
  readonly trustProxyChanged: boolean;
}

/**
 * One kind of site, as a strategy: a folder under src/sites/ exports one,
 * and src/sites/index.ts lists them. Nothing outside src/sites/ names a kind.
 */
export interface SiteKindDescriptor<F extends SiteFile = SiteFile> extends SiteKindReader {
  /** Its name, as `app.sites` shows it. */
  readonly kind: F['kind'];
  /** Its keys of `[site]` (`key`, `keys`) and how they become its options. */
  read: SiteKindReader['read'];
  /** Makes the site from its file and normalised domains. */
  create(file: F, domains: readonly string[], env: SiteEnvironment): Site;
  /**
   * Whether a reload may keep `site` (made from this kind) for `file`, once
   * the site file is known to be the same file with the same text.
   */
  keeps(site: Site, file: F, change: ReloadChange): boolean | Promise<boolean>;
  /** Files besides the site file whose change `--watch` reloads for (a handler module). */
  watched(file: F): readonly string[];
}
