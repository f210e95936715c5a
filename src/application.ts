import type { IncomingMessage } from 'node:http';
import { resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { siteInContext, sitesOfStack } from './attribution.js';
import { runSync } from './config/steps.js';
import { ClosedError, SiteLoadError, type ConfigProblem } from './errors.js';
import type { ApplicationInternals } from './internal.js';
import { mapLimited } from './map-limited.js';
import { normalizeHost } from './routing/hostname.js';
import type { AnyRequest } from './routing/request-host.js';
import type { AnyResponse } from './respond.js';
import { siteLogger, type Site } from './sites/site.js';
import { INTERNAL } from './symbols.js';
import { reloadDone } from './diagnostics/channels.js';
import type { ReloadDoneMessage } from './diagnostics/reload-message.js';
import { build, describe, FILE_CONCURRENCY, notingErrors, read } from './application/build.js';
import { MetricsRegistry } from './metrics/site-metrics.js';
import { mergeSites, rawSites, reloadRecord, type ApplicationStats, type ReloadRecord, type SiteStatusState } from './metrics/stats.js';
import { dispatch, dispatchUpgrade, routeUpgrade } from './application/dispatch.js';
import { quarantineLeft, setGuard } from './application/guard.js';
import { checkOptions, optionError } from './application/options.js';
import { nextState, retire } from './application/reload.js';
import { endUpgrades, UPGRADE_CLOSE_GRACE_MS } from './application/shutdown.js';
import type { Entry, State } from './application/state.js';
import type { Application, ApplicationOptions, ReloadResult, RouteMatch } from './application/types.js';

export type { Application, ApplicationOptions, ReloadResult, RouteMatch, SiteDescriptor } from './application/types.js';

/*
 * The facade: createApplication ties the steps together. Each concern has
 * its file in src/application/: types.ts (the public types), options.ts,
 * build.ts (a configuration from the tree), dispatch.ts (routing a request
 * or upgrade, in-flight counting), reload.ts (what a reload keeps, swaps and
 * retires), shutdown.ts (ending upgraded connections).
 */

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
  const metrics = new MetricsRegistry();
  try {
    state = runSync(build(dir, first.tree, first.logging, options, problems, () => undefined, false, metrics));
  } catch (err) {
    void first.logging.close();
    throw err;
  }
  /** Quarantined sites by name: Date.now() until which each answers 503. A reload keeps them; `lift` ends them. */
  const quarantines = new Map<string, number>();
  const guardAll = (taken: State) => {
    taken.entries.forEach((entry, i) => setGuard(entry, taken.limits[i]!, quarantines.get(entry.site.name) ?? 0));
  };
  guardAll(state);
  const entryNamed = (name: string) => state.entries.find((entry) => entry.site.name === name);
  const guardOne = (name: string) => {
    const entry = entryNamed(name);
    if (entry !== undefined) setGuard(entry, state.limits[state.entries.indexOf(entry)]!, quarantines.get(name) ?? 0);
  };
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

  let generation = 1;
  let lastReload: ReloadRecord | null = null;
  let refusedReloads = 0;
  const swap = async (): Promise<ReloadResult> => {
    let swapped: Awaited<ReturnType<typeof nextState>>;
    try {
      swapped = await nextState(dir, options, state, (tree) => (latestTree = tree));
    } catch (error) {
      lastReload = reloadRecord({ error: error instanceof Error ? error.message : String(error) });
      refusedReloads++;
      throw error;
    }
    const { state: next, result, retired, retiredLogging } = swapped;
    state = next;
    generation++;
    lastReload = reloadRecord({ result });
    guardAll(next);
    for (const entry of retired) retiring.add(entry);
    void retire(retired, retiredLogging).then(() => {
      for (const entry of retired) retiring.delete(entry);
    });
    return result;
  };

  /** A reload that runs publishes `hostmux:reload:done` when it settles, taken or refused. */
  const swapAndPublish = async (): Promise<ReloadResult> => {
    if (!reloadDone.hasSubscribers) return swap();
    const started = performance.now();
    let result: ReloadResult;
    try {
      result = await swap();
    } catch (error) {
      const refused: ReloadDoneMessage = { ok: false, configDir: dir, duration: performance.now() - started, result: undefined, error };
      reloadDone.publish(refused);
      throw error;
    }
    const taken: ReloadDoneMessage = { ok: true, configDir: dir, duration: performance.now() - started, result, error: undefined };
    reloadDone.publish(taken);
    return result;
  };

  const reload = (): Promise<ReloadResult> => {
    if (closed) return Promise.reject(new ClosedError());
    const result = reloading.then(swapAndPublish);
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
    get tls() {
      return state.tls;
    },
    siteInContext,
    blame: (error) => {
      const inContext = siteInContext();
      return inContext !== undefined ? [inContext] : sitesOfStack(error, state.entries.map(({ site }) => site));
    },
    siteLogger: (name) => siteLogger(notingErrors(state.logging, metrics), name),
    quarantine: (name, seconds) => {
      quarantines.set(name, Date.now() + seconds * 1000);
      guardOne(name);
    },
    lift: (name) => {
      const names = name === undefined ? [...quarantines.keys()] : [name];
      for (const each of names) {
        quarantines.delete(each);
        guardOne(each);
      }
    },
    quarantined: (name) => {
      const until = quarantines.get(name);
      if (until === undefined) return undefined;
      const left = quarantineLeft(until, Date.now());
      if (left > 0) return left;
      quarantines.delete(name);
      guardOne(name);
      return undefined;
    },
    reopenLogs: () => state.logging.reopen(),
    siteStates: () => state.entries.map(({ site }) => ({ name: site.name, state: site.state })),
    rawStats: () => ({
      started: metrics.started,
      generation,
      reload: lastReload,
      reloads: { ok: generation - 1, refused: refusedReloads },
      sites: rawSites(metrics, state.entries.map(({ site, guard }) => ({ name: site.name, state: statusState(site.state, guard) })), performance.now()),
    }),
    loadSites: async (names) => {
      const wanted = new Set(names);
      const entries = state.entries.filter(({ site }) => wanted.has(site.name));
      const failures = await mapLimited(entries, FILE_CONCURRENCY, ({ site }) => site.load());
      return entries.flatMap(({ site }, i) => (failures[i] === undefined ? [] : [{ site: site.name, message: failures[i] }]));
    },
  };

  const stats = (): ApplicationStats => {
    const raw = internals.rawStats();
    return {
      uptime: (Date.now() - raw.started) / 1000,
      generation: raw.generation,
      reload: raw.reload,
      sites: mergeSites((app as Application).sites, [raw.sites]),
    };
  };

  return Object.defineProperties(app, {
    stats: { value: stats, enumerable: true },
    match: { value: match, enumerable: true },
    sites: { get: () => (state.descriptors ??= describe(state.entries)), enumerable: true },
    ready: { value: ready, enumerable: true },
    reload: { value: reload, enumerable: true },
    upgrade: { value: upgrade, enumerable: true },
    close: { value: close, enumerable: true },
    [INTERNAL]: { value: internals },
  }) as Application;
}

/** A site's state for the statistics: quarantined while its guard says so. */
function statusState(state: SiteStatusState, guard: Entry['guard']): SiteStatusState {
  return guard !== undefined && guard.quarantinedUntil > Date.now() ? 'quarantined' : state;
}


