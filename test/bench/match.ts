// Load time of a generated 10,000-site tree and the cost of app.match().
// Run: node --import tsx test/bench/match.ts [sites]
// Not part of `npm test`: timings belong here, never in unit tests.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApplication } from '../../src/index.ts';

const count = Number(process.argv[2] ?? 10_000);
const root = mkdtempSync(join(tmpdir(), 'hostmux-bench-'));

function domainsOf(i: number): string {
  // 80% exact domains, 10% `*.` and 10% `**.` patterns, as the SPEC's "normal installation".
  if (i % 10 === 8) return `site${i}.test, *.site${i}.test`;
  if (i % 10 === 9) return `**.site${i}.test`;
  return `site${i}.test, www.site${i}.test`;
}

try {
  mkdirSync(join(root, 'sites-enabled'));
  writeFileSync(join(root, 'handler.mjs'), 'export default (req, res) => res.end("ok")\n');
  for (let i = 0; i < count; i++) {
    const name = `site${String(i).padStart(5, '0')}`;
    writeFileSync(join(root, 'sites-enabled', `${name}.ini`), `[site]\ndomains = ${domainsOf(i)}\nhandler = ../handler.mjs\n`);
  }

  const rssBefore = process.memoryUsage().rss;
  const loadStart = process.hrtime.bigint();
  const app = createApplication(root, { logger: { error() {}, warn() {}, info() {}, debug() {}, child() { return this; } } });
  const loadMs = Number(process.hrtime.bigint() - loadStart) / 1e6;
  const rssAfter = process.memoryUsage().rss;

  const last = count - 1;
  const cases: Record<string, string[]> = {
    'exact hit': ['site0.test', `site${last - 3}.test`, `www.site${last - 2}.test`],
    'pattern hit (*.)': [`a.site${last - 1}.test`, 'x.site8.test'],
    'pattern hit (**.)': [`a.b.site${last}.test`, `site${last}.test`],
    miss: ['nothing.test', 'a.b.c.example.com'],
  };
  const rows: string[] = [];
  for (const [label, hosts] of Object.entries(cases)) {
    for (const host of hosts) if (label !== 'miss' && app.match(host) === null) throw new Error(`${host} did not match`);
    const rounds = 1_000_000;
    let sink = 0;
    for (let i = 0; i < 100_000; i++) sink += app.match(hosts[i % hosts.length]!) === null ? 0 : 1;
    const start = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) sink += app.match(hosts[i % hosts.length]!) === null ? 0 : 1;
    const ns = Number(process.hrtime.bigint() - start) / rounds;
    rows.push(`| ${label} | ${ns.toFixed(0)} ns |${sink < 0 ? '' : ''}`);
  }
  console.log(`${count} sites: load ${loadMs.toFixed(0)} ms, RSS +${((rssAfter - rssBefore) / 2 ** 20).toFixed(1)} MiB (total ${(rssAfter / 2 ** 20).toFixed(1)} MiB)\n`);
  console.log('| match() | per call |\n| --- | --- |');
  console.log(rows.join('\n'));
} finally {
  rmSync(root, { recursive: true, force: true });
}
