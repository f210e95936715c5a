import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { UsageError, integerOption, type Invocation, type Values } from './command.js';
import { DEFAULT_DRAIN_SECONDS, DEFAULT_HOST, DEFAULT_PORT } from './commands.js';
import { serveWithWorkers } from './primary.js';
import type { ServeOptions } from './serve-options.js';
import { serveInProcess } from './single.js';
import { serveAsWorker } from './worker.js';

/** setTimeout's limit, in seconds. */
const MAX_DRAIN_SECONDS = 2_147_483;

function drainOption(values: Values): number {
  const text = values.drain;
  if (text === undefined) return DEFAULT_DRAIN_SECONDS * 1000;
  const seconds = Number(text);
  if (typeof text !== 'string' || !/^(\d+(\.\d*)?|\.\d+)$/.test(text) || seconds > MAX_DRAIN_SECONDS) {
    throw new UsageError(`--drain must be a number of seconds, not "${String(text)}"`);
  }
  return Math.round(seconds * 1000);
}

function serveOptions(configDir: string, values: Values): ServeOptions {
  const host = (values.host as string | undefined) ?? DEFAULT_HOST;
  if (host === '') throw new UsageError('--host must not be empty');
  return {
    configDir,
    port: integerOption(values, 'port', DEFAULT_PORT, 0, 65535),
    host,
    workers: integerOption(values, 'workers', availableParallelism(), 1, 1024),
    drainMs: drainOption(values),
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
