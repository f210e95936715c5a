// Proxy sites (README: Proxy sites): configuration, headers, streaming, failures and
// timeouts, aborts, close(), HTTP/2 clients and upgrade tunnels — always
// against real node:http (and ws) upstream servers on port 0.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, WebSocketServer } from 'ws';
import { ConfigError, createApplication, type Application, type ConfigProblem } from '../src/index.ts';
import { captureLogger, listen, rawRequest, rawRequestUntilClosed, request, statusOf, tempDir, writeTree, type LogRecord, type Running, within } from './helpers.ts';

// A guard against a hang (a body that never streams), not a speed limit.
const HANG_GUARD = { timeout: 20_000 };

// ---------------------------------------------------------------------------
// Harness

interface Harness {
  readonly app: Application;
  readonly port: number;
  readonly records: LogRecord[];
  /** Closes the front server, then the application. */
  readonly stop: () => Promise<void>;
}

/**
 * A config tree with one proxy site `app` for `app.test` (`[site]` lines
 * given), served by a node:http server that also routes upgrades.
 */
async function startProxy(siteLines: string, options: { trustProxy?: boolean; server?: http.Server | https.Server } = {}): Promise<Harness> {
  const dir = tempDir();
  writeTree(dir.path, { 'sites-enabled/app.ini': `[site]\ndomains = app.test\n${siteLines}\n` });
  const logger = captureLogger();
  const app = createApplication(dir.path, { logger, ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }) });
  const server = options.server ?? http.createServer();
  server.on('request', app);
  server.on('upgrade', app.upgrade);
  // Not listen() from helpers: it takes only node:http servers, and this may be https.
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    app,
    port: (server.address() as net.AddressInfo).port,
    records: logger.records,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
      dir.remove();
    },
  };
}

/** Starts an upstream and a proxy site in front of it; `t.after` stops both. */
async function proxyTo(
  t: { after(fn: () => Promise<void>): void },
  upstream: ((req: http.IncomingMessage, res: http.ServerResponse) => unknown) | http.Server,
  extra = '',
  options: { trustProxy?: boolean; prefix?: string } = {},
): Promise<Harness & { upstream: Running }> {
  // An async upstream's rejection stays unhandled on purpose: it fails the run.
  const up = await listen(upstream instanceof http.Server ? upstream : (req, res) => void upstream(req, res));
  const proxy = await startProxy(`proxy = http://127.0.0.1:${up.port}${options.prefix ?? ''}\n${extra}`, options);
  t.after(async () => {
    await proxy.stop();
    await up.close();
  });
  return { ...proxy, upstream: up };
}

interface Echoed {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: string[];
  readonly body: string;
}

/** An upstream that answers with what it received, as JSON. */
const echo: http.RequestListener = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const seen: Echoed = { method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString() };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(seen));
  });
};

/** Every value of a header (any case) in a raw list. */
function valuesOf(raw: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name.toLowerCase()) values.push(raw[i + 1]!);
  return values;
}

/** One request through the proxy to the echo upstream; what the upstream saw. */
async function echoed(port: number, options: Parameters<typeof request>[1] = {}): Promise<Echoed> {
  const reply = await request(port, { host: 'app.test', ...options });
  assert.equal(reply.status, 200, reply.body);
  return JSON.parse(reply.body) as Echoed;
}

/** What the upstream saw for a raw request sent through the proxy. */
async function echoedRaw(port: number, bytes: string): Promise<Echoed> {
  const answer = await rawRequest(port, bytes);
  assert.equal(statusOf(answer), 200, answer);
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Echoed;
}

function errorsOf(records: readonly LogRecord[]): LogRecord[] {
  return records.filter((r) => r.level === 'error');
}

/** The one error record a failure logged, naming the site. */
function assertOneError(records: readonly LogRecord[], includes: string): LogRecord {
  const errors = errorsOf(records);
  assert.equal(errors.length, 1, JSON.stringify(errors.map((r) => r.msg)));
  const record = errors[0]!;
  assert.ok(record.msg.includes('site app'), record.msg);
  assert.ok(record.msg.includes(includes), record.msg);
  assert.ok(record.obj.err instanceof Error, 'the record carries the error under "err"');
  return record;
}

function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A port nothing listens on: listen, note the port, close. */
async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A 64 KiB chunk whose bytes depend on its index, so a hash catches reordering. */
function chunkOf(i: number): Buffer {
  return Buffer.alloc(65_536, i % 251);
}

