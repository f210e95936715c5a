// node:diagnostics_channel events: each channel's message checked against
// real requests (HTTP/1.1 and HTTP/2), loads and reloads, by subscribing as
// a user would; and, with nobody subscribed, nothing published or attached.
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createApplication,
  diagnosticsChannels,
  type Application,
  type ReloadDoneMessage,
  type RequestRoutedMessage,
  type ResponseFinishedMessage,
  type SiteLoadedMessage,
  type SiteLoadFailedMessage,
} from '../src/index.ts';
import { captureLogger, listen, request, tempDir, within, writeTree, type Running } from './helpers.ts';

const SITES = {
  'sites-enabled/plain.ini': '[site]\ndomains = plain.test, *.plain.test\nhandler = ../plain.mjs\n',
  'sites-enabled/stall.ini': '[site]\ndomains = stall.test\nhandler = ../stall.mjs\n',
  'sites-enabled/probe.ini': '[site]\ndomains = probe.test\nhandler = ../probe.mjs\n',
  'sites-enabled/broken.ini': '[site]\ndomains = broken.test\nhandler = ../broken.mjs\n',
  'sites-enabled/hangs.ini': '[site]\ndomains = hangs.test\nhandler = ../hangs.mjs\nload_timeout = 0.2\n',
  // 201, a body in two writes (5 + 7 bytes; 'é' is two bytes in UTF-8).
  'plain.mjs': "export default (req, res) => { res.statusCode = 201; res.write('hello'); res.end(' wörld'); };\n",
  // Never answers: its client leaves first.
  'stall.mjs': 'export default () => {};\n',
  // Tells what hostmux attached to the response before handing it over.
  'probe.mjs':
    "export default (req, res) => res.end(JSON.stringify({ ownWrite: Object.hasOwn(res, 'write'), closeListeners: res.listenerCount('close') }));\n",
  'broken.mjs': "throw new Error('no database');\n",
  'hangs.mjs': 'await new Promise(() => {});\n',
};

/** Every message of one channel from now on, and a way to wait for the next that matches. */
function collect<T>(name: string) {
  const seen: T[] = [];
  const waiters: { match: (message: T) => boolean; resolve: (message: T) => void }[] = [];
  const onMessage = (message: unknown) => {
    seen.push(message as T);
    for (const waiter of [...waiters]) {
      if (waiter.match(message as T)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message as T);
      }
    }
  };
  diagnostics.subscribe(name, onMessage);
  return {
    seen,
    next(match: (message: T) => boolean = () => true): Promise<T> {
      const found = seen.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return within(new Promise<T>((resolve) => waiters.push({ match, resolve })), 20_000, `no message on ${name}`);
    },
    stop: () => diagnostics.unsubscribe(name, onMessage),
  };
}

const dir = tempDir();
let app: Application;
let h1: Running;
let h2: http2.Http2Server;
let h2port: number;

before(async () => {
  writeTree(dir.path, SITES);
  app = createApplication(dir.path, { logger: captureLogger() });
  h1 = await listen(app);
  h2 = http2.createServer(app);
  h2.listen(0, '127.0.0.1');
  await once(h2, 'listening');
  h2port = (h2.address() as AddressInfo).port;
});

after(async () => {
  await h1.close();
  await new Promise((resolve) => h2.close(resolve));
  await app.close();
  dir.remove();
});

function h2request(authority: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const client = http2.connect(`http://127.0.0.1:${h2port}`);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const stream = client.request({ ':method': method, ':path': '/p', ':authority': authority });
    let body = '';
    let status = 0;
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: Buffer) => (body += chunk));
    stream.on('end', () => resolve({ status, body }));
    stream.on('error', reject);
    stream.end();
  }).finally(() => client.close());
}

