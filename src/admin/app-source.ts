import type { Application } from '../application/types.js';
import { ConfigError } from '../errors.js';
import type { ApplicationInternals } from '../internal.js';
import { createRegistry } from '../metrics/prometheus.js';
import { mergeSites } from '../metrics/stats.js';
import type { AdminSource, ReloadOutcome } from './handler.js';

/** `app.reload()` as POST /reload answers it: the result, or the problems of a refused tree. */
export function reloadOutcome(app: Application): Promise<ReloadOutcome> {
  return app.reload().then(
    (result) => ({ ok: true as const, result }),
    (error: unknown) => ({
      ok: false as const,
      problems: error instanceof ConfigError ? error.problems : [],
      error: error instanceof Error ? error.message : String(error),
    }),
  );
}

/**
 * The admin endpoints' figures and actions for one process's application
 * (embedded, or `serve --in-process`, which reloads its own way: logged,
 * told to systemd, as its SIGHUP does).
 */
export function applicationSource(
  app: Application,
  internals: ApplicationInternals,
  stop: (() => void) | undefined,
  ready: () => boolean,
  reload: () => Promise<ReloadOutcome> = () => reloadOutcome(app),
): AdminSource {
  let registry: ReturnType<typeof createRegistry> | undefined;
  return {
    status: () => {
      const raw = internals.rawStats();
      return Promise.resolve({
        uptime: (Date.now() - raw.started) / 1000,
        generation: raw.generation,
        workers: 1,
        reload: raw.reload,
        sites: mergeSites(app.sites, [raw.sites]),
      });
    },
    metrics: async () => {
      registry ??= createRegistry(() => internals.rawStats(), true);
      return { contentType: registry.contentType, text: await registry.metrics() };
    },
    ready,
    reload,
    stop,
  };
}
