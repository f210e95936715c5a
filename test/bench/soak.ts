// The soak: `npm run soak [-- options]`. Not part of `npm test` or CI (a
// smoke test runs each phase briefly). A few minutes, each phase bounded,
// everything on 127.0.0.1; servers pinned to CPU 0 and the load generator
// (autocannon) to CPU 1 when taskset is there. Progress on stderr, the
// figures as a Markdown table on stdout.
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startLoadGenerator, stopAll, stopAllOnExit, tasksetAvailable } from './processes.ts';
import { count, fixed, mib, table } from './report.ts';
import { runBigReload, runCrashes, runMemorySoak, runReloads, runSlowloris, type Placement } from './soak-phases.ts';

const PHASES = ['reloads', 'crashes', 'memory', 'big-reload', 'slowloris'] as const;
const USAGE = `npm run soak -- [options]
  --only LIST       phases to run (default all): ${PHASES.join(', ')}
  --no-taskset      do not pin processes even when taskset is available

The slowloris phase holds 3,000 connections: it needs about 3,200 open files
in this process and in the server (ulimit -n 8192 before, if the limit is lower).`;

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: PHASES.join(',') },
    'no-taskset': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const only = new Set(values.only.split(','));
for (const phase of only) {
  if (!(PHASES as readonly string[]).includes(phase)) {
    console.error(`unknown phase "${phase}"\n\n${USAGE}`);
    process.exit(2);
  }
}

const SLOW_CONNECTIONS = 3_000;
if (only.has('slowloris')) {
  // Node cannot read or raise RLIMIT_NOFILE; the shell can read it.
  const limit = Number(spawnSync('sh', ['-c', 'ulimit -Sn'], { encoding: 'utf8' }).stdout.trim());
  if (Number.isFinite(limit) && limit < SLOW_CONNECTIONS + 200) {
    console.error(`the slowloris phase needs more open files than ulimit -n ${limit}: run \`ulimit -n 8192\` first, or --only without slowloris`);
    process.exit(2);
  }
}

const taskset = !values['no-taskset'] && tasksetAvailable();
const log = (line: string) => process.stderr.write(`${line}\n`);
const out = (text = '') => process.stdout.write(`${text}\n`);
stopAllOnExit();

const ms = (value: number) => `${fixed(value)} ms`;
const percent = (value: number) => (Number.isFinite(value) ? `${(value * 100).toFixed(2)}%` : '–');

async function main(): Promise<void> {
  const started = Date.now();
  const loadgen = await startLoadGenerator({ taskset, cpu: 1 });
  const placement: Placement = { server: { taskset, cpu: 0 }, loadgen };
  const rows: string[][] = [];
  try {
    if (only.has('reloads')) {
      log('reloads: 500 SIGHUPs, 100 ms apart, under load (serve --workers 2, 10 sites)');
      const r = await runReloads({ reloads: 500, intervalMs: 100, sites: 10, connections: 16 }, placement);
      rows.push(
        ['SIGHUP reloads under load (`serve --workers 2`, 16 connections over 10 sites, one site\'s file and code edited before each)', `${r.reloads} SIGHUPs in ${fixed(r.seconds)} s, ${r.reported} reloads reported`],
        ['… requests answered / lost (non-2xx, errors and timeouts)', `${count(r.requests)} / ${count(r.non2xx + r.errors)}`],
      );
    }
    if (only.has('crashes')) {
      log('crashes: a site throws in a timer every 2 s for 60 s, 9 healthy sites under load');
      const r = await runCrashes({ seconds: 60, crashEveryMs: 2_000, connections: 16, probeEveryMs: 20 }, placement);
      rows.push(
        ['A site throws in a timer every 2 s (`serve --workers 2`, 60 s)', `${r.crashRequests} crashing requests, ${r.crashes} crashes, ${r.workerExits} workers replaced, quarantined after ${r.quarantinedAfterS === undefined ? 'never' : `${fixed(r.quarantinedAfterS)} s`}`],
        ['… a healthy site, probed every 20 ms (a new connection each): answered, longest outage', `${percent(r.probe.answered / r.probe.sent)} of ${count(r.probe.sent)}, ${ms(r.probe.longestOutageMs)}`],
        ['… the 9 healthy sites under load (autocannon, 16 connections)', `${percent(r.successRate)} of ${count(r.requests + r.errors)} (${count(r.non2xx)} non-2xx, ${count(r.errors)} errors)`],
      );
    }
    if (only.has('memory')) {
      log('memory: 1,000,000 requests over 100 sites (at most 240 s)');
      const r = await runMemorySoak({ sites: 100, requests: 1_000_000, maxSeconds: 240, connections: 16 }, placement);
      rows.push(
        [`Memory over ${count(r.requests)} requests to ${r.sites} sites (${fixed(r.seconds)} s, ${count(r.failures)} failed), after a full GC`, `RSS ${mib(r.rssBefore)} → ${mib(r.rssAfter)}; heap ${mib(r.heapBefore)} → ${mib(r.heapAfter)}`],
      );
    }
    if (only.has('big-reload')) {
      log('big-reload: app.reload() of a 10,000-site tree under load, 5 times');
      const r = await runBigReload({ sites: 10_000, reloads: 5, connections: 4 }, placement);
      const sorted = [...r.reloadMs].sort((a, b) => a - b);
      rows.push(
        [`\`app.reload()\` of a ${count(r.sites)}-site tree (one site changed), ${r.reloads} times`, `${ms(sorted[0]!)}–${ms(sorted.at(-1)!)} each`],
        ['… request latency (4 connections) quiet / while reloading: p99, max', `${ms(r.quiet.p99)}, ${ms(r.quiet.max)} / ${ms(r.reloading.p99)}, ${ms(r.reloading.max)} (${count(r.reloading.failures)} failed of ${count(r.reloading.requests)})`],
      );
    }
    if (only.has('slowloris')) {
      log(`slowloris: ${SLOW_CONNECTIONS} connections sending a header line every 5 s, 30 s`);
      const r = await runSlowloris({ connections: SLOW_CONNECTIONS, seconds: 30, dripMs: 5_000 }, placement);
      rows.push(
        [`Slowloris (\`serve --workers 1\`): ${count(SLOW_CONNECTIONS)} connections sending a header line every 5 s, ${fixed(r.seconds)} s`, `${count(r.opened)} opened, ${count(r.refused)} refused; ${count(r.closedByServer)} closed by the server (median after ${fixed(r.medianCloseS)} s)`],
        ['… a normal keep-alive client: p50 / p99 / max, quiet → meanwhile', `${ms(r.quiet.p50)} / ${ms(r.quiet.p99)} / ${ms(r.quiet.max)} → ${ms(r.during.p50)} / ${ms(r.during.p99)} / ${ms(r.during.max)} (${count(r.during.failures)} failed of ${count(r.during.requests)})`],
        ['… a new connection per request, one at a time: answered / failed, slowest', `${count(r.fresh.answered)} / ${count(r.fresh.failed)}, ${ms(r.fresh.max)}`],
      );
    }
  } finally {
    await loadgen.stop();
  }
  out('## hostmux soak\n');
  out(`- machine: ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, ${process.platform}; taskset ${taskset ? 'yes (servers CPU 0, autocannon CPU 1)' : 'no'}`);
  out(`- took ${Math.round((Date.now() - started) / 1000)} s; load average at end ${loadavg().map((n) => n.toFixed(2)).join(', ')}\n`);
  out(table(['measured', 'figure'], rows));
}

main().catch((err: unknown) => {
  stopAll();
  console.error(err);
  process.exitCode = 1;
});
