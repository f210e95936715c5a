import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { dirname, join } from 'node:path';
import * as acme from 'acme-client';
import type { AcmeSettings } from '../config/tls-settings.js';
import type { Logger } from '../logger.js';
import { accountKeyFile, autoFiles, challengeDir } from './auto-files.js';

/*
 * Certificates over ACME (RFC 8555) for `tls = auto` sites, with
 * acme-client. One process orders (serve's primary, or the --in-process
 * server): it answers HTTP-01 by writing each key authorization under
 * `[acme] storage`, where whichever process takes the CA's request reads it,
 * and it writes the certificate and key there (keys mode 0600); a reload
 * then serves them. A site is renewed once a third of its certificate's
 * lifetime is left; a failed order is retried after 1 minute, doubling up to
 * a day. Until a site's certificate exists it answers over plain HTTP.
 */

/** A failed order waits this long, doubling each time, up to MAX_BACKOFF_MS. */
export const FIRST_BACKOFF_MS = 60_000;
const MAX_BACKOFF_MS = 24 * 3_600_000;
/** With nothing due sooner, certificates are looked at again this often. */
const RECHECK_MS = 3_600_000;
/** A timer longer than this would overflow (Node takes 32-bit milliseconds). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The wait after `failures` failed orders in a row. */
export function backoff(failures: number): number {
  return Math.min(FIRST_BACKOFF_MS * 2 ** Math.max(0, failures - 1), MAX_BACKOFF_MS);
}

/** When a certificate is due for renewal: once a third of its lifetime is left. */
export function renewalDue(validFrom: number, validTo: number): number {
  return validTo - (validTo - validFrom) / 3;
}

export interface AutoSite {
  readonly site: string;
  readonly domains: readonly string[];
}

export interface OrdererOptions {
  readonly settings: () => AcmeSettings;
  /** The `tls = auto` sites of the configuration now. */
  readonly sites: () => readonly AutoSite[];
  readonly log: () => Logger;
  /** A certificate was written: reload, so that it is served. */
  readonly issued: (site: string) => void;
}

export interface Orderer {
  /** Looks at every auto site now (after a reload: sites may have come). */
  check(): void;
  stop(): void;
}

/** Writes a file whole or not at all: a reader never sees half a certificate. */
async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode });
  await chmod(temporary, mode);
  await rename(temporary, path);
}

/** When the stored certificate of `site` is due (0: now), covering `domains`; undefined if it is not due within RECHECK_MS. */
async function dueAt(storage: string, { site, domains }: AutoSite): Promise<number> {
  try {
    const certificate = new X509Certificate(await readFile(autoFiles(storage, site).cert));
    const covers = domains.every((domain) => certificate.checkHost(domain.replace(/^\*\*?\./, 'x.')) !== undefined);
    if (!covers) return 0;
    return renewalDue(Date.parse(certificate.validFrom), Date.parse(certificate.validTo));
  } catch {
    return 0;
  }
}

export function startOrderer(options: OrdererOptions): Orderer {
  const failures = new Map<string, number>();
  const retryAt = new Map<string, number>();
  const ordering = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let client: { key: string; client: acme.Client } | undefined;

  const clientFor = async (settings: AcmeSettings): Promise<acme.Client> => {
    const keyFile = accountKeyFile(settings.storage);
    const key = (await readFile(keyFile, 'utf8').catch(() => undefined)) ?? (await acme.crypto.createPrivateKey()).toString();
    await writeAtomically(keyFile, key, 0o600);
    const cacheKey = `${settings.directory}\n${key}\n${settings.caCert ?? ''}`;
    if (client?.key === cacheKey) return client.client;
    // A private CA (a test CA, a company's): its own HTTPS is checked against its certificate.
    if (settings.caCert !== undefined) acme.axios.defaults.httpsAgent = new https.Agent({ ca: await readFile(settings.caCert) });
    const made = new acme.Client({ directoryUrl: settings.directory, accountKey: key });
    await made.createAccount({ termsOfServiceAgreed: true, ...(settings.email === undefined ? {} : { contact: [`mailto:${settings.email}`] }) });
    client = { key: cacheKey, client: made };
    return made;
  };

  const order = async (site: AutoSite): Promise<void> => {
    const settings = options.settings();
    const challenges = challengeDir(settings.storage);
    const acmeClient = await clientFor(settings);
    const [key, csr] = await acme.crypto.createCsr({ altNames: [...site.domains] });
    const certificate = await acmeClient.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // The CA asks us; asking ourselves first through DNS proves nothing more and fails behind NAT.
      skipChallengeVerification: true,
      challengeCreateFn: (_authz, challenge, keyAuthorization) => writeAtomically(join(challenges, challenge.token), keyAuthorization, 0o644),
      challengeRemoveFn: (_authz, challenge) => rm(join(challenges, challenge.token), { force: true }),
    });
    const files = autoFiles(settings.storage, site.site);
    await writeAtomically(files.key, key.toString(), 0o600);
    await writeAtomically(files.cert, certificate, 0o644);
    const until = new X509Certificate(certificate).validTo;
    options.log().info(`site ${site.site}: ACME issued its certificate for ${site.domains.join(', ')}, valid until ${new Date(until).toISOString()}`);
  };

  const run = async (site: AutoSite) => {
    ordering.add(site.site);
    try {
      await order(site);
      failures.delete(site.site);
      retryAt.delete(site.site);
      if (!stopped) options.issued(site.site);
    } catch (error) {
      const count = (failures.get(site.site) ?? 0) + 1;
      failures.set(site.site, count);
      const wait = backoff(count);
      retryAt.set(site.site, Date.now() + wait);
      options.log().error(`site ${site.site}: ACME could not issue its certificate (attempt ${count}): ${(error as Error).message}; retrying in ${wait / 1000} s; it answers over plain HTTP meanwhile`);
    } finally {
      ordering.delete(site.site);
      schedule();
    }
  };

  const check = async () => {
    if (stopped) return;
    const storage = options.settings().storage;
    const now = Date.now();
    let next = now + RECHECK_MS;
    for (const site of options.sites()) {
      if (ordering.has(site.site)) continue;
      const retry = retryAt.get(site.site);
      const due = Math.max(await dueAt(storage, site), retry ?? 0);
      if (due <= now) void run(site);
      else next = Math.min(next, due);
    }
    arm(next - Date.now());
  };

  const arm = (ms: number) => {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(() => void check(), Math.max(1_000, Math.min(ms, MAX_TIMER_MS)));
    timer.unref();
  };
  const schedule = () => arm(0);

  void check();
  return {
    check: () => void check(),
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
