// Upgrades through a proxy site: only a 101 turns the connection into a
// tunnel. Against upstreams that record every byte they receive, so that a
// request smuggled after (or before) a non-101 answer would show.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { test } from 'node:test';
import { createApplication, type Application } from '../src/index.ts';
import { captureLogger, rawRequestUntilClosed, statusOf, tempDir, writeTree, type LogRecord } from './helpers.ts';

// A guard against a hang, not a speed limit.
const HANG_GUARD = { timeout: 20_000 };

const UPGRADE = 'GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
const SMUGGLED = 'GET /internal/admin HTTP/1.1\r\nHost: admin.internal\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n';

function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

interface Front {
  readonly app: Application;
  readonly port: number;
  readonly records: LogRecord[];
}

/**
 * A proxy site `app` for app.test (and a redirect site for moved.test) in
 * front of `upstreamPort`, served by node:http with upgrades routed, the
 * access log on (its records reach `records`).
 */
async function front(t: { after(fn: () => unknown): void }, upstreamPort: number, extra = ''): Promise<Front> {
  const dir = tempDir();
  writeTree(dir.path, {
    'hostmux.conf': '[server]\nlogging = logging.ini\n',
    'logging.ini': '[logger:access]\nlevel = info\n',
    'sites-enabled/app.ini': `[site]\ndomains = app.test\nproxy = http://127.0.0.1:${upstreamPort}/prefix\nproxy_host = upstream\n${extra}\n`,
    'sites-enabled/moved.ini': '[site]\ndomains = moved.test\nredirect = http://example.com\n',
  });
  const logger = captureLogger();
  const app = createApplication(dir.path, { logger });
  const server = http.createServer(app);
  server.on('upgrade', app.upgrade);
  // Upgraded sockets are no longer the server's: the teardown ends them, whatever a test left.
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (_req, socket) => upgraded.add(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const socket of upgraded) socket.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await app.close();
    dir.remove();
  });
  return { app, port: (server.address() as net.AddressInfo).port, records: logger.records };
}

interface Recorder {
  readonly port: number;
  /** Every byte each connection received, in order (latin1). */
  readonly received: string[];
  /** Resolves once connection `i` has closed: nothing more can reach it. */
  closed(i: number): Promise<void>;
  /** Resolves with connection `i` once its first request head is complete. */
  headOf(i: number): Promise<net.Socket>;
}

/** A raw TCP upstream that records what it receives; the test writes its answers. */
async function recorder(t: { after(fn: () => unknown): void }): Promise<Recorder> {
  const received: string[] = [];
  const closes: Promise<void>[] = [];
  const heads: { promise: Promise<net.Socket>; resolve(socket: net.Socket): void }[] = [];
  const at = (i: number) => (heads[i] ??= deferred<net.Socket>());
  const server = net.createServer((socket) => {
    const i = received.push('') - 1;
    closes[i] = once(socket, 'close').then(() => {});
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      received[i] += chunk.toString('latin1');
      if (received[i]!.includes('\r\n\r\n')) at(i).resolve(socket);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.close();
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    closed: async (i) => {
      await at(i).promise;
      await closes[i];
    },
    headOf: (i) => at(i).promise,
  };
}

/** A client connection: everything it receives, and whether the other side ended it. */
function client(port: number): { socket: net.Socket; text(): string; closed: Promise<void> } {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => {});
  // Ends its side once the server ended its own, as a client does.
  socket.on('end', () => socket.end());
  return { socket, text: () => text, closed: once(socket, 'close').then(() => {}) };
}

async function until(socket: net.Socket, done: () => boolean): Promise<void> {
  while (!done()) await once(socket, 'data');
}

const accessOf = (records: readonly LogRecord[]) => records.filter((r) => r.bindings.logger === 'access').map((r) => r.obj);

