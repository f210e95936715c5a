// The README shows the host-server examples and the routing test "exactly",
// and its INI blocks are read as the files they show: users copy from it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebSocketServer } from 'ws';
import { readServerSettings } from '../src/config/server-conf.ts';
import { formatProblem, type ConfigProblem } from '../src/errors.ts';
import { readLoggingConfig } from '../src/logging/config.ts';
import { readSiteFile } from '../src/sites/index.ts';

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

// Every INI block of the README goes through the reader its file would:
// users copy them too. A block is told apart by its sections; one that is a
// fragment on purpose has `<!-- ini fragment -->` on the line before it.
const FRAGMENT_MARK = '<!-- ini fragment -->';

interface IniBlock {
  readonly line: number;
  readonly text: string;
  readonly fragment: boolean;
}

function iniBlocks(): IniBlock[] {
  const lines = readme.split('\n');
  const blocks: IniBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ini') continue;
    const end = lines.indexOf('```', i + 1);
    assert.notEqual(end, -1, `the INI block at README line ${i + 1} is closed`);
    let before = i - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    blocks.push({ line: i + 1, text: lines.slice(i + 1, end).join('\n') + '\n', fragment: lines[before]?.trim() === FRAGMENT_MARK });
    i = end;
  }
  return blocks;
}

/** Runs `fn` with every `${NAME}` the text needs (without a default) set, as the README's reader would have them. */
function withReferencedEnv<T>(text: string, fn: () => T): T {
  const names = [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!);
  const saved = new Map(names.map((name) => [name, process.env[name]]));
  for (const name of names) process.env[name] ??= 'set-by-the-test';
  try {
    return fn();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

const blocks = iniBlocks();

test('the README has INI blocks of each kind: hostmux.conf, a site file, logging.ini', () => {
  assert.ok(blocks.some((b) => /^\[server\]/m.test(b.text)));
  assert.ok(blocks.some((b) => /^\[site\]/m.test(b.text)));
  assert.ok(blocks.some((b) => /^\[logger:/m.test(b.text)));
});

for (const block of blocks) {
  test(`the README's INI block at line ${block.line} reads without a problem`, { skip: block.fragment && 'marked as a fragment' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostmux-readme-'));
    try {
      const problems: ConfigProblem[] = [];
      withReferencedEnv(block.text, () => {
        if (/^\[(server|admin)\]/m.test(block.text)) {
          writeFileSync(join(dir, 'hostmux.conf'), block.text);
          readServerSettings(dir, problems);
        } else if (/^\[site\]/m.test(block.text)) {
          mkdirSync(join(dir, 'sites-available'));
          const file = join(dir, 'sites-available', 'site.ini');
          writeFileSync(file, block.text);
          // A static site's root (and fallback file) must exist: made as a user would have them.
          const root = /^root\s*=\s*(\S+)/m.exec(block.text)?.[1];
          if (root !== undefined) {
            mkdirSync(join(dir, 'sites-available', root), { recursive: true });
            const fallback = /^fallback\s*=\s*(\S+)/m.exec(block.text)?.[1];
            if (fallback !== undefined) writeFileSync(join(dir, 'sites-available', root, fallback), '');
          }
          const { site } = readSiteFile(block.text, 'site.ini', file, problems);
          assert.ok(site !== undefined || problems.length > 0, 'a site is read');
        } else if (/^\[(logger|handler):/m.test(block.text)) {
          writeFileSync(join(dir, 'logging.ini'), block.text);
          assert.ok(readLoggingConfig(dir, 'logging.ini', problems) !== undefined || problems.length > 0);
        } else {
          assert.fail(`which file is this block? mark it ${FRAGMENT_MARK} if it is a fragment:\n${block.text}`);
        }
      });
      assert.deepEqual(problems.map(formatProblem), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// The README's `*.localhost` snippet reaches the right site from Node, on a
// machine whose resolver does not know `*.localhost` (or does: both work).
// The timeout is a hang guard only.
test("the README's *.localhost snippet for Node reaches each site by name", { timeout: 60_000 }, async (t) => {
  const at = readme.indexOf('**`*.localhost` from Node.**');
  assert.notEqual(at, -1);
  const start = readme.indexOf('```js\n', at) + '```js\n'.length;
  const snippet = readme.slice(start, readme.indexOf('```\n', start));
  const hosts: string[] = [];
  let wanted = 0;
  const done = new Promise<void>((resolve, reject) => {
    const server = http.createServer((req, res) => {
      hosts.push(`${req.method} ${req.headers.host ?? ''}`);
      res.end('ok');
      if (hosts.length === wanted) resolve();
    });
    const wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      socket.on('error', () => {});
      hosts.push(`upgrade ${req.headers.host ?? ''}`);
      wss.handleUpgrade(req, socket, head, (ws) => ws.close());
      if (hosts.length === wanted) resolve();
    });
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      const script = snippet.replaceAll('8080', String(port));
      wanted = (snippet.match(/^(await |http\.get|new WebSocket)/gm) ?? []).length;
      // Written beside node_modules, so that its imports resolve as a user's would.
      const file = join(root, `.readme-localhost-${process.pid}.mjs`);
      writeFileSync(file, script);
      t.after(() => rmSync(file, { force: true }));
      const child = spawn(process.execPath, [file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
      // Exiting before every request arrived is the failure; stderr says why.
      child.on('exit', () => {
        if (hosts.length < wanted) reject(new Error(`the snippet exited after ${hosts.length} of ${wanted} requests:\n${stderr}`));
      });
      t.after(() => child.kill());
    });
  });
  await done;
  assert.equal(wanted, 5);
  assert.deepEqual(hosts.map((h) => h.replace(/:\d+$/, '')).sort(), [
    'GET blog.localhost',
    'GET blog.localhost',
    'GET blog.localhost',
    'GET blog.localhost',
    'upgrade chat.localhost',
  ]);
});

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
    paths: { hostmux: [join(root, 'src/index.ts')], 'hostmux/fastify': [join(root, 'src/adapters/fastify.ts')] },
  };
  // Each block is its own module (an .mts file: ESM, top-level await allowed) beside the README.
  const files = new Map(blocks.map(({ line, code }) => [join(root, `README.md.line-${line}.mts`), code]));
  const host = ts.createCompilerHost(options);
  // Kept to call on `host` itself, below.
  // eslint-disable-next-line @typescript-eslint/unbound-method
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
