import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import type { ConfigProblem } from '../errors.js';

/** Why a path that should be a file cannot be opened, in words an operator acts on. */
export function unreadable(path: string, err: unknown): string {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    try {
      if (lstatSync(path).isSymbolicLink()) return `dangling symlink to "${readlinkSync(path)}"`;
    } catch {
      return 'no such file';
    }
  }
  return `cannot read the file: ${(err as Error).message}`;
}

/** Reads a file as UTF-8 (a byte order mark dropped); a failure becomes a problem and `undefined`. */
export function readConfigFile(path: string, file: string, problems: ConfigProblem[]): string | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    // Editors on Windows write a BOM, which would make the first line unreadable to ini.
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (err) {
    problems.push({ file, message: unreadable(path, err) });
    return undefined;
  }
}
