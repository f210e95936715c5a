import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { UsageError, integerOption, secondsOption, type Invocation, type Values } from './command.js';
import { DEFAULT_DRAIN_SECONDS, DEFAULT_HOST, DEFAULT_PORT } from './commands.js';
import { serveWithWorkers } from './primary.js';
import type { ServeOptions } from './serve-options.js';
import { serveInProcess } from './single.js';
import { serveAsWorker } from './worker.js';

function serveOptions(configDir: string, values: Values): ServeOptions {
  const host = (values.host as string | undefined) ?? DEFAULT_HOST;
  if (host === '') throw new UsageError('--host must not be empty');
  return {
    configDir,
    port: integerOption(values, 'port', DEFAULT_PORT, 0, 65535),
    host,
    workers: integerOption(values, 'workers', availableParallelism(), 1, 1024),
    drainMs: secondsOption(values, 'drain', DEFAULT_DRAIN_SECONDS),
    watch: values.watch === true,
    pidfile: typeof values.pidfile === 'string' ? resolve(values.pidfile) : undefined,
  };
}

/** `hostmux serve`: see commands.ts. In a cluster worker, the same arguments make it a worker. */
export async function serve({ configDir, values }: Invocation): Promise<number> {
  const options = serveOptions(configDir, values);
  if (options.workers === 1) return serveInProcess(options);
  if (cluster.isPrimary) return serveWithWorkers(options);
  return serveAsWorker(options);
}
