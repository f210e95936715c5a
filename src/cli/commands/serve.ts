import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { UsageError, integerOption, secondsOption, type Command, type Invocation, type Values } from '../command.js';
import type { ServeOptions } from '../serve/options.js';
import type { AdminAddress } from '../../config/admin-conf.js';
import type { ListenAddress } from '../../config/tls-settings.js';
import { CLOSE_BOUND_MS, HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '../serve/timeouts.js';

// `hostmux serve`: its help, its options, and which of the serve machinery
// (src/cli/serve/) runs. That machinery is imported only when it runs.

const DEFAULT_PORT = 8080;
const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_DRAIN_SECONDS = 30;

function serveOptions(configDir: string, values: Values, admin: AdminAddress | undefined, https: ListenAddress | undefined): ServeOptions {
  const host = (values.host as string | undefined) ?? DEFAULT_HOST;
  if (host === '') throw new UsageError('--host must not be empty');
  return {
    configDir,
    port: integerOption(values, 'port', DEFAULT_PORT, 0, 65535),
    host,
    workers: integerOption(values, 'workers', availableParallelism(), 1, 1024),
    drainMs: secondsOption(values, 'drain', DEFAULT_DRAIN_SECONDS),
    watch: values.watch === true,
    sticky: values.sticky === true,
    inProcess: values['in-process'] === true,
    pidfile: typeof values.pidfile === 'string' ? resolve(values.pidfile) : undefined,
    admin,
    https,
  };
}

/** --https ADDRESS:PORT, parsed as `[server] https` is. */
async function httpsOption(values: Values): Promise<ListenAddress | undefined> {
  if (typeof values.https !== 'string') return undefined;
  const { parseListenAddress } = await import('../../config/tls-settings.js');
  const address = parseListenAddress(values.https);
  if (address === undefined) throw new UsageError(`--https: "${values.https}" is not ADDRESS:PORT (0.0.0.0:443, [::]:443)`);
  return address;
}

/** --admin, parsed with the config reader's own parser: imported only when the option is given. */
async function adminOption(values: Values): Promise<AdminAddress | undefined> {
  if (typeof values.admin !== 'string') return undefined;
  const { parseAdminAddress } = await import('../../config/admin-conf.js');
  const address = parseAdminAddress(values.admin);
  if (typeof address === 'string') throw new UsageError(`--admin: ${address}`);
  return address;
}

/** In a cluster worker, the same arguments make it a worker. */
async function run({ configDir, values }: Invocation): Promise<number> {
  const options = serveOptions(configDir, values, await adminOption(values), await httpsOption(values));
  if (options.inProcess) {
    if (values.workers !== undefined || options.sticky) throw new UsageError('--in-process serves in this one process: it takes no --workers or --sticky');
    return (await import('../serve/single.js')).serveInProcess(options);
  }
  const { default: cluster } = await import('node:cluster');
  if (cluster.isPrimary) return (await import('../serve/primary.js')).serveWithWorkers(options);
  return (await import('../serve/worker.js')).serveAsWorker(options);
}

export const serve: Command = {
  name: 'serve',
  summary: 'serve every enabled site',
  synopsis: '[--port 8080] [--host 127.0.0.1] [--workers N] [--sticky] [--drain 30] [--watch] [--pidfile FILE] [--admin ADDRESS] [--https ADDRESS:PORT] [--in-process]',
  description: [
    'Serves every enabled site over HTTP. A primary process supervises --workers',
    'worker processes (even one) sharing the port: a worker that crashes is replaced,',
    'and a site that crashes workers 3 times within 60 s is quarantined (503) until a',
    'reload ([server] crash_limit, crash_window). Every site is loaded before',
    '"listening on http://HOST:PORT" is logged ([server] preload). --port 0 takes a',
    'free port. --in-process serves in this one process, unsupervised (development).',
    '',
    'Signals (to the pid --pidfile holds): SIGHUP reloads without dropping a request:',
    'the primary checks the tree (a bad one is logged and changes nothing), starts new',
    'workers on it, and once they have loaded and listen, the old ones drain',
    '([server] reload = restart; in-place reloads inside each worker instead).',
    'SIGTERM or SIGINT stops accepting and lets in-flight requests',
    'finish; then it closes the sites (a site\'s close() should end its WebSockets) and',
    'waits for upgraded connections to end: all within --drain seconds. It exits 0, or',
    '1 if requests or connections had to be cut off. A second SIGTERM or SIGINT cuts',
    'them off at once.',
    '',
    `Timeouts: ${HEADERS_TIMEOUT_MS / 1000} s to send a request's headers, ${REQUEST_TIMEOUT_MS / 1000} s for the whole request,`,
    `${KEEP_ALIVE_TIMEOUT_MS / 1000} s for an idle keep-alive connection. The sites' close() gets at most`,
    `${CLOSE_BOUND_MS / 1000} s: hostmux exits then, with a warning, even if it has not finished.`,
  ].join('\n'),
  options: {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    workers: { type: 'string', short: 'w' },
    drain: { type: 'string' },
    watch: { type: 'boolean' },
    pidfile: { type: 'string' },
    https: { type: 'string' },
    sticky: { type: 'boolean' },
    'in-process': { type: 'boolean' },
    admin: { type: 'string' },
  },
  optionHelp: [
    ['-p, --port PORT', `the port to listen on (default ${DEFAULT_PORT}; 0 for any free port)`],
    ['--host ADDRESS', `the address to listen on (default ${DEFAULT_HOST}; 0.0.0.0 or :: for all)`],
    ['-w, --workers N', 'worker processes (default: available parallelism)'],
    ['--sticky', 'send every connection from one client address to the same worker (WebSockets, in-memory sessions)'],
    ['--drain SECONDS', `how long SIGTERM waits for in-flight requests and WebSockets (default ${DEFAULT_DRAIN_SECONDS})`],
    ['--watch', 'reload by itself when the configuration changes on disk'],
    ['--https ADDRESS:PORT', 'also serve HTTPS (HTTP/2 and HTTP/1.1) there, over [server] https: each site by its certificate'],
    ['--pidfile FILE', 'write the pid that takes signals to FILE; removed on exit'],
    ['--in-process', 'serve in this process, without workers or supervision (development)'],
    ['--admin ADDRESS', 'the admin listener (status page, /metrics, reload): HOST:PORT or unix:/PATH, over [admin] listen'],
  ],
  arity: [0, 0],
  run,
};
