/**
 * One problem found in the configuration tree.
 * @public
 */
export interface ConfigProblem {
  /** The file, relative to the configuration directory (`sites-enabled/blog.ini`). */
  readonly file: string;
  /** The INI section the problem is in, when it is in one. */
  readonly section?: string;
  /** The key the problem is about, when it is about one. */
  readonly key?: string;
  /** The 1-based line number, when the problem is about one line. */
  readonly line?: number;
  /** What is wrong, as a sentence. */
  readonly message: string;
}

/**
 * One site whose module could not be loaded.
 * @public
 */
export interface SiteLoadProblem {
  /** The site's name. */
  readonly site: string;
  /** The site file, relative to the configuration directory. */
  readonly file: string;
  /** Why it failed, naming the module. */
  readonly message: string;
}

/** One problem as `file:line [section] key: message` (the command prints them so too). */
export function formatProblem(problem: ConfigProblem): string {
  let where = problem.file;
  if (problem.line !== undefined) where += `:${problem.line}`;
  if (problem.section !== undefined) where += ` [${problem.section}]`;
  if (problem.key !== undefined) where += ` ${problem.key}`;
  return `${where}: ${problem.message}`;
}

/** How much of a configured value a problem message quotes. */
const QUOTED_LENGTH = 100;

/**
 * A configured value for a problem message: in double quotes, cut to 100
 * characters with `…`, so that a huge value (a 1 MB domain) does not make a
 * huge message.
 */
export function quote(value: string): string {
  return `"${value.length > QUOTED_LENGTH ? `${value.slice(0, QUOTED_LENGTH)}…` : value}"`;
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * The brand every hostmux error carries (its getter returns the code), under
 * a registry symbol, so that `instanceof` and `isHostmuxError` recognise an
 * error made by another copy of hostmux (a site that bundles its own).
 */
const BRAND = Symbol.for('hostmux.error');

/** The code of a hostmux error, or undefined; reading it never throws (a Proxy's trap may). */
function brandOf(value: unknown): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  try {
    return (value as { [BRAND]?: unknown })[BRAND];
  } catch {
    return undefined;
  }
}

/**
 * `instanceof` for a hostmux error class, by brand: `HostmuxError` takes any
 * hostmux error, a family's class takes its own code.
 */
function isInstance(family: unknown, value: unknown): boolean {
  const code = brandOf(value);
  return typeof code === 'string' && (family === undefined || family === code);
}

function brand(prototype: object): void {
  Object.defineProperty(prototype, BRAND, {
    get(this: { code: string }) {
      return this.code;
    },
  });
}

/**
 * Every error hostmux throws, rejects with or logs as its own, by code.
 * Narrow on `code` after `isHostmuxError(err)`, or with `instanceof`.
 * @public
 */
export interface HostmuxErrorMap {
  /** A bad argument or option of `createApplication` or the Fastify plugin. */
  HOSTMUX_INVALID_OPTION: InvalidOptionError;
  /** Every problem of a configuration tree. */
  HOSTMUX_CONFIG: ConfigError;
  /** Site modules that failed to load, from `app.ready()`. */
  HOSTMUX_SITE_LOAD: SiteLoadError;
  /** `app.reload()` after `app.close()`. */
  HOSTMUX_CLOSED: ClosedError;
  /** The client went away mid-exchange. */
  HOSTMUX_CLIENT_GONE: ClientGoneError;
  /** A proxy site's upstream broke an upgrade's protocol. */
  HOSTMUX_UPSTREAM: UpstreamError;
  /** A proxy site's upstream did not answer an upgrade in time. */
  HOSTMUX_UPSTREAM_TIMEOUT: UpstreamTimeoutError;
  /** A fetch-style site's `fetch()` did not give a `Response`. */
  HOSTMUX_BAD_RESPONSE: BadResponseError;
}

/**
 * The `code` of a hostmux error: `'HOSTMUX_CONFIG'`, `'HOSTMUX_SITE_LOAD'`, …
 * @public
 */
export type HostmuxErrorCode = keyof HostmuxErrorMap;

