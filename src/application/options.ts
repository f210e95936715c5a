import { InvalidOptionError } from '../errors.js';
import { unknownOptionMessage } from '../nearest-name.js';
import type { ApplicationOptions } from './types.js';

export function optionError(message: string): InvalidOptionError {
  return new InvalidOptionError(message);
}

/** The options `createApplication` knows; any other key is a mistake (`trustproxy`). */
const OPTION_NAMES: readonly (keyof ApplicationOptions)[] = ['defaultSite', 'trustProxy', 'logger'];

export function checkOptions(options: ApplicationOptions): void {
  if (typeof options !== 'object' || options === null) throw optionError('options must be an object');
  for (const key of Object.keys(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(key)) throw optionError(unknownOptionMessage(key, OPTION_NAMES));
  }
  const defaultSite = options.defaultSite;
  if (defaultSite !== undefined && defaultSite !== null && typeof defaultSite !== 'string') {
    throw optionError('options.defaultSite must be a site name, or null for none');
  }
  if (options.trustProxy !== undefined && typeof options.trustProxy !== 'boolean') {
    throw optionError('options.trustProxy must be true or false');
  }
  const logger = options.logger;
  if (logger !== undefined && (typeof logger?.error !== 'function' || typeof logger.child !== 'function')) {
    throw optionError('options.logger must be a pino-compatible logger');
  }
}
