// A pipelined flood to a site whose module is still loading: the server's
// RSS before, at its peak while the load is pending, and after every request
// was answered; and how long a neighbour site takes to answer meanwhile.
// The same flood to the site once loaded, for comparison. Loopback only;
// the server runs in a child process so that the client's memory is not counted.
//   node --import tsx test/bench/loading-flood.ts [CONNECTIONS] [REQUESTS_PER_CONNECTION] [LOAD_QUEUE]
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const BODY = 'ok';

type ToServer = 'open' | 'rss';
type FromServer = { port: number } | { rss: number };

async function serve(): Promise<void> {
  const { createApplication } = await import('../../src/index.ts');
  const dir = mkdtempSync(join(tmpdir(), 'hostmux-flood-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'hostmux.conf'), '[server]\nsites = *.ini\n');
  const queue = process.argv[3] === undefined ? '' : `load_queue = ${process.argv[3]}\n`;
  writeFileSync(join(dir, 'loading.ini'), `[site]\ndomains = loading.test\nhandler = loading.mjs\n${queue}`);
  writeFileSync(join(dir, 'loading.mjs'), `export async function createHandler() {
  if (!globalThis.__opened) await new Promise((resolve) => (globalThis.__open = resolve));
  return (req, res) => res.end('${BODY}');
}\n`);
  writeFileSync(join(dir, 'healthy.ini'), '[site]\ndomains = healthy.test\nhandler = healthy.mjs\n');
  writeFileSync(join(dir, 'healthy.mjs'), `export default (req, res) => res.end('${BODY}');\n`);
  const app = createApplication(dir);
  const server = http.createServer(app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.on('message', (message: ToServer) => {
    if (message === 'open') {
      const state = globalThis as { __open?: () => void; __opened?: boolean };
      state.__opened = true;
      state.__open?.();
    }
    process.send!({ rss: process.memoryUsage().rss });
  });
  process.send!({ port: (server.address() as net.AddressInfo).port });
}

function ask(child: ChildProcess, message: ToServer): Promise<FromServer> {
  child.send(message);
  return once(child, 'message').then(([reply]) => reply as FromServer);
}

async function rss(child: ChildProcess): Promise<number> {
  return ((await ask(child, 'rss')) as { rss: number }).rss;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** Sends `count` pipelined GETs on one connection; resolves once every answer (200, or 503 beyond load_queue) has come. */
function flood(port: number, count: number): Promise<void> {
  const request = 'GET / HTTP/1.1\r\nHost: loading.test\r\n\r\n';
  const socket = net.connect(port, '127.0.0.1');
  socket.write(request.repeat(count));
  const marker = 'HTTP/1.1 ';
  let answered = 0;
  let tail = '';
  return new Promise((resolve, reject) => {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      const text = tail + chunk;
      for (let at = text.indexOf(marker); at !== -1; at = text.indexOf(marker, at + marker.length)) answered++;
      tail = text.slice(-marker.length + 1);
      if (answered === count) {
        socket.destroy();
        resolve();
      }
    });
    socket.on('error', reject);
  });
}

/** How long the healthy site takes to answer, in ms. */
async function neighbour(port: number, host = 'healthy.test'): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    http.get({ port, host: '127.0.0.1', headers: { host }, agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject);
  });
  return performance.now() - started;
}

async function scenario(loaded: boolean, connections: number, each: number, queue: string | undefined): Promise<void> {
  const child = fork(import.meta.filename, ['server', ...(queue === undefined ? [] : [queue])], { execArgv: ['--import', 'tsx'] });
  try {
    const { port } = (await once(child, 'message'))[0] as { port: number };
    if (loaded) await ask(child, 'open');
    await neighbour(port);
    if (loaded) await neighbour(port, 'loading.test');
    const before = await rss(child);
    const answered = Promise.all(Array.from({ length: connections }, () => flood(port, each)));
    let peak = before;
    let slowest = 0;
    // While the load is pending (or, loaded, while the flood is served): sample for 3 s.
    for (let i = 0; i < 30; i++) {
      slowest = Math.max(slowest, await neighbour(port));
      peak = Math.max(peak, await rss(child));
      await sleep(100);
    }
    if (!loaded) await ask(child, 'open');
    await answered;
    const after = await rss(child);
    console.log(
      `${loaded ? 'loaded site ' : 'loading site'}, load_queue ${queue ?? 'default'}: ${connections}×${each} pipelined GETs: RSS ${mib(before)} before, ` +
        `${mib(peak)} at most during the first 3 s, ${mib(after)} once all were answered; slowest neighbour answer in those 3 s ${slowest.toFixed(0)} ms`,
    );
  } finally {
    child.kill();
  }
}

if (process.argv[2] === 'server') {
  await serve();
} else {
  const connections = Number(process.argv[2] ?? 20);
  const each = Number(process.argv[3] ?? 20_000);
  const queue = process.argv[4];
  await scenario(false, connections, each, queue);
  await scenario(true, connections, each, queue);
}
