import net, { type AddressInfo } from 'node:net';
import { OK, PROBLEMS } from '../command.js';
import {
  RELOAD_FAILED, announceListening, closeApplication, describeReload, describeReloadError, loggerOf, startApplication,
} from './lifecycle.js';
import { plural } from '../output.js';
import { removePidfile } from './pidfile.js';
import { WorkerPool, type ReloadReply } from './pool.js';
import type { LoadFailure } from './messages.js';
import { urlOf, type ServeOptions } from './options.js';
import { internalsOf } from '../../internal.js';
import type { Logger } from '../../logger.js';
import { announceHttpsOf, logCertificateWarnings } from './listeners.js';
import { watchTree, type Watcher } from './watch.js';
import { startAdmin } from './admin.js';
import { systemdNotifier } from './notify.js';
import { acmeOrdering } from './acme.js';
import type { ReloadOutcome } from '../../admin/handler.js';
import { ConfigError, type ConfigProblem } from '../../errors.js';
import type { ReloadResult } from '../../application.js';
import { reloadRecord, type ReloadRecord } from '../../metrics/stats.js';
import type http from 'node:http';

/** One log line per distinct outcome of an in-place reload, not one per worker. */
function reportReload(replies: readonly ReloadReply[], log: Logger): void {
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

/** Each site that failed to load, once, with why (the file and line of a module that does not parse). */
function reportLoadFailures(failures: readonly LoadFailure[], log: Logger): void {
  for (const failure of failures) log.error(`site ${failure.site} failed to load and answers 503: ${failure.message}`);
}

/** The primary's own listener for --sticky: it accepts, the workers serve. */
function listenSticky(pool: WorkerPool, port: number, host: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ pauseOnConnect: true }, (socket) => pool.dispatch(socket));
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * `serve`: the cluster primary. It supervises the workers (even one) and
 * never serves; it keeps an application of its own that loads no site
 * (modules load lazily), to check the tree at start and before each reload
 * and to give the primary hostmux's configured logger.
 */
