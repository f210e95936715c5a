import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { quote, type ConfigProblem } from '../errors.js';
import { compileDomain, type CompiledDomain } from '../routing/pattern.js';
import { parseIni, reportTopLevelKeys, reportUnknownKeys, scalarValue, splitList, type IniValue } from './ini-file.js';

/**
 * Settings handed to a site: every section but `[site]`, by its whole name,
 * as plain objects of strings (and lists, from `key[] =`).
 * @public
 */
export type SiteSettings = Record<string, Record<string, IniValue>>;

interface SiteFileBase {
  readonly name: string;
  /** The site file as found, relative to the config dir (`sites-enabled/blog.ini`). */
  readonly file: string;
  /** The site file's real path, after following a symlink. */
  readonly realPath: string;
  /** The domains and patterns, compiled (those that compiled). */
  readonly domains: readonly CompiledDomain[];
  readonly settings: SiteSettings;
}

export interface ModuleSiteFile extends SiteFileBase {
  readonly kind: 'module';
  /** Absolute path of the module. */
  readonly handler: string;
  /** `load_timeout`, in milliseconds: how long a load may take before the site answers 503. */
  readonly loadTimeout: number;
  /** `load_queue`: how many requests and upgrades may wait for the load. */
  readonly loadQueue: number;
}

export interface RedirectSiteFile extends SiteFileBase {
  readonly kind: 'redirect';
  /** The target, without a trailing slash: the request path is appended. */
  readonly location: string;
  readonly status: number;
}

export interface ProxySiteFile extends SiteFileBase {
  readonly kind: 'proxy';
  /** The upstream's origin, `http://127.0.0.1:9001`. */
  readonly origin: string;
  /** A path the upstream URL had, without a trailing slash ('' for none): prepended to the request path. */
  readonly pathPrefix: string;
  /** `proxy_timeout`, in milliseconds. */
  readonly timeout: number;
  /** `proxy_host`: which Host the upstream sees. */
  readonly host: 'preserve' | 'upstream';
}

export type SiteFile = ModuleSiteFile | ProxySiteFile | RedirectSiteFile;

