import type { ConfigTree } from './config/tree.js';
import type { Logger } from './logger.js';
import type { RawSiteStats, ReloadRecord } from './metrics/stats.js';
import type { AnyRequest } from './routing/request-host.js';
import type { AnyResponse } from './respond.js';
import type { SiteState } from './sites/site.js';
import { INTERNAL } from './symbols.js';
import type { Certificates } from './tls/certificates.js';

/** What the Fastify plugin uses to take a request or leave it to Fastify. */
export interface ApplicationInternals {
  /**
   * Routes and serves the request when hostmux answers it (a site claims
   * the host, the default site, or a 400 for an invalid host); returns false,
   * touching nothing, when no site would. `forwardedHost` is a host the host
   * framework took from trusted forwarding headers; it is used when
   * `trust_proxy` is unset.
   */
  take(req: AnyRequest, res: AnyResponse, forwardedHost: string | undefined): boolean;
  /**
   * Whether `app.upgrade` would serve this upgrade (a site or the default
   * site claims its host) or answer it 400, rather than 404: hostmux's to
   * take, not another 'upgrade' listener's.
   */
  claimsUpgrade(req: AnyRequest): boolean;
  /**
   * The tree the latest read found (at start, or by the latest reload,
   * taken or refused): what the command watches and reports, without
   * reading the files again.
   */
  readonly tree: ConfigTree;
  /** The certificates of the configuration that serves now (a reload replaces them). */
  readonly tls: Certificates;
  /** hostmux's own logger (logging.ini's root, or options.logger), for the command's messages. */
  readonly logger: Logger;
  /** `trust_proxy` / `options.trustProxy`; undefined when neither is set. */
  readonly trustProxy: boolean | undefined;
  /** Upgraded connections `app.close()` cut off because they were still open after its grace. */
  readonly upgradesCut: number;
  /**
   * The name of the site whose code is running now — its handler, or a
   * timer, promise or callback it started; undefined in hostmux's own
   * code. Works inside `uncaughtException` / `unhandledRejection` listeners.
   */
  siteInContext(): string | undefined;
  /**
   * The sites a crash is to be blamed on: the one whose context it was
   * raised in (`attribution = context`), else those whose code its stack
   * runs through (several when they run the same code); [] for none.
   */
  blame(error: unknown): string[];
  /** A site's own logger (`site.<name>`, with `site` bound). */
  siteLogger(name: string): Logger;
  /**
   * Quarantines a site for `seconds`: every request gets 503 with
   * `Retry-After`, every upgrade a 503. A reload keeps it.
   */
  quarantine(name: string, seconds: number): void;
  /** Ends the quarantine of one site, or of every site. */
  lift(name?: string): void;
  /** Seconds left of a site's quarantine; undefined when it is not quarantined. */
  quarantined(name: string): number | undefined;
  /** Each site's load state, in file order. */
  siteStates(): { name: string; state: SiteState }[];
  /** Reopens the log files (logrotate), as a reload does. */
  reopenLogs(): void;
  /** This process's raw counts, for the admin listener to add up across workers. */
  rawStats(): RawStats;
  /** Loads the named sites (those that are not loaded yet); resolves with each that failed and why. */
  loadSites(names: readonly string[]): Promise<{ site: string; message: string }[]>;
}

/** One process's statistics before merging: `started` is Date.now() at creation. */
export interface RawStats {
  readonly started: number;
  readonly generation: number;
  readonly reload: ReloadRecord | null;
  /** Reloads taken and refused since start. */
  readonly reloads: { readonly ok: number; readonly refused: number };
  readonly sites: readonly RawSiteStats[];
}

/** The internals of an application made by this copy of hostmux; undefined for anything else. */
export function internalsOf(app: unknown): ApplicationInternals | undefined {
  return typeof app === 'function' ? (app as { [INTERNAL]?: ApplicationInternals })[INTERNAL] : undefined;
}
