import { OK, PROBLEMS } from '../command.js';
import { describeCut } from './http-server.js';
import { announceHttps, createListeners, httpsOf, logCertificateWarnings } from './listeners.js';
import {
  RELOAD_FAILED, announceListening, closeApplication, describeReload, describeReloadError, loggerOf, startApplication,
} from './lifecycle.js';
import { removePidfile } from './pidfile.js';
import type { ServeOptions } from './options.js';
import { internalsOf } from '../../internal.js';
import { watchTree, type Watcher } from './watch.js';
import { systemdNotifier } from './notify.js';
import { acmeOrdering } from './acme.js';
import { urlOf } from './options.js';
import type http from 'node:http';
import { applicationSource, reloadOutcome } from '../../admin/app-source.js';
import type { ReloadOutcome } from '../../admin/handler.js';
import { ConfigError } from '../../errors.js';
import { adminHandler } from '../../admin/handler.js';
import { adminAddressProblem } from '../../config/admin-conf.js';
import { describeAdmin, listenAdmin } from './admin-server.js';

/** `serve --workers 1`: one process, no cluster; signals are handled here. */
export async function serveInProcess(options: ServeOptions): Promise<number> {
  const app = startApplication(options.configDir);
  if (app === undefined) return PROBLEMS;
  const log = () => loggerOf(app);
  const served = createListeners(app, httpsOf(app, options.https));
  let watcher: Watcher | undefined;

  const notify = systemdNotifier(log);
  const acme = acmeOrdering(app, log, () => void reload());
  // SIGHUP, --watch and POST /reload all reload this one way.
  const reload = async (): Promise<ReloadOutcome> => {
    notify.reloading();
    const outcome = await reloadOutcome(app);
    if (outcome.ok) {
      log().info(`configuration reloaded: ${describeReload(outcome.result)}`);
      logCertificateWarnings(app);
      notify.ready(`serving; reloaded: ${describeReload(outcome.result)}`);
      acme.update();
    } else {
      const why = outcome.problems.length > 0 ? describeReloadError(new ConfigError(outcome.problems)) : outcome.error;
      log().error(`${RELOAD_FAILED}: ${why}`);
      notify.ready(`serving; reload refused: ${why}`);
    }
    return outcome;
  };

  let admin: http.Server | undefined;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) {
        log().warn(`${signal} again: cutting off what is still in flight`);
        served.cutNow();
        return;
      }
      stopping = true;
      notify.stopping();
      acme.stop();
      watcher?.close();
      admin?.close();
      admin?.closeAllConnections();
      log().info(`${signal}: stopping; in-flight requests have ${options.drainMs / 1000} s to finish`);
      // The sites close once the requests are done, so that they can end their WebSockets within the drain.
      const cut = describeCut(await served.drain(options.drainMs, () => closeApplication(app)));
      if (cut !== undefined) log().warn(cut);
      log().info('stopped');
      if (options.pidfile !== undefined) removePidfile(options.pidfile);
      resolve(cut === undefined ? OK : PROBLEMS);
    };
    const fail = async (message: string) => {
      stopping = true;
      log().error(message);
      await closeApplication(app);
      if (options.pidfile !== undefined) removePidfile(options.pidfile);
      resolve(PROBLEMS);
    };

    // Installed before the first await: SIGHUP's default action would end the process.
    // The tree may have moved (a swapped --config): the watch follows what the reload read.
    process.on('SIGHUP', () => void (stopping || reload().then(() => watcher?.rearm())));
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));

    served.listen(options.port, options.host).then(
      (address) => {
        if (stopping) return;
        // Armed before "listening" is said: a change made by whoever waits for that line is seen.
        if (options.watch) watcher = watchTree(options.configDir, () => internalsOf(app)!.tree, () => reload().then(() => {}));
        announceHttps(app, served);
        const problem = announceListening(app, options, address, 'in-process');
        if (problem !== undefined) {
          watcher?.close();
          void fail(problem);
          return;
        }
        notify.ready(`serving ${app.sites.length} sites on ${urlOf(address)} in-process`);
        acme.update();
        const internals = internalsOf(app)!;
        const adminAt = options.admin ?? internals.tree.server.admin.listen;
        if (adminAt === undefined) return;
        const token = () => internals.tree.server.admin.token;
        const unsafe = adminAddressProblem(adminAt, token());
        const handler = adminHandler(applicationSource(app, internals, () => void (stopping || stop('POST /stop')), () => !stopping, () => reload().then((outcome) => {
          // As after SIGHUP: the watch follows the tree this reload read.
          watcher?.rearm();
          return outcome;
        })), { token });
        (unsafe === undefined ? listenAdmin(adminAt, handler) : Promise.reject(new Error(unsafe))).then(
          (started) => {
            if (stopping) return void started.close();
            admin = started;
            log().info(`admin listening on ${describeAdmin(adminAt, started)}`);
          },
          (error: Error) => void (stopping || fail(`cannot start the admin listener: ${error.message}`)),
        );
      },
      (error: Error) => void (stopping || fail(`cannot listen on ${options.host} port ${options.port}: ${error.message}`)),
    );
  });
}
