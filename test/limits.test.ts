// Per-site limits (max_concurrent, max_body, timeout), the quarantine and
// the block warning, through a real node:http server on port 0.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { createApplication, ConfigError, type Application } from '../src/index.ts';
import { internalsOf } from '../src/internal.ts';
import { captureLogger, listen, rawRequestUntilClosed, request, statusOf, tempDir, writeTree, type LogRecord } from './helpers.ts';

/** Answers `/` at once; `/hold` when `release()` is called; `/never` never; `/head` sends its head and stalls; `/echo` returns the body's length; `/busy` spins 200 ms. */
const SITE = `
export const held = [];
globalThis.release = () => { for (const res of held.splice(0)) res.end('released\\n'); };
export default (req, res) => {
  if (req.url === '/hold') return void held.push(res);
  if (req.url === '/never') return;
  if (req.url === '/later') return void setTimeout(() => { res.writeHead(200); res.end('late\\n'); }, 300);
  if (req.url === '/head') { res.writeHead(200); res.write('head\\n'); return; }
  if (req.url === '/busy') { const end = Date.now() + 200; while (Date.now() < end); return void res.end('done\\n'); }
  if (req.url === '/echo') {
    let length = 0;
    req.on('data', (chunk) => (length += chunk.length));
    req.on('end', () => res.end(String(length)));
    return;
  }
  res.end('ok\\n');
};
`;

function app(t: TestContext, site: string, server = '', records: LogRecord[] = []): Application {
  const dir = tempDir('hostmux-limits-');
  t.after(dir.remove);
  writeTree(dir.path, {
    'hostmux.conf': `[server]\n${server}`,
    'sites/site.mjs': SITE,
    'sites-enabled/a.ini': `[site]\ndomains = a.test\nhandler = ../sites/site.mjs\n${site}`,
    'sites-enabled/b.ini': '[site]\ndomains = b.test\nhandler = ../sites/site.mjs\n',
  });
  const made = createApplication(dir.path, { logger: captureLogger(records) });
  t.after(() => made.close());
  return made;
}

async function serve(t: TestContext, made: Application): Promise<number> {
  const running = await listen(made);
  t.after(running.close);
  return running.port;
}

test('max_concurrent: the request beyond it gets 503 with Retry-After: 1, not a queue; the neighbour is untouched', async (t) => {
  const port = await serve(t, app(t, 'max_concurrent = 2\n'));
  const held = [request(port, { host: 'a.test', path: '/hold' }), request(port, { host: 'a.test', path: '/hold' })];
  // Once both are held, the third is refused.
  let refused;
  for (;;) {
    refused = await request(port, { host: 'a.test' });
    if (refused.status === 503) break;
  }
  assert.equal(refused.headers['retry-after'], '1');
  assert.equal((await request(port, { host: 'b.test' })).status, 200);
  (globalThis as { release?: () => void }).release!();
  for (const reply of await Promise.all(held)) assert.equal(reply.body, 'released\n');
  assert.equal((await request(port, { host: 'a.test' })).status, 200);
});

test('max_concurrent counts upgraded connections too', async (t) => {
  const port = await serve(t, app(t, 'max_concurrent = 1\n'));
  const held = request(port, { host: 'a.test', path: '/hold' });
  let answer = '';
  while (!answer.startsWith('HTTP/1.1 503')) {
    answer = await rawRequestUntilClosed(port, 'GET / HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n');
  }
  assert.match(answer, /retry-after: 1/i);
  (globalThis as { release?: () => void }).release!();
  await held;
});

test('max_body: a Content-Length over it is 413 before the site runs; a streamed body is cut at the limit', async (t) => {
  const records: LogRecord[] = [];
  const port = await serve(t, app(t, 'max_body = 1k\n', '', records));
  const big = 'x'.repeat(1025);
  const declared = await rawRequestUntilClosed(port, `POST /echo HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1025\r\n\r\n${big}`);
  assert.equal(statusOf(declared), 413);
  assert.match(declared, /connection: close/i);
  // Exactly the limit passes.
  assert.equal((await request(port, { host: 'a.test', path: '/echo', method: 'POST', body: 'x'.repeat(1024) })).body, '1024');
  // Chunked: no length to check first, so it is counted as it arrives.
  const chunked = await rawRequestUntilClosed(port, `POST /echo HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n${'y'.repeat(1024)}\r\n1\r\nz\r\n0\r\n\r\n`);
  assert.equal(statusOf(chunked), 413);
  assert.ok(records.some((r) => r.msg === 'site a: request body over max_body (1024 bytes); answered 413' && r.bindings.site === 'a'));
  // The neighbour has no limit.
  assert.equal((await request(port, { host: 'b.test', path: '/echo', method: 'POST', body: big })).body, '1025');
});

