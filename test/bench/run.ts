// The benchmark suite: `npm run bench [-- options]`. Not part of `npm test`.
//
// Servers and the load generator (autocannon) run as separate processes on
// 127.0.0.1, pinned to CPU 0 and CPU 1 when taskset is available. Results go
// to stdout as Markdown; progress goes to stderr.
import { cpus, loadavg, availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { memoryTable, runMemory, type MemoryResult } from './memory.ts';
import { microTables, runMicro } from './micro.ts';
import { startLoadGenerator, stopAll, stopAllOnExit, tasksetAvailable } from './processes.ts';
import { runStatic, staticTable } from './static.ts';
import { KINDS, runThroughput, throughputTable, type ThroughputKind } from './throughput.ts';

const USAGE = `npm run bench -- [options]
  --duration S      measured seconds per server per round, in one-second slices taken in turn (default 5)
  --warmup S        seconds of unmeasured load per server per round (default 1)
  --rounds R        interleaved rounds; the report gives medians (default 3)
  --connections C   autocannon connections (default 16)
  --sites LIST      site counts for the throughput part (default 1,100,10000)
  --kinds LIST      server kinds (default bare,hostmux,express,fastify)
  --only LIST       parts to run: throughput, static, match, memory (default all)
  --quick           --duration 1 --warmup 0.5 --rounds 1: a check that it all runs
  --no-taskset      do not pin processes even when taskset is available

CPU profiles of the request path: node --import tsx test/bench/profile.ts --help
Another checkout's build: HOSTMUX_BENCH_DIST=/path/to/dist/index.js`;

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    warmup: { type: 'string' },
    rounds: { type: 'string' },
    connections: { type: 'string', default: '16' },
    sites: { type: 'string', default: '1,100,10000' },
    kinds: { type: 'string', default: KINDS.join(',') },
    only: { type: 'string', default: 'throughput,static,match,memory' },
    quick: { type: 'boolean', default: false },
    'no-taskset': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(value > 0)) {
    console.error(`--${name} must be a positive number\n\n${USAGE}`);
    process.exit(2);
  }
  return value;
}

const quick = values.quick;
const seconds = positive('duration', values.duration, quick ? 1 : 5);
const warmupSeconds = positive('warmup', values.warmup, quick ? 0.5 : 1);
const rounds = Math.round(positive('rounds', values.rounds, quick ? 1 : 3));
const connections = Math.round(positive('connections', values.connections, 16));
const siteCounts = values.sites.split(',').map((n) => Math.round(positive('sites', n, 1)));
const kinds = values.kinds.split(',') as ThroughputKind[];
const parts = new Set(values.only.split(','));
for (const kind of kinds) {
  if (!KINDS.includes(kind)) {
    console.error(`unknown kind "${kind}"\n\n${USAGE}`);
    process.exit(2);
  }
}
if (kinds[0] !== 'bare') kinds.unshift('bare');

const taskset = !values['no-taskset'] && tasksetAvailable();
const server = { taskset, cpu: 0 };
const loadgenSide = { taskset, cpu: 1 };

const log = (line: string) => process.stderr.write(`${line}\n`);
const out = (text = '') => process.stdout.write(`${text}\n`);

stopAllOnExit();

async function main(): Promise<void> {
  const started = Date.now();
  const load = loadavg().map((n) => n.toFixed(2)).join(', ');
  out('## hostmux benchmark\n');
  out(`- machine: ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, ${process.platform}`);
  out(`- taskset: ${taskset ? 'yes: servers on CPU 0, load generator (autocannon) on CPU 1' : 'no: processes are not pinned'}`);
  out(`- command: \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\``);
  out(`- runs: ${rounds} round(s); in each, every server is started afresh and warmed up for ${warmupSeconds} s, then the servers take turns in one-second slices until each has been measured for ${seconds} s; ${connections} connections, HTTP/1.1 keep-alive, no pipelining`);
  out(`- load average at start: ${load}`);

  if (parts.has('throughput')) {
    const loadgen = await startLoadGenerator(loadgenSide);
    try {
      for (const sites of siteCounts) {
        const result = await runThroughput(sites, loadgen, { seconds, warmupSeconds, rounds, connections, kinds, server }, log);
        out(`\n### ${sites.toLocaleString('en-US')} site${sites === 1 ? '' : 's'}\n`);
        out(`Requests: ${result.hosts}. Medians of ${rounds} round(s); in brackets, the median of each round's ratio to (a).\n`);
        out(throughputTable(result));
      }
    } finally {
      await loadgen.stop();
    }
  }

  if (parts.has('static')) {
    const loadgen = await startLoadGenerator(loadgenSide);
    try {
      const sites = 10_000;
      const result = await runStatic(loadgen, { sites, seconds, warmupSeconds, rounds, connections, server }, log);
      out(`\n### A 1 KiB file through a static site at ${sites.toLocaleString('en-US')} sites\n`);
      out(`GET /file.txt spread over 50 hosts; the same \`send\` options in (a), (b) and (c). Medians of ${rounds} round(s); in brackets, the median of each round's ratio to (a).` +
        (result.samples.size > 3 ? '' : ' nginx is not installed: no row for it.') + '\n');
      out(staticTable(result));
    } finally {
      await loadgen.stop();
    }
  }

  if (parts.has('match')) {
    log('match() and load time at 10,000 sites');
    out('\n### Routing table at 10,000 sites\n');
    out(microTables(await runMicro(10_000, server)));
  }

  if (parts.has('memory')) {
    const results: MemoryResult[] = [];
    for (const sites of [3, 10]) {
      log(`memory at ${sites} sites`);
      results.push(await runMemory(sites, server));
    }
    out('\n### Memory: one hostmux process against one node:http process per site\n');
    out('Idle RSS after one request to each site; every site has its own module file.\n');
    out(memoryTable(results));
  }

  out(`\n- load average at end: ${loadavg().map((n) => n.toFixed(2)).join(', ')}; took ${Math.round((Date.now() - started) / 1000)} s`);
}

main().catch((err: unknown) => {
  stopAll();
  console.error(err);
  process.exitCode = 1;
});
