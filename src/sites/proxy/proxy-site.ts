import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import type { ProxySiteFile } from './settings.js';
import { ClientGoneError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { originForm, type AnyRequest } from '../../routing/request-host.js';
import { abortResponse, isClosed, rejectUpgrade, sendStatus, type AnyResponse } from '../../respond.js';
import { clientResponseHeaders, upstreamRequestHeaders, type Forwarding } from './proxy-headers.js';
import { openTunnel, tunnelTarget, type TunnelTarget } from './proxy-tunnel.js';
import { siteLogger, type LoggerFactory, type Site } from '../site.js';
import { TIMED_OUT, within } from '../../within.js';

/** How long `close()` lets in-flight requests and open tunnels finish before cutting them off. */
export const CLOSE_GRACE_MS = 5_000;

// undici is imported with the first proxy site's first request (or ready()):
// it is most of hostmux's import time, and many trees have no proxy site.
let undici: typeof import('undici') | undefined;
let undiciLoading: Promise<string | undefined> | undefined;

function loadUndici(): Promise<string | undefined> {
  return (undiciLoading ??= import('undici').then(
    (module) => {
      undici = module;
      return undefined;
    },
    (err: unknown) => `cannot import undici: ${(err as Error).message}`,
  ));
}

/** undici's codes for a `proxy_timeout` that ran out before the response head: 504. */
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'ETIMEDOUT']);

function noop(): void {}

/** `writeHead` with a flat header list, which both ServerResponse and Http2ServerResponse accept. */
interface FlatHead {
  writeHead(status: number, headers: string[]): unknown;
  writeHead(status: number, statusMessage: string | undefined, headers: string[]): unknown;
}

function clientGoneError(): Error {
  return new ClientGoneError('the client went away before the response was complete');
}

/** Marks the client-gone error of a client that stopped reading (it is still there, but gone for us). */
const STALLED = Symbol('hostmux.clientStalled');

function clientStalledError(ms: number): Error {
  return Object.assign(new ClientGoneError(`the client did not read the response for ${ms} ms`), { [STALLED]: true });
}

/** undici's raw response headers (Buffers, or strings), as strings; header bytes are latin1. */
function stringsOf(raw: unknown): string[] {
  if (!Array.isArray(raw)) return [];
  return raw.map((item: Buffer | string) => (typeof item === 'string' ? item : item.toString('latin1')));
}

