// Regressions found in review, each test named after what broke. Trees are
// written to temp dirs so that each case reads top to bottom in one place.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ConfigError, createApplication, SiteLoadError, type Application } from '../src/index.ts';
import { captureLogger, listen, rawRequest, request, statusOf, tempDir, writeTree } from './helpers.ts';

/** A tree in a temp dir, its application and a server on port 0; all closed after the test. */
async function serve(t: TestContext, files: Record<string, string | { link: string }>) {
  const dir = tempDir();
  writeTree(dir.path, files);
  const logger = captureLogger();
  const logged = logger.records;
  const app = createApplication(dir.path, { logger });
  const running = await listen(app);
  t.after(async () => {
    await running.close();
    await app.close();
    dir.remove();
  });
  return { app, port: running.port, server: running.server, logged, dir: dir.path };
}

const site = (domain: string, module: string) => `[site]\ndomains = ${domain}\nhandler = ../${module}\n`;

function configError(files: Record<string, string | { link: string }>, t: TestContext): ConfigError {
  const dir = tempDir();
  t.after(dir.remove);
  writeTree(dir.path, files);
  try {
    createApplication(dir.path, { logger: captureLogger() });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('createApplication did not throw');
}

/** A POST on `agent` (keep-alive, one socket): every call shares one connection. */
function postOn(agent: http.Agent, port: number, path: string, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { host: 'f.test' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`POST ${path} stalled on the kept-alive connection`)));
    req.on('error', reject);
    req.end(body);
  });
}

function keepAliveAgent(t: TestContext): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  return agent;
}

test('a fetch site that ignores a large POST body no longer stalls the keep-alive connection', async (t) => {
  const { port } = await serve(t, {
    'sites-enabled/f.ini': site('f.test', 'f.mjs'),
    'f.mjs': "export default { fetch: () => new Response('ignored your body') };\n",
  });
  const agent = keepAliveAgent(t);
  const body = Buffer.alloc(1024 * 1024, 'x');
  const first = await postOn(agent, port, '/', body);
  const second = await postOn(agent, port, '/', body);
  assert.deepEqual([first.status, second.status], [200, 200]);
});

test('a fetch site reads a body it asks for after an unread one on the same connection', async (t) => {
  const { port } = await serve(t, {
    'sites-enabled/f.ini': site('f.test', 'f.mjs'),
    'f.mjs': "export default { fetch: async (r) => new Response(r.url.endsWith('/read') ? `got ${(await r.text()).length}` : 'skipped') };\n",
  });
  const agent = keepAliveAgent(t);
  const skipped = await postOn(agent, port, '/skip', Buffer.alloc(1024 * 1024, 'x'));
  const read = await postOn(agent, port, '/read', Buffer.alloc(100_000, 'y'));
  assert.deepEqual([skipped.body, read.body], ['skipped', 'got 100000']);
});

test('a getter that throws while hostmux reads the exports gives 503, not a crashed process', async (t) => {
  const { app, port, logged } = await serve(t, {
    'sites-enabled/getter.ini': site('getter.test', 'getter.cjs'),
    'sites-enabled/good.ini': site('good.test', 'good.mjs'),
    'getter.cjs': "module.exports = { get createHandler() { throw new Error('getter exploded') } };\n",
    'good.mjs': "export default (req, res) => res.end('good');\n",
  });
  assert.equal((await request(port, { host: 'getter.test' })).status, 503);
  assert.equal((await request(port, { host: 'good.test' })).body, 'good');
  assert.ok(logged.some((l) => l.level === 'error' && l.msg.includes('getter exploded')), JSON.stringify(logged));
  await assert.rejects(app.ready(), (err: unknown) => err instanceof SiteLoadError && err.problems[0]!.site === 'getter');
});

