import { readFileSync } from 'node:fs';
import type { ConfigProblem } from '../errors.js';

/** Reads a file as UTF-8; a failure becomes a problem and `undefined`. */
export function readConfigFile(path: string, file: string, problems: ConfigProblem[]): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    problems.push({ file, message: `cannot read the file: ${(err as Error).message}` });
    return undefined;
  }
}
