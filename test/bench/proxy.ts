// The cost of a proxy site: requests/s straight to an upstream node:http
// server vs. through hostmux's proxy site, interleaved, median of 3 rounds.
// Run: node --import tsx test/bench/proxy.ts [seconds per round, default 5]
// Not part of `npm test`: timings belong here, never in unit tests.
//
// The upstream and hostmux each run in their own child process (as they
// would in production); autocannon drives the load from this process.
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const role = process.argv[2];

/** Listens on 127.0.0.1, port 0, and tells the parent the port. */
async function serve(server: http.Server): Promise<void> {
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.send!((server.address() as AddressInfo).port);
  process.on('disconnect', () => process.exit(0));
}

const SMALL = Buffer.from('hello world\n');
const LARGE = Buffer.alloc(256 * 1024, 'x');

async function start(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(import.meta.url), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [port] = (await once(child, 'message')) as [number];
  return { child, port };
}

interface Round {
  readonly rps: number;
  readonly p99: number;
  readonly mbps: number;
}

async function load(port: number, path: string, seconds: number): Promise<Round> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${path}`,
    headers: { host: 'app.test' },
    connections: 32,
    pipelining: 1,
    duration: seconds,
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`port ${port}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p99: result.latency.p99, mbps: result.throughput.average / 2 ** 20 };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(seconds: number): Promise<void> {
  const upstream = await start(['upstream']);
  const proxy = await start(['proxy', String(upstream.port)]);
  const bare = await start(['bare', String(upstream.port)]);
  try {
    console.log(`node ${process.version}, ${seconds} s per round, 32 connections, 3 rounds interleaved; medians.`);
    console.log('ratio: hostmux proxy req/s ÷ direct req/s; bare: a minimal undici proxy with no header rules, for scale.\n');
    console.log('| response | direct req/s | hostmux req/s | ratio | bare req/s | bare ratio | p99 direct / hostmux / bare | MiB/s direct / hostmux |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const [label, path] of [['12 B', '/'], ['256 KiB', '/large']] as const) {
      // Warm every path up (JIT, the pools' connections) before measuring.
      for (const target of [upstream, proxy, bare]) await load(target.port, path, 1);
      const rounds: Record<'direct' | 'hostmux' | 'bare', Round[]> = { direct: [], hostmux: [], bare: [] };
      for (let round = 0; round < 3; round++) {
        rounds.direct.push(await load(upstream.port, path, seconds));
        rounds.hostmux.push(await load(proxy.port, path, seconds));
        rounds.bare.push(await load(bare.port, path, seconds));
      }
      const rps = (rs: Round[]) => median(rs.map((r) => r.rps));
      const p99 = (rs: Round[]) => median(rs.map((r) => r.p99));
      const mbps = (rs: Round[]) => median(rs.map((r) => r.mbps)).toFixed(0);
      const direct = rps(rounds.direct);
      console.log(
        `| ${label} | ${direct.toFixed(0)} | ${rps(rounds.hostmux).toFixed(0)} | ${(rps(rounds.hostmux) / direct).toFixed(2)} | ` +
          `${rps(rounds.bare).toFixed(0)} | ${(rps(rounds.bare) / direct).toFixed(2)} | ` +
          `${p99(rounds.direct)} / ${p99(rounds.hostmux)} / ${p99(rounds.bare)} ms | ${mbps(rounds.direct)} / ${mbps(rounds.hostmux)} |`,
      );
    }
  } finally {
    for (const { child } of [upstream, proxy, bare]) child.kill();
  }
}

// Last, so that everything above is initialised when main() runs.
if (role === 'upstream') {
  await serve(http.createServer((req, res) => {
    const body = req.url === '/large' ? LARGE : SMALL;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  }));
} else if (role === 'proxy') {
  const { createApplication } = await import('../../src/index.ts');
  const root = mkdtempSync(join(tmpdir(), 'hostmux-bench-proxy-'));
  mkdirSync(join(root, 'sites-enabled'));
  writeFileSync(join(root, 'sites-enabled', 'app.ini'), `[site]\ndomains = app.test\nproxy = http://127.0.0.1:${process.argv[3]}\n`);
  const app = createApplication(root);
  rmSync(root, { recursive: true, force: true });
  await serve(http.createServer(app));
} else if (role === 'bare') {
  // The floor: the least a proxy on undici does (no header rules, no error handling).
  const { Pool } = await import('undici');
  const pool = new Pool(`http://127.0.0.1:${process.argv[3]}`);
  await serve(http.createServer((req, res) => {
    pool.request({ path: req.url!, method: 'GET', headers: { host: req.headers.host! } }, (err, data) => {
      if (err) return void res.writeHead(502).end();
      res.writeHead(data.statusCode, data.headers as http.OutgoingHttpHeaders);
      data.body.pipe(res);
    });
  }));
} else {
  await main(Number(process.argv[2] ?? 5));
}