test("max_body: a proxy site's upstream never receives more than the limit", async (t) => {
  let received = 0;
  const upstream = await listen((req, res) => {
    req.on('data', (chunk: Buffer) => (received += chunk.length));
    req.on('end', () => res.end('ok'));
    req.on('error', () => {});
  });
  t.after(upstream.close);
  const dir = tempDir('hostmux-limits-');
  t.after(dir.remove);
  writeTree(dir.path, { 'sites-enabled/p.ini': `[site]\ndomains = p.test\nproxy = http://127.0.0.1:${upstream.port}\nmax_body = 100\n` });
  const made = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => made.close());
  const port = await serve(t, made);
  const chunked = await rawRequestUntilClosed(port, `POST / HTTP/1.1\r\nHost: p.test\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n${'a'.repeat(100)}\r\n64\r\n${'b'.repeat(100)}\r\n0\r\n\r\n`);
  assert.equal(statusOf(chunked), 413);
  assert.ok(received <= 100, `the upstream received ${received} bytes`);
});

test('timeout: no head in time is 504 and logged; what the handler does later is ignored, not a crash; a started response is cut off', async (t) => {
  const records: LogRecord[] = [];
  const port = await serve(t, app(t, 'timeout = 0.1\n', '', records));
  const never = await request(port, { host: 'a.test', path: '/never' });
  assert.equal(never.status, 504);
  // The handler answers after hostmux did: nothing is thrown into it (the process would see an uncaught exception).
  const late = await request(port, { host: 'a.test', path: '/later' });
  assert.equal(late.status, 504);
  await new Promise((resolve) => setTimeout(resolve, 400));
  await assert.rejects(request(port, { host: 'a.test', path: '/head' }));
  assert.ok(records.some((r) => r.msg === 'site a: no response within 0.1 s (timeout); answered 504'));
  assert.ok(records.some((r) => r.msg === 'site a: response not finished within 0.1 s (timeout); cut off'));
  assert.equal((await request(port, { host: 'a.test' })).status, 200);
});

test('[site] limits override [server] defaults; 0 lifts one for a site', async (t) => {
  const port = await serve(t, app(t, 'max_body = 0\n', 'max_body = 10\n'));
  assert.equal((await request(port, { host: 'a.test', path: '/echo', method: 'POST', body: 'x'.repeat(50) })).body, '50');
  assert.equal((await request(port, { host: 'b.test', path: '/echo', method: 'POST', body: 'x'.repeat(50) })).status, 413);
});

test('limits: bad values are configuration problems with the exact message', (t) => {
  const dir = tempDir('hostmux-limits-');
  t.after(dir.remove);
  writeTree(dir.path, {
    'hostmux.conf': '[server]\ntimeout = soon\ncrash_limit = -1\nreload = graceful\n',
    'sites-enabled/a.ini': '[site]\ndomains = a.test\nredirect = https://b.test\nmax_concurrent = many\nmax_body = 10q\n',
  });
  const error = (() => {
    try {
      createApplication(dir.path);
    } catch (caught) {
      return caught;
    }
    return undefined;
  })();
  assert.ok(error instanceof ConfigError);
  assert.deepEqual(error.problems.map((p) => `${p.file} ${p.key}: ${p.message}`), [
    'hostmux.conf reload: "graceful" is not restart or in-place',
    'hostmux.conf crash_limit: "-1" is not a whole number from 0 (never quarantine) to 1000',
    'hostmux.conf timeout: "soon" is not a number of seconds (0: no timeout; at most 2147483)',
    'sites-enabled/a.ini max_concurrent: "many" is not a whole number from 0 (no limit) to 1000000',
    'sites-enabled/a.ini max_body: "10q" is not a size in bytes, with k, m or g (0: no limit)',
  ]);
});

test('quarantine: 503 with Retry-After counting down, upgrades too; lift() ends it; a reload keeps it', async (t) => {
  const made = app(t, '');
  const port = await serve(t, made);
  const internals = internalsOf(made)!;
  internals.quarantine('a', 30);
  const refused = await request(port, { host: 'a.test' });
  assert.equal(refused.status, 503);
  assert.ok(Number(refused.headers['retry-after']) <= 30 && Number(refused.headers['retry-after']) >= 29);
  assert.equal(internals.quarantined('a'), 30);
  assert.equal((await request(port, { host: 'b.test' })).status, 200);
  const upgrade = await rawRequestUntilClosed(port, 'GET / HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n');
  assert.equal(statusOf(upgrade), 503);
  await made.reload();
  assert.equal((await request(port, { host: 'a.test' })).status, 503);
  internals.lift('a');
  assert.equal((await request(port, { host: 'a.test' })).status, 200);
  assert.equal(internals.quarantined('a'), undefined);
});

test('block_warning: a handler that holds the event loop past it is named in a warning', async (t) => {
  const records: LogRecord[] = [];
  const port = await serve(t, app(t, '', 'block_warning = 0.05\n', records));
  // Loaded first: a request that waits for the load is handed on from the load, not from the dispatch that measures.
  await request(port, { host: 'a.test' });
  assert.equal((await request(port, { host: 'a.test', path: '/busy' })).body, 'done\n');
  const warning = records.find((r) => r.msg.startsWith('site a blocked the event loop for '));
  assert.ok(warning, 'a warning names the site');
  assert.match(warning.msg, /^site a blocked the event loop for \d+ ms in its request handler \(block_warning\)$/);
  assert.equal(warning.bindings.site, 'a');
  // A quick handler is not named.
  const count = records.length;
  await request(port, { host: 'a.test' });
  assert.equal(records.slice(count).filter((r) => r.msg.includes('blocked')).length, 0);
});

