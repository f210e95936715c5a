// `serve`'s admin listener and the commands that talk to it (reload, status,
// stop, enable/disable --reload): real `hostmux serve --workers 2` processes,
// real HTTP, real unix sockets.
import assert from 'node:assert/strict';
import { lstatSync, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { listen, request, tempDir, writeTree } from './helpers.ts';
import { hostmux, serve, type Serving } from './serve-helpers.ts';
import { parseMetrics } from './helpers.ts';
import { spawn } from 'node:child_process';
import { once } from 'node:events';

/** Answers its site's name and the pid that served it. */
const APP = `
export function createHandler(site) {
  return (req, res) => {
    if (req.url === '/missing') { res.statusCode = 404; return void res.end('nope'); }
    if (req.url === '/slow') { res.write('started\\n'); return void setTimeout(() => res.end('finished\\n'), 800); }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ site: site.name, pid: process.pid }));
  };
}
`;

function tree(t: TestContext, conf: string, extra: Record<string, string | { link: string }> = {}): string {
  const dir = tempDir('hostmux-admin-');
  t.after(dir.remove);
  return writeTree(dir.path, {
    'hostmux.conf': conf,
    'sites/app.mjs': APP,
    'sites-available/alpha.ini': '[site]\ndomains = alpha.test\nhandler = ../sites/app.mjs\n',
    'sites-available/beta.ini': '[site]\ndomains = beta.test\nhandler = ../sites/app.mjs\n',
    'sites-available/copycat.ini': '[site]\ndomains = copy.test, alpha.test\nhandler = ../sites/app.mjs\n',
    'sites-enabled/alpha.ini': { link: '../sites-available/alpha.ini' },
    'sites-enabled/beta.ini': { link: '../sites-available/beta.ini' },
    ...extra,
  });
}

const LOOPBACK = '[admin]\nlisten = 127.0.0.1:0\n';

async function withAdmin(t: TestContext, dir: string, args: string[] = []): Promise<Serving & { admin: number }> {
  const server = await serve(t, ['-c', dir, '--workers', '2', ...args]);
  const admin = Number((await server.waitFor(/admin listening on http:\/\/127\.0\.0\.1:(\d+)/))[1]);
  return { ...server, admin };
}

async function pid(port: number, host: string, path = '/'): Promise<number> {
  const reply = await request(port, { host, path });
  return reply.status === 200 ? (JSON.parse(reply.body) as { pid: number }).pid : 0;
}

test('serve --workers 2: /metrics and /status count every request across both workers; health and readiness', async (t) => {
  const server = await withAdmin(t, tree(t, LOOPBACK));
  const pids = new Set<number>();
  // Fresh connections: the cluster spreads them over both workers.
  for (let i = 0; i < 30; i++) pids.add(await pid(server.port, 'alpha.test'));
  for (let i = 0; i < 12; i++) pids.add(await pid(server.port, 'beta.test'));
  for (let i = 0; i < 5; i++) await pid(server.port, 'beta.test', '/missing');
  assert.equal(pids.size, 2, 'both workers answered');

  const metrics = await request(server.admin, { path: '/metrics' });
  assert.equal(metrics.status, 200);
  const values = parseMetrics(metrics.body);
  assert.equal(values.get('hostmux_requests_total{site="alpha",class="2xx"}'), 30);
  assert.equal(values.get('hostmux_requests_total{site="beta",class="2xx"}'), 12);
  assert.equal(values.get('hostmux_requests_total{site="beta",class="4xx"}'), 5);
  assert.equal(values.get('hostmux_request_duration_seconds_count{site="alpha"}'), 30);
  assert.equal(values.get('hostmux_site_state{site="alpha",state="ready"}'), 2, 'ready in both workers');
  assert.equal(values.get('hostmux_reloads_total{result="ok"}'), 0);

  const status = JSON.parse((await request(server.admin, { path: '/status' })).body) as {
    workers: number; generation: number; sites: { name: string; state: string; requests: Record<string, number>; latency: { p99: number | null } }[];
  };
  assert.equal(status.workers, 2);
  assert.equal(status.generation, 1);
  assert.deepEqual(status.sites.map((s) => [s.name, s.state, s.requests.total, s.requests['4xx']]), [['alpha', 'ready', 30, 0], ['beta', 'ready', 17, 5]]);
  assert.ok(status.sites[0]!.latency.p99! > 0);
  assert.equal((await request(server.admin, { path: '/healthz' })).status, 200);
  assert.equal((await request(server.admin, { path: '/readyz' })).status, 200);
  // The admin listener is not a site: a site's host gets the admin's answers, and the sites' port no admin.
  assert.equal((await request(server.port, { host: 'alpha.test', path: '/status' })).status, 200);
  assert.equal((await request(server.port, { path: '/metrics' })).status, 404);

  // Counts survive a rolling reload: the old workers' counts are kept by the primary.
  const mark = server.log().length;
  server.child.kill('SIGHUP');
  await server.waitFor(/configuration reloaded/, mark);
  const after = parseMetrics((await request(server.admin, { path: '/metrics' })).body);
  // 30, and the /status request to alpha.test above.
  assert.equal(after.get('hostmux_requests_total{site="alpha",class="2xx"}'), 31);
  assert.equal(after.get('hostmux_reloads_total{result="ok"}'), 1);
  const again = JSON.parse((await request(server.admin, { path: '/status?site=beta' })).body) as typeof status;
  assert.equal(again.generation, 2);
  assert.deepEqual(again.sites.map((s) => [s.name, s.requests.total]), [['beta', 17]]);

  const stopped = await hostmux(['stop', '--admin', `127.0.0.1:${server.admin}`]);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stdout, /Stopping hostmux serve/);
  assert.equal(await server.exited, 0);
});

