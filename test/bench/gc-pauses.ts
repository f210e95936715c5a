// Young-generation GC pauses of a hostmux server under load, from V8's
// --trace-gc: why p99 rises at 10,000 sites while the CPU per request
// barely does. Loading 10,000 site files grows V8's young generation to
// its maximum, so under load scavenges are rarer but each pauses longer.
//   node --import tsx test/bench/gc-pauses.ts 100
//   node --import tsx test/bench/gc-pauses.ts 10000
// SEMI=2 adds --max-semi-space-size=2 to the server, for comparison.
import { fork } from 'node:child_process';
import autocannon from 'autocannon';
import { benchSites, requestHosts, writeTree } from './sites.ts';

const count = Number(process.argv[2] ?? 10_000);
const sites = benchSites(count);
const tree = writeTree(sites, 'shared');
const hosts = requestHosts(sites);
const flags = ['--trace-gc', ...(process.env.SEMI ? [`--max-semi-space-size=${process.env.SEMI}`] : [])];
const server = fork(new URL('./server.mjs', import.meta.url), ['hostmux', tree.dir], { execArgv: flags, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
let trace = '';
server.stdout!.on('data', (chunk: Buffer) => (trace += chunk));
const port = await new Promise<number>((resolve) => {
  server.on('message', (message: { type: string; port: number }) => message.type === 'listening' && resolve(message.port));
});
await new Promise((r) => setTimeout(r, 1000));
const from = trace.length;
let next = 0;
const result = await autocannon({
  url: `http://127.0.0.1:${port}`,
  connections: 16,
  duration: 5,
  requests: [{ setupRequest: (request: object) => ({ ...request, headers: { host: hosts[next++ % hosts.length] } }) }],
});
server.kill();
tree.remove();

const pauses = trace.slice(from).split('\n').filter((line) => line.includes('Scavenge'))
  .map((line) => Number(/, ([\d.]+) \/ [\d.]+ ms/.exec(line)?.[1] ?? 0));
const total = pauses.reduce((sum, ms) => sum + ms, 0);
console.log(`| sites | req/s | scavenges in 5 s | total pause ms | mean pause ms | longest pause ms |`);
console.log('| --- | --- | --- | --- | --- | --- |');
console.log(`| ${count} | ${Math.round(result.requests.average)} | ${pauses.length} | ${total.toFixed(1)} | ${(total / pauses.length).toFixed(2)} | ${Math.max(...pauses).toFixed(2)} |`);
