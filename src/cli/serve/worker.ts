import { createApplication, type Application } from '../../application.js';
import { createServer, describeCut } from './http-server.js';
import { closeApplication, describeReloadError, loggerOf } from './lifecycle.js';
import { isToWorker, type FromWorker } from './messages.js';
import type { ServeOptions } from './options.js';

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

/** Tells the primary why this worker cannot serve, then exits. */
async function fail(message: string): Promise<never> {
  await send({ hostmux: 'failed', message });
  process.exit(1);
}

/**
 * A cluster worker of `serve`: its own application and server on the
 * shared port. The primary tells it to reload, stop or cut; the exit code
 * says whether the drain bound cut requests off.
 */
export async function serveAsWorker(options: ServeOptions): Promise<never> {
  // The primary handles these: Ctrl-C reaches the whole process group, and
  // SIGHUP's default action would end the worker.
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  let app: Application;
  try {
    app = createApplication(options.configDir);
  } catch (error) {
    return fail(describeReloadError(error));
  }
  const served = createServer(app);

  let listening: Promise<unknown> | undefined;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await listening;
    // The sites close once the requests are done, so that they can end their WebSockets within the drain.
    const cut = describeCut(await served.drain(options.drainMs, () => closeApplication(app)));
    if (cut !== undefined) loggerOf(app).warn(`worker ${process.pid}: ${cut}`);
    process.exit(cut === undefined ? 0 : 1);
  };
  // A worker sent SIGTERM on its own stops gracefully; the primary replaces it.
  process.on('SIGTERM', () => void stop());
  process.on('message', (message: unknown) => {
    if (!isToWorker(message)) return;
    if (message.hostmux === 'stop') void stop();
    else if (message.hostmux === 'cut') served.cutNow();
    else if (message.hostmux === 'reload' && !stopping) {
      const id = message.id;
      app.reload().then(
        (result) => send({ hostmux: 'reloaded', id, result }),
        (error: unknown) => send({ hostmux: 'reload-failed', id, message: describeReloadError(error) }),
      );
    }
  });
  // A message sent before this listener existed would be lost: the primary holds its messages until this one.
  void send({ hostmux: 'ready' });
  listening = served.listen(options.port, options.host).then(
    () => true,
    (error: Error) => fail(`cannot listen on ${options.host} port ${options.port}: ${error.message}`),
  );
  return new Promise<never>(() => {});
}
