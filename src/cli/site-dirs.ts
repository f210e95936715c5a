// The two site directories and the file checks list, enable, disable and
// init share. Node built-ins only: --help imports it.
import { lstatSync, realpathSync, type Stats } from 'node:fs';
import { join } from 'node:path';

export const AVAILABLE = 'sites-available';
export const ENABLED = 'sites-enabled';

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
