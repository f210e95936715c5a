// Throughput, latency and server CPU per request of the four server kinds,
// interleaved in one-second slices, repeated in rounds, and reported as
// medians and as ratios to bare node:http measured in the same rounds.
import { count, fixed, median, ratio, table } from './report.ts';
import { startServer, type LoadGenerator, type LoadResult, type RunningServer, type SpawnOptions, type Stats } from './processes.ts';
import { benchSites, describeHosts, requestHosts, writeTree } from './sites.ts';

export const KINDS = ['bare', 'hostmux', 'nometrics', 'limits', 'express', 'fastify'] as const;
export type ThroughputKind = (typeof KINDS)[number];

export const KIND_LABELS: Record<ThroughputKind, string> = {
  bare: '(a) node:http, one handler',
  hostmux: '(b) hostmux',
  nometrics: '(b″) hostmux, metrics = off (what counting costs is (b) against this)',
  limits: '(b′) hostmux, max_concurrent + max_body + timeout on every site',
  express: '(c) Express 5 + vhost',
  fastify: '(d) Fastify 5, catch-all + Map',
};

export interface ThroughputOptions {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly rounds: number;
  readonly connections: number;
  readonly kinds: readonly ThroughputKind[];
  /** Where servers run: pinned to CPU 0 when taskset is used. */
  readonly server: SpawnOptions;
}

/** One measured run of one server. */
export interface Sample {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** Server CPU time per request, in µs. */
  readonly cpuPerRequest: number;
  /** Share of one core each process used during the run. */
  readonly serverLoad: number;
  readonly loadgenLoad: number;
  /** Requests answered other than 2xx, plus connection errors and timeouts. */
  readonly failures: number;
}

export interface ThroughputResult {
  readonly sites: number;
  readonly hosts: string;
  /** Spawn to listening, ms, per kind (median): process start plus loading the sites. */
  readonly startMs: Record<string, number>;
  readonly samples: Record<string, Sample[]>;
}

function cpuMicros(cpu: NodeJS.CpuUsage): number {
  return cpu.user + cpu.system;
}

/** Sums over the slices of one kind in one round. */
export class Totals {
  requests = 0;
  elapsedMs = 0;
  serverCpuUs = 0;
  loadgenCpuMs = 0;
  failures = 0;

  add(run: LoadResult, serverCpuUs: number): void {
    this.requests += run.requests;
    this.elapsedMs += run.elapsedMs;
    this.serverCpuUs += serverCpuUs;
    this.loadgenCpuMs += run.cpuMs;
    this.failures += run.non2xx + run.errors;
  }

  sample(latency: { p50: number; p99: number }): Sample {
    return {
      rps: (this.requests * 1000) / this.elapsedMs,
      p50: latency.p50,
      p99: latency.p99,
      cpuPerRequest: this.serverCpuUs / this.requests,
      serverLoad: this.serverCpuUs / 1000 / this.elapsedMs,
      loadgenLoad: this.loadgenCpuMs / this.elapsedMs,
      failures: this.failures,
    };
  }
}

/**
 * One slice: a run of `seconds`, with the server's CPU time from its own
 * `process.cpuUsage()` around it. Its latencies are kept under `key` (the
 * server's kind unless two servers of one kind are compared).
 */
export async function slice(server: RunningServer, loadgen: LoadGenerator, hosts: readonly string[], connections: number, seconds: number, totals: Totals, key: string = server.kind): Promise<void> {
  const before: Stats = await server.stats();
  const run = await loadgen.run(server.port, hosts, connections, seconds, key);
  const after: Stats = await server.stats();
  totals.add(run, cpuMicros(after.cpu) - cpuMicros(before.cpu));
}

/** One measured run of `seconds` (for the smoke test and one-off scripts). */
export async function measure(server: RunningServer, loadgen: LoadGenerator, hosts: readonly string[], options: Pick<ThroughputOptions, 'connections' | 'seconds'>): Promise<Sample> {
  const totals = new Totals();
  await slice(server, loadgen, hosts, options.connections, options.seconds, totals);
  return totals.sample(await loadgen.latency(server.kind));
}

