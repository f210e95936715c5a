// Site modules (README: Site modules) and the public API around them
// (README: API), over real HTTP: every fixture tree lives in
// test/fixtures/sites/<case>/.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import { createApplication, siteOf, SiteLoadError, type Application } from '../src/index.ts';
import { captureLogger, FIXTURES, listen, request, type LogRecord, type Running } from './helpers.ts';

const SITES = join(FIXTURES, 'sites');

// A guard against a hang (a body that never streams), not a speed limit.
const HANG_GUARD = { timeout: 20_000 };

// ---------------------------------------------------------------------------
// Harness

interface Harness {
  readonly app: Application;
  readonly server: Running;
  readonly port: number;
  readonly records: LogRecord[];
  /** Closes the server, then the application. */
  stop(): Promise<void>;
}

/** createApplication on a fixture tree, served on port 0, logging into `records`. */
async function start(fixture: string, wrap?: (app: Application) => http.RequestListener): Promise<Harness> {
  const logger = captureLogger();
  const records = logger.records;
  const app = createApplication(join(SITES, fixture), { logger });
  const server = await listen(wrap === undefined ? app : wrap(app));
  return {
    app,
    server,
    port: server.port,
    records,
    stop: async () => {
      await server.close();
      await app.close();
    },
  };
}

function errorsOf(records: readonly LogRecord[], site?: string): LogRecord[] {
  return records.filter((r) => r.level === 'error' && (site === undefined || namesSite(r, site)));
}

/** A record names a site through its logger's bindings (`site.<name>` child) or its message. */
function namesSite(record: LogRecord, site: string): boolean {
  return record.bindings.site === site || record.msg.includes(site);
}

/**
 * The error a record carries under `err`: a copy of the site's thrown value
 * as plain strings (loggableError), never the value itself.
 */
function errOf(record: LogRecord): { type: string; message: string; stack?: string } {
  const err = record.obj.err as { type?: unknown; message?: unknown } | undefined;
  assert.ok(err !== undefined && typeof err.type === 'string' && typeof err.message === 'string', `the record carries the error under "err": ${record.msg}`);
  assert.ok(!(err instanceof Error), 'the logger is given a copy, not what the site threw');
  return err as { type: string; message: string; stack?: string };
}

/**
 * POSTs /stream in three steps and checks the response streams back while
 * the request is still open: 'one' is sent, '[one]' must come back before
 * 'two' is sent, and so on. A handler or bridge that buffered either body
 * would hang here (caught by the test timeout).
 */
async function streamExchange(port: number, host: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/stream',
    headers: { host, 'content-type': 'text/plain', 'transfer-encoding': 'chunked' },
    agent: false,
  });
  const failed = new Promise<never>((_, reject) => req.on('error', reject));
  req.flushHeaders();
  req.write('one');
  const [res] = (await Promise.race([once(req, 'response'), failed])) as [http.IncomingMessage];
  res.setEncoding('utf8');
  const chunks = res[Symbol.asyncIterator]();
  let body = '';
  const readUntil = async (text: string): Promise<void> => {
    while (!body.includes(text)) {
      const next = await chunks.next();
      if (next.done === true) throw new Error(`the response ended before ${text}; got ${JSON.stringify(body)}`);
      body += next.value as string;
    }
  };
  await readUntil('[one]');
  assert.equal(body, '[one]', 'only the first chunk came back before the second was sent');
  req.write('two');
  await readUntil('[two]');
  req.end();
  await readUntil('[end]');
  while ((await chunks.next()).done !== true);
  return { status: res.statusCode!, headers: res.headers, body };
}

/**
 * A GET that resolves when the exchange ends, complete or not: with the
 * response (`complete` false when it was cut off), or with the error of a
 * connection closed before any response head arrived.
 */
