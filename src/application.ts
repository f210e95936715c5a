import type { IncomingMessage } from 'node:http';
import { once } from 'node:events';
import { resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { byteOrder } from './config/discover.js';
import { checkpoint, runAsync, runSync, type Steps } from './config/steps.js';
import { readTreeSteps, type ConfigTree, type TreeSite } from './config/tree.js';
import { describeError, loggableError } from './describe-error.js';
import { ClosedError, ConfigError, InvalidOptionError, SiteLoadError, type ConfigProblem } from './errors.js';
import { FRAMEWORK_TRUSTED, INTERNAL, type ApplicationInternals } from './internal.js';
import type { Logger } from './logger.js';
import { readLoggingConfigSteps } from './logging/config.js';
import { openLogging, type Logging } from './logging/index.js';
import { mapLimited } from './map-limited.js';
import { unknownOptionMessage } from './nearest-name.js';
import { buildRoutingTable, type SiteRoutes } from './routing/build.js';
import { normalizeHost } from './routing/hostname.js';
import { requestHost, type AnyRequest } from './routing/request-host.js';
import { NO_WILDCARDS, type RouteHit, type RoutingTable } from './routing/table.js';
import { destroyOnError, destroySiteSocket, isClosed, rejectUpgrade, sendStatus, type AnyResponse } from './respond.js';
import { SITE_INFO, type SiteInfo } from './site-of.js';
import { ModuleSite } from './sites/module-site.js';
import { ProxySite } from './sites/proxy-site.js';
import { RedirectSite } from './sites/redirect-site.js';
import { siteLogger, type LoggerFactory, type Site } from './sites/site.js';
import { within } from './within.js';

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

/**
 * A site of a running configuration. A reload that keeps the site keeps
 * its entry, in-flight count included.
 */
interface Entry {
  readonly site: Site;
  /** A digest of the site file's text, which a reload compares. */
  readonly sourceDigest: string;
  /** Requests handed to the site whose response has not closed. */
  inFlight: number;
  /** Set while a retired site waits for its last request. */
  drained: (() => void) | undefined;
  /** The loggers the site was made with, where its responses' errors go. */
  readonly loggers: LoggerFactory;
}

/**
 * What a route leads to. An exact domain's `SiteInfo` is made on its first
 * request and reused, so that exact hits allocate nothing and 10,000 sites
 * that are never asked cost nothing.
 */
interface Endpoint {
  readonly entry: Entry;
  /** The exact domain; undefined for a site's patterns. */
  readonly exact: string | undefined;
  info: SiteInfo | undefined;
}

/** One configuration: what a request is routed by. A reload replaces it whole. */
interface State {
  readonly table: RoutingTable<Endpoint>;
  readonly entries: readonly Entry[];
  readonly defaultEntry: Entry | undefined;
  /** undefined: `trust_proxy` is unset and the host framework decides. */
  readonly trustProxy: boolean | undefined;
  readonly logging: Logging;
  /** `app.sites`, made when first read. */
  descriptors: readonly SiteDescriptor[] | undefined;
}

function optionError(message: string): InvalidOptionError {
  return new InvalidOptionError(message);
}

/** The options `createApplication` knows; any other key is a mistake (`trustproxy`). */
const OPTION_NAMES: readonly (keyof ApplicationOptions)[] = ['defaultSite', 'trustProxy', 'logger'];

function checkOptions(options: ApplicationOptions): void {
  if (typeof options !== 'object' || options === null) throw optionError('options must be an object');
  for (const key of Object.keys(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(key)) throw optionError(unknownOptionMessage(key, OPTION_NAMES));
  }
  const defaultSite = options.defaultSite;
  if (defaultSite !== undefined && defaultSite !== null && typeof defaultSite !== 'string') {
    throw optionError('options.defaultSite must be a site name, or null for none');
  }
  if (options.trustProxy !== undefined && typeof options.trustProxy !== 'boolean') {
    throw optionError('options.trustProxy must be true or false');
  }
  const logger = options.logger;
  if (logger !== undefined && (typeof logger?.error !== 'function' || typeof logger.child !== 'function')) {
    throw optionError('options.logger must be a pino-compatible logger');
  }
}

/** Problems sorted by file (the directory, hostmux.conf, then other files in byte order), stably. */
function inFileOrder(problems: ConfigProblem[]): ConfigProblem[] {
  const rank = (file: string) => (file === '.' ? 0 : file === 'hostmux.conf' ? 1 : 2);
  return problems.sort((a, b) => rank(a.file) - rank(b.file) || byteOrder(a.file, b.file));
}

function createSite(file: TreeSite, configDir: string, logging: Logging, trustProxy: boolean, fresh: boolean): Site {
  const domains = file.domains.map((d) => d.text);
  if (file.kind === 'redirect') return new RedirectSite(file, domains);
  if (file.kind === 'proxy') return new ProxySite(file, domains, logging, trustProxy);
  return new ModuleSite(file, domains, configDir, logging, fresh);
}

/** Whether a reload may keep `entry` for the site read from `file`: same file, same text, same handler. */
async function keeps(entry: Entry | undefined, file: TreeSite, trustChanged: boolean): Promise<boolean> {
  if (entry === undefined || entry.site.file !== file.file || entry.sourceDigest !== file.sourceDigest) return false;
  // A proxy site holds trust_proxy (which forwarding headers it keeps).
  if (entry.site instanceof ProxySite) return !trustChanged;
  return !(entry.site instanceof ModuleSite) || (await entry.site.handlerUnchanged());
}

/** How many site modules or handler files are read at once. */
const FILE_CONCURRENCY = 64;

/**
 * Builds a configuration from a tree; `reuse` gives the entry a reload
 * keeps for a site. Throws ConfigError with every problem of the tree.
 * Steps, so that a reload lets requests in between sites.
 */
function* build(
  configDir: string,
  tree: ConfigTree,
  logging: Logging,
  options: ApplicationOptions,
  problems: ConfigProblem[],
  reuse: (file: TreeSite) => Entry | undefined,
  fresh: boolean,
): Steps<State> {
  const trustProxy = trustOf(options, tree);
  const routes: SiteRoutes<Endpoint>[] = [];
  const entries: Entry[] = [];
  for (const file of tree.sites) {
    yield* checkpoint();
    const entry = reuse(file) ?? {
      site: createSite(file, configDir, logging, trustProxy ?? false, fresh),
      sourceDigest: file.sourceDigest,
      inFlight: 0,
      drained: undefined,
      loggers: logging,
    };
    entries.push(entry);
    routes.push({
      name: file.name,
      file: file.file,
      domains: file.domains,
      ownerFor: (exact) => ({ entry, exact, info: undefined }),
    });
  }
  const table = yield* buildRoutingTable(routes, problems);
  const defaultName = tree.server.defaultSite;
  const fromFile = entries.find((entry) => entry.site.name === defaultName);
  if (defaultName !== undefined && fromFile === undefined) {
    problems.push({ file: 'hostmux.conf', section: 'server', key: 'default_site', message: `names no enabled site: "${defaultName}"` });
  }
  if (problems.length > 0) throw new ConfigError(inFileOrder(problems));
  let defaultEntry = options.defaultSite === null ? undefined : fromFile;
  if (typeof options.defaultSite === 'string') {
    defaultEntry = entries.find((entry) => entry.site.name === options.defaultSite);
    if (defaultEntry === undefined) throw optionError(`options.defaultSite names no enabled site: "${options.defaultSite}"`);
  }
  return { table, entries, defaultEntry, trustProxy, logging, descriptors: undefined };
}

function describe(entries: readonly Entry[]): readonly SiteDescriptor[] {
  return Object.freeze(
    entries.map(({ site }) => Object.freeze({ name: site.name, kind: site.kind, domains: site.domains, file: site.file })),
  );
}

/** `trust_proxy` as the option or hostmux.conf sets it; undefined leaves it to the host framework. */
function trustOf(options: ApplicationOptions, tree: ConfigTree): boolean | undefined {
  return options.trustProxy ?? tree.server.trustProxy;
}

/** Reads the tree and its logging configuration; problems go onto `problems`. */
function* read(configDir: string, options: ApplicationOptions, problems: ConfigProblem[]): Steps<{ tree: ConfigTree; logging: Logging }> {
  const tree = yield* readTreeSteps(configDir, problems);
  const file = tree.server.logging;
  const config = file === undefined ? undefined : yield* readLoggingConfigSteps(configDir, file, problems);
  const logging = openLogging(file, config, options.logger, problems);
  return { tree, logging };
}

/**
 * What `siteOf()` tells the site: an exact domain's record is made once, on
 * its first request; a pattern hit or the default site needs one per request.
 */
function siteInfo(entry: Entry, host: string, hit: RouteHit<Endpoint> | undefined): SiteInfo {
  const owner = hit?.owner;
  if (owner?.exact !== undefined) {
    return (owner.info ??= Object.freeze({ name: entry.site.name, hostname: owner.exact, wildcards: NO_WILDCARDS }));
  }
  return { name: entry.site.name, hostname: host, wildcards: hit?.wildcards ?? NO_WILDCARDS };
}

const TRACKED = Symbol('hostmux.entry');
const RELEASED = Symbol('hostmux.released');
const QUEUED = Symbol('hostmux.queuedResponse');
type Tracked = AnyResponse & { [TRACKED]?: Entry; [RELEASED]?: true };

/** Shared by every response (no closure per request): one request of the entry is over. */
function release(this: Tracked): void {
  if (this[RELEASED] === true) return;
  this[RELEASED] = true;
  const entry = this[TRACKED]!;
  if (--entry.inFlight === 0 && entry.drained !== undefined) entry.drained();
}

/**
 * For a pipelined request whose response waits behind another on its
 * connection: if the connection goes away first, Node never emits 'close'
 * on that response, so the request is over when the request itself closes.
 * The response is then destroyed and gets its 'close' here, as a response
 * whose client left does: the site (a proxy's upstream request, a fetch
 * handler's body stream, a handler watching 'close') learns it too, rather
 * than writing into it for ever.
 */
function releaseQueued(this: AnyRequest & { [QUEUED]?: Tracked }): void {
  const res = this[QUEUED]!;
  if ((res as { socket?: unknown }).socket != null || !this.socket.destroyed || res[RELEASED] === true) return;
  res.destroy();
  // 'close' runs release (and the site's own listeners) once.
  res.emit('close');
}

/**
 * Shared by every response (no closure per request): an 'error' a site's
 * response emits — a `write()` or `end(data)` after `end()` — is that site's
 * error, logged on its logger; without a listener it would end the process.
 */
function responseFailed(this: Tracked, err: unknown): void {
  siteStreamFailed(this[TRACKED]!, 'response', err);
}

/**
 * Shared by every HTTP/2 request: an 'error' its request emits is the
 * site's. Node's HTTP/2 request, unlike HTTP/1's, emits an error from its
 * own reading even with no listener (an Express app, which swaps the
 * request's prototype for HTTP/1's, makes it do so at once): that would end
 * the process. HTTP/1 requests need no listener, and would report every
 * client that leaves through one.
 */
function requestFailed(this: AnyRequest & { [TRACKED]?: Entry }, err: unknown): void {
  siteStreamFailed(this[TRACKED]!, 'request', err);
}

function siteStreamFailed({ site, loggers }: Entry, stream: 'request' | 'response', err: unknown): void {
  siteLogger(loggers, site.name).error({ err: loggableError(err) }, `site ${site.name}: error on its ${stream}: ${describeError(err)}`);
}

/** Resolves once the entry has no request in flight; for a site a reload retired. */
function drain(entry: Entry): Promise<void> {
  if (entry.inFlight === 0) return Promise.resolve();
  return new Promise((resolve) => {
    entry.drained = resolve;
  });
}

/**
 * Under Express, when `trust_proxy` is unset: Express's `trust proxy`
 * setting decides whether the connecting address may forward a host.
 */
function frameworkTrusts(req: AnyRequest): boolean {
  const express = (req as { app?: { get?: (name: string) => unknown } }).app;
  if (typeof express?.get !== 'function') return false;
  const trust = express.get('trust proxy fn');
  return typeof trust === 'function' && (trust as (address: string | undefined, hop: number) => unknown)(req.socket?.remoteAddress, 0) === true;
}

/**
 * The host a request is routed by. With `trust_proxy` unset, the host
 * framework decides whether forwarding headers count (a `forwarded` host it
 * chose, or Express's `trust proxy`), and a trusted request is marked so
 * that a proxy site keeps what it received.
 */
function routedHost(state: State, req: AnyRequest, forwarded: string | undefined): string | undefined {
  if (state.trustProxy !== undefined) return requestHost(req, state.trustProxy);
  const trust = forwarded !== undefined || frameworkTrusts(req);
  if (trust) (req as { [FRAMEWORK_TRUSTED]?: boolean })[FRAMEWORK_TRUSTED] = true;
  return requestHost(req, trust, forwarded);
}

/**
 * Routes one request: 400 for a bad host, else its site, the default site,
 * or — when nothing claims the host — `next()` / 404 (`take` returns false
 * instead of either, for the Fastify plugin).
 */
function dispatch(
  state: State,
  req: AnyRequest,
  res: AnyResponse,
  next: ((err?: unknown) => void) | undefined,
  forwarded: string | undefined,
  fallThrough: boolean,
): boolean {
  const host = routedHost(state, req, forwarded);
  const access = state.logging.access;
  if (host === undefined) {
    access?.begin(req, res, undefined);
    sendStatus(res, 400);
    return true;
  }
  // The client left while middleware before hostmux ran: nobody to answer,
  // and its 'close' has fired already, so it could not be counted.
  if (isClosed(res)) return true;
  const hit = host === '' ? undefined : state.table.lookup(host);
  const entry = hit?.owner.entry ?? state.defaultEntry;
  if (entry === undefined) {
    if (fallThrough) return false;
    if (typeof next === 'function') {
      next();
    } else {
      access?.begin(req, res, undefined);
      sendStatus(res, 404);
    }
    return true;
  }
  (req as { [SITE_INFO]?: SiteInfo })[SITE_INFO] = siteInfo(entry, host, hit);
  access?.begin(req, res, entry.site.name);
  entry.inFlight++;
  (res as Tracked)[TRACKED] = entry;
  res.on('close', release);
  res.on('error', responseFailed);
  if ('stream' in res) {
    (req as { [TRACKED]?: Entry })[TRACKED] = entry;
    req.on('error', requestFailed);
  }
  // Only a response queued behind another has no socket yet: ordinary requests pay nothing here.
  if ((res as { socket?: unknown }).socket === null) {
    (req as { [QUEUED]?: Tracked })[QUEUED] = res;
    req.on('close', releaseQueued);
  }
  entry.site.handle(req, res);
  return true;
}

/** Where an upgrade goes: a site's entry, or the status that refuses it. */
function routeUpgrade(state: State, req: AnyRequest): { entry: Entry; info: SiteInfo } | 400 | 404 {
  const host = routedHost(state, req, undefined);
  if (host === undefined) return 400;
  const hit = host === '' ? undefined : state.table.lookup(host);
  const entry = hit?.owner.entry ?? state.defaultEntry;
  if (entry === undefined) return 404;
  return { entry, info: siteInfo(entry, host, hit) };
}

/**
 * Routes an upgrade; anything that cannot be served gets a complete HTTP
 * error. A socket handed to a site joins `upgraded` until it closes.
 */
function dispatchUpgrade(state: State, upgraded: Set<Duplex>, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  // Node takes its own 'error' listener off an upgraded socket: without one,
  // a client's reset would be an uncaught exception.
  socket.on('error', destroyOnError);
  const route = routeUpgrade(state, req);
  state.logging.access?.beginUpgrade(req, socket, typeof route === 'number' ? undefined : route.entry.site.name);
  if (typeof route === 'number') return rejectUpgrade(socket, route);
  (req as { [SITE_INFO]?: SiteInfo })[SITE_INFO] = route.info;
  upgraded.add(socket);
  socket.once('close', () => upgraded.delete(socket));
  route.entry.site.upgrade(req, socket, head);
}

/**
 * How long `app.close()` gives the sites' `close()` and then the upgraded
 * connections (a WebSocket's closing handshake) before it cuts those
 * connections off.
 */
const UPGRADE_CLOSE_GRACE_MS = 5_000;

/** Resolves once every socket of `sockets` has closed (each removes itself on 'close'). */
function allClosed(sockets: ReadonlySet<Duplex>): Promise<void> {
  return Promise.all([...sockets].map((socket) => (socket.destroyed ? Promise.resolve() : once(socket, 'close').catch(() => {})))).then(() => {});
}

/**
 * Waits for the sites' close and then their upgraded connections, for at
 * most UPGRADE_CLOSE_GRACE_MS; then destroys the connections still open
 * (a site's close() may leave them, or wait for them).
 */
async function endUpgrades(sitesClosed: Promise<unknown>, upgraded: Set<Duplex>, logger: Logger): Promise<number> {
  await within(sitesClosed.then(() => allClosed(upgraded)), UPGRADE_CLOSE_GRACE_MS);
  const left = [...upgraded];
  if (left.length === 0) return 0;
  const what = left.length === 1 ? '1 upgraded connection' : `${left.length} upgraded connections`;
  logger.warn(`closing: cut off ${what} still open after ${UPGRADE_CLOSE_GRACE_MS / 1000} s`);
  for (const socket of left) destroySiteSocket(socket);
  // Their 'close' (and access lines) before the log files close.
  await allClosed(new Set(left));
  return left.length;
}

/** Closes a retired configuration's sites once each has no request in flight, then its logging. */
async function retire(entries: readonly Entry[], logging: Logging | undefined): Promise<void> {
  await Promise.all(entries.map(async (entry) => {
    await drain(entry);
    await entry.site.close();
  }));
  await logging?.close();
}

/**
 * Reads a configuration tree and returns one request handler that routes
 * every request by its host name to the site that claims it.
 *
 * @param configDir - the configuration directory (`hostmux.conf`, `sites-enabled/`, …)
 * @param options - overrides for the configuration files
 * @returns the application: a `(req, res, next?)` handler with `match`,
 * `sites`, `ready`, `reload`, `upgrade` and `close`
 * @throws `ConfigError` (code `HOSTMUX_CONFIG`) listing every problem of the
 * tree; `InvalidOptionError`, a `TypeError` (code `HOSTMUX_INVALID_OPTION`),
 * for a bad argument or an unknown option
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import { createApplication } from 'hostmux';
 *
 * const app = createApplication('/etc/hostmux');
 * const server = http.createServer(app).listen(8080);
 * server.on('upgrade', app.upgrade);
 * ```
 * @public
 */
export function createApplication(configDir: string, options: ApplicationOptions = {}): Application {
  if (typeof configDir !== 'string' || configDir === '') throw optionError('configDir must be a directory path');
  checkOptions(options);
  const dir = resolve(configDir);
  const problems: ConfigProblem[] = [];
  // The first read is synchronous (createApplication returns the handler); a reload's is not.
  const first = runSync(read(dir, options, problems));
  let latestTree = first.tree;
  let state: State;
  try {
    state = runSync(build(dir, first.tree, first.logging, options, problems, () => undefined, false));
  } catch (err) {
    void first.logging.close();
    throw err;
  }
  let reloading: Promise<unknown> = Promise.resolve();
  let closed = false;
  /** Sites an earlier reload replaced, still waiting for their last request. */
  const retiring = new Set<Entry>();

  // Three parameters: Express treats a four-parameter function as error middleware.
  const app = function hostmux(req: AnyRequest, res: AnyResponse, next?: (err?: unknown) => void): void {
    dispatch(state, req, res, next, undefined, false);
  };

  const match = (host: string): RouteMatch | null => {
    const normal = typeof host === 'string' ? normalizeHost(host) : undefined;
    if (normal === undefined) return null;
    const hit = state.table.lookup(normal);
    if (hit !== undefined) return { site: hit.owner.entry.site.name, pattern: hit.pattern, wildcards: [...hit.wildcards] };
    if (state.defaultEntry !== undefined) return { site: state.defaultEntry.site.name, pattern: null, wildcards: [] };
    return null;
  };

  const ready = async (): Promise<void> => {
    const { entries } = state;
    if (closed) {
      throw new SiteLoadError(entries.map(({ site }) => ({ site: site.name, file: site.file, message: `${site.file}: the site is closed` })));
    }
    const failures = await mapLimited(entries, FILE_CONCURRENCY, ({ site }) => site.load());
    const problems = entries.flatMap(({ site }, i) => {
      const message = failures[i];
      return message === undefined ? [] : [{ site: site.name, file: site.file, message }];
    });
    if (problems.length > 0) throw new SiteLoadError(problems);
  };

  const swap = async (): Promise<ReloadResult> => {
    const problems: ConfigProblem[] = [];
    const next = await runAsync(read(dir, options, problems));
    latestTree = next.tree;
    const old = state;
    const sameLogging = next.logging.fingerprint === old.logging.fingerprint;
    const byName = new Map(old.entries.map((entry) => [entry.site.name, entry]));
    // Decided before building, since comparing a handler file reads it.
    const kept = new Set<Entry>();
    const trustChanged = trustOf(options, next.tree) !== old.trustProxy;
    if (sameLogging && problems.length === 0) {
      await mapLimited(next.tree.sites, FILE_CONCURRENCY, async (file) => {
        const entry = byName.get(file.name);
        if (await keeps(entry, file, trustChanged)) kept.add(entry!);
      });
    }
    // Kept sites log through the old logging, so it stays when unchanged.
    const logging = sameLogging ? old.logging : next.logging;
    const keptFor = (file: TreeSite) => {
      const entry = byName.get(file.name);
      return entry !== undefined && kept.has(entry) ? entry : undefined;
    };
    try {
      state = await runAsync(build(dir, next.tree, logging, options, problems, keptFor, true));
    } finally {
      if (state === old || sameLogging) {
        void next.logging.close();
        // SIGHUP reopens the log files (logrotate) even when the new tree is refused.
        old.logging.reopen();
      }
    }
    const names = new Set(state.entries.map((entry) => entry.site.name));
    const result: ReloadResult = {
      added: state.entries.filter((e) => !byName.has(e.site.name)).map((e) => e.site.name),
      removed: old.entries.filter((e) => !names.has(e.site.name)).map((e) => e.site.name),
      reloaded: state.entries.filter((e) => byName.has(e.site.name) && !kept.has(e)).map((e) => e.site.name),
      kept: state.entries.filter((e) => kept.has(e)).map((e) => e.site.name),
    };
    const retired = old.entries.filter((entry) => !kept.has(entry));
    for (const entry of retired) retiring.add(entry);
    void retire(retired, sameLogging ? undefined : old.logging).then(() => {
      for (const entry of retired) retiring.delete(entry);
    });
    return result;
  };

  const reload = (): Promise<ReloadResult> => {
    if (closed) return Promise.reject(new ClosedError());
    const result = reloading.then(swap);
    reloading = result.catch(() => {});
    return result;
  };

  /** Upgraded connections handed to a site and still open: close() ends those the sites leave. */
  const upgraded = new Set<Duplex>();
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    dispatchUpgrade(state, upgraded, req, socket, head);
  };

  let closing: Promise<void> | undefined;
  let upgradesCut = 0;
  const shutDown = async (): Promise<void> => {
    closed = true;
    await reloading;
    // Shutting down: sites a reload retired are closed now, not after their last request.
    const stillClosing = new Set<Site>();
    const sitesClosed = Promise.all([...state.entries, ...retiring].map(({ site }) => {
      stillClosing.add(site);
      return site.close().then(() => stillClosing.delete(site));
    }));
    upgradesCut = await endUpgrades(sitesClosed, upgraded, state.logging.root);
    // endUpgrades waited for the sites' close() as long as its grace lasted:
    // one that never settles (a database that is gone) is not waited for further.
    if (stillClosing.size > 0) {
      const names = [...new Set([...stillClosing].map((site) => site.name))].join(', ');
      state.logging.root.warn(`closing: did not wait longer for the close() of site ${names}, still running after ${UPGRADE_CLOSE_GRACE_MS / 1000} s`);
    }
    await state.logging.close();
  };
  // Once: the Fastify plugin closes it in preClose and again in onClose.
  const close = (): Promise<void> => (closing ??= shutDown());

  const internals: ApplicationInternals = {
    take: (req, res, forwardedHost) => dispatch(state, req, res, undefined, forwardedHost, true),
    claimsUpgrade: (req) => routeUpgrade(state, req) !== 404,
    get trustProxy() {
      return state.trustProxy;
    },
    get upgradesCut() {
      return upgradesCut;
    },
    get tree() {
      return latestTree;
    },
    get logger() {
      return state.logging.root;
    },
  };

  return Object.defineProperties(app, {
    match: { value: match, enumerable: true },
    sites: { get: () => (state.descriptors ??= describe(state.entries)), enumerable: true },
    ready: { value: ready, enumerable: true },
    reload: { value: reload, enumerable: true },
    upgrade: { value: upgrade, enumerable: true },
    close: { value: close, enumerable: true },
    [INTERNAL]: { value: internals },
  }) as Application;
}
