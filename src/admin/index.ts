/**
 * hostmux/admin: the admin endpoints of one process's application, for a
 * server of your own.
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Application } from '../application/types.js';
import { internalsOf } from '../internal.js';
import { applicationSource } from './app-source.js';
import { adminHandler } from './handler.js';

/**
 * Options of {@link createAdminHandler}.
 * @public
 */
export interface AdminHandlerOptions {
  /** When set (and not empty), every request must carry `Authorization: Bearer <token>`; others get 401. */
  readonly token?: string;
  /**
   * Where the endpoints are on your server: `/admin` serves `/admin/`,
   * `/admin/status`, …; other paths go to `next()` (or get 404). Default
   * `/`: for a server of its own, or under a framework that strips its
   * mount path (Express's `app.use('/admin', handler)`).
   */
  readonly path?: string;
  /** What `POST /stop` calls (after answering 202); without it, `POST /stop` answers 404. */
  readonly stop?: () => void;
}

/**
 * A request handler for the admin endpoints of `app`, in this process:
 * `GET /` (the status page), `GET /status[?site=NAME]` (JSON),
 * `GET /metrics` (Prometheus text format), `GET /healthz`, `GET /readyz`,
 * `POST /reload`, and `POST /stop` when `options.stop` is given. POSTs
 * from another site's page are refused (403). Put it behind your own
 * access control, or give it a token: it can reload your configuration.
 *
 * @param app - an application made by `createApplication`
 * @param options - a token, the path, a stop action
 * @returns a `(req, res, next?)` handler (three parameters: Express
 * mounts it as ordinary middleware)
 * @throws `TypeError` when `app` was not made by this copy of hostmux
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import { createApplication } from 'hostmux';
 * import { createAdminHandler } from 'hostmux/admin';
 *
 * const app = createApplication('/etc/hostmux');
 * const admin = createAdminHandler(app, { path: '/_hostmux' });
 * http.createServer((req, res) => admin(req, res, () => app(req, res))).listen(8080);
 * ```
 * @public
 */
export function createAdminHandler(
  app: Application,
  options: AdminHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void {
  const internals = internalsOf(app);
  if (internals === undefined) throw new TypeError('createAdminHandler needs an application made by createApplication');
  return adminHandler(applicationSource(app, internals, options.stop, () => true), options);
}
