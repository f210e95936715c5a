// Requests waiting for a site's module to load are bounded: load_timeout,
// load_queue (503 + Retry-After beyond it), clients that leave are dropped at
// once, and a pipelining connection is not read while its requests wait.
// Fixtures in test/fixtures/sites/waiting/: never.mjs never settles,
// gated.mjs settles when the test opens its site's gate.
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { describe, test } from 'node:test';
import { createApplication, SiteLoadError, type Application } from '../src/index.ts';
import { captureLogger, FIXTURES, listen, rawRequestUntilClosed, request, statusOf, type LogRecord, type Running } from './helpers.ts';

const TREE = join(FIXTURES, 'sites', 'waiting');
// Hang guards, not speed limits.
const HANG_GUARD = { timeout: 60_000 };

interface Harness {
  readonly app: Application;
  readonly server: Running;
  readonly port: number;
  readonly records: LogRecord[];
  /** Resolves once `n` requests (or upgrades) for `host` have reached the application. */
  arrived(host: string, n: number): Promise<void>;
  arrivals(host: string): number;
  /** The server side of each request's or upgrade's connection, in arrival order, per host. */
  sockets(host: string): Duplex[];
  stop(): Promise<void>;
}

async function start(): Promise<Harness> {
  const logger = captureLogger();
  const app = createApplication(TREE, { logger });
  const counts = new Map<string, number>();
  const sockets = new Map<string, Duplex[]>();
  const events = new EventEmitter();
  const count = (req: IncomingMessage, socket: Duplex) => {
    const host = req.headers.host ?? '';
    counts.set(host, (counts.get(host) ?? 0) + 1);
    const list = sockets.get(host) ?? [];
    list.push(socket);
    sockets.set(host, list);
    events.emit('arrival');
  };
  const server = await listen((req, res) => {
    count(req, req.socket);
    app(req, res);
  });
  server.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    count(req, socket);
    app.upgrade(req, socket, head);
  });
  const arrivals = (host: string) => counts.get(host) ?? 0;
  return {
    app,
    server,
    port: server.port,
    records: logger.records,
    arrivals,
    sockets: (host) => sockets.get(host) ?? [],
    arrived: async (host, n) => {
      while (arrivals(host) < n) await once(events, 'arrival');
    },
    stop: async () => {
      await server.close();
      await app.close();
    },
  };
}

/** Makes the gated site `name` wait for the returned function before its createHandler settles. */
function gate(name: string): () => void {
  const gates = ((globalThis as { __hostmuxGates?: Record<string, Promise<void>> }).__hostmuxGates ??= {});
  let open!: () => void;
  gates[name] = new Promise<void>((resolve) => (open = resolve));
  return open;
}

/** A raw connection that sends `bytes` and keeps what comes back. */
function connect(port: number, bytes: string): { socket: net.Socket; text: () => string; until(done: (text: string) => boolean): Promise<string> } {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let text = '';
  const events = new EventEmitter();
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    text += chunk;
    events.emit('data');
  });
  socket.on('close', () => events.emit('data'));
  socket.write(bytes);
  return {
    socket,
    text: () => text,
    until: async (done) => {
      while (!done(text)) {
        if (socket.destroyed) throw new Error(`the connection closed; got ${JSON.stringify(text.slice(0, 200))}`);
        await once(events, 'data');
      }
      return text;
    },
  };
}

