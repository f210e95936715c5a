import { lstatSync, readlinkSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { basename, dirname, join, parse, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import { SERVER_FILE } from '../../config/server-conf.js';
import type { ConfigTree } from '../../config/tree.js';
import { watchedPaths } from '../../sites/index.js';
import { AVAILABLE } from '../site-dirs.js';

/** Changes closer together than this are one reload: an editor or `enable a b c` makes several. */
export const DEBOUNCE_MS = 300;

/** Directories to watch: each wholly (null) or for some names in it. */
type Targets = Map<string, Set<string> | null>;

/** How many symlinks the way to one watched path may go through, as the kernel's own limit. */
const MAX_LINKS = 40;

/**
 * Adds every step of the way to `path`: each directory on the way, for the
 * name of the next step; a symlink on the way is followed, and the steps to
 * its target added too. So a swap anywhere along the way is seen, wherever
 * the path led before: `mv etc.new etc`, `rm -rf` and a restore, an
 * `ln -sfn` or `mv -T` of a symlinked --config, Kubernetes' rename of
 * `..data` in a ConfigMap volume.
 */
function addWay(path: string, add: (dir: string, name: string) => void, lstat: (path: string) => Stats | undefined, links = { left: MAX_LINKS }): void {
  const { root } = parse(path);
  const names = path.slice(root.length).split(sep).filter((name) => name !== '');
  let dir = root;
  for (const [i, name] of names.entries()) {
    add(dir, name);
    const here = join(dir, name);
    const stats = lstat(here);
    // Not there (yet): the watch of its directory sees it come.
    if (stats === undefined) return;
    if (stats.isSymbolicLink()) {
      if (links.left-- === 0) return;
      let target: string;
      try {
        target = readlinkSync(here);
      } catch {
        return;
      }
      addWay(join(resolve(dir, target), ...names.slice(i + 1)), add, lstat, links);
      return;
    }
    dir = here;
  }
}

/**
 * What a reload would read: hostmux.conf, logging.ini, the directories the
 * `sites` globs list, sites-available, and each enabled site file and
 * handler module (at its real path). Directories are watched rather than
 * files, because editors save by writing a new file and renaming it. The
 * way to each of those from the root is watched too (see addWay), the
 * config dir's included: `--config` is followed as a path, not as the
 * directory it first led to.
 */
function targetsOf(configDir: string, tree: ConfigTree): Targets {
  const targets: Targets = new Map();
  const add = (dir: string, name: string) => {
    const names = targets.get(dir);
    if (names === undefined) targets.set(dir, new Set([name]));
    else names?.add(name);
  };
  const file = (path: string) => add(dirname(path), basename(path));
  const seen = new Map<string, Stats | undefined>();
  const lstat = (path: string) => {
    if (!seen.has(path)) {
      try {
        seen.set(path, lstatSync(path));
      } catch {
        seen.set(path, undefined);
      }
    }
    return seen.get(path);
  };
  const way = (path: string) => addWay(path, add, lstat);
  const directory = (path: string) => {
    targets.set(path, null);
    way(path); // its creation, removal or replacement, seen from its parent
  };
  way(join(configDir, SERVER_FILE));
  if (tree.server.logging !== undefined) way(resolve(configDir, tree.server.logging));
  for (const glob of tree.server.sites) {
    const scan = picomatch.scan(glob);
    if (scan.isGlob) directory(resolve(configDir, scan.base));
    else way(resolve(configDir, glob));
  }
  directory(join(configDir, AVAILABLE));
  for (const site of tree.sites) {
    file(site.realPath);
    for (const path of watchedPaths(site)) file(path);
  }
  return targets;
}

export interface Watcher {
  /** Watches what the tree as now read names: after a reload the watcher did not start (SIGHUP). */
  rearm(): void;
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
    rearm() {
      if (!closed) arm();
    },
    close() {
      closed = true;
      clearTimeout(timer);
      unwatch();
    },
  };
}
