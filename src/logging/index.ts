import type { ConfigProblem } from '../errors.js';
import type { Logger } from '../logger.js';
import { AccessLogger, type AccessLog } from './access.js';
import { readLoggingConfig, type LoggingConfig } from './config.js';
import { DEFAULT_DESTINATION, Destinations } from './destinations.js';
import { ACCESS_LOGGER } from './format.js';
import { Loggers, type Sink } from './loggers.js';

export type { AccessLog } from './access.js';

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

const DEFAULT_SINK: Sink = { format: 'text', destination: DEFAULT_DESTINATION };
const NO_CONFIG: LoggingConfig = { loggers: new Map(), handlers: new Map() };

/** Without logging.ini, a given logger is used as it is: its own level decides, as before logging.ini existed. */
function givenLogging(root: Logger): Logging {
  const cache = new Map<string, Logger>();
  return {
    root,
    logger: (name) => {
      let logger = cache.get(name);
      if (logger === undefined) cache.set(name, (logger = root.child({ logger: name })));
      return logger;
    },
    access: undefined,
    fingerprint: '',
    reopen: () => {},
    close: () => Promise.resolve(),
  };
}

/**
 * What makes two configurations differ: the settings as read, after `${VAR}`
 * expansion and with destinations resolved, so that a comment does not
 * reload every site but a changed variable does.
 */
function fingerprintOf(config: LoggingConfig): string {
  return JSON.stringify({
    loggers: [...config.loggers.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
    handlers: [...config.handlers.values()]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map(({ name, destination, format }) => ({ name, destination, format })),
  });
}

/**
 * Reads logging.ini (`file`, relative to the config dir; undefined for the
 * defaults) and opens its destinations, pushing each problem onto `problems`.
 * `root` replaces the configured root logger. Always returns something to
 * `close()`, problems or not.
 */
export function loadLogging(
  configDir: string,
  file: string | undefined,
  root: Logger | undefined,
  problems: ConfigProblem[],
): Logging {
  if (file === undefined && root !== undefined) return givenLogging(root);
  return openLogging(file, file === undefined ? undefined : readLoggingConfig(configDir, file, problems), root, problems);
}

/** loadLogging with logging.ini already read (`config`; undefined for the defaults or an unreadable file). */
export function openLogging(
  file: string | undefined,
  read: LoggingConfig | undefined,
  root: Logger | undefined,
  problems: ConfigProblem[],
): Logging {
  if (file === undefined && root !== undefined) return givenLogging(root);
  const config = read ?? NO_CONFIG;

  const destinations = new Destinations();
  const sinks = new Map<string, Sink>();
  // Every handler is opened, used or not, so that a mistyped path is reported whatever refers to it.
  for (const handler of config.handlers.values()) {
    const destination = destinations.open(handler.destination);
    if (typeof destination === 'string') {
      problems.push({ file: file!, section: `handler:${handler.name}`, key: 'destination', line: handler.line, message: destination });
    } else {
      sinks.set(handler.name, { format: handler.format, destination });
    }
  }
  const loggers = new Loggers(config, (name) => sinks.get(name), DEFAULT_SINK, root);
  const configured = config !== NO_CONFIG;
  let closing: Promise<void> | undefined;
  return {
    root: loggers.get('root'),
    logger: (name) => loggers.get(name),
    // Without logging.ini there is no access log (README: Logging); with logging.ini, `access` is a logger like any other.
    access: configured && loggers.infoReachesAHandler(ACCESS_LOGGER) ? new AccessLogger(loggers.get(ACCESS_LOGGER)) : undefined,
    fingerprint: configured ? fingerprintOf(config) : '',
    reopen: () => destinations.reopen(),
    close: () => (closing ??= destinations.close().catch(() => {})),
  };
}
