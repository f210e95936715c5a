import type http from 'node:http';
import { AggregatorRegistry } from 'prom-client';
import type { Application } from '../../application.js';
import { adminHandler, type AdminSource, type ReloadOutcome } from '../../admin/handler.js';
import { adminAddressProblem, type AdminAddress } from '../../config/admin-conf.js';
import { internalsOf } from '../../internal.js';
import type { Logger } from '../../logger.js';
import { createRegistry } from '../../metrics/prometheus.js';
import { mergeSites, type ReloadRecord } from '../../metrics/stats.js';
import { describeAdmin, listenAdmin } from './admin-server.js';
import type { WorkerPool } from './pool.js';

/** What the primary gives its admin listener. */
export interface PrimaryAdmin {
  /** The primary's application: the tree, the sites' names, kinds and domains. */
  readonly app: Application;
  readonly pool: WorkerPool;
  readonly workers: number;
  /** Reloads the pool has taken and refused, and its generation. */
  readonly record: { readonly generation: number; readonly ok: number; readonly refused: number; readonly last: ReloadRecord | null };
  readonly reload: () => Promise<ReloadOutcome>;
  readonly stop: () => void;
  readonly ready: () => boolean;
}

/**
 * Requests that come while one is being answered share its answer: a
 * scrape of 10,000 sites costs the primary (and each worker) most of a
 * second of CPU, and ten at once must not cost ten times that.
 */
function shared<T>(collect: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => (running ??= collect().finally(() => (running = undefined)));
}

/**
 * `serve`'s admin listener: figures added up over every worker (and those
 * that have exited), the primary's own reload record, and its actions.
 */
export async function startAdmin(address: AdminAddress, primary: PrimaryAdmin, log: Logger): Promise<http.Server> {
  const internals = internalsOf(primary.app)!;
  const token = () => internals.tree.server.admin.token;
  // --admin is checked here: [admin] listen was checked with the tree.
  const unsafe = adminAddressProblem(address, token());
  if (unsafe !== undefined) throw new Error(unsafe);
  const started = Date.now();
  // The primary's own registry: its process metrics and the reloads it ran.
  // The primary serves no site: its registry has its reloads and its process, nothing per site
  // (reading its application's per-site figures, all zero, would cost a walk of every site per scrape).
  const own = createRegistry(() => ({ started, generation: primary.record.generation, reload: primary.record.last, reloads: primary.record, sites: [] }), true);
  const source: AdminSource = {
    status: shared(async () => {
      const workers = await primary.pool.stats();
      return {
        uptime: (Date.now() - started) / 1000,
        generation: primary.record.generation,
        workers: primary.workers,
        reload: primary.record.last,
        sites: mergeSites(primary.app.sites, [...workers.map((stats) => stats.sites), primary.pool.retired.sites()]),
      };
    }),
    metrics: shared(async () => {
      const [workers, retired, mine] = await Promise.all([primary.pool.metrics(), primary.pool.retired.metrics(), own.getMetricsAsJSON()]);
      // prom-client's cluster aggregation: counters and histograms add up by name and labels.
      const aggregated = AggregatorRegistry.aggregate([mine, ...workers, retired] as Parameters<typeof AggregatorRegistry.aggregate>[0]);
      return { contentType: aggregated.contentType, text: await aggregated.metrics() };
    }),
    ready: primary.ready,
    reload: primary.reload,
    stop: primary.stop,
  };
  const server = await listenAdmin(address, adminHandler(source, { token }));
  log.info(`admin listening on ${describeAdmin(address, server)}`);
  return server;
}
