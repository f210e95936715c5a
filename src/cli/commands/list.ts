import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigProblem } from '../../errors.js';
import { OK, PROBLEMS, type Command, type Invocation } from '../command.js';
import { err, json, out, printProblems, table } from '../output.js';
import { AVAILABLE, ENABLED, lstatOrUndefined, realpathOrUndefined } from '../site-dirs.js';

// `hostmux list`: its help and its code. The configuration reader is imported only when it runs.

type Reader = typeof import('../../config/read-file.js') & typeof import('../../sites/index.js') & typeof import('../../config/discover.js');

/** Site file names in a directory, in byte order; none when it does not exist. */
function siteFileNames(dir: string, { byteOrder, isSiteFileName }: Reader): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names.filter(isSiteFileName).sort(byteOrder);
}

/** One site file of sites-available or sites-enabled, as `list` shows it. */
interface Listed {
  /** The file name without `.ini`: what `enable` and `disable` take. */
  readonly name: string;
  /** The site's own name (`name =`, else `name`); null when the file cannot be read. */
  readonly site: string | null;
  readonly enabled: boolean;
  /** enabled | disabled | enabled (copy) | enabled (only in sites-enabled) | enabled (link to …) | broken link */
  readonly status: string;
  /** The file the domains come from, relative to the config dir: the enabled one when enabled. */
  readonly file: string;
  readonly domains: readonly string[];
  /** `file` (tls_cert and tls_key), `auto` (tls = auto), or null: the site names no certificate. */
  readonly https: 'file' | 'auto' | null;
  readonly problems: readonly ConfigProblem[];
}

/** Where sites-enabled/NAME.ini stands against sites-available/NAME.ini. */
function statusOf(configDir: string, file: string, available: boolean): { enabled: boolean; status: string } {
  const enabledPath = join(configDir, ENABLED, file);
  const stats = lstatOrUndefined(enabledPath);
  if (stats === undefined) return { enabled: false, status: 'disabled' };
  if (!stats.isSymbolicLink()) return { enabled: true, status: available ? 'enabled (copy)' : 'enabled (only in sites-enabled)' };
  const target = realpathOrUndefined(enabledPath);
  if (target === undefined) return { enabled: true, status: 'broken link' };
  if (available && target === realpathOrUndefined(join(configDir, AVAILABLE, file))) return { enabled: true, status: 'enabled' };
  return { enabled: true, status: `enabled (link to ${readlinkSync(enabledPath)})` };
}

/** Reads one site file for its name and domains; every problem in it is kept. */
function readListed(configDir: string, file: string, available: boolean, { readConfigFile, readSiteFile }: Reader): Listed {
  const { enabled, status } = statusOf(configDir, file, available);
  const relative = `${enabled ? ENABLED : AVAILABLE}/${file}`;
  const path = join(configDir, relative);
  const problems: ConfigProblem[] = [];
  // A dangling link fails to read, and the problem says where it points.
  const realPath = realpathOrUndefined(path) ?? path;
  const text = readConfigFile(realPath, relative, problems);
  const read = text === undefined ? undefined : readSiteFile(text, relative, realPath, problems);
  return {
    name: file.slice(0, -'.ini'.length),
    site: read?.name ?? null,
    enabled,
    status,
    file: relative,
    domains: read?.site?.domains.map((domain) => domain.text) ?? [],
    https: read?.site?.tls?.kind ?? null,
    problems,
  };
}

function listSites(configDir: string, reader: Reader): { sites: Listed[]; problems: ConfigProblem[] } {
  try {
    if (!statSync(configDir).isDirectory()) throw new Error('not a directory');
  } catch (error) {
    return { sites: [], problems: [{ file: '.', message: `the configuration directory ${configDir} cannot be read: ${(error as Error).message}` }] };
  }
  const available = new Set(siteFileNames(join(configDir, AVAILABLE), reader));
  const files = [...new Set([...available, ...siteFileNames(join(configDir, ENABLED), reader)])].sort(reader.byteOrder);
  const sites = files.map((file) => readListed(configDir, file, available.has(file), reader));
  return { sites, problems: sites.flatMap((site) => site.problems) };
}

async function run({ configDir, values }: Invocation): Promise<number> {
  const [readFile, siteFile, discover] = await Promise.all([
    import('../../config/read-file.js'), import('../../sites/index.js'), import('../../config/discover.js'),
  ]);
  const { sites, problems } = listSites(configDir, { ...readFile, ...siteFile, ...discover });
  if (values.json === true) {
    json({ ok: problems.length === 0, configDir, sites, problems });
  } else {
    if (sites.length === 0 && problems.length === 0) err(`hostmux: no site files in ${join(configDir, AVAILABLE)} or ${join(configDir, ENABLED)}`);
    if (sites.length > 0) {
      out(table([
        ['NAME', 'STATUS', 'HTTPS', 'DOMAINS'],
        ...sites.map((site) => [
          site.site === null || site.site === site.name ? site.name : `${site.name} (site ${site.site})`,
          site.status,
          site.https === null ? '-' : site.https === 'auto' ? 'https (auto)' : 'https',
          site.domains.join(', ') || '-',
        ]),
      ]));
    }
    if (problems.length > 0) printProblems(configDir, problems);
  }
  return problems.length === 0 ? OK : PROBLEMS;
}

export const list: Command = {
  name: 'list',
  summary: 'list every available site, enabled or not, with its domains',
  synopsis: '[--json]',
  description: [
    'Lists every site file of sites-available and sites-enabled: whether it is enabled',
    '(a link to sites-available, a copy, a link elsewhere, or a file only in',
    'sites-enabled), whether it names a certificate (https: tls_cert and tls_key;',
    'https (auto): tls = auto) and the domains it claims. An enabled site\'s domains are read',
    'from the enabled file. A file with a problem is listed with it, and the exit',
    'status is then 1. hostmux.conf\'s `sites` globs are not consulted.',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  optionHelp: [['--json', 'print { ok, configDir, sites: [{ name, site, enabled, status, file, domains, https, problems }], problems }']],
  arity: [0, 0],
  run,
};
