// match() per call, load time and idle RSS of a generated tree, measured by
// match.mjs in a fresh process.
import { fixed, mib, table } from './report.ts';
import { MATCH_SCRIPT, nextMessage, spawnNode, stopChild, type SpawnOptions } from './processes.ts';
import { benchSites, writeTree } from './sites.ts';

export interface MicroResult {
  readonly sites: number;
  readonly loadMs: number;
  readonly rssBeforeLoad: number;
  readonly rssIdle: number;
  readonly rssAfterGc: number;
  /** RSS once V8's memory reducer has given back the heap grown while loading. */
  readonly rssSettled: number;
  readonly settledAfterS: number;
  /** ns per app.match() call, by case. */
  readonly match: Record<string, number>;
}

/** `calls` per timed loop: the default is for real runs, a small number for the smoke test. */
export async function runMicro(siteCount: number, spawnOptions: SpawnOptions, calls = 500_000, settleSeconds = 60): Promise<MicroResult> {
  const tree = writeTree(benchSites(siteCount), 'shared');
  const child = spawnNode(MATCH_SCRIPT, [tree.dir, String(calls), String(settleSeconds)], { ...spawnOptions, nodeArgs: ['--expose-gc'] });
  try {
    return await nextMessage<MicroResult>(child, 'match');
  } finally {
    await stopChild(child);
    tree.remove();
  }
}

export function microTables(result: MicroResult): string {
  const sites = result.sites.toLocaleString('en-US');
  const load = table(
    [`${sites}-site tree`, 'result'],
    [
      ['`createApplication()`: read, validate, compile', `${fixed(result.loadMs)} ms`],
      ['RSS of the process before it (node + hostmux imported)', mib(result.rssBeforeLoad)],
      ['RSS just after it, no site module imported yet', mib(result.rssIdle)],
      ['the same after a forced full GC', mib(result.rssAfterGc)],
      [`idle RSS, once V8's memory reducer ran (${fixed(result.settledAfterS)} s idle)`, mib(result.rssSettled)],
    ],
  );
  const match = table(
    [`\`app.match()\` at ${sites} sites`, 'ns per call'],
    Object.entries(result.match).map(([label, ns]) => [label, fixed(ns)]),
  );
  return `${load}\n\n${match}`;
}
