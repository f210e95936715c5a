import { readConfigText } from '../../config/read-file.js';
import { runAsync } from '../../config/steps.js';
import { join } from 'node:path';
import type http from 'node:http';
import type { Application } from '../../application.js';
import { internalsOf } from '../../internal.js';
import { normalizeHost } from '../../routing/hostname.js';
import { challengeDir } from '../../tls/auto-files.js';

const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
/** An ACME token: base64url (RFC 8555 §8.3). */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/**
 * What the plain listener answers before any site: an HTTP-01 challenge
 * whose token the ACME orderer wrote under `[acme] storage` (so that
 * whichever worker takes the request answers it), and, with
 * `redirect_http`, a 308 to https for a site that has a certificate.
 */
export function plainFront(app: Application, httpsPort: () => number | undefined): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const internals = internalsOf(app)!;
  return (req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith(CHALLENGE_PREFIX)) {
      const token = url.slice(CHALLENGE_PREFIX.length);
      if (!TOKEN.test(token)) return false;
      const path = join(challengeDir(internals.tree.server.acme.storage), token);
      // Not this hostmux's challenge: the site may serve its own .well-known files.
      // Read as configuration files are: a FIFO put there by mistake is refused, not waited on for ever.
      runAsync(readConfigText(path, 'site files are')).then(
        ({ text }) => (text === undefined ? app(req, res) : void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(text)),
        () => app(req, res),
      );
      return true;
    }
    const { server } = internals.tree;
    const port = httpsPort();
    if (!server.redirectHttp || port === undefined) return false;
    const host = typeof req.headers.host === 'string' ? normalizeHost(req.headers.host) : undefined;
    const site = host === undefined ? null : app.match(host);
    if (host === undefined || site === null || !internals.tls.hasCertificate(site.site)) return false;
    // The host as routing normalised it, and the path as Node parsed it: nothing the client sent goes out raw.
    const authority = host.includes(':') ? `[${host}]` : host;
    res.writeHead(308, { location: `https://${authority}${port === 443 ? '' : `:${port}`}${encodeURI(decodeURIPath(pathOf(url)))}`, 'content-length': '0' }).end();
    return true;
  };
}

/**
 * The path and query of a request target: an absolute-form target (as a
 * proxy is sent) arrives whole in req.url, and `*` (OPTIONS) has none.
 */
function pathOf(url: string): string {
  if (url.startsWith('/')) return url;
  try {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return '/';
  }
}

/** A request target as text, its %-escapes kept when they do not decode (encodeURI then escapes it once). */
function decodeURIPath(url: string): string {
  try {
    return decodeURI(url);
  } catch {
    return url;
  }
}