test('attribution = context: the site whose code is running, in its handler and in the timers and promises it started', async (t) => {
  const dir = tempDir('hostmux-limits-');
  t.after(dir.remove);
  const seen: (string | undefined)[] = [];
  (globalThis as { seen?: unknown }).seen = seen;
  writeTree(dir.path, {
    'hostmux.conf': '[server]\nattribution = context\n',
    'sites/who.mjs': `
      export default (req, res) => {
        globalThis.seen.push(globalThis.whoIsRunning());
        setTimeout(() => globalThis.seen.push(globalThis.whoIsRunning()), 1);
        Promise.resolve().then(() => { globalThis.seen.push(globalThis.whoIsRunning()); res.end('ok'); });
      };`,
    'sites-enabled/a.ini': '[site]\ndomains = a.test\nhandler = ../sites/who.mjs\n',
  });
  const made = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => made.close());
  (globalThis as { whoIsRunning?: unknown }).whoIsRunning = () => internalsOf(made)!.siteInContext();
  const port = await serve(t, made);
  await request(port, { host: 'a.test' });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(seen, ['a', 'a', 'a']);
  assert.equal(internalsOf(made)!.siteInContext(), undefined, "not in hostmux's own code");
});

test('attribution = stack (the default): a crash is blamed on the site whose handler file, or directory, its stack runs through', async (t) => {
  const dir = tempDir('hostmux-limits-');
  t.after(dir.remove);
  writeTree(dir.path, {
    'sites/a/app.mjs': "export const fail = () => { throw new Error('from a'); };\nexport default (req, res) => res.end();\n",
    'sites/a/lib/deep.mjs': "export const deep = () => { throw new Error('deep in a'); };\n",
    'sites/b/app.mjs': "export default (req, res) => res.end();\n",
    'sites/shared.mjs': "export const fail = () => { throw new Error('shared'); };\nexport default (req, res) => res.end();\n",
    'sites-enabled/a.ini': '[site]\ndomains = a.test\nhandler = ../sites/a/app.mjs\n',
    'sites-enabled/b.ini': '[site]\ndomains = b.test\nhandler = ../sites/b/app.mjs\n',
    'sites-enabled/c.ini': '[site]\ndomains = c.test\nhandler = ../sites/shared.mjs\n',
    'sites-enabled/d.ini': '[site]\ndomains = d.test\nhandler = ../sites/shared.mjs\n',
  });
  const made = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => made.close());
  const internals = internalsOf(made)!;
  const thrown = async (file: string, name: string) => {
    const module = (await import(new URL(`file://${join(dir.path, file)}`).href)) as Record<string, () => void>;
    try {
      module[name]!();
    } catch (error) {
      return error;
    }
    return undefined;
  };
  assert.deepEqual(internals.blame(await thrown('sites/a/app.mjs', 'fail')), ['a']);
  assert.deepEqual(internals.blame(await thrown('sites/a/lib/deep.mjs', 'deep')), ['a'], 'a file under the handler\'s directory');
  assert.deepEqual(internals.blame(await thrown('sites/shared.mjs', 'fail')), ['c', 'd'], 'two sites running the same code');
  assert.deepEqual(internals.blame(new Error('hostmux itself')), []);
  assert.deepEqual(internals.blame('not an error'), []);
  assert.equal(internals.siteInContext(), undefined);
});

test("attribution = stack: hostmux's own frames are never a site's, even when a handler's directory holds hostmux", (t) => {
  const dir = tempDir('hostmux-limits-');
  t.after(dir.remove);
  // A handler at the root of a project that has hostmux inside it (node_modules/hostmux, or this checkout).
  const root = fileURLToPath(new URL('..', import.meta.url));
  writeTree(dir.path, { 'sites-enabled/app.ini': `[site]\ndomains = app.test\nhandler = ${join(root, 'app.mjs')}\n` });
  const made = createApplication(dir.path, { logger: captureLogger() });
  t.after(() => made.close());
  // A stack with only hostmux's frames (as a throw from its own callback has), and one with a site file's.
  const thrown = new Error('inside hostmux');
  thrown.stack = `Error: inside hostmux\n    at dispatch (${join(root, 'src', 'application', 'dispatch.ts')}:10:5)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)`;
  const fromSite = new Error('inside the site');
  fromSite.stack = `Error: inside the site\n    at handler (file://${join(root, 'lib', 'page.mjs')}:3:9)\n    at dispatch (${join(root, 'src', 'application', 'dispatch.ts')}:10:5)`;
  assert.deepEqual(internalsOf(made)!.blame(fromSite), ['app']);
  assert.deepEqual(internalsOf(made)!.blame(thrown), []);
});
