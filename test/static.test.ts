// The static site kind (`root =`): files under one directory served with
// send, as a user of nginx's `root` expects. Real servers on port 0; raw
// bytes over net for the paths a client would normalise away.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { renameSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ConfigError, createApplication, type Application, type ConfigProblem } from '../src/index.ts';
import { captureLogger, listen, rawRequest, request, statusOf, tempDir, writeTree, type Running } from './helpers.ts';

const SECRET = 'TOP SECRET outside the root';
const KIB = 'x'.repeat(1023) + '\n';

/** A tree with four static sites on one root, and a secret beside the root. */
function staticTree(dir: string): void {
  writeTree(dir, {
    'sites-enabled/s.ini': '[site]\ndomains = s.test\nroot = ../www\n',
    'sites-enabled/spa.ini': '[site]\ndomains = spa.test\nroot = ../www\nfallback = app.html\ncache_control = public, max-age=60\n',
    'sites-enabled/follow.ini': '[site]\ndomains = follow.test\nroot = ../www\nfollow_symlinks = true\n',
    'sites-enabled/noindex.ini': '[site]\ndomains = noindex.test\nroot = ../www\nindex =\n',
    'www/index.html': '<h1>home</h1>\n',
    'www/app.html': '<h1>app</h1>\n',
    'www/hello.txt': KIB,
    'www/style.css': 'body{}\n',
    'www/docs/index.html': '<h1>docs</h1>\n',
    'www/.secret': SECRET,
    'www/.git/config': SECRET,
    'outside/secret.txt': SECRET,
    'www/link-out': { link: '../outside/secret.txt' },
    'www/dir-out': { link: '../outside' },
    'www/link-in': { link: 'hello.txt' },
  });
}

let dir: ReturnType<typeof tempDir>;
let app: Application;
let server: Running;

before(async () => {
  dir = tempDir();
  staticTree(dir.path);
  app = createApplication(dir.path, { logger: captureLogger() });
  server = await listen(app);
  server.server.on('upgrade', app.upgrade);
});

after(async () => {
  await server.close();
  await app.close();
  dir.remove();
});

const get = (host: string, path: string, headers: Record<string, string> = {}, method = 'GET') =>
  request(server.port, { host, path, headers, method });

/** One raw HTTP/1.1 request for `target` (sent exactly as written) to `host`. */
const raw = (target: string, host = 's.test') =>
  rawRequest(server.port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);

describe('files', () => {
  test('GET serves a file with its type, length, ETag and Last-Modified', async () => {
    const reply = await get('s.test', '/hello.txt');
    assert.equal(reply.status, 200);
    assert.equal(reply.body, KIB);
    assert.equal(reply.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(reply.headers['content-length'], '1024');
    assert.match(reply.headers.etag ?? '', /^W\/"/);
    assert.ok(reply.headers['last-modified']);
    assert.equal(reply.headers['cache-control'], undefined);
    assert.equal((await get('s.test', '/style.css')).headers['content-type'], 'text/css; charset=utf-8');
  });

  test('HEAD answers the same head without a body', async () => {
    const reply = await get('s.test', '/hello.txt', {}, 'HEAD');
    assert.equal(reply.status, 200);
    assert.equal(reply.body, '');
    assert.equal(reply.headers['content-length'], '1024');
  });

  test('If-None-Match and If-Modified-Since answer 304', async () => {
    const first = await get('s.test', '/hello.txt');
    const byTag = await get('s.test', '/hello.txt', { 'if-none-match': first.headers.etag! });
    assert.equal(byTag.status, 304);
    assert.equal(byTag.body, '');
    const byDate = await get('s.test', '/hello.txt', { 'if-modified-since': first.headers['last-modified']! });
    assert.equal(byDate.status, 304);
  });

  test('Range answers 206 with Content-Range, 416 when unsatisfiable', async () => {
    const part = await get('s.test', '/hello.txt', { range: 'bytes=0-4' });
    assert.equal(part.status, 206);
    assert.equal(part.body, 'xxxxx');
    assert.equal(part.headers['content-range'], 'bytes 0-4/1024');
    const beyond = await get('s.test', '/hello.txt', { range: 'bytes=5000-6000' });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers['content-range'], 'bytes */1024');
    assert.ok(!beyond.body.includes('x'.repeat(10)));
  });

  test('a directory serves its index.html; without its slash, 301 adding it (query kept)', async () => {
    assert.equal((await get('s.test', '/')).body, '<h1>home</h1>\n');
    assert.equal((await get('s.test', '/')).headers['content-type'], 'text/html; charset=utf-8');
    assert.equal((await get('s.test', '/docs/')).body, '<h1>docs</h1>\n');
    const bare = await get('s.test', '/docs?x=1');
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.location, '/docs/?x=1');
    // A leading double slash must not turn into a redirect to another host.
    const answer = await raw('//docs');
    assert.equal(statusOf(answer), 301);
    assert.match(answer, /\r\nLocation: \/docs\/\r\n/i);
  });

  test('index = (empty): a directory is 403, as nginx without autoindex', async () => {
    assert.equal((await get('noindex.test', '/docs/')).status, 403);
    assert.equal((await get('noindex.test', '/')).status, 403);
    assert.equal((await get('noindex.test', '/hello.txt')).status, 200);
  });

  test('a missing file is 404; dotfiles and dot directories are 404', async () => {
    assert.equal((await get('s.test', '/nope.txt')).status, 404);
    for (const path of ['/.secret', '/.git/config', '/.git/', '/docs/../.secret']) {
      const reply = await get('s.test', path);
      assert.equal(reply.status, 404, path);
      assert.ok(!reply.body.includes(SECRET), path);
    }
  });

  test('other methods are 405 with Allow: GET, HEAD', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      const reply = await get('s.test', '/hello.txt', {}, method);
      assert.equal(reply.status, 405, method);
      assert.equal(reply.headers.allow, 'GET, HEAD', method);
    }
  });

  test('an upgrade is refused with 400', async () => {
    const answer = await rawRequest(
      server.port,
      'GET /hello.txt HTTP/1.1\r\nHost: s.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    );
    assert.equal(statusOf(answer), 400);
  });

  test('fallback serves its file with 200 for paths that match nothing; cache_control is sent', async () => {
    const route = await get('spa.test', '/some/client/route?q=1');
    assert.equal(route.status, 200);
    assert.equal(route.body, '<h1>app</h1>\n');
    assert.equal(route.headers['cache-control'], 'public, max-age=60');
    const file = await get('spa.test', '/hello.txt');
    assert.equal(file.body, KIB);
    assert.equal(file.headers['cache-control'], 'public, max-age=60');
    // A dotfile is as if absent: the fallback, never the dotfile.
    assert.equal((await get('spa.test', '/.secret')).body, '<h1>app</h1>\n');
    assert.equal((await get('spa.test', '/link-out')).body, '<h1>app</h1>\n');
    assert.equal((await get('spa.test', '/nope', {}, 'POST')).status, 405);
  });
});

