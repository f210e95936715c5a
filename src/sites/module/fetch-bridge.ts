import type { Readable } from 'node:stream';
import { BadResponseError, ClientGoneError } from '../../errors.js';
import { normalizeHost } from '../../routing/hostname.js';
import { originForm, type AnyRequest } from '../../routing/request-host.js';
import { isClosed, type AnyResponse } from '../../respond.js';
import { siteOf } from '../../site-of.js';
import { SITE_INFO } from '../../symbols.js';
import { HOP_BY_HOP, hopByHop, receivedAuthority } from '../http-headers.js';

/** A Web-standard handler: a Hono app, or anything with `fetch(request)`. */
export interface FetchHandler {
  fetch(request: Request): Response | Promise<Response>;
}

/** Methods a `Request` cannot carry (the fetch standard forbids them). */
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

/** The `:port` ending an authority (`a.test:8080`, `[::1]:8080`), or `''`. */
function portOf(authority: string): string {
  const colon = authority.lastIndexOf(':');
  return colon === -1 || colon < authority.lastIndexOf(']') || colon === authority.length - 1 ? '' : authority.slice(colon);
}

/**
 * The URL a fetch-style site sees: the routed host, with the port of the
 * authority it was routed by (an absolute-form target's, else `:authority`,
 * else Host), and the path. The host is the routed one, in its normal form;
 * a port is taken only from an authority that normalises to that host (not
 * when a forwarded host was routed by).
 */
function requestUrl(req: AnyRequest): string {
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const hostname = siteOf(req)?.hostname || 'localhost';
  const sent = receivedAuthority(req);
  const port = sent !== undefined && normalizeHost(sent) === hostname ? portOf(sent) : '';
  return `${scheme}://${hostname}${port}${originForm(req.url ?? '/')}`;
}

/**
 * The request body as a Web stream that reads from `req` only when the site
 * reads. `Readable.toWeb` starts reading at once, which marks the request as
 * consumed: Node then no longer discards an unread body after the response,
 * and a keep-alive connection stalls behind it.
 */
const GONE_MID_BODY = 'the client closed the request before its body ended';

function requestBody(req: Readable): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      pull: (controller) =>
        new Promise<void>((resolve, reject) => {
          const settle = (done: () => void) => {
            req.off('readable', onReadable);
            req.off('end', onEnd);
            req.off('error', onError);
            req.off('close', onClose);
            done();
          };
          const onReadable = () => {
            const chunk = req.read() as Buffer | null;
            if (chunk !== null) settle(() => (controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)), resolve()));
          };
          const onEnd = () => settle(() => (controller.close(), resolve()));
          // Node's own error here ('aborted', ECONNRESET) means the same: the client left.
          const onError = (err: Error) => settle(() => reject(new ClientGoneError(GONE_MID_BODY, { cause: err })));
          const onClose = () => settle(() => reject(new ClientGoneError(GONE_MID_BODY)));
          if (req.readableEnded) return onEnd();
          if (req.destroyed) return onClose();
          req.on('readable', onReadable);
          req.on('end', onEnd);
          req.on('error', onError);
          req.on('close', onClose);
          onReadable();
        }),
      // The site does not want the rest: let Node discard it, keeping the connection.
      cancel: () => void req.resume(),
    },
    { highWaterMark: 0 },
  );
}

/** A real `Request` for a Node request: headers as received, body streamed on demand. */
function toRequest(req: AnyRequest, signal: AbortSignal): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    // HTTP/2 pseudo-headers (`:path`) are not headers to a fetch handler.
    if (raw[i]!.charCodeAt(0) !== 58) headers.append(raw[i]!, raw[i + 1]!);
  }
  const method = req.method ?? 'GET';
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal };
  if (method !== 'GET' && method !== 'HEAD') {
    init.body = requestBody(req);
    init.duplex = 'half';
  }
  const request = new Request(requestUrl(req), init);
  (request as { [SITE_INFO]?: unknown })[SITE_INFO] = siteOf(req);
  return request;
}

function isResponse(value: unknown): value is Response {
  return value instanceof Response || (
    typeof value === 'object' && value !== null &&
    typeof (value as Response).status === 'number' && (value as Response).headers instanceof Headers
  );
}

/** Resolves when `res` can take more, or is gone. */
function writable(res: AnyResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Writes a `Response` back: status, headers (each `set-cookie` kept apart),
 * then the body chunk by chunk with backpressure. Nothing is sent before the
 * first chunk is in hand, so a body that fails at once still gets a 500.
 * Hop-by-hop headers are dropped, as a proxy site drops them: a Response
 * passed on from `fetch()` carries the upstream connection's `Connection` and
 * `Keep-Alive`, which HTTP/2 forbids (Node throws) and which describe a
 * connection the client does not have.
 */
async function writeResponse(response: Response, req: AnyRequest, res: AnyResponse): Promise<void> {
  res.statusCode = response.status;
  const http2 = 'stream' in res;
  if (response.statusText && !http2) res.statusMessage = response.statusText;
  const connection = response.headers.get('connection');
  const drop = connection === null ? HOP_BY_HOP : hopByHop(['connection', connection]);
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie' || drop.has(name) || (http2 && name === 'http2-settings')) continue;
    res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  // A Response passed on from fetch() has a decoded body under the upstream's
  // content-length: fail the response rather than send a wrong length.
  if (!('stream' in res) && response.headers.has('content-length')) res.strictContentLength = true;
  const body = response.body;
  if (body === null || req.method === 'HEAD') {
    res.end();
    if (body !== null) await body.cancel();
    return;
  }
  const reader = (body as ReadableStream<Uint8Array>).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (isClosed(res)) return;
      if (!(res as NodeJS.WritableStream).write(value)) await writable(res);
    }
    res.end();
  } finally {
    if (isClosed(res)) await reader.cancel().catch(() => {});
  }
}

/**
 * A Node request listener serving a fetch-style handler. A client that goes
 * away aborts the `Request`'s signal; what fails after that is not an error
 * of the site.
 */
export function fetchListener(handler: FetchHandler): (req: AnyRequest, res: AnyResponse) => Promise<void> {
  return async (req, res) => {
    if (FORBIDDEN_METHODS.has(req.method ?? '')) {
      res.statusCode = 501;
      res.end();
      return;
    }
    const controller = new AbortController();
    if (isClosed(res)) controller.abort();
    else {
      res.once('close', () => {
        if (!res.writableFinished) controller.abort();
      });
    }
    try {
      const response: unknown = await handler.fetch(toRequest(req, controller.signal));
      if (!isResponse(response)) throw new BadResponseError(`fetch() returned ${typeof response}, not a Response`);
      await writeResponse(response, req, res);
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
  };
}
