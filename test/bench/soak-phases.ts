// The phases of `npm run soak` (test/bench/soak.ts), each a function with
// its own bounded size, so that the soak-smoke test runs them briefly.
// Everything listens on 127.0.0.1 and is stopped by pid.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { get } from './memory.ts';
import { startCli, startServer, type LoadGenerator, type SpawnOptions } from './processes.ts';
import { median } from './report.ts';
import { benchSites, requestHosts, writeTree } from './sites.ts';

/** Where the server and the load generator run (pinned to a CPU each when taskset is there). */
export interface Placement {
  readonly server: SpawnOptions;
  readonly loadgen: LoadGenerator;
}

/** A temp dir with `files`, removed by the returned function. */
function tree(files: Record<string, string>): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'hostmux-soak-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One GET on a new connection, bounded by `timeoutMs`; `status` 0 when it failed or timed out. */
function timedGet(port: number, host: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

/** Answered 2xx out of everything sent (answers plus connection errors and timeouts), as a fraction. */
function successRate(requests: number, non2xx: number, errors: number): number {
  const sent = requests + errors;
  return sent === 0 ? NaN : (requests - non2xx) / sent;
}

// ---------------------------------------------------------------------------
// Requests lost across SIGHUP reloads under load, sites edited between them.

export interface ReloadOptions {
  readonly reloads: number;
  readonly intervalMs: number;
  /** Sites in the tree; each round edits the next one's file and code. */
  readonly sites: number;
  readonly connections: number;
}

export interface ReloadResult {
  readonly reloads: number;
  readonly seconds: number;
  readonly requests: number;
  /** Answers other than 2xx, and connection errors or timeouts: requests lost. */
  readonly non2xx: number;
  readonly errors: number;
  /** Reloads the primary reported; fewer than sent when signals arrived while one was pending (the kernel merges them). */
  readonly reported: number;
}

const reloadSite = (k: number, round: number) => ({
  [`sites-enabled/site${k}.ini`]: `[site]\ndomains = site${k}.load.test\nhandler = ../code/site${k}.mjs\n[round]\nn = ${round}\n`,
  [`code/site${k}.mjs`]: `export default (req, res) => res.end('site${k} round ${round}');\n`,
});

/** `hostmux serve --workers 2` under load while SIGHUP arrives every `intervalMs` after a site's file and code changed. */
export async function runReloads(options: ReloadOptions, placement: Placement): Promise<ReloadResult> {
  let files: Record<string, string> = {};
  for (let k = 0; k < options.sites; k++) files = { ...files, ...reloadSite(k, 0) };
  const t = tree(files);
  const server = await startCli(t.dir, ['--workers', '2'], placement.server);
  try {
    const hosts = Array.from({ length: options.sites }, (_, k) => `site${k}.load.test`);
    const seconds = (options.reloads * options.intervalMs) / 1000 + 1;
    const load = placement.loadgen.run(server.port, hosts, options.connections, seconds);
    let sent = 0;
    let last = { k: 0, round: 0 };
    await sleep(500);
    while (sent < options.reloads) {
      const round = sent + 1;
      last = { k: round % options.sites, round };
      for (const [path, content] of Object.entries(reloadSite(last.k, round))) writeFileSync(join(t.dir, path), content);
      process.kill(server.pid, 'SIGHUP');
      sent++;
      await sleep(options.intervalMs);
    }
    const result = await load;
    // The reloads really happened: the last round's code answers (bounded: a hang guard).
    const expected = `site${last.k} round ${last.round}`;
    for (const deadline = Date.now() + 60_000; ; await sleep(100)) {
      const { body } = await timedGet(server.port, `site${last.k}.load.test`);
      if (body === expected) break;
      if (Date.now() > deadline) throw new Error(`the last round's code never answered: got "${body}", expected "${expected}"`);
    }
    const reported = server.log().match(/configuration reloaded(?: in \d+ of \d+ workers)?:/g)?.length ?? 0;
    return { reloads: sent, seconds: result.elapsedMs / 1000, requests: result.requests, non2xx: result.non2xx, errors: result.errors, reported };
  } finally {
    await server.stop();
    t.remove();
  }
}

// ---------------------------------------------------------------------------
// A healthy site's success rate while another site crashes its worker every 2 s.

export interface CrashOptions {
  readonly seconds: number;
  readonly crashEveryMs: number;
  readonly connections: number;
  readonly probeEveryMs: number;
}

export interface CrashResult {
  readonly seconds: number;
  readonly crashRequests: number;
  /** Crashes the workers logged, blamed on the crashing site. */
  readonly crashes: number;
  /** Replacements that came to serve, from the primary's log. */
  readonly workerExits: number;
  /** The load on the healthy site (autocannon): a connection refused while no worker serves is retried at once, so errors count attempts, not time. */
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly successRate: number;
  /** A probe of the healthy site every `probeEveryMs` (new connection each): what a client sees over time. */
  readonly probe: ProbeResult;
  /** Seconds from the first crashing request to the primary's quarantine of the site; undefined when it never came. */
  readonly quarantinedAfterS: number | undefined;
}

/** Nine healthy sites, and one that throws in a timer after each answer (an uncaught exception in its worker). */
const HEALTHY = Array.from({ length: 9 }, (_, k) => `healthy${k}.test`);
const CRASH_TREE: Record<string, string> = {
  'healthy.mjs': "export default (req, res) => res.end('ok\\n');\n",
  'sites-enabled/crash.ini': '[site]\ndomains = crash.test\nhandler = ../crash.mjs\n',
  'crash.mjs': "export default (req, res) => { res.end('bye\\n'); setTimeout(() => { throw new Error('crashing on purpose'); }, 5); };\n",
};
for (const [k, host] of HEALTHY.entries()) CRASH_TREE[`sites-enabled/healthy${k}.ini`] = `[site]\ndomains = ${host}\nhandler = ../healthy.mjs\n`;

export interface ProbeResult {
  readonly sent: number;
  readonly answered: number;
  /** The longest stretch between two answered probes (or the phase's edges), in ms. */
  readonly longestOutageMs: number;
}

/** GETs of `host` on a new connection each, one every `everyMs` (or as soon as the last one is done), until `until`. */
async function pacedProbe(port: number, host: string, until: number, everyMs: number): Promise<ProbeResult> {
  let sent = 0;
  let answered = 0;
  let lastAnswered = Date.now();
  let longestOutageMs = 0;
  while (Date.now() < until) {
    const started = Date.now();
    sent++;
    const { status } = await timedGet(port, host, 5_000);
    if (status === 200) {
      answered++;
      longestOutageMs = Math.max(longestOutageMs, Date.now() - lastAnswered);
      lastAnswered = Date.now();
    }
    await sleep(Math.max(0, everyMs - (Date.now() - started)));
  }
  longestOutageMs = Math.max(longestOutageMs, Date.now() - lastAnswered);
  return { sent, answered, longestOutageMs };
}

export async function runCrashes(options: CrashOptions, placement: Placement): Promise<CrashResult> {
  const t = tree(CRASH_TREE);
  const server = await startCli(t.dir, ['--workers', '2'], placement.server);
  try {
    const until = Date.now() + options.seconds * 1000;
    const load = placement.loadgen.run(server.port, HEALTHY, options.connections, options.seconds);
    const probe = pacedProbe(server.port, HEALTHY[0]!, until, options.probeEveryMs);
    let crashRequests = 0;
    let firstCrash: number | undefined;
    while (Date.now() + options.crashEveryMs <= until) {
      await sleep(options.crashEveryMs);
      crashRequests++;
      firstCrash ??= Date.now();
      // Answered 200 until the site is quarantined, 503 after.
      await timedGet(server.port, 'crash.test', 5_000);
    }
    const result = await load;
    const probed = await probe;
    const replaced = server.log().match(/is serving, replacing worker/g)?.length ?? 0;
    const quarantine = /^(\S+) ERROR root: site crash crashed a worker/m.exec(server.log());
    return {
      seconds: result.elapsedMs / 1000,
      crashRequests,
      crashes: server.log().match(/uncaught exception in site crash:/g)?.length ?? 0,
      workerExits: replaced,
      requests: result.requests,
      non2xx: result.non2xx,
      errors: result.errors,
      successRate: successRate(result.requests, result.non2xx, result.errors),
      probe: probed,
      quarantinedAfterS: quarantine === null || firstCrash === undefined ? undefined : (Date.parse(quarantine[1]!) - firstCrash) / 1000,
    };
  } finally {
    await server.stop();
    t.remove();
  }
}

// ---------------------------------------------------------------------------
// RSS and heap before and after many requests over many sites.

export interface MemoryOptions {
  readonly sites: number;
  readonly requests: number;
  /** Stops early (reporting the requests made) if the target takes longer than this. */
  readonly maxSeconds: number;
  readonly connections: number;
}

export interface MemoryResult {
  readonly sites: number;
  readonly requests: number;
  readonly failures: number;
  readonly seconds: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  readonly heapBefore: number;
  readonly heapAfter: number;
}

/** One hostmux process (as the bench runs it), each site its own module; memory after a full GC, before and after. */
export async function runMemorySoak(options: MemoryOptions, placement: Placement): Promise<MemoryResult> {
  const sites = benchSites(options.sites);
  const t = writeTree(sites, 'per-site');
  const server = await startServer('hostmux', t.dir, { ...placement.server, nodeArgs: ['--expose-gc'] });
  try {
    // Every site loaded once before the first figure, so that "after" is what serving adds.
    for (const site of sites) await get(server.port, site.host);
    const before = await server.stats(true);
    const hosts = sites.map((site) => site.host);
    let requests = 0;
    let failures = 0;
    const started = performance.now();
    while (requests < options.requests && performance.now() - started < options.maxSeconds * 1000) {
      const left = options.maxSeconds - (performance.now() - started) / 1000;
      const result = await placement.loadgen.run(server.port, hosts, options.connections, Math.max(0.2, Math.min(10, left)));
      requests += result.requests;
      failures += result.non2xx + result.errors;
    }
    const seconds = (performance.now() - started) / 1000;
    const after = await server.stats(true);
    return {
      sites: options.sites,
      requests,
      failures,
      seconds,
      rssBefore: before.rss,
      rssAfter: after.rss,
      heapBefore: before.heap,
      heapAfter: after.heap,
    };
  } finally {
    await server.stop();
    t.remove();
  }
}

// ---------------------------------------------------------------------------
// Request latency while a large tree reloads.

export interface BigReloadOptions {
  readonly sites: number;
  readonly reloads: number;
  readonly connections: number;
}

export interface BigReloadResult {
  readonly sites: number;
  readonly reloads: number;
  readonly reloadMs: number[];
  /** Latency (ms) of the same load without a reload, then while reloading. */
  readonly quiet: { readonly p99: number; readonly max: number };
  readonly reloading: { readonly p99: number; readonly max: number; readonly requests: number; readonly failures: number };
}

/** One in-process hostmux (http.createServer(app)) with `sites` sites; `app.reload()` under load, one site's file changed before each. */
export async function runBigReload(options: BigReloadOptions, placement: Placement): Promise<BigReloadResult> {
  const sites = benchSites(options.sites);
  const t = writeTree(sites, 'shared');
  const server = await startServer('hostmux', t.dir, placement.server);
  try {
    const hosts = requestHosts(sites);
    await placement.loadgen.run(server.port, hosts, options.connections, 1);
    const quiet = await placement.loadgen.run(server.port, hosts, options.connections, 2);
    // The load runs until the last reload is done: each reload is awaited, then the load is given 1 s more.
    const reloadMs: number[] = [];
    let reloading = true;
    const loads: Promise<{ p99: number; max: number; requests: number; failures: number }>[] = [];
    const keepLoading = (async () => {
      while (reloading) {
        const run = placement.loadgen.run(server.port, hosts, options.connections, 1, 'reload');
        loads.push(run.then((r) => ({ p99: r.p99, max: r.max, requests: r.requests, failures: r.non2xx + r.errors })));
        await run;
      }
    })();
    await sleep(300);
    const edited = sites[Math.floor(sites.length / 2)]!;
    for (let i = 0; i < options.reloads; i++) {
      // A real change each time: the site gets another domain, then its own back.
      const domain = i % 2 === 0 ? `reloaded.${edited.domain.replace(/^\*+\./, '')}` : edited.domain;
      writeFileSync(join(t.dir, 'sites-enabled', `${edited.name}.ini`), `[site]\ndomains = ${domain}\nhandler = ../handlers/site.mjs\n`);
      reloadMs.push(await server.reload());
    }
    await sleep(300);
    reloading = false;
    await keepLoading;
    const runs = await Promise.all(loads);
    const all = await placement.loadgen.latency('reload');
    return {
      sites: options.sites,
      reloads: options.reloads,
      reloadMs,
      quiet: { p99: quiet.p99, max: quiet.max },
      reloading: {
        p99: all.p99,
        max: all.max,
        requests: runs.reduce((sum, r) => sum + r.requests, 0),
        failures: runs.reduce((sum, r) => sum + r.failures, 0),
      },
    };
  } finally {
    await server.stop();
    t.remove();
  }
}

// ---------------------------------------------------------------------------
// Slowloris: many connections sending their head slowly, and a normal client meanwhile.

export interface SlowlorisOptions {
  readonly connections: number;
  readonly seconds: number;
  /** How often each slow connection sends one more header line. */
  readonly dripMs: number;
}

export interface SlowlorisResult {
  readonly opened: number;
  /** Slow connections that could not be opened (refused, reset during connect). */
  readonly refused: number;
  /** Slow connections the server closed during the phase, and after how long (median, s). */
  readonly closedByServer: number;
  readonly medianCloseS: number;
  readonly seconds: number;
  /** A normal keep-alive client's latency (ms) before the slow connections, and while they are open. */
  readonly quiet: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly during: { readonly p50: number; readonly p99: number; readonly max: number; readonly requests: number; readonly failures: number };
  /** Fresh connections, one after another, during the phase: answered, failed, and the slowest (ms). */
  readonly fresh: { readonly answered: number; readonly failed: number; readonly max: number };
}

/** Timed GETs on a new connection each, one after another, until `until`. */
async function freshProbes(port: number, host: string, until: number): Promise<{ answered: number; failed: number; max: number }> {
  let answered = 0;
  let failed = 0;
  let max = 0;
  while (Date.now() < until) {
    const started = performance.now();
    const { status } = await timedGet(port, host);
    max = Math.max(max, performance.now() - started);
    if (status === 200) answered++;
    else failed++;
    await sleep(100);
  }
  return { answered, failed, max };
}

/** `hostmux serve --workers 1` (one process, so every slow connection lands on the process the client uses). */
export async function runSlowloris(options: SlowlorisOptions, placement: Placement): Promise<SlowlorisResult> {
  const t = tree({
    'sites-enabled/app.ini': '[site]\ndomains = app.test\nhandler = ../app.mjs\n',
    'app.mjs': "export default (req, res) => res.end('ok\\n');\n",
  });
  const server = await startCli(t.dir, ['--workers', '1'], placement.server);
  const sockets = new Set<net.Socket>();
  const closedAfter: number[] = [];
  let refused = 0;
  let drip: NodeJS.Timeout | undefined;
  try {
    const quiet = await placement.loadgen.run(server.port, ['app.test'], 1, 2);
    const started = Date.now();
    // Opened in batches, each awaited, so that the listen backlog is not what refuses them.
    for (let i = 0; i < options.connections; i += 100) {
      const batch = Math.min(100, options.connections - i);
      await Promise.all(Array.from({ length: batch }, () => new Promise<void>((resolve) => {
        const socket = net.connect(server.port, '127.0.0.1');
        const opened = Date.now();
        socket.once('connect', () => {
          sockets.add(socket);
          socket.write('GET / HTTP/1.1\r\nHost: app.test\r\n');
          resolve();
        });
        socket.on('error', () => {});
        socket.once('close', () => {
          if (sockets.delete(socket)) closedAfter.push((Date.now() - opened) / 1000);
          else {
            refused++;
            resolve();
          }
        });
        socket.resume();
      })));
    }
    const opened = sockets.size + closedAfter.length;
    let line = 0;
    drip = setInterval(() => {
      line++;
      for (const socket of sockets) socket.write(`X-Slow-${line}: still sending\r\n`);
    }, options.dripMs);
    const until = started + options.seconds * 1000;
    const [during, fresh] = await Promise.all([
      placement.loadgen.run(server.port, ['app.test'], 1, Math.max(0.5, (until - Date.now()) / 1000)),
      freshProbes(server.port, 'app.test', until),
    ]);
    return {
      opened,
      refused,
      closedByServer: closedAfter.length,
      medianCloseS: median(closedAfter),
      seconds: (Date.now() - started) / 1000,
      quiet: { p50: quiet.p50, p99: quiet.p99, max: quiet.max },
      during: { p50: during.p50, p99: during.p99, max: during.max, requests: during.requests, failures: during.non2xx + during.errors },
      fresh,
    };
  } finally {
    clearInterval(drip);
    for (const socket of sockets) socket.destroy();
    await server.stop();
    t.remove();
  }
}
