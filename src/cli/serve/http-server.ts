import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Application } from '../../application.js';
import { internalsOf } from '../../internal.js';
import { destroyOnError, destroySiteSocket } from '../../respond.js';
import { plural } from '../output.js';
import { HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from './timeouts.js';
import { listenOn } from './listen-on.js';

/** How often Node checks the timeouts (its default, 30 s, would let a 20 s bound run to 50). */
const TIMEOUT_CHECK_MS = 1_000;
/** While draining, how often idle keep-alive connections are closed. */
const IDLE_SWEEP_MS = 100;

/** What a drain's bound (or a second signal) cut off. */
export interface Cut {
  /** Requests still in flight. */
  readonly requests: number;
  /** Upgraded (WebSocket) connections still open after the sites' close() was called. */
  readonly upgrades: number;
}

/** `cut off 1 request still in flight and 2 upgraded connections still open`; undefined when nothing was. */
export function describeCut({ requests, upgrades }: Cut): string | undefined {
  const parts: string[] = [];
  if (requests > 0) parts.push(`${plural(requests, 'request')} still in flight`);
  if (upgrades > 0) parts.push(`${plural(upgrades, 'upgraded connection')} still open`);
  return parts.length === 0 ? undefined : `cut off ${parts.join(' and ')}`;
}

/** One HTTP server for an application, which can stop gracefully. */
export interface Served {
  readonly server: http.Server;
  /** Starts listening; rejects with the listen error (EADDRINUSE, EACCES). */
  listen(port: number, host: string): Promise<AddressInfo>;
  /**
   * Stops accepting and waits, for at most `ms`, for in-flight requests to
   * finish; once none is left it calls `close` (which closes the sites, so
   * that they end their WebSockets: it must not reject) and waits, within
   * the same bound, for upgraded connections to end. At the bound it cuts
   * off the requests still in flight and the upgraded connections still
   * open (when requests ran to the bound, `close` is called first and those
   * still open once it settles are cut). Resolves, once `close` has
   * settled, with what was cut off.
   *
   * `gentle` (a rolling reload, a crashed worker): idle keep-alive
   * connections are not closed under a client that may be sending on them
   * that very moment; each ends after its next response (`Connection:
   * close`) or its keep-alive timeout, and the sites close once all have.
   */
  drain(ms: number, close: () => Promise<void>, gentle?: boolean): Promise<Cut>;
  /**
   * Serves a connection the primary accepted and handed over (`--sticky`):
   * this server does not listen itself.
   */
  take(socket: Socket): void;
  /** Ends a drain now, cutting what is still in flight. */
  cutNow(): void;
}

const UNAVAILABLE = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

/**
 * `front` sees each request first (ACME challenges, redirect_http): it
 * answers and returns true, or returns false and the application serves.
 */
export function createServer(app: Application, front?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean): Served {
  const inFlight = new Set<http.ServerResponse>();
  const upgraded = new Set<Duplex>();
  /** Open HTTP connections (not upgraded ones): a gentle drain waits for them. */
  const connections = new Set<Duplex>();
  let draining = false;
  /** Set while draining: checks whether all is done. */
  let settle: (() => void) | undefined;
  /** Set while draining: ends it at once. */
  let finish: (() => void) | undefined;
  /** A cut asked for before the drain began (a second signal right after the first): it cuts at once. */
  let cutAsked = false;

  // One listener for every response, rather than a closure (or once()'s wrapper) per request.
  function released(this: http.ServerResponse): void {
    inFlight.delete(this);
    settle?.();
  }
  const server = http.createServer(
    { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_MS },
    (req, res) => {
      inFlight.add(res);
      // 'close' comes once per response.
      res.on('close', released);
      // Node keeps a connection alive after server.close(): tell the client it ends.
      if (draining) res.setHeader('connection', 'close');
      if (front === undefined || !front(req, res)) app(req, res);
    },
  );
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => {
      connections.delete(socket);
      settle?.();
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    connections.delete(socket);
    if (draining) {
      // Before writing: a client resetting the connection would otherwise crash the process.
      socket.on('error', destroyOnError);
      socket.end(UNAVAILABLE);
      return;
    }
    upgraded.add(socket);
    socket.once('close', () => {
      upgraded.delete(socket);
      settle?.();
    });
    app.upgrade(req, socket, head);
  });

  const listen = (port: number, host: string) => listenOn(server, port, host);

  const drain = (ms: number, close: () => Promise<void>, gentle = false) =>
    new Promise<Cut>((resolve) => {
      draining = true;
      // http.Server's close() also closes idle connections; net.Server's only stops accepting.
      if (gentle) net.Server.prototype.close.call(server, () => {});
      else server.close(() => {});
      for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
      // A response whose head is out keeps its connection alive: close each once idle.
      const sweep = gentle ? undefined : setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
      let closing: Promise<void> | undefined;
      // Deferred a tick: close() may end sockets, whose listeners settle again.
      const closeSites = () => (closing ??= Promise.resolve().then(close));
      let ended = false;
      const end = async (cutting: boolean) => {
        if (ended) return;
        ended = true;
        settle = finish = undefined;
        clearInterval(sweep);
        clearTimeout(bound);
        const requests = cutting ? inFlight.size : 0;
        server.closeAllConnections();
        // Requests ran to the bound, so the sites close only now: they still get to end their connections.
        if (closing === undefined) await closeSites();
        const open = upgraded.size;
        for (const socket of upgraded) destroySiteSocket(socket);
        await closing;
        // Those the application cut off itself, still open after its own grace, count too.
        resolve({ requests, upgrades: open + (internalsOf(app)?.upgradesCut ?? 0) });
      };
      const bound = setTimeout(() => void end(true), ms);
      finish = () => void end(true);
      settle = () => {
        if (inFlight.size > 0 || (gentle && connections.size > 0)) return;
        void closeSites();
        if (upgraded.size === 0) void end(false);
      };
      if (!gentle) server.closeIdleConnections();
      settle();
      if (cutAsked) finish?.();
    });

  let tracking = false;
  const take = (socket: Socket) => {
    // Node sets up its timeout checks and connection tracking on 'listening',
    // which a server that never listens does not emit by itself.
    if (!tracking) {
      tracking = true;
      server.emit('listening');
    }
    server.emit('connection', socket);
    socket.resume();
  };

  const cutNow = () => {
    cutAsked = true;
    finish?.();
  };
  return { server, listen, drain, take, cutNow };
}
