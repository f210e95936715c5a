// README: Logging — logging.ini read into pino loggers with Python
// `logging` semantics, its formats, the access log, root replacement,
// reopen for logrotate, and every configuration problem at once.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { ConfigError, createApplication, type ConfigProblem } from '../src/index.ts';
import { loggableError } from '../src/describe-error.ts';
import { loadLogging, type Logging } from '../src/logging/index.ts';
import { captureLogger, listen, rawRequest, request, statusOf, tempDir, writeTree } from './helpers.ts';

// Every tree and Logging a test makes is removed and closed after it.
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Writes `files` into a fresh config dir and loads its logging.ini; fails on any problem. */
function load(files: Record<string, string>, root?: Parameters<typeof loadLogging>[2]): { dir: string; logging: Logging } {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  writeTree(dir.path, files);
  const problems: ConfigProblem[] = [];
  const logging = loadLogging(dir.path, 'logging.ini', root, problems);
  cleanups.push(() => logging.close());
  assert.deepEqual(problems, []);
  return { dir: dir.path, logging };
}

/** The lines of a log file, after the Logging was closed (which flushes it). */
function linesOf(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter((line) => line !== '');
}
const jsonLinesOf = (path: string) => linesOf(path).map((line) => JSON.parse(line) as Record<string, unknown>);

/** Polls until `condition` holds; the deadline is a hang guard, generous for a busy machine. */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
    if (condition()) return;
    await sleep(10);
  }
  if (!condition()) assert.fail(`timed out waiting for ${what}`);
}

/** Runs `fn` with process.stderr.write captured. */
function captureStderr(fn: () => void): string {
  const chunks: string[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- saved unbound to be put back exactly as it was
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (chunks.push(String(chunk)), true));
  try {
    fn();
  } finally {
    process.stderr.write = write;
  }
  return chunks.join('');
}

