import { forwardedHost as forwardedHostOf, MALFORMED_FORWARDED, type AnyRequest } from '../../routing/request-host.js';
import { senderTrusted } from '../../routing/routed-host.js';
import { hopByHop, receivedAuthority } from '../http-headers.js';

/** How a site rewrites what it forwards. */
export interface Forwarding {
  /** `trust_proxy`: the sender's forwarding headers are kept (and extended). */
  readonly trustProxy: boolean;
  /** `proxy_host = upstream`: the upstream's host:port; undefined to preserve the client's. */
  readonly upstreamHost: string | undefined;
}

/**
 * A forwarding header's name. An untrusted sender's `X_Forwarded_For` or
 * `X-Real_IP` is checked as this: CGI-style upstreams (PHP, WSGI, Rack) read
 * `_` and `-` alike, so it would pass for the header hostmux sets.
 */
function isForwardingName(lower: string): boolean {
  return lower.startsWith('x-forwarded-') || lower === 'forwarded' || lower === 'x-real-ip';
}

/** What must be escaped inside a quoted string. */
const QUOTED_STRING_ESCAPED = /["\\]/g;

/**
 * This hop's `Forwarded` element (RFC 7239 §4): the client's address (an IPv6
 * one bracketed and quoted), the host it asked for (quoted: it has a port),
 * the scheme of its connection.
 */
function forwardedElement(client: string | undefined, host: string | undefined, proto: string): string {
  let element = client === undefined ? 'for=unknown' : client.includes(':') ? `for="[${client}]"` : `for=${client}`;
  // The host was validated before routing; escaping keeps the quoted string whole regardless.
  if (host !== undefined) element += `;host="${host.replace(QUOTED_STRING_ESCAPED, '\\$&')}"`;
  return `${element};proto=${proto}`;
}

/**
 * The request headers for the upstream, as a flat `[name, value, …]` list
 * with the client's spelling: without pseudo-headers, hop-by-hop headers
 * and those Connection names; with Host and X-Forwarded-For/-Host/-Proto
 * set. `Expect` is dropped because Node already answered `100 Continue`.
 * Cookie crumbs (HTTP/2 sends one field per cookie) become one header, as
 * HTTP/1.1 requires.
 *
 * Forwarding headers from a sender that is not trusted (`X-Forwarded-*`,
 * `Forwarded`, `X-Real-IP`) never reach the upstream: hostmux sets
 * X-Forwarded-For to the client's address alone, X-Forwarded-Host and
 * -Proto to what the client asked for. From a trusted sender they are kept:
 * X-Forwarded-For and `Forwarded` get this hop appended, a received
 * X-Forwarded-Host / -Proto wins over hostmux's own value.
 *
 * @param upgrade - true for a tunnelled upgrade: `Upgrade` is kept and
 * `Connection: Upgrade` added, since they are the point of the request
 */
export function upstreamRequestHeaders(req: AnyRequest, forwarding: Forwarding, upgrade: boolean): string[] {
  const raw = req.rawHeaders;
  const drop = hopByHop(raw);
  const trusted = senderTrusted(req, forwarding.trustProxy);
  const out: string[] = [];
  const received = receivedAuthority(req);
  const host = forwarding.upstreamHost ?? received;
  if (host !== undefined) out.push('Host', host);
  let forwardedFor: string | undefined;
  let forwardedHost: string | undefined;
  let forwardedProto: string | undefined;
  let forwarded: string | undefined;
  let cookie: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) === 58 /* : */) continue;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (drop.has(lower)) {
      if (upgrade && lower === 'upgrade') out.push(name, value);
      continue;
    }
    switch (lower) {
      case 'host':
      case 'expect':
        continue;
      case 'cookie':
        cookie = cookie === undefined ? value : `${cookie}; ${value}`;
        continue;
      case 'x-forwarded-for':
        if (trusted) forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        continue;
      case 'x-forwarded-host':
        if (trusted) forwardedHost = forwardedHost === undefined ? value : `${forwardedHost}, ${value}`;
        continue;
      case 'x-forwarded-proto':
        if (trusted) forwardedProto = forwardedProto === undefined ? value : `${forwardedProto}, ${value}`;
        continue;
      case 'forwarded':
        if (trusted) forwarded = forwarded === undefined ? value : `${forwarded}, ${value}`;
        continue;
      case 'x-real-ip':
        if (trusted) break;
        continue;
      default:
        // X-Forwarded-Port, -Prefix, -Ssl…: a client's claims, unless a trusted proxy made them.
        if (!trusted && (lower.startsWith('x-forwarded-') || (lower.includes('_') && isForwardingName(lower.replaceAll('_', '-'))))) continue;
    }
    out.push(name, value);
  }
  if (upgrade) out.push('Connection', 'Upgrade');
  if (cookie !== undefined) out.push('Cookie', cookie);
  const client = req.socket?.remoteAddress;
  forwardedFor = forwardedFor === undefined ? client : client === undefined ? forwardedFor : `${forwardedFor}, ${client}`;
  if (forwardedFor !== undefined) out.push('X-Forwarded-For', forwardedFor);
  const scheme = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true ? 'https' : 'http';
  forwardedHost ??= received;
  if (forwardedHost !== undefined) out.push('X-Forwarded-Host', forwardedHost);
  out.push('X-Forwarded-Proto', forwardedProto ?? scheme);
  // A trusted Forwarded list goes on with this hop appended. Under trust_proxy, routing
  // refused a malformed one (400); one only a host framework trusted is checked here,
  // and dropped rather than extended into garbage.
  if (forwarded !== undefined && (forwarding.trustProxy || forwardedHostOf(forwarded) !== MALFORMED_FORWARDED)) {
    out.push('Forwarded', `${forwarded}, ${forwardedElement(client, received, scheme)}`);
  }
  return out;
}

/**
 * The upstream's response headers for the client, as a flat list: without
 * hop-by-hop headers and those Connection names; for an HTTP/2 client also
 * without `HTTP2-Settings`, the one connection-specific header HTTP/2
 * forbids that is not hop-by-hop already.
 */
export function clientResponseHeaders(raw: readonly string[], http2: boolean): string[] {
  const drop = hopByHop(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (drop.has(lower) || (http2 && lower === 'http2-settings')) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}
