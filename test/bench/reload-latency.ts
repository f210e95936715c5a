// How long a reload holds requests up: `hostmux serve` on a 10,000-site tree,
// one steady client (one keep-alive request at a time) while SIGHUP arrives
// again and again; the latency of every request during the reloads.
//   npm run build && node --import tsx test/bench/reload-latency.ts [workers] [reloads] [sites]
// HOSTMUX_BENCH_CLI=path/to/dist/cli/main.js measures another build (an older commit's).
import { spawn } from 'node:child_process';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { benchSites, requestHosts, writeTree } from './sites.ts';

const workers = Number(process.argv[2] ?? 1);
const reloads = Number(process.argv[3] ?? 10);
const count = Number(process.argv[4] ?? 10_000);
const cli = process.env.HOSTMUX_BENCH_CLI ?? resolve(import.meta.dirname, '../../dist/cli/main.js');
const tree = writeTree(benchSites(count), 'shared');
process.on('exit', () => tree.remove());
const hosts = requestHosts(tree.sites);

const server = spawn(process.execPath, [cli, 'serve', '--config', tree.dir, '--port', '0', '--workers', String(workers)], {
  stdio: ['ignore', 'ignore', 'pipe'],
});
let log = '';
const waiters = new Set<() => void>();
server.stderr.setEncoding('utf8').on('data', (text: string) => {
  log += text;
  for (const waiter of waiters) waiter();
});
const waitFor = (pattern: RegExp, from: number) =>
  new Promise<void>((done, fail) => {
    const check = () => {
      if (pattern.test(log.slice(from))) {
        waiters.delete(check);
        done();
      } else if (server.exitCode !== null) fail(new Error(`hostmux exited:\n${log}`));
    };
    waiters.add(check);
    check();
  });
await waitFor(/listening on/, 0);
const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log)![1]);

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (host: string) =>
  new Promise<void>((done, fail) => {
    http.get({ port, host: '127.0.0.1', path: '/', headers: { host }, agent }, (res) => {
      if (res.statusCode !== 200) fail(new Error(`${host}: ${res.statusCode}`));
      res.resume().on('end', done);
    }).on('error', fail);
  });

// Loads the module in every worker first: the reloads then compare a loaded site's handler.
for (let i = 0; i < 200; i++) await get(hosts[i % hosts.length]!);

let phase = 'idle' as 'idle' | 'reloading' | 'done';
const latencies = { idle: [] as number[], reloading: [] as number[] };
const client = (async () => {
  for (let i = 0; phase !== 'done'; i++) {
    const at = phase;
    const start = performance.now();
    await get(hosts[i % hosts.length]!);
    latencies[at].push(performance.now() - start);
  }
})();

await new Promise((r) => setTimeout(r, 1_000));
phase = 'reloading';
const reloadStart = performance.now();
const done = /configuration reloaded/;
for (let i = 0; i < reloads; i++) {
  const mark = log.length;
  server.kill('SIGHUP');
  await waitFor(done, mark);
}
const reloadMs = (performance.now() - reloadStart) / reloads;
phase = 'done';
await client;
agent.destroy();
server.kill('SIGTERM');

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `${sorted.length} requests, p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms`;
};
console.log(`${count} sites, --workers ${workers}, ${reloads} SIGHUPs, ${reloadMs.toFixed(0)} ms per reload`);
console.log(`  before the reloads: ${stats(latencies.idle)}`);
console.log(`  during the reloads: ${stats(latencies.reloading)}`);
