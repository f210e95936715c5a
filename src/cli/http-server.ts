import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Application } from '../application.js';
import { HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from './timeouts.js';

/** How often Node checks the timeouts (its default, 30 s, would let a 20 s bound run to 50). */
const TIMEOUT_CHECK_MS = 1_000;
/** While draining, how often idle keep-alive connections are closed. */
const IDLE_SWEEP_MS = 100;

/** One HTTP server for an application, which can stop gracefully. */
export interface Served {
  readonly server: http.Server;
  /** Starts listening; rejects with the listen error (EADDRINUSE, EACCES). */
  listen(port: number, host: string): Promise<AddressInfo>;
  /**
   * Stops accepting and waits for in-flight requests (and upgraded
   * connections) for at most `ms`; then closes every connection. Resolves
   * with how many were cut off at the bound.
   */
  drain(ms: number): Promise<number>;
  /** Ends a drain now, cutting what is still in flight. */
  cutNow(): void;
}

const UNAVAILABLE = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

export function createServer(app: Application): Served {
  const inFlight = new Set<http.ServerResponse>();
  const upgraded = new Set<Duplex>();
  let draining = false;
  /** Set while draining: checks whether all is done. */
  let settle: (() => void) | undefined;
  let finish: (() => void) | undefined;

  // One listener for every response, rather than a closure per request.
  function released(this: http.ServerResponse): void {
    inFlight.delete(this);
    settle?.();
  }
  const server = http.createServer(
    { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_MS },
    (req, res) => {
      inFlight.add(res);
      res.once('close', released);
      // Node keeps a connection alive after server.close(): tell the client it ends.
      if (draining) res.setHeader('connection', 'close');
      app(req, res);
    },
  );
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (draining) {
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

  const listen = (port: number, host: string) =>
    new Promise<AddressInfo>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server.address() as AddressInfo);
      });
    });

  const drain = (ms: number) =>
    new Promise<number>((resolve) => {
      draining = true;
      server.close(() => {});
      for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
      // A response whose head is out keeps its connection alive: close each once idle.
      const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
      const end = (cut: number) => {
        settle = finish = undefined;
        clearInterval(sweep);
        clearTimeout(bound);
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
        resolve(cut);
      };
      const bound = setTimeout(() => end(inFlight.size + upgraded.size), ms);
      finish = () => end(inFlight.size + upgraded.size);
      settle = () => {
        if (inFlight.size + upgraded.size === 0) end(0);
      };
      server.closeIdleConnections();
      settle();
    });

  return { server, listen, drain, cutNow: () => finish?.() };
}
