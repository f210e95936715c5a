// Requests lost across reloads: `hostmux serve --workers 2` under autocannon
// load while the site's file and code change and SIGHUP arrives N times.
//   node --import tsx test/bench/reload-under-load.ts [reloads] [interval-ms]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';

const reloads = Number(process.argv[2] ?? 50);
const intervalMs = Number(process.argv[3] ?? 100);
const cli = resolve(import.meta.dirname, '../../dist/cli/main.js');
const dir = mkdtempSync(join(import.meta.dirname, '.reload-load-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const writeSite = (round: number) => {
  writeFileSync(join(dir, 'site.mjs'), `export default (req, res) => res.end('round ${round}');\n`);
  writeFileSync(join(dir, 'site.ini'), `[site]\ndomains = load.test\nhandler = site.mjs\n[round]\nn = ${round}\n`);
};
writeFileSync(join(dir, 'hostmux.conf'), '[server]\nsites = site.ini\n');
writeSite(0);

const server = spawn(process.execPath, [cli, 'serve', '--config', dir, '--port', '0', '--workers', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
const port = await new Promise<number>((done, fail) => {
  let log = '';
  server.stderr.setEncoding('utf8');
  server.stderr.on('data', (text: string) => {
    log += text;
    const found = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
    if (found) done(Number(found[1]));
  });
  server.once('exit', () => fail(new Error(`hostmux exited:\n${log}`)));
});

let reloadsSent = 0;
const load = autocannon({
  url: `http://127.0.0.1:${port}/`,
  headers: { host: 'load.test' },
  connections: 16,
  duration: Math.ceil((reloads * intervalMs) / 1000) + 2,
});
const timer = setInterval(() => {
  if (reloadsSent === reloads) return clearInterval(timer);
  writeSite(++reloadsSent);
  server.kill('SIGHUP');
}, intervalMs);
const result = await load;
clearInterval(timer);
// The reloads really happened: the last code answers.
await new Promise((r) => setTimeout(r, 500));
const last = await new Promise<string>((done, fail) => {
  http.get({ port, host: '127.0.0.1', headers: { host: 'load.test' } }, (res) => {
    let body = '';
    res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => done(body));
  }).on('error', fail);
});
server.kill('SIGTERM');
if (last !== `round ${reloadsSent}`) throw new Error(`expected the code of round ${reloadsSent}, got "${last}"`);

console.log(`| reloads (SIGHUP, changed site file and code) | requests | non-2xx | errors | timeouts |`);
console.log('| --- | --- | --- | --- | --- |');
console.log(`| ${reloadsSent} in ${((reloadsSent * intervalMs) / 1000).toFixed(1)} s | ${result.requests.total} | ${result.non2xx} | ${result.errors} | ${result.timeouts} |`);
