// The load generator: autocannon in its own process (pinned to its own core
// by the harness), never in a server's. Plain JavaScript, like server.mjs.
//
// Over IPC it answers {type: 'run', port, hosts, connections, seconds} with
// {type: 'result', ...}: requests, latency percentiles and its own CPU time,
// which tells whether it, rather than the server, was the bottleneck.
import autocannon from 'autocannon';

/** Latencies in ms; autocannon's own histogram keeps whole milliseconds only. */
let latencies = new Float64Array(1 << 16);
let recorded = 0;

function record(ms) {
  if (recorded === latencies.length) {
    const grown = new Float64Array(latencies.length * 2);
    grown.set(latencies);
    latencies = grown;
  }
  latencies[recorded++] = ms;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function run({ port, hosts, connections, seconds }) {
  recorded = 0;
  // One prebuilt request per host; each connection cycles through the list,
  // so consecutive requests on a connection carry different Host headers.
  const requests = hosts.map((host) => ({ method: 'GET', path: '/', headers: { host } }));
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
  instance.on('response', (client, statusCode, bytes, ms) => record(ms));
  const result = await instance;
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  const cpu = process.cpuUsage(cpuBefore);
  const sorted = latencies.subarray(0, recorded).sort();
  return {
    type: 'result',
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    elapsedMs,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

process.on('message', (message) => {
  if (message?.type !== 'run') return;
  run(message).then(
    (result) => process.send(result),
    (err) => process.send({ type: 'error', message: String(err?.stack ?? err) }),
  );
});
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
