// Examples are code: each host server in examples/ (node:http, Express,
// Fastify) is started as a child process, the way a user starts it, and
// every example site is requested through each of them. The copyable
// routing test, examples/routing.test.mjs, runs as a test file of its own.
import assert from 'node:assert/strict';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { request, type Reply } from './helpers.ts';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', 'examples');

// A guard against a hang, not a speed limit.
const HANG_GUARD = { timeout: 20_000 };

/** The environment of a user who has set nothing hostmux reads. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.HOSTMUX_HOME;
  delete env.HOSTMUX_EXAMPLE_BLOG;
  delete env.BLOG_AUTHOR;
  // Set by node --test for its children; a child running node --test itself must not see it.
  delete env.NODE_TEST_CONTEXT;
  return env;
}

interface Started {
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

/** Waits for `pattern` (with the port as its group) in the child's output; keeps reading after, so the pipe never fills. */
async function started(child: ChildProcess, name: string, pattern: RegExp): Promise<Started> {
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const found = pattern.exec(output);
      if (found) resolve(Number(found[1]));
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk));
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it listened:\n${output}`)));
  });
  return {
    port,
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      return (await exited)[0] as number | null;
    },
  };
}

function startExample(file: string, env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(process.execPath, [join(EXAMPLES, file)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return started(child, file, /on http:\/\/127\.0\.0\.1:(\d+)/);
}

/** Opens a WebSocket to `host`, sends `text`, and resolves with the first message back. */
async function wsRoundTrip(port: number, host: string, path: string, text: string): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { host } });
  try {
    await once(ws, 'open');
    ws.send(text);
    const [message] = (await once(ws, 'message')) as [Buffer];
    return message.toString();
  } finally {
    ws.terminate();
  }
}

const json = (reply: Reply) => JSON.parse(reply.body) as unknown;

// The legacy proxy site's upstream runs in its own process, as
// examples/with-upstream.mjs runs it; every host server is told its port.
let upstream: Started;
before(async () => {
  const child = fork(join(EXAMPLES, 'legacy/upstream.mjs'), {
    env: cleanEnv({ LEGACY_PORT: '0' }),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  upstream = await started(child, 'the legacy upstream', /on http:\/\/127\.0\.0\.1:(\d+)/);
});
after(async () => {
  await upstream.stop();
});

const hostServers = [
  {
    file: 'node-server.mjs',
    unclaimed: (reply: Reply) => {
      assert.equal(reply.status, 404);
      assert.equal(reply.body, 'Not Found\n');
    },
  },
  {
    file: 'express-server.mjs',
    unclaimed: (reply: Reply) => {
      assert.equal(reply.status, 200);
      assert.equal(reply.body, 'no site claims unknown.localhost; this is Express\n');
    },
  },
  {
    file: 'fastify-server.mjs',
    unclaimed: (reply: Reply) => {
      assert.equal(reply.status, 200);
      assert.equal(reply.body, 'no site claims unknown.localhost; this is Fastify\n');
    },
  },
];

for (const { file, unclaimed } of hostServers) {
  describe(`examples/${file}`, () => {
    let server: Started;
    before(async () => {
      server = await startExample(file, cleanEnv({ PORT: '0', LEGACY_PORT: String(upstream.port) }));
    });
    after(async () => {
      assert.equal(await server.stop(), 0, `exits 0 on SIGTERM:\n${server.output()}`);
    });

    test('blog: a plain listener built by createHandler from its settings', async () => {
      const reply = await request(server.port, { host: 'blog.localhost' });
      assert.equal(reply.status, 200);
      assert.match(reply.body, /<h1>The hostmux blog<\/h1>/);
      assert.match(reply.body, /served for blog\.localhost/);
      const section = await request(server.port, { host: 'travel.blog.localhost:8080' });
      assert.match(section.body, /section "travel"/);
    });

    test('notes: an Express app, GET and POST (its own body parser)', async () => {
      const created = await request(server.port, {
        host: 'notes.localhost',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'from the test' }),
      });
      assert.equal(created.status, 201);
      const list = json(await request(server.port, { host: 'notes.localhost' })) as { text: string }[];
      assert.ok(list.some((note) => note.text === 'from the test'));
    });

    test('api: a Hono app (fetch-style) sees the routed URL and its wildcard', async () => {
      const index = await request(server.port, { host: 'api.localhost', path: '/?x=1' });
      assert.equal(index.status, 200);
      assert.deepEqual(json(index), { site: 'api', url: 'http://api.localhost/?x=1' });
      const version = await request(server.port, { host: 'api-v2.localhost', path: '/version' });
      assert.deepEqual(json(version), { version: 'v2' });
      const hello = await request(server.port, { host: 'api.localhost', path: '/hello/ada' });
      assert.equal(hello.body, 'hello, ada\n');
    });

    test("shop: a Koa app's callback()", async () => {
      const index = await request(server.port, { host: 'shop.localhost', path: '/' });
      assert.equal(index.status, 200);
      assert.deepEqual(json(index), { site: 'shop', host: 'shop.localhost', path: '/' });
      assert.deepEqual(json(await request(server.port, { host: 'shop.localhost', path: '/items' })), [{ id: 1, name: 'hostmux mug' }]);
    });

    test('status: a Fastify instance as a site, through fastify.routing()', async () => {
      const index = await request(server.port, { host: 'status.localhost' });
      assert.equal(index.status, 200);
      assert.deepEqual(json(index), { site: 'status', hostname: 'status.localhost', framework: 'fastify' });
      const echo = await request(server.port, {
        host: 'status.localhost',
        path: '/echo',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"a":1}',
      });
      assert.deepEqual(json(echo), { received: { a: 1 } }, "the site's Fastify parsed the body");
      const missing = await request(server.port, { host: 'status.localhost', path: '/nowhere' });
      assert.equal(missing.status, 404);
      assert.match(missing.body, /Route GET:\/nowhere not found/);
    });

    test('chat: a WebSocket through the upgrade export', HANG_GUARD, async () => {
      const page = await request(server.port, { host: 'chat.localhost' });
      assert.match(page.body, /<title>hostmux chat<\/title>/);
      assert.equal(await wsRoundTrip(server.port, 'chat.localhost', '/ws', 'hello, room'), 'hello, room');
    });

    test('legacy: a proxy site in front of its own process', HANG_GUARD, async () => {
      const reply = await request(server.port, { host: 'legacy.localhost', path: '/' });
      assert.equal(reply.status, 200);
      assert.match(reply.body, /^legacy app, pid \d+\n/);
      assert.match(reply.body, /\nhost: legacy\.localhost\n/);
      assert.match(reply.body, /\nx-forwarded-host: legacy\.localhost\n/);
      const echoed = await request(server.port, { host: 'legacy.localhost', method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'through the proxy' });
      assert.equal(echoed.body, 'through the proxy');
    });

    test('www: a redirect keeping path and query', async () => {
      const reply = await request(server.port, { host: 'www.localhost', path: '/2026/post?ref=x' });
      assert.equal(reply.status, 308);
      assert.equal(reply.headers.location, 'http://blog.localhost:8080/2026/post?ref=x');
    });

    test('a host no site claims', async () => {
      unclaimed(await request(server.port, { host: 'unknown.localhost' }));
    });
  });
}

for (const { file } of hostServers) {
  test(`examples/${file} exits 0 on SIGINT while a chat WebSocket is open, which the site closes with 1001`, HANG_GUARD, async () => {
    const server = await startExample(file, cleanEnv({ PORT: '0', LEGACY_PORT: String(upstream.port) }));
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, { headers: { host: 'chat.localhost' } });
    try {
      const closed = once(ws, 'close');
      await once(ws, 'open');
      const child = server.child;
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, server.output());
      assert.equal(((await closed) as [number])[0], 1001);
    } finally {
      ws.terminate();
      await server.stop();
    }
  });
}

test('examples/routing.test.mjs, the copyable routing test, passes', HANG_GUARD, async () => {
  const child = spawn(process.execPath, ['--test', join(EXAMPLES, 'routing.test.mjs')], {
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, output);
  assert.match(output, /# fail 0/);
  assert.doesNotMatch(output, /# pass 0\b/);
});