/** Writes with backpressure: waits for 'drain' when write() says so. */
async function writeAll(stream: NodeJS.WritableStream, chunks: Iterable<Buffer>): Promise<void> {
  for (const chunk of chunks) {
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
}

function* chunks(from: number, to: number): Generator<Buffer> {
  for (let i = from; i < to; i++) yield chunkOf(i);
}

const MB = 1024 * 1024;
/** 50 MiB in 64 KiB chunks. */
const CHUNKS = 800;

// ---------------------------------------------------------------------------
// Configuration

describe('proxy site configuration', () => {
  const silent = captureLogger();

  function problemsOf(siteLines: string): readonly ConfigProblem[] {
    const dir = tempDir();
    try {
      writeTree(dir.path, { 'sites-enabled/app.ini': `[site]\ndomains = app.test\n${siteLines}\n` });
      createApplication(dir.path, { logger: silent });
    } catch (err) {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      return err.problems;
    } finally {
      dir.remove();
    }
    assert.fail('createApplication did not throw');
  }

  const bad: [string, string, string, string][] = [
    ['an ftp URL', 'proxy = ftp://127.0.0.1:21', 'proxy', '"ftp://127.0.0.1:21" is not an http(s) URL without credentials, query or fragment'],
    ['a URL with a query', 'proxy = http://127.0.0.1:9001/?x=1', 'proxy', 'is not an http(s) URL'],
    ['a URL with a fragment', 'proxy = "http://127.0.0.1:9001/#top"', 'proxy', 'is not an http(s) URL'],
    ['a URL with credentials', 'proxy = http://user:secret@127.0.0.1:9001', 'proxy', 'is not an http(s) URL'],
    ['a URL with empty credentials', 'proxy = http://:@127.0.0.1:9001', 'proxy', 'is not an http(s) URL'],
    ['no URL at all', 'proxy = 127.0.0.1:9001', 'proxy', 'is not an http(s) URL'],
    ['a zero timeout', 'proxy = http://127.0.0.1:9001\nproxy_timeout = 0', 'proxy_timeout', '"0" is not a positive number of seconds'],
    ['a negative timeout', 'proxy = http://127.0.0.1:9001\nproxy_timeout = -5', 'proxy_timeout', '"-5" is not a positive number of seconds'],
    ['a timeout in words', 'proxy = http://127.0.0.1:9001\nproxy_timeout = soon', 'proxy_timeout', '"soon" is not a positive number of seconds'],
    ['a timeout with a unit', 'proxy = http://127.0.0.1:9001\nproxy_timeout = 30s', 'proxy_timeout', '"30s" is not a positive number of seconds'],
    ['an empty timeout', 'proxy = http://127.0.0.1:9001\nproxy_timeout =', 'proxy_timeout', '"" is not a positive number of seconds'],
    ['a timeout beyond setTimeout', 'proxy = http://127.0.0.1:9001\nproxy_timeout = 9999999', 'proxy_timeout', 'at most 2147483'],
    ['an unknown proxy_host', 'proxy = http://127.0.0.1:9001\nproxy_host = client', 'proxy_host', '"client" is not preserve or upstream'],
  ];
  for (const [title, lines, key, message] of bad) {
    test(`${title} is a configuration error at its key and line`, () => {
      const problems = problemsOf(lines);
      const line = 3 + lines.split('\n').findIndex((l) => l.startsWith(key === 'proxy' ? 'proxy =' : key));
      assert.deepEqual(
        problems.map((p) => ({ file: p.file, section: p.section, key: p.key, line: p.line })),
        [{ file: 'sites-enabled/app.ini', section: 'site', key, line }],
      );
      assert.ok(problems[0]!.message.includes(message), problems[0]!.message);
    });
  }

  test('every bad proxy key of one site is reported together', () => {
    const problems = problemsOf('proxy = gopher://x\nproxy_timeout = never\nproxy_host = maybe');
    assert.deepEqual(problems.map((p) => p.key), ['proxy', 'proxy_timeout', 'proxy_host']);
  });

  test('proxy_timeout and proxy_host on a redirect site only apply to a proxy site', () => {
    const problems = problemsOf('redirect = https://example.com\nproxy_timeout = 5\nproxy_host = upstream');
    assert.deepEqual(problems.map((p) => [p.key, p.message]), [
      ['proxy_timeout', 'only applies to a proxy site'],
      ['proxy_host', 'only applies to a proxy site'],
    ]);
  });

  test('a valid proxy site loads as kind "proxy", and ready() has nothing to load', async () => {
    const dir = tempDir();
    writeTree(dir.path, {
      'sites-enabled/app.ini': '[site]\ndomains = app.test\nproxy = https://[::1]:9443/base/\nproxy_timeout = 2.5\nproxy_host = upstream\n',
    });
    const app = createApplication(dir.path, { logger: silent });
    try {
      assert.deepEqual(app.sites, [{ name: 'app', kind: 'proxy', domains: ['app.test'], file: 'sites-enabled/app.ini' }]);
      await app.ready();
    } finally {
      await app.close();
      dir.remove();
    }
  });
});

// ---------------------------------------------------------------------------
// Requests and responses

describe('forwarding', () => {
  test('GET: method, path and query reach the upstream; status, headers and body come back', async (t) => {
    const proxy = await proxyTo(t, (req, res) => {
      res.writeHead(203, { 'x-upstream': 'yes', 'content-type': 'text/plain' });
      res.end(`${req.method} ${req.url}`);
    });
    const reply = await request(proxy.port, { host: 'app.test', path: '/a/b?c=1&d' });
    assert.equal(reply.status, 203);
    assert.equal(reply.headers['x-upstream'], 'yes');
    assert.equal(reply.headers['content-type'], 'text/plain');
    assert.equal(reply.body, 'GET /a/b?c=1&d');
  });

  test('POST: the body reaches the upstream with its Content-Length', async (t) => {
    const proxy = await proxyTo(t, echo);
    const seen = await echoed(proxy.port, { method: 'POST', path: '/form', body: 'name=value', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(seen.method, 'POST');
    assert.equal(seen.body, 'name=value');
    assert.deepEqual(valuesOf(seen.rawHeaders, 'content-length'), ['10']);
    assert.deepEqual(valuesOf(seen.rawHeaders, 'content-type'), ['application/x-www-form-urlencoded']);
  });

  test('a GET without a body reaches the upstream without one (no chunked encoding)', async (t) => {
    const proxy = await proxyTo(t, echo);
    const seen = await echoed(proxy.port);
    assert.deepEqual(valuesOf(seen.rawHeaders, 'transfer-encoding'), []);
    assert.deepEqual(valuesOf(seen.rawHeaders, 'content-length'), []);
  });

  test('HEAD, 204 and 304 come back without a body, and the connection stays usable', async (t) => {
    const proxy = await proxyTo(t, (req, res) => {
      if (req.url === '/204') res.writeHead(204).end();
      else if (req.url === '/304') res.writeHead(304, { etag: '"x"' }).end();
      else res.writeHead(200, { 'content-length': 5 }).end(req.method === 'HEAD' ? undefined : 'hello');
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const one = (method: string, path: string) =>
      new Promise<{ status: number; length: string | undefined; body: string }>((resolve, reject) => {
        http.request({ port: proxy.port, host: '127.0.0.1', method, path, agent, headers: { host: 'app.test' } }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, length: res.headers['content-length'], body }));
        }).on('error', reject).end();
      });
    assert.deepEqual(await one('HEAD', '/'), { status: 200, length: '5', body: '' });
    assert.deepEqual(await one('GET', '/204'), { status: 204, length: undefined, body: '' });
    assert.equal((await one('GET', '/304')).status, 304);
    assert.deepEqual(await one('GET', '/'), { status: 200, length: '5', body: 'hello' });
  });

  test('the path of the proxy URL is prepended to the request path', async (t) => {
    const proxy = await proxyTo(t, echo, '', { prefix: '/base/' });
    assert.equal((await echoed(proxy.port, { path: '/x/y?z=1' })).url, '/base/x/y?z=1');
    assert.equal((await echoed(proxy.port, { path: '/' })).url, '/base/');
  });

  test('an absolute-form target is sent upstream in origin form', async (t) => {
    const proxy = await proxyTo(t, echo, '', { prefix: '/p' });
    const seen = await echoedRaw(proxy.port, 'GET http://app.test:8080/abs/path?q=1 HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n');
    assert.equal(seen.url, '/p/abs/path?q=1');
    // The authority of the absolute-form target is the host the client asked for (RFC 9112 3.2.2).
    assert.deepEqual(valuesOf(seen.rawHeaders, 'host'), ['app.test:8080']);
    assert.deepEqual(valuesOf(seen.rawHeaders, 'x-forwarded-host'), ['app.test:8080']);
  });

  test('the upstream\'s reason phrase comes back with its status', async (t) => {
    const proxy = await proxyTo(t, (_req, res) => res.writeHead(299, 'Fine, Thanks', { 'content-length': 0 }).end());
    const answer = await rawRequest(proxy.port, 'GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 299 Fine, Thanks\r\n/);
  });

  test('several Set-Cookie headers stay several', async (t) => {
    const proxy = await proxyTo(t, (_req, res) => {
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; HttpOnly', 'c=3, with a comma']);
      res.end('ok');
    });
    const reply = await request(proxy.port, { host: 'app.test' });
    assert.deepEqual(reply.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly', 'c=3, with a comma']);
  });

  test('other repeated response headers stay repeated, with their spelling', async (t) => {
    const proxy = await proxyTo(t, (_req, res) => {
      res.writeHead(200, ['X-Twice', 'one', 'X-Twice', 'two', 'Content-Length', '2']);
      res.end('ok');
    });
    const answer = await rawRequest(proxy.port, 'GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
    assert.match(answer, /\r\nX-Twice: one\r\nX-Twice: two\r\n/);
  });
});

describe('hop-by-hop headers', () => {
  test('are removed from the request, with every header Connection names', async (t) => {
    const proxy = await proxyTo(t, echo);
    const seen = await echoedRaw(
      proxy.port,
      'POST /hop HTTP/1.1\r\n' +
        'Host: app.test\r\n' +
        'Connection: keep-alive, X-Hop-One\r\n' +
        'Connection: x-hop-two\r\n' +
        'X-Hop-One: 1\r\n' +
        'X-Hop-Two: 2\r\n' +
        'Keep-Alive: timeout=77\r\n' +
        'TE: trailers\r\n' +
        'Trailer: X-Trailing\r\n' +
        'Upgrade: h2c\r\n' +
        'Proxy-Authorization: Basic c2VjcmV0\r\n' +
        'Proxy-Authenticate: Basic\r\n' +
        'Proxy-Connection: keep-alive\r\n' +
        'X-End-To-End: kept\r\n' +
        'Transfer-Encoding: chunked\r\n' +
        '\r\n' +
        '5\r\nhello\r\n0\r\nX-Trailing: t\r\n\r\n',
    );
    assert.equal(seen.body, 'hello');
    const names = new Set(seen.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()));
    for (const name of ['x-hop-one', 'x-hop-two', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate', 'proxy-connection']) {
      assert.ok(!names.has(name), `${name} reached the upstream: ${JSON.stringify(seen.rawHeaders)}`);
    }
    assert.deepEqual(valuesOf(seen.rawHeaders, 'x-end-to-end'), ['kept']);
    // undici's own connection header and framing, not the client's.
    assert.ok(!valuesOf(seen.rawHeaders, 'connection').some((v) => /x-hop/i.test(v)));
    assert.deepEqual(valuesOf(seen.rawHeaders, 'keep-alive'), []);
  });

  test('are removed from the response, with every header Connection names', async (t) => {
    // A raw upstream, since node:http would manage Connection and Keep-Alive itself.
    const upstream = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => {
        socket.end(
          'HTTP/1.1 200 OK\r\n' +
            'Connection: X-Up-Hop\r\n' +
            'Connection: close\r\n' +
            'X-Up-Hop: 1\r\n' +
            'Keep-Alive: timeout=77\r\n' +
            'Proxy-Authenticate: Basic realm="up"\r\n' +
            'Proxy-Connection: close\r\n' +
            'Proxy-Authorization: Basic c2VjcmV0\r\n' +
            'Upgrade: h2c\r\n' +
            'TE: trailers\r\n' +
            'Trailer: X-Trailing\r\n' +
            'X-End-To-End: kept\r\n' +
            'Transfer-Encoding: chunked\r\n' +
            '\r\n' +
            '5\r\nhello\r\n0\r\nX-Trailing: t\r\n\r\n',
        );
      });
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    t.after(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
    const proxy = await startProxy(`proxy = http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}`);
    t.after(proxy.stop);
    // HTTP/1.0: hostmux's own framing is then close-delimited, so any
    // Transfer-Encoding or Keep-Alive in the answer would be the upstream's.
    const answer = await rawRequest(proxy.port, 'GET / HTTP/1.0\r\nHost: app.test\r\n\r\n');
    const [head, body] = answer.split('\r\n\r\n');
    assert.equal(statusOf(answer), 200);
    assert.equal(body, 'hello');
    for (const name of ['x-up-hop', 'keep-alive', 'proxy-authenticate', 'proxy-connection', 'proxy-authorization', 'upgrade', 'te', 'trailer', 'transfer-encoding']) {
      assert.ok(!new RegExp(`\r\n${name}:`, 'i').test(head!), `${name} reached the client:\n${head}`);
    }
    assert.ok(!/x-up-hop/i.test(head!), head);
    assert.match(head!, /\r\nX-End-To-End: kept(\r\n|$)/);
  });
});

describe('X-Forwarded-* and Host', () => {
  test('X-Forwarded-For: the client address alone without trust_proxy; with it, appended to every received value', async (t) => {
    const bytes =
      'GET / HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-For: 198.51.100.1, 10.0.0.1\r\nConnection: close\r\n\r\n';
    const proxy = await proxyTo(t, echo);
    assert.deepEqual(valuesOf((await echoed(proxy.port)).rawHeaders, 'x-forwarded-for'), ['127.0.0.1']);
    assert.deepEqual(valuesOf((await echoedRaw(proxy.port, bytes)).rawHeaders, 'x-forwarded-for'), ['127.0.0.1']);
    const trusting = await proxyTo(t, echo, '', { trustProxy: true });
    assert.deepEqual(valuesOf((await echoedRaw(trusting.port, bytes)).rawHeaders, 'x-forwarded-for'), ['203.0.113.9, 198.51.100.1, 10.0.0.1, 127.0.0.1']);
  });

  test('X-Forwarded-Host: the Host as received, port included; a received one is replaced without trust_proxy', async (t) => {
    const proxy = await proxyTo(t, echo);
    const seen = await echoed(proxy.port, { host: 'App.Test:8080', headers: { 'x-forwarded-host': 'evil.test' } });
    assert.deepEqual(valuesOf(seen.rawHeaders, 'x-forwarded-host'), ['App.Test:8080']);
  });

  test('X-Forwarded-Proto: the client connection\'s scheme; a received one is replaced without trust_proxy', async (t) => {
    const proxy = await proxyTo(t, echo);
    const seen = await echoed(proxy.port, { headers: { 'x-forwarded-proto': 'https' } });
    assert.deepEqual(valuesOf(seen.rawHeaders, 'x-forwarded-proto'), ['http']);
  });

  test('with trust_proxy, a received X-Forwarded-Proto and X-Forwarded-Host are kept', async (t) => {
    const proxy = await proxyTo(t, echo, '', { trustProxy: true });
    // With trust_proxy the forwarded host routes, so it names the site.
    const seen = await echoed(proxy.port, { host: 'internal:8080', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.test' } });
    assert.deepEqual(valuesOf(seen.rawHeaders, 'x-forwarded-proto'), ['https']);
    assert.deepEqual(valuesOf(seen.rawHeaders, 'x-forwarded-host'), ['app.test']);
    assert.deepEqual(valuesOf(seen.rawHeaders, 'host'), ['internal:8080']);
    // Without a received value, hostmux still sets it.
    const plain = await echoed(proxy.port, { host: 'app.test:81' });
    assert.deepEqual(valuesOf(plain.rawHeaders, 'x-forwarded-proto'), ['http']);
    assert.deepEqual(valuesOf(plain.rawHeaders, 'x-forwarded-host'), ['app.test:81']);
  });

  test('with trust_proxy unset under Express, its trust proxy setting decides whether received values are kept', async (t) => {
    const up = await listen(echo);
    const dir = tempDir();
    writeTree(dir.path, { 'sites-enabled/app.ini': `[site]\ndomains = app.test\nproxy = http://127.0.0.1:${up.port}\n` });
    const app = createApplication(dir.path, { logger: captureLogger() });
    const { default: express } = await import('express');
    const trusting = express().set('trust proxy', 'loopback').use(app);
    const doubting = express().use(app);
    const a = await listen(http.createServer(trusting));
    const b = await listen(http.createServer(doubting));
    t.after(async () => {
      await a.close();
      await b.close();
      await app.close();
      await up.close();
      dir.remove();
    });
    const headers = { 'x-forwarded-proto': 'https' };
    assert.deepEqual(valuesOf((await echoed(a.port, { headers })).rawHeaders, 'x-forwarded-proto'), ['https']);
    assert.deepEqual(valuesOf((await echoed(b.port, { headers })).rawHeaders, 'x-forwarded-proto'), ['http']);
  });

  test('proxy_host = preserve (the default) sends the client\'s Host', async (t) => {
    const proxy = await proxyTo(t, echo);
    assert.deepEqual(valuesOf((await echoed(proxy.port, { host: 'app.test:8080' })).rawHeaders, 'host'), ['app.test:8080']);
  });

  test('proxy_host = upstream sends the upstream\'s host:port', async (t) => {
    const proxy = await proxyTo(t, echo, 'proxy_host = upstream');
    const seen = await echoed(proxy.port, { host: 'app.test:8080' });
    assert.deepEqual(valuesOf(seen.rawHeaders, 'host'), [`127.0.0.1:${proxy.upstream.port}`]);
    assert.deepEqual(valuesOf(seen.rawHeaders, 'x-forwarded-host'), ['app.test:8080']);
  });

  test('an Expect: 100-continue request is answered by hostmux and forwarded without Expect', async (t) => {
    const proxy = await proxyTo(t, echo);
    const reply = await new Promise<Echoed>((resolve, reject) => {
      const req = http.request({ port: proxy.port, host: '127.0.0.1', method: 'PUT', agent: false, headers: { host: 'app.test', expect: '100-continue', 'content-length': 4 } });
      req.on('continue', () => req.end('data'));
      req.on('response', (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk));
        res.on('end', () => resolve(JSON.parse(body) as Echoed));
      });
      req.on('error', reject);
    });
    assert.equal(reply.body, 'data');
    assert.deepEqual(valuesOf(reply.rawHeaders, 'expect'), []);
  });
});

// ---------------------------------------------------------------------------
// Exactly which forwarding headers a recording upstream receives

/** An upstream that records every request it receives (requests and upgrades), answering 200. */
function recorder(): { server: http.Server; seen: Echoed[] } {
  const seen: Echoed[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, body: '' });
    req.resume();
    req.on('end', () => res.end('recorded'));
  });
  server.on('upgrade', (req, socket) => {
    seen.push({ method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, body: '' });
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  return { server, seen };
}

const FORWARDING = /^(?:x-forwarded-.*|forwarded|x-real-ip)$/i;

/** The forwarding headers of a raw list, lower-cased name → values in order. */
function forwardingHeaders(raw: readonly string[]): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (FORWARDING.test(name)) (found[name] ??= []).push(raw[i + 1]!);
  }
  return found;
}

/** Every forwarding claim a client or a proxy in front could send, as raw header lines. */
const CLAIMS =
  'X-Forwarded-For: 203.0.113.9\r\n' +
  'X-Forwarded-Host: app.test\r\n' +
  'X-Forwarded-Proto: https\r\n' +
  'X-Forwarded-Port: 443\r\n' +
  'X-Forwarded-Prefix: /admin\r\n' +
  'Forwarded: for="198.51.100.7:4711";host=app.test;proto=https\r\n' +
  'Forwarded: for=unknown\r\n' +
  'X-Real-IP: 198.51.100.7\r\n';

describe('forwarding headers a recording upstream receives', () => {
  test('without trust_proxy: none of the client\'s claims; hostmux\'s own X-Forwarded-For/-Host/-Proto only', async (t) => {
    const { server, seen } = recorder();
    const proxy = await proxyTo(t, server);
    const answer = await rawRequestUntilClosed(proxy.port, `GET /x HTTP/1.1\r\nHost: app.test:8080\r\n${CLAIMS}Connection: close\r\n\r\n`);
    assert.equal(statusOf(answer), 200, answer);
    assert.equal(seen.length, 1);
    assert.deepEqual(forwardingHeaders(seen[0]!.rawHeaders), {
      'x-forwarded-for': ['127.0.0.1'],
      'x-forwarded-host': ['app.test:8080'],
      'x-forwarded-proto': ['http'],
    });
  });

  test('with trust_proxy: the sender\'s claims are kept, X-Forwarded-For and Forwarded get this hop appended', async (t) => {
    const { server, seen } = recorder();
    const proxy = await proxyTo(t, server, '', { trustProxy: true });
    const answer = await rawRequestUntilClosed(proxy.port, `GET /x HTTP/1.1\r\nHost: internal:8080\r\n${CLAIMS}Connection: close\r\n\r\n`);
    assert.equal(statusOf(answer), 200, answer);
    assert.equal(seen.length, 1);
    assert.deepEqual(forwardingHeaders(seen[0]!.rawHeaders), {
      'x-forwarded-for': ['203.0.113.9, 127.0.0.1'],
      'x-forwarded-host': ['app.test'],
      'x-forwarded-proto': ['https'],
      'x-forwarded-port': ['443'],
      'x-forwarded-prefix': ['/admin'],
      forwarded: ['for="198.51.100.7:4711";host=app.test;proto=https, for=unknown, for=127.0.0.1;host="internal:8080";proto=http'],
      'x-real-ip': ['198.51.100.7'],
    });
  });

  test('with trust_proxy and no claims: hostmux\'s own X-Forwarded-For/-Host/-Proto, and no Forwarded of its own', async (t) => {
    const { server, seen } = recorder();
    const proxy = await proxyTo(t, server, '', { trustProxy: true });
    const answer = await rawRequestUntilClosed(proxy.port, 'GET /x HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(answer), 200, answer);
    assert.deepEqual(forwardingHeaders(seen[0]!.rawHeaders), {
      'x-forwarded-for': ['127.0.0.1'],
      'x-forwarded-host': ['app.test'],
      'x-forwarded-proto': ['http'],
    });
  });

  test('with trust_proxy, a malformed Forwarded is a 400 that never reaches the upstream', async (t) => {
    const { server, seen } = recorder();
    const proxy = await proxyTo(t, server, '', { trustProxy: true });
    for (const value of ['for="unclosed;host=app.test', 'host=app.test;host=other.test', 'for=a b', ';host=app.test']) {
      const answer = await rawRequestUntilClosed(proxy.port, `GET / HTTP/1.1\r\nHost: app.test\r\nForwarded: ${value}\r\n\r\n`);
      assert.equal(statusOf(answer), 400, `${value}: ${answer}`);
    }
    assert.equal(seen.length, 0);
  });

  test('an upgrade carries the same forwarding headers, trusted and not', async (t) => {
    const { server, seen } = recorder();
    const plain = await proxyTo(t, server);
    const trusting = await startProxy(`proxy = http://127.0.0.1:${plain.upstream.port}\n`, { trustProxy: true });
    t.after(() => trusting.stop());
    const upgrade = (host: string) => `GET /ws HTTP/1.1\r\nHost: ${host}\r\n${CLAIMS}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n`;
    assert.equal(statusOf(await rawRequestUntilClosed(plain.port, upgrade('app.test'))), 403);
    assert.equal(statusOf(await rawRequestUntilClosed(trusting.port, upgrade('internal'))), 403);
    assert.equal(seen.length, 2);
    assert.deepEqual(forwardingHeaders(seen[0]!.rawHeaders), {
      'x-forwarded-for': ['127.0.0.1'],
      'x-forwarded-host': ['app.test'],
      'x-forwarded-proto': ['http'],
    });
    assert.deepEqual(forwardingHeaders(seen[1]!.rawHeaders), {
      'x-forwarded-for': ['203.0.113.9, 127.0.0.1'],
      'x-forwarded-host': ['app.test'],
      'x-forwarded-proto': ['https'],
      'x-forwarded-port': ['443'],
      'x-forwarded-prefix': ['/admin'],
      forwarded: ['for="198.51.100.7:4711";host=app.test;proto=https, for=unknown, for=127.0.0.1;host="internal";proto=http'],
      'x-real-ip': ['198.51.100.7'],
    });
  });

  test('under Fastify with trust_proxy unset, Fastify\'s trustProxy decides whether X-Forwarded-For is appended to', async (t) => {
    const { server, seen } = recorder();
    const up = await listen(server);
    const dir = tempDir();
    writeTree(dir.path, { 'sites-enabled/app.ini': `[site]\ndomains = app.test\nproxy = http://127.0.0.1:${up.port}\n` });
    const { default: Fastify } = await import('fastify');
    const { default: hostmux } = await import('../src/adapters/fastify.ts');
    const trusting = Fastify({ trustProxy: '127.0.0.1' });
    const doubting = Fastify();
    for (const fastify of [trusting, doubting]) await fastify.register(hostmux, { configDir: dir.path, logger: captureLogger() });
    await trusting.listen({ port: 0, host: '127.0.0.1' });
    await doubting.listen({ port: 0, host: '127.0.0.1' });
    t.after(async () => {
      await trusting.close();
      await doubting.close();
      await up.close();
      dir.remove();
    });
    const bytes = 'GET / HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 203.0.113.9\r\nX-Real-IP: 203.0.113.9\r\nConnection: close\r\n\r\n';
    for (const fastify of [trusting, doubting]) {
      const { port } = fastify.server.address() as net.AddressInfo;
      assert.equal(statusOf(await rawRequestUntilClosed(port, bytes)), 200);
    }
    assert.deepEqual(forwardingHeaders(seen[0]!.rawHeaders), {
      'x-forwarded-for': ['203.0.113.9, 127.0.0.1'],
      'x-real-ip': ['203.0.113.9'],
      'x-forwarded-host': ['app.test'],
      'x-forwarded-proto': ['http'],
    });
    assert.deepEqual(forwardingHeaders(seen[1]!.rawHeaders), {
      'x-forwarded-for': ['127.0.0.1'],
      'x-forwarded-host': ['app.test'],
      'x-forwarded-proto': ['http'],
    });
  });

  test('OPTIONS * is answered 200 by hostmux (undici cannot send asterisk-form), never as OPTIONS / upstream', async (t) => {
    const { server, seen } = recorder();
    const proxy = await proxyTo(t, server, '', { prefix: '/app' });
    const answer = await rawRequestUntilClosed(proxy.port, 'OPTIONS * HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(answer), 200, answer);
    assert.match(answer, /\r\ncontent-length: 0\r\n/i);
    // `*` is a target for OPTIONS only.
    const other = await rawRequestUntilClosed(proxy.port, 'GET * HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(other), 400, other);
    const upgrade = await rawRequestUntilClosed(proxy.port, 'GET * HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.equal(statusOf(upgrade), 400, upgrade);
    // The connection stays usable after OPTIONS *, and an ordinary request still goes upstream.
    const both = await rawRequestUntilClosed(
      proxy.port,
      'OPTIONS * HTTP/1.1\r\nHost: app.test\r\n\r\nOPTIONS /x HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n',
    );
    assert.equal(both.match(/^HTTP\/1\.1 200 /gm)?.length, 2, both);
    assert.deepEqual(seen.map((r) => `${r.method} ${r.url}`), ['OPTIONS /app/x']);
  });
});

// ---------------------------------------------------------------------------
// Streaming

describe('streaming', () => {
  test('a 50 MiB upload streams: the upstream receives before the client has finished sending, and every byte arrives', HANG_GUARD, async (t) => {
    const firstBytes = deferred();
    const proxy = await proxyTo(t, (req, res) => {
      const hash = createHash('sha256');
      let received = 0;
      req.on('data', (chunk: Buffer) => {
        if (received === 0) firstBytes.resolve();
        received += chunk.length;
        hash.update(chunk);
      });
      req.on('end', () => res.end(JSON.stringify({ received, digest: hash.digest('hex') })));
    });
    const sent = createHash('sha256');
    const reply = deferred<string>();
    const req = http.request({ port: proxy.port, host: '127.0.0.1', method: 'POST', path: '/upload', agent: false, headers: { host: 'app.test' } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk));
      res.on('end', () => reply.resolve(body));
    });
    req.on('error', (err) => reply.resolve(`client error: ${err.message}`));
    const all = [...chunks(0, CHUNKS)];
    all.forEach((chunk) => sent.update(chunk));
    // 1 MiB, chunked (no Content-Length), then wait for the upstream to see it.
    await writeAll(req, all.slice(0, 16));
    await within(firstBytes.promise, 10_000, 'the upstream saw nothing of the first MiB: the proxy holds the request body');
    await writeAll(req, all.slice(16));
    req.end();
    assert.deepEqual(JSON.parse(await reply.promise), { received: CHUNKS * 65_536, digest: sent.digest('hex') });
  });

  test('a 50 MiB download streams: the client receives before the upstream has finished sending, and every byte arrives', HANG_GUARD, async (t) => {
    const clientGotBytes = deferred();
    const upstreamFinished = deferred<string>();
    const proxy = await proxyTo(t, async (_req, res) => {
      res.writeHead(200, { 'content-length': CHUNKS * 65_536 });
      await writeAll(res, chunks(0, 16));
      try {
        await within(clientGotBytes.promise, 10_000, 'the client saw nothing of the first MiB: the proxy holds the response body');
      } catch (err) {
        upstreamFinished.resolve((err as Error).message);
        return void res.destroy();
      }
      await writeAll(res, chunks(16, CHUNKS));
      res.end(() => upstreamFinished.resolve('finished'));
    });
    const expected = createHash('sha256');
    for (const chunk of chunks(0, CHUNKS)) expected.update(chunk);
    const got = await new Promise<{ received: number; digest: string }>((resolve, reject) => {
      http.get({ port: proxy.port, host: '127.0.0.1', path: '/download', agent: false, headers: { host: 'app.test' } }, (res) => {
        const hash = createHash('sha256');
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          hash.update(chunk);
          clientGotBytes.resolve();
        });
        res.on('end', () => resolve({ received, digest: hash.digest('hex') }));
        res.on('error', reject);
      }).on('error', reject);
    });
    assert.equal(await upstreamFinished.promise, 'finished');
    assert.deepEqual(got, { received: CHUNKS * 65_536, digest: expected.digest('hex') });
  });

  test('an upstream that stops reading stops the client (backpressure): the proxy never takes the whole 50 MiB', HANG_GUARD, async (t) => {
    const upstreamReq = deferred<http.IncomingMessage>();
    const proxy = await proxyTo(t, (req, res) => {
      req.pause();
      upstreamReq.resolve(req);
      req.on('end', () => res.end('done'));
    });
    const req = http.request({ port: proxy.port, host: '127.0.0.1', method: 'POST', path: '/upload', agent: false, headers: { host: 'app.test' } });
    req.on('error', () => {});
    // Write until the connection pushes back and stays stuck.
    let paused = 0;
    for (const chunk of chunks(0, CHUNKS)) {
      paused += chunk.length;
      if (!req.write(chunk)) {
        const drained = await Promise.race([once(req, 'drain').then(() => true), sleep(500).then(() => false)]);
        if (!drained) break;
      }
    }
    assert.ok(paused < 24 * MB, `the client could send ${(paused / MB).toFixed(1)} MiB to an upstream that reads nothing`);
    // Reading again lets the rest through.
    (await upstreamReq.promise).resume();
    req.end();
    const reply = await new Promise<string>((resolve, reject) => {
      req.on('response', (res: http.IncomingMessage) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
    });
    assert.equal(reply, 'done');
  });

  test('a client that stops reading stops the upstream (backpressure): it never sends the whole 50 MiB', HANG_GUARD, async (t) => {
    let written = 0;
    let waiting = false;
    const upstreamClosed = deferred();
    const proxy = await proxyTo(t, async (_req, res) => {
      res.on('close', () => upstreamClosed.resolve());
      res.writeHead(200, { 'content-length': CHUNKS * 65_536 });
      for (const chunk of chunks(0, CHUNKS)) {
        if (res.destroyed) return;
        written += chunk.length;
        if (!res.write(chunk)) {
          waiting = true;
          await Promise.race([once(res, 'drain'), once(res, 'close')]);
          waiting = false;
        }
      }
      res.end();
    });
    const client = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ port: proxy.port, host: '127.0.0.1', agent: false, headers: { host: 'app.test' } }, resolve).on('error', reject);
    });
    client.pause();
    // Wait until the upstream is stuck on backpressure: the same count, waiting for 'drain', twice in a row.
    let last = -1;
    for (let i = 0; i < 100; i++) {
      await sleep(100);
      if (waiting && written === last) break;
      last = written;
    }
    assert.ok(waiting, 'the upstream is waiting for drain');
    assert.ok(written < 24 * MB, `the upstream wrote ${(written / MB).toFixed(1)} MiB to a client that reads nothing`);
    client.destroy();
    await within(upstreamClosed.promise, 10_000, 'the upstream response was not closed after the client left');
  });
});

