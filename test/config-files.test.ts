// What may stand where a configuration file should be: a FIFO, a device or a
// directory is a problem without being read (never a hang), and so is a file
// over 1 MiB; a reload reads without holding requests up.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ConfigError, createApplication, type ConfigProblem } from '../src/index.ts';
import { captureLogger, listen, request, tempDir, writeTree } from './helpers.ts';

const APP = 'export default (req, res) => res.end("ok");\n';
const SITE = '[site]\ndomains = ok.test\nhandler = ../sites/ok.mjs\n';

function setup(t: TestContext, files: Record<string, string | { link: string }> = {}): string {
  const dir = tempDir();
  t.after(dir.remove);
  return writeTree(dir.path, { 'sites/ok.mjs': APP, 'sites-enabled/ok.ini': SITE, ...files });
}

/**
 * Makes a FIFO at `path`, and a writer that opens it and closes it, again
 * and again. A reader that opens the FIFO without O_NONBLOCK (as the code
 * before this fix did) gets that writer, then reads nothing: so what would
 * hang reads an empty file instead, and the test fails on its assertion
 * rather than hanging.
 */
function fifo(t: TestContext, path: string): void {
  execFileSync('mkfifo', [path]);
  // Each open for writing waits for a reader: the loop does not spin.
  const writer = spawn('sh', ['-c', 'while :; do : > "$1"; done', 'sh', path], { stdio: 'ignore' });
  t.after(() => void writer.kill('SIGKILL'));
}

/** The ConfigError `fn` throws, as [file, message] pairs. */
function problemsOf(error: unknown): [string, string][] {
  assert.ok(error instanceof ConfigError, `not a ConfigError: ${String(error)}`);
  return error.problems.map((p: ConfigProblem) => [p.file, p.message]);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail('did not throw');
}

test('createApplication: a FIFO named like a site file is a problem, not read', (t) => {
  const dir = setup(t);
  fifo(t, join(dir, 'sites-enabled', 'zz-pipe.ini'));
  assert.deepEqual(problemsOf(thrown(() => createApplication(dir, { logger: captureLogger() }))), [
    ['sites-enabled/zz-pipe.ini', 'is a FIFO, not a file'],
  ]);
});

test('createApplication: hostmux.conf or logging.ini as a FIFO is a problem, not read', (t) => {
  const confDir = setup(t);
  fifo(t, join(confDir, 'hostmux.conf'));
  assert.deepEqual(problemsOf(thrown(() => createApplication(confDir, { logger: captureLogger() }))), [
    ['hostmux.conf', 'is a FIFO, not a file'],
  ]);

  const logDir = setup(t, { 'hostmux.conf': '[server]\nlogging = logging.ini\n' });
  fifo(t, join(logDir, 'logging.ini'));
  assert.deepEqual(problemsOf(thrown(() => createApplication(logDir))), [['logging.ini', 'is a FIFO, not a file']]);
});

test('createApplication: a device or a directory where a site file should be is a problem', (t) => {
  const dir = setup(t, {
    'sites-enabled/null.ini': { link: '/dev/null' },
    'sites-enabled/dir.ini/site.ini': SITE,
  });
  assert.deepEqual(problemsOf(thrown(() => createApplication(dir, { logger: captureLogger() }))), [
    ['sites-enabled/dir.ini', 'is a directory, not a file'],
    ['sites-enabled/null.ini', 'is a character device, not a file'],
  ]);
});

test('createApplication: a site file or hostmux.conf over 1 MiB is a problem, not parsed', (t) => {
  const dir = setup(t);
  // A valid site, padded with comments to 3 MiB.
  const padding = '; padding\n'.repeat((3 * 1024 * 1024) / 10);
  writeFileSync(join(dir, 'sites-enabled', 'big.ini'), `[site]\ndomains = big.test\nhandler = ../sites/ok.mjs\n${padding}`.slice(0, 3 * 1024 * 1024));
  assert.deepEqual(problemsOf(thrown(() => createApplication(dir, { logger: captureLogger() }))), [
    ['sites-enabled/big.ini', 'is 3 MiB; site files are limited to 1 MiB'],
  ]);
  // hostmux.conf and logging.ini have the same limit; just over it is said in bytes.
  const conf = setup(t, { 'hostmux.conf': `[server]\n${';'.repeat(1024 * 1024 - 9)}\n` });
  assert.deepEqual(problemsOf(thrown(() => createApplication(conf, { logger: captureLogger() }))), [
    ['hostmux.conf', 'is 1048577 bytes; hostmux.conf is limited to 1 MiB'],
  ]);
  // 1 MiB exactly is still read.
  writeFileSync(join(dir, 'sites-enabled', 'big.ini'), `[site]\ndomains = big.test\nhandler = ../sites/ok.mjs\n${padding}`.slice(0, 1024 * 1024));
  const app = createApplication(dir, { logger: captureLogger() });
  t.after(() => app.close());
  assert.deepEqual(app.sites.map((site) => site.name), ['big', 'ok']);
});

