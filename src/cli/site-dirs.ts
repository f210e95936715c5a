import { lstatSync, readdirSync, realpathSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { byteOrder, isSiteFileName } from '../config/discover.js';

export const AVAILABLE = 'sites-available';
export const ENABLED = 'sites-enabled';

/** Site file names in a directory, in byte order; none when it does not exist. */
export function siteFileNames(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names.filter(isSiteFileName).sort(byteOrder);
}

export function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** The file names of a site name as `enable` and `disable` take it (`blog` or `blog.ini`). */
export function siteFiles(configDir: string, name: string): { available: string; enabled: string } {
  const file = `${name}.ini`;
  return { available: join(configDir, AVAILABLE, file), enabled: join(configDir, ENABLED, file) };
}
