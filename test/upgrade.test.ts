// app.upgrade(): WebSocket upgrades routed by host (README: WebSockets and
// other upgrades), with a real `ws` client. Fixture sites live in
// test/fixtures/upgrade (they import `ws`).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';
import { createApplication, type Application } from '../src/index.ts';
import { captureLogger, FIXTURES, listen, rawRequestUntilClosed, statusOf, tempDir, writeTree, type Running } from './helpers.ts';

function upgradeRequest(host: string): string {
  return `GET /chat HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
}

async function echo(port: number, host: string, message: string): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { headers: { host } });
  try {
    await once(ws, 'open');
    ws.send(message);
    const [data] = await once(ws, 'message');
    return String(data);
  } finally {
    ws.close();
  }
}

async function start(t: { after(fn: () => unknown): void }): Promise<{ app: Application; server: Running; logs: ReturnType<typeof captureLogger> }> {
  const logs = captureLogger();
  const app = createApplication(join(FIXTURES, 'upgrade'), { logger: logs });
  t.after(() => app.close());
  const server = await listen(app);
  server.server.on('upgrade', app.upgrade);
  t.after(server.close);
  return { app, server, logs };
}

test('a WebSocket reaches the module site that claims its host, with siteOf()', async (t) => {
  const { server } = await start(t);
  assert.equal(await echo(server.port, 'chat.test', 'hi'), 'hi from echo ');
  assert.equal(await echo(server.port, 'lobby.rooms.test:8080', 'yo'), 'yo from echo lobby');
});

test('an upgrade export on what createHandler returned is used', async (t) => {
  const { server } = await start(t);
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`, { headers: { host: 'factory.test' } });
  const [data] = await once(ws, 'message');
  ws.close();
  assert.equal(String(data), 'hello from factory');
});

test('upgrades that cannot be served get a complete HTTP error and the socket closes', async (t) => {
  const { server } = await start(t);
  const cases: [string, number][] = [
    ['nobody.test', 404],
    ['plain.test', 400],
    ['moved.test', 400],
    ['broken.test', 503],
    ['bad host!', 400],
  ];
  for (const [host, status] of cases) {
    const answer = await rawRequestUntilClosed(server.port, upgradeRequest(host));
    assert.equal(statusOf(answer), status, host);
    assert.match(answer, /\r\nconnection: close\r\n/i, host);
    const length = Number(/content-length: (\d+)/i.exec(answer)?.[1]);
    assert.equal(answer.split('\r\n\r\n')[1]?.length, length, `${host}: the whole body was sent`);
  }
});

test('an upgrade handler that throws is logged and its socket destroyed; the process goes on', async (t) => {
  const { server, logs } = await start(t);
  const answer = await rawRequestUntilClosed(server.port, upgradeRequest('throws.test'));
  assert.equal(answer, '');
  assert.ok(logs.records.some((r) => r.level === 'error' && r.bindings.site === 'throws' && r.msg.includes('upgrade handler failed')));
  assert.equal(await echo(server.port, 'chat.test', 'still'), 'still from echo ');
});

test('a client that resets while its upgrade is refused does not crash the process', async (t) => {
  const { server } = await start(t);
  // Node drops its own 'error' listener from an upgraded socket: without
  // one of hostmux's, this reset is an uncaught ECONNRESET.
  // Every server-side socket is followed to its close, so the check below comes after each reset was handled.
  const closed: Promise<unknown>[] = [];
  server.server.on('connection', (socket: net.Socket) => closed.push(new Promise((resolve) => socket.once('close', resolve))));
  for (let i = 0; i < 20; i++) {
    const socket = net.connect(server.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(upgradeRequest(i % 2 === 0 ? 'nobody.test' : 'plain.test'));
    socket.resetAndDestroy();
  }
  while (closed.length < 20) await new Promise((r) => setImmediate(r));
  await Promise.all(closed);
  // And one more turn, for an 'error' emitted just after a socket closed.
  await new Promise((r) => setImmediate(r));
  assert.equal(await echo(server.port, 'chat.test', 'alive'), 'alive from echo ');
});

test('every upgrade is in the access log: the status its handler wrote (101), hostmux\'s own, or 499 when none was written', async (t) => {
  // The fixture sites, in a tree whose logging.ini turns the access log on.
  const dir = tempDir();
  t.after(dir.remove);
  const sites = join(FIXTURES, 'upgrade', 'sites');
  writeTree(dir.path, {
    'hostmux.conf': '[server]\nlogging = logging.ini\n',
    'logging.ini': '[logger:access]\nlevel = info\n',
    'sites-enabled/echo.ini': `[site]\ndomains = chat.test\nhandler = ${join(sites, 'echo.mjs')}\n`,
    'sites-enabled/plain.ini': `[site]\ndomains = plain.test\nhandler = ${join(sites, 'plain.mjs')}\n`,
    'sites-enabled/throws.ini': `[site]\ndomains = throws.test\nhandler = ${join(sites, 'throws.mjs')}\n`,
  });
  const logs = captureLogger();
  const app = createApplication(dir.path, { logger: logs });
  const server = await listen(app);
  server.server.on('upgrade', app.upgrade);
  t.after(async () => {
    await server.close();
    await app.close();
  });
  const lines = () => logs.records.filter((r) => r.bindings.logger === 'access').map((r) => r.obj);
  const nextLine = async (n: number) => {
    for (let i = 0; lines().length < n; i++) {
      if (i > 1_000) assert.fail(`access line ${n} never came: ${JSON.stringify(lines())}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return lines()[n - 1]!;
  };
  assert.equal(await echo(server.port, 'chat.test', 'hi'), 'hi from echo ');
  const ws = await nextLine(1);
  assert.equal(ws.statusCode, 101);
  assert.equal(ws.site, 'echo');
  assert.equal(ws.url, '/chat');
  // Frames after the 101 head: 'hi from echo ' (2 + 13) and the server's empty close frame (2).
  assert.equal(ws.bytes, 17);
  await rawRequestUntilClosed(server.port, upgradeRequest('plain.test'));
  assert.deepEqual([(await nextLine(2)).statusCode, lines()[1]!.site], [400, 'plain']);
  await rawRequestUntilClosed(server.port, upgradeRequest('nobody.test'));
  assert.deepEqual([(await nextLine(3)).statusCode, lines()[2]!.site], [404, undefined]);
  await rawRequestUntilClosed(server.port, upgradeRequest('throws.test'));
  assert.deepEqual([(await nextLine(4)).statusCode, lines()[3]!.site, lines()[3]!.bytes], [499, 'throws', 0]);
});
