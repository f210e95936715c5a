import { join } from 'node:path';

/**
 * Where ACME keeps a `tls = auto` site's certificate under `[acme] storage`:
 * one pair per site, by its name (letters, digits, `.`, `_`, `-`; never `..`).
 */
export function autoFiles(storage: string, site: string): { cert: string; key: string } {
  return { cert: join(storage, 'certificates', `${site}.crt`), key: join(storage, 'certificates', `${site}.key`) };
}

/** The ACME account's key under `[acme] storage`. */
export function accountKeyFile(storage: string): string {
  return join(storage, 'account.key');
}

/** Where the ACME orderer writes each HTTP-01 challenge's key authorization, one file per token. */
export function challengeDir(storage: string): string {
  return join(storage, 'challenges');
}