// ---------------------------------------------------------------------------
// Failures and timeouts

describe('failures', () => {
  test('nothing listening upstream: 502, logged once with the site name', async (t) => {
    const proxy = await startProxy(`proxy = http://127.0.0.1:${await freePort()}`);
    t.after(proxy.stop);
    const reply = await request(proxy.port, { host: 'app.test' });
    assert.equal(reply.status, 502);
    assert.equal(reply.headers['content-type'], 'text/plain; charset=utf-8');
    assertOneError(proxy.records, '502');
  });

  test('an upstream that resets the connection before its head: 502', async (t) => {
    const upstream = net.createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    t.after(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
    const proxy = await startProxy(`proxy = http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}`);
    t.after(proxy.stop);
    assert.equal((await request(proxy.port, { host: 'app.test' })).status, 502);
    assertOneError(proxy.records, '502');
  });

  test('an unreachable upstream name: 502', async (t) => {
    const proxy = await startProxy('proxy = http://no-such-host.invalid:81');
    t.after(proxy.stop);
    assert.equal((await request(proxy.port, { host: 'app.test' })).status, 502);
    assertOneError(proxy.records, '502');
  });

  test('proxy_timeout = 1 and an upstream that never answers: 504 after the timeout', HANG_GUARD, async (t) => {
    const arrived = deferred();
    const proxy = await proxyTo(t, () => arrived.resolve(), 'proxy_timeout = 1');
    const reply = await request(proxy.port, { host: 'app.test' });
    await arrived.promise;
    assert.equal(reply.status, 504);
    assertOneError(proxy.records, '504');
  });

  test('proxy_timeout = 1 and a body that pauses after the head: the response is cut off', HANG_GUARD, async (t) => {
    const proxy = await proxyTo(t, (_req, res) => {
      // Chunked: a response that ended cleanly here would look complete to the client.
      res.writeHead(200);
      res.write('the first ten bytes…');
    }, 'proxy_timeout = 1');
    const outcome = await new Promise<{ status: number; body: string; end: string }>((resolve, reject) => {
      http.get({ port: proxy.port, host: '127.0.0.1', agent: false, headers: { host: 'app.test' } }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body, end: 'complete' }));
        res.on('error', (err) => resolve({ status: res.statusCode!, body, end: `error: ${err.message}` }));
      }).on('error', reject);
    });
    assert.equal(outcome.status, 200);
    assert.equal(outcome.body, 'the first ten bytes…');
    assert.equal(outcome.end, 'error: aborted');
    assertOneError(proxy.records, 'cut off');
  });

  test('a pause shorter than proxy_timeout is fine', HANG_GUARD, async (t) => {
    const proxy = await proxyTo(t, async (_req, res) => {
      res.writeHead(200);
      res.write('a');
      // Longer than the 1 s the other tests use: the configured value is the one that counts.
      // Well under it too: undici's coarse timers and a busy machine can shift either by a fraction of a second.
      await sleep(1_200);
      res.end('b');
    }, 'proxy_timeout = 10');
    assert.equal((await request(proxy.port, { host: 'app.test' })).body, 'ab');
    assert.deepEqual(errorsOf(proxy.records), []);
  });

  test('a client that leaves before the head aborts the upstream request', HANG_GUARD, async (t) => {
    const arrived = deferred();
    const upstreamClosed = deferred<boolean>();
    const proxy = await proxyTo(t, (_req, res) => {
      res.on('close', () => upstreamClosed.resolve(res.writableFinished));
      arrived.resolve();
    });
    const req = http.get({ port: proxy.port, host: '127.0.0.1', agent: false, headers: { host: 'app.test' } });
    req.on('error', () => {});
    await arrived.promise;
    req.destroy();
    assert.equal(await within(upstreamClosed.promise, 10_000, 'the upstream never saw the request end'), false);
    assert.deepEqual(errorsOf(proxy.records), [], 'a client leaving is not the site\'s failure');
  });

  test('a client that leaves during the body aborts the upstream response', HANG_GUARD, async (t) => {
    const upstreamClosed = deferred<boolean>();
    const proxy = await proxyTo(t, (_req, res) => {
      res.on('close', () => upstreamClosed.resolve(res.writableFinished));
      res.writeHead(200);
      res.write('part one');
    });
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ port: proxy.port, host: '127.0.0.1', agent: false, headers: { host: 'app.test' } }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      setTimeout(() => reject(new Error('no body arrived')), 10_000).unref();
    });
    assert.equal(await within(upstreamClosed.promise, 10_000, 'the upstream never saw the request end'), false);
  });

  test('a client that leaves during its upload aborts the upstream request', HANG_GUARD, async (t) => {
    const upstreamReq = deferred<http.IncomingMessage>();
    const proxy = await proxyTo(t, (req) => {
      req.on('error', () => {}).resume();
      upstreamReq.resolve(req);
    });
    const req = http.request({ port: proxy.port, host: '127.0.0.1', method: 'POST', agent: false, headers: { host: 'app.test' } });
    req.on('error', () => {});
    req.write(chunkOf(1));
    const seen = await within(upstreamReq.promise, 10_000, 'the upload never reached the upstream');
    // Not once(): the upstream request errors ('aborted') before it closes, which is the point.
    const closed = new Promise((resolve) => seen.on('close', resolve));
    req.destroy();
    await within(closed, 10_000, 'the upstream request was not closed');
    assert.equal(seen.complete, false);
  });
});