test('close() of a default-export object that provides createHandler is called', async (t) => {
  const { app, port } = await serve(t, {
    'sites-enabled/obj.ini': site('obj.test', 'obj.mjs'),
    'obj.mjs':
      'export default {\n' +
      "  createHandler: () => (req, res) => res.end('obj'),\n" +
      "  close() { globalThis[Symbol.for('hostmux.test.obj-closed')] = true; },\n" +
      '};\n',
  });
  assert.equal((await request(port, { host: 'obj.test' })).body, 'obj');
  await app.close();
  assert.equal((globalThis as Record<symbol, unknown>)[Symbol.for('hostmux.test.obj-closed')], true);
});

test('a client that leaves while the module loads does not reach the handler', async (t) => {
  const release = Symbol.for('hostmux.test.release-load');
  const calls = Symbol.for('hostmux.test.slow-calls');
  const { port, server, logged } = await serve(t, {
    'sites-enabled/slow.ini': site('slow.test', 'slow.mjs'),
    'slow.mjs':
      `await new Promise((resolve) => { globalThis[Symbol.for('hostmux.test.release-load')] = resolve; });\n` +
      `export default { fetch: () => { globalThis[Symbol.for('hostmux.test.slow-calls')] = (globalThis[Symbol.for('hostmux.test.slow-calls')] ?? 0) + 1; return new Response('late'); } };\n`,
  });
  const global = globalThis as Record<symbol, unknown>;
  // The server's side of the connection, to know when it has seen the client leave.
  const serverSide = once(server, 'connection') as Promise<[net.Socket]>;
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('POST / HTTP/1.1\r\nHost: slow.test\r\nContent-Length: 10\r\n\r\nabc');
  while (typeof global[release] !== 'function') await new Promise((resolve) => setImmediate(resolve));
  const [accepted] = await serverSide;
  // Not once(): the server's socket errors (an incomplete body) before it closes.
  const left = new Promise((resolve) => accepted.once('close', resolve));
  socket.destroy();
  await left;
  (global[release] as () => void)();
  // A later request still loads nothing twice and is answered.
  assert.equal((await request(port, { host: 'slow.test' })).body, 'late');
  assert.equal(global[calls], 1, 'only the second request reached fetch()');
  assert.deepEqual(logged.filter((l) => l.level === 'error'), []);
});

test('a 500 drops the headers the failed handler had set', async (t) => {
  const { port } = await serve(t, {
    'sites-enabled/h.ini': site('h.test', 'h.mjs'),
    'h.mjs':
      'export default (req, res) => {\n' +
      "  res.setHeader('set-cookie', 'session=1');\n" +
      "  res.setHeader('content-encoding', 'gzip');\n" +
      "  throw new Error('after setting headers');\n" +
      '};\n',
  });
  const reply = await request(port, { host: 'h.test' });
  assert.equal(reply.status, 500);
  assert.equal(reply.headers['set-cookie'], undefined);
  assert.equal(reply.headers['content-encoding'], undefined);
  assert.equal(reply.body, 'Internal Server Error\n');
});

test('a Response body that fails before its first chunk gives 500, not a dropped connection', async (t) => {
  const { port } = await serve(t, {
    'sites-enabled/b.ini': site('b.test', 'b.mjs'),
    'b.mjs':
      'export default { fetch: () => new Response(new ReadableStream({ pull(c) { c.error(new Error("no body today")); } })) };\n',
  });
  const reply = await request(port, { host: 'b.test' });
  assert.equal(reply.status, 500);
});

test('a Response whose content-length does not match its body is not sent as a desynchronised stream', async (t) => {
  const { port } = await serve(t, {
    'sites-enabled/c.ini': site('c.test', 'c.mjs'),
    'c.mjs': "export default { fetch: () => new Response('hello, world', { headers: { 'content-length': '2' } }) };\n",
  });
  const answer = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: c.test\r\n\r\nGET / HTTP/1.1\r\nHost: c.test\r\nConnection: close\r\n\r\n');
  // Nothing goes out before the first chunk is in hand, and that chunk already breaks the length:
  // the connection is cut before a byte is sent, so the second request is never answered either.
  assert.equal(answer, '');
  assert.ok(!answer.includes('llo, world'), `the rest of the body leaked onto the connection: ${JSON.stringify(answer)}`);
});

