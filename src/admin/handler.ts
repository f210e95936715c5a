import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConfigProblem } from '../errors.js';
import type { ReloadResult } from '../application/types.js';
import type { ReloadRecord, SiteStats } from '../metrics/stats.js';
import { STATUS_PAGE } from './status-page.js';

/*
 * The admin endpoints, over a source of figures and actions: one process's
 * application (`hostmux/admin`) or the `serve` primary, which asks its
 * workers. Only GET and POST; nothing from the request is echoed back.
 */

/** What `GET /status` answers. */
export interface StatusDocument {
  readonly uptime: number;
  readonly generation: number;
  readonly workers: number;
  readonly reload: ReloadRecord | null;
  readonly sites: readonly SiteStats[];
}

/** A reload's outcome as `POST /reload` reports it. */
export type ReloadOutcome =
  | { readonly ok: true; readonly result: ReloadResult }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[]; readonly error: string };

export interface AdminSource {
  status(): Promise<StatusDocument>;
  /** The Prometheus text and its content type. */
  metrics(): Promise<{ readonly contentType: string; readonly text: string }>;
  /** Workers up and the configuration loaded; false while starting or draining. */
  ready(): boolean;
  reload(): Promise<ReloadOutcome>;
  /** Drains and exits; undefined where nothing can be stopped. */
  readonly stop: (() => void) | undefined;
}

export interface AdminOptions {
  /** Every request must carry `Authorization: Bearer <token>`; undefined or '' for none. A function is asked on each request (a reload may change it). */
  readonly token?: string | undefined | (() => string | undefined);
  /** Where the endpoints are: `/admin` serves `/admin/status`, …; default `/`. */
  readonly path?: string | undefined;
}

const JSON_TYPE = 'application/json; charset=utf-8';
// The page is static: nothing in it comes from a request. It may only talk to its own origin.
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; connect-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string | number> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, `${JSON.stringify(value)}\n`, { 'content-type': JSON_TYPE });
}

/** Compares in constant time, over digests so that the lengths match. */
function sameToken(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function authorized(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization;
  if (header === undefined) return false;
  const match = /^Bearer ([^\s]+)$/i.exec(header);
  return match !== null && sameToken(match[1]!, token);
}

/**
 * Whether a POST comes from a page of another site: a browser says so with
 * `Sec-Fetch-Site`, or with an `Origin` whose host is not this one. A
 * command-line client sends neither and is let through.
 */
export function crossSite(req: IncomingMessage): boolean {
  const fetchSite = req.headers['sec-fetch-site'];
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') return true;
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  if (origin === 'null') return true;
  try {
    return new URL(origin).host !== (req.headers.host ?? '');
  } catch {
    return true;
  }
}

type Route = { path: string; site: string | null } | { redirect: string } | 'bad' | 'not ours';

/**
 * Where the request goes, relative to `prefix` ('' for the root). The
 * prefix itself without its slash is redirected to it with one, as nginx
 * does for a directory: the page's links are relative.
 */
function route(req: IncomingMessage, prefix: string): Route {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://admin.invalid');
  } catch {
    return 'bad';
  }
  let path = url.pathname;
  if (prefix !== '') {
    if (path === prefix) return { redirect: `${prefix}/` };
    if (!path.startsWith(`${prefix}/`)) return 'not ours';
    path = path.slice(prefix.length);
  } else if (path === '/') {
    // Mounted by a framework (Express's app.use('/admin', …)) and asked for /admin: the same redirect.
    // Relative (`./admin/`), from the parsed path: never a header from raw bytes, never another host.
    const original = (req as { originalUrl?: string }).originalUrl;
    if (original !== undefined) {
      let mounted: string;
      try {
        mounted = new URL(original, 'http://admin.invalid').pathname;
      } catch {
        return 'bad';
      }
      if (!mounted.endsWith('/')) return { redirect: `./${mounted.slice(mounted.lastIndexOf('/') + 1)}/` };
    }
  }
  return { path, site: url.searchParams.get('site') };
}

