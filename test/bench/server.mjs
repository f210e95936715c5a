// One benchmark server, run as its own process so that its CPU time and
// memory are its own. Plain JavaScript importing the built package (dist/),
// so that no TypeScript loader runs in the measured process.
//
//   node server.mjs KIND [TREE_DIR | MODULE]
//
// KIND: bare (node:http, one handler: the limit), hostmux, nometrics (hostmux
// with metrics = off), limits (hostmux
// with max_concurrent, max_body and timeout on for every site), express (Express 5
// with one vhost() per site), fastify (Fastify 5, a catch-all route and a
// Map), single (node:http serving one site module: the memory comparison).
// TREE_DIR is a tree written by test/bench/sites.ts; `single` takes the
// site's handler MODULE instead. send (node:http serving ROOT_DIR with the
// `send` library, as a static site does: the static row's reference) takes
// the directory.
//
// Over IPC it sends {type: 'listening', port} once, and answers
// {type: 'stats'} with its CPU time, RSS and (with HOSTMUX_BENCH_COUNT=1)
// how many requests each Host header had; {type: 'profile-start'} and
// {type: 'profile-stop'} bracket a CPU profile of just the measured run
// (test/bench/profile.ts), answered with {type: 'profile', profile}.
// {type: 'stats', gc: true} collects garbage first (with --expose-gc), and
// {type: 'reload'} reloads a hostmux tree, answered with {type: 'reloaded', ms}.
// HOSTMUX_BENCH_DIAGNOSTICS=1 subscribes a counting subscriber to every
// hostmux diagnostics channel (the cost of being listened to); the count is
// in the stats as `published` (test/bench/diagnostics.ts).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const BODY = 'hello\n';
const [kind, dir] = process.argv.slice(2);

// Counting is off in measured runs: the handlers below are then exactly the
// site module's handler, with nothing added.
const hits = process.env.HOSTMUX_BENCH_COUNT === '1' ? new Map() : undefined;
globalThis.hostmuxBenchHits = hits;

function count(req) {
  const host = req.headers.host ?? '';
  hits.set(host, (hits.get(host) ?? 0) + 1);
}

const siteHandler = hits === undefined
  ? (req, res) => { res.end(BODY); }
  : (req, res) => { count(req); res.end(BODY); };

function readSites() {
  return JSON.parse(readFileSync(join(dir, 'sites.json'), 'utf8'));
}

/** The build to measure: this checkout's, or another's (HOSTMUX_BENCH_DIST, to compare two). */
const DIST = process.env.HOSTMUX_BENCH_DIST ? pathToFileURL(process.env.HOSTMUX_BENCH_DIST).href : '../../dist/index.js';

/** The hostmux application, for {type: 'reload'} (the soak's reload of a large tree). */
let app;

/** Messages the counting subscriber got (HOSTMUX_BENCH_DIAGNOSTICS=1); undefined when not subscribed. */
let published;

async function hostmuxListener(treeDir = dir) {
  const { createApplication, diagnosticsChannels } = await import(DIST);
  if (process.env.HOSTMUX_BENCH_DIAGNOSTICS === '1') {
    const { subscribe } = await import('node:diagnostics_channel');
    published = 0;
    const onMessage = () => { published++; };
    for (const name of Object.values(diagnosticsChannels)) subscribe(name, onMessage);
  }
  app = createApplication(treeDir);
  return app;
}

async function expressListener() {
  const { default: express } = await import('express');
  const { default: vhost } = await import('vhost');
  const app = express();
  // Neither is sent by the other servers.
  app.disable('x-powered-by');
  app.disable('etag');
  for (const site of readSites()) {
    // vhost's `*` is one label, as ours is; `**.x` (x itself and any depth
    // below) has no vhost string form, but vhost takes a RegExp: the exact
    // equivalent, one vhost() all the same.
    const hostname = site.kind === 'globstar'
      ? new RegExp(`^(?:(.+)\\.)?${site.domain.slice(3).replaceAll('.', '\\.')}$`, 'i')
      : site.domain;
    app.use(vhost(hostname, siteHandler));
  }
  app.use((req, res) => { res.statusCode = 404; res.end('Not Found\n'); });
  return app;
}

