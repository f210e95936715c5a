import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { expressTrusts } from '../adapters/express.js';
import { siteContext } from '../attribution.js';
import { describeError, loggableError } from '../describe-error.js';
import { requestRouted, responseFinished } from '../diagnostics/channels.js';
import type { RequestRoutedMessage } from '../diagnostics/messages.js';
import { trackFinish } from '../diagnostics/response-finished.js';
import { bodyBytes, countBodyBytes } from '../body-bytes.js';
import type { AnyRequest } from '../routing/request-host.js';
import { routedHost } from '../routing/routed-host.js';
import { NO_WILDCARDS, type RouteHit } from '../routing/table.js';
import { destroyOnError, isClosed, rejectUpgrade, sendStatus, type AnyResponse } from '../respond.js';
import type { SiteInfo } from '../site-of.js';
import { siteLogger } from '../sites/site.js';
import { QUEUED, RELEASED, SITE_INFO, STARTED, TRACKED } from '../symbols.js';
import type { Site } from '../sites/site.js';
import { admit, refuseUpgrade, startDeadline } from './guard.js';
import type { Endpoint, Entry, State } from './state.js';

/**
 * What `siteOf()` tells the site: an exact domain's record is made once, on
 * its first request; a pattern hit or the default site needs one per request.
 */
function siteInfo(entry: Entry, host: string, hit: RouteHit<Endpoint> | undefined): SiteInfo {
  const owner = hit?.owner;
  if (owner?.exact !== undefined) {
    return (owner.info ??= Object.freeze({ name: entry.site.name, hostname: owner.exact, wildcards: NO_WILDCARDS }));
  }
  return { name: entry.site.name, hostname: host, wildcards: hit?.wildcards ?? NO_WILDCARDS };
}

type Tracked = AnyResponse & { [TRACKED]?: Entry; [RELEASED]?: true; [STARTED]?: number; req?: { method?: string } };

/** Shared by every response (no closure per request): one request of the entry is over, and counted. */
function release(this: Tracked): void {
  if (this[RELEASED] === true) return;
  this[RELEASED] = true;
  const entry = this[TRACKED]!;
  const started = this[STARTED];
  if (started !== undefined) {
    const now = performance.now();
    const status = this.headersSent ? this.statusCode : 499;
    const metrics = entry.metrics;
    metrics.inFlight--;
    metrics.record(status, now - started, bodyBytes(this, this.req?.method, status), now);
  }
  if (--entry.inFlight === 0 && entry.drained !== undefined) entry.drained();
}

/**
 * For a pipelined request whose response waits behind another on its
 * connection: if the connection goes away first, Node never emits 'close'
 * on that response, so the request is over when the request itself closes.
 * The response is then destroyed and gets its 'close' here, as a response
 * whose client left does: the site (a proxy's upstream request, a fetch
 * handler's body stream, a handler watching 'close') learns it too, rather
 * than writing into it for ever.
 */
function releaseQueued(this: AnyRequest & { [QUEUED]?: Tracked }): void {
  const res = this[QUEUED]!;
  if ((res as { socket?: unknown }).socket != null || !this.socket.destroyed || res[RELEASED] === true) return;
  res.destroy();
  // 'close' runs release (and the site's own listeners) once.
  res.emit('close');
}

/**
 * Shared by every response (no closure per request): an 'error' a site's
 * response emits — a `write()` or `end(data)` after `end()` — is that site's
 * error, logged on its logger; without a listener it would end the process.
 */
function responseFailed(this: Tracked, err: unknown): void {
  siteStreamFailed(this[TRACKED]!, 'response', err);
}

/**
 * Shared by every HTTP/2 request: an 'error' its request emits is the
 * site's. Node's HTTP/2 request, unlike HTTP/1's, emits an error from its
 * own reading even with no listener (an Express app, which swaps the
 * request's prototype for HTTP/1's, makes it do so at once): that would end
 * the process. HTTP/1 requests need no listener, and would report every
 * client that leaves through one.
 */
function requestFailed(this: AnyRequest & { [TRACKED]?: Entry }, err: unknown): void {
  siteStreamFailed(this[TRACKED]!, 'request', err);
}

function siteStreamFailed({ site, loggers }: Entry, stream: 'request' | 'response', err: unknown): void {
  siteLogger(loggers, site.name).error({ err: loggableError(err) }, `site ${site.name}: error on its ${stream}: ${describeError(err)}`);
}

/** Resolves once the entry has no request in flight; for a site a reload retired. */
export function drain(entry: Entry): Promise<void> {
  if (entry.inFlight === 0) return Promise.resolve();
  return new Promise((resolve) => {
    entry.drained = resolve;
  });
}

/**
 * Routes one request: 400 for a bad host, else its site, the default site,
 * or — when nothing claims the host — `next()` / 404 (`take` returns false
 * instead of either, for the Fastify plugin).
 */
