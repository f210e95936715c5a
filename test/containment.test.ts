// The fault matrix: every way a site can fail, each beside a healthy
// neighbour that must answer correctly while and after the failure, over
// HTTP/1.1 and HTTP/2, in one process that must stay up. Each failure is
// logged on the failing site's own logger (`site.<name>`), naming it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test, type TestContext } from 'node:test';
import { createApplication, type Application } from '../src/index.ts';
import { internalsOf } from '../src/internal.ts';
import { captureLogger, listen, tempDir, within, writeTree, type LogRecord, type Running } from './helpers.ts';

/** A value whose every trap throws: reading anything of it fails. */
const HOSTILE = `new Proxy({}, Object.fromEntries(
  ['get', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'getPrototypeOf'].map((t) => [t, () => { throw new Error('trap'); }]),
))`;

interface Outcome {
  /** The status that must arrive; undefined: the exchange must be cut off (no complete response). */
  readonly status?: number;
  readonly body?: string;
  /** Anything goes for the failing site itself (Node decides); only the neighbour and the process are checked. */
  readonly any?: true;
  /** The request never gets an answer: it is abandoned once the neighbour has answered. */
  readonly hangs?: true;
}

interface Case {
  readonly name: string;
  readonly title: string;
  /** The site module's source. */
  readonly module: string;
  readonly h1: Outcome;
  readonly h2: Outcome;
  /** The site's log line, per protocol; undefined when nothing is logged (nothing failed as far as Node tells). */
  readonly log?: { readonly h1?: RegExp; readonly h2?: RegExp };
  /** What the logged `err` says. */
  readonly err?: { readonly type?: string; readonly code?: string; readonly message: string | RegExp };
}

const FIVE_HUNDRED: Outcome = { status: 500, body: 'Internal Server Error\n' };
const FIVE_O_THREE: Outcome = { status: 503, body: 'Service Unavailable\n' };
const CUT: Outcome = {};
const HANGS: Outcome = { hangs: true };
const both = (log: RegExp) => ({ h1: log, h2: log });
const FAILED = both(/the handler failed/);

