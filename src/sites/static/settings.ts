import { realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import type { SiteFile, SiteFileBase, SiteSection } from '../../config/site-file.js';
import { parseBoolean } from '../../config/server-conf.js';
import { quote } from '../../errors.js';

export interface StaticSiteFile extends SiteFile {
  readonly kind: 'static';
  /** `root` as written, made absolute (relative to the site file's real directory). */
  readonly root: string;
  /** The root's real path when the tree was read: every file served is inside it. */
  readonly realRoot: string;
  /** The file served for a directory; false for none. */
  readonly index: string | false;
  /** Path of the fallback file relative to the root (`/index.html`), or undefined. */
  readonly fallback: string | undefined;
  /** The `Cache-Control` value sent with files, or undefined for none. */
  readonly cacheControl: string | undefined;
  readonly followSymlinks: boolean;
}

// Visible ASCII and inner spaces: what a header value may be, with nothing to escape.
const HEADER_VALUE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
// One path segment: no separator, no NUL, not hidden (dotfiles are never served).
const FILE_NAME = /^[^/\\\0.][^/\\\0]*$/;

/** The real directory `path` names, or why it is none. */
function realDirectory(path: string): { real: string } | { why: string } {
  try {
    if (!statSync(path).isDirectory()) return { why: 'is not a directory' };
    return { real: realpathSync.native(path) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { why: code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : `cannot be read (${code ?? 'error'})` };
  }
}

/** `fallback`'s segments, each a plain file or directory name (no `.`, `..`, dotfile or empty one). */
function fallbackPath(text: string): string | undefined {
  const segments = text.replace(/^\/+/, '').split('/');
  return segments.every((segment) => FILE_NAME.test(segment)) ? `/${segments.join('/')}` : undefined;
}

/**
 * `root =`, `index`, `fallback`, `cache_control`, `follow_symlinks`: a static
 * site. The root is relative to the site file's real directory, like
 * `handler`, and must be a directory when the tree is read.
 */
export function readStaticSite(section: SiteSection, base: SiteFileBase): StaticSiteFile | undefined {
  let ok = true;
  const problem = (key: string, message: string) => {
    section.problem(key, message);
    ok = false;
  };

  const rootText = section.scalar('root');
  let root = '';
  let realRoot = '';
  if (rootText === '') problem('root', 'is empty');
  else if (rootText !== undefined) {
    root = isAbsolute(rootText) ? normalize(rootText) : join(dirname(section.realPath), rootText);
    const found = realDirectory(root);
    if ('why' in found) problem('root', `${quote(rootText)} ${found.why}`);
    else realRoot = found.real;
  }

  const indexText = section.scalar('index') ?? 'index.html';
  if (indexText !== '' && !FILE_NAME.test(indexText)) {
    problem('index', `${quote(indexText)} is not a file name (no "/", "\\" or leading ".")`);
  }

  const fallbackText = section.scalar('fallback');
  const fallback = fallbackText === undefined ? undefined : fallbackPath(fallbackText);
  if (fallbackText !== undefined && fallback === undefined) {
    problem('fallback', `${quote(fallbackText)} is not a path inside root (no "..", "\\", empty or hidden segment)`);
  } else if (fallback !== undefined && realRoot !== '') {
    let isFile = false;
    try {
      isFile = statSync(join(realRoot, fallback)).isFile();
    } catch {
      // Reported below.
    }
    if (!isFile) problem('fallback', `${quote(fallbackText!)} is not a file in root`);
  }

  const cacheControl = section.scalar('cache_control');
  if (cacheControl !== undefined && !HEADER_VALUE.test(cacheControl)) {
    problem('cache_control', cacheControl === '' ? 'is empty' : `${quote(cacheControl)} is not a header value (printable ASCII)`);
  }

  const followText = section.scalar('follow_symlinks') ?? 'false';
  const followSymlinks = parseBoolean(followText);
  if (followSymlinks === undefined) problem('follow_symlinks', `${quote(followText)} is not true or false`);

  if (!ok || rootText === undefined) return undefined;
  return {
    ...base,
    kind: 'static',
    root,
    realRoot,
    index: indexText === '' ? false : indexText,
    fallback,
    cacheControl,
    followSymlinks: followSymlinks === true,
  };
}
