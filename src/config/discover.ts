import { lstatSync, readdirSync, readlinkSync, realpathSync, type Dirent } from 'node:fs';
import { join, relative, sep } from 'node:path';
import picomatch from 'picomatch';
import type { ConfigProblem } from '../errors.js';

/** A site file found by the `sites` globs. */
export interface FoundFile {
  /** Relative to the config dir, with `/` separators. */
  readonly file: string;
  /** The real path after following symlinks. */
  readonly realPath: string;
}

/** Editor leftovers and package-manager copies, as nginx/Apache users expect them skipped. */
const JUNK = /(~|\.swp|\.bak|\.dpkg-[a-z]+)$/;

function isSiteFileName(name: string): boolean {
  return !name.startsWith('.') && name.endsWith('.ini') && !JUNK.test(name);
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Paths (relative to the config dir) that one glob names. */
function expandGlob(configDir: string, glob: string, problems: ConfigProblem[]): string[] {
  const scan = picomatch.scan(glob);
  if (!scan.isGlob) return [glob];
  const base = scan.base;
  const recursive = scan.glob.includes('/') || scan.glob.includes('**');
  let entries: Dirent[];
  try {
    entries = readdirSync(join(configDir, base), { withFileTypes: true, recursive });
  } catch (err) {
    // Blame the directory: hostmux.conf may not exist when the default glob is in use.
    problems.push({ file: base || '.', message: `cannot list the directory for the sites glob "${glob}": ${(err as Error).message}` });
    return [];
  }
  const isMatch = picomatch(scan.glob);
  const found: string[] = [];
  for (const entry of entries) {
    // A directory the glob names is not skipped: as a site file it is unreadable, and reported.
    const path = relative(join(configDir, base), join(entry.parentPath ?? entry.path, entry.name)).split(sep).join('/');
    if (isMatch(path)) found.push(base === '' ? path : `${base}/${path}`);
  }
  return found;
}

/**
 * Finds the site files: every file the `sites` globs name whose name ends in
 * `.ini`, dotfiles and editor leftovers skipped, in byte order of their
 * paths. A dangling symlink is a problem.
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
    const absolute = join(configDir, file);
    try {
      found.push({ file, realPath: realpathSync.native(absolute) });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      let message = `cannot resolve the file: ${(err as Error).message}`;
      if (code === 'ENOENT') {
        try {
          if (lstatSync(absolute).isSymbolicLink()) message = `dangling symlink to "${readlinkSync(absolute)}"`;
        } catch {
          message = 'no such file';
        }
      }
      problems.push({ file, message });
    }
  }
  return found;
}