const CASES: readonly Case[] = [
  {
    name: 'sync-throw', title: 'a handler that throws',
    module: "export default () => { throw new Error('sync failure'); };",
    h1: FIVE_HUNDRED, h2: FIVE_HUNDRED, log: FAILED, err: { type: 'Error', message: 'sync failure' },
  },
  {
    name: 'async-throw', title: 'a handler that throws after an await',
    module: "export default async () => { await null; throw new TypeError('async failure'); };",
    h1: FIVE_HUNDRED, h2: FIVE_HUNDRED, log: FAILED, err: { type: 'TypeError', message: 'async failure' },
  },
  {
    name: 'reject', title: 'a handler that returns a rejected promise',
    module: "export default () => Promise.reject(new Error('rejected'));",
    h1: FIVE_HUNDRED, h2: FIVE_HUNDRED, log: FAILED, err: { message: 'rejected' },
  },
  {
    name: 'throw-proxy', title: 'a handler that throws a Proxy whose traps throw',
    module: `export default () => { throw ${HOSTILE}; };`,
    h1: FIVE_HUNDRED, h2: FIVE_HUNDRED, log: FAILED, err: { type: 'object', message: 'a thrown object with no message' },
  },
  {
    name: 'stack-getter', title: 'a handler that throws an Error whose stack getter throws',
    module: "export default () => {\n  const e = new Error('bad stack');\n  Object.defineProperty(e, 'stack', { get() { throw new Error('no stack for you'); } });\n  throw e;\n};",
    h1: FIVE_HUNDRED, h2: FIVE_HUNDRED, log: FAILED, err: { type: 'Error', message: 'bad stack' },
  },
  {
    name: 'import-odd', title: 'a module whose top level throws an object with a throwing message getter',
    module: "throw { get message() { throw new Error('getter'); } };",
    h1: FIVE_O_THREE, h2: FIVE_O_THREE, log: { h1: /answers 503: .*import-odd\.mjs: a thrown Object with no message/ }, err: { message: 'a thrown Object with no message' },
  },
  {
    name: 'import-fails', title: 'a module that throws at import',
    module: "throw new Error('boom at import');",
    h1: FIVE_O_THREE, h2: FIVE_O_THREE, log: { h1: /answers 503: .*boom at import/ }, err: { message: 'boom at import' },
  },
  {
    name: 'import-hangs', title: 'a module whose import never settles',
    module: 'await new Promise(() => {});\nexport default (req, res) => res.end();',
    h1: HANGS, h2: HANGS,
  },
  {
    name: 'after-head', title: 'a handler that throws after the head went out',
    module: "export default (req, res) => {\n  res.writeHead(200, { 'content-type': 'text/plain' });\n  res.write('partial');\n  throw new Error('late failure');\n};",
    h1: CUT, h2: CUT, log: FAILED, err: { message: 'late failure' },
  },
  {
    name: 'double-end', title: 'a handler that ends its response twice with data',
    module: "export default (req, res) => {\n  res.end('first');\n  res.end('second');\n};",
    // HTTP/2 ignores the second end().
    h1: { status: 200, body: 'first' }, h2: { status: 200, body: 'first' },
    log: { h1: /error on its response: write after end/ }, err: { message: 'write after end' },
  },
  {
    name: 'double-end-empty', title: 'a handler that calls end() twice',
    module: 'export default (req, res) => {\n  res.end();\n  res.end();\n};',
    h1: { status: 200, body: '' }, h2: { status: 200, body: '' },
  },
  {
    name: 'write-after-end', title: 'a handler that writes after end()',
    module: "export default (req, res) => {\n  res.end('done');\n  res.write('more');\n};",
    // HTTP/2 resets the stream: what the client saw of it is Node's business.
    h1: { status: 200, body: 'done' }, h2: { any: true },
    log: { h1: /error on its response: write after end/ }, err: { message: 'write after end' },
  },
  {
    name: 'write-after-await', title: 'a handler that writes after end() and an await',
    // 16 MB cannot have left the process by the next turn of the event loop,
    // so the response is still open when the write comes. (1 MB over HTTP/2:
    // a stream destroyed with more queued than the session's memory limit
    // keeps the session refusing new streams, the neighbour's included.)
    module: "export default async (req, res) => {\n  res.end(Buffer.alloc(req.httpVersionMajor === 2 ? 1 << 20 : 16 << 20, 'x'));\n  await new Promise((resolve) => setImmediate(resolve));\n  res.write('more');\n};",
    h1: { status: 200 }, h2: { any: true },
    log: { h1: /error on its response: write after end/ }, err: { message: 'write after end' },
  },
  {
    name: 'end-replaced', title: 'a handler that replaces res.end with one that throws, then throws',
    module: "export default (req, res) => {\n  res.end = () => { throw new Error('no end'); };\n  throw new Error('after replacing end');\n};",
    h1: CUT, h2: CUT, log: FAILED, err: { message: 'after replacing end' },
  },
  {
    name: 'response-poisoned', title: 'a handler that replaces its response\'s methods with throwing ones, then rejects',
    module:
      "export default async (req, res) => {\n  await null;\n  for (const name of ['getHeaderNames', 'setHeader', 'end']) res[name] = () => { throw new Error(`no ${name}`); };\n" +
      "  throw new Error('poisoned');\n};",
    h1: CUT, h2: CUT, log: FAILED, err: { message: 'poisoned' },
  },
  {
    name: 'bad-status-message', title: 'a handler that sets a status message with a line break',
    // Node refuses to send it (the handler throws); the 500 is sent without it.
    module: "export default (req, res) => {\n  res.statusMessage = 'OK\\r\\nset-cookie: a=b';\n  res.end('x');\n};",
    h1: FIVE_HUNDRED, h2: { status: 200, body: 'x' }, log: { h1: /the handler failed/ }, err: { message: /statusMessage/ },
  },
  {
    name: 'request-destroyed', title: 'a handler that destroys its request with an error',
    // Over HTTP/1.1 Node cuts the connection and emits nothing without a
    // listener; over HTTP/2 the request emits the error, which is the site's.
    module: "export default (req, res) => {\n  req.destroy(new Error('request destroyed'));\n  res.end('x');\n};",
    h1: { any: true }, h2: { status: 200, body: 'x' },
    log: { h2: /^site request-destroyed: error on its request: request destroyed$/ }, err: { message: 'request destroyed' },
  },
  {
    name: 'request-getter', title: 'a handler function whose request property throws (not taken for an Express app)',
    module: "const handler = (req, res) => res.end('ok');\nObject.defineProperty(handler, 'request', { get() { throw new Error('no request'); } });\nexport default handler;",
    h1: { status: 200, body: 'ok' }, h2: { status: 200, body: 'ok' },
  },
  {
    name: 'hang', title: 'a handler that never answers',
    module: 'export default () => {};',
    h1: HANGS, h2: HANGS,
  },
  {
    name: 'fetch-not-response', title: 'a fetch() that returns something other than a Response',
    module: 'export default { fetch: () => 42 };',
    h1: FIVE_HUNDRED, h2: FIVE_HUNDRED, log: FAILED, err: { type: 'BadResponseError', code: 'HOSTMUX_BAD_RESPONSE', message: /not a Response/ },
  },
  {
    name: 'fetch-rejects', title: 'a fetch() that rejects',
    module: "export default { fetch: async () => { throw new Error('fetch failed'); } };",
    h1: FIVE_HUNDRED, h2: FIVE_HUNDRED, log: FAILED, err: { message: 'fetch failed' },
  },
  {
    name: 'fetch-rejects-proxy', title: 'a fetch() that rejects with a Proxy whose traps throw',
    module: `export default { fetch: async () => { throw ${HOSTILE}; } };`,
    h1: FIVE_HUNDRED, h2: FIVE_HUNDRED, log: FAILED, err: { message: 'a thrown object with no message' },
  },
  {
    name: 'body-fails-at-once', title: 'a Response body that errors before its first chunk',
    module: "export default { fetch: () => new Response(new ReadableStream({ pull(c) { c.error(new Error('body broke')); } })) };",
    h1: FIVE_HUNDRED, h2: FIVE_HUNDRED, log: FAILED, err: { message: 'body broke' },
  },
  {
    name: 'body-fails-later', title: 'a Response body that errors after its first chunk',
    module:
      "export default { fetch: () => {\n  let sent = false;\n  return new Response(new ReadableStream({\n" +
      "    pull(c) { if (!sent) { sent = true; c.enqueue(new TextEncoder().encode('start')); } else c.error(new Error('body broke later')); },\n" +
      '  }));\n} };',
    h1: CUT, h2: CUT, log: FAILED, err: { message: 'body broke later' },
  },
];