export async function serveWithWorkers(options: ServeOptions): Promise<number> {
  const app = startApplication(options.configDir);
  if (app === undefined) return PROBLEMS;
  const log = () => loggerOf(app);
  const server = () => internalsOf(app)!.tree.server;
  const sticky = options.sticky || server().sticky;
  const httpsAt = options.https ?? server().https;
  if (httpsAt?.port === 0) {
    // The workers share each port the primary binds for them: port 0 would be a second free port nobody is told of.
    log().error('https port 0 is for --in-process only: with workers, name the port ([server] https, --https)');
    await closeApplication(app);
    return PROBLEMS;
  }
  const pool = new WorkerPool(
    { workers: options.workers, drainMs: options.drainMs, sticky, settings: () => server(), httpsPort: httpsAt?.port },
    log,
  );
  let watcher: Watcher | undefined;
  let listener: net.Server | undefined;
  let admin: http.Server | undefined;
  let stopping = false;

  /** What the pool serves: the primary's own count, since a rolled-back reload leaves the workers on the old tree. */
  const record: { generation: number; ok: number; refused: number; last: ReloadRecord | null } = { generation: 1, ok: 0, refused: 0, last: null };
  const refused = (error: string, problems: ConfigProblem[] = []): ReloadOutcome => {
    record.refused++;
    record.last = reloadRecord({ error });
    return { ok: false, error, problems };
  };
  const notify = systemdNotifier(log);
  const acme = acmeOrdering(app, log, () => void reload());
  const reloadNow = async (): Promise<ReloadOutcome> => {
    if (stopping) return { ok: false, error: 'stopping', problems: [] };
    notify.reloading();
    const outcome = await reloadPool();
    if (!stopping) notify.ready(outcome.ok ? `serving; reloaded: ${describeReload(outcome.result)}` : `serving; reload refused: ${outcome.error}`);
    return outcome;
  };
  const reloadPool = async (): Promise<ReloadOutcome> => {
    let result: ReloadResult;
    try {
      // The tree is checked here first: a refused tree changes nothing and is reported once.
      result = await app.reload();
      logCertificateWarnings(app);
    } catch (error) {
      log().error(`${RELOAD_FAILED}: ${describeReloadError(error)}`);
      // A refused reload still reopens the workers' log files, which logrotate's SIGHUP needs.
      pool.reopenLogs();
      return refused(describeReloadError(error), error instanceof ConfigError ? [...error.problems] : []);
    }
    if (server().reload === 'in-place') {
      const replies = await pool.reloadInPlace();
      reportReload(replies, log());
      const failed = replies.find((reply) => reply.error !== undefined);
      if (failed !== undefined) return refused(`${RELOAD_FAILED} in worker ${failed.pid}: ${failed.error}`);
    } else {
      const rolled = await pool.roll();
      reportLoadFailures(rolled.failures, log());
      if (!rolled.ok) {
        log().error(`reload failed, the previous workers keep serving: ${rolled.reason}`);
        return refused(`the previous workers keep serving: ${rolled.reason}`);
      }
      log().info(`configuration reloaded: ${describeReload(result)}; ${plural(options.workers, 'new worker')} ${options.workers === 1 ? 'serves' : 'serve'} it`);
    }
    record.generation++;
    record.ok++;
    record.last = reloadRecord({ result });
    acme.update();
    return { ok: true, result };
  };
  // One reload at a time, none before the workers first serve; signals that come while one waits to run join it.
  let starting: Promise<unknown> = Promise.resolve();
  let reloading: Promise<unknown> = Promise.resolve();
  let queued: Promise<ReloadOutcome> | undefined;
  const reload = (): Promise<ReloadOutcome> => {
    queued ??= Promise.all([reloading, starting]).then(() => {
      queued = undefined;
      return reloadNow();
    });
    reloading = queued;
    return queued;
  };

  return new Promise<number>((resolve) => {
    const finish = async (code: number, message: string) => {
      watcher?.close();
      listener?.close();
      admin?.close();
      admin?.closeAllConnections();
      log().info(message);
      await closeApplication(app);
      if (options.pidfile !== undefined) removePidfile(options.pidfile);
      resolve(code);
    };
    const stop = async (signal: string) => {
      if (stopping) {
        log().warn(`${signal} again: cutting off what is still in flight`);
        pool.cut();
        return;
      }
      stopping = true;
      notify.stopping();
      acme.stop();
      // No new connection reaches a worker that drains.
      listener?.close();
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
    const started = async () => {
      const { address, failures } = await pool.start();
      if (!sticky) return { address: address!, failures };
      try {
        listener = await listenSticky(pool, options.port, options.host);
      } catch (error) {
        throw new Error(`cannot listen on ${options.host} port ${options.port}: ${(error as Error).message}`);
      }
      return { address: listener.address() as AddressInfo, failures };
    };
    const first = started();
    starting = first.catch(() => {});
    first.then(
      ({ address, failures }) => {
        if (stopping) return;
        reportLoadFailures(failures, log());
        // Armed before "listening" is said: a change made by whoever waits for that line is seen.
        if (options.watch) watcher = watchTree(options.configDir, () => internalsOf(app)!.tree, () => reload().then(() => {}));
        const how = `${plural(options.workers, 'worker')}${sticky ? ', sticky' : ''}`;
        announceHttpsOf(app, options);
        const problem = announceListening(app, options, address, how, failures.length);
        if (problem !== undefined) {
          watcher?.close();
          void fail(problem);
          return;
        }
        notify.ready(`serving ${plural(internalsOf(app)!.tree.sites.length, 'site')} on ${urlOf(address)} with ${how}`);
        acme.update();
        const adminAt = options.admin ?? server().admin.listen;
        if (adminAt === undefined) return;
        startAdmin(adminAt, {
          app,
          pool,
          workers: options.workers,
          record,
          reload: () => reload().then((outcome) => {
            watcher?.rearm();
            return outcome;
          }),
          // A repeated POST /stop (a retry) is not a second signal: it does not cut the drain short.
          stop: () => void (stopping || stop('POST /stop')),
          ready: () => !stopping && pool.serving,
        }, log()).then(
          (started) => {
            if (stopping) started.close();
            else admin = started;
          },
          (error: Error) => void (stopping || fail(`cannot start the admin listener: ${error.message}`)),
        );
      },
      (error: Error) => void (stopping || fail(error.message)),
    );
  });
}
