import { AggregatorRegistry } from 'prom-client';
import type { RawSiteStats } from '../../metrics/stats.js';
import type { FinalCounts } from './messages.js';

type Counts = NonNullable<RawSiteStats['counts']>;

function add(into: number[], from: readonly number[]): void {
  from.forEach((value, i) => (into[i] = (into[i] ?? 0) + value));
}

/**
 * What workers that have exited counted (a rolling reload's old generation,
 * a worker replaced): kept by the primary and added to the live workers'
 * counts, so that a reload does not turn counters back. A worker killed
 * outright takes its counts with it.
 */
export class RetiredCounts {
  readonly #sites = new Map<string, { classes: number[]; bytesSent: number; buckets: number[]; latencySum: number; lastError?: { message: string; time: number } }>();
  #metrics: unknown[] = [];
  /** Folds run one after another: each reads the result of the one before. */
  #folding: Promise<void> = Promise.resolve();

  add(final: FinalCounts): void {
    for (const site of final.stats.sites) {
      if (site.counts === undefined && site.lastError === undefined) continue;
      let kept = this.#sites.get(site.name);
      if (kept === undefined) this.#sites.set(site.name, (kept = { classes: [], bytesSent: 0, buckets: [], latencySum: 0 }));
      if (site.counts !== undefined) {
        add(kept.classes, site.counts.classes);
        add(kept.buckets, site.counts.buckets);
        kept.bytesSent += site.counts.bytesSent;
        kept.latencySum += site.counts.latencySum;
      }
      if (site.lastError !== undefined && (kept.lastError === undefined || site.lastError.time > kept.lastError.time)) kept.lastError = site.lastError;
    }
    // prom-client's aggregation, as for the live workers: sums by name and labels.
    this.#folding = this.#folding.then(async () => {
      const folded = AggregatorRegistry.aggregate([this.#metrics, final.metrics] as Parameters<typeof AggregatorRegistry.aggregate>[0]);
      this.#metrics = await folded.getMetricsAsJSON();
    });
  }

  /** The retired counts as one more process's raw sites: in flight 0, no recent window, no state of their own. */
  sites(): RawSiteStats[] {
    return [...this.#sites].map(([name, kept]) => {
      const counts: Counts = { classes: kept.classes, inFlight: 0, bytesSent: kept.bytesSent, buckets: kept.buckets, latencySum: kept.latencySum };
      return { name, state: 'idle', counts, ...(kept.lastError === undefined ? {} : { lastError: kept.lastError }) };
    });
  }

  async metrics(): Promise<unknown[]> {
    await this.#folding;
    return this.#metrics;
  }
}
