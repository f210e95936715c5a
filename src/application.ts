import { resolve } from 'node:path';
import { byteOrder } from './config/discover.js';
import { readTree } from './config/tree.js';
import type { SiteFile } from './config/site-file.js';
import { ConfigError, SiteLoadError, type ConfigProblem } from './errors.js';
import { createConsoleLogger, type Logger } from './logger.js';
import { buildRoutingTable, type SiteRoutes } from './routing/build.js';
import { normalizeHost } from './routing/hostname.js';
import { requestHost, type AnyRequest } from './routing/request-host.js';
import { NO_WILDCARDS, type RoutingTable } from './routing/table.js';
import { sendStatus, type AnyResponse } from './respond.js';
import { SITE_INFO, type SiteInfo } from './site-of.js';
import { ModuleSite } from './sites/module-site.js';
import { ProxySite } from './sites/proxy-site.js';
import { RedirectSite } from './sites/redirect-site.js';
import type { Site } from './sites/site.js';

/**
 * Options of `createApplication`; each overrides the configuration files.
 * @public
 */
export interface ApplicationOptions {
  /** The site for hosts no site claims (overrides `default_site`). */
  readonly defaultSite?: string;
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
  readonly kind: 'module' | 'proxy' | 'redirect';
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
   * naming every site that failed; the others are loaded and serve
   */
  ready(): Promise<void>;
  /** Closes every loaded site (calls and awaits its `close()`). */
  close(): Promise<void>;
}

/** Per exact domain, a prebuilt `SiteInfo`, so that exact hits allocate nothing. */
interface Endpoint {
  readonly site: Site;
  readonly info: SiteInfo | undefined;
}

interface State {
  readonly table: RoutingTable<Endpoint>;
  readonly sites: readonly Site[];
  readonly defaultSite: Site | undefined;
  readonly trustProxy: boolean;
}

function optionError(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'HOSTMUX_INVALID_OPTION' });
}

function checkOptions(options: ApplicationOptions): void {
  if (typeof options !== 'object' || options === null) throw optionError('options must be an object');
  if (options.defaultSite !== undefined && typeof options.defaultSite !== 'string') {
    throw optionError('options.defaultSite must be a site name');
  }
  if (options.trustProxy !== undefined && typeof options.trustProxy !== 'boolean') {
    throw optionError('options.trustProxy must be true or false');
  }
  const logger = options.logger;
  if (logger !== undefined && (typeof logger?.error !== 'function' || typeof logger.child !== 'function')) {
    throw optionError('options.logger must be a pino-compatible logger');
  }
}

/** Problems sorted by file (the directory, hostmux.conf, then site files in byte order), stably. */
function inFileOrder(problems: ConfigProblem[]): ConfigProblem[] {
  const rank = (file: string) => (file === '.' ? 0 : file === 'hostmux.conf' ? 1 : 2);
  return problems.sort((a, b) => rank(a.file) - rank(b.file) || byteOrder(a.file, b.file));
}

function createSite(file: SiteFile, domains: readonly string[], configDir: string, logger: Logger, trustProxy: boolean): Site {
  let siteLogger: Logger | undefined;
  const log = () => (siteLogger ??= logger.child({ site: file.name }));
  if (file.kind === 'redirect') return new RedirectSite(file, domains);
  if (file.kind === 'proxy') return new ProxySite(file, domains, log, trustProxy);
  return new ModuleSite(file, domains, configDir, log);
}

/** Reads the tree and builds everything a request needs; throws ConfigError. */
function load(configDir: string, options: ApplicationOptions, logger: Logger): State {
  const problems: ConfigProblem[] = [];
  const tree = readTree(configDir, problems);
  const routes: SiteRoutes<Endpoint>[] = [];
  const sites: Site[] = [];
  for (const file of tree.sites) {
    const site = createSite(file, file.domains.map((d) => d.text), configDir, logger, options.trustProxy ?? tree.server.trustProxy ?? false);
    sites.push(site);
    routes.push({
      name: site.name,
      file: site.file,
      domains: file.domains,
      ownerFor: (exact) => ({
        site,
        info: exact === undefined ? undefined : Object.freeze({ name: site.name, hostname: exact, wildcards: NO_WILDCARDS }),
      }),
    });
  }
  const table = buildRoutingTable(routes, problems);
  const defaultName = tree.server.defaultSite;
  const fromFile = sites.find((site) => site.name === defaultName);
  if (defaultName !== undefined && fromFile === undefined) {
    problems.push({ file: 'hostmux.conf', section: 'server', key: 'default_site', message: `names no enabled site: "${defaultName}"` });
  }
  if (problems.length > 0) throw new ConfigError(inFileOrder(problems));
  let defaultSite = fromFile;
  if (options.defaultSite !== undefined) {
    defaultSite = sites.find((site) => site.name === options.defaultSite);
    if (defaultSite === undefined) throw optionError(`options.defaultSite names no enabled site: "${options.defaultSite}"`);
  }
  return { table, sites, defaultSite, trustProxy: options.trustProxy ?? tree.server.trustProxy ?? false };
}

