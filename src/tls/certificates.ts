import type { SecureContext } from 'node:tls';
import type { ConfigTree } from '../config/tree.js';
import type { ConfigProblem } from '../errors.js';
import { normalizeHost } from '../routing/hostname.js';
import { autoFiles } from './auto-files.js';
import { daysLeft, EXPIRY_WARNING_DAYS, loadCertificate, type LoadedCertificate } from './certificate.js';

/** One site's certificate as `check` lists it. */
export interface CertificateRow {
  readonly site: string;
  readonly file: string;
  /** `file` (tls_cert), `auto` (ACME), `default` ([server] tls_cert covers every domain), or `none`. */
  readonly source: 'file' | 'auto' | 'default' | 'none';
  readonly names: readonly string[];
  /** ISO date of the end of validity; null without a certificate. */
  readonly expires: string | null;
  /** Why an auto site has no certificate yet; null otherwise. */
  readonly note: string | null;
}

/**
 * The certificates of one configuration, and the choice a TLS handshake
 * makes: by SNI, the certificate of the site that routing gives the name
 * (so the precedence is routing's: exact, then the most specific pattern);
 * a site without its own gets the default certificate. Without SNI (or for a
 * name no site claims): the default certificate, else the default_site's.
 */
export interface Certificates {
  /** The context for a handshake; undefined refuses it (no certificate for that name). */
  contextFor(servername: string | undefined): SecureContext | undefined;
  /** The certificate for a client that sends no SNI, as PEM texts; undefined refuses such a client. */
  readonly noSni: { readonly cert: string; readonly key: string } | undefined;
  /** Whether a site is served over HTTPS (it has a certificate, or the default covers it). */
  hasCertificate(site: string): boolean;
  /** The sites and the files of their certificates, `tls = auto` sites waiting for theirs included. */
  readonly rows: readonly CertificateRow[];
  /** Certificates within EXPIRY_WARNING_DAYS of their end, one sentence each. */
  readonly warnings: readonly string[];
  /** `tls = auto` sites: name and domains, for the ACME orderer. */
  readonly auto: readonly { readonly site: string; readonly domains: readonly string[] }[];
}

/** A configuration's certificates: checked against their sites' domains, every problem pushed onto `problems`. */
export function loadCertificates(
  tree: ConfigTree,
  route: (host: string) => string | undefined,
  problems: ConfigProblem[],
  now: number = Date.now(),
): Certificates {
  const bySite = new Map<string, LoadedCertificate>();
  const rows: CertificateRow[] = [];
  const warnings: string[] = [];
  const auto: { site: string; domains: string[] }[] = [];
  const warnSoon = (certificate: LoadedCertificate, whose: string) => {
    const days = daysLeft(certificate, now);
    if (days < EXPIRY_WARNING_DAYS) warnings.push(`the certificate of ${whose} (${certificate.certFile}) expires on ${certificate.validTo.toISOString()}, in ${days} days`);
  };

  const { server } = tree;
  let fallback: LoadedCertificate | undefined;
  if (server.tlsCert !== undefined && server.tlsKey !== undefined) {
    const loaded = loadCertificate(server.tlsCert, server.tlsKey, now);
    if (loaded.problem !== undefined) problems.push({ file: 'hostmux.conf', section: 'server', key: 'tls_cert', message: loaded.problem });
    else warnSoon((fallback = loaded.certificate), 'the default certificate');
  }

  for (const site of tree.sites) {
    const row = { site: site.name, file: site.file };
    if (site.tls?.kind === 'file') {
      const loaded = loadCertificate(site.tls.cert, site.tls.key, now);
      if (loaded.problem !== undefined) {
        problems.push({ file: site.file, section: 'site', key: 'tls_cert', message: loaded.problem });
        continue;
      }
      const { certificate } = loaded;
      const uncovered = site.domains.filter((domain) => !certificate.covers(domain)).map((domain) => domain.text);
      if (uncovered.length > 0) {
        problems.push({ file: site.file, section: 'site', key: 'tls_cert', message: `the certificate ${certificate.certFile} does not cover ${uncovered.join(', ')} (it names ${certificate.names.join(', ') || 'no host'})` });
        continue;
      }
      warnSoon(certificate, `site ${site.name}`);
      bySite.set(site.name, certificate);
      rows.push({ ...row, source: 'file', names: certificate.names, expires: certificate.validTo.toISOString(), note: null });
    } else if (site.tls?.kind === 'auto') {
      const domains = site.domains.map((domain) => domain.text);
      auto.push({ site: site.name, domains });
      const files = autoFiles(server.acme.storage, site.name);
      const loaded = loadCertificate(files.cert, files.key, now);
      const certificate = loaded.certificate;
      // Never a placeholder: until its certificate exists (and covers the site's domains now), the site answers over plain HTTP.
      if (certificate !== undefined && site.domains.every((domain) => certificate.covers(domain))) {
        bySite.set(site.name, certificate);
        rows.push({ ...row, source: 'auto', names: certificate.names, expires: certificate.validTo.toISOString(), note: null });
      } else {
        const note = certificate === undefined ? 'no certificate obtained yet: served over plain HTTP until ACME issues one' : 'the stored certificate does not cover every domain: served over plain HTTP until ACME issues one';
        rows.push({ ...row, source: 'auto', names: [], expires: null, note });
      }
    } else if (fallback !== undefined && site.domains.every((domain) => fallback.covers(domain))) {
      bySite.set(site.name, fallback);
      rows.push({ ...row, source: 'default', names: fallback.names, expires: fallback.validTo.toISOString(), note: null });
    } else {
      rows.push({ ...row, source: 'none', names: [], expires: null, note: null });
    }
  }

  const defaultSite = server.defaultSite === undefined ? undefined : bySite.get(server.defaultSite);
  const noSni = fallback ?? defaultSite;
  return {
    contextFor(servername) {
      const host = servername === undefined || servername === '' ? undefined : normalizeHost(servername);
      const site = host === undefined ? undefined : route(host);
      return (site === undefined ? noSni : bySite.get(site) ?? fallback)?.context();
    },
    noSni: noSni?.pem,
    hasCertificate: (site) => bySite.has(site),
    rows,
    warnings,
    auto,
  };
}
