import http, { ServerResponse, type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { UpstreamError, UpstreamTimeoutError } from '../../errors.js';
import { endUpgrade, rejectUpgrade } from '../../respond.js';
import { clientResponseHeaders } from './proxy-headers.js';

/** Where a tunnel goes and how long it may take to get an answer; made once per site. */
export interface TunnelTarget {
  readonly secure: boolean;
  /** The host to connect to (an IPv6 literal without its brackets). */
  readonly host: string;
  readonly port: number;
  /** The TLS server name: the host, unless it is an IP address. */
  readonly servername: string | undefined;
  /** Bounds the connect and the wait for the upstream's answer, in ms. */
  readonly timeout: number;
}

/** The tunnel target of an upstream URL. */
export function tunnelTarget(url: URL, timeout: number): TunnelTarget {
  const secure = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    secure,
    host,
    port: Number(url.port) || (secure ? 443 : 80),
    servername: net.isIP(host) === 0 ? host : undefined,
    timeout,
  };
}

/**
 * Why a tunnel failed: before the upstream answered (the client got
 * 502/504), while its non-101 answer was being delivered, or after the 101.
 */
export type TunnelFailure =
  | { readonly stage: 'request'; readonly status: 502 | 504; readonly err: Error }
  | { readonly stage: 'answer' | 'tunnel'; readonly err: Error };

function noop(): void {}


/** The 101 head as the upstream sent it (Node's parser has checked every name and value). */
function switchingHead(res: IncomingMessage): string {
  let head = `HTTP/1.1 101 ${res.statusMessage ?? 'Switching Protocols'}\r\n`;
  const raw = res.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/**
 * Proxies an upgrade. The request goes upstream through node:http, on a
 * connection of its own, without a body; the client's socket is not read
 * meanwhile, so nothing it sends reaches the upstream before the answer.
 *
 * - `101`: the upstream's head goes to the client, then what each side sent
 *   (the client's `head` first) is copied both ways with `pipe`'s
 *   backpressure. An error on either side then destroys both.
 * - Any other status: delivered as a complete HTTP/1.1 response with
 *   `Connection: close` (hop-by-hop headers removed, Node framing the body),
 *   then the client's connection is ended. Nothing more is sent upstream.
 * - A failure before the answer: a complete `502`, or `504` once `timeout`
 *   passed (it bounds the connect and the wait for the response head).
 *
 * The client's socket closes when all is over, whichever way it went.
 */
export function openTunnel(
  client: Duplex,
  req: IncomingMessage,
  path: string,
  headers: string[],
  head: Buffer,
  target: TunnelTarget,
  onFailure: (failure: TunnelFailure) => void,
): void {
  const { secure, host, port, servername, timeout } = target;
  let upstream: ClientRequest;
  try {
    const options = { host, port, method: req.method ?? 'GET', path, headers, agent: false as const };
    // ALPN, as tls.connect() takes it: an upstream that also speaks h2 must answer in HTTP/1.1.
    upstream = secure ? https.request({ ...options, servername, ALPNProtocols: ['http/1.1'] } as https.RequestOptions) : http.request(options);
  } catch (err) {
    // A path or method node:http refuses to send.
    rejectUpgrade(client, 502);
    return onFailure({ stage: 'request', status: 502, err: err as Error });
  }
  let answered = false;
  const fail = (err: Error, status: 502 | 504) => {
    clearTimeout(timer);
    if (answered) return;
    answered = true;
    upstream.destroy();
    // The client went away first: what follows is our own teardown, not the upstream's failure.
    if (client.destroyed) return;
    rejectUpgrade(client, status);
    onFailure({ stage: 'request', status, err });
  };
  const timer = setTimeout(() => fail(new UpstreamTimeoutError(timeout), 504), timeout);
  upstream.on('error', (err) => fail(err, 502));
  upstream.on('close', () => fail(new UpstreamError('the upstream closed the connection before answering the upgrade'), 502));
  // The client leaving (or failing: 'close' follows 'error') ends it all; that is not the site's failure.
  client.on('error', noop);
  client.on('close', () => {
    clearTimeout(timer);
    upstream.destroy();
  });

  upstream.on('upgrade', (res: IncomingMessage, socket: Socket, upstreamHead: Buffer) => {
    clearTimeout(timer);
    answered = true;
    socket.on('error', (err) => {
      if (!client.destroyed) onFailure({ stage: 'tunnel', err });
      client.destroy();
    });
    if (client.destroyed) return void socket.destroy();
    socket.setNoDelay(true);
    client.write(switchingHead(res));
    if (upstreamHead.length > 0) client.write(upstreamHead);
    if (head.length > 0) socket.write(head);
    client.pipe(socket);
    socket.pipe(client);
    // pipe() already ended the client on a clean end; after an abrupt close, cut it off.
    socket.on('close', () => {
      if (!client.writableEnded) client.destroy();
    });
    client.on('close', () => socket.destroy());
  });

  upstream.on('response', (res: IncomingMessage) => {
    clearTimeout(timer);
    answered = true;
    if (client.destroyed) return void res.destroy();
    if (res.statusCode === 101) {
      // Node calls it an upgrade only with Upgrade and Connection: Upgrade; without, it switched to nothing known.
      res.destroy();
      rejectUpgrade(client, 502);
      return onFailure({ stage: 'request', status: 502, err: new UpstreamError('the upstream answered 101 without Upgrade and Connection: Upgrade') });
    }
    deliver(client, req, res, timeout, (err) => onFailure({ stage: 'answer', err }));
  });
  upstream.end();
}

/**
 * Sends a non-101 answer to the client as a complete response through a
 * ServerResponse on its socket (Node frames the body: Content-Length,
 * chunked, or none for HEAD/204/304), with `Connection: close`; then ends
 * the connection. A body that pauses for `timeout` ms (an upstream that
 * stalls, or a client that stops reading) is cut off, as a proxied
 * response's body is: the client's connection is not held for ever.
 */
function deliver(client: Duplex, req: IncomingMessage, answer: IncomingMessage, timeout: number, onFailure: (err: Error) => void): void {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(client as Socket);
  try {
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage || undefined, clientResponseHeaders(answer.rawHeaders, false));
  } catch (err) {
    answer.destroy();
    res.detachSocket(client as Socket);
    rejectUpgrade(client, 502);
    return onFailure(err as Error);
  }
  answer.on('error', noop);
  res.on('error', noop);
  let stalled: Error | undefined;
  answer.socket.setTimeout(timeout, () => {
    stalled = new UpstreamTimeoutError(timeout, `the upstream's answer to the upgrade paused for ${timeout} ms`);
    answer.destroy();
  });
  answer.on('close', () => {
    // The upstream's body was cut off (not by the client leaving): so is the client's answer.
    if (!answer.complete && !client.destroyed) {
      onFailure(stalled ?? new UpstreamError('the upstream closed the connection during its answer to the upgrade'));
      client.destroy();
    }
  });
  res.on('finish', () => {
    res.detachSocket(client as Socket);
    endUpgrade(client);
  });
  answer.pipe(res);
}
