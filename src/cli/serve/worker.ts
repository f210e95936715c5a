import type { Socket } from 'node:net';
import { createApplication, type Application } from '../../application.js';
import { siteContext } from '../../attribution.js';
import { describeError, loggableError } from '../../describe-error.js';
import { internalsOf, type ApplicationInternals } from '../../internal.js';
import { createRegistry } from '../../metrics/prometheus.js';
import { describeCut } from './http-server.js';
import { createListeners, httpsOf } from './listeners.js';
import { closeApplication, describeReloadError, loggerOf } from './lifecycle.js';
import { isToWorker, type FinalCounts, type FromWorker, type LoadFailure, type ToWorker } from './messages.js';
import { STICKY_ENV, type ServeOptions } from './options.js';

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

/** How long a crashed worker waits for the primary's word (its replacement serves) before it drains anyway. */
const CRASH_GRACE_MS = 10_000;

/** How long a drained worker waits for the primary's last word before it exits anyway. */
const EXIT_ANSWER_MS = 2_000;

/** process.exit as Node made it: the worker replaces it for sites' code. */
const exitProcess: (code?: number | string | null) => never = process.exit.bind(process);

/** Tells the primary why this worker cannot serve, then exits. */
async function fail(message: string): Promise<never> {
  await send({ hostmux: 'failed', message });
  exitProcess(1);
}

/** Loads what the primary asked for before serving; the sites that failed. */
async function preload(internals: ApplicationInternals, app: Application, load: 'all' | readonly string[]): Promise<LoadFailure[]> {
  const names = load === 'all' ? app.sites.map((site) => site.name) : load;
  // A quarantined site is not loaded: loading it would run the code that crashed.
  return internals.loadSites(names.filter((name) => internals.quarantined(name) === undefined));
}

/**
 * A cluster worker of `serve`: its own application and server. It says
 * 'ready', gets 'start' (quarantines, what to load), loads, then listens on
 * the shared port (or, with --sticky, takes the connections the primary
 * hands it). The primary tells it to reload, stop or cut; the exit code says
 * whether the drain bound cut requests off (or 1 after a crash).
 */