/**
 * Measures every kind at `siteCount` sites. Each round starts a fresh
 * process of every kind and warms each up; then the kinds take turns in
 * one-second slices until each has had `seconds`, so that a burst of other
 * work on the machine lands on all of them alike. A kind's sample is the sum
 * of its slices; its latency percentiles are over all of its requests.
 */
export async function runThroughput(siteCount: number, loadgen: LoadGenerator, options: ThroughputOptions, log: (line: string) => void): Promise<ThroughputResult> {
  const sites = benchSites(siteCount);
  const hosts = requestHosts(sites);
  const tree = writeTree(sites, 'shared');
  const samples: Record<string, Sample[]> = Object.fromEntries(options.kinds.map((kind) => [kind, []]));
  const startMs: Record<string, number[]> = Object.fromEntries(options.kinds.map((kind) => [kind, []]));
  const slices = Math.max(1, Math.round(options.seconds));
  const sliceSeconds = options.seconds / slices;
  try {
    for (let round = 0; round < options.rounds; round++) {
      // A fresh process per round: how one process's JIT and heap happened
      // to settle counts once, and the median sets it aside.
      const servers: RunningServer[] = [];
      try {
        for (const kind of options.kinds) {
          const server = await startServer(kind, tree.dir, options.server);
          servers.push(server);
          startMs[kind]!.push(server.startMs);
          await loadgen.run(server.port, hosts, options.connections, options.warmupSeconds);
        }
        const totals = servers.map(() => new Totals());
        for (let i = 0; i < slices; i++) {
          // Each slice starts one kind later, so that no kind always follows the same one.
          for (let k = 0; k < servers.length; k++) {
            const at = (k + i + round) % servers.length;
            await slice(servers[at]!, loadgen, hosts, options.connections, sliceSeconds, totals[at]!);
          }
        }
        for (const [k, server] of servers.entries()) {
          const sample = totals[k]!.sample(await loadgen.latency(server.kind));
          samples[server.kind]!.push(sample);
          log(`N=${siteCount} round ${round + 1} ${server.kind}: ${count(sample.rps)} req/s, ` +
            `p99 ${fixed(sample.p99)} ms, ${fixed(sample.cpuPerRequest)} µs CPU/req`);
        }
      } finally {
        await Promise.all(servers.map((server) => server.stop()));
      }
    }
    return {
      sites: siteCount,
      hosts: describeHosts(sites, hosts),
      startMs: Object.fromEntries(Object.entries(startMs).map(([kind, times]) => [kind, median(times)])),
      samples,
    };
  } finally {
    tree.remove();
  }
}

/** The median over rounds of `value(kind's sample) / value(bare's sample)` of the same round. */
function medianRatio(result: ThroughputResult, kind: string, value: (sample: Sample) => number): number {
  const base = result.samples.bare;
  const own = result.samples[kind];
  if (base === undefined || own === undefined) return NaN;
  return median(own.map((sample, i) => value(sample) / value(base[i]!)));
}

/** A core counts as busy from 90% of it. */
const BUSY = 0.9;

export function throughputTable(result: ThroughputResult): string {
  const rows = Object.entries(result.samples).map(([kind, samples]) => {
    const med = (value: (sample: Sample) => number) => median(samples.map(value));
    const versus = (value: (sample: Sample) => number) => (kind === 'bare' ? '' : ` (${ratio(medianRatio(result, kind, value))})`);
    const failures = samples.reduce((sum, sample) => sum + sample.failures, 0);
    const loadgenLoad = med((s) => s.loadgenLoad);
    const serverLoad = med((s) => s.serverLoad);
    return [
      KIND_LABELS[kind as ThroughputKind] ?? kind,
      count(med((s) => s.rps)) + versus((s) => s.rps),
      fixed(med((s) => s.p50)) + versus((s) => s.p50),
      fixed(med((s) => s.p99)) + versus((s) => s.p99),
      fixed(med((s) => s.cpuPerRequest)) + versus((s) => s.cpuPerRequest),
      `${Math.round(serverLoad * 100)}% / ${Math.round(loadgenLoad * 100)}%${loadgenLoad >= BUSY ? ' (load generator saturated)' : ''}`,
      failures === 0 ? '0' : `**${count(failures)}**`,
      count(result.startMs[kind] ?? NaN),
    ];
  });
  return table(
    ['server', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'CPU: server / load gen', 'non-2xx + errors', 'start ms'],
    rows,
  );
}
