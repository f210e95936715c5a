import type { Command } from './command.js';
import { HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from './timeouts.js';

// What each command takes and says in its help. Its code is imported only
// when it runs, so that --help and bad usage answer at once.

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_DRAIN_SECONDS = 30;
/** check: how long site modules may take to load; a database a site connects to at start may be slow. */
export const DEFAULT_LOAD_TIMEOUT_SECONDS = 30;

const json = { json: { type: 'boolean' } } as const;
const reload = { reload: { type: 'string' } } as const;
const reloadHelp = [['--reload PIDFILE', 'then send SIGHUP to the hostmux serve whose pid PIDFILE holds']] as const;

export const serve: Command = {
  name: 'serve',
  summary: 'serve every enabled site',
  synopsis: '[--port 8080] [--host 127.0.0.1] [--workers N] [--drain 30] [--watch] [--pidfile FILE]',
  description: [
    'Serves every enabled site over HTTP. With --workers 1 it serves in this process;',
    'with more, a cluster primary forks that many workers sharing the port, and',
    'replaces one that dies. --port 0 takes a free port; the address is logged as',
    '"listening on http://HOST:PORT".',
    '',
    'Signals (to the pid --pidfile holds): SIGHUP reloads the configuration in every',
    'worker without dropping a request (a bad configuration is logged and the old one',
    'keeps serving). SIGTERM or SIGINT stops accepting and lets in-flight requests',
    'finish; then it closes the sites (a site\'s close() should end its WebSockets) and',
    'waits for upgraded connections to end: all within --drain seconds. It exits 0, or',
    '1 if requests or connections had to be cut off. A second SIGTERM or SIGINT cuts',
    'them off at once.',
    '',
    `Timeouts: ${HEADERS_TIMEOUT_MS / 1000} s to send a request's headers, ${REQUEST_TIMEOUT_MS / 1000} s for the whole request,`,
    `${KEEP_ALIVE_TIMEOUT_MS / 1000} s for an idle keep-alive connection.`,
  ].join('\n'),
  options: {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    workers: { type: 'string', short: 'w' },
    drain: { type: 'string' },
    watch: { type: 'boolean' },
    pidfile: { type: 'string' },
  },
  optionHelp: [
    ['-p, --port PORT', `the port to listen on (default ${DEFAULT_PORT}; 0 for any free port)`],
    ['--host ADDRESS', `the address to listen on (default ${DEFAULT_HOST}; 0.0.0.0 or :: for all)`],
    ['-w, --workers N', 'worker processes (default: available parallelism; 1 serves in-process)'],
    ['--drain SECONDS', `how long SIGTERM waits for in-flight requests and WebSockets (default ${DEFAULT_DRAIN_SECONDS})`],
    ['--watch', 'reload by itself when the configuration changes on disk'],
    ['--pidfile FILE', 'write the pid that takes signals to FILE; removed on exit'],
  ],
  arity: [0, 0],
  run: async (invocation) => (await import('./serve.js')).serve(invocation),
};

export const check: Command = {
  name: 'check',
  summary: 'check the configuration and load every site module, like nginx -t',
  synopsis: '[--json] [--timeout 30]',
  description: [
    'Reads the configuration tree and lists every problem in it. If there is none,',
    'loads every site module, lists each site that fails to load, and prints the',
    'routing table: each domain and pattern with its site, kind and file. A module',
    'that does not load within its site\'s load_timeout is a failed site; modules',
    'still loading after --timeout seconds fail the whole check. Exits 0 when all',
    'is well, 1 when any problem was found.',
  ].join('\n'),
  options: { ...json, timeout: { type: 'string' } },
  optionHelp: [
    ['--json', 'print { ok, configDir, problems, failedSites, loadTimedOut, routes } as JSON on stdout'],
    ['--timeout SECONDS', `how long the site modules may take to load (default ${DEFAULT_LOAD_TIMEOUT_SECONDS})`],
  ],
  arity: [0, 0],
  run: async (invocation) => (await import('./check.js')).check(invocation),
};

export const list: Command = {
  name: 'list',
  summary: 'list every available site, enabled or not, with its domains',
  synopsis: '[--json]',
  description: [
    'Lists every site file of sites-available and sites-enabled: whether it is enabled',
    '(a link to sites-available, a copy, a link elsewhere, or a file only in',
    'sites-enabled) and the domains it claims. An enabled site\'s domains are read',
    'from the enabled file. A file with a problem is listed with it, and the exit',
    'status is then 1. hostmux.conf\'s `sites` globs are not consulted.',
  ].join('\n'),
  options: json,
  optionHelp: [['--json', 'print { ok, configDir, sites: [{ name, site, enabled, status, file, domains, problems }], problems }']],
  arity: [0, 0],
  run: async (invocation) => (await import('./list.js')).list(invocation),
};

export const match: Command = {
  name: 'match',
  summary: 'show which site, pattern and file would answer a host name',
  synopsis: 'HOST [--json]',
  description: [
    'Routes HOST (a Host header value; a port is ignored) as a request would be',
    'routed and prints the site that would answer it, the domain or pattern that',
    'matched (or default_site), the pattern\'s wildcard parts and the site file.',
    'Exits 1 when no site would answer, or the host is invalid.',
  ].join('\n'),
  options: json,
  optionHelp: [['--json', 'print { host, site, pattern, wildcards, file } (or { host, site: null, reason }) as JSON']],
  arity: [1, 1],
  run: async (invocation) => (await import('./match.js')).match(invocation),
};

export const enable: Command = {
  name: 'enable',
  summary: 'enable sites: link sites-available/NAME.ini into sites-enabled (a2ensite)',
  synopsis: 'NAME... [--reload PIDFILE]',
  description: [
    'Enables each site NAME (a trailing .ini is accepted) by making the relative link',
    'sites-enabled/NAME.ini -> ../sites-available/NAME.ini. An enabled site is left',
    'as it is. A plain file, or a link to another file, in sites-enabled is never',
    'replaced. Every name is tried; any unknown or refused name makes the exit status 1.',
    'A running server picks the change up on reload (SIGHUP).',
  ].join('\n'),
  options: reload,
  optionHelp: reloadHelp,
  arity: [1, Infinity],
  run: async (invocation) => (await import('./enable.js')).enable(invocation),
};

export const disable: Command = {
  name: 'disable',
  summary: 'disable sites: remove their links from sites-enabled (a2dissite)',
  synopsis: 'NAME... [--reload PIDFILE]',
  description: [
    'Disables each site NAME (a trailing .ini is accepted) by removing the link',
    'sites-enabled/NAME.ini. A disabled site is left as it is. A plain file in',
    'sites-enabled is never deleted. Every name is tried; any unknown or refused',
    'name makes the exit status 1. A running server picks the change up on reload',
    '(SIGHUP).',
  ].join('\n'),
  options: reload,
  optionHelp: reloadHelp,
  arity: [1, Infinity],
  run: async (invocation) => (await import('./enable.js')).disable(invocation),
};

export const COMMANDS: readonly Command[] = [serve, check, list, match, enable, disable];
