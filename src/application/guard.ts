import { Readable } from 'node:stream';
import type { SiteLimits } from '../config/limits.js';
import { hasLimits } from '../config/limits.js';
import type { AnyRequest } from '../routing/request-host.js';
import { abortResponse, sendStatus, type AnyResponse } from '../respond.js';
import { siteLogger } from '../sites/site.js';
import { RELEASED, TRACKED } from '../symbols.js';
import type { Entry, Guard } from './state.js';

// A site's limits and its quarantine, checked before the site gets a
// request. A site with neither has no guard: the request path then pays one
// property check. Everything here is shared functions with state under
// symbols, not closures per request.

/** The `Retry-After` (seconds) of a 503 for a site at its `max_concurrent`. */
export const BUSY_RETRY_AFTER = 1;

const DEADLINE = Symbol('hostmux.deadline');
const BODY = Symbol('hostmux.bodyLimit');

type Guarded = AnyResponse & { [TRACKED]?: Entry; [RELEASED]?: true; [DEADLINE]?: NodeJS.Timeout };
interface BodyLimit {
  readonly res: AnyResponse;
  readonly entry: Entry;
  left: number;
}
type LimitedRequest = AnyRequest & { [BODY]?: BodyLimit };

/** Sets the entry's guard from its limits and quarantine (until, Date.now() based; 0 for none). */
export function setGuard(entry: Entry, limits: SiteLimits, quarantinedUntil: number): void {
  entry.guard = hasLimits(limits) || quarantinedUntil !== 0 ? { limits, quarantinedUntil } : undefined;
}

/** Seconds until a quarantine (until, Date.now() based) ends, rounded up; 0 once it has. */
export function quarantineLeft(until: number, now: number): number {
  return until <= now ? 0 : Math.ceil((until - now) / 1000);
}

/**
 * Whether the site may take this request: a quarantined site or one at its
 * `max_concurrent` gets 503 with `Retry-After`, a body whose
 * `Content-Length` is over `max_body` gets 413 — answered here, the site
 * never sees the request.
 */
export function admit(entry: Entry, guard: Guard, req: AnyRequest, res: AnyResponse): boolean {
  const refusal = refuse(entry, guard);
  if (refusal !== undefined) {
    sendStatus(res, 503, refusal);
    return false;
  }
  const { maxBody } = guard.limits;
  if (maxBody !== 0) {
    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) > maxBody) {
      sendStatus(res, 413);
      return false;
    }
    const limited = req as LimitedRequest;
    limited[BODY] = { res, entry, left: maxBody };
    limited.push = limitedPush;
  }
  return true;
}

/** For an upgrade: the `Retry-After` of a 503 refusing it, or undefined when the site may take it. */
export function refuseUpgrade(entry: Entry, guard: Guard): number | undefined {
  return refuse(entry, guard);
}

function refuse(entry: Entry, guard: Guard): number | undefined {
  if (guard.quarantinedUntil !== 0) {
    const left = quarantineLeft(guard.quarantinedUntil, Date.now());
    if (left > 0) return left;
  }
  const { maxConcurrent } = guard.limits;
  if (maxConcurrent !== 0 && entry.inFlight + entry.upgrades >= maxConcurrent) return BUSY_RETRY_AFTER;
  return undefined;
}

/**
 * Counts the body as Node's parser hands it to the request (HTTP/1 and
 * HTTP/2 alike push each chunk), whether or not the site reads it: the
 * chunk that would go over `max_body` is never pushed, so neither the site
 * nor a proxy's upstream receives more than the limit.
 */
function limitedPush(this: LimitedRequest, chunk: unknown, encoding?: BufferEncoding): boolean {
  const limit = this[BODY]!;
  if (chunk !== null && chunk !== undefined) {
    if (limit.left < 0) return false;
    limit.left -= (chunk as Uint8Array).byteLength ?? 0;
    if (limit.left < 0) {
      tooLarge(limit);
      return false;
    }
  }
  return Readable.prototype.push.call(this, chunk, encoding);
}

function tooLarge({ res, entry }: BodyLimit): void {
  if ((res as Guarded)[RELEASED] === true) return;
  siteLogger(entry.loggers, entry.site.name)
    .warn(`site ${entry.site.name}: request body over max_body (${entry.guard?.limits.maxBody ?? 0} bytes); ${res.headersSent ? 'response cut off' : 'answered 413'}`);
  takeOver(res, 413);
}

/** Starts the response's `timeout`; a response still open then gets 504, or is cut off. */
export function startDeadline(res: AnyResponse, timeout: number): void {
  const guarded = res as Guarded;
  guarded[DEADLINE] = setTimeout(expire, timeout, guarded);
  res.on('close', clearDeadline);
}

function clearDeadline(this: Guarded): void {
  clearTimeout(this[DEADLINE]);
}

function expire(res: Guarded): void {
  if (res[RELEASED] === true || res.writableEnded) return;
  const entry = res[TRACKED]!;
  const seconds = (entry.guard?.limits.timeout ?? 0) / 1000;
  siteLogger(entry.loggers, entry.site.name).warn(
    `site ${entry.site.name}: ${res.headersSent ? 'response not finished' : 'no response'} within ${seconds} s (timeout); ${res.headersSent ? 'cut off' : 'answered 504'}`,
  );
  takeOver(res, 504);
}

/**
 * Answers `status` in the site's place (or cuts the response off when its
 * head is out), then makes what the site still calls on the response do
 * nothing: its handler runs on, and a `writeHead` after ours would throw
 * into the site's code, blaming it for hostmux's answer.
 */
function takeOver(res: AnyResponse, status: number): void {
  if (res.headersSent) abortResponse(res);
  else sendStatus(res, status);
  Object.assign(res, INERT);
}

function returnThis(this: unknown): unknown {
  return this;
}
function accepted(): boolean {
  return true;
}
const INERT = {
  writeHead: returnThis, setHeader: returnThis, appendHeader: returnThis, removeHeader: returnThis,
  flushHeaders: returnThis, addTrailers: returnThis, writeContinue: returnThis, end: returnThis, write: accepted,
};
