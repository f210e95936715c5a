// TLS through `hostmux serve --in-process` (its HTTPS listener: HTTP/2 and
// HTTP/1.1 by ALPN, the certificate chosen per handshake by SNI) against a
// bare `http2.createSecureServer` with one certificate (the same server
// Node gives both), in the same run, at 1 and 1,000 sites each with its own
// certificate: handshakes per second, requests per second over HTTP/1.1
// keep-alive and over HTTP/2, and the server's CPU per operation. The
// servers run on CPU 0, this process (the clients) on CPU 1 when taskset is
// available; slices alternate between the servers, in rounds; medians.
//   npm run build && node --import tsx test/bench/tls.ts [--seconds 3] [--rounds 3] [--sites 1,1000]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { generate } from 'selfsigned';
import { CLI_SCRIPT, tasksetAvailable } from './processes.ts';
import { median } from './report.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, rounds: { type: 'string', default: '3' }, sites: { type: 'string', default: '1,1000' } } });
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const counts = values.sites.split(',').map(Number);
const CONNECTIONS = 16;
const HOSTS = 50;
const pinned = tasksetAvailable();
if (pinned) execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });

const BARE = `
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
const server = http2.createSecureServer({ allowHTTP1: true, cert: readFileSync(process.argv[2]), key: readFileSync(process.argv[3]) }, (req, res) => res.end('hello\\n'));
server.listen(0, '127.0.0.1', () => console.error('https://127.0.0.1:' + server.address().port));
`;

interface Server {
  readonly child: ChildProcess;
  readonly port: number;
}

function start(args: string[]): Promise<Server> {
  const child = spawn(pinned ? 'taskset' : process.execPath, pinned ? ['-c', '0', process.execPath, ...args] : args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk;
      const found = /https:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (found !== null) resolve({ child, port: Number(found[1]) });
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}):\n${log}`)));
  });
}

/** The server's CPU time so far, in µs (Linux /proc). */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / 100;
}

async function handshakes(port: number, names: readonly string[], ms: number): Promise<number> {
  let done = 0;
  const end = Date.now() + ms;
  await Promise.all(Array.from({ length: CONNECTIONS }, async (_, k) => {
    for (let i = k; Date.now() < end; i += CONNECTIONS) {
      await new Promise<void>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername: names[i % names.length], rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
          done++;
          socket.destroy();
          resolve();
        });
        socket.on('error', reject);
      });
    }
  }));
  return done;
}

async function http1(port: number, names: readonly string[], ms: number): Promise<number> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
  let done = 0;
  const end = Date.now() + ms;
  await Promise.all(Array.from({ length: CONNECTIONS }, async (_, k) => {
    const name = names[k % names.length]!;
    while (Date.now() < end) {
      await new Promise<void>((resolve, reject) => {
        https.get({ host: '127.0.0.1', port, servername: name, headers: { host: name }, agent, path: `/${k}` }, (res) => {
          res.resume();
          res.on('end', () => {
            done++;
            resolve();
          });
        }).on('error', reject);
      });
    }
  }));
  agent.destroy();
  return done;
}

async function http2Requests(port: number, names: readonly string[], ms: number): Promise<number> {
  let done = 0;
  const end = Date.now() + ms;
  const sessions = names.slice(0, 4).map((name) => ({ name, session: http2.connect(`https://127.0.0.1:${port}`, { servername: name, rejectUnauthorized: false }) }));
  await Promise.all(sessions.flatMap(({ name, session }) => Array.from({ length: 16 }, async () => {
    while (Date.now() < end) {
      await new Promise<void>((resolve, reject) => {
        const stream = session.request({ ':path': '/', ':authority': name });
        stream.on('error', reject);
        stream.resume();
        stream.on('end', () => {
          done++;
          resolve();
        });
      });
    }
  })));
  for (const { session } of sessions) session.close();
  return done;
}

const PHASES = { handshakes, 'HTTP/1.1 requests': http1, 'HTTP/2 requests': http2Requests } as const;

