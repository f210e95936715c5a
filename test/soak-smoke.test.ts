// A quick smoke of the soak (test/bench/soak.ts): each phase runs very
// briefly and reports figures of the right shape. No timing or rate is
// checked here, ever: the figures come from `npm run soak`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startLoadGenerator, stopAll, type LoadGenerator } from './bench/processes.ts';
import { runBigReload, runCrashes, runMemorySoak, runReloads, runSlowloris, type Placement } from './bench/soak-phases.ts';

let loadgen: LoadGenerator;
let placement: Placement;
// A hang guard only: each phase starts real processes, slow on a busy machine.
const GUARD = { timeout: 120_000 };

before(async () => {
  loadgen = await startLoadGenerator();
  placement = { server: {}, loadgen };
});

after(async () => {
  await loadgen.stop();
  stopAll();
});

test('reloads: SIGHUPs under load, and the last round\'s code answers', GUARD, async () => {
  const r = await runReloads({ reloads: 3, intervalMs: 100, sites: 2, connections: 2 }, placement);
  assert.equal(r.reloads, 3);
  assert.ok(r.requests > 0);
  assert.ok(r.reported >= 1 && r.reported <= 3, `${r.reported} reloads reported`);
});

test('crashes: a crashing site takes its worker down, blamed on it; the primary replaces it', GUARD, async () => {
  const r = await runCrashes({ seconds: 1.5, crashEveryMs: 500, connections: 2, probeEveryMs: 50 }, placement);
  assert.ok(r.crashRequests >= 1);
  assert.ok(r.crashes >= 1, 'a worker crashed, blamed on the site');
  assert.ok(r.requests > 0);
  assert.ok(r.successRate >= 0 && r.successRate <= 1);
  assert.ok(r.probe.sent > 0 && r.probe.answered <= r.probe.sent);
});

test('memory: requests over many sites, RSS and heap before and after', GUARD, async () => {
  const r = await runMemorySoak({ sites: 5, requests: 200, maxSeconds: 5, connections: 2 }, placement);
  assert.ok(r.requests >= 200 || r.seconds >= 5);
  assert.ok(r.rssBefore > 0 && r.rssAfter > 0 && r.heapBefore > 0 && r.heapAfter > 0);
});

test('big-reload: app.reload() under load, with latency quiet and while reloading', GUARD, async () => {
  const r = await runBigReload({ sites: 50, reloads: 2, connections: 2 }, placement);
  assert.equal(r.reloadMs.length, 2);
  assert.ok(r.reloading.requests > 0);
  assert.ok(r.reloading.max >= r.reloading.p99);
});

test('slowloris: slow connections are held open, a normal client is measured meanwhile', GUARD, async () => {
  const r = await runSlowloris({ connections: 20, seconds: 1, dripMs: 200 }, placement);
  assert.equal(r.opened + r.refused, 20);
  assert.ok(r.during.requests > 0);
  assert.ok(r.fresh.answered + r.fresh.failed > 0);
});
