import { createApplication, type Application } from '../application.js';
import { internalsOf } from '../internal.js';
import { ConfigError, SiteLoadError, type ConfigProblem, type SiteLoadProblem } from '../errors.js';
import { escapeControls } from '../logging/escape.js';
import { OK, PROBLEMS, secondsOption, type Invocation } from './command.js';
import { DEFAULT_LOAD_TIMEOUT_SECONDS } from './commands.js';
import { err, json, out, plural, printProblems, table } from './output.js';

/** One row of the routing table: a domain or pattern, the site that claims it, its file. */
interface Route {
  /** The domain or pattern; `null` for the default_site row. */
  readonly domain: string | null;
  readonly site: string;
  readonly kind: string;
  readonly file: string;
}

/** What `check --json` prints. */
interface CheckReport {
  readonly ok: boolean;
  readonly configDir: string;
  readonly problems: readonly ConfigProblem[];
  readonly failedSites: readonly SiteLoadProblem[];
  /** The site modules were still loading at --timeout. */
  readonly loadTimedOut: boolean;
  readonly routes: readonly Route[];
}

/** Sites hold modules with timers and sockets: close them, but never wait on one for long. */
const CLOSE_BOUND_MS = 5_000;

const TIMED_OUT = Symbol('timed out');

/**
 * `promise`, or TIMED_OUT after `ms`. The timer keeps the process alive
 * meanwhile: were the event loop to empty, Node would exit 0 with nothing printed.
 */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(resolve, ms, TIMED_OUT)))]);
  } finally {
    clearTimeout(timer);
  }
}

function routesOf(app: Application): Route[] {
  const routes: Route[] = app.sites.flatMap((site) =>
    site.domains.map((domain) => ({ domain, site: site.name, kind: site.kind, file: site.file })),
  );
  const defaultSite = internalsOf(app)!.tree.server.defaultSite;
  const fallback = app.sites.find((site) => site.name === defaultSite);
  if (fallback !== undefined) routes.push({ domain: null, site: fallback.name, kind: fallback.kind, file: fallback.file });
  return routes;
}

async function inspect(configDir: string, loadTimeoutMs: number): Promise<CheckReport> {
  let app: Application;
  try {
    app = createApplication(configDir);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { ok: false, configDir, problems: error.problems, failedSites: [], loadTimedOut: false, routes: [] };
  }
  // A module whose import or createHandler() never settles would keep ready() pending for ever.
  const loaded = await within(app.ready().then(
    () => [],
    (error: unknown) => {
      if (!(error instanceof SiteLoadError)) throw error;
      return error.problems;
    },
  ), loadTimeoutMs);
  const routes = routesOf(app);
  await within(app.close(), CLOSE_BOUND_MS);
  if (loaded === TIMED_OUT) return { ok: false, configDir, problems: [], failedSites: [], loadTimedOut: true, routes };
  return { ok: loaded.length === 0, configDir, problems: [], failedSites: loaded, loadTimedOut: false, routes };
}

function printText(report: CheckReport, loadTimeoutMs: number): void {
  if (report.problems.length > 0) {
    printProblems(report.configDir, report.problems);
    return;
  }
  if (report.routes.length > 0) {
    out(table([
      ['DOMAIN', 'SITE', 'KIND', 'FILE'],
      ...report.routes.map((route) => [route.domain ?? '(default_site)', route.site, route.kind, route.file]),
    ]));
  }
  if (report.loadTimedOut) {
    err(`hostmux: the site modules did not finish loading within ${loadTimeoutMs / 1000} s: an import or createHandler() never settled`);
    return;
  }
  if (report.failedSites.length > 0) {
    err(`hostmux: ${plural(report.failedSites.length, 'site')} failed to load:`);
    // The message quotes what the module threw: one line, nothing for the terminal to act on.
    for (const failed of report.failedSites) err(`  ${failed.site} (${failed.file}): ${escapeControls(failed.message)}`);
    return;
  }
  const sites = new Set(report.routes.map((route) => route.site)).size;
  out(`hostmux: the configuration in ${report.configDir} is ok: ${plural(sites, 'site')} loaded`);
}

/** `hostmux check`: see commands.ts. */
export async function check({ configDir, values }: Invocation): Promise<number> {
  const loadTimeoutMs = secondsOption(values, 'timeout', DEFAULT_LOAD_TIMEOUT_SECONDS);
  const report = await inspect(configDir, loadTimeoutMs);
  if (values.json === true) json(report);
  else printText(report, loadTimeoutMs);
  return report.ok ? OK : PROBLEMS;
}
