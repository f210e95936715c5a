import { basename } from 'node:path';
import { quote, type ConfigProblem } from '../errors.js';
import { compileDomain, type CompiledDomain } from '../routing/pattern.js';
import { LIMIT_KEYS, readLimits, type SiteLimits } from './limits.js';
import { readSiteTls, SITE_TLS_KEYS, type SiteTls } from './tls-settings.js';
import { parseIni, reportTopLevelKeys, reportUnknownKeys, scalarValue, splitList, type IniValue } from './ini-file.js';

/**
 * Settings handed to a site: every section but `[site]`, by its whole name,
 * as plain objects of strings (and lists, from `key[] =`).
 * @public
 */
export type SiteSettings = Record<string, Record<string, IniValue>>;

export interface SiteFileBase {
  readonly name: string;
  /** The site file as found, relative to the config dir (`sites-enabled/blog.ini`). */
  readonly file: string;
  /** The site file's real path, after following a symlink. */
  readonly realPath: string;
  /** The domains and patterns, compiled (those that compiled). */
  readonly domains: readonly CompiledDomain[];
  readonly settings: SiteSettings;
  /** The limits this site file sets (`max_concurrent`, `max_body`, `timeout`); the rest come from `[server]`. */
  readonly limits: Partial<SiteLimits>;
  /** `tls_cert` and `tls_key`, or `tls = auto`; undefined when the site names no certificate. */
  readonly tls: SiteTls | undefined;
}

/** A site file as read: the keys every site has, and its kind's own (each kind's type in src/sites/<kind>/). */
export interface SiteFile extends SiteFileBase {
  /** The kind's name, as `app.sites` shows it (`module`, `proxy`, …). */
  readonly kind: string;
}

/** The `[site]` section, as a kind reads its own keys from it. */
export interface SiteSection {
  /** The site file's real path: a kind resolves a relative path from its directory. */
  readonly realPath: string;
  /** A key's one value; undefined when the key is absent (a list is reported). */
  scalar(key: string): string | undefined;
  /** Reports a problem with one key, at its line. */
  problem(key: string, message: string): void;
}

/**
 * How one kind of site reads its keys. Each kind's descriptor (src/sites/<kind>/)
 * is one; the registry (src/sites/index.ts) hands the list to the reader, so
 * that nothing here names a kind.
 */
export interface SiteKindReader {
  /** The kind's name: `module`. */
  readonly kind: string;
  /** The `[site]` key that makes a site this kind: `handler`. */
  readonly key: string;
  /** The other `[site]` keys only this kind takes: `load_timeout`, … */
  readonly keys: readonly string[];
  /**
   * The site, from its kind's keys added to `base`; undefined when they do
   * not make one (each problem reported on `section`).
   */
  read(section: SiteSection, base: SiteFileBase): SiteFile | undefined;
}

const NO_SETTINGS: SiteSettings = Object.freeze({});
/** The `[site]` keys every kind has. */
const COMMON_KEYS = ['name', 'domains', ...LIMIT_KEYS, ...SITE_TLS_KEYS];
const SITE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** What the reader needs of a list of kinds, worked out once per list (not per site file). */
interface KindKeys {
  /** Every key `[site]` may have. */
  readonly known: ReadonlySet<string>;
  /** Each kind's own keys, with the key that selects the kind. */
  readonly owned: readonly (readonly [key: string, kindKey: string])[];
  /** `handler, proxy or redirect` */
  readonly oneOf: string;
}

const kindKeysCache = new WeakMap<readonly SiteKindReader[], KindKeys>();

function kindKeysOf(kinds: readonly SiteKindReader[]): KindKeys {
  let keys = kindKeysCache.get(kinds);
  if (keys === undefined) {
    const selectors = kinds.map((kind) => kind.key);
    keys = {
      known: new Set([...COMMON_KEYS, ...kinds.flatMap((kind) => [kind.key, ...kind.keys])]),
      owned: kinds.flatMap((kind) => kind.keys.map((key) => [key, kind.key] as const)),
      oneOf: selectors.length > 1 ? `${selectors.slice(0, -1).join(', ')} or ${selectors.at(-1)}` : selectors.join(''),
    };
    kindKeysCache.set(kinds, keys);
  }
  return keys;
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
  kindList: readonly SiteKindReader[],
): ReadSite {
  const { known, owned, oneOf } = kindKeysOf(kindList);
  const parsed = parseIni(text, file, problems);
  reportTopLevelKeys(parsed, file, problems);
  const section = parsed.sections.get('site');
  if (section === undefined) {
    problems.push({ file, section: 'site', message: 'the [site] section is missing' });
    return { name: undefined, site: undefined };
  }
  reportUnknownKeys(section, known, file, problems);
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

  const kinds = kindList.filter((kind) => section.values[kind.key] !== undefined);
  if (kinds.length !== 1) {
    problems.push({
      file,
      section: 'site',
      ...(kinds.length > 1 ? { key: kinds[1]!.key } : {}),
      message: kinds.length === 0
        ? `needs one of ${oneOf}`
        : `has ${kinds.map((kind) => kind.key).join(' and ')}; a site is exactly one kind`,
    });
  }
  for (const [key, kindKey] of owned) {
    if (section.values[key] !== undefined && !kinds.some((kind) => kind.key === kindKey)) {
      problems.push({ ...where(key), message: `only applies to a ${kindKey} site` });
    }
  }

  // Most sites have no settings: they share one frozen empty object.
  let settings: SiteSettings = NO_SETTINGS;
  for (const other of parsed.sections.values()) {
    if (other === section) continue;
    if (settings === NO_SETTINGS) settings = {};
    settings[other.name] = { ...other.values };
  }

  const limits = readLimits(scalar, (key, message) => problems.push({ ...where(key), message }));
  const keyProblem = (key: string, message: string) => problems.push({ ...where(key), message });
  const tls = readSiteTls(scalar, keyProblem, realPath, domains);
  const base = { name, file, realPath, domains, settings, limits, tls };
  const kind = kinds.length === 1 ? kinds[0] : undefined;
  const site = kind?.read({ realPath, scalar, problem: (key, message) => problems.push({ ...where(key), message }) }, base);
  return { name, site };
}
