import type { SiteLimits } from '../config/limits.js';
import type { MetricsRegistry, SiteMetrics } from '../metrics/site-metrics.js';
import type { Logging } from '../logging/index.js';
import type { RoutingTable } from '../routing/table.js';
import type { SiteInfo } from '../site-of.js';
import type { LoggerFactory, Site } from '../sites/site.js';
import type { Certificates } from '../tls/certificates.js';
import type { SiteDescriptor } from './types.js';

/** What is checked before a site gets a request (application/guard.ts); on its entry while a limit or a quarantine applies. */
export interface Guard {
  readonly limits: SiteLimits;
  /** Date.now() until which the site is quarantined; 0 when it is not. */
  readonly quarantinedUntil: number;
}

/**
 * A site of a running configuration. A reload that keeps the site keeps
 * its entry, in-flight count included.
 */
export interface Entry {
  readonly site: Site;
  /** A digest of the site file's text, which a reload compares. */
  readonly sourceDigest: string;
  /** Requests handed to the site whose response has not closed. */
  inFlight: number;
  /** Set while a retired site waits for its last request. */
  drained: (() => void) | undefined;
  /** The loggers the site was made with, where its responses' errors go. */
  readonly loggers: LoggerFactory;
  /** Upgraded connections handed to the site and still open. */
  upgrades: number;
  /** Its limits and quarantine; undefined when neither applies. */
  guard: Guard | undefined;
  /** Its counts: kept by site name, so a reload that makes a new entry keeps them. */
  readonly metrics: SiteMetrics;
}

/**
 * What a route leads to. An exact domain's `SiteInfo` is made on its first
 * request and reused, so that exact hits allocate nothing and 10,000 sites
 * that are never asked cost nothing.
 */
export interface Endpoint {
  readonly entry: Entry;
  /** The exact domain; undefined for a site's patterns. */
  readonly exact: string | undefined;
  info: SiteInfo | undefined;
}

/** One configuration: what a request is routed by. A reload replaces it whole. */
export interface State {
  readonly table: RoutingTable<Endpoint>;
  readonly entries: readonly Entry[];
  readonly defaultEntry: Entry | undefined;
  /** undefined: `trust_proxy` is unset and the host framework decides. */
  readonly trustProxy: boolean | undefined;
  readonly logging: Logging;
  /** Each entry's limits, by index; applied to the entries when this configuration is taken. */
  readonly limits: readonly SiteLimits[];
  /** `block_warning`, in milliseconds; 0 is off. */
  readonly blockWarning: number;
  /** `attribution = context`: calls into sites run in their AsyncLocalStorage context. */
  readonly context: boolean;
  /** `metrics = on`: requests are counted. */
  readonly counting: boolean;
  /** Every site's counts, by name: one registry for the application's life. */
  readonly metrics: MetricsRegistry;
  /** `app.sites`, made when first read. */
  descriptors: readonly SiteDescriptor[] | undefined;
  /** The certificates of this configuration, and the SNI choice. */
  readonly tls: Certificates;
}
