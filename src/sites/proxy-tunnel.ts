import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { rejectUpgrade } from '../respond.js';

/** Where a tunnel goes and how long it may take to get an answer; made once per site. */
export interface TunnelTarget {
  readonly secure: boolean;
  /** The host to connect to (an IPv6 literal without its brackets). */
  readonly host: string;
  readonly port: number;
  /** Bounds the connect and the wait for the upstream's first byte, in ms. */
  readonly timeout: number;
}

/** The tunnel target of an upstream URL. */
export function tunnelTarget(url: URL, timeout: number): TunnelTarget {
  const secure = url.protocol === 'https:';
  return {
    secure,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port) || (secure ? 443 : 80),
    timeout,
  };
}

/** Why a tunnel failed: before the upstream answered (the client got 502/504) or after. */
export type TunnelFailure =
  | { readonly answered: false; readonly status: 502 | 504; readonly err: Error }
  | { readonly answered: true; readonly err: Error };

function noop(): void {}

function timeoutError(ms: number): Error {
  return Object.assign(new Error(`the upstream did not answer the upgrade within ${ms} ms`), { code: 'HOSTMUX_UPSTREAM_TIMEOUT' });
}

/**
 * Tunnels an upgrade: opens a connection to the upstream, writes the
 * request head we built and the bytes the client sent after its head, then
 * copies bytes both ways (with `pipe`'s backpressure). Whatever the
 * upstream answers — `101` or any other status — reaches the client as it
 * is: this is a byte tunnel, not an HTTP client.
 *
 * Before the upstream's first byte, a failure answers the client with a
 * complete `502` (`504` when `timeout` passed) and closes; after it, an
 * error on either side destroys both. Returns the upstream socket, which
 * closes when the tunnel is over.
 */
export function openTunnel(
  client: Duplex,
  requestHead: string,
  head: Buffer,
  target: TunnelTarget,
  onFailure: (failure: TunnelFailure) => void,
): Duplex {
  const { secure, host, port, timeout } = target;
  const upstream = secure
    ? tls.connect({ host, port, servername: net.isIP(host) === 0 ? host : undefined, ALPNProtocols: ['http/1.1'] })
    : net.connect({ host, port });
  upstream.setNoDelay(true);

  let answered = false;
  let failed = false;
  const fail = (err: Error, status: 502 | 504) => {
    clearTimeout(timer);
    if (failed) return;
    failed = true;
    // The client went away first: what follows is our own teardown, not the upstream's failure.
    if (client.destroyed) return void upstream.destroy();
    upstream.destroy();
    if (answered) {
      client.destroy();
      onFailure({ answered, err });
    } else {
      rejectUpgrade(client, status);
      onFailure({ answered, status, err });
    }
  };
  const timer = setTimeout(() => fail(timeoutError(timeout), 504), timeout);

  upstream.once(secure ? 'secureConnect' : 'connect', () => {
    upstream.write(requestHead);
    if (head.length > 0) upstream.write(head);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  upstream.once('data', () => {
    answered = true;
    clearTimeout(timer);
  });
  upstream.on('error', (err) => fail(err, 502));
  upstream.on('close', () => {
    clearTimeout(timer);
    if (!answered && !failed) fail(new Error('the upstream closed the connection before answering the upgrade'), 502);
    // pipe() already ended the client on a clean end; after an abrupt close, cut it off.
    else if (!client.writableEnded) client.destroy();
  });
  // The client leaving (or failing: 'close' follows 'error') ends the tunnel; that is not the site's failure.
  client.on('error', noop);
  client.on('close', () => {
    clearTimeout(timer);
    upstream.destroy();
  });
  return upstream;
}
