import { readFileSync } from 'node:fs';
import type { ConfigProblem } from '../errors.js';

/** Reads a file as UTF-8 (a byte order mark dropped); a failure becomes a problem and `undefined`. */
export function readConfigFile(path: string, file: string, problems: ConfigProblem[]): string | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    // Editors on Windows write a BOM, which would make the first line unreadable to ini.
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (err) {
    problems.push({ file, message: `cannot read the file: ${(err as Error).message}` });
    return undefined;
  }
}
