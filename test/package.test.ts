// What `npm pack` ships: every source map in it must point at files that are
// in the package too, or a debugger and `--enable-source-maps` find nothing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..');

test('every source map in the package points at sources the package ships', () => {
  // --ignore-scripts: the test run has built dist already; no second build.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  const [pack] = JSON.parse(out) as [{ files: { path: string }[] }];
  const shipped = new Set(pack.files.map((file) => file.path));
  const maps = [...shipped].filter((path) => path.endsWith('.map'));
  assert.ok(maps.length > 0, 'the package has source maps');
  const missing: string[] = [];
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(join(root, map), 'utf8')) as { sources: string[] };
    for (const source of sources) {
      const path = posix.normalize(posix.join(posix.dirname(map), source));
      if (!shipped.has(path)) missing.push(`${map} -> ${path}`);
    }
  }
  assert.deepEqual(missing, []);
});