export function dispatch(
  state: State,
  req: AnyRequest,
  res: AnyResponse,
  next: ((err?: unknown) => void) | undefined,
  forwarded: string | undefined,
  fallThrough: boolean,
): boolean {
  const host = routedHost(req, state.trustProxy, forwarded, expressTrusts);
  const access = state.logging.access;
  if (host === undefined) {
    access?.begin(req, res, undefined);
    sendStatus(res, 400);
    return true;
  }
  // The client left while middleware before hostmux ran: nobody to answer,
  // and its 'close' has fired already, so it could not be counted.
  if (isClosed(res)) return true;
  const hit = host === '' ? undefined : state.table.lookup(host);
  const entry = hit?.owner.entry ?? state.defaultEntry;
  if (entry === undefined) {
    if (fallThrough) return false;
    if (typeof next === 'function') {
      next();
    } else {
      access?.begin(req, res, undefined);
      sendStatus(res, 404);
    }
    return true;
  }
  (req as { [SITE_INFO]?: SiteInfo })[SITE_INFO] = siteInfo(entry, host, hit);
  access?.begin(req, res, entry.site.name);
  const guard = entry.guard;
  if (guard !== undefined && !admit(entry, guard, req, res)) {
    // Refused for the site (quarantine, max_concurrent, max_body): its answers count too.
    if (state.counting) entry.metrics.record(res.statusCode, 0, 0, performance.now());
    return true;
  }
  entry.inFlight++;
  (res as Tracked)[TRACKED] = entry;
  // One clock read for the latency and the block warning.
  const started = performance.now();
  if (state.counting) {
    entry.metrics.inFlight++;
    (res as Tracked)[STARTED] = started;
    countBodyBytes(res);
  }
  res.on('close', release);
  res.on('error', responseFailed);
  if ('stream' in res) {
    (req as { [TRACKED]?: Entry })[TRACKED] = entry;
    req.on('error', requestFailed);
  }
  // Only a response queued behind another has no socket yet: ordinary requests pay nothing here.
  if ((res as { socket?: unknown }).socket === null) {
    (req as { [QUEUED]?: Tracked })[QUEUED] = res;
    req.on('close', releaseQueued);
  }
  // Nothing is built or listened for unless someone subscribes.
  if (responseFinished.hasSubscribers) trackFinish(req, res, entry.site.name);
  if (requestRouted.hasSubscribers) {
    const message: RequestRoutedMessage = { request: req, response: res, site: entry.site.name, host };
    requestRouted.publish(message);
  }
  if (guard !== undefined && guard.limits.timeout !== 0) startDeadline(res, guard.limits.timeout);
  if (state.context) siteContext.run(entry.site.name, handleIn, entry.site, req, res);
  else entry.site.handle(req, res);
  const took = performance.now() - started;
  if (took > state.blockWarning && state.blockWarning !== 0) blocked(entry, took, 'request handler');
  return true;
}

// Shared, so that running a site's code in its context makes no closure per request.
function handleIn(site: Site, req: AnyRequest, res: AnyResponse): void {
  site.handle(req, res);
}
function upgradeIn(site: Site, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  site.upgrade(req, socket, head);
}

/** A site's code held the event loop longer than `block_warning`: every other site waited. */
function blocked({ site, loggers }: Entry, ms: number, where: string): void {
  siteLogger(loggers, site.name).warn(`site ${site.name} blocked the event loop for ${Math.round(ms)} ms in its ${where} (block_warning)`);
}

/** Where an upgrade goes: a site's entry, or the status that refuses it. */
export function routeUpgrade(state: State, req: AnyRequest): { entry: Entry; info: SiteInfo } | 400 | 404 {
  const host = routedHost(req, state.trustProxy, undefined, expressTrusts);
  if (host === undefined) return 400;
  const hit = host === '' ? undefined : state.table.lookup(host);
  const entry = hit?.owner.entry ?? state.defaultEntry;
  if (entry === undefined) return 404;
  return { entry, info: siteInfo(entry, host, hit) };
}

/**
 * Routes an upgrade; anything that cannot be served gets a complete HTTP
 * error. A socket handed to a site joins `upgraded` until it closes.
 */
export function dispatchUpgrade(state: State, upgraded: Set<Duplex>, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  // Node takes its own 'error' listener off an upgraded socket: without one,
  // a client's reset would be an uncaught exception.
  socket.on('error', destroyOnError);
  const route = routeUpgrade(state, req);
  state.logging.access?.beginUpgrade(req, socket, typeof route === 'number' ? undefined : route.entry.site.name);
  if (typeof route === 'number') return rejectUpgrade(socket, route);
  const { entry } = route;
  const refused = entry.guard === undefined ? undefined : refuseUpgrade(entry, entry.guard);
  if (refused !== undefined) return rejectUpgrade(socket, 503, refused);
  (req as { [SITE_INFO]?: SiteInfo })[SITE_INFO] = route.info;
  upgraded.add(socket);
  entry.upgrades++;
  socket.once('close', () => {
    upgraded.delete(socket);
    entry.upgrades--;
  });
  const started = performance.now();
  if (state.context) siteContext.run(entry.site.name, upgradeIn, entry.site, req, socket, head);
  else entry.site.upgrade(req, socket, head);
  const took = performance.now() - started;
  if (took > state.blockWarning && state.blockWarning !== 0) blocked(entry, took, 'upgrade handler');
}