/**
 * The base class of hostmux's errors: each family is a subclass with its
 * own `code`. `instanceof` works by a `Symbol.for` brand, so it holds for an
 * error made by another copy of hostmux too. `InvalidOptionError` is a
 * `TypeError`, as Node's own argument errors are, and is recognised here
 * by its brand.
 * @public
 */
export class HostmuxError extends Error {
  /** The family's code, for `instanceof`; undefined here, which takes every code. */
  static readonly code: HostmuxErrorCode | undefined = undefined;
  /** Which error this is: match on it, never on the message. */
  declare readonly code: HostmuxErrorCode;

  /** Whether `value` is a hostmux error of this class's family (of any, for `HostmuxError`). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isInstance(this.code, value);
  }

  /**
   * @param code - the family's code
   * @param message - what happened, as a sentence
   * @param options - `cause`, when another error led to this one
   */
  protected constructor(code: HostmuxErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    Object.defineProperty(this, 'code', { value: code, enumerable: true, configurable: true });
  }
}
brand(HostmuxError.prototype);

/**
 * Whether `value` is an error hostmux made (by any copy of hostmux), and,
 * given `code`, one of that family. Under strict TypeScript a `catch`
 * binding is `unknown`: this narrows it, `code` and `problems` included.
 *
 * @example
 * ```ts
 * try {
 *   createApplication('/etc/hostmux');
 * } catch (err) {
 *   if (!isHostmuxError(err, 'HOSTMUX_CONFIG')) throw err;
 *   for (const p of err.problems) console.error(p.file, p.key, p.message);
 * }
 * ```
 * @public
 */
export function isHostmuxError(value: unknown): value is HostmuxErrorMap[HostmuxErrorCode];
/**
 * Whether `value` is a hostmux error with this `code` (of any copy of
 * hostmux); narrows it to that family's class.
 * @public
 */
export function isHostmuxError<C extends HostmuxErrorCode>(value: unknown, code: C): value is HostmuxErrorMap[C];
export function isHostmuxError(value: unknown, code?: HostmuxErrorCode): boolean {
  return isInstance(code, value);
}

/**
 * A bad argument or option of `createApplication` or of the Fastify plugin:
 * a wrong type, an unknown option (named, with the nearest known one), or a
 * `defaultSite` that names no enabled site. A `TypeError`, as Node's own
 * argument errors are; `instanceof HostmuxError` holds too.
 * @public
 */
export class InvalidOptionError extends TypeError {
  /** `instanceof` takes this code. */
  static readonly code = 'HOSTMUX_INVALID_OPTION';
  /** Always `'HOSTMUX_INVALID_OPTION'`. */
  declare readonly code: 'HOSTMUX_INVALID_OPTION';

  /** Whether `value` is an `InvalidOptionError` (of any copy of hostmux). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isInstance(this.code, value);
  }

  /**
   * @param message - which option, and what is wrong with it
   */
  constructor(message: string) {
    super(message);
    Object.defineProperty(this, 'code', { value: InvalidOptionError.code, enumerable: true, configurable: true });
  }
}
brand(InvalidOptionError.prototype);

/**
 * Every problem of a configuration tree, thrown together so that nothing is
 * half-loaded. Match on `code`, not on the message.
 *
 * @example
 * ```ts
 * try {
 *   createApplication('/etc/hostmux');
 * } catch (err) {
 *   if (!(err instanceof ConfigError)) throw err;
 *   for (const p of err.problems) console.error(p.file, p.key, p.message);
 * }
 * ```
 * @public
 */
export class ConfigError extends HostmuxError {
  /** `instanceof` takes this code. */
  static override readonly code = 'HOSTMUX_CONFIG';
  /** Always `'HOSTMUX_CONFIG'`. */
  declare readonly code: 'HOSTMUX_CONFIG';
  /** Every problem found, in file order. */
  readonly problems: readonly ConfigProblem[];

