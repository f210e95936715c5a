// Per-site statistics (app.stats()) and the embedded admin handler
// (hostmux/admin), through real node:http and Express servers on port 0.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test, type TestContext } from 'node:test';
import express from 'express';
import { createApplication, type Application } from '../src/index.ts';
import { createAdminHandler } from '../src/admin/index.ts';
import { captureLogger, listen, parseMetrics, request, tempDir, writeTree, type LogRecord } from './helpers.ts';

const SITE = `
const held = [];
globalThis.releaseHeld = () => { for (const res of held.splice(0)) res.end('released\\n'); };
export default (req, res) => {
  if (req.url === '/hold') return void held.push(res);
  if (req.url === '/missing') { res.statusCode = 404; return void res.end('nope\\n'); }
  if (req.url === '/throw') throw new Error('the handler <b>broke</b>');
  if (req.url === '/moved') { res.writeHead(301, { location: '/' }); return void res.end(); }
  res.end('hello\\n');
};
`;

function tree(t: TestContext, extra: Record<string, string> = {}): string {
  const dir = tempDir('hostmux-stats-');
  t.after(dir.remove);
  return writeTree(dir.path, {
    'sites/site.mjs': SITE,
    'sites-enabled/a.ini': '[site]\ndomains = a.test\nhandler = ../sites/site.mjs\n',
    'sites-enabled/b.ini': '[site]\ndomains = b.test\nhandler = ../sites/site.mjs\n',
    'sites-enabled/c.ini': '[site]\ndomains = c.test\nredirect = https://example.test\n',
    ...extra,
  });
}

function make(t: TestContext, dir: string, records: LogRecord[] = []): Application {
  const app = createApplication(dir, { logger: captureLogger(records) });
  t.after(() => app.close());
  return app;
}

async function serve(t: TestContext, handler: http.RequestListener): Promise<number> {
  const running = await listen(handler);
  t.after(running.close);
  return running.port;
}

function site(app: Application, name: string) {
  const found = app.stats().sites.find((each) => each.name === name);
  assert.ok(found, `no site ${name}`);
  return found;
}

