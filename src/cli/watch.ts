import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import picomatch from 'picomatch';
import { SERVER_FILE } from '../config/server-conf.js';
import type { ConfigTree } from '../config/tree.js';
import { AVAILABLE } from './site-dirs.js';

/** Changes closer together than this are one reload: an editor or `enable a b c` makes several. */
export const DEBOUNCE_MS = 300;

/** Directories to watch: each wholly (null) or for some names in it. */
type Targets = Map<string, Set<string> | null>;

/**
 * What a reload would read: hostmux.conf, logging.ini, the directories the
 * `sites` globs list, sites-available, and each enabled site file and
 * handler module (at its real path). Directories are watched rather than
 * files, because editors save by writing a new file and renaming it.
 */
function targetsOf(configDir: string, tree: ConfigTree): Targets {
  const targets: Targets = new Map();
  const file = (path: string) => {
    const names = targets.get(dirname(path));
    if (names === undefined) targets.set(dirname(path), new Set([basename(path)]));
    else names?.add(basename(path));
  };
  const directory = (path: string) => {
    targets.set(path, null);
    file(path); // its creation or removal, seen from its parent
  };
  file(join(configDir, SERVER_FILE));
  if (tree.server.logging !== undefined) file(resolve(configDir, tree.server.logging));
  for (const glob of tree.server.sites) {
    const scan = picomatch.scan(glob);
    if (scan.isGlob) directory(resolve(configDir, scan.base));
    else file(resolve(configDir, glob));
  }
  directory(join(configDir, AVAILABLE));
  for (const site of tree.sites) {
    file(site.realPath);
    if (site.kind === 'module') file(site.handler);
  }
  return targets;
}

export interface Watcher {
  close(): void;
}

/**
 * Calls `onChange` (a reload) when anything a reload reads changes, once
 * changes have paused for DEBOUNCE_MS; one at a time. The watched set is
 * worked out again after each reload, as enabling a site adds its files.
 */
export function watchTree(configDir: string, treeOf: () => ConfigTree, onChange: () => Promise<void>): Watcher {
  let watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;
  let closed = false;

  const unwatch = () => {
    for (const watcher of watchers) watcher.close();
    watchers = [];
  };
  const arm = () => {
    unwatch();
    for (const [dir, names] of targetsOf(configDir, treeOf())) {
      try {
        const watcher = watch(dir, (_event, name) => {
          if (names === null || name === null || names.has(name)) schedule();
        });
        // A watched directory that goes away: its parent's watch sees that, and re-arms.
        watcher.on('error', () => watcher.close());
        watchers.push(watcher);
      } catch {
        // Does not exist (yet): its parent is watched for its name.
      }
    }
  };
  const fire = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await onChange();
    } finally {
      running = false;
    }
    if (closed) return;
    arm();
    if (again) {
      again = false;
      schedule();
    }
  };
  function schedule() {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void fire(), DEBOUNCE_MS);
  }

  arm();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      unwatch();
    },
  };
}
