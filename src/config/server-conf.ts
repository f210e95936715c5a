import { join } from 'node:path';
import type { ConfigProblem } from '../errors.js';
import { parseIni, reportTopLevelKeys, reportUnknownKeys, splitList } from './ini-file.js';
import { readConfigText } from './read-file.js';
import { runSync, type Steps } from './steps.js';

/** The `[server]` section of hostmux.conf, with defaults applied. */
export interface ServerSettings {
  /** Globs, relative to the config dir, that name the site files. */
  readonly sites: readonly string[];
  readonly defaultSite: string | undefined;
  /** `undefined` when not set: the host framework decides. */
  readonly trustProxy: boolean | undefined;
  /** The logging.ini path, relative to the config dir, when set. */
  readonly logging: string | undefined;
}

export const SERVER_FILE = 'hostmux.conf';
const SERVER_KEYS = new Set(['sites', 'default_site', 'trust_proxy', 'logging']);
const DEFAULTS: ServerSettings = {
  sites: ['sites-enabled/*.ini'],
  defaultSite: undefined,
  trustProxy: undefined,
  logging: undefined,
};

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
    return DEFAULTS;
  }
  return parseServerSettings(read.text, problems);
}

/** readServerSettingsSteps, synchronously. */
export function readServerSettings(configDir: string, problems: ConfigProblem[]): ServerSettings {
  return runSync(readServerSettingsSteps(configDir, problems));
}

/** hostmux.conf's text into settings. */
function parseServerSettings(text: string, problems: ConfigProblem[]): ServerSettings {
  const parsed = parseIni(text, SERVER_FILE, problems);
  reportTopLevelKeys(parsed, SERVER_FILE, problems);
  for (const section of parsed.sections.values()) {
    if (section.name !== 'server') {
      problems.push({ file: SERVER_FILE, section: section.name, message: 'unknown section (hostmux.conf has only [server])' });
    }
  }
  const server = parsed.sections.get('server');
  if (server === undefined) return DEFAULTS;
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
  let trustProxy: boolean | undefined;
  const trustText = scalar('trust_proxy');
  if (trustText !== undefined) {
    trustProxy = parseBoolean(trustText);
    if (trustProxy === undefined) {
      problems.push({ file: SERVER_FILE, section: 'server', key: 'trust_proxy', message: `"${trustText}" is not true or false` });
    }
  }
  const defaultSite = scalar('default_site');
  const logging = scalar('logging');
  return {
    sites,
    defaultSite: defaultSite === '' ? undefined : defaultSite,
    trustProxy,
    logging: logging === '' ? undefined : logging,
  };
}