// ---------------------------------------------------------------------------
// The pool and close()

describe('the pool and close()', () => {
  /** An echo upstream that counts its connections. */
  async function countingUpstream(t: { after(fn: () => Promise<void>): void }, handler: http.RequestListener = echo) {
    const sockets: net.Socket[] = [];
    const server = http.createServer(handler);
    server.on('connection', (socket) => sockets.push(socket));
    return { sockets, server };
  }

  test('requests reuse one keep-alive connection, and close() closes it', async (t) => {
    const { sockets, server } = await countingUpstream(t);
    const proxy = await proxyTo(t, server);
    for (let i = 0; i < 3; i++) await echoed(proxy.port);
    assert.equal(sockets.length, 1, 'three sequential requests share one upstream connection');
    assert.equal(sockets[0]!.destroyed, false, 'the pool keeps it open');
    const closed = once(sockets[0]!, 'close');
    await proxy.app.close();
    await within(closed, 5_000, 'app.close() left the upstream connection open');
  });

  test('close() lets an in-flight request finish', HANG_GUARD, async (t) => {
    const arrived = deferred();
    const proxy = await proxyTo(t, async (_req, res) => {
      arrived.resolve();
      await sleep(300);
      res.end('finished');
    });
    const reply = request(proxy.port, { host: 'app.test' });
    await arrived.promise;
    await proxy.app.close();
    assert.deepEqual({ ...(await reply), headers: undefined }, { status: 200, headers: undefined, body: 'finished' });
  });

  test('close() cuts off a request still in flight after 5 s, and never rejects', HANG_GUARD, async (t) => {
    const arrived = deferred();
    const upstreamClosed = deferred();
    const proxy = await proxyTo(t, (_req, res) => {
      res.on('close', () => upstreamClosed.resolve());
      arrived.resolve();
    });
    const reply = request(proxy.port, { host: 'app.test' }).catch((err: Error) => err);
    await arrived.promise;
    const started = Date.now();
    await proxy.app.close();
    assert.ok(Date.now() - started >= 4_900, 'close() waited for the grace period');
    await within(upstreamClosed.promise, 5_000, 'the upstream request was not cut off');
    const outcome = await reply;
    assert.ok(outcome instanceof Error || outcome.status === 502, `the client saw ${JSON.stringify(outcome)}`);
  });

  test('after close(), a request is answered 503 without reaching the upstream', async (t) => {
    let reached = 0;
    const proxy = await proxyTo(t, (req, res) => {
      reached++;
      echo(req, res);
    });
    await proxy.app.close();
    assert.equal((await request(proxy.port, { host: 'app.test' })).status, 503);
    assert.equal(reached, 0);
    await proxy.app.close(); // twice is fine
  });
});

