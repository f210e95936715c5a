import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import type { ConfigProblem } from '../errors.js';
import { discoverSiteFiles } from './discover.js';
import { readConfigFile } from './read-file.js';
import { readServerSettings, type ServerSettings } from './server-conf.js';
import { readSiteFile, type SiteFile } from './site-file.js';

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

/**
 * Reads hostmux.conf and every enabled site file, pushing each problem found
 * onto `problems` rather than stopping at the first.
 */
export function readTree(configDir: string, problems: ConfigProblem[]): ConfigTree {
  try {
    if (!statSync(configDir).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    problems.push({ file: '.', message: `the configuration directory ${configDir} cannot be read: ${(err as Error).message}` });
    return { configDir, server: readServerSettings(configDir, []), sites: [] };
  }
  const server = readServerSettings(configDir, problems);
  const sites: TreeSite[] = [];
  const names = new Map<string, string>();
  for (const { file, realPath } of discoverSiteFiles(configDir, server.sites, problems)) {
    const text = readConfigFile(realPath, file, problems);
    if (text === undefined) continue;
    const { name, site } = readSiteFile(text, file, realPath, problems);
    // Checked even for a site that cannot be built, and the duplicate is kept
    // so that its domains are checked too: every problem is reported at once.
    if (name !== undefined) {
      const owner = names.get(name);
      if (owner === undefined) names.set(name, file);
      else problems.push({ file, section: 'site', key: 'name', message: `site name "${name}" is already used by ${owner}` });
    }
    if (site !== undefined) sites.push({ ...site, sourceDigest: digestOf(text) });
  }
  return { configDir, server, sites };
}
