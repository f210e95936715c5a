/**
 * hostmux as a Fastify plugin: hosts a site claims are taken over before
 * Fastify parses a byte of the body; every other host goes to Fastify's
 * own routes.
 * @packageDocumentation
 */
import type { EventEmitter } from 'node:events';
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RawServerBase } from 'fastify';
import { createApplication, type Application, type ApplicationOptions } from '../application.js';
import { readServerSettings } from '../config/server-conf.js';
import { internalsOf, type ApplicationInternals } from '../internal.js';
import { InvalidOptionError } from '../errors.js';
import type { Logger } from '../logger.js';
import { unknownOptionMessage } from '../nearest-name.js';
import type { AnyRequest } from '../routing/request-host.js';
import { markFrameworkTrusted } from '../routing/routed-host.js';
import { destroyOnError, rejectUpgrade } from '../respond.js';

/**
 * Options of the hostmux Fastify plugin: either `configDir` (plus any
 * `createApplication` option) or `app`, an existing application.
 * @public
 */
export interface HostmuxFastifyOptions extends ApplicationOptions {
  /** The configuration directory: the plugin creates the application from it. */
  readonly configDir?: string;
  /**
   * An application made with `createApplication`, used as it is (the other
   * options cannot be combined with it). `fastify.close()` closes it too.
   */
  readonly app?: Application;
}

function optionError(message: string): InvalidOptionError {
  return new InvalidOptionError(`hostmux/fastify: ${message}`);
}

/**
 * The plugin's options, and those Fastify's `register()` itself reads and
 * leaves in them (`prefix`, `logLevel`, `logSerializers`).
 */
const OPTION_NAMES: readonly string[] = ['configDir', 'app', 'defaultSite', 'trustProxy', 'logger'];
const REGISTER_OPTIONS: readonly string[] = ['prefix', 'logLevel', 'logSerializers'];

/**
 * The application the options name. `fastify.log` is its logger unless the
 * options give one or hostmux.conf names a logging.ini.
 */
function applicationFor(options: HostmuxFastifyOptions, log: Logger): Application {
  if (typeof options !== 'object' || options === null) throw optionError('options must be an object');
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.includes(key) && !REGISTER_OPTIONS.includes(key)) throw optionError(unknownOptionMessage(key, OPTION_NAMES));
  }
  const { app, configDir, defaultSite, trustProxy, logger } = options;
  if (app !== undefined) {
    if (internalsOf(app) === undefined) {
      throw optionError('options.app must be an application made by createApplication() of this copy of hostmux');
    }
    if (configDir !== undefined || defaultSite !== undefined || trustProxy !== undefined || logger !== undefined) {
      throw optionError('options.app cannot be combined with configDir, defaultSite, trustProxy or logger');
    }
    return app;
  }
  if (typeof configDir !== 'string' || configDir === '') {
    throw optionError('pass { configDir } (a directory path) or { app } (an application)');
  }
  // Only the [server] section is read here, for `logging =`; its problems
  // are reported by createApplication, which reads the file again.
  const namesLoggingIni = readServerSettings(resolve(configDir), []).logging !== undefined;
  return createApplication(configDir, {
    defaultSite,
    trustProxy,
    logger: logger ?? (namesLoggingIni ? undefined : log),
  });
}

/**
 * The host Fastify took from forwarding headers, when it trusts the proxy
 * and hostmux's `trust_proxy` is unset; otherwise undefined. Fastify's
 * `request.host` falls back to Host / `:authority`, so any other value is
 * one it chose from `X-Forwarded-Host`.
 */
function forwardedHost(request: FastifyRequest, internals: ApplicationInternals): string | undefined {
  if (internals.trustProxy !== undefined) return undefined;
  const { host, headers } = request;
  const own = headers.host ?? headers[':authority'] ?? '';
  return host !== own ? host : undefined;
}

/**
 * Whether Fastify trusted the sender's forwarding headers, as far as it
 * shows: it took a host from them, an X-Forwarded-For address past the
 * connecting one (its `ips`), or an `X-Forwarded-Proto` that differs from
 * the connection's own scheme. Where none shows, a proxy site treats the
 * sender as untrusted.
 */