test('a fetch site passing on a fetch() Response drops its hop-by-hop headers: 200 over HTTP/2, none of them over HTTP/1.1', async (t) => {
  // The upstream's connection headers, and one its Connection header names.
  const upstream = await listen((req, res) => {
    res.setHeader('keep-alive', 'timeout=77');
    res.setHeader('connection', 'keep-alive, x-hop');
    res.setHeader('x-hop', 'one hop only');
    res.setHeader('x-kept', 'yes');
    res.end('from upstream');
  });
  t.after(() => upstream.close());
  const { app, port } = await serve(t, {
    'sites-enabled/p.ini': `${site('p.test', 'p.mjs')}[upstream]\nurl = http://127.0.0.1:${upstream.port}/\n`,
    'p.mjs': 'export function createHandler(site) {\n  return { fetch: () => fetch(site.settings.upstream.url) };\n}\n',
  });
  const h1 = await request(port, { host: 'p.test' });
  assert.equal(h1.status, 200);
  assert.equal(h1.body, 'from upstream');
  assert.equal(h1.headers['x-kept'], 'yes');
  assert.equal(h1.headers['x-hop'], undefined, 'a header the upstream Connection named is dropped');
  assert.notEqual(h1.headers['keep-alive'], 'timeout=77', "the upstream's Keep-Alive is not the client's");
  assert.doesNotMatch(String(h1.headers.connection), /x-hop/);

  const server = http2.createServer(app as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
  t.after(() => {
    client.close();
    server.close();
  });
  const stream = client.request({ ':path': '/', ':authority': 'p.test' });
  const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
  let body = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) body += chunk;
  assert.deepEqual([headers[':status'], headers['x-kept'], headers['x-hop'], body], [200, 'yes', undefined, 'from upstream']);
});

test("a fetch site's Request.url keeps the port of an absolute-form target, IPv6 included", async (t) => {
  const { port } = await serve(t, {
    'hostmux.conf': '[server]\ndefault_site = f\n',
    'sites-enabled/f.ini': site('fetch.test', 'f.mjs'),
    'f.mjs': "export default { fetch: (r) => new Response(r.url, { headers: { 'content-length': String(r.url.length) } }) };\n",
  });
  const urlFor = async (target: string, host: string) => {
    const answer = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(answer), 200);
    return answer.slice(answer.indexOf('\r\n\r\n') + 4);
  };
  // The absolute-form target is what the request is routed by; Host is ignored.
  assert.equal(await urlFor('http://fetch.test:9921/x?y=1', 'other.test'), 'http://fetch.test:9921/x?y=1');
  assert.equal(await urlFor('http://FETCH.test:9921/x', 'fetch.test:1234'), 'http://fetch.test:9921/x');
  assert.equal(await urlFor('http://[::1]:9921/x', 'other.test'), 'http://[::1]:9921/x');
  assert.equal(await urlFor('http://[::1]/x', 'other.test:1234'), 'http://[::1]/x');
  // Origin-form: the Host header's port.
  assert.equal(await urlFor('/x', 'fetch.test:8080'), 'http://fetch.test:8080/x');
  assert.equal(await urlFor('/x', 'fetch.test'), 'http://fetch.test/x');
});

test('HEAD to a fetch site gets the head only; TRACE gets 501', async (t) => {
  const { port } = await serve(t, {
    'sites-enabled/f.ini': site('f.test', 'f.mjs'),
    'f.mjs': "export default { fetch: (r) => new Response(`a body for ${r.method}`, { headers: { 'x-method': r.method } }) };\n",
  });
  const head = await request(port, { host: 'f.test', method: 'HEAD' });
  assert.deepEqual([head.status, head.headers['x-method'], head.body], [200, 'HEAD', '']);
  assert.equal((await request(port, { host: 'f.test', method: 'TRACE' })).status, 501);
});

test('HTTP/1.0 with an empty Host header is a 400, not an unmatched request', async (t) => {
  const { port } = await serve(t, {
    'hostmux.conf': '[server]\ndefault_site = d\n',
    'sites-enabled/d.ini': site('d.test', 'd.mjs'),
    'd.mjs': "export default (req, res) => res.end('default');\n",
  });
  assert.equal(statusOf(await rawRequest(port, 'GET / HTTP/1.0\r\nHost:\r\n\r\n')), 400);
  assert.equal(statusOf(await rawRequest(port, 'GET / HTTP/1.0\r\n\r\n')), 200);
});