test('hostmux reload: 0 with what changed, 1 with every problem of a refused tree, 2 with no server', async (t) => {
  const dir = tree(t, LOOPBACK);
  const server = await withAdmin(t, dir);
  const at = `127.0.0.1:${server.admin}`;
  writeTree(dir, { 'sites-enabled/gamma.ini': '[site]\ndomains = gamma.test\nhandler = ../sites/app.mjs\n' });
  const taken = await hostmux(['reload', '-c', dir, '--admin', at]);
  assert.equal(taken.code, 0, taken.stderr);
  assert.equal(taken.stdout, 'Reloaded: added gamma; 2 kept.\n');
  assert.equal(await pid(server.port, 'gamma.test') > 0, true);

  writeTree(dir, { 'sites-enabled/bad.ini': '[site]\ndomains = gamma.test\nhandler = ../sites/app.mjs\ncolour = blue\n' });
  const refused = await hostmux(['reload', '-c', dir, '--admin', at]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /reload refused, the previous configuration keeps serving; 2 configuration problems:/);
  assert.match(refused.stderr, /^ {2}sites-enabled\/bad\.ini:4 \[site\] colour: unknown key/m);
  // bad.ini sorts before gamma.ini, yet the problem is the newcomer's.
  assert.match(refused.stderr, /^ {2}sites-enabled\/bad\.ini \[site\] domains: "gamma\.test" is already claimed by site gamma/m);
  assert.equal(await pid(server.port, 'gamma.test') > 0, true, 'the previous configuration serves');
  const status = JSON.parse((await request(server.admin, { path: '/status' })).body) as { reload: { ok: boolean; error: string } };
  assert.equal(status.reload.ok, false);

  // Nothing listens there any more.
  const closed = await listen(() => {});
  await closed.close();
  const nobody = await hostmux(['reload', '-c', dir, '--admin', `127.0.0.1:${closed.port}`]);
  assert.equal(nobody.code, 2);
  assert.match(nobody.stderr, /no hostmux serve answered at http:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/);
  // No admin listener configured, none given.
  const none = await hostmux(['status', '-c', tree(t, '')]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /has no \[admin\] listen/);
});

