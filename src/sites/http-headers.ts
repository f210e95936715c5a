/** HTTP header helpers every kind of site shares: what is hop-by-hop, what the client asked for. */
import { absoluteAuthority, type AnyRequest } from '../routing/request-host.js';

/**
 * Hop-by-hop headers (RFC 9110 7.6.1) and the proxy ones nginx also drops:
 * they describe one connection, never the next one.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
]);

/** The hop-by-hop names of a raw list: HOP_BY_HOP, plus what its Connection headers name (a new set only then). */
export function hopByHop(raw: readonly string[]): ReadonlySet<string> {
  let names: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    for (const token of raw[i + 1]!.split(',')) {
      const named = token.trim().toLowerCase();
      if (named !== '') (names ??= new Set(HOP_BY_HOP)).add(named);
    }
  }
  return names ?? HOP_BY_HOP;
}

/**
 * The authority the client asked for, as it wrote it (port included): an
 * absolute-form target's, else HTTP/2 `:authority`, else the Host header —
 * the order hostmux routes by.
 */
export function receivedAuthority(req: AnyRequest): string | undefined {
  const url = req.url;
  const absolute = url === undefined || url === '' ? undefined : absoluteAuthority(url);
  if (absolute !== undefined && absolute !== '') return absolute;
  const authority = req.headers[':authority'];
  if (typeof authority === 'string' && authority !== '') return authority;
  const host = req.headers.host;
  return typeof host === 'string' && host !== '' ? host : undefined;
}