const NEIGHBOUR = 'good';

interface Exchange {
  readonly status?: number;
  readonly body: string;
  /** The whole response arrived and ended cleanly. */
  readonly complete: boolean;
}

/** One GET over HTTP/1.1 on a fresh connection; resolves however it ends. `abort` gives up on it. */
function h1Get(port: number, host: string, signal?: AbortSignal): Promise<Exchange> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false, signal }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('error', () => {});
      res.on('close', () => resolve({ status: res.statusCode!, body, complete: res.complete }));
    });
    req.on('error', () => resolve({ body: '', complete: false }));
    req.end();
  });
}

/** One GET over an HTTP/2 session; resolves however the stream ends. */
function h2Get(session: http2.ClientHttp2Session, host: string, signal?: AbortSignal): Promise<Exchange> {
  return new Promise((resolve) => {
    const stream = session.request({ ':path': '/', ':authority': host }, { signal });
    let status: number | undefined;
    let body = '';
    let ended = false;
    stream.setEncoding('latin1');
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => (ended = true));
    stream.on('error', () => {});
    stream.on('close', () => resolve({ status, body, complete: ended && stream.rstCode === http2.constants.NGHTTP2_NO_ERROR }));
  });
}

describe('the fault matrix', () => {
  const dir = tempDir();
  const logger = captureLogger();
  let app: Application;
  let h1: Running;
  let h2server: http2.Http2Server;
  let session: http2.ClientHttp2Session;

  before(async () => {
    const files: Record<string, string> = {
      'sites-enabled/good.ini': '[site]\ndomains = good.test\nhandler = ../good.mjs\n',
      // The neighbour answers with its name and pid: a correct answer from this very process.
      'good.mjs': "export default (req, res) => res.end(`good ${process.pid}`);\n",
    };
    for (const c of CASES) {
      files[`sites-enabled/${c.name}.ini`] = `[site]\ndomains = ${c.name}.test\nhandler = ../${c.name}.mjs\n`;
      files[`${c.name}.mjs`] = `${c.module}\n`;
    }
    writeTree(dir.path, files);
    app = createApplication(dir.path, { logger });
    h1 = await listen(app);
    h2server = http2.createServer(app as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
    h2server.listen(0, '127.0.0.1');
    await once(h2server, 'listening');
    session = http2.connect(`http://127.0.0.1:${(h2server.address() as AddressInfo).port}`);
    session.on('error', () => {});
  });

  after(async () => {
    session.destroy();
    h2server.close();
    await h1.close();
    // Not awaited: close() gives the never-settling import a few seconds on
    // an unref'd timer, which would leave this promise pending forever.
    void app.close();
    dir.remove();
  });

  for (const c of CASES) {
    for (const proto of ['h1', 'h2'] as const) {
      test(`${proto === 'h1' ? 'HTTP/1.1' : 'HTTP/2'}: ${c.title} (${c.name})`, { timeout: 20_000 }, async () => {
        const get = (host: string, signal?: AbortSignal) =>
          proto === 'h1' ? h1Get(h1.port, host, signal) : h2Get(session, host, signal);
        const neighbour = async (when: string) => {
          const reply = await get(`${NEIGHBOUR}.test`);
          assert.deepEqual([reply.status, reply.body, reply.complete], [200, `good ${process.pid}`, true], `the neighbour answers ${when}`);
        };
        const from = logger.records.length;
        const expected = c[proto];
        const abandon = new AbortController();
        const failing = get(`${c.name}.test`, abandon.signal);
        // While the failure is under way (a hanging one is still in flight).
        await neighbour('while the site fails');
        if (expected.hangs === true) abandon.abort();
        const outcome = await failing;
        if (expected.hangs === true) {
          assert.equal(outcome.complete, false, 'the hanging site never answered');
        } else if (expected.any !== true) {
          if (expected.status === undefined) {
            assert.equal(outcome.complete, false, `the response is cut off: ${JSON.stringify(outcome)}`);
          } else {
            assert.equal(outcome.status, expected.status);
            assert.equal(outcome.complete, true);
            if (expected.body !== undefined) assert.equal(outcome.body, expected.body);
          }
        }
        await neighbour('after the failure');

        const errors = logger.records.slice(from).filter((r: LogRecord) => r.level === 'error');
        const log = c.log?.[proto];
        if (log === undefined) {
          assert.deepEqual(errors.map((r) => r.msg), [], 'nothing failed that Node reports: nothing is logged');
          return;
        }
        assert.equal(errors.length, 1, `one error logged: ${JSON.stringify(errors.map((r) => r.msg))}`);
        const record = errors[0]!;
        assert.equal(record.bindings.logger, `site.${c.name}`, "logged on the site's own logger");
        assert.equal(record.bindings.site, c.name);
        assert.ok(record.msg.startsWith(`site ${c.name}`), `the line names the site: ${record.msg}`);
        assert.match(record.msg, log);
        const err = record.obj.err as Record<string, unknown>;
        assert.ok(!(err instanceof Error), 'the logger gets a copy of plain strings, never what the site threw');
        for (const value of Object.values(err)) assert.equal(typeof value, 'string');
        if (c.err?.type !== undefined) assert.equal(err.type, c.err.type);
        if (c.err?.code !== undefined) assert.equal(err.code, c.err.code);
        if (c.err !== undefined) assert.match(String(err.message), typeof c.err.message === 'string' ? new RegExp(`^${c.err.message}$`) : c.err.message);
      });
    }
  }
});

test('a close() that throws a Proxy whose traps throw is logged, and app.close() resolves', async (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  writeTree(dir.path, {
    'sites-enabled/c.ini': '[site]\ndomains = c.test\nhandler = ../c.mjs\n',
    'c.mjs': `export default Object.assign((req, res) => res.end(), { close() { throw ${HOSTILE}; } });\n`,
  });
  const logger = captureLogger();
  const app = createApplication(dir.path, { logger });
  await app.ready();
  await app.close();
  const errors = logger.records.filter((r) => r.level === 'error');
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.bindings.logger, 'site.c');
  assert.match(errors[0]!.msg, /^site c: close\(\) failed/);
  assert.deepEqual({ ...(errors[0]!.obj.err as object) }, { type: 'object', message: 'a thrown object with no message' });
});

