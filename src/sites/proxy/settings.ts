import type { SiteFile, SiteFileBase, SiteSection } from '../../config/site-file.js';
import { MAX_TIMEOUT_SECONDS, parseHttpTarget, parseSeconds } from '../../config/values.js';
import { quote } from '../../errors.js';

export interface ProxySiteFile extends SiteFile {
  readonly kind: 'proxy';
  /** The upstream's origin, `http://127.0.0.1:9001`. */
  readonly origin: string;
  /** A path the upstream URL had, without a trailing slash ('' for none): prepended to the request path. */
  readonly pathPrefix: string;
  /** `proxy_timeout`, in milliseconds. */
  readonly timeout: number;
  /** `proxy_host`: which Host the upstream sees. */
  readonly host: 'preserve' | 'upstream';
}

/** Parses a proxy upstream: an http(s) origin, and a path to prepend without its trailing slash. */
function parseUpstream(value: string): { origin: string; pathPrefix: string } | undefined {
  const location = parseHttpTarget(value);
  // `http://:@host` parses with empty credentials, which the URL then hides: refuse any userinfo as written.
  if (location === undefined || /^[^:]*:\/\/[^/?#]*@/.test(value)) return undefined;
  const origin = new URL(location).origin;
  return { origin, pathPrefix: location.slice(origin.length) };
}

/** `proxy =`, `proxy_timeout`, `proxy_host`: a proxy site. */
export function readProxySite(section: SiteSection, base: SiteFileBase): ProxySiteFile | undefined {
  const target = section.scalar('proxy');
  const upstream = target === undefined ? undefined : parseUpstream(target);
  if (target !== undefined && upstream === undefined) {
    section.problem('proxy', `${quote(target)} is not an http(s) URL without credentials, query or fragment`);
  }
  const timeoutText = section.scalar('proxy_timeout') ?? '60';
  const timeout = parseSeconds(timeoutText);
  if (timeout === undefined) {
    section.problem('proxy_timeout', `${quote(timeoutText)} is not a positive number of seconds (at most ${MAX_TIMEOUT_SECONDS})`);
  }
  const host = section.scalar('proxy_host') ?? 'preserve';
  if (host !== 'preserve' && host !== 'upstream') {
    section.problem('proxy_host', `${quote(host)} is not preserve or upstream`);
  } else if (upstream !== undefined && timeout !== undefined) {
    return { ...base, kind: 'proxy', ...upstream, timeout, host };
  }
  return undefined;
}
