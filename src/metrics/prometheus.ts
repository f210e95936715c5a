import { Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { RawStats } from '../internal.js';
import { LATENCY_BUCKETS } from './site-metrics.js';

/*
 * The Prometheus side. The request path keeps its own plain counts
 * (site-metrics.ts); a scrape turns one process's counts into prom-client
 * metrics (these collectors), prom-client renders the text format, and
 * under `serve` its AggregatorRegistry adds up the workers' metrics.
 */

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

interface Value {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** One metric whose values are read from a snapshot when scraped. */
function collector(name: string, help: string, type: 'counter' | 'gauge' | 'histogram', values: (stats: RawStats) => Value[], snapshot: () => RawStats): Metric {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: () => ({ name, help, type, aggregator: 'sum', values: values(snapshot()) }),
  };
  return metric as unknown as Metric;
}

function requests(stats: RawStats): Value[] {
  const values: Value[] = [];
  for (const { name, counts } of stats.sites) {
    if (counts === undefined) continue;
    CLASSES.forEach((cls, i) => values.push({ value: counts.classes[i] ?? 0, labels: { site: name, class: cls } }));
  }
  return values;
}

function durations(stats: RawStats): Value[] {
  const values: Value[] = [];
  const name = 'hostmux_request_duration_seconds';
  for (const { name: site, counts } of stats.sites) {
    if (counts === undefined) continue;
    let cumulative = 0;
    let count = 0;
    LATENCY_BUCKETS.forEach((le, i) => {
      cumulative += counts.buckets[i] ?? 0;
      values.push({ value: cumulative, labels: { le, site }, metricName: `${name}_bucket` });
    });
    count = cumulative + (counts.buckets[LATENCY_BUCKETS.length] ?? 0);
    values.push({ value: count, labels: { le: '+Inf', site }, metricName: `${name}_bucket` });
    values.push({ value: counts.latencySum, labels: { site }, metricName: `${name}_sum` });
    values.push({ value: count, labels: { site }, metricName: `${name}_count` });
  }
  return values;
}

/**
 * The registry of one process: per-site requests, latency, in flight, bytes
 * and state from `snapshot`, and prom-client's default process metrics.
 * `reloads` counts reloads by result: under `serve` only the primary does.
 */
export function createRegistry(snapshot: () => RawStats, reloads: boolean): Registry {
  const registry = new Registry();
  // One snapshot per scrape, however many collectors read it.
  let cached: RawStats | undefined;
  const once = () => {
    if (cached === undefined) {
      cached = snapshot();
      setImmediate(() => (cached = undefined));
    }
    return cached;
  };
  const metrics = [
    collector('hostmux_requests_total', 'Responses by site and status class (499, a client that left first, is 4xx).', 'counter', requests, once),
    collector('hostmux_request_duration_seconds', 'Seconds from routing to the response\'s close, by site.', 'histogram', durations, once),
    collector('hostmux_requests_in_flight', 'Requests handed to the site whose response has not closed.', 'gauge', (stats) =>
      stats.sites.flatMap(({ name, counts }) => (counts === undefined ? [] : [{ value: counts.inFlight, labels: { site: name } }])), once),
    collector('hostmux_response_body_bytes_total', 'Body bytes the site wrote.', 'counter', (stats) =>
      stats.sites.flatMap(({ name, counts }) => (counts === undefined ? [] : [{ value: counts.bytesSent, labels: { site: name } }])), once),
    collector('hostmux_site_state', 'Processes in which the site is in this state (1 per process for one-process use).', 'gauge', (stats) =>
      // Only the state each site is in: five series per site would be 50,000 at 10,000 sites.
      stats.sites.map(({ name, state }) => ({ value: 1, labels: { site: name, state } })), once),
  ];
  if (reloads) {
    metrics.push(collector('hostmux_reloads_total', 'Reloads by result: ok (taken) or refused.', 'counter', ({ reloads: { ok, refused } }) => [
      { value: ok, labels: { result: 'ok' } },
      { value: refused, labels: { result: 'refused' } },
    ], once));
    metrics.push(collector('hostmux_configuration_generation', 'The configuration generation: 1 at start, one more per reload taken.', 'gauge', ({ generation }) => [
      { value: generation, labels: {} },
    ], once));
  }
  for (const metric of metrics) registry.registerMetric(metric);
  collectDefaultMetrics({ register: registry });
  return registry;
}
