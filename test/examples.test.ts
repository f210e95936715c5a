// Examples are code: start examples/node-server.mjs as `npm start` does and
// request every example site through it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from './helpers.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0' };
delete env.HOSTMUX_HOME;
delete env.HOSTMUX_EXAMPLE_BLOG;
const server = spawn(process.execPath, [join(root, 'examples/node-server.mjs')], {
  env,
  stdio: ['ignore', 'pipe', 'pipe'],
});
let port = 0;
let stderr = '';
server.stderr.on('data', (chunk: Buffer) => (stderr += chunk));

before(async () => {
  let stdout = '';
  for await (const chunk of server.stdout) {
    stdout += chunk;
    const found = /on http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout);
    if (found) {
      port = Number(found[1]);
      break;
    }
  }
  assert.ok(port > 0, `the example server did not start:\n${stdout}\n${stderr}`);
});

after(async () => {
  server.kill('SIGTERM');
  const [code] = await once(server, 'exit');
  assert.equal(code, 0, 'the example server exits 0 on SIGTERM');
});

test('blog: a plain listener built by createHandler from its settings', async () => {
  const reply = await request(port, { host: 'blog.localhost' });
  assert.equal(reply.status, 200);
  assert.match(reply.body, /<h1>The hostmux blog<\/h1>/);
  assert.match(reply.body, /served for blog\.localhost/);
  const section = await request(port, { host: 'travel.blog.localhost:8080' });
  assert.match(section.body, /section "travel"/);
});

test('notes: an Express app, GET and POST', async () => {
  const created = await request(port, {
    host: 'notes.localhost',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: 'from the test' }),
  });
  assert.equal(created.status, 201);
  const list = JSON.parse((await request(port, { host: 'notes.localhost' })).body) as { text: string }[];
  assert.ok(list.some((note) => note.text === 'from the test'));
});

test('api: a Hono app sees the routed URL and its wildcard', async () => {
  const index = await request(port, { host: 'api.localhost', path: '/?x=1' });
  assert.equal(index.status, 200);
  assert.deepEqual(JSON.parse(index.body), { site: 'api', url: 'http://api.localhost/?x=1' });
  const version = await request(port, { host: 'api-v2.localhost', path: '/version' });
  assert.deepEqual(JSON.parse(version.body), { version: 'v2' });
  const hello = await request(port, { host: 'api.localhost', path: '/hello/ada' });
  assert.equal(hello.body, 'hello, ada\n');
});

test('www: a redirect keeping path and query', async () => {
  const reply = await request(port, { host: 'www.localhost', path: '/2026/post?ref=x' });
  assert.equal(reply.status, 308);
  assert.equal(reply.headers.location, 'http://blog.localhost:8080/2026/post?ref=x');
});

test('a host no example site claims gets 404', async () => {
  const reply = await request(port, { host: 'unknown.localhost' });
  assert.equal(reply.status, 404);
});
