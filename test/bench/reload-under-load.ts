// Requests lost across reloads: `hostmux serve --workers 2` under autocannon
// load while a site's file and code change and SIGHUP arrives N times (the
// soak's first phase, on its own).
//   npm run build && node --import tsx test/bench/reload-under-load.ts [reloads] [interval-ms] [sites]
import { startLoadGenerator, stopAll } from './processes.ts';
import { runReloads } from './soak-phases.ts';

const reloads = Number(process.argv[2] ?? 50);
const intervalMs = Number(process.argv[3] ?? 100);
const sites = Number(process.argv[4] ?? 1);
process.once('exit', stopAll);

const loadgen = await startLoadGenerator();
try {
  const r = await runReloads({ reloads, intervalMs, sites, connections: 16 }, { server: {}, loadgen });
  console.log(`| reloads (SIGHUP, changed site file and code) | reported | requests | non-2xx | errors and timeouts |`);
  console.log('| --- | --- | --- | --- | --- |');
  console.log(`| ${r.reloads} in ${r.seconds.toFixed(1)} s | ${r.reported} | ${r.requests} | ${r.non2xx} | ${r.errors} |`);
} finally {
  await loadgen.stop();
}
