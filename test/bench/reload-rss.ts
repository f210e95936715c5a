// Memory over many code reloads: the total RSS of `hostmux serve --workers 2`
// (the primary and every worker, read from /proc) before and after N
// SIGHUPs, each after a site's code changed, one at a time. With
// `[server] reload = restart` every reload runs in fresh workers, so nothing
// of the old code stays behind; `in-place` keeps each old module instance.
//   npm run build && node --import tsx test/bench/reload-rss.ts [reloads=1000] [restart|in-place]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCli, stopAll } from './processes.ts';

const reloads = Number(process.argv[2] ?? 1000);
const mode = process.argv[3] === 'in-place' ? 'in-place' : 'restart';
const SITES = 10;
process.once('exit', stopAll);

/** RSS in bytes of `pid` and all its descendants. */
function treeRss(pid: number): number {
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const next = stack.pop()!;
    try {
      const status = readFileSync(`/proc/${next}/status`, 'utf8');
      total += Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024;
      const children = readFileSync(`/proc/${next}/task/${next}/children`, 'utf8').trim();
      if (children !== '') stack.push(...children.split(' ').map(Number));
    } catch {
      // Exited meanwhile.
    }
  }
  return total;
}

/** Waits until the process tree has exactly `processes` processes (old workers drained and gone). */
async function settled(pid: number, processes: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean);
    if (children.length + 1 === processes) return;
    await sleep(100);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'hostmux-rss-'));
mkdirSync(join(dir, 'sites-enabled'));
mkdirSync(join(dir, 'code'));
writeFileSync(join(dir, 'hostmux.conf'), `[server]\nreload = ${mode}\n`);
const code = (k: number, round: number) => `export default (req, res) => res.end('site${k} round ${round}');\n`;
for (let k = 0; k < SITES; k++) {
  writeFileSync(join(dir, 'sites-enabled', `site${k}.ini`), `[site]\ndomains = site${k}.test\nhandler = ../code/site${k}.mjs\n`);
  writeFileSync(join(dir, 'code', `site${k}.mjs`), code(k, 0));
}
const server = await startCli(dir, ['--workers', '2']);
try {
  await settled(server.pid, 3);
  const before = treeRss(server.pid);
  const started = Date.now();
  for (let round = 1; round <= reloads; round++) {
    writeFileSync(join(dir, 'code', `site${round % SITES}.mjs`), code(round % SITES, round));
    const mark = server.log().length;
    process.kill(server.pid, 'SIGHUP');
    await server.waitFor(/configuration reloaded/, mark);
    if (round % 100 === 0) process.stderr.write(`${round} reloads, RSS ${(treeRss(server.pid) / 2 ** 20).toFixed(1)} MiB\n`);
  }
  const seconds = (Date.now() - started) / 1000;
  await settled(server.pid, 3);
  const after = treeRss(server.pid);
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  console.log(`| code reloads (${mode}, serve --workers 2, ${SITES} sites) | total RSS before | after | change |`);
  console.log('| --- | --- | --- | --- |');
  console.log(`| ${reloads} in ${seconds.toFixed(0)} s | ${mib(before)} | ${mib(after)} | ${(((after - before) / before) * 100).toFixed(1)}% |`);
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
