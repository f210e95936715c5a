import { dirname, isAbsolute, join, normalize } from 'node:path';
import type { SiteFile, SiteFileBase, SiteSection } from '../../config/site-file.js';
import { MAX_TIMEOUT_SECONDS, parseSeconds } from '../../config/values.js';

export interface ModuleSiteFile extends SiteFile {
  readonly kind: 'module';
  /** Absolute path of the module. */
  readonly handler: string;
  /** `load_timeout`, in milliseconds: how long a load may take before the site answers 503. */
  readonly loadTimeout: number;
  /** `load_queue`: how many requests and upgrades may wait for the load. */
  readonly loadQueue: number;
}

/** `load_queue`'s bounds: 0 refuses every request that would wait. */
const MAX_LOAD_QUEUE = 1_000_000;

/** Parses `load_queue`: a whole number from 0 to MAX_LOAD_QUEUE. */
function parseQueue(text: string): number | undefined {
  if (!/^\d{1,7}$/.test(text)) return undefined;
  const count = Number(text);
  return count <= MAX_LOAD_QUEUE ? count : undefined;
}

/** `handler =`, `load_timeout`, `load_queue`: a module site; the handler is relative to the site file's real directory. */
export function readModuleSite(section: SiteSection, base: SiteFileBase): ModuleSiteFile | undefined {
  const handler = section.scalar('handler');
  if (handler === '') section.problem('handler', 'is empty');
  const timeoutText = section.scalar('load_timeout') ?? '30';
  const loadTimeout = parseSeconds(timeoutText);
  if (loadTimeout === undefined) {
    section.problem('load_timeout', `"${timeoutText}" is not a positive number of seconds (at most ${MAX_TIMEOUT_SECONDS})`);
  }
  const queueText = section.scalar('load_queue') ?? '1000';
  const loadQueue = parseQueue(queueText);
  if (loadQueue === undefined) {
    section.problem('load_queue', `"${queueText}" is not a whole number from 0 to ${MAX_LOAD_QUEUE}`);
  }
  if (handler !== undefined && handler !== '' && loadTimeout !== undefined && loadQueue !== undefined) {
    const path = isAbsolute(handler) ? normalize(handler) : join(dirname(section.realPath), handler);
    return { ...base, kind: 'module', handler: path, loadTimeout, loadQueue };
  }
  return undefined;
}
