import { FINE_BUCKETS, fineBound, type MetricsRegistry } from './site-metrics.js';

/*
 * Snapshots. A process's counts travel as raw counts (a worker sends them
 * to the primary over IPC); any number of raw snapshots merge into the
 * status a person or a program reads: counts add up, latency histograms
 * add up before percentiles are read off them, so a merged p99 is the p99
 * of every process's requests, not an average of averages.
 */

/** A site's state for an operator: its load state, or `quarantined` while a quarantine holds. */
export type SiteStatusState = 'idle' | 'loading' | 'ready' | 'failed' | 'quarantined';

/** One site's raw counts in one process; `counts` is absent for a site that has had no request there. */
export interface RawSiteStats {
  readonly name: string;
  readonly state: SiteStatusState;
  readonly counts?: {
    readonly classes: readonly number[];
    readonly inFlight: number;
    readonly bytesSent: number;
    readonly buckets: readonly number[];
    readonly latencySum: number;
    /** The fine histogram of the recent window; absent when it is empty. */
    readonly recent?: readonly number[];
  };
  readonly lastError?: { readonly message: string; readonly time: number };
}

/**
 * What the latest reload did, for `app.stats()` and the admin listener's
 * `/status`: the names of the sites it added, removed, reloaded and kept,
 * or why it was refused.
 * @public
 */
export interface ReloadRecord {
  /** When it settled, as an ISO 8601 string. */
  readonly at: string;
  /** True when it was taken; false when refused (the previous configuration kept serving). */
  readonly ok: boolean;
  /** Sites it added (taken reloads only), as `app.reload()` resolves. */
  readonly added?: readonly string[];
  /** Sites it removed. */
  readonly removed?: readonly string[];
  /** Sites it loaded afresh (their file or code changed). */
  readonly reloaded?: readonly string[];
  /** Sites it kept as they were. */
  readonly kept?: readonly string[];
  /** Why it was refused. */
  readonly error?: string;
}

/** The record of a reload: taken with what it changed (an app.reload() result), or refused with why. */
export function reloadRecord(outcome: { result: Pick<ReloadRecord, 'added' | 'removed' | 'reloaded' | 'kept'> } | { error: string }): ReloadRecord {
  const at = new Date().toISOString();
  return 'result' in outcome ? { at, ok: true, ...outcome.result } : { at, ok: false, error: outcome.error };
}

/** The raw counts of every named site in this process, in the order given. */
export function rawSites(registry: MetricsRegistry, sites: readonly { name: string; state: SiteStatusState }[], now: number): RawSiteStats[] {
  return sites.map(({ name, state }) => {
    const metrics = registry.get(name);
    if (metrics === undefined || !metrics.used) return { name, state };
    const recent = metrics.recent(now);
    const lastError = metrics.lastError;
    return {
      name,
      state,
      counts: {
        classes: [...metrics.classes],
        inFlight: metrics.inFlight,
        bytesSent: metrics.bytesSent,
        buckets: metrics.buckets === undefined ? [] : [...metrics.buckets],
        latencySum: metrics.latencySum,
        ...(recent === undefined ? {} : { recent: [...recent] }),
      },
      ...(lastError === undefined ? {} : { lastError }),
    };
  });
}

/**
 * One site's statistics, as `app.stats()` and the admin listener's
 * `/status` give them.
 * @public
 */
export interface SiteStats {
  /** The site's name (its file's name without `.ini`). */
  readonly name: string;
  /** `module`, `proxy`, `redirect` or `static`. */
  readonly kind: string;
  /** Its domains and patterns, normalised. */
  readonly domains: readonly string[];
  /** `idle` (not loaded yet), `loading`, `ready`, `failed` (answers 503), `quarantined`. */
  readonly state: SiteStatusState;
  /** Responses by status class; a client that left before any answer counts as 4xx (499). */
  readonly requests: {
    readonly total: number;
    readonly '1xx': number;
    readonly '2xx': number;
    readonly '3xx': number;
    readonly '4xx': number;
    readonly '5xx': number;
  };
  /** Requests handed to the site whose response has not closed. */
  readonly inFlight: number;
  /**
   * Milliseconds from routing to the response's close, over the last 30 to
   * 60 seconds, to within 19% (the upper bound of a histogram bucket); null
   * with no request in that window.
   */
  readonly latency: { readonly p50: number | null; readonly p95: number | null; readonly p99: number | null };
  /** Body bytes the site wrote, as the access log counts them. */
  readonly bytesSent: number;
  /** The last error logged for the site (a load failure, a handler's throw, a failed upstream, a crash), with its time (ISO 8601). */
  readonly lastError: { readonly message: string; readonly time: string } | null;
}