describe('no path escapes the root', () => {
  const escapes = [
    '/../outside/secret.txt',
    '/%2e%2e/outside/secret.txt',
    '/%2E%2E/outside/secret.txt',
    '/%2e%2e%2foutside%2fsecret.txt',
    '/..%2foutside%2fsecret.txt',
    '/docs/../../outside/secret.txt',
    '/docs/%2e%2e/%2e%2e/outside/secret.txt',
    '/..\\outside\\secret.txt',
    '/%5c..%5coutside%5csecret.txt',
    '/..%5coutside%5csecret.txt',
    '//../outside/secret.txt',
    'http://s.test/../outside/secret.txt',
    '/../../../../../../../../etc/passwd',
    '/hello.txt%00',
    '/../outside/secret.txt%00.html',
    '/%00/../outside/secret.txt',
    '/%',
    '/%c0%ae%c0%ae/outside/secret.txt',
    `/${'a'.repeat(5000)}`,
    `/${'a/'.repeat(2100)}x`,
    '/link-out',
    '/dir-out/secret.txt',
    '/dir-out/',
  ];
  for (const target of escapes) {
    test(`raw ${JSON.stringify(target.length > 60 ? `${target.slice(0, 40)}… (${target.length} chars)` : target)} is refused`, async () => {
      const answer = await raw(target);
      const status = statusOf(answer);
      assert.ok([400, 403, 404].includes(status), `${status}: ${answer.slice(0, 200)}`);
      assert.ok(!answer.includes('TOP SECRET'), answer);
      assert.ok(!answer.includes('root:'), answer);
    });
  }

  test('a NUL byte is 400', async () => {
    assert.equal(statusOf(await raw('/hello.txt%00')), 400);
  });

  test('a symlink inside the root to a file inside it is served', async () => {
    const answer = await raw('/link-in');
    assert.equal(statusOf(answer), 200);
    assert.ok(answer.endsWith(KIB));
  });

  test('a file swapped for a symlink pointing outside is refused once its remembered check (1 s) has passed', async () => {
    writeTree(dir.path, { 'www/swapped.txt': 'inside\n' });
    const first = await raw('/swapped.txt');
    assert.equal(statusOf(first), 200);
    assert.ok(first.endsWith('inside\n'));
    rmSync(join(dir.path, 'www/swapped.txt'));
    symlinkSync('../outside/secret.txt', join(dir.path, 'www/swapped.txt'));
    // At least the check's validity (a busy machine only makes the wait longer).
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const second = await raw('/swapped.txt');
    assert.equal(statusOf(second), 404);
    assert.ok(!second.includes(SECRET));
  });

  test('follow_symlinks = true serves a symlink (file or directory) pointing outside', async () => {
    for (const target of ['/link-out', '/dir-out/secret.txt']) {
      const answer = await raw(target, 'follow.test');
      assert.equal(statusOf(answer), 200, target);
      assert.ok(answer.endsWith(SECRET), target);
    }
    // It still never walks out through `..`.
    assert.ok(!(await raw('/../outside/secret.txt', 'follow.test')).includes(SECRET));
  });
});

