import type { ApplicationOptions } from './types.js';

export function optionError(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'HOSTMUX_INVALID_OPTION' });
}

export function checkOptions(options: ApplicationOptions): void {
  if (typeof options !== 'object' || options === null) throw optionError('options must be an object');
  if (options.defaultSite !== undefined && typeof options.defaultSite !== 'string') {
    throw optionError('options.defaultSite must be a site name');
  }
  if (options.trustProxy !== undefined && typeof options.trustProxy !== 'boolean') {
    throw optionError('options.trustProxy must be true or false');
  }
  const logger = options.logger;
  if (logger !== undefined && (typeof logger?.error !== 'function' || typeof logger.child !== 'function')) {
    throw optionError('options.logger must be a pino-compatible logger');
  }
}
