// How long the admin listener takes to answer /status and /metrics for
// 10,000 sites over `serve --workers 2`, every site with counts (each got a
// request first: the worst case, where every site has figures to merge).
//   npm run build && node --import tsx test/bench/admin-status.ts [sites=10000] [asks=20]
import http from 'node:http';
import { benchSites, writeTree } from './sites.ts';
import { startCli, stopAll } from './processes.ts';
import { median } from './report.ts';

const count = Number(process.argv[2] ?? 10_000);
const asks = Number(process.argv[3] ?? 20);
process.once('exit', stopAll);

const sites = benchSites(count);
const tree = writeTree(sites, 'shared');
const server = await startCli(tree.dir, ['--workers', '2', '--admin', '127.0.0.1:0']);
const admin = Number((await server.waitFor(/admin listening on http:\/\/127\.0\.0\.1:(\d+)/))[1]);

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
const get = (port: number, path: string, host = '127.0.0.1') => new Promise<{ ms: number; bytes: number; status: number }>((resolve, reject) => {
  const started = performance.now();
  http.get({ host: '127.0.0.1', port, path, headers: { host }, agent }, (res) => {
    let bytes = 0;
    res.on('data', (chunk: Buffer) => (bytes += chunk.length));
    res.on('end', () => resolve({ ms: performance.now() - started, bytes, status: res.statusCode ?? 0 }));
  }).on('error', reject);
});

// One request per site, 32 at a time.
const hosts = sites.map((site) => site.domain.replace(/^\*\*?\./, 'x.'));
for (let i = 0; i < hosts.length; i += 32) await Promise.all(hosts.slice(i, i + 32).map((host) => get(server.port, '/', host)));

for (const path of ['/status', '/metrics']) {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < asks; i++) {
    const reply = await get(admin, path);
    if (reply.status !== 200) throw new Error(`${path}: ${reply.status}`);
    times.push(reply.ms);
    bytes = reply.bytes;
  }
  times.sort((a, b) => a - b);
  console.log(`${path} at ${count.toLocaleString('en-US')} sites, 2 workers, every site with counts: median ${median(times).toFixed(0)} ms, max ${times.at(-1)!.toFixed(0)} ms over ${asks} asks; ${(bytes / 1024 / 1024).toFixed(1)} MiB`);
}
// Ten scrapers at once: those that come while one is answered share its answer.
for (const path of ['/status', '/metrics']) {
  const started = performance.now();
  await Promise.all(Array.from({ length: 10 }, () => get(admin, path)));
  console.log(`${path}, 10 at once: all answered in ${(performance.now() - started).toFixed(0)} ms`);
}
agent.destroy();
server.child.kill('SIGTERM');
tree.remove();
