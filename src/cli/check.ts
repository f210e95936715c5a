import { createApplication, type Application } from '../application.js';
import { readServerSettings } from '../config/server-conf.js';
import { ConfigError, SiteLoadError, type ConfigProblem, type SiteLoadProblem } from '../errors.js';
import { OK, PROBLEMS, type Invocation } from './command.js';
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
  readonly routes: readonly Route[];
}

/** Sites hold modules with timers and sockets: close them, but never wait on one for long. */
const CLOSE_BOUND_MS = 5_000;

function routesOf(app: Application, configDir: string): Route[] {
  const routes: Route[] = app.sites.flatMap((site) =>
    site.domains.map((domain) => ({ domain, site: site.name, kind: site.kind, file: site.file })),
  );
  // Valid by now, so reading it again cannot fail.
  const defaultSite = readServerSettings(configDir, []).defaultSite;
  const fallback = app.sites.find((site) => site.name === defaultSite);
  if (fallback !== undefined) routes.push({ domain: null, site: fallback.name, kind: fallback.kind, file: fallback.file });
  return routes;
}

async function inspect(configDir: string): Promise<CheckReport> {
  let app: Application;
  try {
    app = createApplication(configDir);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { ok: false, configDir, problems: error.problems, failedSites: [], routes: [] };
  }
  let failedSites: readonly SiteLoadProblem[] = [];
  try {
    await app.ready();
  } catch (error) {
    if (!(error instanceof SiteLoadError)) throw error;
    failedSites = error.problems;
  }
  const routes = routesOf(app, configDir);
  await Promise.race([app.close(), new Promise((resolve) => setTimeout(resolve, CLOSE_BOUND_MS).unref())]);
  return { ok: failedSites.length === 0, configDir, problems: [], failedSites, routes };
}

function printText(report: CheckReport): void {
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
  if (report.failedSites.length > 0) {
    err(`hostmux: ${plural(report.failedSites.length, 'site')} failed to load:`);
    for (const failed of report.failedSites) err(`  ${failed.site} (${failed.file}): ${failed.message}`);
    return;
  }
  const sites = new Set(report.routes.map((route) => route.site)).size;
  out(`hostmux: the configuration in ${report.configDir} is ok: ${plural(sites, 'site')} loaded`);
}

/** `hostmux check`: see commands.ts. */
export async function check({ configDir, values }: Invocation): Promise<number> {
  const report = await inspect(configDir);
  if (values.json === true) json(report);
  else printText(report);
  return report.ok ? OK : PROBLEMS;
}
