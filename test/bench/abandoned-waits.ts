// What clients that give up while their site's module loads leave behind:
// N clients each send a GET to a site whose createHandler never settles, then
// leave; the heap is measured after a full GC, before and after. Loopback only.
//   node --expose-gc --import tsx test/bench/abandoned-waits.ts [N]
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { createApplication } from '../../src/index.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const clients = Number(process.argv[2] ?? 5_000);
const dir = mkdtempSync(join(tmpdir(), 'hostmux-abandoned-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'hostmux.conf'), '[server]\nsites = *.ini\n');
writeFileSync(join(dir, 'never.ini'), `[site]\ndomains = never.test\nhandler = never.mjs\nload_queue = ${clients}\nload_timeout = 3600\n`);
writeFileSync(join(dir, 'never.mjs'), 'export function createHandler() {\n  return new Promise(() => {});\n}\n');

const app = createApplication(dir);
const server = http.createServer(app).listen(0, '127.0.0.1');
await once(server, 'listening');
const { port } = server.address() as net.AddressInfo;
let arrived = 0;
let closed = 0;
server.on('request', () => arrived++);
server.on('connection', (socket) => socket.on('close', () => closed++));

const heap = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await tick();
  }
  return process.memoryUsage().heapUsed;
};

// One client first, so that the module's import is not counted.
const first = net.connect(port, '127.0.0.1');
first.write('GET / HTTP/1.1\r\nHost: never.test\r\n\r\n');
while (arrived < 1) await tick();
first.destroy();
while (closed < 1) await tick();
const before = await heap();

// In batches of 500, to stay under the descriptor limit.
for (let done = 0; done < clients; done += 500) {
  const batch = Array.from({ length: Math.min(500, clients - done) }, () => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET / HTTP/1.1\r\nHost: never.test\r\n\r\n');
    return socket;
  });
  while (arrived < 1 + done + batch.length) await tick();
  for (const socket of batch) socket.destroy();
  while (closed < 1 + done + batch.length) await tick();
}
const after = await heap();
console.log(`${clients} clients that left while their site loaded: heap ${((after - before) / 2 ** 20).toFixed(2)} MiB more after a full GC`);
server.close();
process.exit(0);