test('an Express site over HTTP/2 gets its streams reset with HTTP_1_1_REQUIRED, and the process stays up', { timeout: 20_000 }, async (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'package.json');
  writeTree(dir.path, {
    'sites-enabled/ex.ini': '[site]\ndomains = ex.test\nhandler = ../ex.mjs\n',
    'sites-enabled/good.ini': '[site]\ndomains = good.test\nhandler = ../good.mjs\n',
    'ex.mjs':
      `import { createRequire } from 'node:module';\nconst express = createRequire(${JSON.stringify(root)})('express');\n` +
      "const app = express();\napp.get('/', (req, res) => res.send('express'));\nexport default app;\n",
    'good.mjs': "export default (req, res) => res.end('good');\n",
  });
  const logger = captureLogger();
  const app = createApplication(dir.path, { logger });
  t.after(() => app.close());
  await app.ready();
  const server = http2.createServer(app as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  session.on('error', () => {});
  t.after(() => {
    session.destroy();
    server.close();
  });
  const stream = session.request({ ':path': '/', ':authority': 'ex.test' });
  stream.on('error', () => {});
  stream.resume();
  await new Promise((resolve) => stream.on('close', resolve));
  assert.equal(stream.rstCode, http2.constants.NGHTTP2_HTTP_1_1_REQUIRED);
  assert.deepEqual([(await h2Get(session, 'good.test')).body, (await h2Get(session, 'ex.test')).complete], ['good', false]);
  assert.deepEqual(logger.records.filter((r) => r.level !== 'info').map((r) => r.msg), [
    'site ex: an Express app cannot serve HTTP/2; its HTTP/2 requests are reset with HTTP_1_1_REQUIRED',
  ]);
  // Over HTTP/1.1 the same app serves.
  const h1 = await listen(app);
  t.after(h1.close);
  assert.equal((await h1Get(h1.port, 'ex.test')).body, 'express');
});

