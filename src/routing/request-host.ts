import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import parseForwarded from 'forwarded-parse';
import { normalizeHost } from './hostname.js';

/**
 * A request as the application receives it: HTTP/1 or the HTTP/2 compatibility API.
 * @public
 */
export type AnyRequest = IncomingMessage | Http2ServerRequest;

/** `requestHost` result for a request answered with 400 (README: Routing › 400 Bad Request). */
export const INVALID_HOST = undefined;

/**
 * The one Host header of the request, `null` when there is none, `undefined`
 * when there are several. `req.headers.host` keeps only the first of
 * duplicates, so the raw list is read.
 */
function hostHeader(req: AnyRequest): string | null | undefined {
  const raw = req.rawHeaders;
  let found: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host')) {
      if (found !== undefined) return undefined;
      found = raw[i + 1]!;
    }
  }
  return found ?? null;
}

/** The authority of an absolute-form target (`http://a.com:80/x`), or undefined. */
export function absoluteAuthority(url: string): string | undefined {
  const first = url.charCodeAt(0);
  if (first === 47 /* / */ || first === 42 /* * */) return undefined;
  const scheme = url.indexOf('://');
  if (scheme === -1) return undefined;
  const start = scheme + 3;
  let end = start;
  while (end < url.length) {
    const c = url.charCodeAt(end);
    if (c === 47 || c === 63 /* ? */ || c === 35 /* # */) break;
    end++;
  }
  return url.slice(start, end);
}

/** `forwardedHost` result for a `Forwarded` header that must be answered 400. */
export const MALFORMED_FORWARDED = null;

/**
 * The `host=` of a `Forwarded` header's first element (RFC 7239), unescaped;
 * undefined when that element has none; `MALFORMED_FORWARDED` when the
 * header does not parse or that element names `host` twice. Several header
 * lines arrive joined with `, `, as one list. forwarded-parse does the
 * grammar: quoted strings (with `,` `;` and escapes inside), case-insensitive
 * parameter names, several elements.
 */
export function forwardedHost(value: string): string | undefined | typeof MALFORMED_FORWARDED {
  let elements: Record<string, string>[];
  try {
    elements = parseForwarded(value);
  } catch {
    return MALFORMED_FORWARDED;
  }
  const host = elements[0]?.host;
  return host !== undefined && namesHostTwice(value) ? MALFORMED_FORWARDED : host;
}

/**
 * Whether the first element of a `Forwarded` value that already parsed
 * names `host` more than once (forwarded-parse keeps the last silently,
 * where another reader may take the first).
 */
function namesHostTwice(value: string): boolean {
  let seen = false;
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 92 /* \\ */) i++;
      else if (c === 34 /* " */) quoted = false;
    } else if (c === 34) {
      quoted = true;
    } else if (c === 44 /* , */) {
      break;
    } else if (c === 59 /* ; */) {
      start = i + 1;
    } else if (c === 61 /* = */) {
      if (value.slice(start, i).trim().toLowerCase() === 'host') {
        if (seen) return true;
        seen = true;
      }
    }
  }
  return false;
}

/**
 * The host a trusted proxy forwarded: the first X-Forwarded-Host value, else
 * the first `Forwarded` element's `host=`. A malformed `Forwarded` is
 * refused even when X-Forwarded-Host supplies the host, since a proxy site
 * passes it on.
 */
function trustedForwardedHost(req: AnyRequest): string | undefined | typeof MALFORMED_FORWARDED {
  const forwarded = req.headers.forwarded;
  const fromForwarded = typeof forwarded === 'string' ? forwardedHost(forwarded) : undefined;
  if (fromForwarded === MALFORMED_FORWARDED) return MALFORMED_FORWARDED;
  const xfh = req.headers['x-forwarded-host'];
  if (typeof xfh === 'string') {
    // The first value, without splitting the list: this runs per request.
    const comma = xfh.indexOf(',');
    return (comma === -1 ? xfh : xfh.slice(0, comma)).trim();
  }
  return fromForwarded;
}

/**
 * The normalised host a request is routed by (README: Routing › Which host): the authority of an
 * absolute-form target, else HTTP/2 `:authority`, else the Host header; with
 * `trustProxy`, a forwarded host replaces them. Returns `''` when the request
 * has no host at all (HTTP/1.0), `undefined` when it must be answered 400.
 * `forwarded`, when given, is the forwarded host a host framework already
 * chose (Fastify's `request.host`), read instead of the headers.
 * The Host header is validated whatever supplies the host, and under HTTP/2
 * must name the same host as `:authority` (ports aside).
 */
export function requestHost(req: AnyRequest, trustProxy: boolean, forwarded?: string): string | undefined {
  const header = hostHeader(req);
  if (header === undefined) return INVALID_HOST;
  let host = '';
  if (header !== null) {
    // An empty Host header is an empty host (400), unlike a missing one.
    const normal = normalizeHost(header);
    if (normal === undefined) return INVALID_HOST;
    host = normal;
  } else if (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) {
    return INVALID_HOST;
  }
  if (req.httpVersionMajor === 2) {
    const authority = req.headers[':authority'];
    if (typeof authority === 'string') {
      const normal = normalizeHost(authority);
      // RFC 9113 §8.3.1: a Host naming another host than :authority makes
      // the request malformed; a site reading Host would serve another tenant.
      if (normal === undefined || (header !== null && normal !== host)) return INVALID_HOST;
      host = normal;
    }
  }
  const url = req.url;
  if (url !== undefined && url.length > 0) {
    const authority = absoluteAuthority(url);
    if (authority !== undefined) {
      const normal = normalizeHost(authority);
      if (normal === undefined) return INVALID_HOST;
      host = normal;
    }
  }
  if (trustProxy) {
    if (forwarded === undefined) {
      const chosen = trustedForwardedHost(req);
      if (chosen === MALFORMED_FORWARDED) return INVALID_HOST;
      forwarded = chosen;
    }
    if (forwarded !== undefined) {
      const normal = normalizeHost(forwarded);
      if (normal === undefined) return INVALID_HOST;
      host = normal;
    }
  }
  return host;
}

/**
 * The origin-form (`/path?query`) of a request target: an absolute-form
 * target loses its scheme and authority, anything else not starting with
 * `/` (`*`, an authority) becomes `/`.
 */
export function originForm(url: string): string {
  if (url.charCodeAt(0) === 47 /* / */) return url;
  const authority = absoluteAuthority(url);
  if (authority === undefined) return '/';
  const rest = url.slice(url.indexOf('://') + 3 + authority.length);
  return rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
}