const get = (host: string, path = '/') => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
const upgradeRequest = (host: string, path = '/') =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n`;

/** The bodies `<site> /<i>` of pipelined answers, in the order they came. */
function answeredPaths(text: string, site: string): number[] {
  return [...text.matchAll(new RegExp(`${site} /(\\d+)`, 'g'))].map((m) => Number(m[1]));
}

describe('load_timeout', () => {
  test('a load that does not finish within load_timeout answers 503, logs once on the site logger, and stays failed', HANG_GUARD, async () => {
    const h = await start();
    try {
      const reply = await request(h.port, { host: 'never.test' });
      assert.equal(reply.status, 503);
      assert.equal(reply.body, 'Service Unavailable\n');
      assert.equal((await request(h.port, { host: 'never.test' })).status, 503, 'it stays failed: no new wait');
      const errors = h.records.filter((r) => r.level === 'error');
      assert.equal(errors.length, 1, JSON.stringify(errors.map((r) => r.msg)));
      const record = errors[0]!;
      assert.equal(record.bindings.site, 'never', 'logged on the site logger');
      assert.match(record.msg, /^site never answers 503: sites-enabled\/never\.ini: .*never\.mjs did not finish loading within 0\.5 s \(load_timeout\)$/);
      assert.equal((await request(h.port, { host: 'healthy.test' })).body, 'healthy');
    } finally {
      await h.stop();
    }
  });

  test('what a load that timed out makes when it settles late is closed, and the site stays failed', HANG_GUARD, async () => {
    const open = gate('late');
    const h = await start();
    try {
      assert.equal((await request(h.port, { host: 'late.test' })).status, 503);
      const closed = new Promise<void>((resolve) => ((globalThis as { __hostmuxLateClosed?: () => void }).__hostmuxLateClosed = resolve));
      open();
      await closed;
      assert.equal((await request(h.port, { host: 'late.test' })).status, 503);
    } finally {
      await h.stop();
    }
  });

  test('an upgrade waiting for a load that times out gets 503 and the socket is closed', HANG_GUARD, async () => {
    const h = await start();
    try {
      const answer = await rawRequestUntilClosed(h.port, upgradeRequest('never.test'), 30_000);
      assert.equal(statusOf(answer), 503);
      assert.doesNotMatch(answer, /retry-after/i, 'a failed site is not a full queue');
    } finally {
      await h.stop();
    }
  });

  test('ready() rejects with SiteLoadError naming the timeout, once the other sites have loaded', HANG_GUARD, async () => {
    for (const name of ['capped', 'piped', 'flooded', 'upgrades', 'late']) gate(name)();
    const h = await start();
    try {
      const err = await h.app.ready().then(() => assert.fail('ready() resolved'), (e: unknown) => e);
      assert.ok(err instanceof SiteLoadError);
      assert.deepEqual(err.problems.map((p) => p.site), ['never']);
      assert.match(err.problems[0]!.message, /did not finish loading within 0\.5 s \(load_timeout\)/);
      assert.equal((await request(h.port, { host: 'capped.test', path: '/x' })).body, 'capped /x');
    } finally {
      await h.stop();
    }
  });
});

describe('load_queue', () => {
  test('a request beyond load_queue gets 503 with Retry-After, and those waiting are served when the load settles', HANG_GUARD, async () => {
    const open = gate('capped');
    const h = await start();
    try {
      const waiting = [0, 1, 2].map((i) => request(h.port, { host: 'capped.test', path: `/${i}` }));
      await h.arrived('capped.test', 3);
      const beyond = await request(h.port, { host: 'capped.test', path: '/3' });
      assert.equal(beyond.status, 503);
      assert.equal(beyond.headers['retry-after'], '5');
      assert.equal(beyond.body, 'Service Unavailable\n');
      open();
      const replies = await Promise.all(waiting);
      assert.deepEqual(replies.map((r) => [r.status, r.body]), [[200, 'capped /0'], [200, 'capped /1'], [200, 'capped /2']]);
      assert.equal((await request(h.port, { host: 'capped.test', path: '/4' })).body, 'capped /4', 'no cap once loaded');
    } finally {
      await h.stop();
    }
  });

  test('clients that leave are dropped from the queue at once: new clients are queued, not refused', HANG_GUARD, async () => {
    const open = gate('capped');
    const h = await start();
    try {
      const leaving = [0, 1, 2].map((i) => connect(h.port, get('capped.test', `/gone${i}`)));
      await h.arrived('capped.test', 3);
      assert.equal((await request(h.port, { host: 'capped.test' })).status, 503, 'the queue is full');
      const closed = h.sockets('capped.test').slice(0, 3).map((socket) => once(socket, 'close'));
      for (const client of leaving) client.socket.destroy();
      await Promise.all(closed);
      const staying = [0, 1, 2].map((i) => request(h.port, { host: 'capped.test', path: `/${i}` }));
      await h.arrived('capped.test', 7);
      open();
      const replies = await Promise.all(staying);
      assert.deepEqual(replies.map((r) => [r.status, r.body]), [[200, 'capped /0'], [200, 'capped /1'], [200, 'capped /2']]);
    } finally {
      await h.stop();
    }
  });

  test('upgrades wait under the same cap: beyond it 503 with Retry-After; one that leaves frees its place', HANG_GUARD, async () => {
    const open = gate('upgrades');
    const h = await start();
    try {
      const first = connect(h.port, upgradeRequest('upgrades.test', '/first'));
      await h.arrived('upgrades.test', 1);
      const beyond = await rawRequestUntilClosed(h.port, upgradeRequest('upgrades.test', '/beyond'), 30_000);
      assert.equal(statusOf(beyond), 503);
      assert.match(beyond, /\r\nretry-after: 5\r\n/);
      const closed = once(h.sockets('upgrades.test')[0]!, 'close');
      first.socket.destroy();
      await closed;
      // Early bytes, sent with the upgrade request or while it waits, reach the handler as `head`.
      const next = connect(h.port, `${upgradeRequest('upgrades.test', '/next')}early`);
      await h.arrived('upgrades.test', 3);
      const received = once(h.sockets('upgrades.test')[2]!, 'data');
      next.socket.write(' and late');
      await received;
      open();
      const answer = await next.until((text) => text.endsWith('"'));
      assert.equal(statusOf(answer), 101);
      assert.match(answer, /upgraded \/next, head "early and late"$/);
      next.socket.destroy();
    } finally {
      await h.stop();
    }
  });
});

describe('pipelining to a loading site', () => {
  test('a pipelining connection is not read while its requests wait, and all are answered in order once the load settles', HANG_GUARD, async () => {
    const total = 20_000;
    const open = gate('piped');
    const h = await start();
    try {
      let bytes = '';
      for (let i = 0; i < total; i++) bytes += get('piped.test', `/${i}`);
      const client = connect(h.port, bytes);
      await h.arrived('piped.test', 2);
      // Give the server every chance to read on: a neighbour's round trips.
      for (let i = 0; i < 20; i++) assert.equal((await request(h.port, { host: 'healthy.test' })).body, 'healthy');
      const parsed = h.arrivals('piped.test');
      // At most what was already in hand when the wait began (one read, 64 KiB).
      assert.ok(parsed < total / 4, `${parsed} of ${total} pipelined requests were parsed while the load was pending`);
      open();
      const text = await client.until((t) => t.endsWith(`piped /${total - 1}`));
      const paths = answeredPaths(text, 'piped');
      assert.equal(paths.length, total);
      assert.ok(paths.every((p, i) => p === i), 'answered in order');
      assert.equal(text.match(/HTTP\/1\.1 200 /g)?.length, total);
      client.socket.destroy();
    } finally {
      await h.stop();
    }
  });

  test('a healthy neighbour answers throughout a pipelined flood of a loading site', HANG_GUARD, async () => {
    const connections = 20;
    const each = 2_000;
    const open = gate('flooded');
    const h = await start();
    try {
      const clients = Array.from({ length: connections }, (_, c) => {
        let bytes = '';
        for (let i = 0; i < each; i++) bytes += get('flooded.test', `/${c * each + i}`);
        return connect(h.port, bytes);
      });
      await h.arrived('flooded.test', connections);
      for (let i = 0; i < 5; i++) assert.equal((await request(h.port, { host: 'healthy.test' })).body, 'healthy');
      open();
      for (const [c, client] of clients.entries()) {
        const text = await client.until((t) => t.endsWith(`flooded /${(c + 1) * each - 1}`));
        assert.deepEqual(answeredPaths(text, 'flooded'), Array.from({ length: each }, (_, i) => c * each + i));
        client.socket.destroy();
      }
    } finally {
      await h.stop();
    }
  });
});

describe('HTTP/2', () => {
  test('streams wait under load_queue: beyond it 503 with Retry-After; streams cancelled while waiting free their places', HANG_GUARD, async () => {
    const open = gate('capped');
    const logger = captureLogger();
    const app = createApplication(TREE, { logger });
    const responses: http2.Http2ServerResponse[] = [];
    const arrivals = new EventEmitter();
    const server = http2.createServer((req, res) => {
      responses.push(res);
      arrivals.emit('arrival');
      app(req, res);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    const arrived = async (n: number) => {
      while (responses.length < n) await once(arrivals, 'arrival');
    };
    const send = (path: string) => {
      const stream = client.request({ ':path': path, ':authority': 'capped.test' });
      const reply = new Promise<{ status: number; retryAfter: unknown; body: string }>((resolve, reject) => {
        let headers: http2.IncomingHttpHeaders = {};
        let body = '';
        stream.on('response', (h) => (headers = h));
        stream.on('data', (chunk: Buffer) => (body += chunk));
        stream.on('end', () => resolve({ status: Number(headers[':status']), retryAfter: headers['retry-after'], body }));
        stream.on('error', reject);
      });
      stream.end();
      return { stream, reply };
    };
    try {
      const leaving = [0, 1, 2].map((i) => send(`/gone${i}`));
      for (const { reply } of leaving) reply.catch(() => {});
      await arrived(3);
      const beyond = await send('/beyond').reply;
      assert.equal(beyond.status, 503);
      assert.equal(beyond.retryAfter, '5');
      const closed = responses.slice(0, 3).map((res) => once(res, 'close'));
      for (const { stream } of leaving) stream.close(http2.constants.NGHTTP2_CANCEL);
      await Promise.all(closed);
      const staying = [0, 1, 2].map((i) => send(`/${i}`));
      await arrived(7);
      open();
      const replies = await Promise.all(staying.map(({ reply }) => reply));
      assert.deepEqual(replies.map((r) => [r.status, r.body]), [[200, 'capped /0'], [200, 'capped /1'], [200, 'capped /2']]);
    } finally {
      client.close();
      server.close();
      await app.close();
    }
  });
});