test('the channel names are exported, one per event, named hostmux:<noun>:<event>', () => {
  assert.deepEqual({ ...diagnosticsChannels }, {
    requestRouted: 'hostmux:request:routed',
    responseFinished: 'hostmux:response:finished',
    siteLoaded: 'hostmux:site:loaded',
    siteLoadFailed: 'hostmux:site:load-failed',
    reloadDone: 'hostmux:reload:done',
  });
  assert.ok(Object.isFrozen(diagnosticsChannels));
});

describe('requests', () => {
  test('HTTP/1.1: routed (site, host) then finished (status, bytes, duration), with the same request and response', async () => {
    const routed = collect<RequestRoutedMessage>(diagnosticsChannels.requestRouted);
    const finished = collect<ResponseFinishedMessage>(diagnosticsChannels.responseFinished);
    try {
      const reply = await request(h1.port, { host: 'Deep.Plain.TEST:8080', path: '/h1-get' });
      assert.equal(reply.status, 201);
      const r = await routed.next((m) => m.request.url === '/h1-get');
      assert.equal(r.site, 'plain');
      assert.equal(r.host, 'deep.plain.test');
      assert.ok(r.response instanceof http.ServerResponse);
      const f = await finished.next((m) => m.request.url === '/h1-get');
      assert.equal(f.request, r.request);
      assert.equal(f.response, r.response);
      assert.equal(f.site, 'plain');
      assert.equal(f.status, 201);
      assert.equal(f.bytes, Buffer.byteLength('hello wörld'));
      assert.equal(f.aborted, false);
      assert.ok(f.duration >= 0 && Number.isFinite(f.duration));

      // HEAD: Node sends no body, so none is counted.
      await request(h1.port, { host: 'plain.test', path: '/h1-head', method: 'HEAD' });
      const head = await finished.next((m) => m.request.url === '/h1-head');
      assert.equal(head.status, 201);
      assert.equal(head.bytes, 0);
    } finally {
      routed.stop();
      finished.stop();
    }
  });

  test('HTTP/2: routed by :authority; the body is counted once (end() writes through write())', async () => {
    const routed = collect<RequestRoutedMessage>(diagnosticsChannels.requestRouted);
    const finished = collect<ResponseFinishedMessage>(diagnosticsChannels.responseFinished);
    try {
      const reply = await h2request('plain.test');
      assert.equal(reply.status, 201);
      assert.equal(reply.body, 'hello wörld');
      const r = await routed.next((m) => m.request.httpVersion === '2.0');
      assert.equal(r.site, 'plain');
      assert.equal(r.host, 'plain.test');
      assert.ok(r.response instanceof http2.Http2ServerResponse);
      const f = await finished.next((m) => m.request === r.request);
      assert.equal(f.status, 201);
      assert.equal(f.bytes, Buffer.byteLength('hello wörld'));
      assert.equal(f.aborted, false);
    } finally {
      routed.stop();
      finished.stop();
    }
  });

  test('a client that leaves before any answer: finished with 499, aborted', async () => {
    const routed = collect<RequestRoutedMessage>(diagnosticsChannels.requestRouted);
    const finished = collect<ResponseFinishedMessage>(diagnosticsChannels.responseFinished);
    try {
      const socket = net.connect(h1.port, '127.0.0.1');
      socket.write('GET /leaves HTTP/1.1\r\nHost: stall.test\r\n\r\n');
      await routed.next((m) => m.request.url === '/leaves');
      socket.destroy();
      const f = await finished.next((m) => m.request.url === '/leaves');
      assert.equal(f.site, 'stall');
      assert.equal(f.status, 499);
      assert.equal(f.bytes, 0);
      assert.equal(f.aborted, true);
    } finally {
      routed.stop();
      finished.stop();
    }
  });

  test('a request hostmux answers itself (404, 400) is not published', async () => {
    const routed = collect<RequestRoutedMessage>(diagnosticsChannels.requestRouted);
    const finished = collect<ResponseFinishedMessage>(diagnosticsChannels.responseFinished);
    try {
      assert.equal((await request(h1.port, { host: 'nobody.test', path: '/unrouted' })).status, 404);
      // A routed request after it: once its 'finished' is in, the 404's would have been too.
      await request(h1.port, { host: 'plain.test', path: '/after-404' });
      await finished.next((m) => m.request.url === '/after-404');
      assert.deepEqual(routed.seen.map((m) => m.request.url), ['/after-404']);
      assert.deepEqual(finished.seen.map((m) => m.request.url), ['/after-404']);
    } finally {
      routed.stop();
      finished.stop();
    }
  });
});

