// The load generator: autocannon in its own process (pinned to its own core
// by the harness), never in a server's. Plain JavaScript, like server.mjs.
//
// Over IPC it answers {type: 'run', port, hosts, connections, seconds, key, path}
// with {type: 'result', ...}: requests, latency percentiles and its own CPU
// time, which tells whether it, rather than the server, was the bottleneck.
// Latencies of every run with the same `key` are also kept, until
// {type: 'latency', key} answers their percentiles over all those runs.
import autocannon from 'autocannon';

/** A growable list of latencies in ms; autocannon's own histogram keeps whole milliseconds only. */
class Latencies {
  values = new Float64Array(1 << 16);
  length = 0;

  add(ms) {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = ms;
  }

  append(other) {
    for (let i = 0; i < other.length; i++) this.add(other.values[i]);
  }

  percentiles() {
    const sorted = this.values.subarray(0, this.length).sort();
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: this.length === 0 ? NaN : sorted[this.length - 1], count: this.length };
  }
}

/** Latencies kept by key, across runs. */
const kept = new Map();

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function run({ port, hosts, connections, seconds, key, path = '/' }) {
  const latencies = new Latencies();
  // One prebuilt request per host; each connection cycles through the list,
  // so consecutive requests on a connection carry different Host headers.
  const requests = hosts.map((host) => ({ method: 'GET', path, headers: { host } }));
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    pipelining: 1,
    duration: seconds,
    // autocannon stops at the first sample tick after the duration: tick often.
    sampleInt: 100,
    requests,
  });
  instance.on('response', (client, statusCode, bytes, ms) => latencies.add(ms));
  const result = await instance;
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  const cpu = process.cpuUsage(cpuBefore);
  if (key !== undefined) {
    if (!kept.has(key)) kept.set(key, new Latencies());
    kept.get(key).append(latencies);
  }
  const { p50, p99, max } = latencies.percentiles();
  return {
    type: 'result',
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    elapsedMs,
    p50,
    p99,
    max,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

process.on('message', (message) => {
  if (message?.type === 'latency') {
    const latencies = kept.get(message.key) ?? new Latencies();
    kept.delete(message.key);
    process.send({ type: 'latency', ...latencies.percentiles() });
    return;
  }
  if (message?.type !== 'run') return;
  run(message).then(
    (result) => process.send(result),
    (err) => process.send({ type: 'error', message: String(err?.stack ?? err) }),
  );
});
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
