// app.reload() (README: Reloading). Real servers, real trees on disk, real module files.
import assert from 'node:assert/strict';
import http from 'node:http';
import { renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, createApplication } from '../src/index.ts';
import { captureLogger, listen, request, tempDir, writeTree } from './helpers.ts';

type Events = string[];
const events = ((globalThis as { __hostmuxReloadEvents?: Events }).__hostmuxReloadEvents ??= []);

/** A module answering `text` plus how many requests this instance has served; close() is recorded. */
function counterModule(id: string, text: string): string {
  return `let served = 0;
export default function (req, res) {
  served++;
  res.end(${JSON.stringify(text)} + ' ' + served);
}
export function close() { globalThis.__hostmuxReloadEvents.push('close ${id}'); }
`;
}

function siteFile(domains: string, handler: string, extra = ''): string {
  return `[site]\ndomains = ${domains}\nhandler = ${handler}\n${extra}`;
}

/** Resolves once `event` was recorded; polling, with a generous deadline as a hang guard only. */
async function until(event: string): Promise<void> {
  for (const deadline = Date.now() + 15_000; !events.includes(event);) {
    if (Date.now() > deadline) assert.fail(`"${event}" never happened`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The function a held request's handler stored under `key`, which ends it; waits for the handler to have run. */
async function held(key: string): Promise<() => void> {
  const global = globalThis as Record<string, unknown>;
  await until(`start ${key}`);
  return global[key] as () => void;
}

function setup(t: { after(fn: () => unknown): void }) {
  const dir = tempDir();
  t.after(dir.remove);
  return dir;
}

test('a reload adds a new site, and app.sites shows it', async (t) => {
  const dir = setup(t);
  writeTree(dir.path, {
    'sites/a.mjs': counterModule('a', 'a'),
    'sites/b.mjs': counterModule('b', 'b'),
    'sites-enabled/a.ini': siteFile('a.test', '../sites/a.mjs'),
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => app.close());
  const server = await listen(app);
  t.after(server.close);
  assert.equal((await request(server.port, { host: 'b.test' })).status, 404);
  writeTree(dir.path, { 'sites-enabled/b.ini': siteFile('b.test', '../sites/b.mjs') });
  const result = await app.reload();
  assert.deepEqual(result, { added: ['b'], removed: [], reloaded: [], kept: ['a'] });
  assert.equal((await request(server.port, { host: 'b.test' })).body, 'b 1');
  assert.deepEqual(app.sites.map((s) => s.name), ['a', 'b']);
  assert.equal(app.match('b.test')?.site, 'b');
});

test('a removed site finishes its in-flight request, then its close() runs', async (t) => {
  const dir = setup(t);
  const id = `slow-${process.pid}-${Date.now()}`;
  writeTree(dir.path, {
    'sites/slow.mjs': `
export default function (req, res) {
  // Held until the test releases it, however long the reload takes on a busy machine.
  globalThis['${id}'] = () => { globalThis.__hostmuxReloadEvents.push('end ${id}'); res.end('slow done'); };
  globalThis.__hostmuxReloadEvents.push('start ${id}');
}
export function close() { globalThis.__hostmuxReloadEvents.push('close ${id}'); }
`,
    'sites-enabled/slow.ini': siteFile('slow.test', '../sites/slow.mjs'),
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => app.close());
  const server = await listen(app);
  t.after(server.close);
  const pending = request(server.port, { host: 'slow.test' });
  const release = await held(id);
  unlinkSync(join(dir.path, 'sites-enabled/slow.ini'));
  const result = await app.reload();
  assert.deepEqual(result.removed, ['slow']);
  // The new configuration already serves: the host is gone.
  assert.equal((await request(server.port, { host: 'slow.test' })).status, 404);
  assert.equal(events.includes(`close ${id}`), false, 'close() must wait for the in-flight request');
  release();
  const reply = await pending;
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'slow done');
  while (!events.includes(`close ${id}`)) await new Promise((r) => setTimeout(r, 10));
  const mine = events.filter((e) => e.endsWith(id));
  assert.deepEqual(mine, [`start ${id}`, `end ${id}`, `close ${id}`]);
});

test('a changed ES module answers with its new code; the old instance is closed', async (t) => {
  const dir = setup(t);
  const id = `esm-${process.pid}-${Date.now()}`;
  writeTree(dir.path, {
    'sites/app.mjs': counterModule(`${id} v1`, 'v1'),
    'sites-enabled/app.ini': siteFile('app.test', '../sites/app.mjs'),
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => app.close());
  const server = await listen(app);
  t.after(server.close);
  assert.equal((await request(server.port, { host: 'app.test' })).body, 'v1 1');
  writeFileSync(join(dir.path, 'sites/app.mjs'), counterModule(`${id} v2`, 'v2'));
  assert.deepEqual(await app.reload(), { added: [], removed: [], reloaded: ['app'], kept: [] });
  assert.equal((await request(server.port, { host: 'app.test' })).body, 'v2 1');
  while (!events.includes(`close ${id} v1`)) await new Promise((r) => setTimeout(r, 10));
  // Changed twice: each reload needs a URL import() has not cached.
  writeFileSync(join(dir.path, 'sites/app.mjs'), counterModule(`${id} v3`, 'v3'));
  await app.reload();
  assert.equal((await request(server.port, { host: 'app.test' })).body, 'v3 1');
});

test('a changed CommonJS module answers with its new code, its local require()s too', async (t) => {
  const dir = setup(t);
  writeTree(dir.path, {
    'sites/cjs/app.cjs': `const word = require('./word.cjs');\nmodule.exports = (req, res) => res.end(word);\n`,
    'sites/cjs/word.cjs': `module.exports = 'first';\n`,
    'sites-enabled/cjs.ini': siteFile('cjs.test', '../sites/cjs/app.cjs'),
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => app.close());
  const server = await listen(app);
  t.after(server.close);
  assert.equal((await request(server.port, { host: 'cjs.test' })).body, 'first');
  writeTree(dir.path, {
    'sites/cjs/app.cjs': `const word = require('./word.cjs');\nmodule.exports = (req, res) => res.end('new ' + word);\n`,
    'sites/cjs/word.cjs': `module.exports = 'second';\n`,
  });
  assert.deepEqual((await app.reload()).reloaded, ['cjs']);
  assert.equal((await request(server.port, { host: 'cjs.test' })).body, 'new second');
});

test('an unchanged site keeps its loaded instance and its state', async (t) => {
  const dir = setup(t);
  writeTree(dir.path, {
    'sites/keep.mjs': counterModule('keep', 'keep'),
    'sites/other.mjs': counterModule('other', 'other'),
    'sites-enabled/keep.ini': siteFile('keep.test', '../sites/keep.mjs'),
    'sites-enabled/other.ini': siteFile('other.test', '../sites/other.mjs'),
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => app.close());
  const server = await listen(app);
  t.after(server.close);
  assert.equal((await request(server.port, { host: 'keep.test' })).body, 'keep 1');
  assert.equal((await request(server.port, { host: 'keep.test' })).body, 'keep 2');
  // Another site's file changes (its settings): only that one reloads.
  writeTree(dir.path, { 'sites-enabled/other.ini': siteFile('other.test', '../sites/other.mjs', '[extra]\nx = 1\n') });
  assert.deepEqual(await app.reload(), { added: [], removed: [], reloaded: ['other'], kept: ['keep'] });
  assert.equal((await request(server.port, { host: 'keep.test' })).body, 'keep 3');
  // A site file whose content is unchanged, rewritten, is still the same site.
  writeTree(dir.path, { 'sites-enabled/keep.ini': siteFile('keep.test', '../sites/keep.mjs') });
  assert.deepEqual((await app.reload()).kept, ['keep', 'other']);
  assert.equal((await request(server.port, { host: 'keep.test' })).body, 'keep 4');
});

test('a changed site file (its domains) gets a fresh instance and the new routing', async (t) => {
  const dir = setup(t);
  writeTree(dir.path, {
    'sites/d.mjs': counterModule('d', 'd'),
    'sites-enabled/d.ini': siteFile('old.test', '../sites/d.mjs'),
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => app.close());
  const server = await listen(app);
  t.after(server.close);
  assert.equal((await request(server.port, { host: 'old.test' })).body, 'd 1');
  writeTree(dir.path, { 'sites-enabled/d.ini': siteFile('new.test, *.new.test', '../sites/d.mjs') });
  assert.deepEqual((await app.reload()).reloaded, ['d']);
  assert.equal((await request(server.port, { host: 'old.test' })).status, 404);
  assert.equal((await request(server.port, { host: 'x.new.test' })).body, 'd 1');
  assert.deepEqual(app.sites[0]?.domains, ['new.test', '*.new.test']);
});

test('a broken tree is rejected with every problem, and the old configuration keeps serving', async (t) => {
  const dir = setup(t);
  writeTree(dir.path, {
    'sites/ok.mjs': counterModule('ok', 'ok'),
    'sites-enabled/ok.ini': siteFile('ok.test', '../sites/ok.mjs'),
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => app.close());
  const server = await listen(app);
  t.after(server.close);
  assert.equal((await request(server.port, { host: 'ok.test' })).body, 'ok 1');
  writeTree(dir.path, {
    'sites-enabled/bad.ini': '[site]\ndomains = ok.test\nhandler = ../sites/ok.mjs\nbogus = 1\n',
    'sites-enabled/worse.ini': '[site]\nhandler = x.mjs\n',
  });
  await assert.rejects(app.reload(), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(
      err.problems.map((p) => [p.file, p.key]),
      // bad.ini comes first in byte order, yet it is the one blamed for claiming ok.test: the reload adds it.
      [['sites-enabled/bad.ini', 'bogus'], ['sites-enabled/bad.ini', 'domains'], ['sites-enabled/worse.ini', 'domains']],
    );
    return true;
  });
  // Same instance, same routing.
  assert.equal((await request(server.port, { host: 'ok.test' })).body, 'ok 2');
  assert.deepEqual(app.sites.map((s) => s.name), ['ok']);
  // Fixed: the next reload goes through.
  rmSync(join(dir.path, 'sites-enabled/bad.ini'));
  rmSync(join(dir.path, 'sites-enabled/worse.ini'));
  assert.deepEqual(await app.reload(), { added: [], removed: [], reloaded: [], kept: ['ok'] });
});

test('reloads called together run one after another, each seeing the tree as it is', async (t) => {
  const dir = setup(t);
  writeTree(dir.path, {
    'sites/s.mjs': counterModule('s', 's'),
    'sites-enabled/s.ini': siteFile('s.test', '../sites/s.mjs'),
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => app.close());
  writeTree(dir.path, { 'sites-enabled/t.ini': siteFile('t.test', '../sites/s.mjs') });
  const [first, second] = await Promise.all([app.reload(), app.reload()]);
  assert.deepEqual(first.added, ['t']);
  assert.deepEqual(second, { added: [], removed: [], reloaded: [], kept: ['s', 't'] });
});

test('reloading in a loop while a client keeps requesting loses no request', async (t) => {
  const dir = setup(t);
  writeTree(dir.path, {
    'sites/loop.mjs': `export default (req, res) => setTimeout(() => res.end('ok'), Number(req.url.slice(1)) || 0);\n`,
    'sites-enabled/loop.ini': siteFile('loop.test', '../sites/loop.mjs'),
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => app.close());
  const server = await listen(app);
  t.after(server.close);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  t.after(() => agent.destroy());
  let done = false;
  let sent = 0;
  // Each reload waits for a reply after it, so that requests interleave with reloads however busy the machine is.
  let answered: (() => void) | undefined;
  const failures: string[] = [];
  const client = async () => {
    while (!done) {
      sent++;
      const reply = await new Promise<{ status: number; body: string }>((resolve) => {
        const req = http.request({ port: server.port, host: '127.0.0.1', path: `/${sent % 3}`, headers: { host: 'loop.test' }, agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
          res.on('error', (err) => resolve({ status: 0, body: err.message }));
        });
        req.on('error', (err) => resolve({ status: 0, body: err.message }));
        req.end();
      });
      if (reply.status !== 200 || reply.body !== 'ok') failures.push(`${reply.status} ${reply.body}`);
      answered?.();
    }
  };
  const clients = [client(), client(), client(), client()];
  // Alternate between two site files, so every reload replaces the site.
  const reloads = 40;
  for (let i = 0; i < reloads; i++) {
    writeTree(dir.path, { 'sites-enabled/loop.ini': siteFile('loop.test', '../sites/loop.mjs', `[round]\nn = ${i}\n`) });
    const result = await app.reload();
    assert.deepEqual(result.reloaded, ['loop']);
    await new Promise<void>((resolve) => (answered = resolve));
  }
  done = true;
  await Promise.all(clients);
  assert.ok(sent > reloads, `only ${sent} requests were sent`);
  assert.deepEqual(failures, []);
});

test('reload() after close() rejects', async (t) => {
  const dir = setup(t);
  writeTree(dir.path, { 'sites-enabled/.keep': '' });
  const app = createApplication(dir.path);
  await app.close();
  await assert.rejects(app.reload(), /closed/);
});

// The timeout guards against the hang this test is about; it is not a speed limit.
test('a module whose load never settles holds neither reload() nor close()', { timeout: 30_000 }, async (t) => {
  const dir = setup(t);
  const id = `stuck-${process.pid}-${Date.now()}`;
  writeTree(dir.path, {
    'sites/stuck.mjs': `export function createHandler() { globalThis.__hostmuxReloadEvents.push('start ${id}'); return new Promise(() => {}); }\n`,
    'sites/ok.mjs': counterModule('ok-stuck', 'ok'),
    'sites-enabled/stuck.ini': siteFile('stuck.test', '../sites/stuck.mjs'),
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  const server = await listen(app);
  t.after(server.close);
  // Starts the load that never ends; the request itself is abandoned.
  const pending = request(server.port, { host: 'stuck.test' }).catch(() => undefined);
  await until(`start ${id}`);
  writeTree(dir.path, { 'sites-enabled/ok.ini': siteFile('ok.test', '../sites/ok.mjs') });
  const result = await app.reload();
  assert.deepEqual(result, { added: ['ok'], removed: [], reloaded: [], kept: ['stuck'] });
  assert.equal((await request(server.port, { host: 'ok.test' })).body, 'ok 1');
  const started = Date.now();
  await app.close();
  // close() gives the load a bounded wait (5 s), not forever; the margin is for a busy machine.
  assert.ok(Date.now() - started < 15_000);
  await server.close();
  await pending;
});

test('a site whose load failed is loaded again by the next reload', async (t) => {
  const dir = setup(t);
  const marker = join(dir.path, 'db-down');
  writeTree(dir.path, {
    'db-down': '',
    'sites/flaky.mjs': `import { existsSync } from 'node:fs';
export function createHandler() {
  if (existsSync(${JSON.stringify(marker)})) throw new Error('the database is down');
  return (req, res) => res.end('up');
}
`,
    'sites-enabled/flaky.ini': siteFile('flaky.test', '../sites/flaky.mjs'),
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => app.close());
  const server = await listen(app);
  t.after(server.close);
  assert.equal((await request(server.port, { host: 'flaky.test' })).status, 503);
  rmSync(marker);
  assert.deepEqual((await app.reload()).reloaded, ['flaky']);
  assert.equal((await request(server.port, { host: 'flaky.test' })).body, 'up');
});

test('a request whose client left before hostmux ran does not hold a retired site open', async (t) => {
  const dir = setup(t);
  const id = `gone-${process.pid}-${Date.now()}`;
  writeTree(dir.path, {
    'sites/gone.mjs': `export default (req, res) => res.end('gone');\nexport function close() { globalThis.__hostmuxReloadEvents.push('close ${id}'); }\n`,
    'sites-enabled/gone.ini': siteFile('gone.test', '../sites/gone.mjs'),
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => app.close());
  await app.ready();
  const { default: express } = await import('express');
  // Middleware ahead of hostmux that takes its time: it hands the request on only once the client has left.
  let arrived!: () => void;
  const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
  let handedOn!: () => void;
  const reachedHostmux = new Promise<void>((resolve) => (handedOn = resolve));
  const web = express().use((req, _res, next) => {
    arrived();
    const go = () => {
      next();
      handedOn();
    };
    if (req.socket.destroyed) go();
    else req.socket.once('close', go);
  }).use(app);
  const server = await listen(http.createServer(web));
  t.after(server.close);
  const socket = (await import('node:net')).connect(server.port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write('GET / HTTP/1.1\r\nHost: gone.test\r\n\r\n');
  await requestArrived;
  socket.destroy();
  await reachedHostmux;
  unlinkSync(join(dir.path, 'sites-enabled/gone.ini'));
  assert.deepEqual((await app.reload()).removed, ['gone']);
  await until(`close ${id}`);
});

test('a proxy site is not kept across a reload that changes trust_proxy', async (t) => {
  const dir = setup(t);
  writeTree(dir.path, {
    'hostmux.conf': '[server]\ntrust_proxy = true\n',
    'sites-enabled/p.ini': '[site]\ndomains = p.test\nproxy = http://127.0.0.1:9\n',
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => app.close());
  assert.deepEqual((await app.reload()).kept, ['p']);
  writeTree(dir.path, { 'hostmux.conf': '[server]\ntrust_proxy = false\n' });
  assert.deepEqual((await app.reload()).reloaded, ['p']);
});

test('close() closes sites a reload retired that still have a request in flight', async (t) => {
  const dir = setup(t);
  const id = `retired-${process.pid}-${Date.now()}`;
  writeTree(dir.path, {
    'sites/r.mjs':
      `export default (req, res) => { globalThis['${id}'] = () => res.end('late'); globalThis.__hostmuxReloadEvents.push('start ${id}'); };\n` +
      `export function close() { globalThis.__hostmuxReloadEvents.push('close ${id}'); }\n`,
    'sites-enabled/r.ini': siteFile('r.test', '../sites/r.mjs'),
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  const server = await listen(app);
  t.after(server.close);
  await app.ready();
  const pending = request(server.port, { host: 'r.test' }).catch(() => undefined);
  const release = await held(id);
  unlinkSync(join(dir.path, 'sites-enabled/r.ini'));
  await app.reload();
  assert.equal(events.includes(`close ${id}`), false);
  // The request is still in flight when close() is called; it then finishes.
  const closing = app.close();
  release();
  await closing;
  assert.ok(events.includes(`close ${id}`), 'app.close() closed the retired site');
  await server.close();
  await pending;
});

test('ready() after close() rejects, whatever the kinds of site', async (t) => {
  const dir = setup(t);
  writeTree(dir.path, { 'sites-enabled/w.ini': '[site]\ndomains = w.test\nredirect = https://example.com\n' });
  const app = createApplication(dir.path);
  await app.close();
  await assert.rejects(app.ready(), /closed/);
});

test('pipelined requests still queued when their client leaves do not hold a retired site open', async (t) => {
  const dir = setup(t);
  const id = `queued-${process.pid}-${Date.now()}`;
  writeTree(dir.path, {
    // The first request is never answered, so the ones pipelined behind it wait in Node's queue.
    'sites/q.mjs':
      `export default (req, res) => { globalThis.__hostmuxReloadEvents.push('start ${id}'); };\n` +
      `export function close() { globalThis.__hostmuxReloadEvents.push('close ${id}'); }\n`,
    'sites-enabled/q.ini': siteFile('q.test', '../sites/q.mjs'),
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => app.close());
  await app.ready();
  let served = 0;
  let connection: import('node:net').Socket | undefined;
  const server = await listen((req, res) => {
    served++;
    connection = req.socket;
    app(req, res);
  });
  t.after(server.close);
  const socket = (await import('node:net')).connect(server.port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write('GET /1 HTTP/1.1\r\nHost: q.test\r\n\r\n'.repeat(3));
  await until(`start ${id}`);
  while (served < 3) await new Promise((r) => setImmediate(r));
  // Node never emits 'close' on a response that was still queued when its connection went away.
  const gone = new Promise((resolve) => connection!.once('close', resolve));
  socket.destroy();
  await gone;
  unlinkSync(join(dir.path, 'sites-enabled/q.ini'));
  assert.deepEqual((await app.reload()).removed, ['q']);
  await until(`close ${id}`);
});

test('a tree moved to a new directory (a release flipped by a symlink, a ConfigMap update): a site never imported follows it, an imported one with the same code is kept', async (t) => {
  const base = tempDir('hostmux-moved-');
  t.after(base.remove);
  const release = (name: string) => writeTree(join(base.path, name), {
    'sites/a.mjs': counterModule('a', 'a'),
    'sites/b.mjs': counterModule('b', 'b'),
    'sites-enabled/a.ini': siteFile('a.test', '../sites/a.mjs'),
    'sites-enabled/b.ini': siteFile('b.test', '../sites/b.mjs'),
  });
  release('v1');
  release('v2');
  const current = join(base.path, 'current');
  symlinkSync('v1', current);
  const app = createApplication(current, { logger: captureLogger() });
  t.after(() => app.close());
  const server = await listen(app);
  t.after(server.close);
  assert.equal((await request(server.port, { host: 'a.test' })).body, 'a 1');
  // The flip, and the old release removed, as a deploy (or the kubelet) does.
  symlinkSync('v2', join(base.path, 'current.tmp'));
  renameSync(join(base.path, 'current.tmp'), current);
  assert.deepEqual(await app.reload(), { added: [], removed: [], reloaded: ['b'], kept: ['a'] });
  rmSync(join(base.path, 'v1'), { recursive: true });
  // a kept its instance (the same code); b, never imported, imports from v2 rather than from the removed v1.
  assert.equal((await request(server.port, { host: 'a.test' })).body, 'a 2');
  assert.equal((await request(server.port, { host: 'b.test' })).body, 'b 1');
});
