/**
 * Crashes per site within a sliding window, and the quarantines they led
 * to. Kept by the primary, which outlives the workers that crash.
 */
export class CrashLedger {
  /** Each site's recent crash times (Date.now()). */
  readonly #times = new Map<string, number[]>();
  /** Quarantined sites: until when. */
  readonly #until = new Map<string, number>();

  /**
   * Counts a crash of `site`; true when it reaches `limit` within `window`
   * ms, which quarantines the site for `window` ms. A limit of 0 never does.
   */
  record(site: string, limit: number, window: number, now = Date.now()): boolean {
    const recent = (this.#times.get(site) ?? []).filter((time) => now - time < window);
    recent.push(now);
    this.#times.set(site, recent);
    if (limit === 0 || recent.length < limit || (this.#until.get(site) ?? 0) > now) return false;
    this.#until.set(site, now + window);
    this.#times.delete(site);
    return true;
  }

  /** The sites quarantined now, with the seconds left (for a worker that starts). */
  quarantined(now = Date.now()): Record<string, number> {
    const left: Record<string, number> = {};
    for (const [site, until] of this.#until) {
      if (until > now) left[site] = (until - now) / 1000;
      else this.#until.delete(site);
    }
    return left;
  }

  /** Forgets every crash and quarantine: a reload gives each site a fresh start. */
  clear(): void {
    this.#times.clear();
    this.#until.clear();
  }
}
