import { byteOrder } from '../config/discover.js';
import { checkpoint, type Steps } from '../config/steps.js';
import { limitsOf, type SiteLimits } from '../config/limits.js';
import { readTreeSteps, type ConfigTree, type TreeSite } from '../config/tree.js';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { readLoggingConfigSteps } from '../logging/config.js';
import { openLogging, type Logging } from '../logging/index.js';
import { buildRoutingTable, type SiteRoutes } from '../routing/build.js';
import type { MetricsRegistry } from '../metrics/site-metrics.js';
import { createSite, kindName, SITE_KINDS } from '../sites/index.js';
import type { LoggerFactory } from '../sites/site.js';
import { loadCertificates } from '../tls/certificates.js';
import { optionError } from './options.js';
import type { Entry, Endpoint, State } from './state.js';
import type { ApplicationOptions, SiteDescriptor } from './types.js';

/** Problems sorted by file (the directory, hostmux.conf, then other files in byte order), stably. */
function inFileOrder(problems: ConfigProblem[]): ConfigProblem[] {
  const rank = (file: string) => (file === '.' ? 0 : file === 'hostmux.conf' ? 1 : 2);
  return problems.sort((a, b) => rank(a.file) - rank(b.file) || byteOrder(a.file, b.file));
}

/** How many site modules or handler files are read at once. */
export const FILE_CONCURRENCY = 64;

/**
 * Builds a configuration from a tree; `reuse` gives the entry a reload
 * keeps for a site. Throws ConfigError with every problem of the tree.
 * Steps, so that a reload lets requests in between sites.
 */
export function* build(
  configDir: string,
  tree: ConfigTree,
  logging: Logging,
  options: ApplicationOptions,
  problems: ConfigProblem[],
  reuse: (file: TreeSite) => Entry | undefined,
  fresh: boolean,
  metrics: MetricsRegistry,
  added: (name: string) => boolean = () => false,
): Steps<State> {
  const trustProxy = trustOf(options, tree);
  const loggers = notingErrors(logging, metrics);
  const routes: SiteRoutes<Endpoint>[] = [];
  const entries: Entry[] = [];
  const limits: SiteLimits[] = [];
  for (const file of tree.sites) {
    yield* checkpoint();
    const entry = reuse(file) ?? {
      site: createSite(file, { configDir, loggers, trustProxy: trustProxy ?? false, fresh, context: tree.server.attribution === 'context' }),
      sourceDigest: file.sourceDigest,
      inFlight: 0,
      drained: undefined,
      loggers,
      upgrades: 0,
      guard: undefined,
      metrics: metrics.site(file.name),
    };
    entries.push(entry);
    limits.push(limitsOf(file.limits, tree.server.limits));
    routes.push({
      name: file.name,
      file: file.file,
      domains: file.domains,
      ownerFor: (exact) => ({ entry, exact, info: undefined }),
    });
  }
  // Sites a reload adds are routed last: a domain one takes from a running site is its problem, not the other's.
  const table = yield* buildRoutingTable([...routes.filter((route) => !added(route.name)), ...routes.filter((route) => added(route.name))], problems);
  const tls = loadCertificates(tree, (host) => table.lookup(host)?.owner.entry.site.name, problems);
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
  return { table, entries, defaultEntry, trustProxy, logging, limits, blockWarning: tree.server.blockWarning, context: tree.server.attribution === 'context', counting: tree.server.metrics, metrics, descriptors: undefined, tls };
}

/** The loggers sites get: their errors are noted as their last error. */
export function notingErrors(logging: Logging, metrics: MetricsRegistry): LoggerFactory {
  return { logger: (name) => logging.logger(name), onSiteError: (site, message) => metrics.noteError(site, message) };
}

export function describe(entries: readonly Entry[]): readonly SiteDescriptor[] {
  return Object.freeze(
    entries.map(({ site }) => Object.freeze({ name: site.name, kind: kindName(site), domains: site.domains, file: site.file })),
  );
}

/** `trust_proxy` as the option or hostmux.conf sets it; undefined leaves it to the host framework. */
export function trustOf(options: ApplicationOptions, tree: ConfigTree): boolean | undefined {
  return options.trustProxy ?? tree.server.trustProxy;
}

/** Reads the tree and its logging configuration; problems go onto `problems`. */
export function* read(configDir: string, options: ApplicationOptions, problems: ConfigProblem[]): Steps<{ tree: ConfigTree; logging: Logging }> {
  const tree = yield* readTreeSteps(configDir, problems, SITE_KINDS);
  const file = tree.server.logging;
  const config = file === undefined ? undefined : yield* readLoggingConfigSteps(configDir, file, problems);
  const logging = openLogging(file, config, options.logger, problems);
  return { tree, logging };
}
