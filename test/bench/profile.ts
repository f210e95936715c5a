// Where a server's CPU time goes per request: profiles server kinds under
// the bench's load (the V8 sampling profiler, as `--cpu-prof` uses, started
// through the inspector) and summarises the profiles.
//
//   node --import tsx test/bench/profile.ts [--kinds bare,hostmux] [--sites 10000]
//        [--duration 5] [--keep DIR]
//
// Each server is profiled through the inspector for just the measured run
// (after a warm-up). Prints busy CPU per request, self time per function
// side by side with the first kind (the differences are what routing
// costs), and the inclusive time of hostmux's own functions. --keep DIR
// writes the .cpuprofile files there (for Chrome DevTools).
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fixed, table } from './report.ts';
import { startLoadGenerator, startServer, stopAll, tasksetAvailable, type LoadGenerator, type ServerKind } from './processes.ts';
import { benchSites, describeHosts, requestHosts, writeTree } from './sites.ts';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** `dispatch dist/application.js:290`: repo files by path, the rest by base name. */
function frameName(frame: CallFrame): string {
  let file = frame.url;
  if (file.startsWith('file://')) file = fileURLToPath(file);
  file = file.startsWith(ROOT) && !file.includes('node_modules') ? file.slice(ROOT.length) : basename(file);
  return `${frame.functionName || '(anonymous)'}${file === '' ? '' : ` ${file}:${frame.lineNumber + 1}`}`;
}

/** hostmux's own code and the bench site module. */
function ownFile(name: string): boolean {
  return name.includes(' dist/') || name.includes(' site.mjs:');
}

export interface ProfileSummary {
  /** µs per function, by frame name. */
  readonly self: Map<string, number>;
  /** µs per function including what it calls (each sample counted once per function). */
  readonly inclusive: Map<string, number>;
  readonly totalUs: number;
}

export function summarise(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfById = new Map<number, number>();
  let totalUs = 0;
  // Samples under server.mjs's profiler() are the profiler stopping itself, not requests.
  const profilerIds = new Set<number>();
  const mark = (id: number, inside: boolean): void => {
    const node = byId.get(id)!;
    const now = inside || (node.callFrame.functionName === 'profiler' && node.callFrame.url.endsWith('server.mjs'));
    if (now) profilerIds.add(id);
    for (const child of node.children ?? []) mark(child, now);
  };
  mark(profile.nodes[0]!.id, false);
  for (let i = 0; i < profile.samples.length; i++) {
    if (profilerIds.has(profile.samples[i]!)) continue;
    const delta = profile.timeDeltas[i] ?? 0;
    totalUs += delta;
    selfById.set(profile.samples[i]!, (selfById.get(profile.samples[i]!) ?? 0) + delta);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfById) {
    const name = frameName(byId.get(id)!.callFrame);
    self.set(name, (self.get(name) ?? 0) + us);
    // Up the stack, once per distinct function (recursion counts once).
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = frameName(byId.get(at)!.callFrame);
      if (seen.has(frame)) continue;
      seen.add(frame);
      inclusive.set(frame, (inclusive.get(frame) ?? 0) + us);
    }
  }
  return { self, inclusive, totalUs };
}

function perRequest(us: number | undefined, requests: number): string {
  return fixed((us ?? 0) / requests);
}

interface Profiled {
  readonly kind: string;
  readonly requests: number;
  readonly summary: ProfileSummary;
}

async function profileKind(kind: ServerKind, dir: string, hosts: readonly string[], options: { taskset: boolean; seconds: number; connections: number }, loadgen: LoadGenerator, keep: string | undefined): Promise<Profiled> {
  const server = await startServer(kind, dir, { taskset: options.taskset, cpu: 0 });
  try {
    await loadgen.run(server.port, hosts, options.connections, 1);
    await server.profileStart(100);
    const run = await loadgen.run(server.port, hosts, options.connections, options.seconds);
    const profile = (await server.profileStop()) as CpuProfile;
    if (keep !== undefined) writeFileSync(join(keep, `${kind}.cpuprofile`), JSON.stringify(profile));
    return { kind, requests: run.requests, summary: summarise(profile) };
  } finally {
    await server.stop();
  }
}

/** Busy time: everything but idle. */
function busy(summary: ProfileSummary): number {
  return summary.totalUs - (summary.self.get('(idle)') ?? 0);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kinds: { type: 'string', default: 'bare,hostmux' },
      sites: { type: 'string', default: '10000' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '16' },
      top: { type: 'string', default: '25' },
      keep: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('node --import tsx test/bench/profile.ts [--kinds bare,hostmux] [--sites 10000] [--duration 5] [--connections 16] [--top 25] [--keep DIR]');
    return;
  }
  const taskset = tasksetAvailable();
  const sites = benchSites(Number(values.sites));
  const hosts = requestHosts(sites);
  const tree = writeTree(sites, 'shared');
  const loadgen = await startLoadGenerator({ taskset, cpu: 1 });
  const options = { taskset, seconds: Number(values.duration), connections: Number(values.connections) };
  try {
    const runs: Profiled[] = [];
    for (const kind of values.kinds.split(',')) runs.push(await profileKind(kind as ServerKind, tree.dir, hosts, options, loadgen, values.keep));
    console.log(`## CPU profiles at ${sites.length.toLocaleString('en-US')} sites\n`);
    console.log(`${describeHosts(sites, hosts)}; sampled every 100 µs during one ${values.duration} s run after 1 s of warm-up.\n`);
    console.log(table(
      ['server', 'requests', 'busy CPU µs per request (all but idle)'],
      runs.map((run) => [run.kind, run.requests.toLocaleString('en-US'), perRequest(busy(run.summary), run.requests)]),
    ));
    // Self time per function, per request, side by side, biggest differences first.
    const names = new Set(runs.flatMap((run) => [...run.summary.self.keys()]));
    names.delete('(idle)');
    const base = runs[0]!;
    const rows = [...names]
      .map((name) => ({ name, values: runs.map((run) => (run.summary.self.get(name) ?? 0) / run.requests) }))
      .sort((a, b) => {
        // Alone, the biggest first; side by side, the biggest differences first.
        const key = (v: number[]) => (v.length === 1 ? v[0]! : Math.max(...v) - Math.min(...v));
        return key(b.values) - key(a.values);
      })
      .slice(0, Number(values.top));
    console.log('');
    console.log(table(
      ['self time, µs per request', ...runs.map((run) => run.kind), ...runs.slice(1).map((run) => `${run.kind} − ${base.kind}`)],
      rows.map((row) => [`\`${row.name}\``, ...row.values.map((v) => fixed(v)), ...row.values.slice(1).map((v) => fixed(v - row.values[0]!))]),
    ));
    for (const run of runs.slice(1)) {
      // Inclusive time of the functions in hostmux's own files (dist/) and the site module.
      const own = [...run.summary.inclusive]
        .filter(([name]) => ownFile(name))
        .sort((a, b) => b[1] - a[1])
        .slice(0, 20);
      console.log('');
      console.log(table([`inclusive time in ${run.kind}, hostmux and site code`, 'µs per request'], own.map(([name, us]) => [`\`${name}\``, perRequest(us, run.requests)])));
    }
    if (values.keep !== undefined) console.log(`\nProfiles kept in ${values.keep}`);
  } finally {
    await loadgen.stop();
    stopAll();
    tree.remove();
  }
}

await main();
