// A hostile client against a proxy site: what it leaves behind when it goes
// away must not keep upstream requests (and their connections) in flight.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { createApplication } from '../src/index.ts';
import { captureLogger, tempDir, writeTree } from './helpers.ts';

// A guard against a hang, not a speed limit.
const HANG_GUARD = { timeout: 20_000 };

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
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const dir = tempDir();
  writeTree(dir.path, {
    'sites-enabled/app.ini': `[site]\ndomains = app.test\nproxy = http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}\n`,
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  const server = http.createServer(app);
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
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
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