describe('site loads', () => {
  test('a module that loads: loaded (site, file, configDir, duration)', async () => {
    const loaded = collect<SiteLoadedMessage>(diagnosticsChannels.siteLoaded);
    try {
      const tree = tempDir();
      try {
        writeTree(tree.path, { 'sites-enabled/plain.ini': SITES['sites-enabled/plain.ini'], 'plain.mjs': SITES['plain.mjs'] });
        const own = createApplication(tree.path, { logger: captureLogger() });
        try {
          await own.ready();
          const m = await loaded.next((message) => message.configDir === tree.path);
          assert.deepEqual({ ...m, duration: 0 }, { site: 'plain', file: 'sites-enabled/plain.ini', configDir: tree.path, duration: 0 });
          assert.ok(m.duration >= 0 && Number.isFinite(m.duration));
        } finally {
          await own.close();
        }
      } finally {
        tree.remove();
      }
    } finally {
      loaded.stop();
    }
  });

  test('a module that throws: load-failed with the error text and what it threw', async () => {
    const failed = collect<SiteLoadFailedMessage>(diagnosticsChannels.siteLoadFailed);
    try {
      assert.equal((await request(h1.port, { host: 'broken.test' })).status, 503);
      const m = await failed.next((message) => message.site === 'broken');
      assert.equal(m.file, 'sites-enabled/broken.ini');
      assert.equal(m.configDir, dir.path);
      assert.match(m.error, /^sites-enabled\/broken\.ini: cannot import .*broken\.mjs: .*no database/);
      assert.ok(m.cause instanceof Error);
      assert.equal(m.cause.message, 'no database');
      assert.equal(m.timedOut, false);
      assert.ok(m.duration >= 0);
    } finally {
      failed.stop();
    }
  });

  test('a module that never finishes: load-failed, timedOut, once load_timeout passed', async () => {
    const failed = collect<SiteLoadFailedMessage>(diagnosticsChannels.siteLoadFailed);
    const loaded = collect<SiteLoadedMessage>(diagnosticsChannels.siteLoaded);
    try {
      assert.equal((await request(h1.port, { host: 'hangs.test' })).status, 503);
      const m = await failed.next((message) => message.site === 'hangs');
      assert.match(m.error, /hangs\.mjs did not finish loading within 0\.2 s \(load_timeout\)$/);
      assert.equal(m.timedOut, true);
      assert.equal(m.cause, undefined);
      assert.ok(m.duration >= 150, `duration ${m.duration} is at least about load_timeout`);
      assert.equal(failed.seen.filter((message) => message.site === 'hangs').length, 1);
      assert.equal(loaded.seen.filter((message) => message.site === 'hangs').length, 0);
    } finally {
      failed.stop();
      loaded.stop();
    }
  });
});