/** The access records once there are `n`: each is written when the server's side of its socket closes. */
async function accessLines(records: readonly LogRecord[], n: number): Promise<Record<string, unknown>[]> {
  for (let i = 0; accessOf(records).length < n; i++) {
    if (i > 1_000) assert.fail(`${n} access lines expected: ${JSON.stringify(accessOf(records))}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return accessOf(records);
}

test('a non-101 answer ends the connection: a request sent after it never reaches the upstream', HANG_GUARD, async (t) => {
  // A plain node:http upstream: it answers 200 and would keep the connection alive.
  const seen: string[] = [];
  const connections: net.Socket[] = [];
  const upstream = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.host}`);
    res.end('the page\n');
  });
  upstream.on('connection', (socket: net.Socket) => connections.push(socket));
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  t.after(() => {
    upstream.closeAllConnections();
    upstream.close();
  });
  const { port, records } = await front(t, (upstream.address() as net.AddressInfo).port);
  const c = client(port);
  c.socket.write(UPGRADE);
  await until(c.socket, () => c.text().includes('the page\n'));
  // The smuggling attempt: a second request on what the old tunnel kept open.
  c.socket.write(SMUGGLED);
  await c.closed;
  const answer = c.text();
  assert.equal(statusOf(answer), 200);
  assert.match(answer, /\r\nconnection: close\r\n/i);
  assert.match(answer, /\r\ncontent-length: 9\r\n/i);
  assert.ok(answer.endsWith('\r\n\r\nthe page\n'), answer);
  assert.equal(connections.length, 1);
  if (!connections[0]!.destroyed) await once(connections[0]!, 'close');
  assert.deepEqual(seen, [`GET /prefix/ws 127.0.0.1:${(upstream.address() as net.AddressInfo).port}`], 'one request, and only the upgrade');
  assert.deepEqual((await accessLines(records, 1)).map((r) => [r.statusCode, r.bytes, r.site, r.url]), [[200, 9, 'app', '/ws']]);
});

test('bytes the client sends before the answer are not forwarded; after a 403 the upstream saw the request head only', HANG_GUARD, async (t) => {
  const up = await recorder(t);
  const { port } = await front(t, up.port);
  const c = client(port);
  // Pipelined with the upgrade (Node's `head`), then more while the upstream has not answered.
  c.socket.write(UPGRADE + SMUGGLED);
  const socket = await up.headOf(0);
  c.socket.write(SMUGGLED);
  // The proxy does not read the client meanwhile; give the bytes a turn to travel anyway.
  await new Promise((resolve) => setImmediate(resolve));
  socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\nConnection: keep-alive\r\nKeep-Alive: timeout=60\r\n\r\nnope\n');
  await c.closed;
  assert.equal(statusOf(c.text()), 403);
  assert.doesNotMatch(c.text(), /keep-alive/i);
  assert.ok(c.text().endsWith('\r\n\r\nnope\n'));
  // The proxy ends its upstream connection after the answer: then nothing more can arrive.
  await up.closed(0);
  assert.equal(up.received.length, 1);
  const got = up.received[0]!;
  assert.ok(got.startsWith('GET /prefix/ws HTTP/1.1\r\n'), got);
  assert.equal(got.indexOf('\r\n\r\n'), got.length - 4, `nothing after the request head:\n${got}`);
  assert.doesNotMatch(got, /admin/);
});

