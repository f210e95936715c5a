// Shutting down with WebSockets open: each host server's close finishes,
// bounded, whether the site's close() ends its sockets (module site), leaves
// them open (module site without close()) or tunnels them (proxy site).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import express from 'express';
import Fastify, { type FastifyServerOptions } from 'fastify';
import WebSocket, { WebSocketServer } from 'ws';
import { createApplication } from '../src/index.ts';
import hostmux from '../src/adapters/fastify.ts';
import { captureLogger, FIXTURES, listen, tempDir, within, writeTree } from './helpers.ts';

// Hang guards, not speed limits: a close that never finishes fails here.
const HANG_GUARD = { timeout: 30_000 };
const CLOSE_BOUND_MS = 20_000;

/** A ws echo upstream for the proxy site. */
async function wsUpstream(t: { after(fn: () => unknown): void }): Promise<number> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  wss.on('connection', (ws) => ws.on('message', (data) => ws.send((data as Buffer).toString())));
  t.after(() => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  });
  return (wss.address() as AddressInfo).port;
}

/** A tree with polite.test, stubborn.test (module sites) and proxy.test (to `upstreamPort`). */
function siteTree(t: { after(fn: () => unknown): void }, upstreamPort: number): string {
  const dir = tempDir();
  t.after(dir.remove);
  const fixtures = join(FIXTURES, 'upgrade-close');
  writeTree(dir.path, {
    'sites-enabled/polite.ini': `[site]\ndomains = polite.test\nhandler = ${join(fixtures, 'polite.mjs')}\n`,
    'sites-enabled/stubborn.ini': `[site]\ndomains = stubborn.test\nhandler = ${join(fixtures, 'stubborn.mjs')}\n`,
    'sites-enabled/proxy.ini': `[site]\ndomains = proxy.test\nproxy = http://127.0.0.1:${upstreamPort}\n`,
  });
  return dir.path;
}

/** An open, working WebSocket to `host`; resolves its close code when it closes. */
async function openSocket(t: { after(fn: () => unknown): void }, port: number, host: string): Promise<{ closed: Promise<number> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { headers: { host } });
  t.after(() => ws.terminate());
  const closed = once(ws, 'close').then(([code]) => code as number);
  await once(ws, 'open');
  ws.send('ping');
  const [reply] = (await once(ws, 'message')) as [Buffer];
  assert.equal(String(reply), 'ping');
  return { closed };
}

/** node:http or Express, closed as examples/node-server.mjs is: resolves once the server has closed. */
async function plainServer(
  t: { after(fn: () => unknown): void },
  configDir: string,
  withExpress: boolean,
): Promise<{ port: number; close(): Promise<void> }> {
  const app = createApplication(configDir, { logger: captureLogger() });
  const handler = withExpress ? express().use(app) : app;
  const running = await listen(handler as http.RequestListener);
  running.server.on('upgrade', app.upgrade);
  t.after(() => within(app.close(), CLOSE_BOUND_MS, 'app.close() hung').catch(() => {}));
  return {
    port: running.port,
    close: async () => {
      const serverClosed = once(running.server, 'close');
      running.server.close();
      running.server.closeIdleConnections();
      await app.close();
      await serverClosed;
    },
  };
}

async function fastifyServer(t: { after(fn: () => unknown): void }, configDir: string, options: FastifyServerOptions) {
  const fastify = Fastify(options);
  await fastify.register(hostmux, { configDir, logger: captureLogger() });
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  // Bounded, so that a close that hangs fails the test rather than the run.
  t.after(() => within(fastify.close(), CLOSE_BOUND_MS, 'fastify.close() hung').catch(() => {}));
  return { port: (fastify.server.address() as AddressInfo).port, close: () => fastify.close() };
}

const hosts = [
  { name: 'node:http', start: (t: Parameters<typeof plainServer>[0], dir: string) => plainServer(t, dir, false) },
  { name: 'Express', start: (t: Parameters<typeof plainServer>[0], dir: string) => plainServer(t, dir, true) },
  { name: 'Fastify', start: (t: Parameters<typeof plainServer>[0], dir: string) => fastifyServer(t, dir, {}) },
  {
    name: 'Fastify with forceCloseConnections',
    start: (t: Parameters<typeof plainServer>[0], dir: string) => fastifyServer(t, dir, { forceCloseConnections: true }),
  },
];

for (const { name, start } of hosts) {
  test(`${name}: closing with a module site's WebSocket open finishes, the site's close() ending it with 1001`, HANG_GUARD, async (t) => {
    const server = await start(t, siteTree(t, await wsUpstream(t)));
    const socket = await openSocket(t, server.port, 'polite.test');
    await within(server.close(), CLOSE_BOUND_MS, `${name} did not finish closing`);
    assert.equal(await socket.closed, 1001);
  });
}

test('Fastify: closing with a proxy site\'s WebSocket and a module site\'s that close() leaves open finishes: hostmux ends them', HANG_GUARD, async (t) => {
  const server = await fastifyServer(t, siteTree(t, await wsUpstream(t)), {});
  const proxied = await openSocket(t, server.port, 'proxy.test');
  const stubborn = await openSocket(t, server.port, 'stubborn.test');
  await within(server.close(), CLOSE_BOUND_MS, 'Fastify did not finish closing');
  // Cut off, without a closing handshake: 1006.
  assert.equal(await proxied.closed, 1006);
  assert.equal(await stubborn.closed, 1006);
});

test('node:http: app.close() ends the WebSockets a site\'s close() leaves open, so server.close() finishes', HANG_GUARD, async (t) => {
  const server = await plainServer(t, siteTree(t, await wsUpstream(t)), false);
  const stubborn = await openSocket(t, server.port, 'stubborn.test');
  await within(server.close(), CLOSE_BOUND_MS, 'the server did not finish closing');
  assert.equal(await stubborn.closed, 1006);
});

test('app.close() twice returns the same promise', async (t) => {
  const app = createApplication(siteTree(t, 9), { logger: captureLogger() });
  const first = app.close();
  assert.equal(app.close(), first);
  await first;
});
