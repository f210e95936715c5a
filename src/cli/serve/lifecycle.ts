import type { AddressInfo } from 'node:net';
import { createApplication, type Application, type ReloadResult } from '../../application.js';
import { describeError, loggableError } from '../../describe-error.js';
import { ConfigError, formatProblem } from '../../errors.js';
import { internalsOf } from '../../internal.js';
import type { Logger } from '../../logger.js';
import { TIMED_OUT, within } from '../../within.js';
import { plural, printProblems } from '../output.js';
import { writePidfile } from './pidfile.js';
import { urlOf, type ServeOptions } from './options.js';
import { CLOSE_BOUND_MS } from './timeouts.js';

/** `added blog; removed shop; 3 kept` */
export function describeReload(result: ReloadResult): string {
  const parts: string[] = [];
  for (const key of ['added', 'removed', 'reloaded'] as const) {
    if (result[key].length > 0) parts.push(`${key} ${result[key].join(', ')}`);
  }
  parts.push(`${result.kept.length} kept`);
  return parts.join('; ');
}

/**
 * Why a reload failed, on one line (a log record is one line): every problem
 * of a ConfigError, separated by `; `.
 */
export function describeReloadError(error: unknown): string {
  if (error instanceof ConfigError) {
    return `${plural(error.problems.length, 'configuration problem')}: ${error.problems.map(formatProblem).join('; ')}`;
  }
  return describeError(error);
}

export const RELOAD_FAILED = 'reload failed, the previous configuration keeps serving';

/** hostmux's configured root logger, as it is after the latest reload. */
export function loggerOf(app: Application): Logger {
  return internalsOf(app)!.logger;
}

/**
 * createApplication for `serve` and `match`: a configuration error is printed whole on
 * stderr (the logging it would configure is part of what failed) and gives
 * undefined.
 */
export function startApplication(configDir: string): Application | undefined {
  try {
    return createApplication(configDir);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    printProblems(configDir, error.problems);
    return undefined;
  }
}

/** Closes the sites within CLOSE_BOUND_MS; whether they did. Never rejects. */
export async function closeWithin(app: Application): Promise<'closed' | typeof TIMED_OUT | { failed: unknown }> {
  return within(app.close().then(() => 'closed' as const, (error: unknown) => ({ failed: error })), CLOSE_BOUND_MS);
}

export async function closeApplication(app: Application): Promise<void> {
  const outcome = await closeWithin(app);
  if (outcome === TIMED_OUT) loggerOf(app).warn(`sites did not close within ${CLOSE_BOUND_MS / 1000} s; exiting anyway`);
  else if (outcome !== 'closed') loggerOf(app).error({ err: loggableError(outcome.failed) }, 'closing the sites failed');
}

/**
 * Once serve listens: writes the pid file, then logs the address (`how`:
 * `in-process`, `2 workers`). Returns why the pid file could not be written
 * (nothing is logged then), else undefined.
 */
export function announceListening(app: Application, options: ServeOptions, address: AddressInfo, how: string, failed = 0): string | undefined {
  if (options.pidfile !== undefined) {
    try {
      writePidfile(options.pidfile);
    } catch (error) {
      return `cannot write the pid file: ${(error as Error).message}`;
    }
  }
  const sites = `${plural(app.sites.length, 'site')}${failed > 0 ? ` (${failed} failed to load)` : ''}`;
  loggerOf(app).info(`listening on ${urlOf(address)} (pid ${process.pid}, ${how}, ${sites})`);
  return undefined;
}
