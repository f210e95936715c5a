// What a code reload costs in memory: Node cannot unload an ES module, so
// each reload of a changed site keeps its old module instance. Reloads a
// site N times, each time with changed code, and prints the heap growth
// per reload after a full GC.
//   node --expose-gc --import tsx test/bench/reload-memory.ts [N]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import { createApplication } from '../../src/index.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const rounds = Number(process.argv[2] ?? 200);
// Inside the project, so that the express site resolves express.
const dir = mkdtempSync(join(import.meta.dirname, '.reload-memory-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const kinds = {
  tiny: (i: number) => `export default (req, res) => res.end('v${i}');\n`,
  express: (i: number) => `import express from 'express';
const app = express();
for (let r = 0; r < 20; r++) app.get('/route' + r, (req, res) => res.send('v${i} ' + r));
export default app;
`,
};

async function measure(kind: keyof typeof kinds): Promise<number> {
  writeFileSync(join(dir, 'hostmux.conf'), `[server]\nsites = ${kind}.ini\n`);
  writeFileSync(join(dir, `${kind}.ini`), `[site]\ndomains = a.test\nhandler = ${kind}.mjs\n`);
  writeFileSync(join(dir, `${kind}.mjs`), kinds[kind](0));
  const app = createApplication(dir);
  const server = http.createServer(app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const hit = () => new Promise<void>((resolve, reject) => {
    http.get({ port, host: '127.0.0.1', headers: { host: 'a.test' }, agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject);
  });
  await hit();
  const heap = () => {
    gc!();
    gc!();
    return process.memoryUsage().heapUsed;
  };
  // Warm up: the first reloads also allocate the loader's own structures.
  for (let i = 1; i <= 5; i++) {
    writeFileSync(join(dir, `${kind}.mjs`), kinds[kind](i));
    await app.reload();
    await hit();
  }
  const before = heap();
  for (let i = 6; i < 6 + rounds; i++) {
    writeFileSync(join(dir, `${kind}.mjs`), kinds[kind](i));
    await app.reload();
    await hit();
  }
  await new Promise((r) => setTimeout(r, 100));
  const after = heap();
  server.close();
  await app.close();
  return (after - before) / rounds;
}

console.log(`| site module | heap kept per code reload (${rounds} reloads, after GC) |`);
console.log('| --- | --- |');
for (const kind of Object.keys(kinds) as (keyof typeof kinds)[]) {
  const perReload = await measure(kind);
  console.log(`| ${kind} | ${(perReload / 1024).toFixed(1)} KiB |`);
}
