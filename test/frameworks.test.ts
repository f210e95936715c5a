// hostmux under real host frameworks (README: Host servers): the
// Fastify 5 plugin (hostmux/fastify) and Express 5. The sites live in
// test/fixtures/frameworks/.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import WebSocket from 'ws';
import hostmux, { type HostmuxFastifyOptions } from '../src/adapters/fastify.ts';
import { createApplication, type Application, type ApplicationOptions } from '../src/index.ts';
import { captureLogger, FIXTURES, listen, rawRequest, request, statusOf, tempDir, writeTree } from './helpers.ts';

const TREE = join(FIXTURES, 'frameworks', 'etc');
const SITES = join(FIXTURES, 'frameworks', 'sites');
/** What the fixture sites' close() recorded (see sites/closed.mjs). */
const closed = ((globalThis as Record<symbol, string[]>)[Symbol.for('hostmux.test.closed')] ??= []);

// A guard against a hang, not a speed limit.
const HANG_GUARD = { timeout: 20_000 };

const json = (text: string) => JSON.parse(text) as Record<string, unknown>;

// ---------------------------------------------------------------------------
// Fastify harness

interface FastifyHarness {
  readonly fastify: FastifyInstance;
  readonly port: number;
  /** How many times Fastify's own /page route answered. */
  readonly pages: () => number;
  close(): Promise<void>;
}

/**
 * Fastify with hostmux registered first, then a route of its own: `GET
 * /page` answers `fastify page for <hostname>` and counts its calls.
 */
async function startFastify(
  options: HostmuxFastifyOptions = { configDir: TREE },
  fastifyOptions: FastifyServerOptions = {},
  setup?: (fastify: FastifyInstance) => void,
): Promise<FastifyHarness> {
  const fastify = Fastify({ logger: false, ...fastifyOptions });
  let pages = 0;
  await fastify.register(hostmux, options);
  fastify.get('/page', async (req) => {
    pages++;
    return `fastify page for ${req.hostname}\n`;
  });
  setup?.(fastify);
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  return {
    fastify,
    port: (fastify.server.address() as AddressInfo).port,
    pages: () => pages,
    close: () => fastify.close(),
  };
}

/** A Writable collecting Fastify's pino lines. */
function logSink(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(json(line));
      callback();
    },
  });
  return { stream, lines };
}

/** POSTs `size` random bytes in 64 KiB chunks, honouring backpressure; resolves with the answer and the body's digest. */
async function streamUpload(port: number, host: string, size: number, contentType: string) {
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/upload',
    headers: { host, 'content-type': contentType, 'transfer-encoding': 'chunked' },
    agent: false,
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res: http.IncomingMessage) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
  });
  const hash = createHash('sha256');
  for (let sent = 0; sent < size; ) {
    const chunk = randomBytes(Math.min(64 * 1024, size - sent));
    hash.update(chunk);
    sent += chunk.length;
    if (!req.write(chunk)) await once(req, 'drain');
  }
  req.end();
  return { ...(await response), sha256: hash.digest('hex') };
}

function h2request(session: http2.ClientHttp2Session, authority: string, path: string, body?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const stream = session.request({ ':method': body === undefined ? 'GET' : 'POST', ':path': path, ':authority': authority });
    let text = '';
    let status = 0;
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: Buffer) => (text += chunk));
    stream.on('end', () => resolve({ status, body: text }));
    stream.on('error', reject);
    stream.end(body);
  });
}