/** Whether a request carries a body to forward (a `null` body lets undici send none, as the client did). */
function hasBody(req: AnyRequest): boolean {
  if (req.httpVersionMajor === 2) return !(req as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** A `proxy =` site: forwards requests and upgrades to an upstream HTTP server (README: Proxy sites). */
export class ProxySite implements Site {
  readonly kind = 'proxy';
  /** Nothing to load. */
  readonly state = 'ready';
  readonly name: string;
  readonly file: string;
  readonly domains: readonly string[];
  /** The upstream's origin, for the pool and for messages. */
  readonly #origin: string;
  readonly #tunnel: TunnelTarget;
  readonly #pathPrefix: string;
  readonly #timeout: number;
  readonly #forwarding: Forwarding;
  readonly #loggers: LoggerFactory;
  #siteLogger: Logger | undefined;
  /** Made on the first request: most sites of a big installation may never be asked. */
  #pool: Pool | undefined;
  readonly #tunnels = new Set<Duplex>();
  #closing: Promise<void> | undefined;

  constructor(config: ProxySiteFile, domains: readonly string[], loggers: LoggerFactory, trustProxy: boolean) {
    this.name = config.name;
    this.file = config.file;
    this.domains = domains;
    const upstream = new URL(config.origin);
    this.#origin = upstream.origin;
    this.#tunnel = tunnelTarget(upstream, config.timeout);
    this.#pathPrefix = config.pathPrefix;
    this.#timeout = config.timeout;
    this.#forwarding = { trustProxy, upstreamHost: config.host === 'upstream' ? upstream.host : undefined };
    this.#loggers = loggers;
  }

  /** The path sent upstream: the proxy URL's path, then the request's origin form. */
  #path(req: AnyRequest): string {
    return this.#pathPrefix + originForm(req.url ?? '/');
  }

  /** Made when the site first logs. */
  #logger(): Logger {
    return (this.#siteLogger ??= siteLogger(this.#loggers, this.name));
  }

  handle(req: AnyRequest, res: AnyResponse): void {
    if (req.url === '*') return answerAsterisk(req, res);
    if (this.#pool === undefined && undici === undefined) {
      void loadUndici().then((failure) => {
        if (failure !== undefined) sendStatus(res, 503);
        else if (!isClosed(res)) this.handle(req, res);
      });
      return;
    }
    // No stream may throw an unhandled 'error' into the process: a failing
    // request body reaches undici, which reports it to onResponseError.
    req.on('error', noop);
    if (this.#closing !== undefined) return sendStatus(res, 503);
    const pool = (this.#pool ??= this.#createPool());
    const http2 = req.httpVersionMajor === 2;
    let controller: Dispatcher.DispatchController | undefined;
    let headSent = false;
    let done = false;
    let clientGone = false;
    res.once('close', () => {
      if (done) return;
      clientGone = true;
      controller?.abort(clientGoneError());
    });
    // A client that stops reading pauses the upstream, and undici's body
    // timeout does not run while paused: `proxy_timeout` bounds the pause here,
    // or the client would hold the upstream request for ever. A timer only while paused.
    let stalled: NodeJS.Timeout | undefined;
    const resume = () => {
      clearTimeout(stalled);
      stalled = undefined;
      controller?.resume();
    };
    // dispatch() with our own handler rather than pool.request() or
    // pool.stream(): each body chunk goes straight into `res`, pausing the
    // upstream socket while res.write() returns false and resuming on 'drain'
    // (no intermediate Readable per request), and an error reaches us as
    // itself — an upstream failure is never mistaken for the client leaving.
    // The request body is read from `req` as the upstream socket drains.
    pool.dispatch(
      {
        path: this.#path(req),
        method: req.method ?? 'GET',
        headers: upstreamRequestHeaders(req, this.#forwarding, false),
        body: hasBody(req) ? req : null,
      },
      {
        onRequestStart: (c) => {
          controller = c;
          if (clientGone) c.abort(clientGoneError());
        },
        onResponseStart: (c, statusCode, _headers, statusMessage) => {
          // 1xx informational answers (103 Early Hints) are not passed on.
          if (statusCode < 200 || clientGone) return;
          const raw = stringsOf(c.rawHeaders);
          const headers = clientResponseHeaders(raw, http2);
          try {
            // Both response kinds take a flat [name, value, …] list: duplicates (set-cookie) stay apart.
            if (http2) (res as FlatHead).writeHead(statusCode, headers);
            else (res as FlatHead).writeHead(statusCode, statusMessage || undefined, headers);
          } catch (err) {
            // A head Node refuses to send (a header HTTP/2 forbids twice): the upstream's answer is unusable.
            return c.abort(err as Error);
          }
          headSent = true;
          res.on('drain', resume);
          // HTTP/2 sends the head in writeHead(); HTTP/1 holds it for the first write. A streamed
          // body (no Content-Length) may be slow to start, so show its head now; with a length,
          // the body usually follows at once and goes out in the same packet.
          if (!http2 && !hasHeader(raw, 'content-length')) (res as ServerResponse).flushHeaders();
        },
        onResponseData: (c, chunk) => {
          if (!clientGone && !(res as ServerResponse).write(chunk)) {
            c.pause();
            stalled ??= setTimeout(() => c.abort(clientStalledError(this.#timeout)), this.#timeout).unref();
          }
        },
        onResponseEnd: () => {
          done = true;
          clearTimeout(stalled);
          res.off('drain', resume);
          if (!clientGone) res.end();
        },
        onResponseError: (_c, err) => {
          done = true;
          clearTimeout(stalled);
          res.off('drain', resume);
          this.#failed(res, err, clientGone || isClosed(res), headSent);
        },
      },
    );
  }

  /** Answers, or cuts off, a request that failed: once, and logged once. */
  #failed(res: AnyResponse, err: Error, clientGone: boolean, headSent: boolean): void {
    const upstream = this.#origin;
    if (clientGone) {
      this.#logger().debug({ err }, `site ${this.name}: the client went away; the request to ${upstream} was aborted`);
    } else if ((err as { [STALLED]?: true })[STALLED] === true) {
      // The client's doing, not a failure: one line, no stack.
      this.#logger().warn(`site ${this.name}: the client stopped reading for ${this.#timeout / 1000} s; response cut off, request to ${upstream} aborted`);
      abortResponse(res);
    } else if (headSent) {
      this.#logger().error({ err }, `site ${this.name}: upstream ${upstream} failed during the response body; response cut off`);
      abortResponse(res);
    } else if (TIMEOUT_CODES.has((err as { code?: string }).code ?? '')) {
      this.#logger().error({ err }, `site ${this.name}: upstream ${upstream} did not answer within ${this.#timeout / 1000} s (504)`);
      sendStatus(res, 504);
    } else {
      this.#logger().error({ err }, `site ${this.name}: upstream ${upstream} failed before its response head (502)`);
      sendStatus(res, 502);
    }
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (req.url === '*') return rejectUpgrade(socket, 400);
    if (this.#closing !== undefined) return rejectUpgrade(socket, 503);
    // Node does not frame an upgrade request's body: one declared cannot be forwarded as a body.
    if (hasBody(req)) return rejectUpgrade(socket, 400);
    if (asksForH2c(req.rawHeaders)) return rejectUpgrade(socket, 400);
    const headers = upstreamRequestHeaders(req, this.#forwarding, true);
    openTunnel(socket, req, this.#path(req), headers, head, this.#tunnel, (failure) => {
      const what = failure.stage === 'request'
        ? `could not proxy the upgrade (${failure.status})`
        : failure.stage === 'answer'
          ? 'its answer to the upgrade failed; the connection was cut off'
          : 'the upgraded connection failed; both sides closed';
      this.#logger().error({ err: failure.err }, `site ${this.name}: upstream ${this.#origin}: ${what}`);
    });
    this.#tunnels.add(socket);
    socket.once('close', () => this.#tunnels.delete(socket));
  }

  /** Imports undici: the only thing a proxy site loads. */
  load(): Promise<string | undefined> {
    return loadUndici();
  }

  /**
   * Lets in-flight requests and open tunnels finish for at most
   * `CLOSE_GRACE_MS`, then destroys the pool and the tunnels. Never rejects.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const pool = this.#pool;
    const tunnels = [...this.#tunnels];
    const graceful = Promise.all([
      pool?.close().catch(noop),
      ...tunnels.map((socket) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())))),
    ]);
    if ((await within(graceful, CLOSE_GRACE_MS)) !== TIMED_OUT) return;
    this.#logger().warn(`site ${this.name}: closing cut off what was still in flight after ${CLOSE_GRACE_MS / 1000} s`);
    for (const socket of tunnels) socket.destroy();
    await pool?.destroy().catch(noop);
  }

  #createPool(): Pool {
    const timeout = this.#timeout;
    return new undici!.Pool(this.#origin, {
      connectTimeout: timeout,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
  }
}

/**
 * A request for `*` (asterisk-form) is answered here: undici sends only
 * targets that start with `/`, and `OPTIONS /` would ask the upstream's
 * root resource something else. `OPTIONS *` gets `200` with no content, as
 * Go's (and so Caddy's) server answers it; `*` is a target for OPTIONS
 * only, so any other method gets `400`.
 */
function answerAsterisk(req: AnyRequest, res: AnyResponse): void {
  if (req.method !== 'OPTIONS') return sendStatus(res, 400);
  res.statusCode = 200;
  res.setHeader('content-length', '0');
  res.end();
}

/**
 * Whether any `Upgrade` header offers `h2c`. A 101 to it would give the
 * client cleartext HTTP/2 straight to the upstream, where it could ask for
 * any path and host past the proxy's path prefix and Host (h2c smuggling);
 * hostmux offers no cleartext HTTP/2, so it never asks an upstream for it.
 */
function asksForH2c(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 7 || raw[i]!.toLowerCase() !== 'upgrade') continue;
    for (const token of raw[i + 1]!.split(',')) {
      const protocol = token.trim().toLowerCase();
      if (protocol === 'h2c' || protocol.startsWith('h2c/')) return true;
    }
  }
  return false;
}

function hasHeader(raw: readonly string[], lower: string): boolean {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === lower.length && raw[i]!.toLowerCase() === lower) return true;
  return false;
}
