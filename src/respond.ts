import { STATUS_CODES, type ServerResponse } from 'node:http';
import { constants } from 'node:http2';
import type { Http2ServerResponse } from 'node:http2';
import { Duplex } from 'node:stream';

/**
 * A response as the application receives it: HTTP/1 or the HTTP/2 compatibility API.
 * @public
 */
export type AnyResponse = ServerResponse | Http2ServerResponse;

const BODIES: Record<number, string> = {
  400: 'Bad Request\n',
  404: 'Not Found\n',
  413: 'Content Too Large\n',
  500: 'Internal Server Error\n',
  502: 'Bad Gateway\n',
  503: 'Service Unavailable\n',
  504: 'Gateway Timeout\n',
};

/** True once the response can no longer be written: the client is gone or it was cut off. */
export function isClosed(res: AnyResponse): boolean {
  return 'stream' in res ? res.stream.destroyed : res.destroyed;
}

/**
 * Ends a response abruptly: for failures after the head went out. An HTTP/2
 * stream is reset with INTERNAL_ERROR: destroyed without an error, Node
 * resets it with NO_ERROR, which a client takes for a complete response.
 */
export function abortResponse(res: AnyResponse): void {
  if ('stream' in res) res.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  else res.destroy();
}

/**
 * The one place hostmux answers on its own: a fixed plain-text body per
 * status, never anything from the request. After the head went out, the
 * response can only be cut off. `retryAfter` (seconds) adds `Retry-After`.
 */
export function sendStatus(res: AnyResponse, status: number, retryAfter?: number): void {
  if (res.headersSent) {
    if (!res.writableEnded) abortResponse(res);
    return;
  }
  const body = BODIES[status] ?? `${status}\n`;
  // Drop what a failed site set (a cookie, a content-encoding): this answer is ours alone.
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.statusCode = status;
  // The site's reason phrase is not ours either (and may be one Node refuses to send).
  if (!('stream' in res)) res.statusMessage = STATUS_CODES[status] ?? '';
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  if (retryAfter !== undefined) res.setHeader('retry-after', String(retryAfter));
  // A bad request, or a body refused as too large, may have left unread bytes behind: do not reuse the connection.
  if ((status === 400 || status === 413) && !('stream' in res)) res.setHeader('connection', 'close');
  res.end(body);
}

/**
 * Answers `status` for a site that failed, or cuts its response off; never
 * throws. The site may have replaced its response's methods (`res.end = …`)
 * so that answering throws: then the response is cut off, and when even that
 * throws it is left to the server's timeouts.
 */
export function answerFailure(res: AnyResponse, status: number): void {
  try {
    sendStatus(res, status);
  } catch {
    try {
      abortResponse(res);
    } catch {
      // Nothing of this response can be trusted any more.
    }
  }
}

/**
 * Destroys a socket a site was handed; never throws. The site may have
 * replaced the socket's own `destroy` (with one that throws, or does
 * nothing): the stream's own is called instead.
 */
export function destroySiteSocket(socket: Duplex): void {
  try {
    Duplex.prototype.destroy.call(socket);
  } catch {
    // Left to the client and the kernel.
  }
}

/**
 * Answers an upgrade request hostmux cannot serve: a complete HTTP/1.1
 * response on the raw socket, which is then closed. `retryAfter` (seconds)
 * adds `Retry-After`.
 */
export function rejectUpgrade(socket: Duplex, status: number, retryAfter?: number): void {
  if (socket.destroyed) return;
  const body = BODIES[status] ?? `${status}\n`;
  endUpgrade(
    socket,
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'content-type: text/plain; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      (retryAfter === undefined ? '' : `retry-after: ${retryAfter}\r\n`) +
      'connection: close\r\n\r\n' +
      body,
  );
}

/** How long an answered upgrade's connection waits for the client to close its side. */
const LINGER_MS = 5_000;

const LINGER = Symbol('hostmux.linger');

function lingerExpired(socket: Duplex): void {
  socket.destroy();
}

function stopLinger(this: Duplex & { [LINGER]?: NodeJS.Timeout }): void {
  clearTimeout(this[LINGER]);
}

/**
 * Ends an upgrade's connection once its answer is out (`data`, if given,
 * is the last of it). The client's further bytes are read and discarded,
 * so that its own end of the connection closes the socket (and unread
 * input cannot turn the close into a reset that loses the answer); a
 * client that keeps it open is cut off after `LINGER_MS`.
 */
export function endUpgrade(socket: Duplex & { [LINGER]?: NodeJS.Timeout }, data?: string): void {
  if (data === undefined) socket.end();
  else socket.end(data);
  socket.resume();
  if (socket[LINGER] !== undefined) return;
  socket[LINGER] = setTimeout(lingerExpired, LINGER_MS, socket).unref();
  socket.once('close', stopLinger);
}

/** An 'error' listener for a raw socket: Node takes its own off an upgraded one. Shared, no closure per socket. */
export function destroyOnError(this: Duplex): void {
  this.destroy();
}
