import { join } from 'node:path';
import type { ConfigProblem } from '../errors.js';
import { NO_ADMIN, readAdminSection, type AdminSettings } from './admin-conf.js';
import { LIMIT_KEYS, NO_LIMITS, limitsOf, readLimits, type SiteLimits } from './limits.js';
import { parseIni, reportTopLevelKeys, reportUnknownKeys, scalarValue, splitList } from './ini-file.js';
import { readConfigText } from './read-file.js';
import { runSync, type Steps } from './steps.js';
import { ACME_KEYS, parseListenAddress, readAcmeSettings, resolvePath, type AcmeSettings, type ListenAddress } from './tls-settings.js';

/** The `[server]` section of hostmux.conf, with defaults applied. */
export interface ServerSettings {
  /** Globs, relative to the config dir, that name the site files. */
  readonly sites: readonly string[];
  readonly defaultSite: string | undefined;
  /** `undefined` when not set: the host framework decides. */
  readonly trustProxy: boolean | undefined;
  /** The logging.ini path, relative to the config dir, when set. */
  readonly logging: string | undefined;
  /** Every site's limits unless its site file sets its own. */
  readonly limits: SiteLimits;
  /** `block_warning`, in milliseconds: a longer block of the event loop is logged; 0 is off. */
  readonly blockWarning: number;
  /** How `serve` reloads: fresh workers (`restart`) or in each worker (`in-place`). */
  readonly reload: 'restart' | 'in-place';
  /** `serve` loads every site before it listens. */
  readonly preload: boolean;
  /** A site that crashes its worker `crashLimit` times within `crashWindow` ms is quarantined. */
  readonly crashLimit: number;
  readonly crashWindow: number;
  /** `serve` sends every connection from one client address to the same worker. */
  readonly sticky: boolean;
  /** How a crash is blamed on a site: by its stack (free) or by AsyncLocalStorage context (exact, costly on Node 20). */
  readonly attribution: 'stack' | 'context';
  /** The `[admin]` section: `serve`'s admin listener. */
  readonly admin: AdminSettings;
  /** `metrics`: each site's requests are counted (statistics, /status, /metrics). */
  readonly metrics: boolean;
  /** `https = ADDR:PORT`: the TLS listener of `serve`; undefined when not set. */
  readonly https: ListenAddress | undefined;
  /** `redirect_http`: plain-HTTP requests for a site with a certificate get 308 to https. */
  readonly redirectHttp: boolean;
  /** The default certificate and key (absolute paths): for no SNI, and for sites without their own. */
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** The `[acme]` section, with its defaults. */
  readonly acme: AcmeSettings;
}

export const SERVER_FILE = 'hostmux.conf';
const SERVER_KEYS = new Set([
  'sites', 'default_site', 'trust_proxy', 'logging', ...LIMIT_KEYS,
  'block_warning', 'reload', 'preload', 'crash_limit', 'crash_window', 'sticky', 'attribution', 'metrics',
  'https', 'redirect_http', 'tls_cert', 'tls_key',
]);
const DEFAULTS: ServerSettings = {
  sites: ['sites-enabled/*.ini'],
  defaultSite: undefined,
  trustProxy: undefined,
  logging: undefined,
  limits: NO_LIMITS,
  blockWarning: 500,
  reload: 'restart',
  preload: true,
  crashLimit: 3,
  crashWindow: 60_000,
  sticky: false,
  attribution: 'stack',
  admin: NO_ADMIN,
  metrics: true,
  https: undefined,
  redirectHttp: false,
  tlsCert: undefined,
  tlsKey: undefined,
  acme: readAcmeSettings(() => undefined, () => {}, '/'),
};
/** The sections hostmux.conf may have, each read by its own module. */
const SECTIONS = new Set(['server', 'admin', 'acme']);

/** The defaults, with the paths that default under the config dir resolved from it. */
function defaultsFor(configDir: string): ServerSettings {
  return { ...DEFAULTS, acme: readAcmeSettings(() => undefined, () => {}, configDir) };
}
const MAX_CRASH_LIMIT = 1000;

/** Parses a boolean as Python's configparser and Apache do. */
export function parseBoolean(value: string): boolean | undefined {
  switch (value.toLowerCase()) {
    case 'true': case 'yes': case 'on': case '1':
      return true;
    case 'false': case 'no': case 'off': case '0':
      return false;
    default:
      return undefined;
  }
}

/** Reads hostmux.conf; the file is optional, and a missing one means the defaults. */
export function* readServerSettingsSteps(configDir: string, problems: ConfigProblem[]): Steps<ServerSettings> {
  const read = yield* readConfigText(join(configDir, SERVER_FILE), 'hostmux.conf is');
  // Absent means the defaults; a dangling symlink (or a FIFO, …) is a mistake to report.
  if (read.problem !== undefined) {
    if (!read.absent) problems.push({ file: SERVER_FILE, message: read.problem });
    return defaultsFor(configDir);
  }
  return parseServerSettings(read.text, configDir, problems);
}

/** readServerSettingsSteps, synchronously. */
export function readServerSettings(configDir: string, problems: ConfigProblem[]): ServerSettings {
  return runSync(readServerSettingsSteps(configDir, problems));
}

