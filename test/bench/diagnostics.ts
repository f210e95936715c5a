// What hostmux's diagnostics channels cost: the throughput part of
// `npm run bench` at 10,000 sites, hostmux unsubscribed against hostmux with
// a counting subscriber on every channel (and, with --before, against a
// build without channels), bare node:http as the reference, interleaved in
// one-second slices as run.ts does.
//
//   npm run build && node --import tsx test/bench/diagnostics.ts [options]
import { availableParallelism, cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startLoadGenerator, startServer, stopAll, stopAllOnExit, tasksetAvailable, type RunningServer, type SpawnOptions } from './processes.ts';
import { count, fixed, median, ratio } from './report.ts';
import { benchSites, describeHosts, requestHosts, writeTree } from './sites.ts';
import { slice, throughputTable, Totals, type Sample } from './throughput.ts';

const USAGE = `node --import tsx test/bench/diagnostics.ts [options]   (after npm run build)
  --sites N         sites in the tree (default 10000)
  --duration S      measured seconds per server per round, in one-second slices (default 5)
  --warmup S        unmeasured seconds per server per round (default 1)
  --rounds R        interleaved rounds; medians are reported (default 3)
  --connections C   autocannon connections (default 16)
  --before PATH     dist/index.js of a build without diagnostics channels: adds it as a row
  --no-taskset      do not pin processes even when taskset is available`;

const { values } = parseArgs({
  options: {
    sites: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    before: { type: 'string' },
    'no-taskset': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const number = (name: keyof typeof values) => {
  const value = Number(values[name]);
  if (!(value > 0)) {
    console.error(`--${name} must be a positive number\n\n${USAGE}`);
    process.exit(2);
  }
  return value;
};
const siteCount = Math.round(number('sites'));
const seconds = number('duration');
const warmupSeconds = number('warmup');
const rounds = Math.round(number('rounds'));
const connections = Math.round(number('connections'));
const taskset = !values['no-taskset'] && tasksetAvailable();
const serverSide: SpawnOptions = { taskset, cpu: 0 };

/** One row: a server kind with its environment. The first is the reference. */
interface Variant {
  readonly label: string;
  readonly kind: 'bare' | 'hostmux';
  readonly env: Record<string, string>;
}
const BARE = 'bare';
const UNSUBSCRIBED = 'hostmux, channels unsubscribed';
const SUBSCRIBED = 'hostmux, a counting subscriber on every channel';
const BEFORE = 'hostmux before channels (--before)';
const variants: Variant[] = [
  { label: BARE, kind: 'bare', env: {} },
  ...(values.before === undefined ? [] : [{ label: BEFORE, kind: 'hostmux' as const, env: { HOSTMUX_BENCH_DIST: resolve(values.before) } }]),
  { label: UNSUBSCRIBED, kind: 'hostmux', env: {} },
  { label: SUBSCRIBED, kind: 'hostmux', env: { HOSTMUX_BENCH_DIAGNOSTICS: '1' } },
];

const log = (line: string) => process.stderr.write(`${line}\n`);
const out = (text = '') => process.stdout.write(`${text}\n`);
stopAllOnExit();

async function main(): Promise<void> {
  out(`## diagnostics channels at ${siteCount.toLocaleString('en-US')} sites\n`);
  out(`- machine: ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}; load average at start: ${loadavg().map((n) => n.toFixed(2)).join(', ')}`);
  out(`- taskset: ${taskset ? 'servers on CPU 0, load generator on CPU 1' : 'no'}; ${rounds} round(s) of ${seconds} s per server in one-second slices, ${warmupSeconds} s warm-up, ${connections} connections`);
  const sites = benchSites(siteCount);
  const hosts = requestHosts(sites);
  const tree = writeTree(sites, 'shared');
  const samples: Record<string, Sample[]> = Object.fromEntries(variants.map((v) => [v.label, []]));
  const startMs: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.label, []]));
  let published = 0;
  const loadgen = await startLoadGenerator({ taskset, cpu: 1 });
  try {
    const slices = Math.max(1, Math.round(seconds));
    for (let round = 0; round < rounds; round++) {
      const servers: RunningServer[] = [];
      try {
        for (const variant of variants) {
          const server = await startServer(variant.kind, tree.dir, { ...serverSide, env: variant.env });
          servers.push(server);
          startMs[variant.label]!.push(server.startMs);
          await loadgen.run(server.port, hosts, connections, warmupSeconds);
        }
        const totals = servers.map(() => new Totals());
        for (let i = 0; i < slices; i++) {
          for (let k = 0; k < servers.length; k++) {
            const at = (k + i + round) % servers.length;
            await slice(servers[at]!, loadgen, hosts, connections, seconds / slices, totals[at]!, variants[at]!.label);
          }
        }
        for (const [k, server] of servers.entries()) {
          const label = variants[k]!.label;
          const sample = totals[k]!.sample(await loadgen.latency(label));
          samples[label]!.push(sample);
          if (label === SUBSCRIBED) published += (await server.stats()).published ?? 0;
          log(`round ${round + 1} ${label}: ${count(sample.rps)} req/s, p99 ${fixed(sample.p99)} ms, ${fixed(sample.cpuPerRequest)} µs CPU/req`);
        }
      } finally {
        await Promise.all(servers.map((server) => server.stop()));
      }
    }
  } finally {
    await loadgen.stop();
    tree.remove();
  }
  out(`\nRequests: ${describeHosts(sites, hosts)}. In brackets, the median of each round's ratio to bare node:http.\n`);
  out(throughputTable({
    sites: siteCount,
    hosts: describeHosts(sites, hosts),
    startMs: Object.fromEntries(Object.entries(startMs).map(([label, times]) => [label, median(times)])),
    samples: { bare: samples[BARE]!, ...Object.fromEntries(Object.entries(samples).filter(([label]) => label !== BARE)) },
  }));
  // Same-round ratios between two hostmux rows: throughput, and server CPU per request.
  const versus = (a: string, b: string) => {
    const rps = median(samples[a]!.map((s, i) => s.rps / samples[b]![i]!.rps));
    const cpu = median(samples[a]!.map((s, i) => s.cpuPerRequest / samples[b]![i]!.cpuPerRequest));
    return `req/s ${ratio(rps)}, server CPU per request ${ratio(cpu)}`;
  };
  out(`\n- subscribed / unsubscribed: ${versus(SUBSCRIBED, UNSUBSCRIBED)}`);
  if (values.before !== undefined) out(`- unsubscribed / before channels: ${versus(UNSUBSCRIBED, BEFORE)}`);
  out(`- messages the subscribed server's subscriber counted: ${count(published)} (a routed and a finished message per request)`);
  out(`- load average at end: ${loadavg().map((n) => n.toFixed(2)).join(', ')}`);
}

main().catch((err: unknown) => {
  stopAll();
  console.error(err);
  process.exitCode = 1;
});
