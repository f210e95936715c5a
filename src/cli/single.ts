import { OK, PROBLEMS } from './command.js';
import { createServer } from './http-server.js';
import {
  RELOAD_FAILED, closeApplication, describeReload, describeReloadError, loggerOf, startApplication,
} from './lifecycle.js';
import { plural } from './output.js';
import { removePidfile, writePidfile } from './pidfile.js';
import { urlOf, type ServeOptions } from './serve-options.js';
import { watchTree, type Watcher } from './watch.js';

/** `serve --workers 1`: one process, no cluster; signals are handled here. */
export async function serveInProcess(options: ServeOptions): Promise<number> {
  const app = startApplication(options.configDir);
  if (app === undefined) return PROBLEMS;
  const log = () => loggerOf(app);
  const served = createServer(app);
  let watcher: Watcher | undefined;

  const reload = async () => {
    try {
      log().info(`configuration reloaded: ${describeReload(await app.reload())}`);
    } catch (error) {
      log().error(`${RELOAD_FAILED}: ${describeReloadError(error)}`);
    }
  };

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: NodeJS.Signals) => {
      if (stopping) {
        log().warn(`${signal} again: cutting off what is still in flight`);
        served.cutNow();
        return;
      }
      stopping = true;
      watcher?.close();
      log().info(`${signal}: stopping; in-flight requests have ${options.drainMs / 1000} s to finish`);
      const cut = await served.drain(options.drainMs);
      if (cut > 0) log().warn(`cut off ${plural(cut, 'request')} still in flight`);
      log().info('stopped');
      await closeApplication(app);
      if (options.pidfile !== undefined) removePidfile(options.pidfile);
      resolve(cut > 0 ? PROBLEMS : OK);
    };
    const fail = async (message: string) => {
      stopping = true;
      log().error(message);
      await closeApplication(app);
      if (options.pidfile !== undefined) removePidfile(options.pidfile);
      resolve(PROBLEMS);
    };

    // Installed before the first await: SIGHUP's default action would end the process.
    process.on('SIGHUP', () => void (stopping || reload()));
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));

    served.listen(options.port, options.host).then(
      (address) => {
        if (stopping) return;
        if (options.pidfile !== undefined) {
          try {
            writePidfile(options.pidfile);
          } catch (error) {
            void fail(`cannot write the pid file: ${(error as Error).message}`);
            return;
          }
        }
        log().info(`listening on ${urlOf(address)} (pid ${process.pid}, in-process, ${plural(app.sites.length, 'site')})`);
        if (options.watch) watcher = watchTree(options.configDir, reload);
      },
      (error: Error) => void fail(`cannot listen on ${options.host} port ${options.port}: ${error.message}`),
    );
  });
}
