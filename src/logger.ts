/**
 * A pino-style log method: `log(obj, msg)` or `log(msg)`.
 * @public
 */
export type LogFn = (objOrMsg: unknown, msg?: string) => void;

/**
 * The logger interface hostmux uses and hands to sites: any pino-compatible
 * logger fits (pino itself, Fastify's `fastify.log`).
 * @public
 */
export interface Logger {
  /** Logs a failure hostmux or a site could not recover from. */
  error: LogFn;
  /** Logs something an operator should look at. */
  warn: LogFn;
  /** Logs an ordinary event. */
  info: LogFn;
  /** Logs detail for debugging; the built-in logger drops it. */
  debug: LogFn;
  /** A logger that adds `bindings` to every record. */
  child(bindings: Record<string, unknown>): Logger;
}