/** Routes one request: 400 for a bad host, else its site, the default, `next()` or 404. */
function dispatch(state: State, req: AnyRequest, res: AnyResponse, next: ((err?: unknown) => void) | undefined): void {
  const host = requestHost(req, state.trustProxy);
  if (host === undefined) return sendStatus(res, 400);
  const hit = host === '' ? undefined : state.table.lookup(host);
  let site: Site;
  let info: SiteInfo;
  if (hit !== undefined) {
    site = hit.owner.site;
    info = hit.owner.info ?? { name: site.name, hostname: host, wildcards: hit.wildcards };
  } else if (state.defaultSite !== undefined) {
    site = state.defaultSite;
    info = { name: site.name, hostname: host, wildcards: NO_WILDCARDS };
  } else if (typeof next === 'function') {
    return next();
  } else {
    return sendStatus(res, 404);
  }
  (req as { [SITE_INFO]?: SiteInfo })[SITE_INFO] = info;
  site.handle(req, res);
}

/**
 * Reads a configuration tree and returns one request handler that routes
 * every request by its host name to the site that claims it.
 *
 * @param configDir - the configuration directory (`hostmux.conf`, `sites-enabled/`, …)
 * @param options - overrides for the configuration files
 * @returns the application: a `(req, res, next?)` handler with `match`,
 * `sites`, `ready` and `close`
 * @throws `ConfigError` (code `HOSTMUX_CONFIG`) listing every problem of the
 * tree; a `TypeError` (code `HOSTMUX_INVALID_OPTION`) for a bad option
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import { createApplication } from 'hostmux';
 *
 * const app = createApplication('/etc/hostmux');
 * http.createServer(app).listen(8080);
 * ```
 * @public
 */
export function createApplication(configDir: string, options: ApplicationOptions = {}): Application {
  if (typeof configDir !== 'string' || configDir === '') throw optionError('configDir must be a directory path');
  checkOptions(options);
  const logger = options.logger ?? createConsoleLogger();
  const state = load(resolve(configDir), options, logger);
  const descriptors: readonly SiteDescriptor[] = Object.freeze(
    state.sites.map((site) => Object.freeze({ name: site.name, kind: site.kind, domains: site.domains, file: site.file })),
  );

  // Three parameters: Express treats a four-parameter function as error middleware.
  const app = function hostmux(req: AnyRequest, res: AnyResponse, next?: (err?: unknown) => void): void {
    dispatch(state, req, res, next);
  };

  const match = (host: string): RouteMatch | null => {
    const normal = typeof host === 'string' ? normalizeHost(host) : undefined;
    if (normal === undefined) return null;
    const hit = state.table.lookup(normal);
    if (hit !== undefined) return { site: hit.owner.site.name, pattern: hit.pattern, wildcards: [...hit.wildcards] };
    if (state.defaultSite !== undefined) return { site: state.defaultSite.name, pattern: null, wildcards: [] };
    return null;
  };

  const ready = async (): Promise<void> => {
    const failures = await Promise.all(state.sites.map((site) => site.load()));
    const problems = state.sites.flatMap((site, i) => {
      const message = failures[i];
      return message === undefined ? [] : [{ site: site.name, file: site.file, message }];
    });
    if (problems.length > 0) throw new SiteLoadError(problems);
  };

  const close = async (): Promise<void> => {
    await Promise.all(state.sites.map((site) => site.close()));
  };

  return Object.defineProperties(app, {
    match: { value: match, enumerable: true },
    sites: { value: descriptors, enumerable: true },
    ready: { value: ready, enumerable: true },
    close: { value: close, enumerable: true },
  }) as Application;
}
