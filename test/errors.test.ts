// The error catalogue: every error hostmux throws, rejects with or logs as
// its own has a HOSTMUX_* code, a class of its family, and a brand that
// `instanceof` and isHostmuxError() read, across two copies of hostmux too.
// Unknown options throw, naming the nearest known one; `defaultSite: null`
// switches default_site off.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { describe, test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import {
  BadResponseError,
  ClientGoneError,
  ClosedError,
  ConfigError,
  createApplication,
  HostmuxError,
  InvalidOptionError,
  isHostmuxError,
  SiteLoadError,
  UpstreamError,
  UpstreamTimeoutError,
  type HostmuxErrorCode,
} from '../src/index.ts';
import hostmux, { type HostmuxFastifyOptions } from '../src/adapters/fastify.ts';
import { captureLogger, listen, rawRequestUntilClosed, request, statusOf, tempDir, writeTree } from './helpers.ts';

// A guard against a hang, not a speed limit.
const HANG_GUARD = { timeout: 20_000 };

/** One of each family, with its code and name. */
const SAMPLES: [Error, HostmuxErrorCode, string][] = [
  [new InvalidOptionError('options must be an object'), 'HOSTMUX_INVALID_OPTION', 'TypeError'],
  [new ConfigError([{ file: 'hostmux.conf', message: 'bad' }]), 'HOSTMUX_CONFIG', 'ConfigError'],
  [new SiteLoadError([{ site: 'blog', file: 'sites-enabled/blog.ini', message: 'bad' }]), 'HOSTMUX_SITE_LOAD', 'SiteLoadError'],
  [new ClosedError(), 'HOSTMUX_CLOSED', 'ClosedError'],
  [new ClientGoneError('gone'), 'HOSTMUX_CLIENT_GONE', 'ClientGoneError'],
  [new UpstreamError('closed'), 'HOSTMUX_UPSTREAM', 'UpstreamError'],
  [new UpstreamTimeoutError(100), 'HOSTMUX_UPSTREAM_TIMEOUT', 'UpstreamTimeoutError'],
  [new BadResponseError('42'), 'HOSTMUX_BAD_RESPONSE', 'BadResponseError'],
];
const CLASSES = [InvalidOptionError, ConfigError, SiteLoadError, ClosedError, ClientGoneError, UpstreamError, UpstreamTimeoutError, BadResponseError];

/** A tree of redirect sites (nothing to load): blog.test and the default site `fallback`. */
function defaultTree(t: { after(fn: () => unknown): void }): string {
  const dir = tempDir();
  t.after(() => dir.remove());
  return writeTree(dir.path, {
    'hostmux.conf': '[server]\ndefault_site = fallback\n',
    'sites-enabled/blog.ini': '[site]\ndomains = blog.test\nredirect = https://blog.example\n',
    'sites-enabled/fallback.ini': '[site]\ndomains = fallback.test\nredirect = https://fallback.example\n',
  });
}

