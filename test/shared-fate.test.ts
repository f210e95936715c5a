// `serve` as a supervisor, with real processes, signals and crashes:
// rolling reloads that really reload a site's code, crash containment and
// quarantine, preload, and --sticky with real WebSocket clients.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { request, tempDir, writeTree } from './helpers.ts';
import { serve } from './serve-helpers.ts';

/** A site whose answer comes from a module it imports: a code reload must re-run that import. */
const VERSIONED = `
import { version } from './lib.mjs';
export default (req, res) => {
  if (req.url === '/crash') {
    setTimeout(() => { throw new Error('thrown in a timer'); }, 1);
    return void res.end('crashing\\n');
  }
  if (req.url === '/reject') {
    Promise.reject(new Error('rejected in a promise'));
    return void res.end('rejecting\\n');
  }
  if (req.url === '/exit') {
    process.exit(0);
  }
  if (req.url === '/slow') return void setTimeout(() => res.end('slow done\\n'), 1500);
  res.end(version + ' ' + process.pid + '\\n');
};
`;

function tree(t: TestContext, server = ''): string {
  const dir = tempDir('hostmux-fate-');
  t.after(dir.remove);
  return writeTree(dir.path, {
    'hostmux.conf': `[server]\n${server}`,
    'sites/lib.mjs': 'export const version = "v1";\n',
    // Each its own handler file: a crash is blamed on the site whose code its stack runs through.
    'sites/a.mjs': VERSIONED,
    'sites/b.mjs': VERSIONED,
    'sites-enabled/a.ini': '[site]\ndomains = a.test\nhandler = ../sites/a.mjs\n',
    'sites-enabled/b.ini': '[site]\ndomains = b.test\nhandler = ../sites/b.mjs\n',
  });
}

function statusThrough(agent: http.Agent, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, headers: { host }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    }).on('error', reject);
    // A hang guard: a request that never ends is a failure to report, not a stuck test.
    req.setTimeout(15_000, () => req.destroy(new Error('no answer within 15 s')));
  });
}