const NO_SETTINGS: SiteSettings = Object.freeze({});
const SITE_KEYS = new Set(['name', 'domains', 'handler', 'proxy', 'redirect', 'redirect_status', 'proxy_timeout', 'proxy_host', 'load_timeout', 'load_queue']);
const KIND_KEYS = ['handler', 'proxy', 'redirect'] as const;
const REDIRECT_STATUSES = new Set([301, 302, 307, 308]);
const SITE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Parses a redirect target: an http(s) origin with an optional path. */
function parseRedirect(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '' || url.username !== '') {
    return undefined;
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** Parses a proxy upstream: an http(s) origin, and a path to prepend without its trailing slash. */
function parseUpstream(value: string): { origin: string; pathPrefix: string } | undefined {
  const location = parseRedirect(value);
  // `http://:@host` parses with empty credentials, which the URL then hides: refuse any userinfo as written.
  if (location === undefined || /^[^:]*:\/\/[^/?#]*@/.test(value)) return undefined;
  const origin = new URL(location).origin;
  return { origin, pathPrefix: location.slice(origin.length) };
}

/** setTimeout's limit (2^31 - 1 ms), in whole seconds. */
const MAX_TIMEOUT_SECONDS = 2_147_483;

/** Parses `proxy_timeout` and `load_timeout`: positive decimal seconds, to milliseconds (at least 1). */
function parseSeconds(text: string): number | undefined {
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(text)) return undefined;
  const seconds = Number(text);
  if (!(seconds > 0) || seconds > MAX_TIMEOUT_SECONDS) return undefined;
  return Math.max(1, Math.round(seconds * 1000));
}

/** `load_queue`'s bounds: 0 refuses every request that would wait. */
const MAX_LOAD_QUEUE = 1_000_000;

/** Parses `load_queue`: a whole number from 0 to MAX_LOAD_QUEUE. */
function parseQueue(text: string): number | undefined {
  if (!/^\d{1,7}$/.test(text)) return undefined;
  const count = Number(text);
  return count <= MAX_LOAD_QUEUE ? count : undefined;
}

/** What one site file gave: its name (when it has a [site] section) and the site, when it can be built. */
export interface ReadSite {
  readonly name: string | undefined;
  readonly site: SiteFile | undefined;
}

/**
 * Reads one site file's text into a site, reporting every problem with its
 * file, section and key. `site` is `undefined` when the site cannot be built;
 * `name` is still given then, so that a duplicate name is reported too.
 */
export function readSiteFile(
  text: string,
  file: string,
  realPath: string,
  problems: ConfigProblem[],
): ReadSite {
  const parsed = parseIni(text, file, problems);
  reportTopLevelKeys(parsed, file, problems);
  const section = parsed.sections.get('site');
  if (section === undefined) {
    problems.push({ file, section: 'site', message: 'the [site] section is missing' });
    return { name: undefined, site: undefined };
  }
  reportUnknownKeys(section, SITE_KEYS, file, problems);
  const where = (key: string) => ({ file, section: 'site', key, line: section.lines.get(key)! });
  const scalar = (key: string) => scalarValue(section, key, file, problems);

  const name = scalar('name') || basename(file).replace(/\.ini$/, '');
  if (!SITE_NAME.test(name)) {
    problems.push({
      ...(section.values.name === undefined ? { file, section: 'site' } : where('name')),
      message: `site name ${quote(name)} may only have letters, digits, ".", "_" and "-"`,
    });
  }

  const domainsValue = section.values.domains;
  const domains: CompiledDomain[] = [];
  if (domainsValue === undefined) problems.push({ file, section: 'site', key: 'domains', message: 'required key is missing' });
  for (const written of domainsValue === undefined ? [] : splitList(domainsValue)) {
    const compiled = compileDomain(written);
    if (typeof compiled === 'string') problems.push({ ...where('domains'), message: compiled });
    else domains.push(compiled);
  }

  const kinds = KIND_KEYS.filter((key) => section.values[key] !== undefined);
  if (kinds.length !== 1) {
    problems.push({
      file,
      section: 'site',
      ...(kinds.length > 1 ? { key: kinds[1] } : {}),
      message: kinds.length === 0
        ? 'needs one of handler, proxy or redirect'
        : `has ${kinds.join(' and ')}; a site is exactly one kind`,
    });
  }
  for (const [key, kind] of [
    ['redirect_status', 'redirect'], ['proxy_timeout', 'proxy'], ['proxy_host', 'proxy'], ['load_timeout', 'handler'], ['load_queue', 'handler'],
  ] as const) {
    if (section.values[key] !== undefined && !kinds.includes(kind)) {
      problems.push({ ...where(key), message: `only applies to a ${kind} site` });
    }
  }

  // Most sites have no settings: they share one frozen empty object.
  let settings: SiteSettings = NO_SETTINGS;
  for (const other of parsed.sections.values()) {
    if (other === section) continue;
    if (settings === NO_SETTINGS) settings = {};
    settings[other.name] = { ...other.values };
  }

  const base = { name, file, realPath, domains, settings };
  let site: SiteFile | undefined;
  if (kinds.length === 1 && kinds[0] === 'handler') {
    const handler = scalar('handler');
    if (handler === '') problems.push({ ...where('handler'), message: 'is empty' });
    const timeoutText = scalar('load_timeout') ?? '30';
    const loadTimeout = parseSeconds(timeoutText);
    if (loadTimeout === undefined) {
      problems.push({ ...where('load_timeout'), message: `"${timeoutText}" is not a positive number of seconds (at most ${MAX_TIMEOUT_SECONDS})` });
    }
    const queueText = scalar('load_queue') ?? '1000';
    const loadQueue = parseQueue(queueText);
    if (loadQueue === undefined) {
      problems.push({ ...where('load_queue'), message: `"${queueText}" is not a whole number from 0 to ${MAX_LOAD_QUEUE}` });
    }
    if (handler !== undefined && handler !== '' && loadTimeout !== undefined && loadQueue !== undefined) {
      site = { ...base, kind: 'module', handler: isAbsolute(handler) ? normalize(handler) : join(dirname(realPath), handler), loadTimeout, loadQueue };
    }
  } else if (kinds.length === 1 && kinds[0] === 'redirect') {
    const target = scalar('redirect');
    const location = target === undefined ? undefined : parseRedirect(target);
    if (target !== undefined && location === undefined) {
      problems.push({ ...where('redirect'), message: `${quote(target)} is not an http(s) URL without query or fragment` });
    }
    const statusText = scalar('redirect_status') ?? '308';
    const status = Number(statusText);
    if (!REDIRECT_STATUSES.has(status) || !/^\d+$/.test(statusText)) {
      problems.push({ ...where('redirect_status'), message: `${quote(statusText)} is not 301, 302, 307 or 308` });
    }
    if (location !== undefined) site = { ...base, kind: 'redirect', location, status };
  } else if (kinds.length === 1 && kinds[0] === 'proxy') {
    const target = scalar('proxy');
    const upstream = target === undefined ? undefined : parseUpstream(target);
    if (target !== undefined && upstream === undefined) {
      problems.push({ ...where('proxy'), message: `${quote(target)} is not an http(s) URL without credentials, query or fragment` });
    }
    const timeoutText = scalar('proxy_timeout') ?? '60';
    const timeout = parseSeconds(timeoutText);
    if (timeout === undefined) {
      problems.push({ ...where('proxy_timeout'), message: `${quote(timeoutText)} is not a positive number of seconds (at most ${MAX_TIMEOUT_SECONDS})` });
    }
    const host = scalar('proxy_host') ?? 'preserve';
    if (host !== 'preserve' && host !== 'upstream') {
      problems.push({ ...where('proxy_host'), message: `${quote(host)} is not preserve or upstream` });
    } else if (upstream !== undefined && timeout !== undefined) {
      site = { ...base, kind: 'proxy', ...upstream, timeout, host };
    }
  }
  return { name, site };
}
