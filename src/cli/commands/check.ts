import { realpathSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import type { Application } from '../../application.js';
import { ConfigError, SiteLoadError, formatProblem, type ConfigProblem, type SiteLoadProblem } from '../../errors.js';
import { internalsOf } from '../../internal.js';
import { TIMED_OUT, within } from '../../within.js';
import { OK, PROBLEMS, secondsOption, type Command, type Invocation } from '../command.js';
import { err, json, out, plural, table } from '../output.js';
import { CLOSE_BOUND_MS } from '../serve/timeouts.js';
import { lstatOrUndefined, realpathOrUndefined } from '../site-dirs.js';
import { escapeControls } from '../../escape-controls.js';
import type { CertificateRow } from '../../tls/certificates.js';

// `hostmux check`: its help and its code. The application is imported only when it runs.

/** How long site modules may take to load; a database a site connects to at start may be slow. */
const DEFAULT_LOAD_TIMEOUT_SECONDS = 30;

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
  /** Each site's certificate: source (file, auto, default, none), names, expiry. */
  readonly certificates: readonly CertificateRow[];
  /** Certificates close to their end. */
  readonly warnings: readonly string[];
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

/**
 * Runs `work` with whatever is written to stdout and stderr meanwhile
 * discarded: the sites' own log lines and console output, and hostmux's log
 * records about them, which check reports itself. Log files stay as logging.ini says.
 */
async function quietly<T>(work: () => Promise<T>): Promise<T> {
  const { stdout, stderr } = process;
  // Saved to be put back as they were, unbound: they are methods of these streams.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const [stdoutWrite, stderrWrite] = [stdout.write, stderr.write];
  const discard = ((...args: unknown[]) => {
    const callback = args.findLast((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (callback !== undefined) process.nextTick(callback);
    return true;
  }) as typeof stdout.write;
  stdout.write = discard;
  stderr.write = discard;
  try {
    return await work();
  } finally {
    stdout.write = stdoutWrite;
    stderr.write = stderrWrite;
  }
}

async function inspect(configDir: string, loadTimeoutMs: number): Promise<CheckReport> {
  const { createApplication } = await import('../../application.js');
  let app: Application;
  try {
    app = createApplication(configDir);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { ok: false, configDir, problems: error.problems, failedSites: [], loadTimedOut: false, routes: [], certificates: [], warnings: [] };
  }
  const { rows: certificates, warnings } = internalsOf(app)!.tls;
  return quietly(async () => {
    // A module whose import or createHandler() never settles would keep ready() pending for ever.
    const loaded = await within(app.ready().then(
      () => [],
      (error: unknown) => {
        if (!(error instanceof SiteLoadError)) throw error;
        return error.problems;
      },
    ), loadTimeoutMs);
    const routes = routesOf(app);
    await within(app.close().catch(() => {}), CLOSE_BOUND_MS);
    const tls = { certificates, warnings };
    if (loaded === TIMED_OUT) return { ok: false, configDir, problems: [], failedSites: [], loadTimedOut: true, routes, ...tls };
    return { ok: loaded.length === 0, configDir, problems: [], failedSites: loaded, loadTimedOut: false, routes, ...tls };
  });
}

/**
 * The file a user edits for `file` (relative to the config dir): the target
 * of a link (sites-enabled/blog.ini → sites-available/blog.ini), relative
 * to the config dir when inside it, else absolute. A dangling link is itself
 * what needs fixing, and is named as it is.
 */
function fileToEdit(configDir: string, file: string): string {
  const path = join(configDir, file);
  if (lstatOrUndefined(path)?.isSymbolicLink() !== true) return file;
  const target = realpathOrUndefined(path);
  if (target === undefined) return file;
  const inside = relative(realpathOrUndefined(configDir) ?? realpathSync(configDir), target);
  return inside.startsWith('..') || isAbsolute(inside) ? target : inside;
}

/** A failure's message without the site file it begins with, which the line names already. */
function withoutFile(message: string, file: string): string {
  return message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message;
}

function printText(report: CheckReport, loadTimeoutMs: number): void {
  const { configDir } = report;
  const edit = (file: string) => fileToEdit(configDir, file);
  if (report.problems.length > 0) {
    err(`hostmux: ${plural(report.problems.length, 'configuration problem')} in ${configDir}:`);
    for (const problem of report.problems) err(`  ${escapeControls(formatProblem({ ...problem, file: edit(problem.file) }))}`);
    return;
  }
  if (report.routes.length > 0) {
    out(table([
      ['DOMAIN', 'SITE', 'KIND', 'FILE'],
      ...report.routes.map((route) => [route.domain ?? '(default_site)', route.site, route.kind, edit(route.file)]),
    ]));
  }
  if (report.certificates.some((row) => row.source !== 'none')) {
    out('');
    out(table([
      ['SITE', 'CERTIFICATE', 'NAMES', 'EXPIRES'],
      ...report.certificates.map((row) => [
        row.site,
        row.source,
        escapeControls(row.names.join(', ') || '-'),
        row.expires ?? (row.note === null ? '-' : `- (${row.note})`),
      ]),
    ]));
  }
  for (const warning of report.warnings) err(`hostmux: warning: ${escapeControls(warning)}`);
  if (report.loadTimedOut) {
    err(`hostmux: the site modules did not finish loading within ${loadTimeoutMs / 1000} s: an import or createHandler() never settled`);
    return;
  }
  if (report.failedSites.length > 0) {
    err(`hostmux: ${plural(report.failedSites.length, 'site')} failed to load:`);
    // The message quotes what the module threw: one line, nothing for the terminal to act on.
    for (const failed of report.failedSites) err(`  ${failed.site} (${edit(failed.file)}): ${escapeControls(withoutFile(failed.message, failed.file))}`);
    return;
  }
  const sites = new Set(report.routes.map((route) => route.site)).size;
  out(`hostmux: the configuration in ${configDir} is ok: ${plural(sites, 'site')} loaded`);
}

async function run({ configDir, values }: Invocation): Promise<number> {
  const loadTimeoutMs = secondsOption(values, 'timeout', DEFAULT_LOAD_TIMEOUT_SECONDS);
  const report = await inspect(configDir, loadTimeoutMs);
  if (values.json === true) json(report);
  else printText(report, loadTimeoutMs);
  return report.ok ? OK : PROBLEMS;
}

export const check: Command = {
  name: 'check',
  summary: 'check the configuration and load every site module, like nginx -t',
  synopsis: '[--json] [--timeout 30]',
  description: [
    'Reads the configuration tree and lists every problem in it. If there is none,',
    'loads every site module, lists each site that fails to load, and prints the',
    'routing table: each domain and pattern with its site, kind and file, then each',
    'site\'s certificate (file, auto, default or none, its names and expiry; a',
    'certificate within 14 days of its end is a warning). A module',
    'that does not load within its site\'s load_timeout is a failed site; modules',
    'still loading after --timeout seconds fail the whole check. Exits 0 when all',
    'is well, 1 when any problem was found.',
    '',
    'Each problem is printed once, with the file to edit: for a site enabled by a',
    'link, the file the link points to (sites-available/NAME.ini). What the sites',
    'and their loggers write to stdout and stderr while they load is discarded:',
    `the output is check's report only. Sites get ${CLOSE_BOUND_MS / 1000} s to close() at the end.`,
  ].join('\n'),
  options: { json: { type: 'boolean' }, timeout: { type: 'string' } },
  optionHelp: [
    ['--json', 'print { ok, configDir, problems, failedSites, loadTimedOut, routes, certificates, warnings } as JSON on stdout'],
    ['--timeout SECONDS', `how long the site modules may take to load (default ${DEFAULT_LOAD_TIMEOUT_SECONDS})`],
  ],
  arity: [0, 0],
  run,
};
