import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';
import type { AnyRequest } from '../routing/request-host.js';
import type { AnyResponse } from '../respond.js';
import type { SiteKind } from '../sites/index.js';
import type { ApplicationStats } from '../metrics/stats.js';

/**
 * Options of `createApplication`; each overrides the configuration files.
 * @public
 */
export interface ApplicationOptions {
  /**
   * The site for hosts no site claims (overrides `default_site`); `null`
   * switches `default_site` off, so that such hosts fall through to the
   * host framework (`next()`, Fastify's routes) or get `404`.
   */
  readonly defaultSite?: string | null;
  /** Route by `X-Forwarded-Host` / `Forwarded: host=` (overrides `trust_proxy`). */
  readonly trustProxy?: boolean;
  /** A pino-compatible logger to log to, such as `fastify.log`. */
  readonly logger?: Logger;
}

/**
 * What `app.match(host)` found.
 * @public
 */
export interface RouteMatch {
  /** The name of the site that would answer. */
  readonly site: string;
  /** The domain or pattern that matched; `null` for the default site. */
  readonly pattern: string | null;
  /** What each `*` and `**` of the pattern matched, left to right. */
  readonly wildcards: readonly string[];
}

/**
 * A configured site, as `app.sites` lists it.
 * @public
 */
export interface SiteDescriptor {
  /** The site's name (`name =`, else the file name without `.ini`). */
  readonly name: string;
  /** `'module'` for `handler =`, `'proxy'` for `proxy =`, `'redirect'` for `redirect =`. */
  readonly kind: SiteKind;
  /** Normalised domains and patterns, as configured. */
  readonly domains: readonly string[];
  /** The site file, relative to the config dir. */
  readonly file: string;
}

/**
 * The request handler `createApplication` returns: call it as
 * `app(req, res)`, or with a third `next` argument under Express or Connect,
 * where a host no site claims calls `next()`.
 * @public
 */
export interface Application {
  /**
   * Routes a request by its host and hands it to that site.
   * @param req - the Node request (HTTP/1 or the HTTP/2 compatibility API)
   * @param res - its response
   * @param next - called for a host no site claims, when given
   */
  (req: AnyRequest, res: AnyResponse, next?: (err?: unknown) => void): void;
  /**
   * Pure routing, no I/O: what would answer a request with this Host header.
   * @param host - a Host header value (a port is allowed and ignored)
   * @returns the site, the pattern and its wildcard parts; `null` for an
   * invalid host, or when nothing would answer
   */
  match(host: string): RouteMatch | null;
  /** The configured sites, in file order. */
  readonly sites: readonly SiteDescriptor[];
  /**
   * Loads every site module now instead of on its first request.
   * @throws `SiteLoadError` (code `HOSTMUX_SITE_LOAD`), as a rejection,
   * naming every site that failed or did not load within its
   * `load_timeout`; the others are loaded and serve
   */
  ready(): Promise<void>;
  /**
   * Re-reads the tree and swaps to it atomically: each request is routed
   * wholly by the old configuration or wholly by the new. Sites whose site
   * file and handler file are unchanged keep their loaded instance; changed
   * sites get a fresh one; removed and replaced sites are closed once their
   * in-flight requests have finished. Reloads run one at a time.
   * @returns the names of the sites added, removed, reloaded and kept
   * @throws `ConfigError`, as a rejection, when the new tree has any
   * problem; the old configuration then keeps serving. `ClosedError`
   * (code `HOSTMUX_CLOSED`), as a rejection, after `close()`
   */
  reload(): Promise<ReloadResult>;
  /**
   * A snapshot of this process's statistics: for each site its requests by
   * status class, in flight, latency percentiles over the last 30 to 60
   * seconds, body bytes sent, load state and last error; for the
   * application its uptime, configuration generation and the latest
   * reload's outcome. Counts are kept by site name across reloads. Under
   * `hostmux serve` each worker counts its own: the admin listener's
   * `/status` adds them up.
   * @returns the snapshot, a plain object (JSON-serialisable)
   */
  stats(): ApplicationStats;
  /**
   * Routes an HTTP upgrade (WebSocket) by host: to the module's `upgrade`
   * export, or through a proxy site to its upstream. Anything else gets a
   * complete HTTP error response and the socket is closed. Wire it as
   * `server.on('upgrade', app.upgrade)`: it is a bound function (a
   * property, not a method), so passing it detached keeps working.
   */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /**
   * Closes every loaded site (calls and awaits its `close()`), ends the
   * upgraded connections (WebSockets) the sites left open — after the
   * sites' `close()` and at most 5 seconds — then closes the log files.
   * Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/**
 * What `app.reload()` changed, as site names.
 * @public
 */
export interface ReloadResult {
  /** Sites that are new. */
  readonly added: readonly string[];
  /** Sites that are gone; each was closed after its in-flight requests. */
  readonly removed: readonly string[];
  /** Sites whose site file, handler file or logging changed: a fresh instance. */
  readonly reloaded: readonly string[];
  /** Sites left as they were, with their loaded module and its state. */
  readonly kept: readonly string[];
}
