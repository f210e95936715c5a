// Requests lost across rolling reloads, with clients that speak HTTP/1.1 as
// browsers and Node do (a response's `Connection: close` ends the connection
// and the next request opens another; autocannon, which reload-under-load.ts
// uses, writes its next request anyway and loses it). `hostmux serve
// --workers 2`, 16 keep-alive connections over 10 sites, a site's file and
// code edited before each SIGHUP.
//   npm run build && node --import tsx test/bench/rolling-reloads.ts [reloads=100] [interval-ms=200]
// An interval of 0 waits for each reload to finish before the next SIGHUP
// (signals that come while a reload runs are merged into one more).
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCli, stopAll } from './processes.ts';

const reloads = Number(process.argv[2] ?? 100);
const intervalMs = Number(process.argv[3] ?? 200);
const SITES = 10;
const CONNECTIONS = 16;
process.once('exit', stopAll);

const dir = mkdtempSync(join(tmpdir(), 'hostmux-rolling-'));
mkdirSync(join(dir, 'sites-enabled'));
mkdirSync(join(dir, 'code'));
const write = (k: number, round: number) => {
  writeFileSync(join(dir, 'sites-enabled', `site${k}.ini`), `[site]\ndomains = site${k}.test\nhandler = ../code/site${k}.mjs\n[round]\nn = ${round}\n`);
  writeFileSync(join(dir, 'code', `site${k}.mjs`), `export default (req, res) => res.end('site${k} round ${round}');\n`);
};
for (let k = 0; k < SITES; k++) write(k, 0);
const server = await startCli(dir, ['--workers', '2']);
const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
let going = true;
let answered = 0;
const failures = new Map<string, number>();
const get = (host: string) => new Promise<void>((resolve) => {
  const req = http.get({ host: '127.0.0.1', port: server.port, headers: { host }, agent }, (res) => {
    res.resume();
    res.on('end', () => {
      if (res.statusCode === 200) answered++;
      else failures.set(`status ${res.statusCode}`, (failures.get(`status ${res.statusCode}`) ?? 0) + 1);
      resolve();
    });
  });
  req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
  req.on('error', (error) => {
    failures.set(error.message, (failures.get(error.message) ?? 0) + 1);
    resolve();
  });
});
try {
  const clients = Array.from({ length: CONNECTIONS }, async (_, i) => {
    for (let n = i; going; n++) await get(`site${n % SITES}.test`);
  });
  const started = Date.now();
  for (let round = 1; round <= reloads; round++) {
    write(round % SITES, round);
    const before = server.log().length;
    process.kill(server.pid, 'SIGHUP');
    if (intervalMs > 0) await sleep(intervalMs);
    else await server.waitFor(/configuration reloaded/, before);
  }
  // The last reload has run: its code answers.
  const mark = server.log().length;
  process.kill(server.pid, 'SIGHUP');
  await server.waitFor(/configuration reloaded/, mark);
  going = false;
  await Promise.all(clients);
  const seconds = (Date.now() - started) / 1000;
  const reported = server.log().match(/configuration reloaded/g)?.length ?? 0;
  const lost = [...failures.values()].reduce((sum, n) => sum + n, 0);
  console.log(`| SIGHUPs (${intervalMs > 0 ? `every ${intervalMs} ms` : 'each after the last reload'}) | rolling reloads done | requests answered | lost |`);
  console.log('| --- | --- | --- | --- |');
  console.log(`| ${reloads + 1} in ${seconds.toFixed(1)} s | ${reported} | ${answered} | ${lost}${lost > 0 ? ` (${[...failures].map(([why, n]) => `${n} ${why}`).join(', ')})` : ''} |`);
} finally {
  going = false;
  agent.destroy();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
