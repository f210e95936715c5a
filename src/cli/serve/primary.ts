import { OK, PROBLEMS } from '../command.js';
import {
  RELOAD_FAILED, announceListening, closeApplication, describeReload, describeReloadError, loggerOf, startApplication,
} from './lifecycle.js';
import { plural } from '../output.js';
import { removePidfile } from './pidfile.js';
import { WorkerPool, type ReloadReply } from './pool.js';
import type { ServeOptions } from './options.js';
import { internalsOf } from '../../internal.js';
import { watchTree, type Watcher } from './watch.js';

/** One log line per distinct outcome of a reload, not one per worker. */
function reportReload(replies: readonly ReloadReply[], log: ReturnType<typeof loggerOf>): void {
  const done = replies.filter((reply) => reply.result !== undefined);
  const failures = new Map<string, number[]>();
  for (const reply of replies) {
    if (reply.error !== undefined) failures.set(reply.error, [...(failures.get(reply.error) ?? []), reply.pid]);
  }
  if (replies.length === 0) log.info('configuration reloaded; no worker is running to take it yet');
  if (done.length > 0) {
    log.info(`configuration reloaded in ${done.length} of ${plural(replies.length, 'worker')}: ${describeReload(done[0]!.result!)}`);
  }
  for (const [error, pids] of failures) {
    log.error(`${RELOAD_FAILED} in ${pids.length} of ${plural(replies.length, 'worker')} (pid ${pids.join(', ')}): ${error}`);
  }
}

/**
 * `serve --workers N`, N > 1: the cluster primary. It keeps an application
 * of its own that never serves (modules load lazily, so it imports
 * nothing): it checks the tree at start and before each reload, and gives
 * the primary hostmux's configured logger.
 */
export async function serveWithWorkers(options: ServeOptions): Promise<number> {
  const app = startApplication(options.configDir);
  if (app === undefined) return PROBLEMS;
  const log = () => loggerOf(app);
  const pool = new WorkerPool(options, log);
  let watcher: Watcher | undefined;
  let stopping = false;
  let reloading = Promise.resolve();

  const reloadNow = async () => {
    if (stopping) return;
    try {
      // A bad tree is reported once, here.
      await app.reload();
    } catch (error) {
      log().error(`${RELOAD_FAILED}: ${describeReloadError(error)}`);
      // The workers still reload, and fail quietly like the check did: a
      // refused reload reopens their log files, which logrotate's SIGHUP needs.
      await pool.reload();
      return;
    }
    reportReload(await pool.reload(), log());
  };
  // One reload at a time, so that workers' answers are not mixed up.
  const reload = () => (reloading = reloading.then(reloadNow));

  return new Promise<number>((resolve) => {
    const finish = async (code: number, message: string) => {
      watcher?.close();
      log().info(message);
      await closeApplication(app);
      if (options.pidfile !== undefined) removePidfile(options.pidfile);
      resolve(code);
    };
    const stop = async (signal: NodeJS.Signals) => {
      if (stopping) {
        log().warn(`${signal} again: cutting off what is still in flight`);
        pool.cut();
        return;
      }
      stopping = true;
      log().info(`${signal}: stopping ${plural(pool.size, 'worker')}; in-flight requests have ${options.drainMs / 1000} s to finish`);
      const clean = await pool.stop();
      await finish(clean ? OK : PROBLEMS, clean ? 'stopped' : 'stopped; the drain bound cut requests off');
    };

    // Installed before the first await: SIGHUP's default action would end the process.
    // The tree may have moved (a swapped --config): the watch follows what the reload read.
    process.on('SIGHUP', () => void reload().then(() => watcher?.rearm()));
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));

    const fail = async (message: string) => {
      stopping = true;
      log().error(message);
      await pool.stop();
      await finish(PROBLEMS, 'stopped');
    };
    pool.start().then(
      (address) => {
        if (stopping) return;
        // Armed before "listening" is said: a change made by whoever waits for that line is seen.
        if (options.watch) watcher = watchTree(options.configDir, () => internalsOf(app)!.tree, reload);
        const problem = announceListening(app, options, address, plural(options.workers, 'worker'));
        if (problem !== undefined) {
          watcher?.close();
          void fail(problem);
          return;
        }
      },
      (error: Error) => void (stopping || fail(error.message)),
    );
  });
}