async function certificateFor(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: 'commonName', value: name }], { keyType: 'ec', algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: name }] }] });
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  writeFileSync(cert, pems.cert);
  writeFileSync(key, pems.private);
  return { cert, key };
}

console.log(`## TLS: hostmux serve --in-process against bare http2.createSecureServer (one certificate)\n`);
console.log(`- ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}; taskset: ${pinned ? 'servers on CPU 0, clients on CPU 1' : 'no'}; ${rounds} rounds of ${seconds} s per phase per server; ${CONNECTIONS} connections (HTTP/2: 4 sessions × 16 streams); hosts: up to ${HOSTS} site names in turn`);
for (const count of counts) {
  const dir = mkdtempSync(join(tmpdir(), 'hostmux-bench-tls-'));
  try {
    mkdirSync(join(dir, 'certs'));
    mkdirSync(join(dir, 'sites-enabled'));
    writeFileSync(join(dir, 'app.mjs'), "export default (req, res) => res.end('hello\\n');\n");
    writeFileSync(join(dir, 'hostmux.conf'), '[server]\nhttps = 127.0.0.1:0\nblock_warning = 0\n');
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      const name = `site-${i}.test`;
      const { cert, key } = await certificateFor(join(dir, 'certs'), name);
      writeFileSync(join(dir, 'sites-enabled', `site-${i}.ini`), `[site]\ndomains = ${name}\nhandler = ../app.mjs\ntls_cert = ${cert}\ntls_key = ${key}\n`);
      names.push(name);
    }
    const asked = Array.from({ length: Math.min(HOSTS, count) }, (_, i) => names[Math.floor((i * count) / Math.min(HOSTS, count))]!);
    writeFileSync(join(dir, 'bare.mjs'), BARE);
    const samples: Record<string, Record<string, { rate: number; cpu: number }[]>> = { bare: {}, hostmux: {} };
    for (let round = 0; round < rounds; round++) {
      const servers: Record<string, Server> = {
        bare: await start([join(dir, 'bare.mjs'), join(dir, 'certs', `${names[0]}.crt`), join(dir, 'certs', `${names[0]}.key`)]),
        hostmux: await start([CLI_SCRIPT, 'serve', '--config', dir, '--port', '0', '--in-process']),
      };
      try {
        for (const [phase, run] of Object.entries(PHASES)) {
          const order = round % 2 === 0 ? ['bare', 'hostmux'] : ['hostmux', 'bare'];
          for (const kind of order) {
            const server = servers[kind]!;
            await run(server.port, asked, 500);
            const before = cpuMicros(server.child.pid!);
            const started = performance.now();
            const done = await run(server.port, asked, seconds * 1000);
            const elapsed = (performance.now() - started) / 1000;
            const cpu = (cpuMicros(server.child.pid!) - before) / done;
            ((samples[kind]![phase] ??= []).push({ rate: done / elapsed, cpu }));
          }
        }
      } finally {
        for (const server of Object.values(servers)) server.child.kill('SIGKILL');
      }
    }
    console.log(`\n### ${count.toLocaleString('en-US')} site${count === 1 ? '' : 's'}, each with its own certificate\n`);
    console.log('| phase | bare: per s | hostmux: per s | ratio | bare: server CPU µs/op | hostmux: server CPU µs/op | ratio |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (const phase of Object.keys(PHASES)) {
      const bare = samples.bare![phase]!;
      const mux = samples.hostmux![phase]!;
      const rate = (list: typeof bare) => median(list.map((s) => s.rate));
      const cpu = (list: typeof bare) => median(list.map((s) => s.cpu));
      console.log(`| ${phase} | ${Math.round(rate(bare)).toLocaleString('en-US')} | ${Math.round(rate(mux)).toLocaleString('en-US')} | ${(rate(mux) / rate(bare)).toFixed(2)}× | ${cpu(bare).toFixed(1)} | ${cpu(mux).toFixed(1)} | ${(cpu(mux) / cpu(bare)).toFixed(2)}× |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
