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

/** Every ```ts block of the README, with the line it starts on. */
function tsBlocks(): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  for (const match of readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    blocks.push({ line: readme.slice(0, match.index).split('\n').length, code: match[1]! });
  }
  return blocks;
}

// Users copy the TypeScript examples into strict projects: each must compile
// there, against hostmux's own types (a `catch` binding is `unknown`).
test('every TypeScript block of the README type-checks under strict TypeScript', async () => {
  const ts = (await import('typescript')).default;
  const blocks = tsBlocks();
  assert.ok(blocks.length >= 3, `${blocks.length} ts blocks`);
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
  const options: import('typescript').CompilerOptions = {
    ...config.options,
    noEmit: true,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
    rootDir: root,
    // The README imports the package by name: its sources stand for it.
    paths: { hostmux: [join(root, 'src/index.ts')], 'hostmux/fastify': [join(root, 'src/fastify.ts')] },
  };
  // Each block is its own module (an .mts file: ESM, top-level await allowed) beside the README.
  const files = new Map(blocks.map(({ line, code }) => [join(root, `README.md.line-${line}.mts`), code]));
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
  host.readFile = (name) => files.get(name) ?? readFile.call(host, name);
  host.getSourceFile = (name, language, ...rest) => {
    const text = files.get(name);
    return text === undefined ? getSourceFile.call(host, name, language, ...rest) : ts.createSourceFile(name, text, language);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  const problems = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file === undefined ? '' : `${d.file.fileName.slice(root.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: `;
    return `${where}TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  assert.deepEqual(problems, []);
});
