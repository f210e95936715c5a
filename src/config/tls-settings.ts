import { dirname, isAbsolute, join, normalize } from 'node:path';
import { quote } from '../errors.js';
import type { CompiledDomain } from '../routing/pattern.js';
import { parseHttpTarget } from './values.js';

/** Where a site's certificate comes from: files it names, or ACME (`tls = auto`). */
export type SiteTls =
  | { readonly kind: 'file'; readonly cert: string; readonly key: string }
  | { readonly kind: 'auto' };

/** A listener's address: `https = 0.0.0.0:443`, `[::]:443`. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** The `[acme]` section of hostmux.conf. */
export interface AcmeSettings {
  /** The CA's directory URL. */
  readonly directory: string;
  readonly email: string | undefined;
  /** A private CA's certificate (PEM path) that the ACME server's own HTTPS is checked against. */
  readonly caCert: string | undefined;
  /** Absolute path of the directory that keeps the account key and the certificates. */
  readonly storage: string;
}

export const LETS_ENCRYPT_PRODUCTION = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';
export const ACME_KEYS = new Set(['directory', 'email', 'ca_cert', 'storage']);
export const SITE_TLS_KEYS = ['tls', 'tls_cert', 'tls_key'];

/** A path as written in a file, resolved from `base` (a directory) when relative. */
export function resolvePath(path: string, base: string): string {
  return isAbsolute(path) ? normalize(path) : join(base, path);
}

/** Parses `ADDR:PORT` (`0.0.0.0:443`, `[::]:8443`, `localhost:0`); undefined when it is not one. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  let url: URL;
  try {
    // A scheme without a default port: WHATWG's parser keeps every port as written.
    url = new URL(`hostmux://${text}`);
  } catch {
    return undefined;
  }
  if (url.port === '' || url.hostname === '' || url.pathname !== '' || url.search !== '' || url.hash !== '' || url.username !== '') {
    return undefined;
  }
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) };
}

/**
 * A site file's `tls`, `tls_cert` and `tls_key`: files relative to the site
 * file's real directory, like `handler`. `tls = auto` answers HTTP-01
 * challenges, which a wildcard cannot use.
 */
export function readSiteTls(
  scalar: (key: string) => string | undefined,
  problem: (key: string, message: string) => void,
  realPath: string,
  domains: readonly CompiledDomain[],
): SiteTls | undefined {
  const mode = scalar('tls');
  const cert = scalar('tls_cert');
  const key = scalar('tls_key');
  if (mode !== undefined) {
    if (mode !== 'auto') {
      problem('tls', `${quote(mode)} is not auto (a certificate from files is named by tls_cert and tls_key)`);
      return undefined;
    }
    if (cert !== undefined || key !== undefined) {
      problem(cert !== undefined ? 'tls_cert' : 'tls_key', 'tls = auto obtains the certificate: it takes no tls_cert or tls_key');
      return undefined;
    }
    const patterns = domains.filter((domain) => domain.kind === 'pattern');
    if (patterns.length > 0) {
      problem('tls', `tls = auto answers HTTP-01 challenges, which cannot obtain a certificate for a wildcard: ${patterns.map((domain) => quote(domain.text)).join(', ')} (name its certificate with tls_cert and tls_key)`);
      return undefined;
    }
    return { kind: 'auto' };
  }
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined) return void problem('tls_key', 'needs tls_cert beside it (the certificate of this key)');
  if (key === undefined) return void problem('tls_cert', 'needs tls_key beside it (the private key of this certificate)');
  if (cert === '' || key === '') return void problem(cert === '' ? 'tls_cert' : 'tls_key', 'is empty');
  const base = dirname(realPath);
  return { kind: 'file', cert: resolvePath(cert, base), key: resolvePath(key, base) };
}

/** The `[acme]` section's values, checked; paths relative to the config dir. */
export function readAcmeSettings(
  scalar: (key: string) => string | undefined,
  problem: (key: string, message: string) => void,
  configDir: string,
): AcmeSettings {
  const directoryText = scalar('directory') ?? LETS_ENCRYPT_PRODUCTION;
  const directory = parseHttpTarget(directoryText) === undefined ? undefined : directoryText;
  if (directory === undefined) problem('directory', `${quote(directoryText)} is not an http(s) URL`);
  const email = scalar('email');
  if (email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(email)) problem('email', `${quote(email)} is not an e-mail address`);
  const caCert = scalar('ca_cert');
  const storage = scalar('storage') || 'acme';
  return {
    directory: directory ?? LETS_ENCRYPT_PRODUCTION,
    email: email || undefined,
    caCert: caCert ? resolvePath(caCert, configDir) : undefined,
    storage: resolvePath(storage, configDir),
  };
}
