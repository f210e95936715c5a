// The README shows the host-server examples and the routing test "exactly":
// keep it so, since users copy from it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The first js code block after `heading`. */
function codeAfter(heading: string): string {
  const at = readme.indexOf(heading);
  assert.notEqual(at, -1, `README has "${heading}"`);
  const start = readme.indexOf('```js\n', at) + '```js\n'.length;
  return readme.slice(start, readme.indexOf('```\n', start));
}

for (const [heading, file] of [
  ['### node:http — `examples/node-server.mjs`', 'examples/node-server.mjs'],
  ['### Express 5 — `examples/express-server.mjs`', 'examples/express-server.mjs'],
  ['### Fastify 5 — `examples/fastify-server.mjs`', 'examples/fastify-server.mjs'],
  ['## Test your routing', 'examples/routing.test.mjs'],
]) {
  test(`the README shows ${file} as it is`, () => {
    assert.equal(codeAfter(heading!), readFileSync(join(root, file!), 'utf8'));
  });
}
