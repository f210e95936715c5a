// A hostile client that pipelines requests and leaves: what it leaves behind
// must not keep upstream requests (and their connections), or a site's body
// stream, in flight.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { createApplication } from '../src/index.ts';
import { captureLogger, tempDir, writeTree } from './helpers.ts';

// A guard against a hang, not a speed limit.
const HANG_GUARD = { timeout: 20_000 };

/**
 * hostmux on port 0 in front of `upstream` (started here): one proxy site,
 * app.test, with `extra` site keys. Everything is closed after the test.
 */
async function proxyFront(t: TestContext, upstream: http.Server, extra = '') {
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const dir = tempDir();
  writeTree(dir.path, {
    'sites-enabled/app.ini': `[site]\ndomains = app.test\nproxy = http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}\n${extra}`,
  });
  const logger = captureLogger();
  const app = createApplication(dir.path, { logger });
  const server = http.createServer(app);
  const serverSockets: net.Socket[] = [];
  server.on('connection', (socket: net.Socket) => serverSockets.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    server.close();
    upstream.closeAllConnections();
    upstream.close();
    await app.close();
    dir.remove();
  });
  return { port: (server.address() as net.AddressInfo).port, logger, serverSockets };
}

test('pipelined requests whose client resets: the upstream request of a response still queued is aborted too', HANG_GUARD, async (t) => {
  // /first is held; /queued streams a body that never ends: only the client leaving can stop it.
  const closed = new Map<string, Promise<unknown>>();
  const arrived = new Map<string, () => void>();
  const arrival = (url: string) => new Promise<void>((resolve) => arrived.set(url, resolve));
  const firstArrived = arrival('/first');
  const queuedArrived = arrival('/queued');
  const upstream = http.createServer((req, res) => {
    closed.set(req.url!, once(res, 'close'));
    arrived.get(req.url!)?.();
    if (req.url === '/queued') res.write('x'.repeat(64 * 1024));
  });
  const { port } = await proxyFront(t, upstream);
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => {});
  await once(client, 'connect');
  client.write('GET /first HTTP/1.1\r\nHost: app.test\r\n\r\nGET /queued HTTP/1.1\r\nHost: app.test\r\n\r\n');
  await Promise.all([firstArrived, queuedArrived]);
  client.resetAndDestroy();
  // Both upstream requests end: the one answering the connection's current
  // response, and the one whose response waited behind it (Node emits no
  // 'close' on a response that never had the socket).
  await closed.get('/first');
  await closed.get('/queued');
});

test('pipelined requests to a fetch-style site whose client resets: the queued response\'s body stream is cancelled', HANG_GUARD, async (t) => {
  const dir = tempDir();
  // /first never answers; /queued streams for ever, and says when it is cancelled.
  writeTree(dir.path, {
    'sites-enabled/app.ini': '[site]\ndomains = app.test\nhandler = ./app.mjs\n',
    'sites-enabled/app.mjs': [
      'export const seen = { queued: undefined, cancelled: undefined };',
      'seen.queuedArrived = new Promise((resolve) => (seen.queued = resolve));',
      'seen.cancelledNow = new Promise((resolve) => (seen.cancelled = resolve));',
      'globalThis.attackFetchSite = seen;',
      'export default {',
      '  fetch(request) {',
      "    if (new URL(request.url).pathname === '/first') return new Promise(() => {});",
      '    seen.queued();',
      '    const chunk = new Uint8Array(64 * 1024);',
      '    return new Response(new ReadableStream({ pull(c) { c.enqueue(chunk); }, cancel() { seen.cancelled(); } }));',
      '  },',
      '};',
      '',
    ].join('\n'),
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  const server = http.createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    server.close();
    await app.close();
    dir.remove();
    delete (globalThis as { attackFetchSite?: unknown }).attackFetchSite;
  });
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  client.on('error', () => {});
  await once(client, 'connect');
  client.write('GET /first HTTP/1.1\r\nHost: app.test\r\n\r\nGET /queued HTTP/1.1\r\nHost: app.test\r\n\r\n');
  for (let i = 0; (globalThis as { attackFetchSite?: unknown }).attackFetchSite === undefined; i++) {
    assert.ok(i < 2_000, 'the site loaded');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const seen = (globalThis as unknown as { attackFetchSite: { queuedArrived: Promise<void>; cancelledNow: Promise<void> } }).attackFetchSite;
  await seen.queuedArrived;
  client.resetAndDestroy();
  await seen.cancelledNow;
});

test('an untrusted client\'s forwarding headers spelt with underscores never reach the upstream', HANG_GUARD, async (t) => {
  // CGI-style upstreams (PHP, WSGI, Rack) read X_Forwarded_For as X-Forwarded-For.
  let received: string[] = [];
  const upstream = http.createServer((req, res) => {
    received = req.rawHeaders;
    res.end('ok');
  });
  const { port } = await proxyFront(t, upstream);
  const req = http.request({
    port,
    host: '127.0.0.1',
    path: '/',
    agent: false,
    headers: { host: 'app.test', x_forwarded_for: '6.6.6.6', 'x-forwarded_host': 'evil.test', x_real_ip: '6.6.6.6', 'x_forwarded-proto': 'https', x_custom: 'kept' },
  });
  req.end();
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  res.resume();
  await once(res, 'end');
  assert.equal(res.statusCode, 200);
  const names = received.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase());
  assert.deepEqual(names.filter((name) => name.includes('_')), ['x_custom'], received.join(' | '));
  const value = (name: string) => received[received.findIndex((n, i) => i % 2 === 0 && n.toLowerCase() === name) + 1];
  assert.equal(value('x-forwarded-for'), '127.0.0.1');
  assert.equal(value('x-forwarded-host'), 'app.test');
  assert.equal(value('x-forwarded-proto'), 'http');
});

test('a client that stops reading a proxied response is cut off after proxy_timeout, and the upstream request with it', HANG_GUARD, async (t) => {
  // The upstream streams for as long as it is read.
  const closed: Promise<unknown>[] = [];
  const upstream = http.createServer((_req, res) => {
    closed.push(once(res, 'close'));
    const chunk = Buffer.alloc(64 * 1024);
    const pump = () => {
      while (res.write(chunk));
    };
    res.on('drain', pump);
    pump();
  });
  const { port, logger, serverSockets } = await proxyFront(t, upstream, 'proxy_timeout = 0.2\n');
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => {});
  await once(client, 'connect');
  // It asks, then never reads: the buffers fill and the proxy stops writing.
  client.pause();
  client.write('GET /stream HTTP/1.1\r\nHost: app.test\r\n\r\n');
  for (let i = 0; closed.length === 0; i++) {
    assert.ok(i < 2_000, 'the request reached the upstream');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await closed[0];
  const socket = serverSockets[0]!;
  if (!socket.destroyed) await once(socket, 'close');
  const warnings = logger.records.filter((r) => r.level === 'warn');
  assert.equal(warnings.length, 1, JSON.stringify(logger.records.map((r) => r.msg)));
  assert.match(warnings[0]!.msg, /the client stopped reading for 0\.2 s; response cut off/);
  client.destroy();
});