/** Opens a WebSocket to `host` and resolves with its first message, then closes it. */
async function firstMessage(port: number, host: string): Promise<{ first: string; echo: string }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket`, { headers: { host } });
  try {
    const [first] = (await once(ws, 'message')) as [Buffer];
    ws.send('ping');
    const [echo] = (await once(ws, 'message')) as [Buffer];
    return { first: first.toString(), echo: echo.toString() };
  } finally {
    ws.terminate();
  }
}

const upgradeBytes = (host: string, path = '/page') =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

// ---------------------------------------------------------------------------
// Fastify: routing and hijacking

describe('Fastify 5 plugin: routing by host', () => {
  let h: FastifyHarness;
  before(async () => {
    h = await startFastify();
  });
  after(async () => {
    await h.close();
  });

  test('a claimed host is served by its site; Fastify never routes it', async () => {
    const before = h.pages();
    const reply = await request(h.port, { host: 'echo.test', path: '/page?x=1' });
    assert.equal(reply.status, 200);
    assert.deepEqual(json(reply.body), {
      from: 'hostmux', name: 'echo', hostname: 'echo.test', wildcards: [], method: 'GET', url: '/page?x=1',
    });
    const pattern = await request(h.port, { host: 'Deep.ECHO.test:8080', path: '/page' });
    assert.deepEqual(json(pattern.body).wildcards, ['deep']);
    assert.equal(h.pages(), before, "Fastify's own route did not run");
  });

  test('a host no site claims falls through to Fastify routes, and to Fastify\'s own 404', async () => {
    const page = await request(h.port, { host: 'other.test', path: '/page' });
    assert.equal(page.status, 200);
    assert.equal(page.body, 'fastify page for other.test\n');
    const missing = await request(h.port, { host: 'other.test', path: '/nowhere' });
    assert.equal(missing.status, 404);
    assert.match(missing.body, /Route GET:\/nowhere not found/, "Fastify's own 404");
  });

  test('an invalid Host is answered 400 by hostmux, never passed on to Fastify', async () => {
    const before = h.pages();
    for (const head of ['Host: a..b', 'Host: bad_host!', 'Host: echo.test\r\nHost: other.test', 'Host: x.test:99999']) {
      const answer = await rawRequest(h.port, `GET /page HTTP/1.1\r\n${head}\r\n\r\n`);
      assert.equal(statusOf(answer), 400, head);
      assert.match(answer, /\r\n\r\nBad Request\n$/, head);
    }
    assert.equal(h.pages(), before);
  });

  test('a streamed 10 MB POST reaches the site intact; Fastify\'s body parsing never runs', HANG_GUARD, async () => {
    let parsed = 0;
    const upload = await startFastify({ configDir: TREE }, {}, (fastify) => {
      // Parsers that would fail the request if Fastify ever read the body.
      const refuse = (_req: unknown, _payload: unknown, done: (err: Error) => void) => {
        parsed++;
        done(new Error('Fastify parsed a body that hostmux owns'));
      };
      fastify.addContentTypeParser('application/x-hostmux-test', refuse);
      fastify.addContentTypeParser('*', refuse);
      fastify.addHook('preParsing', async () => {
        parsed++;
      });
    });
    try {
      const size = 10 * 1024 * 1024;
      const reply = await streamUpload(upload.port, 'upload.test', size, 'application/x-hostmux-test');
      assert.equal(reply.status, 200);
      const body = json(reply.body);
      assert.equal(body.bytes, size);
      assert.equal(body.sha256, reply.sha256, 'the bytes are the ones sent');
      assert.ok((body.chunks as number) > 1, 'the site read the body as a stream');
      assert.equal(parsed, 0, 'no parser and no preParsing hook ran');
      // The same parser does run for Fastify's own hosts: the trap is armed.
      const own = await request(upload.port, { host: 'other.test', path: '/page', method: 'POST', headers: { 'content-type': 'application/x-hostmux-test' }, body: 'x' });
      assert.notEqual(own.status, 200);
      assert.ok(parsed > 0);
    } finally {
      await upload.close();
    }
  });
});

describe('Fastify 5 plugin: fastify.inject()', () => {
  test('injected requests are routed like real ones, so a Fastify app\'s own tests see its sites', async () => {
    const fastify = Fastify({ logger: false });
    await fastify.register(hostmux, { configDir: TREE });
    fastify.get('/page', async () => 'fastify\n');
    try {
      const claimed = await fastify.inject({ url: '/page', headers: { host: 'echo.test' } });
      assert.equal(json(claimed.body).name, 'echo');
      const upload = await fastify.inject({ method: 'POST', url: '/', headers: { host: 'upload.test', 'content-type': 'text/plain' }, payload: 'injected' });
      assert.equal(json(upload.body).sha256, createHash('sha256').update('injected').digest('hex'));
      assert.equal((await fastify.inject({ url: '/page', headers: { host: 'other.test' } })).body, 'fastify\n');
      assert.equal((await fastify.inject({ url: '/page', headers: { host: 'a..b' } })).statusCode, 400);
    } finally {
      await fastify.close();
    }
  });
});

describe('Fastify 5 plugin: limits', () => {
  test('a URL Fastify\'s router refuses is answered by Fastify before onRequest, even for a claimed host', async () => {
    const fastify = Fastify({ logger: false });
    await fastify.register(hostmux, { configDir: TREE });
    try {
      const reply = await fastify.inject({ url: '/%zz', headers: { host: 'echo.test' } });
      assert.equal(reply.statusCode, 400);
      assert.equal(json(reply.body).code, 'FST_ERR_BAD_URL');
    } finally {
      await fastify.close();
    }
  });
});

describe('Fastify 5 plugin: hooks around hijacked requests', () => {
  test('onRequest hooks before the plugin run, later ones and preHandler do not; onResponse still runs', async () => {
    const seen: string[] = [];
    const fastify = Fastify({ logger: false });
    fastify.addHook('onRequest', async (req) => {
      seen.push(`early onRequest ${req.hostname}`);
    });
    await fastify.register(hostmux, { configDir: TREE });
    fastify.addHook('onRequest', async (req) => {
      seen.push(`late onRequest ${req.hostname}`);
    });
    fastify.addHook('preHandler', async (req) => {
      seen.push(`preHandler ${req.hostname}`);
    });
    let responded: () => void;
    const bothResponded = new Promise<void>((resolve) => (responded = resolve));
    fastify.addHook('onResponse', async (req, reply) => {
      seen.push(`onResponse ${req.hostname} ${reply.statusCode}`);
      if (seen.filter((line) => line.startsWith('onResponse')).length === 2) responded();
    });
    fastify.get('/page', async () => 'fastify\n');
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (fastify.server.address() as AddressInfo).port;
      await request(port, { host: 'echo.test', path: '/page' });
      await request(port, { host: 'other.test', path: '/page' });
      // onResponse follows the raw response's 'finish', which may come after the client has it.
      await bothResponded;
      assert.deepEqual(seen, [
        'early onRequest echo.test',
        'onResponse echo.test 200',
        'early onRequest other.test',
        'late onRequest other.test',
        'preHandler other.test',
        'onResponse other.test 200',
      ]);
    } finally {
      await fastify.close();
    }
  });
});

// ---------------------------------------------------------------------------
// Fastify: trust proxy

describe('Fastify 5 plugin: trustProxy and trust_proxy', () => {
  const forwarded = (port: number, xfh: string, host = 'other.test') =>
    request(port, { host, path: '/page', headers: { 'x-forwarded-host': xfh } });

  test('trust_proxy unset, Fastify trustProxy: true: routed by the host Fastify took from X-Forwarded-Host', async () => {
    const h = await startFastify({ configDir: TREE }, { trustProxy: true });
    try {
      const reply = await forwarded(h.port, 'echo.test');
      assert.equal(json(reply.body).name, 'echo');
      assert.equal(json(reply.body).hostname, 'echo.test');
      // Fastify's rule: the last X-Forwarded-Host value counts.
      const list = await forwarded(h.port, 'other.test, echo.test');
      assert.equal(json(list.body).name, 'echo');
      // A forwarded host no site claims falls through; Fastify sees it too.
      const unclaimed = await forwarded(h.port, 'elsewhere.test', 'echo.test');
      assert.equal(unclaimed.body, 'fastify page for elsewhere.test\n');
      // The Host header is still checked, and a forwarded host too.
      assert.equal(statusOf(await rawRequest(h.port, 'GET /page HTTP/1.1\r\nHost: a..b\r\nX-Forwarded-Host: echo.test\r\n\r\n')), 400);
      assert.equal((await forwarded(h.port, 'bad..host')).status, 400);
    } finally {
      await h.close();
    }
  });

  test('trust_proxy unset, Fastify trusting another address: X-Forwarded-Host is ignored', async () => {
    const h = await startFastify({ configDir: TREE }, { trustProxy: '10.0.0.1' });
    try {
      assert.equal((await forwarded(h.port, 'echo.test')).body, 'fastify page for other.test\n');
    } finally {
      await h.close();
    }
  });

  test('trust_proxy unset, Fastify not trusting: X-Forwarded-Host is ignored', async () => {
    const h = await startFastify();
    try {
      assert.equal((await forwarded(h.port, 'echo.test')).body, 'fastify page for other.test\n');
    } finally {
      await h.close();
    }
  });

  test('trust_proxy = false wins over Fastify trustProxy: true (option and hostmux.conf)', async () => {
    const dir = tempDir();
    writeTree(dir.path, {
      'hostmux.conf': '[server]\ntrust_proxy = false\n',
      'sites-enabled/echo.ini': `[site]\ndomains = echo.test\nhandler = ${join(SITES, 'echo.mjs')}\n`,
    });
    for (const options of [{ configDir: TREE, trustProxy: false }, { configDir: dir.path }]) {
      const h = await startFastify(options, { trustProxy: true });
      try {
        const reply = await forwarded(h.port, 'echo.test');
        // Fastify's route sees its own forwarded hostname; hostmux routed by Host.
        assert.equal(reply.body, 'fastify page for echo.test\n', JSON.stringify(options));
        assert.equal(json((await request(h.port, { host: 'echo.test', headers: { 'x-forwarded-host': 'other.test' } })).body).name, 'echo');
      } finally {
        await h.close();
      }
    }
    dir.remove();
  });

  test('trust_proxy unset: a proxy site keeps received X-Forwarded-* values only when Fastify trusts the sender', async () => {
    const upstream = await listen((req, res) => {
      res.end(JSON.stringify({ proto: req.headers['x-forwarded-proto'], host: req.headers['x-forwarded-host'] }));
    });
    const dir = tempDir();
    writeTree(dir.path, {
      'sites-enabled/proxied.ini': `[site]\ndomains = proxied.test\nproxy = http://127.0.0.1:${upstream.port}\n`,
    });
    try {
      for (const [trustProxy, expected] of [
        [true, { proto: 'https', host: 'proxied.test' }],
        [false, { proto: 'http', host: 'proxied.test:8080' }],
      ] as const) {
        const h = await startFastify({ configDir: dir.path }, { trustProxy });
        try {
          const reply = await request(h.port, {
            host: 'proxied.test:8080',
            headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'proxied.test' },
          });
          assert.deepEqual(json(reply.body), expected, `Fastify trustProxy: ${trustProxy}`);
          // Only a scheme forwarded: still kept when trusted.
          const proto = await request(h.port, { host: 'proxied.test', headers: { 'x-forwarded-proto': 'https' } });
          assert.equal(json(proto.body).proto, expected.proto);
        } finally {
          await h.close();
        }
      }
    } finally {
      await upstream.close();
      dir.remove();
    }
  });

  test('trust_proxy = true: hostmux reads the forwarding headers itself (first value), whatever Fastify trusts', async () => {
    const h = await startFastify({ configDir: TREE, trustProxy: true });
    try {
      assert.equal(json((await forwarded(h.port, 'echo.test, other.test')).body).name, 'echo');
      const standard = await request(h.port, { host: 'other.test', headers: { forwarded: 'for=1.2.3.4;host=echo.test' } });
      assert.equal(json(standard.body).name, 'echo');
    } finally {
      await h.close();
    }
  });
});

