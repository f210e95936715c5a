import type { Dirent } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import type { ConfigProblem } from '../errors.js';
import { whyUnopenable } from './read-file.js';
import { SERVER_FILE } from './server-conf.js';
import { each, fsStep, perform, type Steps } from './steps.js';

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

/** How many paths a reload resolves at once. */
const REALPATH_CONCURRENCY = 64;

/** `path` relative to the config dir, with `/` separators. */
function fromConfigDir(configDir: string, path: string): string {
  return relative(configDir, path).split(sep).join('/');
}

/**
 * A path (relative to the config dir) a glob names, and the directory it
 * was listed in when it is no symlink: its real path is then that
 * directory's, plus its name (one realpath per directory, not per file).
 */
interface Named {
  readonly file: string;
  readonly dir?: string;
}

/** Paths that one glob names; a glob may also be absolute. */
function* expandGlob(configDir: string, glob: string, problems: ConfigProblem[]): Steps<Named[]> {
  const scan = picomatch.scan(glob);
  if (!scan.isGlob) {
    if (isSiteFileName(basename(glob))) return [{ file: fromConfigDir(configDir, resolve(configDir, glob)) }];
    problems.push({ file: SERVER_FILE, section: 'server', key: 'sites', message: `"${glob}" is neither a glob nor an .ini file` });
    return [];
  }
  const base = resolve(configDir, scan.base);
  const recursive = scan.glob.includes('/') || scan.glob.includes('**');
  let entries: Dirent[];
  try {
    entries = yield* perform(fsStep.readdir(base, recursive));
  } catch (err) {
    // Blame the directory: hostmux.conf may not exist when the default glob is in use.
    problems.push({ file: fromConfigDir(configDir, base) || '.', message: `cannot list the directory for the sites glob "${glob}": ${(err as Error).message}` });
    return [];
  }
  const isMatch = picomatch(scan.glob);
  const found: Named[] = [];
  // In one directory (the usual sites-enabled/*.ini), an entry's paths are its name after the base's.
  const prefix = recursive ? '' : `${fromConfigDir(configDir, base) || '.'}/`.replace(/^\.\//, '');
  for (const entry of entries) {
    // A directory the glob names is not skipped: as a site file it is unreadable, and reported.
    if (!recursive) {
      if (isMatch(entry.name)) found.push({ file: prefix + entry.name, ...(entry.isSymbolicLink() ? {} : { dir: base }) });
      continue;
    }
    const dir = entry.parentPath ?? entry.path;
    const path = join(dir, entry.name);
    if (isMatch(relative(base, path).split(sep).join('/'))) found.push({ file: fromConfigDir(configDir, path), ...(entry.isSymbolicLink() ? {} : { dir }) });
  }
  return found;
}

/**
 * Finds the site files: every file the `sites` globs name whose name ends in
 * `.ini` (dotfiles skipped), in byte order of their paths. A dangling
 * symlink is a problem.
 */
export function* discoverSiteFiles(configDir: string, globs: readonly string[], problems: ConfigProblem[]): Steps<FoundFile[]> {
  const paths = new Map<string, string | undefined>();
  for (const glob of globs) {
    if (glob === '') continue;
    for (const { file, dir } of yield* expandGlob(configDir, glob, problems)) {
      if (isSiteFileName(file.slice(file.lastIndexOf('/') + 1)) && !paths.has(file)) paths.set(file, dir);
    }
  }
  const dirs = [...new Set(paths.values())].filter((dir) => dir !== undefined);
  const realDirs = yield* each(dirs, REALPATH_CONCURRENCY, function* (dir): Steps<string | undefined> {
    try {
      return yield* perform(fsStep.realpath(dir));
    } catch {
      return undefined;
    }
  });
  const realDir = new Map(dirs.map((dir, i) => [dir, realDirs[i]]));
  const files = sortedByBytes(paths.keys());
  // What a directory's real path gives is known at once; only the others (symlinks) are resolved one by one.
  const known = files.map((file) => {
    const dir = realDir.get(paths.get(file)!);
    return dir === undefined ? undefined : join(dir, file.slice(file.lastIndexOf('/') + 1));
  });
  const unknown = files.filter((_file, i) => known[i] === undefined);
  const resolved = yield* each(unknown, REALPATH_CONCURRENCY, function* (file): Steps<{ realPath: string } | { problem: string }> {
    // configDir is absolute and `file` relative to it: join, which does not ask for the cwd each time.
    const absolute = join(configDir, file);
    try {
      return { realPath: yield* perform(fsStep.realpath(absolute)) };
    } catch (err) {
      return { problem: yield* whyUnopenable(absolute, err) };
    }
  });
  const found: FoundFile[] = [];
  let next = 0;
  files.forEach((file, i) => {
    const realPath = known[i];
    const result = realPath === undefined ? resolved[next++]! : { realPath };
    if ('problem' in result) problems.push({ file, message: result.problem });
    else found.push({ file, realPath: result.realPath });
  });
  return found;
}
