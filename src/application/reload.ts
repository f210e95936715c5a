import { runAsync } from '../config/steps.js';
import type { ConfigTree, TreeSite } from '../config/tree.js';
import type { ConfigProblem } from '../errors.js';
import type { Logging } from '../logging/index.js';
import { mapLimited } from '../map-limited.js';
import { keepsSite } from '../sites/index.js';
import { build, FILE_CONCURRENCY, read, trustOf } from './build.js';
import { drain } from './dispatch.js';
import type { Entry, State } from './state.js';
import type { ApplicationOptions, ReloadResult } from './types.js';

/** Whether a reload may keep `entry` for the site read from `file`: same file, same text, and what its kind says. */
async function keeps(entry: Entry | undefined, file: TreeSite, trustChanged: boolean): Promise<boolean> {
  if (entry === undefined || entry.site.file !== file.file || entry.sourceDigest !== file.sourceDigest) return false;
  return keepsSite(entry.site, file, { trustProxyChanged: trustChanged });
}

/** What a reload made: the new configuration, what changed, and what to retire. */
export interface Swapped {
  readonly state: State;
  readonly result: ReloadResult;
  /** Entries of the old configuration no longer used: each is closed after its last request. */
  readonly retired: readonly Entry[];
  /** The old logging, when the new configuration has its own; closed after the retired sites. */
  readonly retiredLogging: Logging | undefined;
}

/**
 * Re-reads the tree and builds the configuration that replaces `old`:
 * sites whose file (and kind's own check) are unchanged keep their entry.
 * `onTree` gets the tree read, taken or refused. Rejects with ConfigError,
 * leaving `old` as it was (its log files reopened).
 */
export async function nextState(
  dir: string,
  options: ApplicationOptions,
  old: State,
  onTree: (tree: ConfigTree) => void,
): Promise<Swapped> {
  const problems: ConfigProblem[] = [];
  const next = await runAsync(read(dir, options, problems));
  onTree(next.tree);
  const sameLogging = next.logging.fingerprint === old.logging.fingerprint;
  const byName = new Map(old.entries.map((entry) => [entry.site.name, entry]));
  // Decided before building, since comparing a handler file reads it.
  const kept = new Set<Entry>();
  const trustChanged = trustOf(options, next.tree) !== old.trustProxy;
  if (sameLogging && problems.length === 0) {
    await mapLimited(next.tree.sites, FILE_CONCURRENCY, async (file) => {
      const entry = byName.get(file.name);
      if (await keeps(entry, file, trustChanged)) kept.add(entry!);
    });
  }
  // Kept sites log through the old logging, so it stays when unchanged.
  const logging = sameLogging ? old.logging : next.logging;
  const keptFor = (file: TreeSite) => {
    const entry = byName.get(file.name);
    return entry !== undefined && kept.has(entry) ? entry : undefined;
  };
  let state: State = old;
  try {
    state = await runAsync(build(dir, next.tree, logging, options, problems, keptFor, true, old.metrics, (name) => !byName.has(name)));
  } finally {
    if (state === old || sameLogging) {
      void next.logging.close();
      // SIGHUP reopens the log files (logrotate) even when the new tree is refused.
      old.logging.reopen();
    }
  }
  const names = new Set(state.entries.map((entry) => entry.site.name));
  const result: ReloadResult = {
    added: state.entries.filter((e) => !byName.has(e.site.name)).map((e) => e.site.name),
    removed: old.entries.filter((e) => !names.has(e.site.name)).map((e) => e.site.name),
    reloaded: state.entries.filter((e) => byName.has(e.site.name) && !kept.has(e)).map((e) => e.site.name),
    kept: state.entries.filter((e) => kept.has(e)).map((e) => e.site.name),
  };
  const retired = old.entries.filter((entry) => !kept.has(entry));
  return { state, result, retired, retiredLogging: sameLogging ? undefined : old.logging };
}

/** Closes a retired configuration's sites once each has no request in flight, then its logging. */
export async function retire(entries: readonly Entry[], logging: Logging | undefined): Promise<void> {
  await Promise.all(entries.map(async (entry) => {
    await drain(entry);
    await entry.site.close();
  }));
  await logging?.close();
}