// ---------------------------------------------------------------------------
// Fastify: options, logging, closing

describe('Fastify 5 plugin: options', () => {
  test('{ app } uses an existing application, and fastify.close() closes it', async () => {
    const app = createApplication(TREE, { logger: captureLogger() });
    const h = await startFastify({ app });
    closed.length = 0;
    try {
      assert.equal(json((await request(h.port, { host: 'echo.test' })).body).name, 'echo');
      assert.equal((await request(h.port, { host: 'other.test', path: '/page' })).status, 200);
    } finally {
      await h.close();
    }
    assert.deepEqual(closed, ['echo']);
    await assert.rejects(app.reload(), /closed/, 'the application is closed');
  });

  test('bad options fail the registration with HOSTMUX_INVALID_OPTION; a bad tree with HOSTMUX_CONFIG', async () => {
    const app = createApplication(TREE, { logger: captureLogger() });
    const cases: [unknown, RegExp][] = [
      [{}, /pass \{ configDir \} \(a directory path\) or \{ app \}/],
      [{ configDir: '' }, /pass \{ configDir \}/],
      [{ app: () => {} }, /options\.app must be an application made by createApplication\(\)/],
      [{ app, configDir: TREE }, /options\.app cannot be combined with configDir, defaultSite, trustProxy or logger/],
      [{ app, trustProxy: true }, /cannot be combined/],
      [{ configDir: TREE, trustProxy: 'yes' }, /options\.trustProxy must be true or false/],
    ];
    for (const [options, message] of cases) {
      const fastify = Fastify({ logger: false });
      await assert.rejects(
        async () => {
          await fastify.register(hostmux, options as HostmuxFastifyOptions);
        },
        (err: Error & { code?: string }) => err.code === 'HOSTMUX_INVALID_OPTION' && message.test(err.message),
        JSON.stringify(options),
      );
      await fastify.close();
    }
    const fastify = Fastify({ logger: false });
    await assert.rejects(async () => {
      await fastify.register(hostmux, { configDir: join(SITES, 'missing') });
    }, { code: 'HOSTMUX_CONFIG' });
    await fastify.close();
    await app.close();
  });

  test('createApplication options pass through: defaultSite takes the hosts no site claims', async () => {
    const h = await startFastify({ configDir: TREE, defaultSite: 'echo' });
    try {
      const reply = await request(h.port, { host: 'other.test', path: '/page' });
      assert.deepEqual(json(reply.body), { from: 'hostmux', name: 'echo', hostname: 'other.test', wildcards: [], method: 'GET', url: '/page' });
      assert.equal(h.pages(), 0);
    } finally {
      await h.close();
    }
  });

  test('fastify.close() closes every loaded site', async () => {
    const h = await startFastify();
    closed.length = 0;
    await request(h.port, { host: 'echo.test' });
    await request(h.port, { host: 'upload.test', method: 'POST', body: 'x' });
    await h.close();
    assert.deepEqual([...closed].sort(), ['echo', 'upload']);
  });

  test('the plugin is not encapsulated: its hook covers routes of sibling plugins', async () => {
    const fastify = Fastify({ logger: false });
    await fastify.register(hostmux, { configDir: TREE });
    await fastify.register(async (child) => {
      child.get('/child', async () => 'child route\n');
    });
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (fastify.server.address() as AddressInfo).port;
      assert.equal(json((await request(port, { host: 'echo.test', path: '/child' })).body).name, 'echo');
      assert.equal((await request(port, { host: 'other.test', path: '/child' })).body, 'child route\n');
      assert.ok(fastify.hasPlugin('hostmux'), 'registered under its name');
    } finally {
      await fastify.close();
    }
  });
});

