import { realpath } from 'node:fs/promises';
import type { SiteKindDescriptor } from '../kind.js';
import { StaticSite } from './static-site.js';
import { readStaticSite, type StaticSiteFile } from './settings.js';

const NOTHING: readonly string[] = Object.freeze([]);

/** Whether `root` still resolves to `realRoot` (a switched symlink does not). */
async function sameRoot(root: string, realRoot: string): Promise<boolean> {
  try {
    return (await realpath(root)) === realRoot;
  } catch {
    return false;
  }
}

/** `root = ./public`: files under one directory. */
export const staticKind: SiteKindDescriptor<StaticSiteFile> = {
  kind: 'static',
  key: 'root',
  keys: ['index', 'fallback', 'cache_control', 'follow_symlinks'],
  read: readStaticSite,
  create: (file, domains) => new StaticSite(file, domains),
  // Files are read on each request: the site is kept while its root resolves
  // to the same directory (a switched `current -> release` link makes it anew).
  keeps: (site, file) => sameRoot(file.root, (site as StaticSite).realRoot),
  // Nothing besides the site file: content under root needs no reload.
  watched: () => NOTHING,
};
