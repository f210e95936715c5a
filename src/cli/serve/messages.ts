import type { ReloadResult } from '../../application.js';
import type { RawStats } from '../../internal.js';

// What the cluster primary and its workers say to each other over IPC. The
// `hostmux` key keeps them apart from messages a site module might send.

/** A site that failed to load, and why. */
export interface LoadFailure {
  readonly site: string;
  readonly message: string;
}

/** Primary → worker. */
export type ToWorker =
  /**
   * The answer to 'ready': the quarantined sites (seconds left), and the
   * sites to load before serving (`all`, or those named).
   */
  | { readonly hostmux: 'start'; readonly quarantined: Readonly<Record<string, number>>; readonly load: 'all' | readonly string[] }
  /** After 'loaded': take connections now. */
  | { readonly hostmux: 'listen' }
  | { readonly hostmux: 'reload'; readonly id: number }
  | { readonly hostmux: 'states'; readonly id: number }
  /** Its raw statistics and its prom-client metrics (as JSON), for the admin listener. */
  | { readonly hostmux: 'stats'; readonly id: number }
  | { readonly hostmux: 'metrics'; readonly id: number }
  | { readonly hostmux: 'quarantine'; readonly site: string; readonly seconds: number }
  | { readonly hostmux: 'lift' }
  /** Reopen the log files (a SIGHUP whose tree was refused: logrotate still needs it). */
  | { readonly hostmux: 'reopen' }
  /** A connection handed over with this message (`serve --sticky`). */
  | { readonly hostmux: 'connection' }
  /** `gentle`: idle keep-alive connections are left to end themselves (a rolling reload). */
  | { readonly hostmux: 'stop'; readonly gentle: boolean }
  | { readonly hostmux: 'cut' }
  /** The answer to 'exiting': nothing sent before it is still on its way. */
  | { readonly hostmux: 'exit' };

/** What a worker counted, sent as it exits: the primary keeps adding it up. */
export interface FinalCounts {
  readonly stats: RawStats;
  /** prom-client's getMetricsAsJSON() of its hostmux_ counters and histograms. */
  readonly metrics: readonly unknown[];
}

/** Worker → primary. */
export type FromWorker =
  | { readonly hostmux: 'reloaded'; readonly id: number; readonly result: ReloadResult }
  | { readonly hostmux: 'reload-failed'; readonly id: number; readonly message: string }
  /** The sites that are loaded and serve. */
  | { readonly hostmux: 'states'; readonly id: number; readonly ready: readonly string[] }
  | { readonly hostmux: 'stats'; readonly id: number; readonly stats: RawStats }
  | { readonly hostmux: 'metrics'; readonly id: number; readonly metrics: readonly unknown[] }
  /** The worker listens for messages now: the primary holds back what it would send until then. */
  | { readonly hostmux: 'ready' }
  /** It has loaded what 'start' asked; it listens when told to. */
  | { readonly hostmux: 'loaded'; readonly failures: readonly LoadFailure[] }
  /** It takes connections (`--sticky`, where the cluster's 'listening' does not come). */
  | { readonly hostmux: 'serving' }
  /**
   * It has drained and is about to exit: the primary's answer comes after
   * every connection it handed over before it stopped sending any here.
   */
  | { readonly hostmux: 'exiting'; readonly final?: FinalCounts }
  /** It has stopped taking connections and drains. */
  | { readonly hostmux: 'draining' }
  /** A site's code (or hostmux's, `site` undefined) raised an uncaught exception: it drains and exits. */
  | { readonly hostmux: 'crashed'; readonly sites: readonly string[] }
  /** The worker cannot serve (configuration error, listen error) and is exiting. */
  | { readonly hostmux: 'failed'; readonly message: string };

export function isFromWorker(message: unknown): message is FromWorker {
  return typeof message === 'object' && message !== null && typeof (message as { hostmux?: unknown }).hostmux === 'string';
}

export function isToWorker(message: unknown): message is ToWorker {
  return isFromWorker(message);
}