test('hostmux status: a table, --json, --site; control characters in what the server says are escaped', async (t) => {
  const dir = tree(t, LOOPBACK);
  const server = await withAdmin(t, dir);
  const at = `127.0.0.1:${server.admin}`;
  for (let i = 0; i < 3; i++) await pid(server.port, 'alpha.test');
  const table = await hostmux(['status', '-c', dir, '--admin', at]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^hostmux at http:\/\/127\.0\.0\.1:\d+: up \d+ s, 2 workers, generation 1, last reload none$/m);
  assert.match(table.stdout, /^SITE +STATE +REQUESTS +4XX +5XX +IN FLIGHT +P99 MS +DOMAINS$/m);
  assert.match(table.stdout, /^alpha +ready +3 +0 +0 +0 +[\d.]+ +alpha\.test$/m);
  assert.match(table.stdout, /^beta +ready +0 +0 +0 +0 +- +beta\.test$/m);
  const one = await hostmux(['status', '-c', dir, '--admin', at, '--json', '--site', 'alpha']);
  assert.deepEqual((JSON.parse(one.stdout) as { sites: { name: string }[] }).sites.map((s) => s.name), ['alpha']);
  const unknown = await hostmux(['status', '-c', dir, '--admin', at, '--site', 'nope\u001b[31m']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no site nope\\x1b\[31m in the running configuration/);
});

test('enable refuses a site that would take another\'s domain, names it, changes nothing; --force does; --reload reports the result', async (t) => {
  const dir = tree(t, LOOPBACK);
  const link = join(dir, 'sites-enabled', 'copycat.ini');
  const refused = await hostmux(['enable', '-c', dir, 'copycat']);
  assert.equal(refused.code, 1);
  // The problem is the new site's: named by its own file.
  assert.match(refused.stderr, /sites-enabled\/copycat\.ini \[site\] domains: "alpha\.test" is already claimed by site alpha \(sites-enabled\/alpha\.ini\)/);
  assert.match(refused.stderr, /nothing was changed/);
  assert.equal(existsSync(link), false);
  assert.equal(refused.stdout, '');

  // A site that sorts before the one it collides with is still the one named.
  writeTree(dir, { 'sites-available/aaa.ini': '[site]\ndomains = beta.test\nhandler = ../sites/app.mjs\n' });
  const first = await hostmux(['enable', '-c', dir, 'aaa']);
  assert.equal(first.code, 1);
  assert.match(first.stderr, /sites-enabled\/aaa\.ini \[site\] domains: "beta\.test" is already claimed by site beta/);
  assert.equal(existsSync(join(dir, 'sites-enabled', 'aaa.ini')), false);

  // disable is checked too: default_site must still name an enabled site.
  writeTree(dir, { 'hostmux.conf': `[server]\ndefault_site = beta\n${LOOPBACK}` });
  const orphan = await hostmux(['disable', '-c', dir, 'beta']);
  assert.equal(orphan.code, 1);
  assert.match(orphan.stderr, /default_site: names no enabled site: "beta"/);
  assert.ok(lstatSync(join(dir, 'sites-enabled', 'beta.ini')).isSymbolicLink());
  writeTree(dir, { 'hostmux.conf': LOOPBACK });

  const server = await withAdmin(t, dir);
  const forced = await hostmux(['enable', '-c', dir, 'copycat', '--force', '--reload', '--admin', `127.0.0.1:${server.admin}`]);
  assert.equal(forced.code, 1, 'the link is made, the reload refused');
  assert.ok(lstatSync(link).isSymbolicLink());
  assert.match(forced.stdout, /^Site copycat enabled\.$/m);
  assert.match(forced.stderr, /reload refused, the previous configuration keeps serving/);

  const disabled = await hostmux(['disable', '-c', dir, 'copycat', '--reload', '--admin', `127.0.0.1:${server.admin}`]);
  assert.equal(disabled.code, 0, disabled.stderr);
  assert.match(disabled.stdout, /^Reloaded: 2 kept\.$/m);
});

test('admin listener: a token guards every request; a non-loopback address needs one; POSTs from other sites are refused', async (t) => {
  const dir = tree(t, '[admin]\nlisten = 127.0.0.1:0\ntoken = s3cret-token\n');
  const server = await withAdmin(t, dir);
  assert.equal((await request(server.admin, { path: '/status' })).status, 401);
  const auth = { authorization: 'Bearer s3cret-token' };
  assert.equal((await request(server.admin, { path: '/status', headers: auth })).status, 200);
  // The command reads the token from hostmux.conf.
  const status = await hostmux(['status', '-c', dir, '--admin', `127.0.0.1:${server.admin}`]);
  assert.equal(status.code, 0, status.stderr);
  const post = (headers: http.OutgoingHttpHeaders) => request(server.admin, { path: '/reload', method: 'POST', headers: { ...auth, ...headers } });
  assert.equal((await post({ origin: 'https://evil.test' })).status, 403);
  assert.equal((await post({ 'sec-fetch-site': 'cross-site' })).status, 403);
  assert.equal((await post({})).status, 200);

  const open = await hostmux(['serve', '-c', tree(t, '[admin]\nlisten = 0.0.0.0:0\n'), '--port', '0']);
  assert.equal(open.code, 1);
  assert.match(open.stderr, /hostmux\.conf:2 \[admin\] listen: 0\.0\.0\.0 is not a loopback address: set \[admin\] token/);
  const flag = await hostmux(['serve', '-c', tree(t, ''), '--port', '0', '--workers', '1', '--admin', '0.0.0.0:0']);
  assert.equal(flag.code, 1);
  assert.match(flag.stderr, /cannot start the admin listener: 0\.0\.0\.0 is not a loopback address/);
  const bad = await hostmux(['serve', '-c', tree(t, ''), '--admin', 'nowhere']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--admin: "nowhere" is not HOST:PORT/);
});

test('admin listener on a unix socket: mode 0600, a stale socket file is replaced, the commands reach it', async (t) => {
  const sockets = tempDir('hostmux-sock-');
  t.after(sockets.remove);
  const path = join(sockets.path, 'admin.sock');
  const dir = tree(t, `[admin]\nlisten = unix:${path}\n`);
  // A socket file left by a server that was killed (closing would have removed it).
  const dead = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(dead.stdout, 'data');
  dead.kill('SIGKILL');
  await once(dead, 'exit');
  assert.ok(lstatSync(path).isSocket(), 'the stale socket file is there');
  const server = await serve(t, ['-c', dir, '--workers', '2']);
  await server.waitFor(/admin listening on unix:/);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  await pid(server.port, 'alpha.test');
  const status = await hostmux(['status', '-c', dir, '--json']);
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { sites: { requests: { total: number } }[] }).sites[0]!.requests.total, 1);
  const stopped = await hostmux(['stop', '-c', dir]);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal(await server.exited, 0);
});