function requestToClose(
  port: number,
  host: string,
  path = '/',
): Promise<{ status?: number; body: string; complete: boolean; error?: Error }> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('error', () => {}); // 'aborted' on a cut-off response: the close below reports it
      res.on('close', () => resolve({ status: res.statusCode!, body, complete: res.complete }));
    });
    req.on('error', (error) => resolve({ body: '', complete: false, error }));
    req.end();
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests read fields of the parsed JSON directly
function json(body: string): any {
  return JSON.parse(body);
}

// ---------------------------------------------------------------------------
// The three shapes

describe('module shapes', () => {
  let h: Harness;
  before(async () => {
    h = await start('shapes');
  });
  after(async () => {
    await h.stop();
  });

  const listeners = [
    { shape: 'esm', title: 'an ESM default request listener' },
    { shape: 'cjs', title: 'a CommonJS module.exports = function' },
    { shape: 'express', title: 'an Express 5 app as default export' },
    { shape: 'hono', title: 'a Hono app (default export with fetch)' },
  ];

  for (const { shape, title } of listeners) {
    const fetchStyle = shape === 'hono';

    test(`${title} sees the method, URL, headers and body, and answers status and several set-cookie`, async () => {
      const reply = await request(h.port, {
        host: `${shape.toUpperCase()}.Test:8080`,
        method: 'PATCH',
        path: '/inspect?x=1&y=two',
        headers: { 'x-test': `hello ${shape}`, 'content-type': 'text/plain' },
        body: `payload for ${shape}`,
      });
      assert.equal(reply.status, 201);
      assert.deepEqual(reply.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly']);
      const seen = json(reply.body);
      assert.equal(seen.shape, shape);
      assert.equal(seen.method, 'PATCH');
      // A listener gets the request target; a fetch handler the full URL, with the routed host.
      assert.equal(seen.url, fetchStyle ? `http://${shape}.test:8080/inspect?x=1&y=two` : '/inspect?x=1&y=two');
      assert.equal(seen.host, `${shape.toUpperCase()}.Test:8080`);
      assert.equal(seen.test, `hello ${shape}`);
      assert.equal(seen.body, `payload for ${shape}`);
      if (fetchStyle) assert.equal(seen.isRequest, true, 'the fetch handler receives a real Request');
      assert.deepEqual(errorsOf(h.records, shape), []);
    });

    test(`${title} streams a POST body in and a response body out`, HANG_GUARD, async () => {
      const reply = await streamExchange(h.port, `${shape}.test`);
      assert.equal(reply.status, 200);
      assert.match(String(reply.headers['content-type']), /^text\/plain/);
      assert.equal(reply.body, '[one][two][end]');
    });
  }

  test('createHandler(site) returning a listener receives name, domains, settings, configDir, file and logger, and wins over the default export', async () => {
    const reply = await request(h.port, { host: 'www.create-listener.test', path: '/context' });
    assert.equal(reply.status, 200);
    assert.notEqual(reply.body, 'the default export answered');
    const { context, calls } = json(reply.body);
    assert.deepEqual(context, {
      keys: ['configDir', 'domains', 'file', 'logger', 'name', 'settings'],
      name: 'create-listener',
      domains: ['create-listener.test', '*.create-listener.test'],
      settings: {
        database: { url: 'postgres://db.internal/blog', pool: '4' },
        feature: { flags: ['alpha', 'beta'] },
      },
      configDir: join(SITES, 'shapes'),
      file: 'sites-enabled/create-listener.ini',
      logger: ['error', 'warn', 'info', 'debug', 'child'],
    });
    assert.equal(calls, 1);
    // The logger is the site's own: its records carry the site.
    const created = h.records.filter((r) => r.msg === 'create-listener: created');
    assert.equal(created.length, 1);
    assert.equal(created[0]!.level, 'info');
    assert.equal(created[0]!.bindings.site, 'create-listener');
    assert.equal(created[0]!.obj.from, 'createHandler');
  });

  test('createHandler(site) returning a fetch object receives its context and wins over a default fetch export', async () => {
    const reply = await request(h.port, { host: 'create-fetch.test', path: '/context' });
    assert.equal(reply.status, 200);
    assert.notEqual(reply.body, 'the default export answered');
    const { context, calls, url, method } = json(reply.body);
    assert.deepEqual(context, {
      keys: ['configDir', 'domains', 'file', 'logger', 'name', 'settings'],
      name: 'create-fetch',
      domains: ['create-fetch.test'],
      settings: { cache: { ttl: '60' } },
      configDir: join(SITES, 'shapes'),
      file: 'sites-enabled/create-fetch.ini',
      logger: ['error', 'warn', 'info', 'debug', 'child'],
    });
    assert.equal(calls, 1);
    assert.equal(url, 'http://create-fetch.test/context');
    assert.equal(method, 'GET');
  });

  test('CommonJS exports.createHandler is called with the site', async () => {
    const reply = await request(h.port, { host: 'create-cjs.test' });
    assert.equal(reply.status, 200);
    assert.deepEqual(json(reply.body), {
      context: { name: 'create-cjs', file: 'sites-enabled/create-cjs.ini' },
      calls: 1,
    });
  });

  test('createHandler is called once per load, whatever the number of requests', async () => {
    const replies = await Promise.all([
      ...Array.from({ length: 5 }, () => request(h.port, { host: 'create-listener.test', path: '/context' })),
      ...Array.from({ length: 5 }, () => request(h.port, { host: 'create-fetch.test', path: '/context' })),
      ...Array.from({ length: 5 }, () => request(h.port, { host: 'create-cjs.test' })),
    ]);
    for (const reply of replies) {
      assert.equal(reply.status, 200);
      assert.equal(json(reply.body).calls, 1);
    }
    const calls = (globalThis as { __hostmuxShapeCalls?: Record<string, number> }).__hostmuxShapeCalls;
    assert.deepEqual(calls, { 'create-listener': 1, 'create-fetch': 1, 'create-cjs': 1 });
    assert.deepEqual(errorsOf(h.records), []);
  });
});

// ---------------------------------------------------------------------------
// close()

describe('close()', () => {
  const closed = (): string[] => ((globalThis as { __hostmuxClosed?: string[] }).__hostmuxClosed ??= []);

  test('app.close() calls and awaits the close() of each loaded module and of what createHandler returned', async () => {
    closed().length = 0;
    const h = await start('close');
    try {
      for (const site of ['module-close', 'create-close', 'cjs-close']) {
        const reply = await request(h.port, { host: `${site}.test` });
        assert.equal(reply.status, 200);
        assert.equal(reply.body, site);
      }
      assert.deepEqual(closed(), [], 'nothing is closed while the application runs');
    } finally {
      await h.stop();
    }
    // Each close() waits before it records: seen here only if app.close() awaited it.
    assert.deepEqual([...closed()].sort(), ['cjs-close', 'create-close: module', 'create-close: result', 'module-close']);
    assert.equal((globalThis as { __hostmuxNeverLoaded?: unknown }).__hostmuxNeverLoaded, undefined, 'a site never requested is never imported');
    assert.deepEqual(errorsOf(h.records), []);
  });

  test('a close() that rejects is logged with the site, and app.close() still resolves', async () => {
    closed().length = 0;
    const h = await start('close');
    try {
      assert.equal((await request(h.port, { host: 'close-rejects.test' })).status, 200);
    } finally {
      await h.stop();
    }
    assert.deepEqual(closed(), ['close-rejects']);
    const errors = errorsOf(h.records, 'close-rejects');
    assert.equal(errors.length, 1);
    assert.equal(errOf(errors[0]!).message, 'close failed on purpose');
  });
});

// ---------------------------------------------------------------------------
// Failures

describe('failures', () => {
  let h: Harness;
  before(async () => {
    h = await start('failures');
  });
  after(async () => {
    await h.stop();
  });

  async function assertGoodSiteServes(): Promise<void> {
    const reply = await request(h.port, { host: 'good.test' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'good');
  }

  /** The one error record for a site's load failure; checks it names the site and the site file. */
  function loadFailure(site: string): LogRecord {
    const errors = errorsOf(h.records, site);
    assert.equal(errors.length, 1, `one error logged for ${site}: ${JSON.stringify(errors.map((r) => r.msg))}`);
    const record = errors[0]!;
    assert.ok(namesSite(record, site));
    assert.ok(record.msg.includes(`sites-enabled/${site}.ini`), `the log names the site file: ${record.msg}`);
    return record;
  }

  test('a module that throws at import answers 503, logs the site, file and error, and other sites still answer 200', async () => {
    const reply = await request(h.port, { host: 'throws-at-import.test' });
    assert.equal(reply.status, 503);
    assert.equal(reply.body, 'Service Unavailable\n');
    assert.equal((await request(h.port, { host: 'throws-at-import.test' })).status, 503, 'it stays 503');
    const record = loadFailure('throws-at-import');
    assert.ok(record.msg.includes('throws-at-import.mjs'), `the log names the module: ${record.msg}`);
    assert.match(record.msg, /boom at import/);
    assert.equal(errOf(record).message, 'boom at import');
    await assertGoodSiteServes();
  });

  test('a module exporting none of the shapes answers 503 and the log names what it found', async () => {
    const reply = await request(h.port, { host: 'no-shape.test' });
    assert.equal(reply.status, 503);
    const record = loadFailure('no-shape');
    assert.match(record.msg, /default export is a string/);
    assert.match(record.msg, /\bversion\b/, 'the named exports found are listed');
    await assertGoodSiteServes();
  });

  test('a createHandler that rejects answers 503 and the default export is not used', async () => {
    const reply = await request(h.port, { host: 'create-rejects.test' });
    assert.equal(reply.status, 503);
    assert.notEqual(reply.body, 'the default export answered');
    const record = loadFailure('create-rejects');
    assert.match(record.msg, /createHandler refused/);
    assert.equal(errOf(record).message, 'createHandler refused');
    await assertGoodSiteServes();
  });

  test('a createHandler that returns nothing answers 503 and the log says what it returned', async () => {
    assert.equal((await request(h.port, { host: 'create-returns-nothing.test' })).status, 503);
    assert.match(loadFailure('create-returns-nothing').msg, /createHandler\(\) returned undefined/);
  });

  test('a missing handler file answers 503 and the log names the file', async () => {
    assert.equal((await request(h.port, { host: 'missing.test' })).status, 503);
    assert.match(loadFailure('missing').msg, /does-not-exist\.mjs/);
    await assertGoodSiteServes();
  });

  /** The one error record for a handler failure of a site, with its error's message. */
  function handlerFailure(site: string, message: string): void {
    const errors = errorsOf(h.records, site);
    assert.equal(errors.length, 1, `one error logged for ${site}: ${JSON.stringify(errors.map((r) => r.msg))}`);
    assert.ok(namesSite(errors[0]!, site));
    assert.equal(errOf(errors[0]!).message, message);
  }

  test('a handler that throws synchronously answers 500 with a plain body and logs the error', async () => {
    const reply = await request(h.port, { host: 'sync-throw.test' });
    assert.equal(reply.status, 500);
    assert.equal(reply.body, 'Internal Server Error\n');
    assert.doesNotMatch(reply.body, /sync handler failure/, 'the error is not echoed');
    handlerFailure('sync-throw', 'sync handler failure');
    await assertGoodSiteServes();
  });

  test('an async handler that rejects answers 500 and logs the error', async () => {
    const reply = await request(h.port, { host: 'async-reject.test' });
    assert.equal(reply.status, 500);
    assert.equal(reply.body, 'Internal Server Error\n');
    handlerFailure('async-reject', 'async handler failure');
    await assertGoodSiteServes();
  });

  for (const site of ['throw-after-head', 'reject-after-head']) {
    const how = site === 'throw-after-head' ? 'throws' : 'rejects';
    test(`a handler that ${how} after writeHead and write has its response destroyed, and the next request works`, HANG_GUARD, async () => {
      const cut = await requestToClose(h.port, `${site}.test`);
      // Destroyed: either the head and 'partial' arrived and the body was cut
      // off, or the connection closed before the corked head left the process.
      // Never a complete response, never a 500 appended to the site's body.
      assert.equal(cut.complete, false, 'the client sees an incomplete response');
      if (cut.error === undefined) {
        assert.equal(cut.status, 200, 'the head had gone out');
        assert.equal(cut.body, 'partial');
      } else {
        assert.equal((cut.error as NodeJS.ErrnoException).code, 'ECONNRESET', `the connection was cut: ${cut.error.message}`);
      }
      handlerFailure(site, how === 'throws' ? 'failure after the head' : 'rejection after the head');
      const next = await request(h.port, { host: `${site}.test`, path: '/ok' });
      assert.equal(next.status, 200);
      assert.equal(next.body, 'still here');
      await assertGoodSiteServes();
    });
  }

  test('a fetch() that rejects answers 500 and logs the error', async () => {
    const reply = await request(h.port, { host: 'fetch-rejects.test' });
    assert.equal(reply.status, 500);
    assert.equal(reply.body, 'Internal Server Error\n');
    handlerFailure('fetch-rejects', 'fetch rejected');
    await assertGoodSiteServes();
  });

  test('a fetch() returning something other than a Response answers 500', async () => {
    const reply = await request(h.port, { host: 'fetch-non-response.test' });
    assert.equal(reply.status, 500);
    assert.equal(reply.body, 'Internal Server Error\n');
    const errors = errorsOf(h.records, 'fetch-non-response');
    assert.equal(errors.length, 1);
    assert.match(errOf(errors[0]!).message, /not a Response/);
    await assertGoodSiteServes();
  });
});

// ---------------------------------------------------------------------------
// ready()

describe('ready()', () => {
  test('ready() rejects with SiteLoadError naming every failing site while the good sites serve', async () => {
    const state = globalThis as { __hostmuxReady?: { esm: number; cjs: number } };
    assert.equal(state.__hostmuxReady, undefined);
    const h = await start('ready');
    try {
      const err = await h.app.ready().then(
        () => assert.fail('ready() resolved'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof SiteLoadError);
      assert.equal(err.code, 'HOSTMUX_SITE_LOAD');
      const problems = [...err.problems].sort((a, b) => a.site.localeCompare(b.site));
      assert.deepEqual(problems.map(({ site, file }) => ({ site, file })), [
        { site: 'broken-import', file: 'sites-enabled/broken-import.ini' },
        { site: 'broken-shape', file: 'sites-enabled/broken-shape.ini' },
        { site: 'missing', file: 'sites-enabled/missing.ini' },
      ]);
      assert.match(problems[0]!.message, /no-such-file\.mjs/);
      assert.match(problems[1]!.message, /default export is a number/);
      assert.match(problems[2]!.message, /missing\.mjs/);
      for (const p of problems) assert.ok(err.message.includes(p.site), `the message names ${p.site}`);
      // ready() loaded the good modules before any request.
      assert.deepEqual(state.__hostmuxReady, { esm: 1, cjs: 1 });

      for (const site of ['good-esm', 'good-cjs']) {
        const reply = await request(h.port, { host: `${site}.test` });
        assert.equal(reply.status, 200);
        assert.equal(reply.body, site);
      }
      for (const site of ['broken-import', 'broken-shape', 'missing']) {
        assert.equal((await request(h.port, { host: `${site}.test` })).status, 503, site);
      }
      assert.deepEqual(state.__hostmuxReady, { esm: 1, cjs: 1 }, 'requests reuse what ready() loaded');
    } finally {
      await h.stop();
    }
  });

  test('ready() resolves when every site loads, and createHandler is not called again after it', async () => {
    const state = globalThis as { __hostmuxReadyOk?: { imports: number; creates: number } };
    assert.equal(state.__hostmuxReadyOk, undefined);
    const h = await start('ready-ok');
    try {
      await h.app.ready();
      assert.deepEqual(state.__hostmuxReadyOk, { imports: 1, creates: 1 });
      await h.app.ready();
      const reply = await request(h.port, { host: 'one.test' });
      assert.equal(reply.body, 'one, created 1 time(s)');
      assert.equal((await request(h.port, { host: 'two.test' })).body, 'two');
      assert.deepEqual(state.__hostmuxReadyOk, { imports: 1, creates: 1 });
      assert.deepEqual(errorsOf(h.records), []);
    } finally {
      await h.stop();
    }
  });
});

// ---------------------------------------------------------------------------
// Lazy loading

test('a site module is imported on its first request, once, and 20 concurrent first requests share one createHandler call', HANG_GUARD, async () => {
  const state = globalThis as { __hostmuxLazy?: { imports: number; creates: number }; __hostmuxLazyUntouched?: unknown };
  const h = await start('lazy');
  try {
    assert.equal(h.app.match('counted.test')?.site, 'counted');
    assert.equal(state.__hostmuxLazy, undefined, 'nothing is imported before the first request');
    const replies = await Promise.all(Array.from({ length: 20 }, () => request(h.port, { host: 'counted.test' })));
    for (const reply of replies) {
      assert.equal(reply.status, 200);
      assert.equal(reply.body, 'imports=1 creates=1');
    }
    assert.deepEqual(state.__hostmuxLazy, { imports: 1, creates: 1 });
    assert.equal((await request(h.port, { host: 'counted.test' })).body, 'imports=1 creates=1');
  } finally {
    await h.stop();
  }
  assert.equal(state.__hostmuxLazyUntouched, undefined, 'a site never requested is never imported, not even by close()');
});

// ---------------------------------------------------------------------------
// Dependencies

test('two sites importing two versions of one package each get their own', async () => {
  const h = await start('versions');
  try {
    const [a, b] = await Promise.all([request(h.port, { host: 'a.test' }), request(h.port, { host: 'b.test' })]);
    assert.equal(a.status, 200);
    assert.equal(a.body, 'site-a uses dep 1.0.0');
    assert.equal(b.status, 200);
    assert.equal(b.body, 'site-b uses dep 2.0.0');
  } finally {
    await h.stop();
  }
});

// ---------------------------------------------------------------------------
// siteOf

describe('siteOf', () => {
  let h: Harness;
  before(async () => {
    h = await start('site-of');
  });
  after(async () => {
    await h.stop();
  });

  const cases = [
    { host: 'exact.test', expected: { name: 'listener', hostname: 'exact.test', wildcards: [] } },
    { host: 'Foo.Pattern.Test:8080', expected: { name: 'listener', hostname: 'foo.pattern.test', wildcards: ['foo'] } },
    { host: 'a.b.deep.test', expected: { name: 'listener', hostname: 'a.b.deep.test', wildcards: ['a.b'] } },
    { host: 'deep.test.', expected: { name: 'listener', hostname: 'deep.test', wildcards: [''] } },
    { host: 'fetch.test', expected: { name: 'fetch', hostname: 'fetch.test', wildcards: [] } },
    { host: 'api.fetch.test', expected: { name: 'fetch', hostname: 'api.fetch.test', wildcards: ['api'] } },
  ];
  for (const { host, expected } of cases) {
    const kind = expected.name === 'fetch' ? 'the Request of a fetch-style site' : 'a listener site';
    test(`siteOf in ${kind}, through the site's own copy of hostmux, for ${host}`, async () => {
      const reply = await request(h.port, { host });
      assert.equal(reply.status, 200);
      const { site, resolved } = json(reply.body);
      assert.ok(String(resolved).endsWith('/dist/index.js'), `the site imported the built copy: ${resolved}`);
      assert.deepEqual(site, expected);
    });
  }

  test('siteOf is undefined for a request hostmux did not dispatch', () => {
    assert.equal(siteOf({}), undefined);
    assert.equal(siteOf(new Request('http://exact.test/')), undefined);
  });
});

// ---------------------------------------------------------------------------
// Redirect sites

describe('redirect sites', () => {
  let h: Harness;
  before(async () => {
    h = await start('redirect');
  });
  after(async () => {
    await h.stop();
  });

  test('a redirect site answers 308 to the target plus the path and query', async () => {
    const reply = await request(h.port, { host: 'moved.test', path: '/some/path?q=1&r=a%20b' });
    assert.equal(reply.status, 308);
    assert.equal(reply.headers.location, 'https://target.example/base/some/path?q=1&r=a%20b');
    const root = await request(h.port, { host: 'moved.test', method: 'POST', body: 'x' });
    assert.equal(root.status, 308);
    assert.equal(root.headers.location, 'https://target.example/base/');
  });

  test('redirect_status = 301 answers 301', async () => {
    const reply = await request(h.port, { host: 'www.permanent.test', path: '/x/y?z=1' });
    assert.equal(reply.status, 301);
    assert.equal(reply.headers.location, 'https://other.example/x/y?z=1');
  });
});

// ---------------------------------------------------------------------------
// Under Express 5

describe('mounted under Express 5', () => {
  test('expressApp.use(app) serves matched hosts through hostmux; unmatched hosts fall through to later routes', async () => {
    const h = await start('express', (app) => {
      const ex = express();
      ex.use(app);
      ex.get('/page', (req, res) => {
        res.send(`express page for ${req.hostname}`);
      });
      return ex;
    });
    try {
      const hit = await request(h.port, { host: 'site.test', path: '/page?x=1' });
      assert.equal(hit.status, 200);
      assert.deepEqual(json(hit.body), { from: 'hostmux', site: 'site', url: '/page?x=1', originalUrl: '/page?x=1' });
      const other = await request(h.port, { host: 'other.test', path: '/page' });
      assert.equal(other.status, 200);
      assert.equal(other.body, 'express page for other.test');
      const unknown = await request(h.port, { host: 'other.test', path: '/nowhere' });
      assert.equal(unknown.status, 404);
      assert.match(unknown.body, /Cannot GET \/nowhere/, "Express's own 404");
      const invalid = await request(h.port, { host: 'a..b', path: '/page' });
      assert.equal(invalid.status, 400, 'an invalid host is answered 400, never passed on');
    } finally {
      await h.stop();
    }
  });

  test("expressApp.use('/sites', app) serves under the mount path with the path stripped", async () => {
    const h = await start('express', (app) => {
      const ex = express();
      ex.use('/sites', app);
      ex.get('/sites/fallback', (req, res) => {
        res.send('express under /sites');
      });
      ex.get('/elsewhere', (req, res) => {
        res.send('express elsewhere');
      });
      return ex;
    });
    try {
      const hit = await request(h.port, { host: 'site.test', path: '/sites/page?x=1' });
      assert.equal(hit.status, 200);
      assert.deepEqual(json(hit.body), { from: 'hostmux', site: 'site', url: '/page?x=1', originalUrl: '/sites/page?x=1' });
      const outside = await request(h.port, { host: 'site.test', path: '/elsewhere' });
      assert.equal(outside.body, 'express elsewhere', 'outside the mount path hostmux is not asked');
      const unmatched = await request(h.port, { host: 'other.test', path: '/sites/fallback' });
      assert.equal(unmatched.status, 200);
      assert.equal(unmatched.body, 'express under /sites');
    } finally {
      await h.stop();
    }
  });
});
