// Memory: one hostmux process serving N sites against N single-site
// node:http processes, idle RSS after one request to each site.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { mib, ratio, table } from './report.ts';
import { startServer, type RunningServer, type SpawnOptions } from './processes.ts';
import { BODY, benchSites, writeTree } from './sites.ts';

export interface MemoryResult {
  readonly sites: number;
  readonly hostmux: number;
  readonly singles: readonly number[];
}

/** One GET with this Host; rejects unless it is answered 200 with BODY. */
export function get(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function expectBody(port: number, host: string): Promise<void> {
  const { status, body } = await get(port, host);
  if (status !== 200 || body !== BODY) throw new Error(`${host}: answered ${status} ${JSON.stringify(body)}`);
}

/** `idleMs`: how long the processes idle before their RSS is read. */
export async function runMemory(siteCount: number, spawnOptions: SpawnOptions, idleMs = 1000): Promise<MemoryResult> {
  // Each site its own module file, so hostmux holds N module instances as N processes would.
  const sites = benchSites(siteCount);
  const tree = writeTree(sites, 'per-site');
  const servers: RunningServer[] = [];
  try {
    const hostmux = await startServer('hostmux', tree.dir, spawnOptions);
    servers.push(hostmux);
    for (const site of sites) await expectBody(hostmux.port, site.host);
    const singles: RunningServer[] = [];
    for (let i = 0; i < sites.length; i++) {
      const single = await startServer('single', tree.modules[i]!, spawnOptions);
      servers.push(single);
      singles.push(single);
      await expectBody(single.port, sites[i]!.host);
    }
    // Idle: let the last responses and any lazy work settle.
    await sleep(idleMs);
    return {
      sites: siteCount,
      hostmux: (await hostmux.stats()).rss,
      singles: await Promise.all(singles.map(async (single) => (await single.stats()).rss)),
    };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    tree.remove();
  }
}

export function memoryTable(results: readonly MemoryResult[]): string {
  return table(
    ['sites N', 'one hostmux process', 'N node:http processes (total)', 'per node:http process', 'hostmux / N processes'],
    results.map((result) => {
      const total = result.singles.reduce((sum, rss) => sum + rss, 0);
      return [
        String(result.sites),
        mib(result.hostmux),
        mib(total),
        mib(total / result.singles.length),
        ratio(result.hostmux / total),
      ];
    }),
  );
}