export async function serveAsWorker(options: ServeOptions): Promise<never> {
  // The primary decides, once: a reload that changes `sticky` does not move its listener.
  const sticky = process.env[STICKY_ENV] === '1';
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
  const internals = internalsOf(app)!;
  const served = createListeners(app, httpsOf(app, options.https));
  // Made on the first scrape: a pool nobody scrapes pays nothing for it.
  let registry: ReturnType<typeof createRegistry> | undefined;
  const metricsJson = () => (registry ??= createRegistry(() => internals.rawStats(), false)).getMetricsAsJSON();
  /** What this worker counted, for the primary to keep once it is gone. */
  const finalCounts = async (): Promise<FinalCounts> => ({
    stats: internals.rawStats(),
    metrics: (await metricsJson()).filter((metric) => metric.name.startsWith('hostmux_') && ['counter', 'histogram'].includes(String(metric.type))),
  });

  let serving: Promise<unknown> | undefined;
  let exited: (() => void) | undefined;
  let stopping = false;
  let crashed = false;
  const stop = async (gentle: boolean) => {
    if (stopping) return;
    stopping = true;
    await serving;
    // The sites close once the requests are done, so that they can end their WebSockets within the drain.
    const draining = served.drain(options.drainMs, () => closeApplication(app), gentle);
    // After the server's close: the primary (a rolling reload) learns no new connection comes here.
    void send({ hostmux: 'draining' });
    const cut = describeCut(await draining);
    if (cut !== undefined) loggerOf(app).warn(`worker ${process.pid}: ${cut}`);
    // A connection the cluster primary handed over just before it learnt this
    // worker stopped listening may still be on its way: exiting now would strand
    // it. One round trip lets it arrive (it is then refused and handed to
    // another worker).
    const final = await finalCounts().catch(() => undefined);
    await new Promise<void>((resolve) => {
      exited = resolve;
      setTimeout(resolve, EXIT_ANSWER_MS).unref();
      void send(final === undefined ? { hostmux: 'exiting' } : { hostmux: 'exiting', final });
    });
    exitProcess(crashed || cut !== undefined ? 1 : 0);
  };

  // A site's code threw where nothing catches it (a timer, a promise it
  // started, an event listener): the process may be in any state, so this
  // worker stops taking connections, lets the other requests in flight
  // finish within the drain bound, and exits; the primary has started its
  // replacement on the first word of it.
  const crash = (what: string, error: unknown) => {
    // The exit a site called, thrown on and not caught: said already.
    if (crashed && error instanceof SiteExitError) return;
    const sites = internals.blame(error);
    const logger = sites.length === 0 ? loggerOf(app) : internals.siteLogger(sites[0]!);
    const whose = sites.length === 0 ? 'outside any site' : sites.length === 1 ? `in site ${sites[0]}` : `in sites ${sites.join(', ')} (the same code)`;
    logger.error({ err: loggableError(error) }, `worker ${process.pid}: ${what} ${whose}: ${describeError(error)}`);
    if (crashed) return;
    crashed = true;
    // It keeps taking connections until its replacement serves (the primary then
    // says stop): with one worker, stopping now would refuse connections meanwhile.
    // The drain is hostmux's work, not the site's: it runs outside the site's context.
    siteContext.exit(() => {
      void send({ hostmux: 'crashed', sites });
      setTimeout(() => void stop(true), CRASH_GRACE_MS);
    });
  };
  process.on('uncaughtException', (error) => crash('uncaught exception', error));
  process.on('unhandledRejection', (reason) => crash('unhandled rejection', reason));
  // process.exit() from a site's code would end every other site's requests at once: it is that site's crash instead.
  process.exit = (code?: number | string | null) => {
    const error = new SiteExitError(code);
    if (internals.blame(error).length === 0) return exitProcess(code);
    crash('call of process.exit()', error);
    // Whatever follows the call in the site's code must not run as if the process had ended.
    throw error;
  };

  const begin = async (start: Extract<ToWorker, { hostmux: 'start' }>) => {
    for (const [site, seconds] of Object.entries(start.quarantined)) internals.quarantine(site, seconds);
    const failures = await preload(internals, app, start.load);
    await send({ hostmux: 'loaded', failures });
  };
  const listen = async () => {
    if (stopping) return;
    if (sticky) {
      await send({ hostmux: 'serving' });
      return;
    }
    await served.listen(options.port, options.host).then(
      () => true,
      (error: Error) => fail(`cannot listen on ${options.host} port ${options.port}: ${error.message}`),
    );
  };

  // A worker sent SIGTERM on its own stops gracefully; the primary replaces it.
  process.on('SIGTERM', () => void stop(false));
  process.on('message', (message: unknown, handle: unknown) => {
    if (!isToWorker(message)) return;
    switch (message.hostmux) {
      case 'start':
        void begin(message);
        break;
      case 'listen':
        serving = listen();
        break;
      case 'connection':
        if (stopping) (handle as Socket | undefined)?.destroy();
        else if (handle !== undefined) served.take(handle as Socket);
        break;
      case 'stop':
        void stop(message.gentle);
        break;
      case 'cut':
        served.cutNow();
        break;
      case 'exit':
        exited?.();
        break;
      case 'quarantine':
        internals.quarantine(message.site, message.seconds);
        break;
      case 'lift':
        internals.lift();
        break;
      case 'reopen':
        internals.reopenLogs();
        break;
      case 'states': {
        const ready = internals.siteStates().filter((site) => site.state === 'ready').map((site) => site.name);
        void send({ hostmux: 'states', id: message.id, ready });
        break;
      }
      case 'stats':
        void send({ hostmux: 'stats', id: message.id, stats: internals.rawStats() });
        break;
      case 'metrics':
        void metricsJson().then((metrics) => send({ hostmux: 'metrics', id: message.id, metrics }));
        break;
      case 'reload':
        if (stopping) break;
        app.reload().then(
          (result) => send({ hostmux: 'reloaded', id: message.id, result }),
          (error: unknown) => send({ hostmux: 'reload-failed', id: message.id, message: describeReloadError(error) }),
        );
        break;
    }
  });
  // A message sent before this listener existed would be lost: the primary holds its messages until this one.
  void send({ hostmux: 'ready' });
  return new Promise<never>(() => {});
}

/** What `process.exit()` throws when a site's code calls it in a worker: the site crashed, not the process. */
class SiteExitError extends Error {
  constructor(code: number | string | null | undefined) {
    super(`process.exit(${code ?? ''}) called by a site`);
    this.name = 'SiteExitError';
  }
}