describe('Fastify 5 plugin: logging', () => {
  const fromEcho = (line: Record<string, unknown>) => line.marker === 'from-echo';

  test('fastify.log is the logger when hostmux.conf names no logging.ini', async () => {
    const sink = logSink();
    const h = await startFastify({ configDir: TREE }, { logger: { level: 'info', stream: sink.stream } });
    try {
      await request(h.port, { host: 'echo.test', path: '/log' });
    } finally {
      await h.close();
    }
    const line = sink.lines.find(fromEcho);
    assert.ok(line, 'the site logged through fastify.log');
    assert.equal(line.msg, 'echo was asked to log');
    assert.equal(line.logger, 'site.echo', 'as the site.echo logger');
    // Fastify logs a hijacked request's completion like any other.
    assert.ok(sink.lines.some((l) => l.msg === 'request completed' && (l.res as { statusCode: number }).statusCode === 200));
  });

  test('a logger option wins over fastify.log', async () => {
    const sink = logSink();
    const logger = captureLogger();
    const h = await startFastify({ configDir: TREE, logger }, { logger: { level: 'info', stream: sink.stream } });
    try {
      await request(h.port, { host: 'echo.test', path: '/log' });
    } finally {
      await h.close();
    }
    assert.ok(logger.records.some((r) => r.obj.marker === 'from-echo'));
    assert.ok(!sink.lines.some(fromEcho));
  });

  test('a logging.ini named in hostmux.conf wins over fastify.log', async () => {
    const dir = tempDir();
    writeTree(dir.path, {
      'hostmux.conf': '[server]\nlogging = logging.ini\n',
      'logging.ini': '[logger:root]\nlevel = info\nhandlers = file\n[handler:file]\ndestination = hostmux.log\nformat = json\n',
      'sites-enabled/echo.ini': `[site]\ndomains = echo.test\nhandler = ${join(SITES, 'echo.mjs')}\n`,
    });
    const sink = logSink();
    const h = await startFastify({ configDir: dir.path }, { logger: { level: 'info', stream: sink.stream } });
    let written: Record<string, unknown>[];
    try {
      try {
        await request(h.port, { host: 'echo.test', path: '/log' });
      } finally {
        await h.close();
      }
      written = readFileSync(join(dir.path, 'hostmux.log'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    } finally {
      dir.remove();
    }
    assert.ok(sink.lines.some((l) => l.msg === 'request completed'), 'Fastify logged to its own stream');
    assert.ok(!sink.lines.some(fromEcho), 'the site did not log through fastify.log');
    assert.ok(written.some((r) => r.marker === 'from-echo' && r.logger === 'site.echo'), 'the site logged to logging.ini\'s file');
  });
});

// ---------------------------------------------------------------------------
// Fastify: HTTP/2 and upgrades

describe('Fastify 5 plugin: HTTP/2', () => {
  test('fastify({ http2: true }): routed by :authority; other hosts reach Fastify routes', HANG_GUARD, async () => {
    const fastify = Fastify({ http2: true, logger: false });
    await fastify.register(hostmux, { configDir: TREE });
    fastify.get('/page', async (req) => `fastify page for ${req.hostname}\n`);
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    const session = http2.connect(`http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`);
    try {
      const claimed = await h2request(session, 'echo.test:8443', '/page?x=1');
      assert.equal(claimed.status, 200);
      assert.deepEqual(json(claimed.body), {
        from: 'hostmux', name: 'echo', hostname: 'echo.test', wildcards: [], method: 'GET', url: '/page?x=1',
      });
      const upload = await h2request(session, 'upload.test', '/', 'h2 body');
      assert.equal(json(upload.body).sha256, createHash('sha256').update('h2 body').digest('hex'));
      const other = await h2request(session, 'other.test', '/page');
      assert.equal(other.status, 200);
      assert.equal(other.body, 'fastify page for other.test\n');
      const invalid = await h2request(session, 'a..b', '/page');
      assert.equal(invalid.status, 400);
    } finally {
      session.close();
      await fastify.close();
    }
  });
});

describe('Fastify 5 plugin: upgrades', () => {
  test('a WebSocket to a claimed host reaches the site\'s upgrade export', HANG_GUARD, async () => {
    const h = await startFastify();
    try {
      assert.deepEqual(await firstMessage(h.port, 'ws.test'), { first: 'hello from ws', echo: 'echo: ping' });
      // hostmux's own answers for a claimed host: no upgrade export, bad host.
      assert.equal(statusOf(await rawRequest(h.port, upgradeBytes('echo.test'))), 400);
      assert.equal(statusOf(await rawRequest(h.port, upgradeBytes('a..b'))), 400);
    } finally {
      await h.close();
    }
  });

  test('a client resetting an upgrade hostmux refuses does not crash the process', HANG_GUARD, async () => {
    const h = await startFastify();
    try {
      for (let i = 0; i < 100; i++) {
        await new Promise<void>((resolve) => {
          const socket = net.connect(h.port, '127.0.0.1', () => {
            socket.write(upgradeBytes('a..b'));
            setImmediate(() => {
              socket.resetAndDestroy();
              resolve();
            });
          });
          socket.on('error', () => resolve());
        });
      }
      assert.equal(statusOf(await rawRequest(h.port, upgradeBytes('a..b'))), 400, 'still serving');
    } finally {
      await h.close();
    }
  });

  test('an upgrade no site claims goes to Fastify routes as a plain request, when no other listener is there', HANG_GUARD, async () => {
    const h = await startFastify();
    try {
      const answer = await rawRequest(h.port, upgradeBytes('other.test'));
      assert.equal(statusOf(answer), 200);
      assert.match(answer, /\r\nconnection: close\r\n/i);
      assert.match(answer, /fastify page for other\.test\n$/);
      assert.equal(h.pages(), 1);
      // The parser no longer frames a body after an upgrade: refused, not truncated.
      const withBody = upgradeBytes('other.test').replace('\r\n\r\n', '\r\nContent-Length: 5\r\n\r\nhello');
      assert.equal(statusOf(await rawRequest(h.port, withBody)), 400);
      assert.equal(h.pages(), 1);
    } finally {
      await h.close();
    }
  });

  test('with another upgrade listener, hostmux leaves the hosts it does not claim to it', HANG_GUARD, async () => {
    const h = await startFastify({ configDir: TREE }, {}, (fastify) => {
      // A listener that, as documented, skips hosts hostmux claims.
      fastify.server.on('upgrade', (req: http.IncomingMessage, socket) => {
        if (req.headers.host === 'ws.test') return;
        socket.end('HTTP/1.1 418 I\'m a Teapot\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      });
    });
    try {
      assert.equal(statusOf(await rawRequest(h.port, upgradeBytes('other.test'))), 418);
      assert.equal(h.pages(), 0, 'not routed through Fastify by hostmux');
      assert.deepEqual(await firstMessage(h.port, 'ws.test'), { first: 'hello from ws', echo: 'echo: ping' });
    } finally {
      await h.close();
    }
  });

  test('beside a listener that routes upgrades through Fastify (as @fastify/websocket does), claimed hosts stay hostmux\'s', HANG_GUARD, async () => {
    const h = await startFastify({ configDir: TREE }, {}, (fastify) => {
      fastify.server.on('upgrade', (req: http.IncomingMessage, socket) => {
        const res = new http.ServerResponse(req);
        res.assignSocket(socket as net.Socket);
        res.on('finish', () => socket.end());
        fastify.routing(req, res);
      });
    });
    try {
      // Fastify saw the claimed upgrade too, and wrote nothing onto the socket.
      assert.deepEqual(await firstMessage(h.port, 'ws.test'), { first: 'hello from ws', echo: 'echo: ping' });
      assert.equal(h.pages(), 0);
      const answer = await rawRequest(h.port, upgradeBytes('other.test'));
      assert.equal(statusOf(answer), 200);
      assert.match(answer, /fastify page for other\.test\n$/);
      assert.equal(h.pages(), 1, 'routed once, by the other listener');
    } finally {
      await h.close();
    }
  });
});

// ---------------------------------------------------------------------------
// Express 5

interface ExpressHarness {
  readonly port: number;
  stop(): Promise<void>;
}

async function startExpress(
  options: ApplicationOptions,
  build: (app: Application) => express.Express,
  tree = TREE,
): Promise<ExpressHarness> {
  const app = createApplication(tree, { logger: captureLogger(), ...options });
  const server = await listen(build(app));
  return {
    port: server.port,
    stop: async () => {
      await server.close();
      await app.close();
    },
  };
}

describe('Express 5', () => {
  test('expressApp.use(app): claimed hosts served by hostmux; others fall through; an invalid host is 400', async () => {
    let pages = 0;
    const h = await startExpress({}, (app) => {
      const web = express();
      web.use(app);
      web.get('/page', (req, res) => {
        pages++;
        res.send(`express page for ${req.hostname}`);
      });
      return web;
    });
    try {
      const hit = await request(h.port, { host: 'echo.test', path: '/page?x=1' });
      assert.equal(json(hit.body).name, 'echo');
      assert.equal(json(hit.body).url, '/page?x=1');
      assert.equal((await request(h.port, { host: 'other.test', path: '/page' })).body, 'express page for other.test');
      assert.match((await request(h.port, { host: 'other.test', path: '/nowhere' })).body, /Cannot GET \/nowhere/);
      assert.equal(pages, 1);
      for (const head of ['Host: a..b', 'Host: echo.test\r\nHost: other.test']) {
        assert.equal(statusOf(await rawRequest(h.port, `GET /page HTTP/1.1\r\n${head}\r\n\r\n`)), 400, head);
      }
      assert.equal(pages, 1, 'an invalid host never reaches Express routes');
    } finally {
      await h.stop();
    }
  });

  test("expressApp.use('/sites', app): the site sees the path below the mount; other paths and hosts stay Express's", async () => {
    const h = await startExpress({}, (app) => {
      const web = express();
      web.use('/sites', app);
      web.get('/sites/page', (req, res) => res.send('express under /sites'));
      web.get('/page', (req, res) => res.send('express page'));
      return web;
    });
    try {
      const hit = await request(h.port, { host: 'echo.test', path: '/sites/page?x=1' });
      assert.equal(json(hit.body).name, 'echo');
      assert.equal(json(hit.body).url, '/page?x=1');
      assert.equal((await request(h.port, { host: 'echo.test', path: '/page' })).body, 'express page');
      assert.equal((await request(h.port, { host: 'other.test', path: '/sites/page' })).body, 'express under /sites');
      const upload = await request(h.port, { host: 'upload.test', path: '/sites/x', method: 'POST', body: 'mounted' });
      assert.equal(json(upload.body).sha256, createHash('sha256').update('mounted').digest('hex'));
    } finally {
      await h.stop();
    }
  });

  // How Express's `trust proxy` and hostmux's trust_proxy combine: a set
  // trust_proxy decides alone; unset, Express's setting decides.
  const matrix: { trustProxy: boolean | undefined; express: boolean; routedBy: 'X-Forwarded-Host' | 'Host' }[] = [
    { trustProxy: undefined, express: true, routedBy: 'X-Forwarded-Host' },
    { trustProxy: undefined, express: false, routedBy: 'Host' },
    { trustProxy: true, express: true, routedBy: 'X-Forwarded-Host' },
    { trustProxy: true, express: false, routedBy: 'X-Forwarded-Host' },
    { trustProxy: false, express: true, routedBy: 'Host' },
    { trustProxy: false, express: false, routedBy: 'Host' },
  ];
  for (const { trustProxy, express: trusts, routedBy } of matrix) {
    test(`trust_proxy ${trustProxy ?? 'unset'}, Express trust proxy ${trusts}: routed by ${routedBy}`, async () => {
      const h = await startExpress({ trustProxy }, (app) => {
        const web = express();
        web.set('trust proxy', trusts);
        web.use('/sites', app);
        web.get('/sites/page', (req, res) => res.send(`express page for ${req.hostname}`));
        return web;
      });
      try {
        const toSite = await request(h.port, { host: 'other.test', path: '/sites/page', headers: { 'x-forwarded-host': 'echo.test' } });
        const toExpress = await request(h.port, { host: 'echo.test', path: '/sites/page', headers: { 'x-forwarded-host': 'other.test' } });
        if (routedBy === 'X-Forwarded-Host') {
          assert.equal(json(toSite.body).hostname, 'echo.test');
          assert.match(toExpress.body, /^express page for /);
        } else {
          assert.match(toSite.body, /^express page for /);
          assert.equal(json(toExpress.body).hostname, 'echo.test');
        }
      } finally {
        await h.stop();
      }
    });
  }

  test("Express trusting only another address: X-Forwarded-Host does not count", async () => {
    const h = await startExpress({}, (app) => {
      const web = express();
      web.set('trust proxy', '10.0.0.1');
      web.use(app);
      web.get('/page', (req, res) => res.send('express page'));
      return web;
    });
    try {
      const reply = await request(h.port, { host: 'other.test', path: '/page', headers: { 'x-forwarded-host': 'echo.test' } });
      assert.equal(reply.body, 'express page');
    } finally {
      await h.stop();
    }
  });
});
