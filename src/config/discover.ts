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
export function isSiteFileName(name: string): boolean {
  return !name.startsWith('.') && name.endsWith('.ini');
}

/** Compares strings by their UTF-8 bytes, whatever the locale. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** `strings` in byte order, each encoded once (not twice per comparison: 10,000 files). */
function sortedByBytes(strings: Iterable<string>): string[] {
  return [...strings]
    .map((text) => ({ text, bytes: Buffer.from(text) }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map(({ text }) => text);
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
  // In one directory (the usual sites-enabled/*.ini), an entry's paths are its name after the base's.
  const prefix = recursive ? '' : `${fromConfigDir(configDir, base) || '.'}/`.replace(/^\.\//, '');
  for (const entry of entries) {
    // A directory the glob names is not skipped: as a site file it is unreadable, and reported.
    if (!recursive) {
      if (isMatch(entry.name)) found.push(prefix + entry.name);
      continue;
    }
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
  for (const file of sortedByBytes(paths)) {
    // configDir is absolute and `file` relative to it: join, which does not ask for the cwd each time.
    const absolute = join(configDir, file);
    try {
      found.push({ file, realPath: realpathSync.native(absolute) });
    } catch (err) {
      problems.push({ file, message: unreadable(absolute, err) });
    }
  }
  return found;
}
