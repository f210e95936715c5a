import { readdirSync, realpathSync, type Dirent } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import type { ConfigProblem } from '../errors.js';
import { unreadable } from './read-file.js';
import { SERVER_FILE } from './server-conf.js';

/** A site file found by the `sites` globs. */
export interface FoundFile {
  /** Relative to the config dir, with `/` separators. */
  readonly file: string;
  /** The real path after following symlinks. */
  readonly realPath: string;
}

/**
 * A site file's name ends in `.ini` and does not start with a dot. That rule
 * alone skips editor leftovers and package-manager copies (`blog.ini~`,
 * `.blog.ini.swp`, `blog.ini.bak`, `blog.ini.dpkg-old`).
 */
function isSiteFileName(name: string): boolean {
  return !name.startsWith('.') && name.endsWith('.ini');
}

/** Compares strings by their UTF-8 bytes, whatever the locale. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** `path` relative to the config dir, with `/` separators. */
function fromConfigDir(configDir: string, path: string): string {
  return relative(configDir, path).split(sep).join('/');
}

/** Paths (relative to the config dir) that one glob names; a glob may also be absolute. */
function expandGlob(configDir: string, glob: string, problems: ConfigProblem[]): string[] {
  const scan = picomatch.scan(glob);
  if (!scan.isGlob) {
    if (isSiteFileName(basename(glob))) return [fromConfigDir(configDir, resolve(configDir, glob))];
    problems.push({ file: SERVER_FILE, section: 'server', key: 'sites', message: `"${glob}" is neither a glob nor an .ini file` });
    return [];
  }
  const base = resolve(configDir, scan.base);
  const recursive = scan.glob.includes('/') || scan.glob.includes('**');
  let entries: Dirent[];
  try {
    entries = readdirSync(base, { withFileTypes: true, recursive });
  } catch (err) {
    // Blame the directory: hostmux.conf may not exist when the default glob is in use.
    problems.push({ file: fromConfigDir(configDir, base) || '.', message: `cannot list the directory for the sites glob "${glob}": ${(err as Error).message}` });
    return [];
  }
  const isMatch = picomatch(scan.glob);
  const found: string[] = [];
  for (const entry of entries) {
    // A directory the glob names is not skipped: as a site file it is unreadable, and reported.
    const path = join(entry.parentPath ?? entry.path, entry.name);
    if (isMatch(relative(base, path).split(sep).join('/'))) found.push(fromConfigDir(configDir, path));
  }
  return found;
}

/**
 * Finds the site files: every file the `sites` globs name whose name ends in
 * `.ini` (dotfiles skipped), in byte order of their paths. A dangling
 * symlink is a problem.
 */
export function discoverSiteFiles(configDir: string, globs: readonly string[], problems: ConfigProblem[]): FoundFile[] {
  const paths = new Set<string>();
  for (const glob of globs) {
    if (glob === '') continue;
    for (const path of expandGlob(configDir, glob, problems)) {
      if (isSiteFileName(path.slice(path.lastIndexOf('/') + 1))) paths.add(path);
    }
  }
  const found: FoundFile[] = [];
  for (const file of [...paths].sort(byteOrder)) {
    const absolute = resolve(configDir, file);
    try {
      found.push({ file, realPath: realpathSync.native(absolute) });
    } catch (err) {
      problems.push({ file, message: unreadable(absolute, err) });
    }
  }
  return found;
}
