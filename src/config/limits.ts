import { MAX_TIMEOUT_SECONDS } from './values.js';

/**
 * A site's limits, as `[site]` sets them over `[server]`'s defaults. 0 is
 * "no limit": a site file's `max_body = 0` lifts a server-wide default.
 */
export interface SiteLimits {
  /** Requests plus upgraded connections in flight at once; beyond it, 503. */
  readonly maxConcurrent: number;
  /** Request body bytes; beyond it, 413. */
  readonly maxBody: number;
  /** Milliseconds to the response's head; beyond it, 504 (or the response is cut off). */
  readonly timeout: number;
}

export const NO_LIMITS: SiteLimits = Object.freeze({ maxConcurrent: 0, maxBody: 0, timeout: 0 });

/** The keys, in `[site]` and `[server]` alike. */
export const LIMIT_KEYS = ['max_concurrent', 'max_body', 'timeout'] as const;
type LimitKey = (typeof LIMIT_KEYS)[number];

const MAX_CONCURRENT = 1_000_000;
const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
/** 1 TiB: beyond any body a limit is meant for. */
const MAX_SIZE = 1024 ** 4;

function parseCount(text: string): number | undefined {
  if (!/^\d{1,7}$/.test(text)) return undefined;
  const count = Number(text);
  return count <= MAX_CONCURRENT ? count : undefined;
}

/** `512`, `64k`, `10m`, `1g` (nginx's `client_max_body_size` units, powers of 1024). */
function parseSize(text: string): number | undefined {
  const found = /^(\d{1,13})([kmg]?)$/i.exec(text);
  if (found === null) return undefined;
  const bytes = Number(found[1]) * SIZE_UNITS[found[2]!.toLowerCase()]!;
  return bytes <= MAX_SIZE ? bytes : undefined;
}

/** Seconds (decimals allowed), to milliseconds; 0 is no timeout. */
function parseTimeout(text: string): number | undefined {
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(text)) return undefined;
  const seconds = Number(text);
  if (seconds > MAX_TIMEOUT_SECONDS) return undefined;
  return seconds === 0 ? 0 : Math.max(1, Math.round(seconds * 1000));
}

const PARSERS: Record<LimitKey, { readonly field: keyof SiteLimits; readonly parse: (text: string) => number | undefined; readonly expected: string }> = {
  max_concurrent: { field: 'maxConcurrent', parse: parseCount, expected: `a whole number from 0 (no limit) to ${MAX_CONCURRENT}` },
  max_body: { field: 'maxBody', parse: parseSize, expected: 'a size in bytes, with k, m or g (0: no limit)' },
  timeout: { field: 'timeout', parse: parseTimeout, expected: `a number of seconds (0: no timeout; at most ${MAX_TIMEOUT_SECONDS})` },
};

/**
 * The limit keys a section sets, parsed; each bad value is reported through
 * `problem` and left out.
 */
export function readLimits(
  scalar: (key: string) => string | undefined,
  problem: (key: string, message: string) => void,
): Partial<SiteLimits> {
  let limits: Partial<Record<keyof SiteLimits, number>> | undefined;
  for (const key of LIMIT_KEYS) {
    const text = scalar(key);
    if (text === undefined) continue;
    const { field, parse, expected } = PARSERS[key];
    const value = parse(text);
    if (value === undefined) problem(key, `"${text}" is not ${expected}`);
    else (limits ??= {})[field] = value;
  }
  return limits ?? NO_LIMITS_SET;
}

const NO_LIMITS_SET: Partial<SiteLimits> = Object.freeze({});

/** A site's limits: its own over the server's. The same object for sites that set none. */
export function limitsOf(site: Partial<SiteLimits>, server: SiteLimits): SiteLimits {
  return site === NO_LIMITS_SET ? server : { ...server, ...site };
}

/** Whether any limit is on. */
export function hasLimits(limits: SiteLimits): boolean {
  return limits.maxConcurrent !== 0 || limits.maxBody !== 0 || limits.timeout !== 0;
}
