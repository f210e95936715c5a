/**
 * hostmux/service: the application for the tree at `$HOSTMUX_HOME`
 * (default `/etc/hostmux`), made once when this module is first imported.
 * @packageDocumentation
 */
import { createApplication } from './application.js';
import type { Application } from './application/types.js';

/** Where the tree is when `$HOSTMUX_HOME` is not set: the same default as the `hostmux` command's. */
const DEFAULT_HOME = '/etc/hostmux';

/**
 * The application for the tree at `$HOSTMUX_HOME` (default `/etc/hostmux`),
 * created once, when this module is first imported: the counterpart of a
 * WSGI server's `module:application`, for any server that takes a
 * `(req, res)` handler. `app.upgrade` is a bound function, ready to wire.
 * Importing it throws `ConfigError` (code `HOSTMUX_CONFIG`) with every
 * problem of the tree.
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import app from 'hostmux/service';
 *
 * http.createServer(app).on('upgrade', app.upgrade).listen(8080);
 * ```
 * @public
 */
const application: Application = createApplication(process.env.HOSTMUX_HOME || DEFAULT_HOME);
export default application;