/**
 * A snapshot of an application's statistics: `app.stats()`.
 * @public
 */
export interface ApplicationStats {
  /** Seconds since the application was created. */
  readonly uptime: number;
  /** 1 at start; one more for each reload taken. */
  readonly generation: number;
  /** The latest reload's outcome; null before any. */
  readonly reload: ReloadRecord | null;
  /** Every site of the configuration, in file order. */
  readonly sites: readonly SiteStats[];
}

const STATE_RANK: Record<SiteStatusState, number> = { idle: 0, loading: 1, ready: 2, failed: 3, quarantined: 4 };

/** Three significant digits: a bucket bound is no more exact than that. */
function round(ms: number): number {
  return Number(ms.toPrecision(3));
}

function percentile(histogram: Float64Array, total: number, p: number): number {
  const rank = Math.ceil(p * total);
  let seen = 0;
  for (let i = 0; i < FINE_BUCKETS; i++) {
    seen += histogram[i]!;
    if (seen >= rank) return round(fineBound(i));
  }
  return round(fineBound(FINE_BUCKETS - 1));
}

/**
 * Merges each process's raw counts of the sites described (by name) into
 * their statistics. A site's state across processes is the most telling
 * one (quarantined, then failed, ready, loading, idle).
 */
export function mergeSites(
  descriptors: readonly { name: string; kind: string; domains: readonly string[] }[],
  processes: readonly (readonly RawSiteStats[])[],
): SiteStats[] {
  const byName = new Map<string, RawSiteStats[]>();
  for (const raws of processes) {
    for (const raw of raws) {
      const list = byName.get(raw.name);
      if (list === undefined) byName.set(raw.name, [raw]);
      else list.push(raw);
    }
  }
  return descriptors.map(({ name, kind, domains }) => {
    const raws = byName.get(name) ?? [];
    let state: SiteStatusState = 'idle';
    const classes = [0, 0, 0, 0, 0];
    let inFlight = 0;
    let bytesSent = 0;
    let recent: Float64Array | undefined;
    let lastError: { message: string; time: number } | undefined;
    for (const raw of raws) {
      if (STATE_RANK[raw.state] > STATE_RANK[state]) state = raw.state;
      if (raw.lastError !== undefined && (lastError === undefined || raw.lastError.time > lastError.time)) lastError = raw.lastError;
      const counts = raw.counts;
      if (counts === undefined) continue;
      for (let i = 0; i < 5; i++) classes[i]! += counts.classes[i] ?? 0;
      inFlight += counts.inFlight;
      bytesSent += counts.bytesSent;
      if (counts.recent !== undefined) {
        recent ??= new Float64Array(FINE_BUCKETS);
        for (let i = 0; i < FINE_BUCKETS; i++) recent[i]! += counts.recent[i] ?? 0;
      }
    }
    const inWindow = recent === undefined ? 0 : recent.reduce((sum, n) => sum + n, 0);
    const latency = inWindow === 0
      ? { p50: null, p95: null, p99: null }
      : { p50: percentile(recent!, inWindow, 0.5), p95: percentile(recent!, inWindow, 0.95), p99: percentile(recent!, inWindow, 0.99) };
    return {
      name,
      kind,
      domains,
      state,
      requests: {
        total: classes.reduce((sum, n) => sum + n, 0),
        '1xx': classes[0]!, '2xx': classes[1]!, '3xx': classes[2]!, '4xx': classes[3]!, '5xx': classes[4]!,
      },
      inFlight,
      latency,
      bytesSent,
      lastError: lastError === undefined ? null : { message: lastError.message, time: new Date(lastError.time).toISOString() },
    };
  });
}
