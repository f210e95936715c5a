import { execFile } from 'node:child_process';
import { isAbsolute, relative, sep } from 'node:path';

// Where a module failed to parse. Node's SyntaxError from import() does not
// say which file of the import graph failed, nor where (it prints that only
// for a crash): a child process finds it, only when a load has failed this
// way. It compiles the handler and each file it imports by a relative path
// (node:vm's SourceTextModule lists a module's imports without running it),
// and asks `node --check` where the first one that does not compile fails.

/** A child that walks the graph: prints `path:line` of the first file that does not compile. */
const LOCATE = `
const { SourceTextModule } = require('node:vm');
const { readFileSync } = require('node:fs');
const { execFileSync } = require('node:child_process');
const { pathToFileURL, fileURLToPath } = require('node:url');
const seen = new Set();
const queue = [pathToFileURL(process.argv[1]).href];
while (queue.length > 0 && seen.size < 500) {
  const url = queue.shift();
  if (seen.has(url)) continue;
  seen.add(url);
  const path = fileURLToPath(url);
  let module;
  try {
    module = new SourceTextModule(readFileSync(path, 'utf8'), { identifier: url });
  } catch {
    try {
      execFileSync(process.execPath, ['--check', path], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
    } catch (error) {
      process.stdout.write(String(error.stderr).split('\\n')[0]);
    }
    break;
  }
  for (const specifier of module.dependencySpecifiers) {
    if (specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/')) {
      const next = new URL(specifier, url);
      if (/\\.m?js$/.test(next.pathname)) queue.push(next.href);
    }
  }
}
`;
const LOCATE_BOUND_MS = 10_000;
const AT = /^(\/\S+):(\d+)$/;

/** `path` relative to `base` when inside it. */
function shown(path: string, base: string): string {
  const inside = relative(base, path);
  return inside !== '' && inside !== '..' && !inside.startsWith(`..${sep}`) && !isAbsolute(inside) ? inside : path;
}

/**
 * For a load that failed with a SyntaxError: `lib.mjs:3`, the file (relative
 * to `base` when inside it) and line that does not parse, among the handler
 * and the files it imports; undefined when it cannot be told.
 */
export async function syntaxErrorLocation(error: unknown, handler: string, base: string): Promise<string | undefined> {
  try {
    if (!(error instanceof SyntaxError)) return undefined;
    // CommonJS says it already: its stack begins with `/…/lib.cjs:3`.
    const head = AT.exec(String(error.stack).split('\n', 1)[0]!);
    if (head !== null) return `${shown(head[1]!, base)}:${head[2]}`;
  } catch {
    return undefined;
  }
  const printed = await new Promise<string>((resolve) => {
    execFile(
      process.execPath,
      ['--experimental-vm-modules', '--no-warnings', '-e', LOCATE, handler],
      { timeout: LOCATE_BOUND_MS, env: { ...process.env, NODE_OPTIONS: '' } },
      (_error, stdout) => resolve(String(stdout)),
    );
  });
  const found = AT.exec(printed.trim());
  return found === null ? undefined : `${shown(found[1]!, base)}:${found[2]}`;
}
