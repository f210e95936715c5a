import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';
import type { AnyRequest } from '../routing/request-host.js';
import type { AnyResponse } from '../respond.js';

/**
 * The loggers of the site's configuration: a site asks for `site.<name>`
 * when it first logs (most of 10,000 sites never do), so nothing per site
 * is made at load.
 */
export interface LoggerFactory {
  logger(name: string): Logger;
  /** Told of every error a site's logger logs: its last error, for the statistics. */
  readonly onSiteError?: (site: string, message: string) => void;
}

/** A site's own logger: `site.<name>`, binding `site` for filtering in a shared log. */
export function siteLogger(loggers: LoggerFactory, name: string): Logger {
  const logger = loggers.logger(`site.${name}`).child({ site: name });
  const noted = loggers.onSiteError;
  if (noted === undefined) return logger;
  return {
    error: (objOrMsg, msg) => {
      noted(name, typeof objOrMsg === 'string' ? objOrMsg : msg ?? '');
      logger.error(objOrMsg, msg);
    },
    warn: (objOrMsg, msg) => logger.warn(objOrMsg, msg),
    info: (objOrMsg, msg) => logger.info(objOrMsg, msg),
    debug: (objOrMsg, msg) => logger.debug(objOrMsg, msg),
    child: (bindings) => logger.child(bindings),
  };
}

/** Where a site is in loading: only a module site is ever other than `ready`. */
export type SiteState = 'idle' | 'loading' | 'ready' | 'failed';

/** What every kind of site does for the application. */
export interface Site {
  readonly name: string;
  /** Its kind's name (src/sites/index.ts lists the kinds). */
  readonly kind: string;
  /** The site file, relative to the config dir. */
  readonly file: string;
  /** Normalised domains and patterns. */
  readonly domains: readonly string[];
  /** Its load state. */
  readonly state: SiteState;
  /** The file of the site's own code (a module site's handler), when it has some. */
  readonly codePath?: string;
  handle(req: AnyRequest, res: AnyResponse): void;
  /**
   * Serves an HTTP upgrade the application routed here. A site that cannot
   * writes a complete HTTP/1.1 error response and closes the socket.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Loads what the site needs; resolves with why it failed, or undefined. Never rejects. */
  load(): Promise<string | undefined>;
  /** Releases what the site holds. Never rejects. */
  close(): Promise<void>;
}
