import type { ConfigProblem } from '../errors.js';
import { createConsoleLogger, type Logger } from '../logger.js';
import type { AnyRequest } from '../routing/request-host.js';
import type { AnyResponse } from '../respond.js';

/** The `access` logger: one line per request hostmux answers or hands to a site. */
export interface AccessLog {
  /**
   * Starts timing a request; its line is written when the response finishes
   * or the connection closes. `site` is the site's name, undefined when
   * hostmux answered on its own (400, 404).
   */
  begin(req: AnyRequest, res: AnyResponse, site: string | undefined): void;
}

/** The loggers of one configuration (logging.ini, or the defaults). */
export interface Logging {
  /** hostmux's own logger: `root`, or `options.logger` when given. */
  readonly root: Logger;
  /** The logger named `name` (`site.blog`), made on first use and cached. */
  logger(name: string): Logger;
  /** `undefined` when no handler would receive access lines (the default). */
  readonly access: AccessLog | undefined;
  /** What the configuration was read from; equal strings mean an unchanged configuration. */
  readonly fingerprint: string;
  /** Reopens every file destination (SIGHUP, for logrotate). */
  reopen(): void;
  /** Flushes and closes every file destination. Never rejects. */
  close(): Promise<void>;
}

/**
 * Reads logging.ini (`file`, relative to the config dir; undefined for the
 * defaults) and opens its destinations, pushing each problem onto `problems`.
 * `root` replaces the configured root logger.
 */
export function loadLogging(
  _configDir: string,
  _file: string | undefined,
  root: Logger | undefined,
  _problems: ConfigProblem[],
): Logging {
  const base = root ?? createConsoleLogger();
  const cache = new Map<string, Logger>();
  return {
    root: base,
    logger: (name) => {
      let logger = cache.get(name);
      if (logger === undefined) cache.set(name, (logger = base.child(name.startsWith('site.') ? { site: name.slice(5) } : { logger: name })));
      return logger;
    },
    access: undefined,
    fingerprint: '',
    reopen: () => {},
    close: () => Promise.resolve(),
  };
}