test('a dangling hostmux.conf symlink is a configuration error, not the defaults', (t) => {
  const err = configError({ 'hostmux.conf': { link: 'nowhere.conf' }, 'sites-enabled/.keep': '' }, t);
  assert.deepEqual(err.problems.map((p) => [p.file, p.message]), [['hostmux.conf', 'dangling symlink to "nowhere.conf"']]);
});

test('domains that could never match are configuration errors', (t) => {
  const domains = ['a+b.test', 'x@y.test', 'c^d.test', 'e|f.test', 'g(h).test', 'www.!x.test', '{www,cdn.static}.a.test'];
  const err = configError({ 'sites-enabled/a.ini': `[site]\ndomains = ${domains.join(', ')}\nredirect = https://a.example\n` }, t);
  assert.equal(err.problems.length, domains.length, err.message);
  for (const problem of err.problems) assert.equal(problem.key, 'domains');
});

test('a pattern with many ** against a long hostile host answers (no exponential backtracking)', (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  writeTree(dir.path, { 'sites-enabled/x.ini': '[site]\ndomains = **.a.**.a.**.a.**.z.**.x.test\nredirect = https://x.example\n' });
  const app = createApplication(dir.path, { logger: captureLogger() });
  const hostile = `${Array.from({ length: 123 }, () => 'a').join('.')}.x.test`;
  assert.equal(app.match(hostile), null);
  assert.deepEqual(app.match('a.a.a.z.x.test')?.wildcards, ['', '', '', '', '']);
});

test('ready() after close() rejects: a closed site does not serve', async (t) => {
  const { app, port } = await serve(t, {
    'sites-enabled/m.ini': site('m.test', 'm.mjs'),
    'm.mjs': "export default (req, res) => res.end('m');\n",
  });
  await app.ready();
  await app.close();
  await assert.rejects(app.ready(), (err: unknown) => err instanceof SiteLoadError && /closed/.test(err.problems[0]!.message));
  assert.equal((await request(port, { host: 'm.test' })).status, 503);
});

test('sites-file mistakes are reported: __proto__ sections, proxy keys on other kinds, a sites entry that is no glob', (t) => {
  const err = configError({
    'hostmux.conf': '[server]\nsites = sites-enabled/*.ini, sites-enabled\n',
    'sites-enabled/a.ini': '[site]\ndomains = a.test\nredirect = https://a.example\nproxy_timeout = 5\n[__proto__]\nx = 1\n',
  }, t);
  assert.deepEqual(err.problems.map((p) => [p.file, p.section, p.key]), [
    ['hostmux.conf', 'server', 'sites'],
    ['sites-enabled/a.ini', '__proto__', undefined],
    ['sites-enabled/a.ini', 'site', 'proxy_timeout'],
  ]);
});

test('an absolute sites glob reads that directory', (t) => {
  const elsewhere = tempDir();
  t.after(elsewhere.remove);
  writeTree(elsewhere.path, { 'a.ini': '[site]\ndomains = a.test\nredirect = https://a.example\n' });
  const dir = tempDir();
  t.after(dir.remove);
  writeTree(dir.path, { 'hostmux.conf': `[server]\nsites = ${join(elsewhere.path, '*.ini')}\n` });
  const app: Application = createApplication(dir.path, { logger: captureLogger() });
  assert.deepEqual(app.sites.map((s) => s.name), ['a']);
});

test('the application function carries no string-named internals', (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  writeTree(dir.path, { 'sites-enabled/.keep': '' });
  const app = createApplication(dir.path);
  assert.deepEqual(Object.getOwnPropertyNames(app).filter((k) => !['length', 'name', 'prototype'].includes(k)).sort(), ['close', 'match', 'ready', 'reload', 'sites', 'stats', 'upgrade']);
  assert.equal(app.length, 3);
});
