// The shape of a `handler =` site module, as types only: what hostmux's
// loader (module-site.ts) accepts, so that a TypeScript site can be checked
// against it with `satisfies`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { SiteContext } from './module-site.js';

/**
 * A Node request listener, as a site provides it: a plain function, an
 * Express or Connect app, Koa's `app.callback()`. What it returns is ignored
 * (a rejected promise is logged and answered `500`).
 *
 * @remarks
 * Typed with `node:http`'s request and response, which is what such apps
 * declare. Under an HTTP/2 server hostmux passes Node's HTTP/2 compatibility
 * objects instead; a listener typed with {@link AnyRequest} and
 * {@link AnyResponse} fits this type too.
 * @public
 */
export type SiteRequestListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/**
 * A Web-standard handler: an object whose `fetch(request)` returns a
 * `Response` or a promise of one (a Hono app, for instance).
 * @public
 */
export interface SiteFetchHandler {
  /** Answers one request; the response body is streamed to the client. */
  fetch(request: Request): Response | Promise<Response>;
}

/**
 * Handles an HTTP upgrade (a WebSocket) routed to the site, as Node's
 * `'upgrade'` event does. The socket is the site's from then on.
 * @public
 */
export type SiteUpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => unknown;

/**
 * What may sit beside a site's handler, on the same value.
 * @public
 */
export interface SiteHooks {
  /** Called (and awaited) once when the site is closed: by a reload that drops or replaces it, or `app.close()`. */
  close?(): unknown;
  /** Handles the site's HTTP upgrades (WebSockets); without one, an upgrade to the site is answered `400`. */
  upgrade?: SiteUpgradeListener;
}

/**
 * What a site module provides as its default export or from
 * `createHandler`: a request listener or a fetch handler, with optional
 * `close` and `upgrade`.
 *
 * @example
 * ```ts
 * const app = express();
 * export default Object.assign(app, { close: () => db.end() }) satisfies SiteHandler;
 * ```
 * @public
 */
export type SiteHandler = (SiteRequestListener | SiteFetchHandler) & SiteHooks;

/**
 * A site module's `createHandler(site)`: called once per load, before the
 * site's first request; it may be async.
 * @public
 */
export type CreateHandler = (site: SiteContext) => SiteHandler | Promise<SiteHandler>;

/**
 * A site module (`handler =` in a site file), checked as a whole:
 * `import * as blog from './blog.js'; blog satisfies SiteModule;`.
 * `createHandler` wins over a default export; `close` and `upgrade` may also
 * be named exports of the module.
 * @public
 */
export type SiteModule =
  | (SiteHooks & { readonly createHandler: CreateHandler })
  | (SiteHooks & { readonly default: SiteHandler | { readonly createHandler: CreateHandler } });