// ---------------------------------------------------------------------------
// HTTP/2 and TLS clients

describe('HTTP/2 clients', () => {
  test('pseudo-headers stay behind, :authority is the Host, and hop-by-hop response headers do not break HTTP/2', async (t) => {
    const up = await listen((req, res) => {
      if (req.url === '/upload') return echo(req, res);
      // node:http adds Connection and Keep-Alive, which HTTP/2 forbids.
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      echo(req, res);
    });
    const dir = tempDir();
    writeTree(dir.path, { 'sites-enabled/app.ini': `[site]\ndomains = app.test\nproxy = http://127.0.0.1:${up.port}\n` });
    const app = createApplication(dir.path, { logger: captureLogger() });
    const server = http2.createServer(app);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    t.after(async () => {
      client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
      await up.close();
      dir.remove();
    });
    const h2 = (headers: http2.OutgoingHttpHeaders, body?: string) =>
      new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const stream = client.request(headers, { endStream: body === undefined });
        let response: http2.IncomingHttpHeaders = {};
        let text = '';
        stream.on('response', (h) => (response = h));
        stream.on('data', (chunk: Buffer) => (text += chunk));
        stream.on('end', () => resolve({ headers: response, body: text }));
        stream.on('error', reject);
        if (body !== undefined) stream.end(body);
      });
    const got = await h2({ ':path': '/p?x=1', ':authority': 'app.test:8443', cookie: ['a=1', 'b=2'] });
    assert.equal(got.headers[':status'], 200);
    assert.deepEqual(got.headers['set-cookie'], ['a=1', 'b=2']);
    const seen = JSON.parse(got.body) as Echoed;
    assert.equal(seen.url, '/p?x=1');
    assert.ok(!seen.rawHeaders.some((name, i) => i % 2 === 0 && name.startsWith(':')), JSON.stringify(seen.rawHeaders));
    assert.deepEqual(valuesOf(seen.rawHeaders, 'host'), ['app.test:8443']);
    assert.deepEqual(valuesOf(seen.rawHeaders, 'x-forwarded-host'), ['app.test:8443']);
    assert.deepEqual(valuesOf(seen.rawHeaders, 'cookie'), ['a=1; b=2']);
    assert.deepEqual(valuesOf(seen.rawHeaders, 'transfer-encoding'), [], 'a GET without body has none upstream');
    const posted = await h2({ ':method': 'POST', ':path': '/upload', ':authority': 'app.test' }, 'h2 body');
    assert.equal((JSON.parse(posted.body) as Echoed).body, 'h2 body');
  });
});