test('stats: requests by status class, bytes, latency and the last error, per site; an idle site has none', async (t) => {
  const app = make(t, tree(t));
  const port = await serve(t, app);
  for (const path of ['/', '/', '/missing', '/moved', '/throw']) await request(port, { host: 'a.test', path });
  await request(port, { host: 'c.test' });
  const a = site(app, 'a');
  assert.deepEqual(a.requests, { total: 5, '1xx': 0, '2xx': 2, '3xx': 1, '4xx': 1, '5xx': 1 });
  assert.equal(a.state, 'ready');
  assert.equal(a.kind, 'module');
  assert.deepEqual(a.domains, ['a.test']);
  assert.equal(a.inFlight, 0);
  // 'hello\n' twice, 'nope\n', and the 500's own body.
  assert.ok(a.bytesSent >= 2 * 6 + 5, String(a.bytesSent));
  assert.ok(a.latency.p50 !== null && a.latency.p50 > 0 && a.latency.p99! >= a.latency.p50);
  assert.match(a.lastError!.message, /site a: the handler failed/);
  assert.ok(Math.abs(Date.parse(a.lastError!.time) - Date.now()) < 60_000);
  assert.deepEqual(site(app, 'c').requests['3xx'], 1);
  const b = site(app, 'b');
  assert.deepEqual(b.requests, { total: 0, '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 });
  assert.deepEqual(b.latency, { p50: null, p95: null, p99: null });
  assert.equal(b.state, 'idle');
  assert.equal(b.lastError, null);
  assert.equal(app.stats().generation, 1);
  assert.equal(app.stats().reload, null);
  assert.ok(app.stats().uptime >= 0);
});

test('stats: in flight while a request waits; a client that leaves first counts as 4xx', async (t) => {
  const app = make(t, tree(t));
  const port = await serve(t, app);
  const held = request(port, { host: 'a.test', path: '/hold' });
  for (let i = 0; i < 200 && site(app, 'a').inFlight === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(site(app, 'a').inFlight, 1);
  (globalThis as { releaseHeld?: () => void }).releaseHeld!();
  await held;
  assert.equal(site(app, 'a').inFlight, 0);
  // A client that goes away before any answer.
  await new Promise<void>((resolve) => {
    const req = http.get({ port, host: '127.0.0.1', path: '/hold', headers: { host: 'a.test' } });
    req.on('error', () => {});
    const poll = setInterval(() => {
      if (site(app, 'a').inFlight === 1) {
        clearInterval(poll);
        req.destroy();
        const gone = setInterval(() => {
          if (site(app, 'a').inFlight === 0) {
            clearInterval(gone);
            resolve();
          }
        }, 10);
      }
    }, 10);
  });
  assert.equal(site(app, 'a').requests['4xx'], 1);
  (globalThis as { releaseHeld?: () => void }).releaseHeld!();
});

test('stats: a reload keeps the counts of a changed site, counts the generation and records a refusal', async (t) => {
  const dir = tree(t);
  const app = make(t, dir);
  const port = await serve(t, app);
  await request(port, { host: 'a.test' });
  writeTree(dir, { 'sites-enabled/a.ini': '[site]\ndomains = a.test, www.a.test\nhandler = ../sites/site.mjs\n' });
  await app.reload();
  await request(port, { host: 'www.a.test' });
  assert.equal(site(app, 'a').requests.total, 2, 'the reloaded site kept its count');
  assert.equal(app.stats().generation, 2);
  assert.deepEqual({ ...app.stats().reload, at: undefined }, { at: undefined, ok: true, added: [], removed: [], reloaded: ['a'], kept: ['b', 'c'] });
  writeTree(dir, { 'sites-enabled/d.ini': '[site]\ndomains = a.test\nredirect = https://example.test\n' });
  await assert.rejects(app.reload());
  const refused = app.stats().reload!;
  assert.equal(refused.ok, false);
  assert.match(refused.error!, /configuration problem/);
  assert.equal(app.stats().generation, 2);
});

test('admin handler: status, one site, metrics parsed back, health, readiness', async (t) => {
  const app = make(t, tree(t));
  const admin = createAdminHandler(app, { path: '/_hostmux' });
  const port = await serve(t, (req, res) => admin(req, res, () => app(req, res)));
  for (let i = 0; i < 3; i++) await request(port, { host: 'a.test' });
  await request(port, { host: 'b.test', path: '/missing' });
  const status = await request(port, { path: '/_hostmux/status' });
  assert.equal(status.status, 200);
  assert.match(String(status.headers['content-type']), /^application\/json/);
  const document = JSON.parse(status.body) as { workers: number; generation: number; sites: { name: string; requests: { total: number } }[] };
  assert.equal(document.workers, 1);
  assert.deepEqual(document.sites.map((s) => [s.name, s.requests.total]), [['a', 3], ['b', 1], ['c', 0]]);
  const one = JSON.parse((await request(port, { path: '/_hostmux/status?site=b' })).body) as typeof document;
  assert.deepEqual(one.sites.map((s) => s.name), ['b']);
  assert.equal((await request(port, { path: '/_hostmux/status?site=nope' })).status, 404);

  const metrics = await request(port, { path: '/_hostmux/metrics' });
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers['content-type']!, /^text\/plain; version=0\.0\.4/);
  const values = parseMetrics(metrics.body);
  assert.equal(values.get('hostmux_requests_total{site="a",class="2xx"}'), 3);
  assert.equal(values.get('hostmux_requests_total{site="b",class="4xx"}'), 1);
  assert.equal(values.get('hostmux_request_duration_seconds_count{site="a"}'), 3);
  assert.equal(values.get('hostmux_request_duration_seconds_bucket{le="+Inf",site="a"}'), 3);
  assert.equal(values.get('hostmux_site_state{site="a",state="ready"}'), 1);
  assert.equal(values.get('hostmux_site_state{site="c",state="ready"}'), 1);
  assert.equal(values.get('hostmux_reloads_total{result="ok"}'), 0);
  assert.ok(values.has('process_cpu_user_seconds_total'), 'the default process metrics');
  assert.equal((await request(port, { path: '/_hostmux/healthz' })).status, 200);
  assert.equal((await request(port, { path: '/_hostmux/readyz' })).status, 200);
  // Outside its path, the handler hands over: the site answers.
  assert.equal((await request(port, { host: 'a.test', path: '/status' })).body, 'hello\n');
  // The bare prefix is redirected to the page with its slash.
  const bare = await request(port, { path: '/_hostmux' });
  assert.deepEqual([bare.status, bare.headers.location], [308, '/_hostmux/']);
  const page = await request(port, { path: '/_hostmux/' });
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
  assert.equal((await request(port, { path: '/_hostmux/status', method: 'DELETE' })).status, 405);
});

test('admin handler: POST /reload answers the result, or 422 with every problem; POST /stop calls stop', async (t) => {
  const dir = tree(t);
  const app = make(t, dir);
  let stopped = 0;
  const admin = createAdminHandler(app, { stop: () => stopped++ });
  const port = await serve(t, admin);
  writeTree(dir, { 'sites-enabled/d.ini': '[site]\ndomains = d.test\nredirect = https://example.test\n' });
  const taken = await request(port, { path: '/reload', method: 'POST' });
  assert.equal(taken.status, 200);
  assert.deepEqual(JSON.parse(taken.body), { added: ['d'], removed: [], reloaded: [], kept: ['a', 'b', 'c'] });
  writeTree(dir, { 'sites-enabled/e.ini': '[site]\ndomains = d.test\nredirect = https://example.test\nbogus = 1\n' });
  const refused = await request(port, { path: '/reload', method: 'POST' });
  assert.equal(refused.status, 422);
  const body = JSON.parse(refused.body) as { problems: { file: string; key?: string; message: string }[] };
  assert.ok(body.problems.length >= 2, refused.body);
  assert.ok(body.problems.every((p) => p.file === 'sites-enabled/e.ini'), refused.body);
  assert.ok(body.problems.some((p) => p.key === 'bogus'), refused.body);
  assert.equal((await request(port, { path: '/reload' })).status, 405);
  const stop = await request(port, { path: '/stop', method: 'POST' });
  assert.equal(stop.status, 202);
  assert.equal(stopped, 1);
});

test('admin handler: a token is needed on every request; POSTs from another site are refused', async (t) => {
  const app = make(t, tree(t));
  const admin = createAdminHandler(app, { token: 's3cret' });
  const port = await serve(t, admin);
  for (const path of ['/', '/status', '/metrics', '/healthz']) {
    const refused = await request(port, { path });
    assert.equal(refused.status, 401, path);
    assert.equal(refused.headers['www-authenticate'], 'Bearer realm="hostmux"');
    assert.equal((await request(port, { path, headers: { authorization: 'Bearer wrong' } })).status, 401, path);
    assert.equal((await request(port, { path, headers: { authorization: 'Bearer s3cret' } })).status, 200, path);
  }
  const auth = { authorization: 'Bearer s3cret' };
  const post = (headers: http.OutgoingHttpHeaders) => request(port, { path: '/reload', method: 'POST', headers: { ...auth, ...headers } });
  assert.equal((await post({ origin: 'http://evil.test' })).status, 403);
  assert.equal((await post({ origin: 'null' })).status, 403);
  assert.equal((await post({ 'sec-fetch-site': 'cross-site' })).status, 403);
  assert.equal((await post({ 'sec-fetch-site': 'same-site' })).status, 403);
  assert.equal((await post({ origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' })).status, 200);
  assert.equal((await post({})).status, 200, 'a command-line client sends neither');
});

test('admin handler: mounted under Express at /admin, the bare mount path redirects relatively', async (t) => {
  const app = make(t, tree(t));
  const server = express();
  server.use('/admin', createAdminHandler(app));
  server.use(app);
  const port = await serve(t, server);
  await request(port, { host: 'a.test' });
  const status = JSON.parse((await request(port, { path: '/admin/status?site=a' })).body) as { sites: { requests: { total: number } }[] };
  assert.equal(status.sites[0]!.requests.total, 1);
  const bare = await request(port, { path: '/admin' });
  assert.deepEqual([bare.status, bare.headers.location], [308, './admin/']);
  // A path that would make a protocol-relative Location stays on this host.
  const sneaky = await request(port, { path: '//evil.test/admin' });
  assert.ok(sneaky.headers.location === undefined || sneaky.headers.location.startsWith('./'), sneaky.headers.location);
  assert.equal((await request(port, { host: 'a.test', path: '/' })).body, 'hello\n');
});

test('createAdminHandler refuses what is not an application', () => {
  assert.throws(() => createAdminHandler((() => {}) as unknown as Application), TypeError);
});

test('metrics = off: nothing is counted, the states are still told', async (t) => {
  const dir = tree(t, { 'hostmux.conf': '[server]\nmetrics = off\n' });
  const app = make(t, dir);
  const port = await serve(t, app);
  await request(port, { host: 'a.test' });
  const a = site(app, 'a');
  assert.equal(a.requests.total, 0);
  assert.equal(a.state, 'ready');
  // Turned on by a reload: counting starts.
  writeTree(dir, { 'hostmux.conf': '[server]\nmetrics = on\n' });
  await app.reload();
  await request(port, { host: 'a.test' });
  assert.equal(site(app, 'a').requests.total, 1);
});