describe('the error catalogue', () => {
  test('each family has its code and name, is an Error and a HostmuxError, and no other family', () => {
    for (const [err, code, name] of SAMPLES) {
      assert.equal(err.name, name);
      assert.equal((err as { code?: unknown }).code, code);
      assert.ok(err instanceof Error);
      assert.ok(err instanceof HostmuxError, name);
      assert.ok(isHostmuxError(err), name);
      assert.ok(isHostmuxError(err, code), name);
      for (const other of CLASSES) assert.equal(err instanceof other, other.code === code, `${name} instanceof ${other.name}`);
      for (const [, otherCode] of SAMPLES) assert.equal(isHostmuxError(err, otherCode), otherCode === code);
    }
    assert.ok(SAMPLES[0]![0] instanceof TypeError, 'InvalidOptionError is a TypeError, as Node argument errors are');
  });

  test('nothing else is a hostmux error, not even a look-alike or a Proxy whose traps throw', () => {
    const hostile = new Proxy({}, {
      get() {
        throw new Error('trap');
      },
      getPrototypeOf() {
        throw new Error('trap');
      },
    });
    const lookAlike = Object.assign(new Error('x'), { code: 'HOSTMUX_CONFIG', problems: [] });
    for (const value of [undefined, null, 0, 'HOSTMUX_CONFIG', {}, new TypeError('x'), lookAlike, hostile, () => {}]) {
      assert.equal(isHostmuxError(value), false);
      assert.equal(isHostmuxError(value, 'HOSTMUX_CONFIG'), false);
      assert.equal(value instanceof HostmuxError, false);
      assert.equal(value instanceof ConfigError, false);
    }
  });

  test('an error made by another copy of hostmux is recognised by this one, and the other way round', async () => {
    // A second instance of the module, as a site that bundles its own hostmux has.
    const other = (await import(`../src/errors.ts?copy=${Date.now()}`)) as typeof import('../src/errors.ts');
    assert.notEqual(other.ConfigError, ConfigError);
    const theirs = new other.ConfigError([{ file: 'hostmux.conf', message: 'bad' }]);
    assert.ok(theirs instanceof ConfigError);
    assert.ok(theirs instanceof HostmuxError);
    assert.ok(isHostmuxError(theirs, 'HOSTMUX_CONFIG'));
    assert.equal(theirs instanceof SiteLoadError, false);
    const ours = new InvalidOptionError('x');
    assert.ok(ours instanceof other.InvalidOptionError);
    assert.ok(ours instanceof other.HostmuxError);
    assert.ok(other.isHostmuxError(ours, 'HOSTMUX_INVALID_OPTION'));
  });

  test('isHostmuxError narrows a catch binding to the family, problems included', () => {
    let seen: readonly { file: string }[] = [];
    try {
      createApplication('/nonexistent/hostmux-tree');
    } catch (err) {
      // Strict TypeScript: `err` is unknown here; the guard makes `err.problems` type-check.
      if (!isHostmuxError(err, 'HOSTMUX_CONFIG')) throw err;
      seen = err.problems;
    }
    assert.equal(seen[0]?.file, '.');
  });

  test('reload() after close() rejects with ClosedError (HOSTMUX_CLOSED)', async (t) => {
    const app = createApplication(defaultTree(t), { logger: captureLogger() });
    await app.close();
    await assert.rejects(app.reload(), (err: unknown) => {
      assert.ok(err instanceof ClosedError, String(err));
      assert.equal(err.code, 'HOSTMUX_CLOSED');
      assert.equal(err.message, 'the application is closed');
      return true;
    });
  });

  test('a fetch() returning something other than a Response is logged as BadResponseError', async (t) => {
    const dir = tempDir();
    t.after(() => dir.remove());
    writeTree(dir.path, {
      'sites-enabled/odd.ini': '[site]\ndomains = odd.test\nhandler = ../odd.mjs\n',
      'odd.mjs': 'export default { fetch: () => 42 };\n',
    });
    const logger = captureLogger();
    const app = createApplication(dir.path, { logger });
    const h = await listen(http.createServer(app));
    t.after(async () => {
      await h.close();
      await app.close();
    });
    assert.equal((await request(h.port, { host: 'odd.test' })).status, 500);
    const errs = logger.records.map((r) => r.obj.err).filter((e) => e !== undefined);
    assert.ok(errs.some((e) => (e as { code?: unknown }).code === 'HOSTMUX_BAD_RESPONSE'), JSON.stringify(errs));
  });

  test('a fetch-style site reading the body of a client that left gets ClientGoneError', HANG_GUARD, async (t) => {
    const dir = tempDir();
    t.after(() => dir.remove());
    const key = `__hostmuxGone${process.pid}`;
    writeTree(dir.path, {
      'sites-enabled/upload.ini': '[site]\ndomains = upload.test\nhandler = ../upload.mjs\n',
      'upload.mjs': [
        'export default {',
        '  async fetch(request) {',
        `    globalThis.${key}.started();`,
        `    try { await request.text(); } catch (err) { globalThis.${key}.failed(err); }`,
        "    return new Response('');",
        '  },',
        '};',
      ].join('\n'),
    });
    let started!: () => void;
    let failed!: (err: unknown) => void;
    const startedP = new Promise<void>((resolve) => (started = resolve));
    const failedP = new Promise<unknown>((resolve) => (failed = resolve));
    (globalThis as Record<string, unknown>)[key] = { started, failed };
    t.after(() => delete (globalThis as Record<string, unknown>)[key]);
    const app = createApplication(dir.path, { logger: captureLogger() });
    const h = await listen(http.createServer(app));
    t.after(async () => {
      await h.close();
      await app.close();
    });
    const socket = net.connect(h.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('POST / HTTP/1.1\r\nHost: upload.test\r\nContent-Length: 100\r\n\r\npart');
    await startedP;
    socket.destroy();
    const err = await failedP;
    assert.ok(err instanceof ClientGoneError, String(err));
    assert.equal(err.code, 'HOSTMUX_CLIENT_GONE');
  });

  test('an upstream that does not answer an upgrade within proxy_timeout is logged as UpstreamTimeoutError', HANG_GUARD, async (t) => {
    // An upstream that takes the connection and never answers.
    const sockets = new Set<net.Socket>();
    const upstream = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const dir = tempDir();
    writeTree(dir.path, {
      'sites-enabled/app.ini': `[site]\ndomains = app.test\nproxy = http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}\nproxy_timeout = 0.2\n`,
    });
    const logger = captureLogger();
    const app = createApplication(dir.path, { logger });
    const server = http.createServer(app);
    server.on('upgrade', app.upgrade);
    const h = await listen(server);
    t.after(async () => {
      for (const socket of sockets) socket.destroy();
      upstream.close();
      await h.close();
      await app.close();
      dir.remove();
    });
    const answer = await rawRequestUntilClosed(h.port, 'GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.equal(statusOf(answer), 504);
    const err = logger.records.map((r) => r.obj.err).find((e) => e !== undefined);
    assert.ok(err instanceof UpstreamTimeoutError, JSON.stringify(err));
    assert.equal(err.code, 'HOSTMUX_UPSTREAM_TIMEOUT');
  });
});

describe('unknown options throw HOSTMUX_INVALID_OPTION', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ bogus: 1 }, 'unknown option "bogus" (the options are defaultSite, trustProxy, logger)'],
    [{ trustproxy: true }, 'unknown option "trustproxy" (did you mean "trustProxy"?)'],
    [{ defaultsite: 'blog' }, 'unknown option "defaultsite" (did you mean "defaultSite"?)'],
    [{ loger: captureLogger() }, 'unknown option "loger" (did you mean "logger"?)'],
    [{ configDir: '/etc/hostmux' }, 'unknown option "configDir" (the options are defaultSite, trustProxy, logger)'],
  ];
  for (const [options, message] of cases) {
    test(`createApplication(dir, ${JSON.stringify(Object.keys(options))})`, (t) => {
      assert.throws(() => createApplication(defaultTree(t), options), (err: unknown) => {
        assert.ok(err instanceof InvalidOptionError, String(err));
        assert.equal(err.code, 'HOSTMUX_INVALID_OPTION');
        assert.equal(err.message, message);
        return true;
      });
    });
  }

  test('a huge unknown key is cut in the message', (t) => {
    assert.throws(() => createApplication(defaultTree(t), { ['x'.repeat(100_000)]: 1 }), (err: unknown) => {
      assert.ok(isHostmuxError(err, 'HOSTMUX_INVALID_OPTION'));
      assert.ok(err.message.length < 300, `${err.message.length} characters`);
      return true;
    });
  });

  test('the known options, even undefined, are accepted', (t) => {
    const app = createApplication(defaultTree(t), { defaultSite: undefined, trustProxy: undefined, logger: captureLogger() });
    return app.close();
  });

  test('the Fastify plugin refuses an unknown option, naming the nearest one, and accepts Fastify\'s own', async (t) => {
    const dir = defaultTree(t);
    const refused: [Record<string, unknown>, string][] = [
      [{ configDir: dir, trustproxy: true }, 'hostmux/fastify: unknown option "trustproxy" (did you mean "trustProxy"?)'],
      [{ configdir: dir }, 'hostmux/fastify: unknown option "configdir" (did you mean "configDir"?)'],
      [{ configDir: dir, bogus: 1 }, 'hostmux/fastify: unknown option "bogus" (the options are configDir, app, defaultSite, trustProxy, logger)'],
    ];
    for (const [options, message] of refused) {
      const fastify = Fastify({ logger: false });
      await assert.rejects(
        async () => {
          await fastify.register(hostmux, options as HostmuxFastifyOptions);
        },
        (err: unknown) => {
          assert.ok(err instanceof InvalidOptionError, String(err));
          assert.equal(err.message, message);
          return true;
        },
      );
      await fastify.close();
    }
    // Fastify's register() options stay in the object the plugin gets.
    const fastify = Fastify({ logger: false });
    await fastify.register(hostmux, { configDir: dir, logger: captureLogger(), prefix: '/x', logLevel: 'warn' } as HostmuxFastifyOptions);
    await fastify.ready();
    await fastify.close();
  });
});