describe('reloads', () => {
  test('a reload taken: ok, with its result; one refused: not ok, with the ConfigError', async () => {
    const tree = tempDir();
    const done = collect<ReloadDoneMessage>(diagnosticsChannels.reloadDone);
    try {
      writeTree(tree.path, { 'sites-enabled/plain.ini': SITES['sites-enabled/plain.ini'], 'plain.mjs': SITES['plain.mjs'] });
      const own = createApplication(tree.path, { logger: captureLogger() });
      try {
        writeTree(tree.path, { 'sites-enabled/more.ini': '[site]\ndomains = more.test\nredirect = https://example.com\n' });
        const result = await own.reload();
        const taken = await done.next((m) => m.configDir === tree.path);
        assert.equal(taken.ok, true);
        assert.equal(taken.result, result);
        assert.deepEqual(taken.result, { added: ['more'], removed: [], reloaded: [], kept: ['plain'] });
        assert.equal(taken.error, undefined);
        assert.ok(taken.duration >= 0);

        writeFileSync(join(tree.path, 'sites-enabled/more.ini'), '[site]\ndomains = plain.test\nredirect = https://example.com\n');
        const refused = await own.reload().then(() => undefined, (err: unknown) => err);
        assert.equal((refused as { code?: unknown }).code, 'HOSTMUX_CONFIG');
        const m = await done.next((message) => message.configDir === tree.path && !message.ok);
        assert.equal(m.ok, false);
        assert.equal(m.error, refused);
        assert.equal(m.result, undefined);
        assert.equal(done.seen.length, 2);
      } finally {
        await own.close();
      }
      // After close(), reload() rejects at once: no reload ran, nothing is published.
      await assert.rejects(own.reload(), { code: 'HOSTMUX_CLOSED' });
      assert.equal(done.seen.length, 2);
    } finally {
      done.stop();
      tree.remove();
    }
  });
});

describe('with nobody subscribed', () => {
  test('nothing is published, and a response gets no wrapper or listener of the channels', async () => {
    // A subscriber added, then removed: the channels have none again.
    const names = Object.values(diagnosticsChannels);
    const removed = names.map((name) => collect<unknown>(name));
    for (const subscriber of removed) subscriber.stop();
    const channels = names.map((name) => diagnostics.channel(name));
    assert.ok(channels.every((channel) => !channel.hasSubscribers));
    const published: string[] = [];
    // Counts every publish, whether or not anyone listens.
    for (const channel of channels) {
      channel.publish = function (this: diagnostics.Channel, message: unknown) {
        published.push(String(this.name));
        // Node swaps a channel's prototype as subscribers come and go: publish as the current one does.
        const proto = Object.getPrototypeOf(this) as { publish: (this: diagnostics.Channel, message: unknown) => void };
        proto.publish.call(this, message);
      };
    }
    const tree = tempDir();
    try {
      writeTree(tree.path, {
        'sites-enabled/probe.ini': SITES['sites-enabled/probe.ini'],
        'probe.mjs': SITES['probe.mjs'],
        'sites-enabled/broken.ini': SITES['sites-enabled/broken.ini'],
        'broken.mjs': SITES['broken.mjs'],
      });
      const own = createApplication(tree.path, { logger: captureLogger() });
      const server = await listen(own);
      try {
        const bare = JSON.parse((await request(server.port, { host: 'probe.test' })).body) as { ownWrite: boolean; closeListeners: number };
        // The one write() wrapper is the statistics' count of body bytes; the channels add none.
        assert.equal(bare.ownWrite, true, 'the statistics count body bytes');
        assert.equal((await request(server.port, { host: 'broken.test' })).status, 503);
        await own.reload().catch(() => {});
        await request(h1.port, { host: 'plain.test' });
        await h2request('plain.test');
        assert.deepEqual(published, []);
        assert.deepEqual(removed.flatMap((subscriber) => subscriber.seen), []);

        // The same probe with a subscriber: the same wrapper and one 'close' listener more.
        const finished = collect<ResponseFinishedMessage>(diagnosticsChannels.responseFinished);
        try {
          const tracked = JSON.parse((await request(server.port, { host: 'probe.test' })).body) as typeof bare;
          assert.equal(tracked.ownWrite, true);
          assert.equal(tracked.closeListeners, bare.closeListeners + 1);
        } finally {
          finished.stop();
        }
      } finally {
        await server.close();
        await own.close();
      }
    } finally {
      for (const channel of channels) delete (channel as { publish?: unknown }).publish;
      tree.remove();
    }
  });
});
