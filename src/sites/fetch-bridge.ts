import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { normalizeHost } from '../routing/hostname.js';
import { originForm, type AnyRequest } from '../routing/request-host.js';
import type { AnyResponse } from '../respond.js';
import { SITE_INFO, siteOf } from '../site-of.js';

/** A Web-standard handler: a Hono app, or anything with `fetch(request)`. */
export interface FetchHandler {
  fetch(request: Request): Response | Promise<Response>;
}

/** The URL a fetch-style site sees: the routed host (with the port it was sent with) and the path. */
function requestUrl(req: AnyRequest): string {
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const hostname = siteOf(req)?.hostname || 'localhost';
  const sent = req.headers[':authority'] ?? req.headers.host;
  const authority = typeof sent === 'string' && normalizeHost(sent) === hostname ? sent.toLowerCase() : hostname;
  return `${scheme}://${authority}${originForm(req.url ?? '/')}`;
}

/** A real `Request` for a Node request: headers as received, body streamed. */
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
    init.body = Readable.toWeb(req as Readable) as ReadableStream;
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

/** Writes a `Response` back: status, headers (each `set-cookie` kept apart), streamed body. */
async function writeResponse(response: Response, req: AnyRequest, res: AnyResponse): Promise<void> {
  res.statusCode = response.status;
  if (response.statusText && !('stream' in res)) res.statusMessage = response.statusText;
  for (const [name, value] of response.headers) {
    if (name !== 'set-cookie') res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  const body = response.body;
  if (body === null || req.method === 'HEAD') {
    res.end();
    if (body !== null) await body.cancel();
    return;
  }
  await pipeline(Readable.fromWeb(body as NodeReadableStream), res as NodeJS.WritableStream);
}

/**
 * A Node request listener serving a fetch-style handler. A client that goes
 * away aborts the `Request`'s signal; that is not an error of the site.
 */
export function fetchListener(handler: FetchHandler): (req: AnyRequest, res: AnyResponse) => Promise<void> {
  return async (req, res) => {
    const controller = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const response: unknown = await handler.fetch(toRequest(req, controller.signal));
    if (!isResponse(response)) throw new TypeError(`fetch() returned ${typeof response}, not a Response`);
    try {
      await writeResponse(response, req, res);
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
  };
}
