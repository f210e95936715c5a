// A quick smoke of the benchmark harness (test/bench/): every server kind
// starts from a generated tree, answers the right body for the bench's
// hosts, and the load generator really rotates the Host header. No timing
// is checked here, ever: speed is measured by `npm run bench`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { get, memoryTable, runMemory } from './bench/memory.ts';
import { microTables, runMicro } from './bench/micro.ts';
import { startLoadGenerator, startServer, stopAll, type LoadGenerator } from './bench/processes.ts';
import { BODY, benchSites, requestHosts, writeTree, type BenchTree } from './bench/sites.ts';
import { runStatic, staticTable } from './bench/static.ts';
import { KINDS, runThroughput, throughputTable } from './bench/throughput.ts';

// 60 sites: enough for the 50 distinct hosts a run rotates through.
const sites = benchSites(60);
const hosts = requestHosts(sites);
let tree: BenchTree;
let loadgen: LoadGenerator;

before(async () => {
  tree = writeTree(sites, 'shared');
  loadgen = await startLoadGenerator();
});

after(async () => {
  await loadgen.stop();
  stopAll();
  tree.remove();
});

test('the request hosts are 50 distinct sites, from the first to the last configured', () => {
  assert.equal(new Set(hosts).size, 50);
  assert.equal(hosts[0], sites[0]!.host);
  assert.equal(hosts.at(-1), sites.at(-1)!.host);
  const kinds = new Set(sites.filter((site) => hosts.includes(site.host)).map((site) => site.kind));
  assert.deepEqual([...kinds].sort(), ['exact', 'globstar', 'star']);
});

for (const kind of KINDS) {
  test(`${kind}: answers the bench body, and sees every host of a load run`, async () => {
    const server = await startServer(kind, tree.dir, { env: { HOSTMUX_BENCH_COUNT: '1' } });
    try {
      for (const site of [sites[0]!, sites[8]!, sites[9]!, sites.at(-1)!]) {
        assert.deepEqual(await get(server.port, site.host), { status: 200, body: BODY }, site.host);
      }
      const unclaimed = await get(server.port, 'nosuch.example.org');
      // The bare server is one handler for every host.
      assert.equal(unclaimed.status, kind === 'bare' ? 200 : 404);

      // Each connection cycles through the hosts from the first: a run needs a
      // full cycle per connection, which a busy machine may take longer to make.
      let run = await loadgen.run(server.port, hosts, 4, 0.3);
      for (let seconds = 0.6; run.requests < 4 * hosts.length && seconds <= 5; seconds *= 2) {
        run = await loadgen.run(server.port, hosts, 4, seconds);
      }
      assert.ok(run.requests > 0);
      assert.equal(run.non2xx, 0);
      assert.equal(run.errors, 0);
      const { hits, cpu } = await server.stats();
      assert.ok(cpu.user > 0);
      // Every host of the rotation reached the server, as its own Host header.
      const counted = hosts.map((host) => hits?.[host] ?? 0);
      for (const [i, n] of counted.entries()) assert.ok(n > 0, `${hosts[i]} had none of ${run.requests} requests`);
      assert.ok(counted.reduce((sum, n) => sum + n, 0) >= run.requests);
    } finally {
      await server.stop();
    }
  });
}

test('a throughput round runs the servers in turn and reports them against bare node:http', async () => {
  const options = { seconds: 0.3, warmupSeconds: 0.1, rounds: 1, connections: 2, kinds: ['bare', 'hostmux'] as const, server: {} };
  const result = await runThroughput(3, loadgen, options, () => {});
  assert.equal(result.samples.hostmux?.length, 1);
  assert.equal(result.samples.hostmux[0]!.failures, 0);
  assert.ok(result.samples.hostmux[0]!.p99 > 0);
  assert.match(throughputTable(result), /\(b\) hostmux \| [\d,]+ \(\d+\.\d\d×\)/);
});

test('the routing table measurement runs and reports every case', async () => {
  const result = await runMicro(50, {}, 1000, 0);
  assert.equal(result.sites, 50);
  assert.deepEqual(Object.keys(result.match).length, 5);
  assert.ok(result.rssIdle > 0);
  assert.match(microTables(result), /exact hit/);
});

test('the memory comparison runs one hostmux and one process per site', async () => {
  const result = await runMemory(2, {}, 0);
  assert.equal(result.singles.length, 2);
  assert.match(memoryTable([result]), /^\| sites N/);
});

test('the static part serves the file from hostmux and from send, with no failure', async () => {
  const result = await runStatic(loadgen, { sites: 60, seconds: 0.5, warmupSeconds: 0.2, rounds: 1, connections: 2, server: {} }, () => {});
  for (const [label, samples] of result.samples) {
    assert.equal(samples.length, 1, label);
    assert.ok(samples[0]!.rps > 0, label);
    assert.equal(samples[0]!.failures, 0, label);
  }
  const text = staticTable(result);
  assert.match(text, /\(a\) send under node:http/);
  assert.match(text, /\(b\) hostmux static site/);
});