test('serve: a rolling reload runs a site\'s changed imports anew; keep-alive clients lose no request', { timeout: 90_000 }, async (t) => {
  const dir = tree(t);
  const server = await serve(t, ['-c', dir, '--workers', '2']);
  assert.match((await request(server.port, { host: 'a.test' })).body, /^v1 /);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.after(() => agent.destroy());
  let hammering = true;
  const statuses: number[] = [];
  const failures: string[] = [];
  const hammer = Promise.all(Array.from({ length: 8 }, async (_, i) => {
    while (hammering) {
      try {
        statuses.push(await statusThrough(agent, server.port, i % 2 === 0 ? 'a.test' : 'b.test'));
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  }));
  for (let version = 2; version <= 4; version++) {
    writeTree(dir, { 'sites/lib.mjs': `export const version = "v${version}";\n` });
    const mark = server.log().length;
    server.child.kill('SIGHUP');
    await server.waitFor(/configuration reloaded: .*; 2 new workers serve it/, mark);
    assert.match((await request(server.port, { host: 'a.test' })).body, new RegExp(`^v${version} `), 'the imported file was run again');
  }
  hammering = false;
  await hammer;
  assert.deepEqual(failures, []);
  assert.ok(statuses.length > 0);
  assert.deepEqual(statuses.filter((status) => status !== 200), []);
});

test('serve: new code that does not parse is refused with its file and line; the old workers keep serving', { timeout: 60_000 }, async (t) => {
  const dir = tree(t);
  const server = await serve(t, ['-c', dir, '--workers', '2']);
  writeTree(dir, { 'sites/lib.mjs': 'export const version = "v2";\n\nexport const broken = ;\n' });
  const mark = server.log().length;
  server.child.kill('SIGHUP');
  const refused = await server.waitFor(/ERROR root: reload failed, the previous workers keep serving: (.*)/, mark);
  assert.match(refused[1]!, /2 sites that serve now failed to load in the new workers/);
  assert.match(server.log().slice(mark), /ERROR root: site a failed to load and answers 503: .*Unexpected token.*\(at sites\/lib\.mjs:3\)/);
  assert.match((await request(server.port, { host: 'a.test' })).body, /^v1 /, 'the old code still serves');
});

test('serve: preload loads every site before "listening", which says how many failed; each is logged with its file and line', async (t) => {
  const dir = tree(t);
  writeTree(dir, {
    'sites/broken.mjs': 'export default (req, res) => {\n  res.end(;\n};\n',
    'sites-enabled/c.ini': '[site]\ndomains = c.test\nhandler = ../sites/broken.mjs\n',
  });
  const server = await serve(t, ['-c', dir, '--workers', '1']);
  assert.match(server.log(), /ERROR root: site c failed to load and answers 503: .*Unexpected token.*\(at sites\/broken\.mjs:2\)\n[^]*listening on .*3 sites \(1 failed to load\)/);
  assert.equal((await request(server.port, { host: 'c.test' })).status, 503);
});

test('serve --workers 1: a site\'s crash in a timer is logged on its logger and the worker is replaced; 3 crashes quarantine it; a reload lifts it', { timeout: 90_000 }, async (t) => {
  const dir = tree(t, 'crash_window = 120\n');
  const server = await serve(t, ['-c', dir, '--workers', '1']);
  for (let crash = 1; crash <= 3; crash++) {
    const mark = server.log().length;
    const before = Number((await request(server.port, { host: 'b.test' })).body.split(' ')[1]);
    assert.equal((await request(server.port, { host: 'a.test', path: crash === 2 ? '/reject' : '/crash' })).status, 200);
    const logged = await server.waitFor(new RegExp(`ERROR site\\.a: worker ${before}: (uncaught exception|unhandled rejection) in site a: (thrown in a timer|rejected in a promise) \\(site=a\\)`), mark);
    assert.ok(logged);
    await server.waitFor(new RegExp(`worker \\d+ is serving, replacing worker ${before}`), mark);
    // The neighbour is served all along, soon by the replacement only.
    let after = before;
    for (let i = 0; i < 200 && after === before; i++) after = Number((await request(server.port, { host: 'b.test' })).body.split(' ')[1]);
    assert.notEqual(after, before);
  }
  await server.waitFor(/ERROR root: site a crashed a worker 3 times within 120 s: quarantined for 120 s/);
  let refused = await request(server.port, { host: 'a.test' });
  for (let i = 0; i < 50 && refused.status !== 503; i++) refused = await request(server.port, { host: 'a.test' });
  assert.equal(refused.status, 503);
  assert.ok(Number(refused.headers['retry-after']) > 60);
  assert.equal((await request(server.port, { host: 'b.test' })).status, 200);
  const mark = server.log().length;
  server.child.kill('SIGHUP');
  await server.waitFor(/configuration reloaded/, mark);
  assert.equal((await request(server.port, { host: 'a.test' })).status, 200, 'a reload lifts the quarantine');
});

test('serve: a site that calls process.exit() crashes its worker like a throw: the other site\'s request in flight still finishes', { timeout: 60_000 }, async (t) => {
  const dir = tree(t);
  const server = await serve(t, ['-c', dir, '--workers', '1']);
  const slow = request(server.port, { host: 'b.test', path: '/slow' });
  await new Promise((resolve) => setTimeout(resolve, 200));
  await request(server.port, { host: 'a.test', path: '/exit' }).catch(() => undefined);
  assert.equal((await slow).body, 'slow done\n');
  await server.waitFor(/call of process\.exit\(\) in site a: process\.exit\(0\) called by a site/);
  await server.waitFor(/worker \d+ is serving, replacing worker/);
});

test('serve [server] reload = in-place: each worker reloads itself, as before', { timeout: 60_000 }, async (t) => {
  const dir = tree(t, 'reload = in-place\n');
  const server = await serve(t, ['-c', dir, '--workers', '2']);
  const mark = server.log().length;
  server.child.kill('SIGHUP');
  await server.waitFor(/configuration reloaded in 2 of 2 workers: 2 kept/, mark);
});

const CHAT_TREE = {
  'sites-enabled/chat.ini': `[site]\ndomains = chat.test\nhandler = ${JSON.stringify(new URL('../examples/sites/chat/app.mjs', import.meta.url).pathname)}\n`,
};

async function chatClient(t: TestContext, port: number): Promise<{ ws: WebSocket; heard: string[]; hear(text: string): Promise<void> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { host: 'chat.test' } });
  t.after(() => ws.terminate());
  const heard: string[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    heard.push((data as Buffer).toString());
    for (const waiter of waiters) waiter();
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const hear = (text: string) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`never heard ${text}; heard ${heard.join(', ')}`)), 10_000);
    const check = () => {
      if (!heard.includes(text)) return;
      clearTimeout(timer);
      waiters.delete(check);
      resolve();
    };
    waiters.add(check);
    check();
  });
  return { ws, heard, hear };
}

test('serve --workers 2 --sticky: the chat example works across two workers; one address, one worker', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('hostmux-sticky-');
  t.after(dir.remove);
  writeTree(dir.path, { ...CHAT_TREE, 'sites/pid.mjs': 'export default (req, res) => res.end(String(process.pid));\n', 'sites-enabled/pid.ini': '[site]\ndomains = pid.test\nhandler = ../sites/pid.mjs\n' });
  const server = await serve(t, ['-c', dir.path, '--workers', '2', '--sticky']);
  assert.match(server.log(), /2 workers, sticky/);
  const pids = new Set<string>();
  for (let i = 0; i < 10; i++) pids.add((await request(server.port, { host: 'pid.test' })).body);
  assert.equal(pids.size, 1, 'every connection from 127.0.0.1 went to one worker');
  const alice = await chatClient(t, server.port);
  const bob = await chatClient(t, server.port);
  alice.ws.send('hello from alice');
  await bob.hear('hello from alice');
  bob.ws.send('hi alice');
  await alice.hear('hi alice');
});