describe('HTTP/2', () => {
  let h2: http2.Http2Server;
  let client: http2.ClientHttp2Session;
  before(async () => {
    h2 = http2.createServer(app);
    h2.listen(0, '127.0.0.1');
    await once(h2, 'listening');
    client = http2.connect(`http://127.0.0.1:${(h2.address() as AddressInfo).port}`);
  });
  after(async () => {
    client.close();
    await new Promise((resolve) => h2.close(resolve));
  });

  const h2get = (path: string, extra: http2.OutgoingHttpHeaders = {}, method = 'GET') =>
    new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const stream = client.request({ ':method': method, ':path': path, ':authority': 's.test', ...extra });
      let body = '';
      let headers: http2.IncomingHttpHeaders = {};
      stream.on('response', (h) => (headers = h));
      stream.on('data', (chunk: Buffer) => (body += chunk));
      stream.on('end', () => resolve({ headers, body }));
      stream.on('error', reject);
      stream.end();
    });

  test('GET, 304, Range, 405, a directory redirect, a refused traversal', async () => {
    const full = await h2get('/hello.txt');
    assert.equal(full.headers[':status'], 200);
    assert.equal(full.body, KIB);
    assert.equal((await h2get('/hello.txt', { 'if-none-match': full.headers.etag! })).headers[':status'], 304);
    const part = await h2get('/hello.txt', { range: 'bytes=1-2' });
    assert.equal(part.headers[':status'], 206);
    assert.equal(part.body, 'xx');
    const refused = await h2get('/hello.txt', {}, 'DELETE');
    assert.equal(refused.headers[':status'], 405);
    assert.equal(refused.headers.allow, 'GET, HEAD');
    const dir = await h2get('/docs');
    assert.equal(dir.headers[':status'], 301);
    assert.equal(dir.headers.location, '/docs/');
    const out = await h2get('/%2e%2e/outside/secret.txt');
    assert.ok(!out.body.includes(SECRET));
    assert.equal((await h2get('/link-out')).headers[':status'], 404);
  });
});