test('reload: a FIFO in sites-enabled is rejected; the old configuration keeps answering', async (t) => {
  const dir = setup(t);
  const app = createApplication(dir, { logger: captureLogger() });
  t.after(() => app.close());
  const server = await listen(app);
  t.after(server.close);
  assert.equal((await request(server.port, { host: 'ok.test' })).body, 'ok');

  fifo(t, join(dir, 'sites-enabled', 'zz-pipe.ini'));
  const reloading = app.reload();
  // Answered while the reload runs, and after it.
  assert.equal((await request(server.port, { host: 'ok.test' })).body, 'ok');
  await assert.rejects(reloading, (error: unknown) => {
    assert.deepEqual(problemsOf(error), [['sites-enabled/zz-pipe.ini', 'is a FIFO, not a file']]);
    return true;
  });
  assert.equal((await request(server.port, { host: 'ok.test' })).body, 'ok');
  assert.deepEqual(app.sites.map((site) => site.name), ['ok']);
});

test('a handler module that is a FIFO makes its site answer 503; a reload is not held by it', async (t) => {
  const dir = setup(t, { 'sites/pipe.mjs': APP, 'sites-enabled/pipe.ini': '[site]\ndomains = pipe.test\nhandler = ../sites/pipe.mjs\n' });
  const logger = captureLogger();
  const app = createApplication(dir, { logger });
  t.after(() => app.close());
  const server = await listen(app);
  t.after(server.close);
  assert.equal((await request(server.port, { host: 'pipe.test' })).status, 200);

  // The loaded module's file becomes a FIFO: the reload compares it without reading it, and replaces the site.
  rmSync(join(dir, 'sites', 'pipe.mjs'));
  fifo(t, join(dir, 'sites', 'pipe.mjs'));
  assert.deepEqual(await app.reload(), { added: [], removed: [], reloaded: ['pipe'], kept: ['ok'] });
  assert.equal((await request(server.port, { host: 'pipe.test' })).status, 503);
  assert.equal((await request(server.port, { host: 'ok.test' })).body, 'ok');
  assert.ok(
    logger.records.some((r) => r.level === 'error' && r.msg.includes('pipe.mjs: is a FIFO, not a file')),
    JSON.stringify(logger.records.map((r) => r.msg)),
  );
});

test('a reload lets requests in: one sent once a reload has started is answered before the reload ends', async (t) => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 2000; i++) files[`sites-enabled/s${i}.ini`] = `[site]\ndomains = s${i}.test\nhandler = ../sites/ok.mjs\n`;
  const dir = setup(t, files);
  const app = createApplication(dir, { logger: captureLogger() });
  t.after(() => app.close());
  const server = await listen(app);
  t.after(server.close);

  const order: string[] = [];
  const reloading = app.reload().then(() => order.push('reloaded'));
  const answered = request(server.port, { host: 's1999.test' }).then((reply) => order.push(`answered ${reply.status}`));
  await Promise.all([reloading, answered]);
  assert.deepEqual(order, ['answered 200', 'reloaded']);
});

test('a log destination that is a FIFO no process reads is a problem, not an open that waits for ever', (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  writeTree(dir.path, {
    'hostmux.conf': '[server]\nlogging = logging.ini\n',
    'logging.ini': '[logger:root]\nhandlers = pipe\n[handler:pipe]\ndestination = pipe.log\n',
    'sites-enabled/a.ini': '[site]\ndomains = a.test\nredirect = https://b.example\n',
  });
  execFileSync('mkfifo', [join(dir.path, 'pipe.log')]);
  // In a child process: an open that waits for a reader would block this one's event loop for good.
  const script = `import { createApplication } from ${JSON.stringify(join(import.meta.dirname, '..', 'dist', 'index.js'))};
try { createApplication(${JSON.stringify(dir.path)}); console.log('[]'); } catch (e) { console.log(JSON.stringify(e.problems.map((p) => p.message))); }`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(child.error, undefined, 'createApplication returned');
  assert.deepEqual(JSON.parse(child.stdout), [`cannot open "${join(dir.path, 'pipe.log')}": it is a FIFO that no process reads`]);
});
