// The static row: a 1 KiB file through a static site of hostmux at 10,000
// sites, against the same `send` under bare node:http in the same rounds,
// and nginx beside them when it is installed (for scale; never required).
// Part `static` of `npm run bench`; alone: `npm run bench -- --only static`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { count, fixed, median, ratio, table } from './report.ts';
import { startServer, stopChild, type LoadGenerator, type SpawnOptions } from './processes.ts';
import { benchSites, requestHosts, type BenchSite } from './sites.ts';

/** The file every request asks for: 1 KiB. */
const FILE = '/file.txt';
const CONTENT = `${'x'.repeat(1023)}\n`;

export interface StaticOptions {
  readonly sites: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly rounds: number;
  readonly connections: number;
  readonly server: SpawnOptions;
}

interface Sample {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly failures: number;
}

export interface StaticResult {
  readonly sites: number;
  /** By server label, one sample per round. */
  readonly samples: Map<string, Sample[]>;
}

const SEND = '(a) send under node:http';
const HOSTMUX = '(b) hostmux static site';
const FOLLOW = '(c) hostmux, follow_symlinks = true (no per-file symlink check)';
const NGINX = '(d) nginx (root, 1 worker, for scale)';

/**
 * Two trees of `sites` static sites sharing one root with the file: `dir`
 * with the defaults, `followDir` with `follow_symlinks = true`.
 */
function writeStaticTree(sites: readonly BenchSite[]): { dir: string; followDir: string; root: string; remove(): void } {
  const top = mkdtempSync(join(tmpdir(), 'hostmux-bench-static-'));
  const root = join(top, 'www');
  mkdirSync(root);
  writeFileSync(join(root, FILE.slice(1)), CONTENT);
  const tree = (name: string, extra: string) => {
    const dir = join(top, name);
    mkdirSync(join(dir, 'sites-enabled'), { recursive: true });
    for (const site of sites) {
      writeFileSync(join(dir, 'sites-enabled', `${site.name}.ini`), `[site]\ndomains = ${site.domain}\nroot = ../../www\n${extra}`);
    }
    return dir;
  };
  return { dir: tree('default', ''), followDir: tree('follow', 'follow_symlinks = true\n'), root, remove: () => rmSync(top, { recursive: true, force: true }) };
}

/** True when an `nginx` binary runs here. */
function nginxAvailable(): boolean {
  return spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0;
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** nginx in the foreground with one worker serving `root`; pinned like the other servers. */
async function startNginx(dir: string, root: string, options: SpawnOptions): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, `daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')};
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir};
  proxy_temp_path ${dir};
  fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir};
  scgi_temp_path ${dir};
  types { text/plain txt; }
  server { listen 127.0.0.1:${port}; root ${root}; }
}
`);
  const args = ['-p', dir, '-c', conf];
  const pinned = options.taskset === true && options.cpu !== undefined;
  const child: ChildProcess = spawn(pinned ? 'taskset' : 'nginx', pinned ? ['-c', String(options.cpu), 'nginx', ...args] : args, { stdio: 'ignore' });
  // Ready once it accepts a connection.
  for (let tries = 0; ; tries++) {
    try {
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.destroy();
      break;
    } catch (err) {
      if (tries > 100 || child.exitCode !== null) {
        await stopChild(child);
        throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { port, stop: () => stopChild(child) };
}

/** Measures send, hostmux (and nginx when installed), interleaved in one-second slices, in rounds. */
export async function runStatic(loadgen: LoadGenerator, options: StaticOptions, log: (line: string) => void): Promise<StaticResult> {
  const sites = benchSites(options.sites);
  const hosts = requestHosts(sites);
  const tree = writeStaticTree(sites);
  const withNginx = nginxAvailable();
  const samples = new Map<string, Sample[]>([[SEND, []], [HOSTMUX, []], [FOLLOW, []], ...(withNginx ? [[NGINX, []] as [string, Sample[]]] : [])]);
  const slices = Math.max(1, Math.round(options.seconds));
  const sliceSeconds = options.seconds / slices;
  try {
    for (let round = 0; round < options.rounds; round++) {
      const stops: (() => Promise<void>)[] = [];
      try {
        const servers: { label: string; port: number }[] = [];
        const send = await startServer('send', tree.root, options.server);
        stops.push(() => send.stop());
        servers.push({ label: SEND, port: send.port });
        const hostmux = await startServer('hostmux', tree.dir, options.server);
        stops.push(() => hostmux.stop());
        servers.push({ label: HOSTMUX, port: hostmux.port });
        const follow = await startServer('hostmux', tree.followDir, options.server);
        stops.push(() => follow.stop());
        servers.push({ label: FOLLOW, port: follow.port });
        if (withNginx) {
          const nginx = await startNginx(dirname(tree.root), tree.root, options.server);
          stops.push(() => nginx.stop());
          servers.push({ label: NGINX, port: nginx.port });
        }
        for (const server of servers) await loadgen.run(server.port, hosts, options.connections, options.warmupSeconds, undefined, FILE);
        const totals = servers.map(() => ({ requests: 0, elapsedMs: 0, failures: 0 }));
        for (let i = 0; i < slices; i++) {
          for (let k = 0; k < servers.length; k++) {
            const at = (k + i + round) % servers.length;
            const server = servers[at]!;
            const run = await loadgen.run(server.port, hosts, options.connections, sliceSeconds, server.label, FILE);
            totals[at]!.requests += run.requests;
            totals[at]!.elapsedMs += run.elapsedMs;
            totals[at]!.failures += run.non2xx + run.errors;
          }
        }
        for (const [k, server] of servers.entries()) {
          const latency = await loadgen.latency(server.label);
          const sample = { rps: (totals[k]!.requests * 1000) / totals[k]!.elapsedMs, p50: latency.p50, p99: latency.p99, failures: totals[k]!.failures };
          samples.get(server.label)!.push(sample);
          log(`static N=${options.sites} round ${round + 1} ${server.label}: ${count(sample.rps)} req/s, p99 ${fixed(sample.p99)} ms`);
        }
      } finally {
        await Promise.all(stops.map((stop) => stop()));
      }
    }
    return { sites: options.sites, samples };
  } finally {
    tree.remove();
  }
}

export function staticTable(result: StaticResult): string {
  const base = result.samples.get(SEND) ?? [];
  const rows = [...result.samples.entries()].map(([label, samples]) => {
    const med = (value: (sample: Sample) => number) => median(samples.map(value));
    const versus = (value: (sample: Sample) => number) =>
      (label === SEND ? '' : ` (${ratio(median(samples.map((sample, i) => value(sample) / value(base[i]!))))})`);
    const failures = samples.reduce((sum, sample) => sum + sample.failures, 0);
    return [
      label,
      count(med((s) => s.rps)) + versus((s) => s.rps),
      fixed(med((s) => s.p50)) + versus((s) => s.p50),
      fixed(med((s) => s.p99)) + versus((s) => s.p99),
      failures === 0 ? '0' : `**${count(failures)}**`,
    ];
  });
  return table(['server', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx + errors'], rows);
}