test('serve --in-process: the same admin listener, for the one process', async (t) => {
  const dir = tree(t, '');
  const server = await serve(t, ['-c', dir, '--in-process', '--admin', '127.0.0.1:0']);
  const admin = Number((await server.waitFor(/admin listening on http:\/\/127\.0\.0\.1:(\d+)/))[1]);
  await pid(server.port, 'alpha.test');
  const status = JSON.parse((await request(admin, { path: '/status?site=alpha' })).body) as { workers: number; sites: { requests: { total: number } }[] };
  assert.equal(status.workers, 1);
  assert.equal(status.sites[0]!.requests.total, 1);
  writeTree(dir, { 'sites-enabled/gamma.ini': '[site]\ndomains = gamma.test\nhandler = ../sites/app.mjs\n' });
  const mark = server.log().length;
  const reloaded = await hostmux(['reload', '-c', dir, '--admin', `127.0.0.1:${admin}`]);
  assert.equal(reloaded.stdout, 'Reloaded: added gamma; 2 kept.\n');
  // The same reload as SIGHUP's: logged (and told to systemd), not a quiet one of its own.
  await server.waitFor(/INFO root: configuration reloaded: added gamma; 2 kept/, mark);
  assert.equal((await hostmux(['stop', '-c', dir, '--admin', `127.0.0.1:${admin}`])).code, 0);
  assert.equal(await server.exited, 0);
});

test('POST /stop twice is one stop: a request in flight still finishes, exit 0; the listener holds at most 64 connections', { timeout: 60_000 }, async (t) => {
  const server = await withAdmin(t, tree(t, LOOPBACK));
  const sockets: net.Socket[] = [];
  t.after(() => sockets.forEach((socket) => socket.destroy()));
  for (let i = 0; i < 64; i++) {
    const socket = net.connect(server.admin, '127.0.0.1');
    sockets.push(socket);
    await once(socket, 'connect');
  }
  // The 65th is accepted by the kernel and closed by the server at once (a FIN, or a reset on a busy machine).
  const extra = net.connect(server.admin, '127.0.0.1');
  sockets.push(extra);
  await new Promise((resolve) => extra.on('error', () => {}).on('close', resolve));
  sockets.forEach((socket) => socket.destroy());
  // The server counts the closed ones down as it sees them go: until then a new connection is still one too many.
  for (let i = 0; ; i++) {
    const answered = await request(server.admin, { path: '/healthz' }).then(() => true, () => false);
    if (answered) break;
    assert.ok(i < 200, 'the listener takes connections again once the 64 are closed');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const slow = new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: server.port, path: '/slow', headers: { host: 'alpha.test' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
      // Cut off: 'close' without 'end' (after 'end', rejecting changes nothing).
      res.on('close', () => reject(new Error(`cut off after ${JSON.stringify(body)}`)));
    }).on('error', reject);
  });
  // Wait until the slow response has begun.
  for (let i = 0; i < 100; i++) {
    const status = JSON.parse((await request(server.admin, { path: '/status?site=alpha' })).body) as { sites: { inFlight: number }[] };
    if (status.sites[0]!.inFlight === 1) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const first = await request(server.admin, { path: '/stop', method: 'POST' });
  assert.equal(first.status, 202);
  // The listener may already be closing: a second POST either gets 202 or finds it gone.
  await request(server.admin, { path: '/stop', method: 'POST' }).catch(() => undefined);
  assert.equal(await slow, 'started\nfinished\n');
  assert.equal(await server.exited, 0);
});