describe('configuration', () => {
  /** The problems of a tree with one site file `s.ini` holding `[site]\ndomains = s.test\n` + `keys`. */
  function problemsOf(keys: string): ConfigProblem[] {
    const tree = tempDir();
    try {
      writeTree(tree.path, {
        'sites-enabled/s.ini': `[site]\ndomains = s.test\n${keys}`,
        'www/index.html': 'home',
        'www/sub/a.html': 'a',
        'file.txt': 'not a directory',
      });
      createApplication(tree.path, { logger: captureLogger() });
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return [...error.problems];
    } finally {
      tree.remove();
    }
    return [];
  }
  const at = (key: string, line: number | undefined, message: string) => ({ file: 'sites-enabled/s.ini', section: 'site', key, line, message });

  const cases: [string, string, ReturnType<typeof at>[]][] = [
    ['a root that does not exist', 'root = ../nowhere\n', [at('root', 3, '"../nowhere" does not exist')]],
    ['a root that is a file', 'root = ../file.txt\n', [at('root', 3, '"../file.txt" is not a directory')]],
    ['an empty root', 'root =\n', [at('root', 3, 'is empty')]],
    ['an index with a slash', 'root = ../www\nindex = sub/a.html\n', [at('index', 4, '"sub/a.html" is not a file name (no "/", "\\" or leading ".")')]],
    ['a hidden index', 'root = ../www\nindex = .index.html\n', [at('index', 4, '".index.html" is not a file name (no "/", "\\" or leading ".")')]],
    ['a fallback outside the root', 'root = ../www\nfallback = ../file.txt\n', [at('fallback', 4, '"../file.txt" is not a path inside root (no "..", "\\", empty or hidden segment)')]],
    ['a fallback that is missing', 'root = ../www\nfallback = app.html\n', [at('fallback', 4, '"app.html" is not a file in root')]],
    ['a fallback that is a directory', 'root = ../www\nfallback = sub\n', [at('fallback', 4, '"sub" is not a file in root')]],
    ['a cache_control that is not ASCII', 'root = ../www\ncache_control = max-âge=1\n', [at('cache_control', 4, '"max-âge=1" is not a header value (printable ASCII)')]],
    ['an empty cache_control', 'root = ../www\ncache_control =\n', [at('cache_control', 4, 'is empty')]],
    ['a follow_symlinks that is no boolean', 'root = ../www\nfollow_symlinks = maybe\n', [at('follow_symlinks', 4, '"maybe" is not true or false')]],
    ['a static key on a redirect site', 'redirect = https://a.example\nfallback = app.html\n', [at('fallback', 4, 'only applies to a root site')]],
    ['root beside handler', 'handler = ./a.mjs\nroot = ../www\n', [at('root', undefined, 'has handler and root; a site is exactly one kind')]],
  ];
  for (const [name, keys, expected] of cases) {
    test(name, () => {
      const problems = problemsOf(keys);
      assert.deepEqual(
        problems.map((p) => ({ file: p.file, section: p.section, key: p.key, line: p.line, message: p.message })),
        expected,
      );
    });
  }

  test('good keys: index, fallback in a directory, follow_symlinks = yes; app.sites shows the kind', async () => {
    const tree = tempDir();
    try {
      writeTree(tree.path, {
        'sites-enabled/s.ini': '[site]\ndomains = s.test\nroot = ../www\nindex = home.htm\nfallback = /sub/a.html\nfollow_symlinks = yes\n',
        'www/home.htm': 'home',
        'www/sub/a.html': 'a',
      });
      const good = createApplication(tree.path, { logger: captureLogger() });
      const running = await listen(good);
      try {
        assert.deepEqual(good.sites.map((s) => [s.name, s.kind]), [['s', 'static']]);
        assert.equal((await request(running.port, { host: 's.test', path: '/' })).body, 'home');
        assert.equal((await request(running.port, { host: 's.test', path: '/x/y' })).body, 'a');
      } finally {
        await running.close();
        await good.close();
      }
    } finally {
      tree.remove();
    }
  });
});

describe('reload', () => {
  test('a static site is kept while its site file and root are unchanged; a switched root link makes it anew', async () => {
    const tree = tempDir();
    try {
      writeTree(tree.path, {
        'sites-enabled/s.ini': '[site]\ndomains = s.test\nroot = ../current\n',
        'releases/1/index.html': 'one',
        'releases/2/index.html': 'two',
        current: { link: 'releases/1' },
      });
      const reloading = createApplication(tree.path, { logger: captureLogger() });
      const running = await listen(reloading);
      try {
        assert.equal((await request(running.port, { host: 's.test' })).body, 'one');
        writeTree(tree.path, { 'www/new.txt': 'content changes need no reload' });
        assert.deepEqual(await reloading.reload(), { added: [], removed: [], reloaded: [], kept: ['s'] });
        // An atomic deploy: the link is replaced, not changed in place.
        symlinkSync('releases/2', join(tree.path, 'next'));
        renameSync(join(tree.path, 'next'), join(tree.path, 'current'));
        assert.deepEqual(await reloading.reload(), { added: [], removed: [], reloaded: ['s'], kept: [] });
        assert.equal((await request(running.port, { host: 's.test' })).body, 'two');
        rmSync(join(tree.path, 'releases/2'), { recursive: true });
        const failed = await reloading.reload().catch((error: unknown) => error);
        assert.ok(failed instanceof ConfigError);
        assert.match(failed.message, /"\.\.\/current" does not exist/);
      } finally {
        await running.close();
        await reloading.close();
      }
    } finally {
      tree.remove();
    }
  });
});

describe('the command', () => {
  const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli', 'main.js');
  // `list` names files and domains, no kind (for any kind); `check` shows the kind.
  test('check shows a static site with its kind, list lists it', () => {
    const tree = tempDir();
    try {
      writeTree(tree.path, { 'sites-enabled/s.ini': '[site]\ndomains = s.test\nroot = ../www\n', 'www/index.html': 'home' });
      const list = execFileSync(process.execPath, [CLI, 'list', '-c', tree.path, '--json'], { encoding: 'utf8' });
      assert.match(list, /"name": "s",[^}]*"enabled": true/);
      const check = execFileSync(process.execPath, [CLI, 'check', '-c', tree.path], { encoding: 'utf8' });
      assert.match(check, /^s\.test +s +static +sites-enabled\/s\.ini$/m);
      const json = JSON.parse(execFileSync(process.execPath, [CLI, 'check', '-c', tree.path, '--json'], { encoding: 'utf8' })) as {
        routes: { kind: string }[];
      };
      assert.deepEqual(json.routes.map((route) => route.kind), ['static']);
    } finally {
      tree.remove();
    }
  });
});
