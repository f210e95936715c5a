// The generated sites of the benchmark, and the trees they are written to.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type DomainKind = 'exact' | 'star' | 'globstar';

export interface BenchSite {
  /** Zero-padded, so that file order (byte order) is index order. */
  readonly name: string;
  readonly kind: DomainKind;
  /** The one domain or pattern the site claims. */
  readonly domain: string;
  /** A host this site answers (for a pattern, one that only it matches). */
  readonly host: string;
}

/** Every site answers this, in every server kind. */
export const BODY = 'hello\n';

/** How many hosts the requests of a run are spread over. */
export const HOST_SPREAD = 50;

/**
 * `count` sites, one domain each: 80% exact domains, 10% `*.` and 10% `**.`
 * patterns (every tenth site from the ninth is `*.`, from the tenth `**.`).
 */
export function benchSites(count: number): BenchSite[] {
  const width = String(Math.max(count - 1, 0)).length;
  const sites: BenchSite[] = [];
  for (let i = 0; i < count; i++) {
    const base = `site${i}.example.com`;
    const name = `site${String(i).padStart(width, '0')}`;
    if (i % 10 === 8) sites.push({ name, kind: 'star', domain: `*.${base}`, host: `www.${base}` });
    else if (i % 10 === 9) sites.push({ name, kind: 'globstar', domain: `**.${base}`, host: `a.b.${base}` });
    else sites.push({ name, kind: 'exact', domain: base, host: base });
  }
  return sites;
}

/**
 * The hosts a run's requests rotate through: `HOST_SPREAD` sites evenly
 * spread from the first to the last configured one (the worst case for a
 * linear router), or every site, repeated, when there are fewer.
 */
export function requestHosts(sites: readonly BenchSite[]): string[] {
  const n = sites.length;
  const hosts: string[] = [];
  for (let k = 0; k < HOST_SPREAD; k++) {
    const i = n >= HOST_SPREAD ? Math.round((k * (n - 1)) / (HOST_SPREAD - 1)) : k % n;
    hosts.push(sites[i]!.host);
  }
  return hosts;
}

/** `40 exact, 5 *., 5 **.`: what a host list hits, for the report. */
export function describeHosts(sites: readonly BenchSite[], hosts: readonly string[]): string {
  const kindOf = new Map(sites.map((site) => [site.host, site.kind]));
  const counts = { exact: 0, star: 0, globstar: 0 };
  for (const host of hosts) counts[kindOf.get(host)!]++;
  const distinct = new Set(hosts).size;
  return `${hosts.length} requests per cycle over ${distinct} distinct host${distinct === 1 ? '' : 's'}: ` +
    `${counts.exact} exact, ${counts.star} \`*.\`, ${counts.globstar} \`**.\``;
}

/** The site module: the same small body, and a hit count when the server counts. */
const SITE_MODULE = `// A benchmark site: the same small body as every other server kind.
const hits = globalThis.hostmuxBenchHits;
const BODY = ${JSON.stringify(BODY)};
export default hits === undefined
  ? (req, res) => { res.end(BODY); }
  : (req, res) => {
      const host = req.headers.host ?? '';
      hits.set(host, (hits.get(host) ?? 0) + 1);
      res.end(BODY);
    };
`;

export interface BenchTree {
  readonly dir: string;
  readonly sites: readonly BenchSite[];
  /** Each site's handler module file. */
  readonly modules: readonly string[];
  remove(): void;
}

/**
 * Writes a hostmux tree for `sites` into a fresh temp dir: plain files in
 * sites-enabled/ (accepted like symlinks), and sites.json for the Express
 * and Fastify servers. `shared`: every site names one module file, so one
 * import serves all (the throughput runs: at most 50 sites are ever
 * requested); otherwise each site has its own copy, hence its own module
 * instance, as separate processes would (the memory comparison).
 */
export function writeTree(sites: readonly BenchSite[], modules: 'shared' | 'per-site'): BenchTree {
  const dir = mkdtempSync(join(tmpdir(), 'hostmux-bench-'));
  mkdirSync(join(dir, 'sites-enabled'));
  mkdirSync(join(dir, 'handlers'));
  const files: string[] = [];
  for (const site of sites) {
    const module = modules === 'shared' ? 'site.mjs' : `${site.name}.mjs`;
    const file = join(dir, 'handlers', module);
    if (modules === 'per-site' || files.length === 0) writeFileSync(file, SITE_MODULE);
    files.push(file);
    writeFileSync(
      join(dir, 'sites-enabled', `${site.name}.ini`),
      `[site]\ndomains = ${site.domain}\nhandler = ../handlers/${module}\n`,
    );
  }
  writeFileSync(join(dir, 'sites.json'), JSON.stringify(sites));
  // The same sites with every limit on (the `limits` server kind): what checking them costs a request.
  mkdirSync(join(dir, 'limits'));
  symlinkSync('../sites-enabled', join(dir, 'limits', 'sites-enabled'));
  writeFileSync(join(dir, 'limits', 'hostmux.conf'), '[server]\nmax_concurrent = 10000\nmax_body = 1m\ntimeout = 30\n');
  // The same sites uncounted (the `nometrics` kind): what the statistics cost a request.
  mkdirSync(join(dir, 'nometrics'));
  symlinkSync('../sites-enabled', join(dir, 'nometrics', 'sites-enabled'));
  writeFileSync(join(dir, 'nometrics', 'hostmux.conf'), '[server]\nmetrics = off\n');
  return { dir, sites, modules: files, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
