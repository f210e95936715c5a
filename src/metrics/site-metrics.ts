/*
 * One site's counts in one process: updated on the request path, so plain
 * numbers and typed arrays, no allocation per request, nothing built until
 * someone asks (stats.ts turns them into a snapshot).
 */

/** Upper bounds, in seconds, of the cumulative latency histogram (Prometheus' usual buckets); +Inf follows. */
export const LATENCY_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

// The recent window's histogram: buckets 2^(1/4) apart (19%) from 10 µs up,
// so a percentile read from it is the bucket's upper bound, at most 19% above
// the true value; the last bucket takes everything past ~60 s.
const FINE_BASE_MS = 0.01;
const FINE_PER_OCTAVE = 4;
export const FINE_BUCKETS = 92;

/** The recent window is the current slot and the one before: 30 to 60 s of requests. */
export const SLOT_MS = 30_000;

/** The upper bound, in milliseconds, of fine bucket `i`. */
export function fineBound(i: number): number {
  return FINE_BASE_MS * 2 ** (i / FINE_PER_OCTAVE);
}

function fineIndex(ms: number): number {
  if (ms <= FINE_BASE_MS) return 0;
  const i = Math.ceil(Math.log2(ms / FINE_BASE_MS) * FINE_PER_OCTAVE);
  return i < FINE_BUCKETS ? i : FINE_BUCKETS - 1;
}

function bucketIndex(seconds: number): number {
  let i = 0;
  while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
  return i;
}

/** A site's counts in this process. A reload keeps them (they are kept by site name). */
export class SiteMetrics {
  /** Responses by status class: index 0 is 1xx … 4 is 5xx. A client that left before any answer counts as 4xx (499). */
  readonly classes = [0, 0, 0, 0, 0];
  inFlight = 0;
  bytesSent = 0;
  /** Counts per LATENCY_BUCKETS bound (not cumulative across buckets), then +Inf; made on the first request. */
  buckets: Float64Array | undefined;
  /** Seconds, summed. */
  latencySum = 0;
  /** The recent window: made on the first request, so that idle sites cost nothing. */
  current: Uint32Array | undefined;
  previous: Uint32Array | undefined;
  /** performance.now() when `current` started. */
  slotStart = 0;
  lastError: { message: string; time: number } | undefined;

  /** A response closed: its status (499 when none went out), milliseconds since routing, body bytes. */
  record(status: number, ms: number, bytes: number, now: number): void {
    const cls = (status / 100) | 0;
    this.classes[cls >= 1 && cls <= 5 ? cls - 1 : 4]!++;
    this.bytesSent += bytes;
    const seconds = ms / 1000;
    this.latencySum += seconds;
    if (this.current === undefined || now - this.slotStart >= SLOT_MS) this.#rotate(now);
    this.buckets![bucketIndex(seconds)]!++;
    this.current![fineIndex(ms)]!++;
  }

  /** The fine histogram of the recent window (current and previous slot), as of `now`. */
  recent(now: number): Uint32Array | undefined {
    if (this.current === undefined) return undefined;
    const age = now - this.slotStart;
    // Nothing for a whole window: the window is empty.
    if (age >= 2 * SLOT_MS) return undefined;
    const sum = new Uint32Array(FINE_BUCKETS);
    for (let i = 0; i < FINE_BUCKETS; i++) sum[i] = this.current[i]! + (age < SLOT_MS ? this.previous?.[i] ?? 0 : 0);
    return sum;
  }

  /** Whether it has anything to tell: a site never asked has nothing. */
  get used(): boolean {
    return this.buckets !== undefined || this.inFlight !== 0 || this.lastError !== undefined;
  }

  #rotate(now: number): void {
    this.buckets ??= new Float64Array(LATENCY_BUCKETS.length + 1);
    const stale = this.current === undefined || now - this.slotStart >= 2 * SLOT_MS;
    const reuse = this.previous ?? new Uint32Array(FINE_BUCKETS);
    this.previous = stale ? undefined : this.current;
    reuse.fill(0);
    this.current = reuse;
    this.slotStart = now;
  }
}

/** Per-site metrics by name, for one application: entries of every configuration share them. */
export class MetricsRegistry {
  readonly #sites = new Map<string, SiteMetrics>();
  readonly started = Date.now();

  site(name: string): SiteMetrics {
    let metrics = this.#sites.get(name);
    if (metrics === undefined) this.#sites.set(name, (metrics = new SiteMetrics()));
    return metrics;
  }

  get(name: string): SiteMetrics | undefined {
    return this.#sites.get(name);
  }

  /** A site's error, as its logger says it. */
  noteError(name: string, message: string): void {
    this.site(name).lastError = { message, time: Date.now() };
  }
}
