// Load time, idle memory and app.match() cost of one tree, in a fresh
// process of its own so that its RSS is the tree's and nothing else's.
// Plain JavaScript importing the built package (dist/), like server.mjs.
//
//   node --expose-gc match.mjs TREE_DIR [CALLS] [SETTLE_SECONDS]
//
// TREE_DIR is a tree written by test/bench/sites.ts; CALLS, per timed loop
// (default 500,000), is small only in the smoke test. Sends {type: 'match',
// ...} over IPC, or prints it as JSON when run by hand.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const dir = process.argv[2];
const calls = Number(process.argv[3] ?? 500_000);
// How long to wait for the memory reducer (0 in the smoke test).
const settleLimitMs = Number(process.argv[4] ?? 60) * 1000;
const rss = () => process.memoryUsage.rss();

// The build to measure: this checkout's, or another's (HOSTMUX_BENCH_DIST, to compare two).
const dist = process.env.HOSTMUX_BENCH_DIST ? pathToFileURL(process.env.HOSTMUX_BENCH_DIST).href : '../../dist/index.js';
const { createApplication } = await import(dist);
const rssBeforeLoad = rss();
const loadStart = process.hrtime.bigint();
const app = createApplication(dir);
const loadMs = Number(process.hrtime.bigint() - loadStart) / 1e6;
// Idle, with no site module imported yet (they load on first request).
await sleep(500);
const rssIdle = rss();
globalThis.gc?.();
await sleep(100);
const rssAfterGc = rss();
// V8 keeps the heap it grew while loading until its memory reducer runs,
// some 20-30 s into idleness (a forced gc() does not give it back): wait
// for that, up to a minute, and report both.
const settleStart = Date.now();
let rssSettled = rss();
while (Date.now() - settleStart < settleLimitMs && rssSettled > rssAfterGc * 0.9) {
  await sleep(1000);
  rssSettled = rss();
}
const settledAfterS = (Date.now() - settleStart) / 1000;
// Only now: the bench's own list of the sites must not count in the RSS above.
const sites = JSON.parse(readFileSync(join(dir, 'sites.json'), 'utf8'));

/** Up to 1,000 hosts of a kind, spread over the whole tree, so that no one entry stays hot. */
function hostsOf(kind, toHost) {
  const all = sites.filter((site) => site.kind === kind);
  const step = Math.max(1, Math.floor(all.length / 1000));
  const hosts = [];
  for (let i = all.length - 1; i >= 0 && hosts.length < 1000; i -= step) hosts.push(toHost(all[i]));
  return hosts;
}

const cases = {
  'exact hit': hostsOf('exact', (site) => site.host),
  '`*.` pattern hit': hostsOf('star', (site) => site.host),
  '`**.` pattern hit (two labels deep)': hostsOf('globstar', (site) => site.host),
  // A host under no pattern: every suffix is looked up, and none holds one.
  'miss (unknown name)': hostsOf('exact', (site) => `nosuch-${site.host}`),
  // Under a `*.` suffix, but two labels deep: the pattern is tried and fails.
  'miss (under a `*.` suffix)': hostsOf('star', (site) => `a.${site.host}`),
};

function nsPerCall(hosts, calls) {
  let found = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) if (app.match(hosts[i % hosts.length]) !== null) found++;
  const ns = Number(process.hrtime.bigint() - start) / calls;
  return { ns, found };
}

const match = {};
for (const [label, hosts] of Object.entries(cases)) {
  if (hosts.length === 0) continue;
  const hit = label.includes('hit');
  for (const host of hosts) {
    if ((app.match(host) !== null) !== hit) throw new Error(`match(${host}) should ${hit ? '' : 'not '}match`);
  }
  nsPerCall(hosts, Math.ceil(calls / 2));
  // The best of five: the least disturbed by anything else on the machine.
  const runs = [];
  for (let i = 0; i < 5; i++) runs.push(nsPerCall(hosts, calls).ns);
  match[label] = Math.min(...runs);
}

const result = { type: 'match', sites: sites.length, loadMs, rssBeforeLoad, rssIdle, rssAfterGc, rssSettled, settledAfterS, match };
if (process.send) process.send(result);
else console.log(JSON.stringify(result, null, 2));