function fastifyTrusted(request: FastifyRequest, forwarded: string | undefined): boolean {
  if (forwarded !== undefined) return true;
  // `ips` is the connecting address, then each X-Forwarded-For address while the previous one is trusted.
  if (request.headers['x-forwarded-for'] !== undefined && (request.ips?.length ?? 0) > 1) return true;
  if (request.headers['x-forwarded-proto'] === undefined) return false;
  const own = (request.raw.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http';
  return request.protocol !== own;
}

/**
 * Hands an upgrade no site claims to Fastify as an ordinary request, as
 * Node does when a server has no 'upgrade' listener. The socket has left
 * the HTTP parser, so the response closes it, and a request body (which
 * the parser no longer frames) is refused with 400.
 */
function routeAsRequest(routing: (req: IncomingMessage, res: ServerResponse) => void, req: IncomingMessage, socket: Duplex): void {
  const { 'content-length': length, 'transfer-encoding': coding } = req.headers;
  if (coding !== undefined || (length !== undefined && length !== '0')) return rejectUpgrade(socket, 400);
  socket.on('error', destroyOnError);
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Socket);
  res.on('finish', () => {
    res.detachSocket(socket as Socket);
    socket.end();
  });
  req.push(null);
  routing(req, res);
}

/**
 * The hostmux Fastify plugin. Register it on the root instance: its hooks
 * apply to the scope it is registered in (it is not encapsulated).
 *
 * - In `onRequest`, a host that a site (or `default_site`) claims is
 *   handed to hostmux with `reply.hijack()`, before Fastify parses the body;
 *   an invalid host is answered 400; any other host goes on to Fastify's
 *   own routes.
 * - With `trust_proxy` unset, Fastify's `trustProxy` decides: a host Fastify
 *   took from `X-Forwarded-Host` (its `request.host`) is routed by.
 * - Upgrades (WebSocket) to a claimed host go to `app.upgrade`.
 * - `fastify.log` is hostmux's logger unless `logger` is given or
 *   hostmux.conf names a logging.ini.
 * - `fastify.close()` closes the application (also one passed as `app`) in
 *   `preClose`, before Fastify's server closes, so that open WebSockets end.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import hostmux from 'hostmux/fastify';
 *
 * const fastify = Fastify({ logger: true });
 * await fastify.register(hostmux, { configDir: '/etc/hostmux' });
 * fastify.get('/', async () => 'no site claims this host');
 * await fastify.listen({ port: 8080 });
 * ```
 * @throws `InvalidOptionError`, a `TypeError` (code `HOSTMUX_INVALID_OPTION`),
 * for a bad or unknown option,
 * `ConfigError` (code `HOSTMUX_CONFIG`) for a bad tree: as a failed
 * registration
 * @public
 */
const hostmux: FastifyPluginAsync<HostmuxFastifyOptions, RawServerBase> = async (fastify, options) => {
  const app = applicationFor(options, fastify.log);
  const internals = internalsOf(app)!;
  const server = fastify.server as EventEmitter;

  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const raw = request.raw as AnyRequest;
    // Node marks a request it emitted as 'upgrade' (not in @types/node).
    if ((raw as { upgrade?: boolean }).upgrade === true) {
      // An upgrade another 'upgrade' listener (such as @fastify/websocket)
      // routed through Fastify: ours already gave claimed ones to app.upgrade.
      if (internals.claimsUpgrade(raw)) reply.hijack();
    } else {
      const forwarded = forwardedHost(request, internals);
      // A proxy site then keeps the X-Forwarded-* values it received.
      if (internals.trustProxy === undefined && fastifyTrusted(request, forwarded)) {
        markFrameworkTrusted(raw);
      }
      // Served (or being served) by hostmux: Fastify must not parse, route or answer.
      if (internals.take(raw, reply.raw, forwarded)) reply.hijack();
    }
    done();
  });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (internals.claimsUpgrade(req)) return app.upgrade(req, socket, head);
    // Another listener owns the rest; alone, give it to Fastify's routes.
    if (server.listenerCount('upgrade') === 1) routeAsRequest((rq, rs) => fastify.routing(rq, rs), req, socket);
  };
  // First: hostmux answers its own hosts before another listener touches the socket.
  server.prependListener('upgrade', onUpgrade);

  // preClose, before Fastify's server.close(): that waits for every connection,
  // upgraded ones included, and only closing the sites ends those. onClose
  // too, for an instance closed before it was ready (app.close() runs once).
  const close = async () => {
    server.removeListener('upgrade', onUpgrade);
    await app.close();
  };
  fastify.addHook('preClose', close);
  fastify.addHook('onClose', close);
};

// What fastify-plugin would set: hooks apply to the registering scope, and a
// name other plugins can declare as a dependency.
Object.defineProperties(hostmux, {
  [Symbol.for('skip-override')]: { value: true },
  [Symbol.for('fastify.display-name')]: { value: 'hostmux' },
  [Symbol.for('plugin-meta')]: { value: { name: 'hostmux', fastify: '>=5' } },
});

export default hostmux;