async function fastifyServer() {
  const { default: Fastify } = await import('fastify');
  // Exact domains in one Map; `*.x` patterns in a Map by `x`, looked up with
  // the host minus its first label; `**.x` patterns in a Map by `x`, looked
  // up with the host and each of its suffixes. First exact, then `*.`, then
  // `**.` from the longest suffix: hostmux's precedence for this mix.
  const exact = new Map();
  const star = new Map();
  const globstar = new Map();
  for (const site of readSites()) {
    if (site.kind === 'exact') exact.set(site.domain, site);
    else if (site.kind === 'star') star.set(site.domain.slice(2), site);
    else globstar.set(site.domain.slice(3), site);
  }
  const lookup = (host) => {
    const hit = exact.get(host);
    if (hit !== undefined) return hit;
    const dot = host.indexOf('.');
    if (dot !== -1) {
      const starHit = star.get(host.slice(dot + 1));
      if (starHit !== undefined) return starHit;
    }
    for (let start = 0; ;) {
      const globHit = globstar.get(start === 0 ? host : host.slice(start));
      if (globHit !== undefined) return globHit;
      const next = host.indexOf('.', start);
      if (next === -1) return undefined;
      start = next + 1;
    }
  };
  const app = Fastify({ logger: false });
  app.all('*', (request, reply) => {
    const site = lookup(request.hostname.toLowerCase());
    if (site === undefined) return reply.code(404).send('Not Found\n');
    if (hits !== undefined) count(request.raw);
    return reply.send(BODY);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return app.server;
}

async function singleListener() {
  const { default: handler } = await import(pathToFileURL(dir).href);
  return handler;
}

/** `send` under bare node:http, with the options a static site of hostmux gives it by default. */
async function sendListener() {
  const { default: send } = await import('send');
  const options = { root: dir, index: 'index.html', dotfiles: 'ignore', etag: true, lastModified: true, cacheControl: false };
  const onError = function (err) {
    this.res.statusCode = err.status ?? 500;
    this.res.end();
  };
  return (req, res) => {
    const query = req.url.indexOf('?');
    send(req, query === -1 ? req.url : req.url.slice(0, query), options).on('error', onError).pipe(res);
  };
}

async function start() {
  if (kind === 'fastify') return fastifyServer();
  const listener = kind === 'bare' ? siteHandler
    : kind === 'hostmux' ? await hostmuxListener()
    : kind === 'limits' ? await hostmuxListener(join(dir, 'limits'))
    : kind === 'nometrics' ? await hostmuxListener(join(dir, 'nometrics'))
    : kind === 'express' ? await expressListener()
    : kind === 'single' ? await singleListener()
    : kind === 'send' ? await sendListener()
    : undefined;
  if (listener === undefined) throw new Error(`unknown server kind: ${kind}`);
  const server = http.createServer(listener);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** The inspector session of a profile, only ever opened by profile.ts. */
let session;

async function profiler(message) {
  if (message.type === 'profile-start') {
    const { Session } = await import('node:inspector/promises');
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: message.intervalUs ?? 100 });
    await session.post('Profiler.start');
    process.send({ type: 'profile-started' });
  } else {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    process.send({ type: 'profile', profile });
  }
}

const server = await start();
process.on('message', (message) => {
  if (message?.type === 'profile-start' || message?.type === 'profile-stop') {
    profiler(message).catch((err) => process.send({ type: 'error', message: String(err?.stack ?? err) }));
    return;
  }
  if (message?.type === 'reload') {
    const started = performance.now();
    app.reload().then(
      () => process.send({ type: 'reloaded', ms: performance.now() - started }),
      (err) => process.send({ type: 'error', message: String(err?.stack ?? err) }),
    );
    return;
  }
  if (message?.type !== 'stats') return;
  if (message.gc === true) globalThis.gc?.();
  process.send({
    type: 'stats',
    cpu: process.cpuUsage(),
    rss: process.memoryUsage.rss(),
    heap: process.memoryUsage().heapUsed,
    hits: hits === undefined ? undefined : Object.fromEntries(hits),
    published,
  });
});
// Stopped by pid: SIGTERM ends it at once; nothing here needs a clean close.
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
process.send({ type: 'listening', port: server.address().port });