test('a 101 tunnels both ways; what the client sent before it follows it, inside the tunnel', HANG_GUARD, async (t) => {
  const up = await recorder(t);
  const { port, records } = await front(t, up.port);
  const c = client(port);
  c.socket.write(`${UPGRADE}early;`);
  const socket = await up.headOf(0);
  c.socket.write('before-101;');
  await new Promise((resolve) => setImmediate(resolve));
  const atAnswer = up.received[0]!;
  socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\n\r\nhello;');
  await until(c.socket, () => c.text().endsWith('hello;'));
  assert.match(c.text(), /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(c.text(), /\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\n\r\nhello;$/);
  // Nothing of the client's reached the upstream before its 101; then all of it, in order.
  assert.equal(atAnswer.indexOf('\r\n\r\n'), atAnswer.length - 4);
  while (!up.received[0]!.endsWith('early;before-101;')) await once(socket, 'data');
  c.socket.write('after;');
  while (!up.received[0]!.endsWith('after;')) await once(socket, 'data');
  socket.write('back;');
  await until(c.socket, () => c.text().endsWith('back;'));
  socket.end();
  await c.closed;
  assert.deepEqual((await accessLines(records, 1)).map((r) => [r.statusCode, r.bytes, r.site]), [[101, 'hello;back;'.length, 'app']]);
});

test('a non-101 answer with a streamed body reaches a real client complete, hop-by-hop headers removed, then the connection ends', HANG_GUARD, async (t) => {
  const upstream = http.createServer((_req, res) => {
    res.writeHead(404, { 'x-why': 'no socket here', 'keep-alive': 'timeout=60', connection: 'keep-alive' });
    res.write('not ');
    setImmediate(() => res.end('here\n'));
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  t.after(() => {
    upstream.closeAllConnections();
    upstream.close();
  });
  const { port } = await front(t, (upstream.address() as net.AddressInfo).port);
  const req = http.request({ port, host: '127.0.0.1', path: '/ws', agent: false, headers: { host: 'app.test', connection: 'Upgrade', upgrade: 'websocket' } });
  req.end();
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  let body = '';
  res.on('data', (chunk: Buffer) => (body += chunk));
  const socketClosed = once(res.socket, 'close');
  await once(res, 'end');
  assert.equal(res.statusCode, 404);
  assert.equal(body, 'not here\n');
  assert.equal(res.headers['x-why'], 'no socket here');
  assert.equal(res.headers['transfer-encoding'], 'chunked');
  assert.equal(res.headers.connection, 'close');
  assert.equal(res.headers['keep-alive'], undefined);
  await socketClosed;
});

test('an upgrade request that declares a body gets 400 and never reaches the upstream', HANG_GUARD, async (t) => {
  const up = await recorder(t);
  const { port, records } = await front(t, up.port);
  for (const framing of ['Content-Length: 5\r\n', 'Transfer-Encoding: chunked\r\n']) {
    const answer = await rawRequestUntilClosed(port, UPGRADE.replace('\r\n\r\n', `\r\n${framing}\r\n`) + '5\r\nhello\r\n0\r\n\r\n');
    assert.equal(statusOf(answer), 400, framing);
  }
  assert.deepEqual(up.received, []);
  assert.deepEqual((await accessLines(records, 2)).map((r) => [r.statusCode, r.site]), [[400, 'app'], [400, 'app']]);
});

test('upgrades hostmux refuses or cannot proxy are in the access log with their status', HANG_GUARD, async (t) => {
  const nobody = net.createServer().listen(0, '127.0.0.1');
  await once(nobody, 'listening');
  const closedPort = (nobody.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => nobody.close(() => resolve()));
  const { port, records } = await front(t, closedPort);
  const cases: [string, number, string | undefined][] = [
    ['app.test', 502, 'app'],
    ['moved.test', 400, 'moved'],
    ['nobody.test', 404, undefined],
    ['bad host!', 400, undefined],
  ];
  for (const [host, status] of cases) {
    const answer = await rawRequestUntilClosed(port, UPGRADE.replace('app.test', host));
    assert.equal(statusOf(answer), status, host);
  }
  const lines = await accessLines(records, cases.length);
  // In the order the connections closed, which need not be the order they were sent.
  const sorted = (list: unknown[][]) => list.map((x) => JSON.stringify(x)).sort();
  assert.deepEqual(sorted(lines.map((r) => [r.statusCode, r.site ?? null])), sorted(cases.map(([, status, site]) => [status, site ?? null])));
  for (const line of lines) {
    assert.equal(line.method, 'GET');
    assert.equal(line.url, '/ws');
    assert.ok(typeof line.bytes === 'number' && line.bytes > 0, 'the body of the error answer');
    assert.equal(typeof line.responseTime, 'number');
  }
});

test('a non-101 answer whose body stalls is cut off after proxy_timeout: the client is not held', HANG_GUARD, async (t) => {
  const up = await recorder(t);
  const { port, records } = await front(t, up.port, 'proxy_timeout = 0.2');
  const c = client(port);
  c.socket.write(UPGRADE);
  const socket = await up.headOf(0);
  // The head and part of the body, then nothing: the upstream stalls but keeps its connection.
  socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\npartial');
  await c.closed;
  assert.equal(statusOf(c.text()), 403);
  assert.ok(c.text().endsWith('\r\n\r\npartial'), c.text());
  await up.closed(0);
  const errors = records.filter((r) => r.level === 'error');
  assert.equal(errors.length, 1, JSON.stringify(errors));
  assert.match(errors[0]!.msg, /its answer to the upgrade failed/);
});

test('an upgrade to h2c gets 400 and never reaches the upstream: no cleartext HTTP/2 past the path prefix', HANG_GUARD, async (t) => {
  const up = await recorder(t);
  const { port, records } = await front(t, up.port);
  const h2c = 'GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';
  const cases = [`${h2c}Upgrade: h2c\r\n\r\n`, `${h2c}Upgrade: websocket\r\nUpgrade: H2C\r\n\r\n`, `${h2c}Upgrade: websocket, h2c\r\n\r\n`];
  for (const bytes of cases) assert.equal(statusOf(await rawRequestUntilClosed(port, bytes)), 400, bytes);
  assert.deepEqual(up.received, []);
  assert.deepEqual((await accessLines(records, cases.length)).map((r) => r.statusCode), cases.map(() => 400));
});
