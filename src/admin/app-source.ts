import type { Application } from '../application/types.js';
import { ConfigError } from '../errors.js';
import type { ApplicationInternals } from '../internal.js';
import { createRegistry } from '../metrics/prometheus.js';
import { mergeSites } from '../metrics/stats.js';
import type { AdminSource } from './handler.js';

/** The admin endpoints' figures and actions for one process's application (embedded, or `serve --in-process`). */
export function applicationSource(app: Application, internals: ApplicationInternals, stop: (() => void) | undefined, ready: () => boolean): AdminSource {
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
    reload: () => app.reload().then(
      (result) => ({ ok: true as const, result }),
      (error: unknown) => ({
        ok: false as const,
        problems: error instanceof ConfigError ? error.problems : [],
        error: error instanceof Error ? error.message : String(error),
      }),
    ),
    stop,
  };
}
