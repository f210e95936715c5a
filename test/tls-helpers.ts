// Certificates made at run time for the TLS tests, with `selfsigned`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';

const DAY_MS = 86_400_000;

export interface MadeCertificate {
  readonly cert: string;
  readonly key: string;
  /** The PEM texts, for a client's `ca`. */
  readonly certPem: string;
}

/**
 * Writes `<name>.crt` and `<name>.key` into `dir`: a self-signed EC
 * certificate for `names` (the first is also its CN), valid from `from` to
 * `to` days from now (yesterday to a year by default).
 */
export async function makeCertificate(
  dir: string,
  name: string,
  names: readonly string[],
  { from = -1, to = 365 }: { from?: number; to?: number } = {},
): Promise<MadeCertificate> {
  const pems = await generate([{ name: 'commonName', value: names[0]! }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() + from * DAY_MS),
    notAfterDate: new Date(Date.now() + to * DAY_MS),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) },
    ],
  });
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  writeFileSync(cert, pems.cert);
  writeFileSync(key, pems.private, { mode: 0o600 });
  return { cert, key, certPem: pems.cert };
}
