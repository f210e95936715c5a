import { createHash } from 'node:crypto';
import type { ConfigProblem } from '../errors.js';
import { byteOrder, discoverSiteFiles, type FoundFile } from './discover.js';
import { readConfigText } from './read-file.js';
import { readServerSettingsSteps, type ServerSettings } from './server-conf.js';
import { readSiteFile, type SiteFile, type SiteKindReader } from './site-file.js';
import { checkpoint, each, fsStep, perform, runSync, type Steps } from './steps.js';

/** A site file, read and checked, with a digest of its text (a reload compares it). */
export type TreeSite = SiteFile & { readonly sourceDigest: string };

/** A file's content as a short digest: a reload compares these, and 10,000 site files need not stay in memory. */
export function digestOf(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('base64');
}

/** A configuration tree as read from disk, before routing is built. */
export interface ConfigTree {
  /** Absolute path of the config dir. */
  readonly configDir: string;
  readonly server: ServerSettings;
  /** Sites in file order (byte order of their paths). */
  readonly sites: readonly TreeSite[];
}

/** How many site files a read holds at once: a reload reads them concurrently, then parses them. */
const SITE_BATCH = 256;
/** How many files a reload opens at once. */
const FILE_CONCURRENCY = 64;

/**
 * Reads hostmux.conf and every enabled site file, pushing each problem found
 * onto `problems` rather than stopping at the first. `kinds` are the kinds
 * of site a site file may be (src/sites/index.ts lists them).
 */
export function* readTreeSteps(
  configDir: string,
  problems: ConfigProblem[],
  kinds: readonly SiteKindReader[],
  adjust?: SiteFilesChange,
): Steps<ConfigTree> {
  try {
    if (!(yield* perform(fsStep.stat(configDir))).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    problems.push({ file: '.', message: `the configuration directory ${configDir} cannot be read: ${(err as Error).message}` });
    return { configDir, server: yield* readServerSettingsSteps(configDir, []), sites: [] };
  }
  const server = yield* readServerSettingsSteps(configDir, problems);
  const sites: TreeSite[] = [];
  const names = new Map<string, string>();
  let found = yield* discoverSiteFiles(configDir, server.sites, problems);
  if (adjust !== undefined) found = adjust(found, server.sites).sort((a, b) => byteOrder(a.file, b.file));
  for (let start = 0; start < found.length; start += SITE_BATCH) {
    const batch = found.slice(start, start + SITE_BATCH);
    const texts = yield* each(batch, FILE_CONCURRENCY, ({ realPath }) => readConfigText(realPath, 'site files are'));
    for (const [i, { file, realPath }] of batch.entries()) {
      yield* checkpoint();
      const { text, problem } = texts[i]!;
      if (problem !== undefined) problems.push({ file, message: problem });
      if (text === undefined) continue;
      const { name, site } = readSiteFile(text, file, realPath, problems, kinds);
      // Checked even for a site that cannot be built, and the duplicate is kept
      // so that its domains are checked too: every problem is reported at once.
      if (name !== undefined) {
        const owner = names.get(name);
        if (owner === undefined) names.set(name, file);
        else problems.push({ file, section: 'site', key: 'name', message: `site name "${name}" is already used by ${owner}` });
      }
      if (site !== undefined) sites.push({ ...site, sourceDigest: digestOf(text) });
    }
  }
  return { configDir, server, sites };
}

/**
 * Changes the site files found before they are read: `enable` and
 * `disable` check the tree they are about to make without touching the disk.
 */
export type SiteFilesChange = (found: readonly FoundFile[], globs: readonly string[]) => FoundFile[];

/** readTreeSteps, synchronously. */
export function readTree(configDir: string, problems: ConfigProblem[], kinds: readonly SiteKindReader[], adjust?: SiteFilesChange): ConfigTree {
  return runSync(readTreeSteps(configDir, problems, kinds, adjust));
}