describe('TLS', () => {
  // A throwaway certificate from openssl; skipped where openssl is missing.
  const certs = tempDir();
  let tls: { key: Buffer; cert: Buffer } | undefined;
  before(() => {
    try {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
        '-subj', '/CN=localhost', '-keyout', join(certs.path, 'key.pem'), '-out', join(certs.path, 'cert.pem'),
      ], { stdio: 'ignore' });
      tls = { key: readFileSync(join(certs.path, 'key.pem')), cert: readFileSync(join(certs.path, 'cert.pem')) };
    } catch {
      tls = undefined;
    }
  });
  after(() => certs.remove());

  test('a client on TLS gets X-Forwarded-Proto: https', async (t) => {
    if (tls === undefined) return t.skip('openssl is not available');
    const up = await listen(echo);
    const proxy = await startProxy(`proxy = http://127.0.0.1:${up.port}`, { server: https.createServer(tls) });
    t.after(async () => {
      await proxy.stop();
      await up.close();
    });
    const body = await new Promise<string>((resolve, reject) => {
      https.get({ port: proxy.port, host: '127.0.0.1', rejectUnauthorized: false, agent: false, headers: { host: 'app.test' } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.deepEqual(valuesOf((JSON.parse(body) as Echoed).rawHeaders, 'x-forwarded-proto'), ['https']);
  });

  test('an https upstream is verified: an untrusted certificate gives 502 and logs why', async (t) => {
    if (tls === undefined) return t.skip('openssl is not available');
    const upstream = https.createServer(tls, echo);
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const proxy = await startProxy(`proxy = https://localhost:${(upstream.address() as net.AddressInfo).port}`);
    t.after(async () => {
      await proxy.stop();
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    });
    assert.equal((await request(proxy.port, { host: 'app.test' })).status, 502);
    const record = assertOneError(proxy.records, '502');
    assert.match(String((record.obj.err as Error & { code?: string }).code), /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
  });
});

// ---------------------------------------------------------------------------
// Upgrades

describe('upgrades', () => {
  test('a WebSocket is tunnelled to a ws upstream, through the path prefix, with X-Forwarded-* set', HANG_GUARD, async (t) => {
    const upstreamHttp = http.createServer();
    const wss = new WebSocketServer({ noServer: true });
    const seen = deferred<http.IncomingMessage>();
    upstreamHttp.on('upgrade', (req, socket, head) => {
      seen.resolve(req);
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data, binary) => ws.send(binary ? data : `echo: ${(data as Buffer).toString()}`)));
    });
    t.after(() => wss.close());
    const proxy = await proxyTo(t, upstreamHttp, '', { prefix: '/ws' });
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/chat?room=1`, { headers: { host: 'app.test:8080', 'x-forwarded-for': '203.0.113.9' } });
    t.after(() => ws.terminate());
    await once(ws, 'open');
    ws.send('hello');
    const [reply] = (await once(ws, 'message')) as [Buffer];
    assert.equal(String(reply), 'echo: hello');
    // A large binary message both ways: the tunnel is a byte pipe.
    const big = Buffer.alloc(4 * MB, 7);
    ws.send(big);
    const [back] = (await once(ws, 'message')) as [Buffer];
    assert.equal(Buffer.compare(back, big), 0);
    const req = await seen.promise;
    assert.equal(req.url, '/ws/chat?room=1');
    assert.equal(req.headers.host, 'app.test:8080');
    // An untrusted client's X-Forwarded-For is replaced, not appended to.
    assert.equal(req.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(req.headers['x-forwarded-host'], 'app.test:8080');
    assert.equal(req.headers['x-forwarded-proto'], 'http');
    assert.equal(req.headers.upgrade, 'websocket');
    assert.equal(req.headers.connection, 'Upgrade');
    const closed = once(ws, 'close');
    ws.close(1000, 'bye');
    const [code] = (await closed) as [number];
    assert.equal(code, 1000);
  });

  test('a non-101 answer of the upstream is passed back complete, with Connection: close', async (t) => {
    const upstreamHttp = http.createServer();
    upstreamHttp.on('upgrade', (_req, socket) => {
      socket.end('HTTP/1.1 403 Forbidden\r\nX-Why: no websockets here\r\nContent-Length: 6\r\n\r\nnope!\n');
    });
    const proxy = await proxyTo(t, upstreamHttp);
    const answer = await rawRequestUntilClosed(proxy.port, 'GET /socket HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 403 Forbidden\r\nX-Why: no websockets here\r\nContent-Length: 6\r\n(.*\r\n)*Connection: close\r\n\r\nnope!\n$/i);
    // And a real client sees that status.
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/`, { headers: { host: 'app.test' } });
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage];
    assert.equal(res.statusCode, 403);
    res.destroy();
  });

  test('an upgrade with nothing listening upstream: a complete 502, then the socket closes', async (t) => {
    const proxy = await startProxy(`proxy = http://127.0.0.1:${await freePort()}`);
    t.after(proxy.stop);
    const answer = await rawRequestUntilClosed(proxy.port, 'GET / HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.equal(statusOf(answer), 502);
    assert.match(answer, /\r\nconnection: close\r\n/i);
    assertOneError(proxy.records, '502');
  });

  test('an upstream that never answers the upgrade: 504 after proxy_timeout', HANG_GUARD, async (t) => {
    const upstreamHttp = http.createServer();
    // Holds the upgrade unanswered; ends its side once the proxy gives up, so the server can close.
    upstreamHttp.on('upgrade', (_req, socket) => socket.on('end', () => socket.end()).resume());
    const proxy = await proxyTo(t, upstreamHttp, 'proxy_timeout = 1');
    const answer = await rawRequest(proxy.port, 'GET / HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 5_000);
    assert.equal(statusOf(answer), 504);
    assertOneError(proxy.records, '504');
  });

  for (const how of ['closes', 'resets'] as const) test(`a client that ${how} its connection closes the upstream side of the tunnel`, HANG_GUARD, async (t) => {
    const upstreamHttp = http.createServer();
    const upstreamSocket = deferred<net.Socket>();
    upstreamHttp.on('upgrade', (_req, socket: net.Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
      upstreamSocket.resolve(socket);
    });
    const proxy = await proxyTo(t, upstreamHttp);
    const client = net.connect(proxy.port, '127.0.0.1');
    client.on('error', () => {});
    client.write('GET / HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
    await once(client, 'data');
    const socket = await upstreamSocket.promise;
    const ended = new Promise((resolve) => socket.on('end', resolve).on('error', resolve).resume());
    if (how === 'closes') client.destroy();
    else client.resetAndDestroy();
    await within(ended, 10_000, 'the upstream side stayed open');
    socket.destroy();
    assert.deepEqual(errorsOf(proxy.records), []);
  });
});