test('a close() that never settles holds app.close() for its 5 s grace only, and is named in the log', { timeout: 30_000 }, async (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  writeTree(dir.path, {
    'sites-enabled/stuck.ini': '[site]\ndomains = stuck.test\nhandler = ../stuck.mjs\n',
    'sites-enabled/fine.ini': '[site]\ndomains = fine.test\nhandler = ../fine.mjs\n',
    // A database client whose end() waits on a server that is gone.
    'stuck.mjs': 'export default Object.assign((req, res) => res.end(), { close: () => new Promise(() => {}) });\n',
    'fine.mjs': 'export default (req, res) => res.end();\n',
  });
  const logger = captureLogger();
  const app = createApplication(dir.path, { logger });
  await app.ready();
  // A hang guard only: the bound under test is 5 s.
  await within(app.close(), 20_000, 'app.close() waited on a close() that never settles');
  assert.deepEqual(logger.records.filter((r) => r.level === 'warn').map((r) => r.msg), [
    'closing: did not wait longer for the close() of site stuck, still running after 5 s',
  ]);
});

test('an upgrade handler that throws a Proxy whose traps throw has its socket closed, and is logged', async (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  writeTree(dir.path, {
    'sites-enabled/u.ini': '[site]\ndomains = u.test\nhandler = ../u.mjs\n',
    'u.mjs': `export default (req, res) => res.end('ok');\nexport function upgrade() { throw ${HOSTILE}; }\n`,
  });
  const logger = captureLogger();
  const app = createApplication(dir.path, { logger });
  const running = await listen(app);
  running.server.on('upgrade', app.upgrade);
  t.after(async () => {
    await running.close();
    await app.close();
  });
  await app.ready();
  const req = http.request({ host: '127.0.0.1', port: running.port, headers: { host: 'u.test', connection: 'upgrade', upgrade: 'websocket' }, agent: false });
  req.end();
  const [error] = (await once(req, 'error')) as [NodeJS.ErrnoException];
  assert.equal(error.code, 'ECONNRESET', 'the socket was closed without an answer');
  const errors = logger.records.filter((r) => r.level === 'error');
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.bindings.logger, 'site.u');
  assert.match(errors[0]!.msg, /^site u: the upgrade handler failed/);
  assert.equal((await h1Get(running.port, 'u.test')).body, 'ok', 'the site still serves requests');
});

test('an upgrade handler that replaces its socket\'s destroy, then throws, has its socket closed, and app.close() resolves', { timeout: 20_000 }, async (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  writeTree(dir.path, {
    'sites-enabled/u.ini': '[site]\ndomains = u.test\nhandler = ../u.mjs\n',
    'u.mjs':
      "export default (req, res) => res.end('ok');\n" +
      `export function upgrade(req, socket) {\n  socket.destroy = () => { throw ${HOSTILE}; };\n  if (req.url === '/throws') throw ${HOSTILE};\n` +
      "  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nconnection: upgrade\\r\\nupgrade: websocket\\r\\n\\r\\n');\n}\n",
  });
  const logger = captureLogger();
  const app = createApplication(dir.path, { logger });
  const running = await listen(app);
  running.server.on('upgrade', app.upgrade);
  t.after(() => running.close());
  await app.ready();
  const upgrade = (path: string) => {
    const req = http.request({ host: '127.0.0.1', port: running.port, path, headers: { host: 'u.test', connection: 'upgrade', upgrade: 'websocket' }, agent: false });
    req.on('error', () => {});
    req.end();
    return req;
  };
  const failing = upgrade('/throws');
  // Not once(): it rejects on the 'error' (a reset) that comes first.
  await new Promise((resolve) => failing.on('close', resolve));
  assert.equal((await h1Get(running.port, 'u.test')).body, 'ok', 'the process is up and the site serves requests');
  const errors = logger.records.filter((r) => r.level === 'error');
  assert.deepEqual(errors.map((r) => r.msg), ['site u: the upgrade handler failed']);
  // An upgrade the site holds open with a destroy() that throws: app.close() still cuts it off.
  const [, socket] = (await once(upgrade('/holds'), 'upgrade')) as [http.IncomingMessage, Duplex];
  socket.on('error', () => {});
  const closed = once(socket, 'close');
  await app.close();
  assert.equal(internalsOf(app)!.upgradesCut, 1);
  await closed;
});

