// Describing what a site threw. A site may throw anything: a Proxy whose
// traps throw, an Error whose `stack` or `message` getter throws, an object
// whose `toString` throws. Describing such a value must never throw, or a
// site's failure would become the process's.

/** A thrown value as hostmux logs it: plain strings only, safe to serialise. */
export interface LoggableError {
  readonly type: string;
  readonly message: string;
  readonly stack?: string;
  /** The value's string `code` (`HOSTMUX_…`, `ECONNRESET`), when it has one. */
  readonly code?: string;
}

/** Reads `value[key]`, or undefined when reading it throws (a getter, a Proxy trap). */
function read(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** The constructor name of an object, or `'object'`; never throws. */
function typeOf(value: object): string {
  try {
    const name: unknown = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name !== '' ? name : 'object';
  } catch {
    return 'object';
  }
}

/** One line describing any thrown value: its message when it has one; never throws. */
export function describeError(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value !== 'object' && typeof value !== 'function') {
    try {
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a primitive here, which String() spells out
      return String(value);
    } catch {
      return typeof value;
    }
  }
  const message = read(value, 'message');
  if (typeof message === 'string') return message;
  return `a thrown ${typeOf(value)} with no message`;
}

/**
 * What to hand a logger as `err`: the value's type, message and stack, read
 * once each and copied as strings, so that the logger's serialiser touches
 * nothing of the site's. Never throws.
 */
export function loggableError(value: unknown): LoggableError {
  const message = describeError(value);
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    return keepType({ type: typeof value, message });
  }
  const stack = read(value, 'stack');
  const type = typeOf(value);
  const code = read(value, 'code');
  const loggable: { type: string; message: string; stack?: string; code?: string } = typeof stack === 'string' ? { type, message, stack } : { type, message };
  // Cut, as a code is a short name: a site's huge one must not make a huge line.
  if (typeof code === 'string') loggable.code = code.slice(0, 100);
  return keepType(loggable);
}

/**
 * pino's `err` serializer names the type after `constructor.name` (which
 * would say `Object`), else after `name`: hidden fields that make it say `type`.
 */
function keepType(loggable: LoggableError): LoggableError {
  return Object.defineProperties(loggable, { name: { value: loggable.type }, constructor: { value: undefined } });
}
