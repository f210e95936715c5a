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

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

function describe(bindings: Record<string, unknown>): string {
  return Object.entries(bindings)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(' ');
}

/**
 * The built-in logger: `info` and above, one text line per record, to stderr.
 * Errors under `err` are printed with their stack.
 */
export function createConsoleLogger(bindings: Record<string, unknown> = {}): Logger {
  const prefix = describe(bindings);
  const write = (level: Level) => (objOrMsg: unknown, msg?: string) => {
    if (level === 'debug') return;
    let text = typeof objOrMsg === 'string' ? objOrMsg : (msg ?? '');
    let stack = '';
    if (objOrMsg !== null && typeof objOrMsg === 'object') {
      const { err, ...rest } = objOrMsg as Record<string, unknown>;
      const extra = describe(rest);
      if (extra) text += ` (${extra})`;
      if (err instanceof Error) stack = `\n${err.stack ?? err.message}`;
    }
    process.stderr.write(
      `${new Date().toISOString()} ${level.toUpperCase()}${prefix ? ` ${prefix}` : ''}: ${text}${stack}\n`,
    );
  };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (more) => createConsoleLogger({ ...bindings, ...more }),
  };
}