/** hostmux.conf's text into settings. */
function parseServerSettings(text: string, configDir: string, problems: ConfigProblem[]): ServerSettings {
  const parsed = parseIni(text, SERVER_FILE, problems);
  reportTopLevelKeys(parsed, SERVER_FILE, problems);
  for (const section of parsed.sections.values()) {
    if (!SECTIONS.has(section.name)) {
      problems.push({ file: SERVER_FILE, section: section.name, message: `unknown section (hostmux.conf has ${[...SECTIONS].map((name) => `[${name}]`).join(', ')})` });
    }
  }
  const admin = readAdminSection(parsed.sections.get('admin'), SERVER_FILE, problems);
  const acme = parsed.sections.get('acme');
  if (acme !== undefined) reportUnknownKeys(acme, ACME_KEYS, SERVER_FILE, problems);
  const acmeSettings = acme === undefined
    ? defaultsFor(configDir).acme
    : readAcmeSettings(
      (key) => scalarValue(acme, key, SERVER_FILE, problems),
      (key, message) => problems.push({ file: SERVER_FILE, section: 'acme', key, message }),
      configDir,
    );
  const server = parsed.sections.get('server');
  if (server === undefined) return { ...DEFAULTS, admin, acme: acmeSettings };
  reportUnknownKeys(server, SERVER_KEYS, SERVER_FILE, problems);
  const values = server.values;
  const scalar = (key: string): string | undefined => {
    const value = values[key];
    if (value === undefined) return undefined;
    if (typeof value === 'string') return value.trim();
    problems.push({ file: SERVER_FILE, section: 'server', key, message: 'takes one value, not a list' });
    return undefined;
  };

  let sites = DEFAULTS.sites;
  if (values.sites !== undefined) {
    sites = splitList(values.sites);
    if (sites.some((glob) => glob === '')) {
      problems.push({ file: SERVER_FILE, section: 'server', key: 'sites', message: 'has an empty glob' });
    }
  }
  const problem = (key: string, message: string) => problems.push({ file: SERVER_FILE, section: 'server', key, message });
  const boolean = (key: string, fallback: boolean): boolean => {
    const text = scalar(key);
    if (text === undefined) return fallback;
    const value = parseBoolean(text);
    if (value === undefined) problem(key, `"${text}" is not true or false`);
    return value ?? fallback;
  };
  const trustProxy = scalar('trust_proxy') === undefined ? undefined : boolean('trust_proxy', false);
  const defaultSite = scalar('default_site');
  const logging = scalar('logging');

  const reloadText = scalar('reload');
  let reload = DEFAULTS.reload;
  if (reloadText === 'restart' || reloadText === 'in-place') reload = reloadText;
  else if (reloadText !== undefined) problem('reload', `"${reloadText}" is not restart or in-place`);

  const attributionText = scalar('attribution');
  let attribution = DEFAULTS.attribution;
  if (attributionText === 'stack' || attributionText === 'context') attribution = attributionText;
  else if (attributionText !== undefined) problem('attribution', `"${attributionText}" is not stack or context`);

  const seconds = (key: string, fallback: number, positive: boolean): number => {
    const text = scalar(key);
    if (text === undefined) return fallback;
    const value = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
    if (!(value >= 0) || (positive && value === 0) || value > 86_400) {
      problem(key, `"${text}" is not a number of seconds${positive ? ' above 0' : ''} (at most 86400)`);
      return fallback;
    }
    return Math.round(value * 1000);
  };
  const crashText = scalar('crash_limit');
  let crashLimit = DEFAULTS.crashLimit;
  if (crashText !== undefined) {
    crashLimit = /^\d{1,4}$/.test(crashText) ? Number(crashText) : NaN;
    if (!(crashLimit >= 0 && crashLimit <= MAX_CRASH_LIMIT)) {
      problem('crash_limit', `"${crashText}" is not a whole number from 0 (never quarantine) to ${MAX_CRASH_LIMIT}`);
      crashLimit = DEFAULTS.crashLimit;
    }
  }
  const httpsText = scalar('https');
  const https = httpsText === undefined ? undefined : parseListenAddress(httpsText);
  if (httpsText !== undefined && https === undefined) problem('https', `"${httpsText}" is not ADDRESS:PORT (0.0.0.0:443, [::]:443)`);
  const tlsCert = scalar('tls_cert') || undefined;
  const tlsKey = scalar('tls_key') || undefined;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    if (tlsCert === undefined) problem('tls_key', 'needs tls_cert beside it (the default certificate of this key)');
    else problem('tls_cert', 'needs tls_key beside it (the private key of the default certificate)');
  }
  const paired = tlsCert !== undefined && tlsKey !== undefined;
  return {
    https,
    redirectHttp: boolean('redirect_http', DEFAULTS.redirectHttp),
    tlsCert: paired ? resolvePath(tlsCert, configDir) : undefined,
    tlsKey: paired ? resolvePath(tlsKey, configDir) : undefined,
    acme: acmeSettings,
    sites,
    defaultSite: defaultSite === '' ? undefined : defaultSite,
    trustProxy,
    logging: logging === '' ? undefined : logging,
    limits: limitsOf(readLimits(scalar, problem), NO_LIMITS),
    blockWarning: seconds('block_warning', DEFAULTS.blockWarning, false),
    reload,
    preload: boolean('preload', DEFAULTS.preload),
    crashLimit,
    crashWindow: seconds('crash_window', DEFAULTS.crashWindow, true),
    sticky: boolean('sticky', DEFAULTS.sticky),
    attribution,
    admin,
    metrics: boolean('metrics', DEFAULTS.metrics),
  };
}
