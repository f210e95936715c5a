import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readConfigText } from '../config/read-file.js';
import { runSync } from '../config/steps.js';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { CompiledDomain } from '../routing/pattern.js';

/** A certificate within this many days of its end is a warning in `check` and the log. */
export const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** A certificate and its private key, read and checked. */
export interface LoadedCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  /** The certificate's DNS names (its subject alternative names), as it lists them. */
  readonly names: readonly string[];
  readonly validFrom: Date;
  readonly validTo: Date;
  /** Whether the certificate covers `domain` (an exact name, or a pattern of one label left of a literal suffix). */
  covers(domain: CompiledDomain): boolean;
  /** The context a TLS handshake uses, made on first use and kept. */
  context(): SecureContext;
  /** The PEM texts as read: a server's default context (for clients that send no SNI) is made from them. */
  readonly pem: { readonly cert: string; readonly key: string };
}

/** What loading a pair gave: the certificate, or why it cannot be used. */
export type Loaded = { readonly certificate: LoadedCertificate; readonly problem?: undefined } | { readonly certificate?: undefined; readonly problem: string };

/** Read as configuration files are (readConfigText): a FIFO or a device is a problem, not an open that waits for ever. */
function readText(path: string, what: string): string | { problem: string } {
  const read = runSync(readConfigText(path, 'site files are'));
  return read.text ?? { problem: `the ${what} ${path} cannot be read: ${read.problem ?? 'it is empty'}` };
}

/**
 * Reads a PEM certificate (its chain may follow) and its private key, and
 * checks that the key is the certificate's and that the certificate is valid
 * at `now`. Node's own X.509 and key parsers read the files.
 */
export function loadCertificate(certFile: string, keyFile: string, now: number): Loaded {
  const certText = readText(certFile, 'certificate');
  if (typeof certText !== 'string') return certText;
  const keyText = readText(keyFile, 'private key');
  if (typeof keyText !== 'string') return keyText;
  let x509: X509Certificate;
  try {
    // The first certificate of the file is the site's; the rest is its chain.
    x509 = new X509Certificate(certText);
  } catch (error) {
    return { problem: `the certificate ${certFile} is not a PEM certificate: ${(error as Error).message}` };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyText);
  } catch (error) {
    return { problem: `the private key ${keyFile} cannot be used: ${(error as Error).message}` };
  }
  if (!x509.checkPrivateKey(key)) return { problem: `the private key ${keyFile} is not the key of the certificate ${certFile}` };
  const validFrom = new Date(x509.validFrom);
  const validTo = new Date(x509.validTo);
  if (now < validFrom.getTime()) return { problem: `the certificate ${certFile} is not valid before ${validFrom.toISOString()}` };
  if (now > validTo.getTime()) return { problem: `the certificate ${certFile} expired on ${validTo.toISOString()}` };
  let context: SecureContext | undefined;
  const certificate: LoadedCertificate = {
    certFile,
    keyFile,
    names: dnsNames(x509),
    validFrom,
    validTo,
    covers: (domain) => covers(x509, domain),
    context: () => (context ??= createSecureContext({ cert: certText, key: keyText })),
    pem: { cert: certText, key: keyText },
  };
  return { certificate };
}

/** The DNS names of Node's `subjectAltName` text (`DNS:a.example, DNS:*.b.example`). */
function dnsNames(x509: X509Certificate): string[] {
  const names = (x509.subjectAltName ?? '').split(', ').filter((entry) => entry.startsWith('DNS:')).map((entry) => entry.slice(4));
  return names.length > 0 ? names : [x509.subject.match(/(?:^|\n)CN=([^\n]*)/)?.[1] ?? ''].filter(Boolean);
}

/**
 * Whether the certificate serves every name a site's domain routes: an
 * exact name by Node's checkHost (RFC 6125 wildcards); a pattern only when
 * it is one label left of a literal suffix (`*.example.com`, `api-*.example.com`),
 * which a certificate's `*.example.com` covers. Any other pattern (`**`,
 * several labels) routes names no certificate can cover.
 */
function covers(x509: X509Certificate, domain: CompiledDomain): boolean {
  if (domain.kind === 'exact') {
    return IPV4.test(domain.text) ? x509.checkIP(domain.text) !== undefined : x509.checkHost(domain.text) !== undefined;
  }
  const { pattern } = domain;
  if (pattern.labels.length !== 1 || pattern.suffix === '' || pattern.labels[0]!.text === '**') return false;
  // A name no certificate lists exactly: only a wildcard of the suffix can match it.
  return x509.checkHost(`hostmux-wildcard-probe.${pattern.suffix}`) !== undefined;
}

/** Days left until `validTo`, rounded down; within EXPIRY_WARNING_DAYS it is a warning. */
export function daysLeft(certificate: LoadedCertificate, now: number): number {
  return Math.floor((certificate.validTo.getTime() - now) / DAY_MS);
}
