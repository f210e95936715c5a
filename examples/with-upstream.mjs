// Runs a command with the example "legacy" upstream beside it, in its own
// process: `node examples/with-upstream.mjs COMMAND ARGS…` (npm start uses
// it around `hostmux serve`). The upstream's port reaches the command as
// LEGACY_PORT, which examples/etc/sites-available/legacy.ini reads.
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const [command, ...args] = process.argv.slice(2);
if (command === undefined) {
  console.error('usage: node examples/with-upstream.mjs COMMAND [ARGS…]');
  process.exit(2);
}

const upstream = fork(fileURLToPath(new URL('./legacy/upstream.mjs', import.meta.url)), {
  env: { ...process.env, LEGACY_PORT: process.env.LEGACY_PORT ?? '9001' },
  stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
});
const port = await new Promise((resolve, reject) => {
  upstream.once('exit', (code) => reject(new Error(`the legacy upstream exited (${code})`)));
  upstream.stdout.setEncoding('utf8');
  upstream.stdout.on('data', (text) => {
    const found = /http:\/\/127\.0\.0\.1:(\d+)/.exec(text);
    if (found) resolve(found[1]);
  });
}).catch((err) => {
  console.error(err.message);
  process.exit(1);
});
console.log(`legacy upstream (pid ${upstream.pid}) on http://127.0.0.1:${port}`);

const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, LEGACY_PORT: port } });
// Signals are the command's to handle (SIGHUP reloads hostmux): pass them on.
// Ctrl-C already reaches the whole process group, the command included.
for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
process.on('SIGINT', () => {});
const [code, signal] = await once(child, 'exit');
upstream.kill();
process.exit(code ?? (signal ? 1 : 0));