const ISO = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`;
const CLF_TIME = String.raw`\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]`;

describe('without logging.ini', () => {
  test('info and above, text, to stderr; no access log; empty fingerprint', async () => {
    const problems: ConfigProblem[] = [];
    const logging = loadLogging('/nonexistent', undefined, undefined, problems);
    const out = captureStderr(() => {
      logging.root.info('hostmux started');
      logging.logger('site.blog').debug('not shown');
      logging.logger('site.blog').warn({ port: 8080 }, 'careful');
    });
    assert.match(out, new RegExp(`^${ISO} INFO root: hostmux started\n${ISO} WARN site\\.blog: careful \\(port=8080\\)\n$`));
    assert.equal(logging.access, undefined);
    assert.equal(logging.fingerprint, '');
    assert.deepEqual(problems, []);
    await logging.close();
  });

  test('a given logger is used as it is, each logger a child naming itself', async () => {
    const given = captureLogger();
    const logging = loadLogging('/nonexistent', undefined, given, []);
    assert.equal(logging.root, given);
    logging.logger('site.blog').debug('shown: the given logger decides its own level');
    assert.deepEqual(given.records, [{ level: 'debug', bindings: { logger: 'site.blog' }, obj: {}, msg: 'shown: the given logger decides its own level' }]);
    assert.equal(logging.access, undefined);
    await logging.close();
  });
});

describe('levels and handlers', () => {
  const TREE = {
    'logging.ini': [
      '[logger:root]',
      'level = info',
      'handlers = all',
      '[logger:site.blog]',
      'level = DEBUG',
      '[logger:site.shop]',
      'level = Warning',
      '[logger:site.shop.cart]', // configured, but its level comes from site.shop
      'propagate = yes',
      '[logger:quiet]',
      'level = critical',
      '[handler:all]',
      'destination = logs/all.json',
      'format = json',
      '',
    ].join('\n'),
    'logs/.keep': '',
  };

  test("a logger's level is its own or its nearest configured ancestor's", async () => {
    const { dir, logging } = load(TREE);
    logging.logger('site.blog').debug('blog debug');
    logging.logger('site.blog.admin').debug('blog admin debug'); // inherits site.blog
    logging.logger('site.other').debug('other debug'); // inherits root: dropped
    logging.logger('site.other').info('other info');
    logging.logger('site.shop').info('shop info'); // warning: dropped
    logging.logger('site.shop').warn('shop warn');
    logging.logger('site.shop.cart').info('cart info'); // warning: dropped
    logging.logger('site.shop.cart').warn('cart warn');
    logging.logger('quiet').error('quiet error'); // critical: dropped
    (logging.logger('quiet') as pino.Logger).fatal('quiet fatal'); // hostmux's Logger type names four levels; these are pino loggers
    await logging.close();
    const records = jsonLinesOf(join(dir, 'logs/all.json'));
    assert.deepEqual(
      records.map((r) => [r.logger, r.msg]),
      [
        ['site.blog', 'blog debug'],
        ['site.blog.admin', 'blog admin debug'],
        ['site.other', 'other info'],
        ['site.shop', 'shop warn'],
        ['site.shop.cart', 'cart warn'],
        ['quiet', 'quiet fatal'],
      ],
    );
  });

  test('loggers are made once and cached; root is the logger named root', async () => {
    const { logging } = load(TREE);
    assert.equal(logging.logger('site.x'), logging.logger('site.x'));
    assert.equal(logging.logger('root'), logging.root);
  });

  test('json: pino\'s line with the logger name, and an error with its stack', async () => {
    const { dir, logging } = load(TREE);
    logging.logger('site.blog').error({ err: new Error('boom'), id: 7 }, 'failed');
    await logging.close();
    const [record] = jsonLinesOf(join(dir, 'logs/all.json'));
    assert.equal(record!.level, 50);
    assert.equal(typeof record!.time, 'number');
    assert.equal(record!.pid, process.pid);
    assert.equal(record!.logger, 'site.blog');
    assert.equal(record!.id, 7);
    assert.equal(record!.msg, 'failed');
    const err = record!.err as Record<string, string>;
    assert.equal(err.type, 'Error');
    assert.equal(err.message, 'boom');
    assert.match(err.stack!, /^Error: boom\n {4}at /);
  });

  test("json: a site's thrown value, copied by loggableError, keeps its type, message and stack", async () => {
    const { dir, logging } = load(TREE);
    const thrown = new TypeError('site failure');
    logging.logger('site.blog').error({ err: loggableError(thrown) }, 'failed');
    logging.logger('site.blog').error({ err: loggableError('a string') }, 'failed');
    await logging.close();
    const [first, second] = jsonLinesOf(join(dir, 'logs/all.json')).map((r) => r.err);
    assert.deepEqual(first, { type: 'TypeError', message: 'site failure', stack: thrown.stack });
    assert.deepEqual([(second as Record<string, unknown>).type, (second as Record<string, unknown>).message], ['string', 'a string']);
  });

  test('text: one line per record, extra fields as key=value, the stack below', async () => {
    const { dir, logging } = load({
      'logging.ini': '[logger:root]\nhandlers = file\n[handler:file]\ndestination = app.log\nformat = text\n',
    });
    logging.logger('site.blog').info({ user: 'ann', note: 'two words', n: 3, tags: ['a'] }, 'signed in');
    logging.root.error(new TypeError('bad thing'), 'crashed');
    await logging.close();
    const lines = linesOf(join(dir, 'app.log'));
    assert.match(lines[0]!, new RegExp(`^${ISO} INFO site\\.blog: signed in \\(user=ann note="two words" n=3 tags=\\["a"\\]\\)$`));
    assert.match(lines[1]!, new RegExp(`^${ISO} ERROR root: crashed$`));
    assert.equal(lines[2], '    TypeError: bad thing');
    assert.match(lines[3]!, /^ {4}at /);
  });

  test('propagate = no stops a record at its own handlers', async () => {
    const { dir, logging } = load({
      'logging.ini': [
        '[logger:root]',
        'handlers = all',
        '[logger:site]',
        'handlers = sites',
        '[logger:site.private]',
        'handlers = private',
        'propagate = no',
        '[handler:all]',
        'destination = all.log',
        '[handler:sites]',
        'destination = sites.log',
        '[handler:private]',
        'destination = private.log',
        '',
      ].join('\n'),
    });
    logging.logger('site.blog').info('from blog');
    logging.logger('site.private').info('from private');
    logging.logger('site.private.deep').info('from private.deep');
    logging.root.info('from root');
    await logging.close();
    const messages = (file: string) => linesOf(join(dir, file)).map((line) => line.replace(/^\S+ INFO /, ''));
    assert.deepEqual(messages('all.log'), ['site.blog: from blog', 'root: from root']);
    assert.deepEqual(messages('sites.log'), ['site.blog: from blog']);
    assert.deepEqual(messages('private.log'), ['site.private: from private', 'site.private.deep: from private.deep']);
  });

  test("ancestors' levels are not checked again, as in Python", async () => {
    const { dir, logging } = load({
      'logging.ini': '[logger:root]\nlevel = error\nhandlers = file\n[logger:site.blog]\nlevel = debug\n[handler:file]\ndestination = root.log\n',
    });
    logging.logger('site.blog').debug('reaches root\'s handler');
    logging.logger('site.shop').warn('dropped by root\'s level');
    await logging.close();
    assert.deepEqual(linesOf(join(dir, 'root.log')).map((l) => l.replace(/^\S+ /, '')), ["DEBUG site.blog: reaches root's handler"]);
  });

  test('a handler reached twice on the way up writes a record once', async () => {
    const { dir, logging } = load({
      'logging.ini': '[logger:root]\nhandlers = file\n[logger:site]\nhandlers = file\n[handler:file]\ndestination = x.log\n',
    });
    logging.logger('site.blog').info('once');
    await logging.close();
    assert.equal(linesOf(join(dir, 'x.log')).length, 1);
  });

  test('without [logger:root], root keeps the default console (stderr, text, info)', async () => {
    const { logging } = load({ 'logging.ini': '[logger:site.blog]\nlevel = debug\n' });
    const out = captureStderr(() => {
      logging.logger('site.blog').debug('blog debug');
      logging.logger('site.shop').debug('shop debug');
    });
    assert.match(out, new RegExp(`^${ISO} DEBUG site\\.blog: blog debug\n$`));
  });

  test('root with an empty handlers list writes nowhere', async () => {
    const { logging } = load({ 'logging.ini': '[logger:root]\nhandlers =\n' });
    assert.equal(captureStderr(() => logging.root.error('nowhere')), '');
    assert.equal(logging.access, undefined);
  });

  test('two handlers on one file share it', async () => {
    const { dir, logging } = load({
      'logging.ini': '[logger:root]\nhandlers = a, b\n[handler:a]\ndestination = same.log\nformat = json\n[handler:b]\ndestination = ./same.log\nformat = text\n',
    });
    for (let i = 0; i < 50; i++) logging.root.info(`line ${i}`);
    await logging.close();
    const lines = linesOf(join(dir, 'same.log'));
    assert.equal(lines.length, 100);
    assert.equal(lines.filter((l) => l.startsWith('{')).length, 50);
  });
});

describe('the access log', () => {
  const ACCESS_TREE = {
    'logging.ini': [
      '[logger:root]',
      'handlers = app',
      '[logger:access]',
      'handlers = access, access_json',
      'propagate = no',
      '[handler:app]',
      'destination = app.log',
      '[handler:access]',
      'destination = access.log',
      'format = combined',
      '[handler:access_json]',
      'destination = access.json',
      'format = json',
      '',
    ].join('\n'),
  };

  /** A node:http server that hands every request to `logging.access.begin` and then to `handler`. */
  async function serveWith(logging: Logging, handler: http.RequestListener) {
    const access = logging.access;
    assert.ok(access !== undefined, 'the access log should be on');
    const running = await listen((req, res) => {
      access.begin(req, res, req.url === '/nosite' ? undefined : 'blog');
      handler(req, res);
    });
    cleanups.push(() => running.close());
    return running;
  }

  test('one combined line per request: address, request line, status, bytes, referer, agent, site, seconds', async () => {
    const { dir, logging } = load(ACCESS_TREE);
    const running = await serveWith(logging, (req, res) => {
      if (req.url === '/nosite') {
        res.statusCode = 404;
        res.end('Not Found\n');
      } else if (req.url === '/stream') {
        res.write('héllo ');
        res.write(Buffer.from('world'));
        res.end('!', 'utf8');
      } else if (req.url === '/empty') {
        res.statusCode = 204;
        res.end();
      } else {
        res.end('0123456789ab');
      }
    });
    await request(running.port, { path: '/x?y=1', headers: { 'user-agent': 'curl/8.5', referer: 'https://ref.example/' } });
    await request(running.port, { path: '/stream', headers: { 'user-agent': 'say "hi"\\' } });
    await request(running.port, { path: '/x', method: 'HEAD' });
    await request(running.port, { path: '/empty' });
    await request(running.port, { path: '/nosite' });
    const file = join(dir, 'access.log');
    await waitFor(() => existsSync(file) && linesOf(file).length === 5, 'five access lines');
    await logging.close();
    const h = String.raw`127\.0\.0\.1 - - ${CLF_TIME}`;
    const lines = linesOf(file);
    assert.match(lines[0]!, new RegExp(`^${h} "GET /x\\?y=1 HTTP/1\\.1" 200 12 "https://ref\\.example/" "curl/8\\.5" blog \\d+\\.\\d{3}$`));
    assert.match(lines[1]!, new RegExp(`^${h} "GET /stream HTTP/1\\.1" 200 13 "-" "say \\\\"hi\\\\"\\\\\\\\" blog \\d+\\.\\d{3}$`));
    assert.match(lines[2]!, new RegExp(`^${h} "HEAD /x HTTP/1\\.1" 200 - "-" "-" blog \\d+\\.\\d{3}$`));
    assert.match(lines[3]!, new RegExp(`^${h} "GET /empty HTTP/1\\.1" 204 - "-" "-" blog \\d+\\.\\d{3}$`));
    assert.match(lines[4]!, new RegExp(`^${h} "GET /nosite HTTP/1\\.1" 404 10 "-" "-" - \\d+\\.\\d{3}$`));
    // The json handler gets the same records as fields; propagate = no kept them out of app.log.
    const [first] = jsonLinesOf(join(dir, 'access.json'));
    assert.deepEqual(
      { ...first, time: 0, pid: 0, hostname: '', responseTime: 0 },
      {
        level: 30, time: 0, pid: 0, hostname: '', logger: 'access',
        remoteAddress: '127.0.0.1', method: 'GET', url: '/x?y=1', httpVersion: '1.1', statusCode: 200, bytes: 12,
        referer: 'https://ref.example/', userAgent: 'curl/8.5', site: 'blog', responseTime: 0, msg: 'request completed',
      },
    );
    assert.equal(existsSync(join(dir, 'app.log')), true);
    assert.deepEqual(linesOf(join(dir, 'app.log')), []);
  });

  test('the duration is in seconds with millisecond resolution', async () => {
    const { dir, logging } = load(ACCESS_TREE);
    const running = await serveWith(logging, (_req, res) => void setTimeout(() => res.end('late'), 120));
    await request(running.port, { path: '/slow' });
    const file = join(dir, 'access.log');
    await waitFor(() => linesOf(file).length === 1, 'the access line');
    await logging.close();
    const seconds = Number(/ (\d+\.\d{3})$/.exec(linesOf(file)[0]!)![1]);
    // Seconds, not milliseconds (120 and more); the upper bound leaves room for a busy machine.
    assert.ok(seconds >= 0.1 && seconds < 60, `duration ${seconds}`);
  });

  test('a connection closed before the response is logged as 499 (nginx), with the bytes so far once started', async () => {
    const { dir, logging } = load(ACCESS_TREE);
    const running = await serveWith(logging, (req, res) => {
      if (req.url === '/partial') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('0123456789');
        setTimeout(() => res.destroy(), 20);
      } else {
        setTimeout(() => req.socket.destroy(), 20);
      }
    });
    await assert.rejects(request(running.port, { path: '/never' }));
    await assert.rejects(request(running.port, { path: '/partial' }));
    const file = join(dir, 'access.log');
    await waitFor(() => linesOf(file).length === 2, 'two access lines');
    await logging.close();
    const lines = linesOf(file);
    assert.match(lines[0]!, /"GET \/never HTTP\/1\.1" 499 - "-" "-" blog /);
    assert.match(lines[1]!, /"GET \/partial HTTP\/1\.1" 200 10 "-" "-" blog /);
    assert.deepEqual(jsonLinesOf(join(dir, 'access.json')).map((r) => r.msg), ['request aborted', 'request aborted']);
  });

  test('under Express, the request target as received (originalUrl), not the mount-stripped url', async () => {
    const { dir, logging } = load(ACCESS_TREE);
    const running = await serveWith(logging, (req, res) => res.end());
    // What Express does to req before a mounted app sees it, simulated on the raw request.
    running.server.prependListener('request', (req: http.IncomingMessage & { originalUrl?: string }) => {
      req.originalUrl = req.url;
      req.url = '/';
    });
    await request(running.port, { path: '/mount/page' });
    const file = join(dir, 'access.log');
    await waitFor(() => existsSync(file) && linesOf(file).length === 1, 'the access line');
    await logging.close();
    assert.match(linesOf(file)[0]!, /"GET \/mount\/page HTTP\/1\.1" 200 - /);
  });

  test('HTTP/2 (compatibility API): HTTP/2.0 in the request line, each body byte counted once', async () => {
    const { dir, logging } = load(ACCESS_TREE);
    const server = http2.createServer((req, res) => {
      logging.access!.begin(req, res, 'blog');
      res.write('abc');
      res.end('defg');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    cleanups.push(() => client.close());
    const stream = client.request({ ':path': '/h2?q', ':authority': 'blog.test', 'user-agent': 'h2c' });
    stream.resume();
    await once(stream, 'end');
    const file = join(dir, 'access.log');
    await waitFor(() => existsSync(file) && linesOf(file).length === 1, 'the access line');
    await logging.close();
    assert.match(linesOf(file)[0]!, new RegExp(`^127\\.0\\.0\\.1 - - ${CLF_TIME} "GET /h2\\?q HTTP/2\\.0" 200 7 "-" "h2c" blog \\d+\\.\\d{3}$`));
  });

  test('begin twice on one response writes one line', async () => {
    const { dir, logging } = load(ACCESS_TREE);
    const running = await serveWith(logging, (req, res) => {
      logging.access!.begin(req, res, 'again');
      res.end('x');
    });
    await request(running.port);
    const file = join(dir, 'access.log');
    await waitFor(() => existsSync(file) && linesOf(file).length >= 1, 'the access line');
    await sleep(50);
    await logging.close();
    assert.equal(linesOf(file).length, 1);
  });

  test('a text handler writes the combined line after its prefix; a combined handler writes other records as text', async () => {
    const { dir, logging } = load({
      'logging.ini': '[logger:root]\nhandlers = text, combined\n[handler:text]\ndestination = text.log\n[handler:combined]\ndestination = combined.log\nformat = combined\n',
    });
    const running = await serveWith(logging, (_req, res) => res.end('ok'));
    await request(running.port, { path: '/t', headers: { 'user-agent': 'ua' } });
    await waitFor(() => existsSync(join(dir, 'text.log')) && linesOf(join(dir, 'text.log')).length === 1, 'the access line');
    logging.logger('site.blog').warn('not a request');
    await logging.close();
    const [accessText, warnText] = linesOf(join(dir, 'text.log'));
    assert.match(accessText!, new RegExp(`^${ISO} INFO access: 127\\.0\\.0\\.1 - - ${CLF_TIME} "GET /t HTTP/1\\.1" 200 2 "-" "ua" blog \\d+\\.\\d{3}$`));
    const [accessCombined, warnCombined] = linesOf(join(dir, 'combined.log'));
    assert.match(accessCombined!, /^127\.0\.0\.1 - - \[/);
    assert.match(warnText!, new RegExp(`^${ISO} WARN site\\.blog: not a request$`));
    assert.equal(warnCombined, warnText);
  });

  test('is off when no handler would receive its lines', async () => {
    const off = (ini: string) => load({ 'logging.ini': ini }).logging.access;
    assert.equal(off('[logger:access]\nlevel = warn\n'), undefined);
    assert.equal(off('[logger:access]\npropagate = no\n'), undefined);
    assert.equal(off('[logger:root]\nhandlers =\n'), undefined);
    assert.equal(off('[logger:root]\nlevel = silent\n'), undefined);
    // A logger like the others: with only root configured, its lines go to root's handlers.
    assert.notEqual(off('[logger:root]\nlevel = info\n'), undefined);
  });
});

describe('a given root logger', () => {
  /** A real pino logger writing JSON records into an array. */
  function pinoInto(records: Record<string, unknown>[], level = 'info'): pino.Logger {
    return pino({ level }, { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) });
  }

  const TREE = {
    'logging.ini': [
      '[logger:root]',
      'level = info',
      'handlers = rootfile',
      '[logger:site.blog]',
      'level = debug',
      'handlers = blogfile',
      '[logger:site.secret]',
      'handlers = blogfile',
      'propagate = no',
      '[handler:rootfile]',
      'destination = root.log',
      '[handler:blogfile]',
      'destination = blog.log',
      '',
    ].join('\n'),
  };

  test("takes the place of root's handlers; loggers with their own handlers still write to them", async () => {
    const records: Record<string, unknown>[] = [];
    const { dir, logging } = load(TREE, pinoInto(records));
    logging.root.info('from hostmux');
    logging.logger('site.shop').info({ order: 1 }, 'from shop');
    logging.logger('site.shop').debug('below root level: dropped');
    logging.logger('site.blog').info('from blog');
    logging.logger('site.blog').debug('blog debug: its file only, the given logger is at info');
    logging.logger('site.blog').child({ req: 42 }).warn('with bindings');
    logging.logger('site.secret').info('not propagated');
    logging.logger('site.shop').error(new Error('broken'), 'failed');
    await logging.close();
    const seen = records.map(({ logger, msg, order, req }) => ({ logger, msg, order, req }));
    assert.deepEqual(seen, [
      { logger: undefined, msg: 'from hostmux', order: undefined, req: undefined },
      { logger: 'site.shop', msg: 'from shop', order: 1, req: undefined },
      { logger: 'site.blog', msg: 'from blog', order: undefined, req: undefined },
      { logger: 'site.blog', msg: 'with bindings', order: undefined, req: 42 },
      { logger: 'site.shop', msg: 'failed', order: undefined, req: undefined },
    ]);
    // The given logger's own serializers saw the Error itself.
    assert.match((records[4]!.err as { stack: string }).stack, /^Error: broken\n/);
    assert.deepEqual(records.map((r) => r.level), [30, 30, 30, 40, 50]);
    const blog = linesOf(join(dir, 'blog.log')).map((l) => l.replace(/^\S+ /, ''));
    assert.deepEqual(blog, [
      'INFO site.blog: from blog',
      'DEBUG site.blog: blog debug: its file only, the given logger is at info',
      'WARN site.blog: with bindings (req=42)',
      'INFO site.secret: not propagated',
    ]);
    // Root's own handler is replaced, not written to.
    assert.deepEqual(linesOf(join(dir, 'root.log')), []);
  });

  test('receives access records when they propagate to root', async () => {
    const records: Record<string, unknown>[] = [];
    const { logging } = load({ 'logging.ini': '[logger:root]\nlevel = info\n' }, pinoInto(records));
    const running = await listen((req, res) => {
      logging.access!.begin(req, res, 'blog');
      res.end('hi');
    });
    cleanups.push(() => running.close());
    await request(running.port, { path: '/a' });
    await waitFor(() => records.length === 1, 'the access record');
    assert.equal(records[0]!.logger, 'access');
    assert.equal(records[0]!.statusCode, 200);
    assert.equal(records[0]!.bytes, 2);
    assert.equal(records[0]!.url, '/a');
  });

  test('a minimal logger without trace and fatal gets them as debug and error', async () => {
    const given = captureLogger();
    const { logging } = load({ 'logging.ini': '[logger:root]\nlevel = trace\n' }, given);
    const a = logging.logger('site.a') as pino.Logger;
    a.trace('t');
    a.fatal('f');
    assert.deepEqual(given.records.map((r) => [r.level, r.bindings, r.msg]), [
      ['debug', { logger: 'site.a' }, 't'],
      ['error', { logger: 'site.a' }, 'f'],
    ]);
  });
});

describe('files', () => {
  const TREE = { 'logging.ini': '[logger:root]\nhandlers = file\n[handler:file]\ndestination = logs/app.log\n', 'logs/.keep': '' };

  test('reopen() after logrotate renamed the file: new lines go to a new file', async () => {
    const { dir, logging } = load(TREE);
    const path = join(dir, 'logs/app.log');
    logging.root.info('before rotation');
    await waitFor(() => linesOf(path).length === 1, 'the first line');
    renameSync(path, `${path}.1`);
    logging.root.info('after rename, before reopen');
    logging.reopen();
    logging.root.info('after reopen');
    await logging.close();
    assert.deepEqual(linesOf(`${path}.1`).map((l) => l.replace(/^\S+ INFO root: /, '')), ['before rotation', 'after rename, before reopen']);
    assert.deepEqual(linesOf(path).map((l) => l.replace(/^\S+ INFO root: /, '')), ['after reopen']);
  });

  test('close() writes every buffered line; a line after close() is still appended', async () => {
    const { dir, logging } = load(TREE);
    for (let i = 0; i < 5000; i++) logging.root.info({ i }, 'many');
    await logging.close();
    const path = join(dir, 'logs/app.log');
    assert.equal(linesOf(path).length, 5000);
    logging.root.info('late');
    assert.equal(linesOf(path).length, 5001);
    await logging.close(); // twice is fine
  });

  test('appends to an existing file', async () => {
    const { dir, logging } = load({ ...TREE, 'logs/app.log': 'old line\n' });
    logging.root.info('new line');
    await logging.close();
    assert.equal(linesOf(join(dir, 'logs/app.log'))[0], 'old line');
    assert.equal(linesOf(join(dir, 'logs/app.log')).length, 2);
  });
});

describe('fingerprint', () => {
  const fingerprintOf = (ini: string, env: Record<string, string> = {}) => {
    Object.assign(process.env, env);
    try {
      return load({ 'logging.ini': ini }).logging.fingerprint;
    } finally {
      for (const name of Object.keys(env)) delete process.env[name];
    }
  };

  test('equal for equal settings, different when a setting or a variable changes', () => {
    const base = fingerprintOf('[logger:root]\nlevel = info\n');
    assert.notEqual(base, '');
    assert.equal(fingerprintOf('; a comment\n[logger:root]\nlevel = info ; inline\n'), base);
    assert.notEqual(fingerprintOf('[logger:root]\nlevel = debug\n'), base);
    const ini = '[logger:root]\nlevel = ${HOSTMUX_TEST_LEVEL}\n';
    assert.equal(fingerprintOf(ini, { HOSTMUX_TEST_LEVEL: 'info' }), base);
    assert.notEqual(fingerprintOf(ini, { HOSTMUX_TEST_LEVEL: 'warn' }), base);
  });
});

describe('configuration problems', () => {
  interface Expected {
    readonly section?: string;
    readonly key?: string;
    readonly line?: number;
    readonly message: string;
  }

  function assertProblems(problems: readonly ConfigProblem[], file: string, expected: readonly Expected[]): void {
    const where = (p: Expected | ConfigProblem) => ({ section: p.section, key: p.key, line: p.line });
    assert.deepEqual(problems.map(where), expected.map(where), JSON.stringify(problems, null, 2));
    problems.forEach((problem, i) => {
      assert.equal(problem.file, file);
      const wanted = expected[i]!.message;
      assert.ok(problem.message.includes(wanted), `problem ${i}: ${JSON.stringify(problem.message)} should include ${JSON.stringify(wanted)}`);
    });
  }

  test('every problem of logging.ini at once, with file, section, key and line', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    writeTree(dir.path, {
      'conf/logging.ini': [
        'stray = 1', //                      1
        '[logger:root]', //                  2
        'level = loud', //                   3
        'handlers = console, nope', //       4
        '[logger:site.blog]', //             5
        'propagate = maybe', //              6
        'colour = red', //                   7
        '[handler:console]', //              8
        'destination = stderr', //           9
        'format = xml', //                   10
        '[handler:dir]', //                  11
        'destination = logs', //             12
        '[handler:missing]', //              13
        'destination = nowhere/x.log', //    14
        '[handler:nodest]', //               15
        'format = json', //                  16
        '[formatters]', //                   17
        'keys = simple', //                  18
        '[logger:access]', //                19
        'just a line', //                    20
        '[logger:a..b]', //                  21
        '[handler:list]', //                 22
        'destination[] = a.log', //          23
        '',
      ].join('\n'),
      'logs/.keep': '',
    });
    const problems: ConfigProblem[] = [];
    const logging = loadLogging(dir.path, 'conf/logging.ini', undefined, problems);
    assertProblems(problems, 'conf/logging.ini', [
      { section: 'logger:access', line: 20, message: 'line "just a line" has no "="' },
      { key: 'stray', line: 1, message: 'key is outside any section' },
      { section: 'logger:root', key: 'level', line: 3, message: '"loud" is not a level' },
      { section: 'logger:site.blog', key: 'colour', line: 7, message: 'unknown key' },
      { section: 'logger:site.blog', key: 'propagate', line: 6, message: '"maybe" is not yes or no' },
      { section: 'handler:console', key: 'format', line: 10, message: '"xml" is not a format (text, json, combined)' },
      { section: 'handler:nodest', line: 15, message: 'a handler needs a destination' },
      { section: 'formatters', line: 17, message: 'unknown section' },
      { section: 'logger:a..b', line: 21, message: 'a logger needs a name without empty dotted parts' },
      { section: 'handler:list', key: 'destination', line: 23, message: 'takes one value, not a list' },
      { section: 'logger:root', key: 'handlers', line: 4, message: 'unknown handler "nope"' },
      { section: 'handler:dir', key: 'destination', line: 12, message: 'is a directory' },
      { section: 'handler:missing', key: 'destination', line: 14, message: `the directory ${join(dir.path, 'nowhere')} does not exist` },
    ]);
    // Relative destinations resolve against the config dir, not the file's directory.
    assert.ok(problems.at(-2)!.message.includes(join(dir.path, 'logs')));
    assert.equal(existsSync(join(dir.path, 'nowhere')), false);
    await logging.close();
  });

  test('a logging.ini named by hostmux.conf that does not exist is a problem', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const problems: ConfigProblem[] = [];
    const logging = loadLogging(dir.path, 'logging.ini', undefined, problems);
    assertProblems(problems, 'logging.ini', [{ message: 'no such file' }]);
    await logging.close();
  });

  test('what is returned with problems still closes the files it opened', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    writeTree(dir.path, { 'logging.ini': '[logger:root]\nhandlers = f\nlevel = nope\n[handler:f]\ndestination = ok.log\n' });
    const problems: ConfigProblem[] = [];
    const logging = loadLogging(dir.path, 'logging.ini', undefined, problems);
    assert.equal(problems.length, 1);
    await logging.close();
  });
});

describe('through createApplication', () => {
  const TREE = {
    'hostmux.conf': '[server]\nlogging = logging.ini\n',
    'logging.ini': [
      '[logger:root]',
      'handlers = app',
      '[logger:site.blog]',
      'level = debug',
      'handlers = blog',
      'propagate = no',
      '[logger:access]',
      'handlers = access',
      'propagate = no',
      '[handler:app]',
      'destination = app.log',
      '[handler:blog]',
      'destination = blog.log',
      'format = json',
      '[handler:access]',
      'destination = access.log',
      'format = combined',
      '',
    ].join('\n'),
    'sites-enabled/blog.ini': '[site]\ndomains = blog.test\nhandler = ../blog.mjs\n',
    'blog.mjs':
      'export function createHandler(site) {\n' +
      '  return (req, res) => { site.logger.debug({ path: req.url }, "hit"); res.end("blog"); };\n' +
      '}\n',
  };

  /** The tree written to a temp dir, its application, and a server for it; all cleaned up after the test. */
  async function serveTree(files: Record<string, string>) {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    writeTree(dir.path, files);
    const app = createApplication(dir.path);
    cleanups.push(() => app.close());
    const running = await listen(app);
    cleanups.push(() => running.close());
    return { dir, app, running };
  }

  test('sites log as site.NAME; one access line per request answered or handed to a site, none for next()', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    writeTree(dir.path, TREE);
    const app = createApplication(dir.path);
    cleanups.push(() => app.close());
    const running = await listen((req, res) => app(req, res, () => res.end('passed on')));
    cleanups.push(() => running.close());
    assert.equal((await request(running.port, { host: 'blog.test', path: '/post?id=1' })).status, 200);
    assert.equal((await request(running.port, { host: 'other.test', path: '/x' })).body, 'passed on');
    assert.equal(statusOf(await rawRequest(running.port, 'GET /bad HTTP/1.1\r\nHost: a..b\r\nConnection: close\r\n\r\n')), 400);
    const access = join(dir.path, 'access.log');
    await waitFor(() => existsSync(access) && linesOf(access).length === 2, 'two access lines');
    await app.close();
    const lines = linesOf(access);
    assert.match(lines[0]!, /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/post\?id=1 HTTP\/1\.1" 200 4 "-" "-" blog \d+\.\d{3}$/);
    assert.match(lines[1]!, /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/bad HTTP\/1\.1" 400 \d+ "-" "-" - \d+\.\d{3}$/);
    const [hit] = jsonLinesOf(join(dir.path, 'blog.log'));
    assert.deepEqual([hit!.logger, hit!.level, hit!.path, hit!.msg], ['site.blog', 20, '/post?id=1', 'hit']);
  });

  test('access lines for the 404, 500 and 503 hostmux gives', async () => {
    const { dir, app, running } = await serveTree({
      ...TREE,
      'sites-enabled/fails.ini': '[site]\ndomains = fails.test\nhandler = ../fails.mjs\n',
      'fails.mjs': 'export default () => { throw new Error("fails on purpose"); };\n',
      'sites-enabled/broken.ini': '[site]\ndomains = broken.test\nhandler = ../missing.mjs\n',
    });
    assert.equal((await request(running.port, { host: 'nobody.test', path: '/a' })).status, 404);
    assert.equal((await request(running.port, { host: 'fails.test', path: '/b' })).status, 500);
    assert.equal((await request(running.port, { host: 'broken.test', path: '/c' })).status, 503);
    const access = join(dir.path, 'access.log');
    await waitFor(() => existsSync(access) && linesOf(access).length === 3, 'three access lines');
    const lines = linesOf(access);
    assert.match(lines[0]!, /"GET \/a HTTP\/1\.1" 404 \d+ "-" "-" - /);
    assert.match(lines[1]!, /"GET \/b HTTP\/1\.1" 500 \d+ "-" "-" fails /);
    assert.match(lines[2]!, /"GET \/c HTTP\/1\.1" 503 \d+ "-" "-" broken /);
    // Errors about a site go to its own logger: here, through root to app.log.
    await app.close();
    const app_log = readFileSync(join(dir.path, 'app.log'), 'utf8');
    assert.match(app_log, /ERROR site\.fails: site fails: the handler failed/);
    assert.match(app_log, /ERROR site\.broken: site broken answers 503/);
  });

  test('a reload with a changed logging.ini reloads every site onto the new loggers; an unchanged one reopens the files', async () => {
    const { dir, app, running } = await serveTree(TREE);
    assert.equal((await request(running.port, { host: 'blog.test', path: '/one' })).status, 200);
    // logrotate: the file is renamed, then hostmux is told (SIGHUP → reload).
    renameSync(join(dir.path, 'access.log'), join(dir.path, 'access.log.1'));
    assert.deepEqual(await app.reload(), { added: [], removed: [], reloaded: [], kept: ['blog'] });
    assert.equal((await request(running.port, { host: 'blog.test', path: '/two' })).status, 200);
    await waitFor(() => existsSync(join(dir.path, 'access.log')) && linesOf(join(dir.path, 'access.log')).length === 1, 'a new access.log');
    assert.match(linesOf(join(dir.path, 'access.log'))[0]!, /"GET \/two /);
    // A changed logging.ini: the blog now logs to another file.
    writeTree(dir.path, { 'logging.ini': TREE['logging.ini'].replace('destination = blog.log', 'destination = blog2.log') });
    assert.deepEqual(await app.reload(), { added: [], removed: [], reloaded: ['blog'], kept: [] });
    assert.equal((await request(running.port, { host: 'blog.test', path: '/three' })).status, 200);
    await app.close();
    assert.deepEqual(jsonLinesOf(join(dir.path, 'blog2.log')).map((r) => r.path), ['/three']);
  });

  test('a reload refused for a configuration error still reopens the log files (logrotate)', async () => {
    const { dir, app, running } = await serveTree(TREE);
    assert.equal((await request(running.port, { host: 'blog.test', path: '/before' })).status, 200);
    await waitFor(() => existsSync(join(dir.path, 'access.log')) && linesOf(join(dir.path, 'access.log')).length === 1, 'one access line');
    renameSync(join(dir.path, 'access.log'), join(dir.path, 'access.log.1'));
    writeTree(dir.path, { 'sites-enabled/typo.ini': '[site]\ndomains = typo.test\nhandler = ../blog.mjs\nbogus = 1\n' });
    await assert.rejects(app.reload(), ConfigError);
    assert.equal((await request(running.port, { host: 'blog.test', path: '/after' })).status, 200);
    await waitFor(() => existsSync(join(dir.path, 'access.log')) && linesOf(join(dir.path, 'access.log')).length === 1, 'a new access.log');
    assert.match(linesOf(join(dir.path, 'access.log'))[0]!, /"GET \/after /);
    assert.equal(linesOf(join(dir.path, 'access.log.1')).length, 1);
  });

  test('%h is the connecting address, even when trusted forwarding headers route the request', async () => {
    const { dir, app, running } = await serveTree({ ...TREE, 'hostmux.conf': '[server]\nlogging = logging.ini\ntrust_proxy = true\n' });
    const reply = await request(running.port, { host: 'proxy.internal', path: '/h', headers: { 'x-forwarded-host': 'blog.test', 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(reply.status, 200);
    const access = join(dir.path, 'access.log');
    await waitFor(() => existsSync(access) && linesOf(access).length === 1, 'one access line');
    await app.close();
    assert.match(linesOf(access)[0]!, /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/h HTTP\/1\.1" 200 4 "-" "-" blog /);
  });

  test('text: what a site logs cannot forge a record or reach the terminal as a control sequence', async () => {
    const { dir, app, running } = await serveTree({
      'hostmux.conf': '[server]\nlogging = logging.ini\n',
      'logging.ini': '[logger:root]\nhandlers = app\n[logger:access]\nlevel = warn\n[handler:app]\ndestination = app.log\nformat = text\n',
      'sites-enabled/login.ini': '[site]\ndomains = login.test\nhandler = ../login.mjs\n',
      // A site that logs what a client sent, as sites do.
      'login.mjs':
        'export function createHandler(site) {\n' +
        '  return (req, res) => {\n' +
        '    const input = decodeURIComponent(req.url.slice(1));\n' +
        '    site.logger.warn("login failed for " + input);\n' +
        '    site.logger.info({ user: input, ["k\\ney"]: "v" }, "field");\n' +
        '    site.logger.error({ err: new Error("no user " + input + "\\x1b[2J") }, "failed");\n' +
        '    res.end("ok");\n' +
        '  };\n' +
        '}\n',
    });
    const forged = '2026-11-26T17:05:57.123Z INFO root: configuration reloaded';
    const input = `ann\n${forged}\r\u2028\x1b[31m`;
    assert.equal((await request(running.port, { host: 'login.test', path: `/${encodeURIComponent(input)}` })).status, 200);
    await app.close();
    const lines = readFileSync(join(dir.path, 'app.log'), 'utf8').split('\n');
    assert.equal(lines.pop(), '');
    const records = lines.filter((line) => new RegExp(`^${ISO} `).test(line)).map((line) => line.slice(25));
    const escapedInput = String.raw`ann\x0a${forged}\x0d\xe2\x80\xa8\x1b[31m`;
    assert.deepEqual(records, [
      `WARN site.login: login failed for ${escapedInput} (site=login)`,
      String.raw`INFO site.login: field (site=login user="ann\n${forged}\r\xe2\x80\xa8\u001b[31m" k\x0aey=v)`,
      'ERROR site.login: failed (site=login)',
    ]);
    // The stack: each line of it indented, the message's own line breaks kept, controls escaped.
    const stack = lines.slice(lines.indexOf(lines.find((line) => line.endsWith('ERROR site.login: failed (site=login)'))!) + 1);
    assert.deepEqual(stack.slice(0, 2), [
      '    Error: no user ann',
      String.raw`    ${forged}\x0d\xe2\x80\xa8\x1b[31m\x1b[2J`,
    ]);
    assert.ok(stack.length > 2);
    for (const line of stack.slice(2)) assert.match(line, /^ {4}at /);
  });

  test('a problem in logging.ini is a ConfigError with the others of the tree', () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    writeTree(dir.path, { ...TREE, 'logging.ini': '[logger:root]\nlevel = loud\n', 'sites-enabled/bad.ini': '[site]\nhandler = x.mjs\n' });
    const err = (() => {
      try {
        createApplication(dir.path);
      } catch (thrown) {
        return thrown;
      }
      return undefined;
    })();
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems.map((p) => [p.file, p.key]).sort(), [['logging.ini', 'level'], ['sites-enabled/bad.ini', 'domains']]);
  });
});