/**
 * The admin endpoints over `source`: `GET /` (the status page),
 * `/status[?site=NAME]`, `/metrics`, `/healthz`, `/readyz`;
 * `POST /reload`, `/stop`. Anything else: 404, or `next()` when given.
 */
export function adminHandler(source: AdminSource, options: AdminOptions = {}) {
  const given = options.token;
  const tokenNow = typeof given === 'function' ? given : () => given;
  const prefix = (options.path ?? '/').replace(/\/+$/, '');
  // Three parameters: Express treats a four-parameter function as error middleware.
  return function hostmuxAdmin(req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void {
    const where = route(req, prefix);
    if (where === 'not ours') {
      if (typeof next === 'function') next();
      else send(res, 404, 'Not Found\n');
      return;
    }
    const token = tokenNow();
    if (token !== undefined && token !== '' && !authorized(req, token)) {
      send(res, 401, 'Unauthorized: this admin listener needs Authorization: Bearer <token>\n', { 'www-authenticate': 'Bearer realm="hostmux"' });
      return;
    }
    if (where === 'bad') {
      send(res, 400, 'Bad Request\n');
      return;
    }
    if ('redirect' in where) {
      send(res, 308, '', { location: where.redirect });
      return;
    }
    const { path, site } = where;
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';
    const answer = (allowed: string, run: () => void) => {
      if (allowed === 'POST' ? method === 'POST' : get) run();
      else send(res, 405, 'Method Not Allowed\n', { allow: allowed === 'POST' ? 'POST' : 'GET, HEAD' });
    };
    switch (path) {
      case '/':
        return answer('GET', () => {
          res.writeHead(200, { ...PAGE_HEADERS, 'content-length': Buffer.byteLength(STATUS_PAGE) });
          res.end(method === 'HEAD' ? undefined : STATUS_PAGE);
        });
      case '/status':
        return answer('GET', () => void respond(res, source.status().then((status) => {
          if (site === null) return { status: 200, body: status };
          const one = status.sites.find((each) => each.name === site);
          return one === undefined ? { status: 404, body: { error: 'no such site' } } : { status: 200, body: { ...status, sites: [one] } };
        })));
      case '/metrics':
        return answer('GET', () => void source.metrics().then(
          ({ contentType, text }) => send(res, 200, text, { 'content-type': contentType }),
          (error: unknown) => send(res, 500, `metrics failed: ${(error as Error).message}\n`),
        ));
      case '/healthz':
        return answer('GET', () => send(res, 200, 'ok\n'));
      case '/readyz':
        return answer('GET', () => (source.ready() ? send(res, 200, 'ready\n') : send(res, 503, 'not ready\n')));
      case '/reload':
        return answer('POST', () => {
          if (crossSite(req)) return send(res, 403, 'Forbidden: cross-site request\n');
          req.resume();
          void respond(res, source.reload().then((outcome) => (outcome.ok
            ? { status: 200, body: outcome.result }
            : { status: 422, body: { error: outcome.error, problems: outcome.problems } })));
        });
      case '/stop':
        return answer('POST', () => {
          if (crossSite(req)) return send(res, 403, 'Forbidden: cross-site request\n');
          if (source.stop === undefined) return send(res, 404, 'Not Found: nothing to stop here\n');
          req.resume();
          sendJson(res, 202, { stopping: true });
          source.stop();
        });
      default:
        if (typeof next === 'function') next();
        else send(res, 404, 'Not Found\n');
    }
  };
}

async function respond(res: ServerResponse, result: Promise<{ status: number; body: unknown }>): Promise<void> {
  try {
    const { status, body } = await result;
    sendJson(res, status, body);
  } catch (error) {
    sendJson(res, 500, { error: (error as Error).message });
  }
}
