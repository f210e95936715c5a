import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Application } from '../../application.js';
import { internalsOf } from '../../internal.js';
import { destroyOnError, destroySiteSocket } from '../../respond.js';
import type { Certificates } from '../../tls/certificates.js';
import { KEEP_ALIVE_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from './timeouts.js';
import { listenOn } from './listen-on.js';

/** How long a TLS handshake may take before the connection is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
const UNAVAILABLE = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

/** The TLS listener of `serve`: HTTP/2 and HTTP/1.1 by ALPN, through the same application. */
export interface TlsServed {
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops accepting and lets HTTP/2 sessions finish their streams; resolves once no request is in flight (or at `ms`). */
  quiesce(ms: number): Promise<void>;
  /** Ends every connection still open; how many requests were cut off. */
  cut(): number;
}

/**
 * The certificate of each handshake is the current configuration's choice
 * (SNI → the site routing gives it → its certificate), read at the
 * handshake: a reload that renews a file serves it to new connections, and
 * connections already open keep theirs.
 */
export function createTlsServer(app: Application): TlsServed {
  const internals = internalsOf(app)!;
  const inFlight = new Set<http2.Http2ServerResponse>();
  const upgraded = new Set<Duplex>();
  const sockets = new Set<Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  let draining = false;
  let idle: (() => void) | undefined;
  /** The certificates the default context was last set from. */
  let defaultFrom: Certificates | undefined;

  const server = http2.createSecureServer({
    allowHTTP1: true,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    SNICallback: (servername, callback) => callback(null, internals.tls.contextFor(servername)),
  });
  // No certificate until one is set: a client without SNI is refused until the configuration has one for it.
  const refreshDefault = () => {
    const current = internals.tls;
    if (current === defaultFrom) return;
    defaultFrom = current;
    if (current.noSni !== undefined) server.setSecureContext({ ...current.noSni, allowHTTP1: true } as never);
  };
  refreshDefault();

  function released(this: http2.Http2ServerResponse): void {
    inFlight.delete(this);
    if (inFlight.size === 0) idle?.();
  }
  server.on('request', (req, res) => {
    inFlight.add(res);
    res.on('close', released);
    if (draining && req.httpVersionMajor === 1) res.setHeader('connection', 'close');
    app(req, res);
  });
  server.on('connection', (socket: Socket) => {
    // A reload since the last connection may have changed the certificate for clients without SNI.
    refreshDefault();
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('upgrade', (req: http2.Http2ServerRequest & import('node:http').IncomingMessage, socket: Duplex, head: Buffer) => {
    if (draining) {
      socket.on('error', destroyOnError);
      socket.end(UNAVAILABLE);
      return;
    }
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    app.upgrade(req, socket, head);
  });
  // A client that fails its handshake (a bad SNI, no certificate for it) is its own problem, not the log's.
  server.on('tlsClientError', (_error: Error, socket: TLSSocket) => socket.destroy());
  // An idle session or connection ends, as a keep-alive one does on the plain listener.
  server.setTimeout(KEEP_ALIVE_TIMEOUT_MS + REQUEST_TIMEOUT_MS);

  const listen = (port: number, host: string) => listenOn(server, port, host);

  const quiesce = (ms: number) =>
    new Promise<void>((resolve) => {
      draining = true;
      server.close(() => {});
      // GOAWAY: each HTTP/2 client opens no new stream here, and the session ends with its last.
      for (const session of sessions) session.close();
      const done = () => {
        clearTimeout(bound);
        idle = undefined;
        resolve();
      };
      const bound = setTimeout(done, ms);
      idle = done;
      if (inFlight.size === 0) done();
    });

  const cut = () => {
    const requests = inFlight.size;
    for (const session of sessions) session.destroy();
    for (const socket of sockets) socket.destroy();
    for (const socket of upgraded) destroySiteSocket(socket);
    return requests;
  };
  return { listen, quiesce, cut };
}