describe('defaultSite: null switches default_site off', () => {
  test('standalone: a host no site claims gets 404, match() finds nothing; a claimed host is served', async (t) => {
    const dir = defaultTree(t);
    const withDefault = createApplication(dir, { logger: captureLogger() });
    const without = createApplication(dir, { defaultSite: null, logger: captureLogger() });
    t.after(() => Promise.all([withDefault.close(), without.close()]));
    assert.equal(withDefault.match('other.test')?.site, 'fallback');
    assert.equal(without.match('other.test'), null);
    assert.equal(without.match('blog.test')?.site, 'blog');
    const h = await listen(http.createServer(without));
    t.after(() => h.close());
    assert.equal((await request(h.port, { host: 'other.test' })).status, 404);
    assert.equal((await request(h.port, { host: 'blog.test' })).headers.location, 'https://blog.example/');
    assert.equal((await request(h.port, { host: 'fallback.test' })).headers.location, 'https://fallback.example/');
  });

  test('under Express, a host no site claims reaches the routes after hostmux', async (t) => {
    const app = createApplication(defaultTree(t), { defaultSite: null, logger: captureLogger() });
    const web = express();
    web.use(app);
    web.get('/', (_req, res) => void res.send('express'));
    const h = await listen(http.createServer(web));
    t.after(async () => {
      await h.close();
      await app.close();
    });
    assert.equal((await request(h.port, { host: 'other.test' })).body, 'express');
    assert.equal((await request(h.port, { host: 'blog.test' })).headers.location, 'https://blog.example/');
  });

  test('under Fastify, a host no site claims reaches Fastify\'s routes', async (t) => {
    const fastify = Fastify({ logger: false });
    t.after(() => fastify.close());
    await fastify.register(hostmux, { configDir: defaultTree(t), defaultSite: null, logger: captureLogger() });
    fastify.get('/', async () => 'fastify');
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    const port = (fastify.server.address() as net.AddressInfo).port;
    assert.equal((await request(port, { host: 'other.test' })).body, 'fastify');
    assert.equal((await request(port, { host: 'blog.test' })).headers.location, 'https://blog.example/');
  });

  test('a defaultSite that is neither a name nor null is refused', (t) => {
    assert.throws(() => createApplication(defaultTree(t), { defaultSite: 42 as unknown as string }), {
      code: 'HOSTMUX_INVALID_OPTION',
      message: 'options.defaultSite must be a site name, or null for none',
    });
  });
});