  /**
   * @param problems - every problem found in the tree (at least one)
   */
  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  ${formatProblem(p)}`);
    super(ConfigError.code, `${plural(problems.length, 'configuration problem')}:\n${lines.join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Thrown (as a rejection) by `app.ready()` when one or more site modules fail
 * to load. The other sites are loaded and serve.
 * @public
 */
export class SiteLoadError extends HostmuxError {
  /** `instanceof` takes this code. */
  static override readonly code = 'HOSTMUX_SITE_LOAD';
  /** Always `'HOSTMUX_SITE_LOAD'`. */
  declare readonly code: 'HOSTMUX_SITE_LOAD';
  /** One entry per site that failed. */
  readonly problems: readonly SiteLoadProblem[];

  /**
   * @param problems - one entry per site that failed (at least one)
   */
  constructor(problems: readonly SiteLoadProblem[]) {
    const lines = problems.map((p) => `  ${p.site} (${p.file}): ${p.message}`);
    super(SiteLoadError.code, `${plural(problems.length, 'site')} failed to load:\n${lines.join('\n')}`);
    this.name = 'SiteLoadError';
    this.problems = problems;
  }
}

/**
 * `app.reload()` was called after `app.close()` (as a rejection).
 * @public
 */
export class ClosedError extends HostmuxError {
  /** `instanceof` takes this code. */
  static override readonly code = 'HOSTMUX_CLOSED';
  /** Always `'HOSTMUX_CLOSED'`. */
  declare readonly code: 'HOSTMUX_CLOSED';

  constructor() {
    super(ClosedError.code, 'the application is closed');
    this.name = 'ClosedError';
  }
}

/**
 * The client went away before its exchange was complete. A fetch-style site
 * reading `request.body` gets it when the client leaves mid-upload; a proxy
 * site aborts its upstream request with it (logged at debug level).
 * @public
 */
export class ClientGoneError extends HostmuxError {
  /** `instanceof` takes this code. */
  static override readonly code = 'HOSTMUX_CLIENT_GONE';
  /** Always `'HOSTMUX_CLIENT_GONE'`. */
  declare readonly code: 'HOSTMUX_CLIENT_GONE';

  /**
   * @param message - what was cut short
   * @param options - `cause`: Node's own error for it, when there is one
   */
  constructor(message: string, options?: ErrorOptions) {
    super(ClientGoneError.code, message, options);
    this.name = 'ClientGoneError';
  }
}

/**
 * A proxy site's upstream broke the protocol of an upgrade (closed the
 * connection before or during its answer, or answered 101 without
 * `Upgrade`); it is logged with the `502` or the cut connection.
 * @public
 */
export class UpstreamError extends HostmuxError {
  /** `instanceof` takes this code. */
  static override readonly code = 'HOSTMUX_UPSTREAM';
  /** Always `'HOSTMUX_UPSTREAM'`. */
  declare readonly code: 'HOSTMUX_UPSTREAM';

  /**
   * @param message - what the upstream did
   */
  constructor(message: string) {
    super(UpstreamError.code, message);
    this.name = 'UpstreamError';
  }
}

/**
 * A proxy site's upstream did not answer an upgrade within `proxy_timeout`;
 * it is logged with the `504`.
 * @public
 */
export class UpstreamTimeoutError extends HostmuxError {
  /** `instanceof` takes this code. */
  static override readonly code = 'HOSTMUX_UPSTREAM_TIMEOUT';
  /** Always `'HOSTMUX_UPSTREAM_TIMEOUT'`. */
  declare readonly code: 'HOSTMUX_UPSTREAM_TIMEOUT';

  /**
   * @param ms - the timeout that ran out, in milliseconds
   * @param message - what took too long, when not the upgrade's answer
   */
  constructor(ms: number, message = `the upstream did not answer the upgrade within ${ms} ms`) {
    super(UpstreamTimeoutError.code, message);
    this.name = 'UpstreamTimeoutError';
  }
}

/**
 * A fetch-style site's `fetch()` resolved to something other than a
 * `Response`; it is logged as the site's error with the `500`.
 * @public
 */
export class BadResponseError extends HostmuxError {
  /** `instanceof` takes this code. */
  static override readonly code = 'HOSTMUX_BAD_RESPONSE';
  /** Always `'HOSTMUX_BAD_RESPONSE'`. */
  declare readonly code: 'HOSTMUX_BAD_RESPONSE';

  /**
   * @param message - what the site returned
   */
  constructor(message: string) {
    super(BadResponseError.code, message);
    this.name = 'BadResponseError';
  }
}