// ---------------------------------------------------------------------------
// Under `hostmux serve --workers 2` (the built dist)

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli', 'main.js');

/** One GET on a fresh connection (round-robin across workers); the body, or the error's code. */
function fresh(port: number, host: string): Promise<{ status?: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('error', () => {});
      res.on('close', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ body: '', error: error.code ?? error.message }));
    // A hang guard: a connection handed to a worker that died may never be answered.
    req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')));
  });
}

test('serve --workers 2: double-end requests every few hundred ms leave the healthy site answering every probe, and no worker dies', { timeout: 60_000 }, async (t: TestContext) => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run npm run build first`);
  const dir = tempDir('hostmux-containment-');
  t.after(dir.remove);
  writeTree(dir.path, {
    'sites-enabled/good.ini': '[site]\ndomains = good.test\nhandler = ../good.mjs\n',
    'sites-enabled/boom.ini': '[site]\ndomains = boom.test\nhandler = ../boom.mjs\n',
    'good.mjs': 'export default (req, res) => res.end(`good ${process.pid}`);\n',
    'boom.mjs': "export default (req, res) => {\n  res.end('first');\n  res.end('second');\n};\n",
  });
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [CLI, 'serve', '-c', dir.path, '--port', '0', '--workers', '2'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let log = '';
  const waiters = new Set<() => void>();
  child.stderr.on('data', (chunk: Buffer) => {
    log += chunk;
    for (const waiter of waiters) waiter();
  });
  child.stdout.resume();
  const exited = once(child, 'exit');
  /** Resolves once the log satisfies `done`; fails if serve exits first. */
  const logged = (done: (text: string) => boolean) => Promise.race([
    new Promise<void>((resolve) => {
      const check = () => done(log) && (waiters.delete(check), resolve());
      waiters.add(check);
      check();
    }),
    exited.then(() => assert.fail(`serve exited:\n${log}`)),
  ]);
  await logged((text) => /listening on http:\/\/127\.0\.0\.1:\d+/.test(text));
  const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log)![1]);

  // Both workers answer before the misbehaving requests start.
  const workers = new Set<string>();
  for (let i = 0; i < 12 && workers.size < 2; i++) workers.add((await fresh(port, 'good.test')).body);
  assert.equal(workers.size, 2, `two workers answer: ${[...workers].join(', ')}`);

  // One double-end request every 200 ms (they reach both workers in turn),
  // while the healthy site is probed back to back.
  let hammering = true;
  const booms: Array<{ status?: number; body: string; error?: string }> = [];
  const hammer = (async () => {
    while (hammering) {
      booms.push(await fresh(port, 'boom.test'));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  const probes: Array<{ status?: number; body: string; error?: string }> = [];
  while (booms.length < 12) probes.push(await fresh(port, 'good.test'));
  hammering = false;
  await hammer;

  assert.deepEqual(booms.filter((b) => b.status !== 200 || b.body !== 'first'), [], 'each double-end request got its first answer');
  const bad = probes.filter((p) => p.status !== 200 || !workers.has(p.body));
  assert.deepEqual(bad, [], `every one of ${probes.length} probes was answered by one of the two original workers`);
  // Each misuse is logged, naming the site (the last lines may still be on their way).
  const misuses = (text: string) => text.match(/site boom: error on its response: write after end/g)?.length ?? 0;
  await logged((text) => misuses(text) >= booms.length);
  assert.equal(misuses(log), booms.length);
  assert.doesNotMatch(log, /worker \d+ .*exited/, 'no worker died');
  child.kill('SIGTERM');
  await exited;
});
