// The `hostmux` command, run as a child process (the built dist/cli/main.js)
// on temporary configuration trees: every subcommand, every exit code, and
// serve's workers, signals, drain, reload, watch and pid file.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { listen, request, tempDir, writeTree } from './helpers.ts';
import { CLI, childEnv, hostmux, serve, start } from './serve-helpers.ts';


/** A site module answering its site's name and the pid of the process that served it; `/slow` takes `ms`. */
const APP = `
export function createHandler(site) {
  return (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/slow') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('started\\n');
      setTimeout(() => res.end('finished\\n'), Number(url.searchParams.get('ms')));
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ site: site.name, pid: process.pid }));
  };
}
`;

/** alpha (enabled by link) and beta (available) share one module; gamma's module fails to load. */
function tree(t: TestContext, extra: Record<string, string | { link: string }> = {}): string {
  const dir = tempDir('hostmux-cli-');
  t.after(dir.remove);
  return writeTree(dir.path, {
    'sites/app.mjs': APP,
    'sites/broken.mjs': 'throw new Error("gamma cannot start");\n',
    'sites-available/alpha.ini': '[site]\ndomains = alpha.test, *.alpha.test\nhandler = ../sites/app.mjs\n',
    'sites-available/beta.ini': '[site]\ndomains = beta.test\nhandler = ../sites/app.mjs\n',
    'sites-available/gamma.ini': '[site]\ndomains = gamma.test\nhandler = ../sites/broken.mjs\n',
    'sites-available/.hidden.ini': '[site]\ndomains = hidden.test\nhandler = ../sites/app.mjs\n',
    'sites-available/beta.ini~': 'an editor backup, ignored\n',
    'sites-enabled/alpha.ini': { link: '../sites-available/alpha.ini' },
    ...extra,
  });
}

/** A GET of `/slow` that resolves `started` once the head and first chunk arrived, and `body` with the whole body. */
function slowRequest(port: number, host: string, ms: number): { started: Promise<void>; body: Promise<string> } {
  let started!: () => void;
  const startedPromise = new Promise<void>((resolve) => (started = resolve));
  const body = new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: `/slow?ms=${ms}`, headers: { host }, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk;
        started();
      });
      res.on('end', () => resolve(text));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error(`aborted after ${JSON.stringify(text)}`)));
    }).on('error', reject);
  });
  return { started: startedPromise, body };
}

/** The status of a GET for `host` through `agent` (keep-alive). */
function statusThrough(agent: http.Agent, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, headers: { host }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    }).on('error', reject);
  });
}

/** Which pid answered for `host`, over a fresh connection. */
async function pidFor(port: number, host: string, when = ''): Promise<number> {
  const reply = await request(port, { host }).catch((error: Error) => {
    throw new Error(`GET for ${host}${when === '' ? '' : ` ${when}`}: ${error.message}`);
  });
  assert.equal(reply.status, 200, `${host}: ${reply.status} ${reply.body}`);
  return (JSON.parse(reply.body) as { pid: number }).pid;
}

test('--help prints usage on stdout and exits 0, for hostmux and every command', async () => {
  const commands = ['init', 'serve', 'check', 'list', 'match', 'enable', 'disable'];
  const main = await hostmux(['--help']);
  assert.equal(main.code, 0);
  for (const name of commands) assert.match(main.stdout, new RegExp(`^  ${name} `, 'm'));
  assert.match((await hostmux(['help'])).stdout, /^Usage: hostmux \[--config DIR\] COMMAND/);
  const results = await Promise.all(commands.map((name) => hostmux([name, '--help'])));
  results.forEach((result, i) => {
    assert.equal(result.code, 0, commands[i]);
    assert.match(result.stdout, new RegExp(`^Usage: hostmux \\[--config DIR\\] ${commands[i]}`), commands[i]);
    assert.match(result.stdout, /--config DIR/);
    assert.equal(result.stderr, '');
  });
  assert.match((await hostmux(['help', 'serve'])).stdout, /--drain SECONDS/);
  const version = await hostmux(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
});

test('--help and bad usage answer without importing what the commands run (the application, the config reader, the serve machinery)', async (t) => {
  const copy = tempDir('hostmux-cli-help-');
  t.after(copy.remove);
  const root = join(dirname(CLI), '..', '..');
  cpSync(join(root, 'dist'), join(copy.path, 'dist'), { recursive: true });
  writeFileSync(join(copy.path, 'package.json'), readFileSync(join(root, 'package.json')));
  const gone = ['application.js', 'config', 'sites', 'routing', 'logging', 'logger.js',
    ...['primary', 'single', 'worker', 'pool', 'lifecycle', 'http-server', 'watch', 'messages'].map((name) => `cli/serve/${name}.js`)];
  for (const path of gone) rmSync(join(copy.path, 'dist', path), { recursive: true });
  const cli = join(copy.path, 'dist', 'cli', 'main.js');
  const run = (args: string[]) => {
    const child = spawn(process.execPath, [cli, ...args], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    return once(child, 'close').then(([code]) => ({ code: code as number | null, output }));
  };
  const commands = ['init', 'serve', 'check', 'list', 'match', 'enable', 'disable'];
  const helps = await Promise.all([run(['--help']), ...commands.map((name) => run([name, '--help']))]);
  helps.forEach((help, i) => assert.equal(help.code, 0, `${['', ...commands][i]} --help: ${help.output}`));
  const typo = await run(['serve', '--prot', '8097']);
  assert.equal(typo.code, 2, typo.output);
  assert.match(typo.output, /did you mean --port\?/);
  // The copy is real: running a command does need what was removed.
  assert.equal((await run(['check', '-c', copy.path])).code, 1);
});

test('bad usage exits 2 with the usage on stderr', async () => {
  const cases: [string[], RegExp][] = [
    [[], /no command given/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['match'], /match: missing HOST/],
    [['match', 'a.test', 'b.test'], /unexpected argument "b\.test"/],
    [['enable'], /enable: missing NAME/],
    [['check', 'extra'], /unexpected argument "extra"/],
    [['serve', '--port', 'http'], /--port must be a whole number from 0 to 65535/],
    [['serve', '--workers', '0'], /--workers must be a whole number from 1/],
    [['serve', '--drain', 'soon'], /--drain must be a number of seconds/],
    [['serve', '--port'], /argument missing/],
  ];
  const results = await Promise.all(cases.map(([args]) => hostmux(args)));
  results.forEach((result, i) => {
    const [args, message] = cases[i]!;
    assert.equal(result.code, 2, args.join(' '));
    assert.match(result.stderr, message, args.join(' '));
    assert.match(result.stderr, /^Usage: hostmux/m, args.join(' '));
    assert.equal(result.stdout, '', args.join(' '));
  });
});

test('a mistyped option names the nearest known one and points to --help, without the whole usage; exit 2', async () => {
  const cases: [string[], string][] = [
    [['serve', '--prot', '8097'], "hostmux: unknown option --prot (did you mean --port?)\nRun 'hostmux serve --help' for the options.\n"],
    [['check', '--jsno'], "hostmux: unknown option --jsno (did you mean --json?)\nRun 'hostmux check --help' for the options.\n"],
    [['serve', '--wrokers=2'], "hostmux: unknown option --wrokers (did you mean --workers?)\nRun 'hostmux serve --help' for the options.\n"],
    [['--confg', 'x', 'list'], "hostmux: unknown option --confg (did you mean --config?)\nRun 'hostmux --help' for the options.\n"],
    // Nothing close: no guess.
    [['serve', '--frobnicate'], "hostmux: unknown option --frobnicate\nRun 'hostmux serve --help' for the options.\n"],
    [['list', '--frob'], "hostmux: unknown option --frob\nRun 'hostmux list --help' for the options.\n"],
    [['--frob', 'list'], "hostmux: unknown option --frob\nRun 'hostmux --help' for the options.\n"],
    [['serve', '-x'], "hostmux: unknown option -x\nRun 'hostmux serve --help' for the options.\n"],
  ];
  const results = await Promise.all(cases.map(([args]) => hostmux(args)));
  results.forEach((result, i) => {
    const [args, stderr] = cases[i]!;
    assert.equal(result.code, 2, args.join(' '));
    assert.equal(result.stderr, stderr, args.join(' '));
    assert.equal(result.stdout, '', args.join(' '));
  });
});

test('the config dir is --config (before or after the command), else $HOSTMUX_HOME, else /etc/hostmux', async (t) => {
  const dir = tree(t);
  const other = tempDir('hostmux-cli-empty-');
  t.after(other.remove);
  const [before, after, short, home, overridden, fallback] = await Promise.all([
    hostmux(['--config', dir, 'list']),
    hostmux(['list', '--config', dir]),
    hostmux(['-c', dir, 'list']),
    hostmux(['list'], { HOSTMUX_HOME: dir }),
    hostmux(['list', '--config', dir], { HOSTMUX_HOME: other.path }),
    hostmux(['match', 'alpha.test']),
  ]);
  for (const result of [before, after, short, home, overridden]) {
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^alpha +enabled +- +alpha\.test, \*\.alpha\.test$/m);
  }
  // No /etc/hostmux on the test machine: the default is named in the problem.
  assert.equal(fallback.code, 1);
  assert.match(fallback.stderr, /\/etc\/hostmux/);
});

test('check: a valid tree prints the routing table and exits 0; --json for machines', async (t) => {
  const dir = tree(t, {
    'hostmux.conf': '[server]\ndefault_site = alpha\n',
    'sites-enabled/beta.ini': { link: '../sites-available/beta.ini' },
  });
  const [text, json] = await Promise.all([hostmux(['check', '-c', dir]), hostmux(['check', '-c', dir, '--json'])]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^DOMAIN +SITE +KIND +FILE$/);
  // The file to edit: where the sites-enabled link points.
  assert.match(text.stdout, /^alpha\.test +alpha +module +sites-available\/alpha\.ini$/m);
  assert.match(text.stdout, /^\*\.alpha\.test +alpha +module +sites-available\/alpha\.ini$/m);
  assert.match(text.stdout, /^beta\.test +beta +module +sites-available\/beta\.ini$/m);
  assert.match(text.stdout, /^\(default_site\) +alpha +module +sites-available\/alpha\.ini$/m);
  assert.match(lines.at(-1)!, /is ok: 2 sites loaded$/);

  assert.equal(json.code, 0);
  const report = JSON.parse(json.stdout) as Record<string, unknown>;
  assert.equal(report.ok, true);
  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.failedSites, []);
  assert.deepEqual(report.routes, [
    { domain: 'alpha.test', site: 'alpha', kind: 'module', file: 'sites-enabled/alpha.ini' },
    { domain: '*.alpha.test', site: 'alpha', kind: 'module', file: 'sites-enabled/alpha.ini' },
    { domain: 'beta.test', site: 'beta', kind: 'module', file: 'sites-enabled/beta.ini' },
    { domain: null, site: 'alpha', kind: 'module', file: 'sites-enabled/alpha.ini' },
  ]);
});

test('check: every configuration problem is listed as file:line [section] key: message, exit 1', async (t) => {
  const dir = tree(t, {
    'sites-enabled/bad.ini': '[site]\ndomains = alpha.test\nhandler = ../sites/app.mjs\ncolour = blue\n',
    'sites-enabled/gone.ini': { link: '../sites-available/gone.ini' },
  });
  const [text, json] = await Promise.all([hostmux(['check', '-c', dir]), hostmux(['check', '-c', dir, '--json'])]);
  assert.equal(text.code, 1);
  assert.equal(text.stdout, '');
  assert.match(text.stderr, /^hostmux: 3 configuration problems in /m);
  assert.match(text.stderr, /^ {2}sites-enabled\/bad\.ini:4 \[site\] colour: unknown key/m);
  assert.match(text.stderr, /^ {2}sites-enabled\/bad\.ini \[site\] domains: "alpha\.test" is already claimed by site alpha/m);
  assert.match(text.stderr, /^ {2}sites-enabled\/gone\.ini: dangling symlink/m);
  assert.equal(json.code, 1);
  const report = JSON.parse(json.stdout) as { ok: boolean; problems: { file: string }[]; routes: unknown[] };
  assert.equal(report.ok, false);
  assert.equal(report.problems.length, 3);
  assert.deepEqual(report.routes, []);
});

test('check: a valid tree whose module fails to load names the site, exit 1', async (t) => {
  const dir = tree(t, { 'sites-enabled/gamma.ini': { link: '../sites-available/gamma.ini' } });
  const [text, json] = await Promise.all([hostmux(['check', '-c', dir]), hostmux(['check', '-c', dir, '--json'])]);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /^gamma\.test +gamma +module/m, 'the table is still printed');
  assert.match(text.stderr, /^hostmux: 1 site failed to load:\n {2}gamma \(sites-available\/gamma\.ini\): .*gamma cannot start/m);
  assert.doesNotMatch(text.stdout, /is ok/);
  const report = JSON.parse(json.stdout) as { ok: boolean; failedSites: { site: string; file: string }[] };
  assert.equal(report.ok, false);
  assert.deepEqual(report.failedSites.map(({ site, file }) => ({ site, file })), [{ site: 'gamma', file: 'sites-enabled/gamma.ini' }]);
});

test('check: each problem once, naming the file to edit (a link\'s target); the sites\' own output and log lines are not in it', async (t) => {
  const loud = [
    'console.log("LOUD stdout at import");',
    'console.error("LOUD stderr at import");',
    'export function createHandler(site) {',
    '  site.logger.error("LOUD site log line");',
    '  process.stdout.write("LOUD raw write\\n");',
    '  return (req, res) => res.end("loud");',
    '}',
  ].join('\n');
  const dir = tree(t, {
    'sites/loud.mjs': loud,
    'sites-available/loud.ini': '[site]\ndomains = loud.test\nhandler = ../sites/loud.mjs\n',
    'sites-enabled/loud.ini': { link: '../sites-available/loud.ini' },
    'sites-available/notes.ini': '[site]\ndomains = notes.test\nhandler = ../sites/notes.mjs\n',
    'sites-enabled/notes.ini': { link: '../sites-available/notes.ini' },
  });
  const [text, json] = await Promise.all([hostmux(['check', '-c', dir]), hostmux(['check', '-c', dir, '--json'])]);
  assert.equal(text.code, 1);
  assert.doesNotMatch(text.stdout + text.stderr, /LOUD/, 'a site\'s output is not check\'s');
  assert.doesNotMatch(text.stderr, /^\s+at /m, 'no stack of hostmux\'s own code');
  assert.doesNotMatch(text.stderr, /ERROR|site\.notes/, 'no log record');
  assert.equal(text.stderr, [
    'hostmux: 1 site failed to load:',
    `  notes (sites-available/notes.ini): cannot import ${join(realpathSync(dir), 'sites', 'notes.mjs')}: no such file`,
    '',
  ].join('\n'));
  assert.match(text.stdout, /^loud\.test +loud +module +sites-available\/loud\.ini$/m);
  // --json: clean JSON on stdout whatever the sites print; the files as hostmux read them.
  assert.equal(json.code, 1);
  assert.doesNotMatch(json.stdout + json.stderr, /LOUD/);
  const report = JSON.parse(json.stdout) as { failedSites: { site: string; file: string }[] };
  assert.deepEqual(report.failedSites.map(({ site, file }) => ({ site, file })), [{ site: 'notes', file: 'sites-enabled/notes.ini' }]);

  // A configuration problem in a linked site file names the file the link points to, with its line.
  writeFileSync(join(dir, 'sites-available', 'loud.ini'), '[site]\ndomains = loud.test\nhandler = ../sites/loud.mjs\ncolour = blue\n');
  const problem = await hostmux(['check', '-c', dir]);
  assert.equal(problem.code, 1);
  assert.match(problem.stderr, /^ {2}sites-available\/loud\.ini:4 \[site\] colour: unknown key/m);
  assert.doesNotMatch(problem.stderr, /sites-enabled\/loud\.ini/);
});

test('check: what a failing module threw, and a file name, reach the terminal with control characters escaped', async (t) => {
  const dir = tree(t, {
    'sites/hostile.mjs': 'throw new Error("boom\\x1b[2J\\nhostmux: the configuration is ok");\n',
    'sites-enabled/hostile.ini': '[site]\ndomains = hostile.test\nhandler = ../sites/hostile.mjs\n',
  });
  const loaded = await hostmux(['check', '-c', dir]);
  assert.equal(loaded.code, 1);
  const lines = loaded.stderr.split('\n').filter((line) => !line.startsWith(' '.repeat(4)) && !/^\d{4}-/.test(line));
  assert.ok(lines.includes('  hostile (sites-enabled/hostile.ini): ' +
    `cannot import ${join(realpathSync(dir), 'sites/hostile.mjs')}: boom\\x1b[2J\\x0ahostmux: the configuration is ok`), loaded.stderr);
  assert.ok(!loaded.stderr.includes('\x1b'), 'no raw ESC');
  assert.doesNotMatch(loaded.stderr, /^hostmux: the configuration is ok/m);

  const named = tree(t, { 'sites-enabled/e\x1b[31mvil.ini': '[site]\ndomains = evil.test\nhandler = ../sites/app.mjs\n' });
  const problem = await hostmux(['check', '-c', named]);
  assert.equal(problem.code, 1);
  assert.match(problem.stderr, /^ {2}sites-enabled\/e\\x1b\[31mvil\.ini \[site\]: site name "e\\x1b\[31mvil" may only/m);
  assert.ok(!problem.stderr.includes('\x1b'), 'no raw ESC');
});

test('list: every available site, enabled or not, with its domains; problems exit 1', async (t) => {
  const dir = tree(t);
  const clean = await hostmux(['list', '-c', dir]);
  assert.equal(clean.code, 0, clean.stderr);
  assert.deepEqual(clean.stdout.trimEnd().split('\n').map((line) => line.split(/ {2,}/)), [
    ['NAME', 'STATUS', 'HTTPS', 'DOMAINS'],
    ['alpha', 'enabled', '-', 'alpha.test, *.alpha.test'],
    ['beta', 'disabled', '-', 'beta.test'],
    ['gamma', 'disabled', '-', 'gamma.test'],
  ]);

  writeTree(dir, {
    'sites-enabled/beta.ini': '[site]\nname = beta2\ndomains = copy.test\nhandler = ../sites/app.mjs\n',
    'sites-enabled/delta.ini': '[site]\ndomains = delta.test\nredirect = https://example.com\n',
    'sites-enabled/gone.ini': { link: '../sites-available/gone.ini' },
    'sites-available/zeta.ini': '[site]\ndomains = zeta.test\n',
  });
  const messy = await hostmux(['list', '-c', dir]);
  assert.equal(messy.code, 1);
  const rows = messy.stdout.trimEnd().split('\n').map((line) => line.split(/ {2,}/));
  assert.deepEqual(rows, [
    ['NAME', 'STATUS', 'HTTPS', 'DOMAINS'],
    ['alpha', 'enabled', '-', 'alpha.test, *.alpha.test'],
    ['beta (site beta2)', 'enabled (copy)', '-', 'copy.test'],
    ['delta', 'enabled (only in sites-enabled)', '-', 'delta.test'],
    ['gamma', 'disabled', '-', 'gamma.test'],
    ['gone', 'broken link', '-', '-'],
    ['zeta', 'disabled', '-', '-'],
  ]);
  assert.match(messy.stderr, /^ {2}sites-enabled\/gone\.ini: dangling symlink/m);
  assert.match(messy.stderr, /^ {2}sites-available\/zeta\.ini \[site\]: needs one of handler, proxy, redirect or root/m);

  const json = await hostmux(['list', '-c', dir, '--json']);
  const report = JSON.parse(json.stdout) as { ok: boolean; sites: { name: string; site: string; enabled: boolean; file: string }[] };
  assert.equal(report.ok, false);
  assert.deepEqual(report.sites.find((site) => site.name === 'beta'), {
    ...report.sites.find((site) => site.name === 'beta'),
    site: 'beta2',
    enabled: true,
    file: 'sites-enabled/beta.ini',
  });
});

test('match: the site, pattern, wildcards and file that would answer; exit 1 when none would', async (t) => {
  const dir = tree(t, { 'sites-enabled/beta.ini': { link: '../sites-available/beta.ini' } });
  const withDefault = tree(t, { 'hostmux.conf': '[server]\ndefault_site = alpha\n' });
  const [pattern, exact, json, fallback, none, invalid, broken] = await Promise.all([
    hostmux(['match', '-c', dir, 'Blog.Alpha.Test:8080']),
    hostmux(['match', '-c', dir, 'beta.test']),
    hostmux(['match', '-c', dir, 'x.alpha.test', '--json']),
    hostmux(['match', '-c', withDefault, 'nowhere.test']),
    hostmux(['match', '-c', dir, 'nowhere.test']),
    hostmux(['match', '-c', dir, 'a..test']),
    hostmux(['match', '-c', join(dir, 'missing'), 'alpha.test']),
  ]);
  assert.equal(pattern.code, 0, pattern.stderr);
  assert.deepEqual(pattern.stdout.trimEnd().split('\n').map((line) => line.split(/ +/)), [
    ['host:', 'blog.alpha.test'],
    ['site:', 'alpha'],
    ['pattern:', '*.alpha.test'],
    ['wildcards:', '"blog"'],
    ['file:', 'sites-enabled/alpha.ini'],
  ]);
  assert.equal(exact.code, 0);
  assert.match(exact.stdout, /^pattern: +beta\.test$/m);
  assert.doesNotMatch(exact.stdout, /wildcards/);
  assert.deepEqual(JSON.parse(json.stdout), {
    host: 'x.alpha.test', site: 'alpha', pattern: '*.alpha.test', wildcards: ['x'], file: 'sites-enabled/alpha.ini',
  });
  assert.equal(fallback.code, 0);
  assert.match(fallback.stdout, /^pattern: +\(default_site\)$/m);
  assert.equal(none.code, 1);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /no site claims nowhere\.test and there is no default_site/);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /"a\.\.test" is not a valid host name/);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /configuration problem/);
});

test('enable / disable: relative links, idempotent, plain files untouched, unknown names exit 1', async (t) => {
  const dir = tree(t, { 'sites-enabled/gamma.ini': '[site]\ndomains = gamma.test\nhandler = ../sites/app.mjs\n' });
  const link = join(dir, 'sites-enabled', 'beta.ini');

  const enabled = await hostmux(['enable', '-c', dir, 'beta.ini']);
  assert.equal(enabled.code, 0, enabled.stderr);
  assert.match(enabled.stdout, /^Site beta enabled\.$/m);
  assert.match(enabled.stdout, /To activate the new configuration.*\n.*kill -HUP/);
  assert.equal(readlinkSync(link), '../sites-available/beta.ini');

  const again = await hostmux(['enable', '-c', dir, 'beta', 'alpha']);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /^Site beta already enabled$/m);
  assert.match(again.stdout, /^Site alpha already enabled$/m);
  assert.doesNotMatch(again.stdout, /To activate/, 'nothing changed, nothing to reload');

  // Unknown names and a plain file are reported; the rest is still done.
  const mixed = await hostmux(['enable', '-c', dir, 'nosuch', 'gamma', '../etc', 'zz.ini']);
  assert.equal(mixed.code, 1);
  assert.match(mixed.stderr, /site nosuch does not exist/);
  assert.match(mixed.stderr, /site zz does not exist/);
  assert.match(mixed.stderr, /"\.\.\/etc" is not a site name/);
  assert.match(mixed.stderr, /sites-enabled\/gamma\.ini is a file, not a link: not touching it/);
  assert.ok(lstatSync(join(dir, 'sites-enabled', 'gamma.ini')).isFile(), 'the plain file is not replaced');

  const disabled = await hostmux(['disable', '-c', dir, 'beta', 'nosuch', 'gamma', 'alpha.ini']);
  assert.equal(disabled.code, 1);
  assert.match(disabled.stdout, /^Site beta disabled\.$/m);
  assert.match(disabled.stdout, /^Site alpha disabled\.$/m);
  assert.match(disabled.stderr, /site nosuch does not exist/);
  assert.match(disabled.stderr, /sites-enabled\/gamma\.ini is a file, not a link: not touching it/);
  assert.ok(!existsSync(link));
  assert.ok(existsSync(join(dir, 'sites-available', 'beta.ini')), 'disable removes only the link');
  assert.ok(existsSync(join(dir, 'sites-enabled', 'gamma.ini')), 'the plain file is not deleted');

  const twice = await hostmux(['disable', '-c', dir, 'beta']);
  assert.equal(twice.code, 0);
  assert.match(twice.stdout, /^Site beta already disabled$/m);

  // A link to some other file is not ours to replace.
  writeTree(dir, { 'sites-enabled/beta.ini': { link: '../sites-available/alpha.ini' } });
  const foreign = await hostmux(['enable', '-c', dir, 'beta']);
  assert.equal(foreign.code, 1);
  assert.match(foreign.stderr, /links to \.\.\/sites-available\/alpha\.ini, not to \.\.\/sites-available\/beta\.ini/);
  assert.equal(readlinkSync(link), '../sites-available/alpha.ini');
});

test('enable --reload --pidfile: a stale or missing pid file is reported, exit 1, the change is kept', async (t) => {
  const dir = tree(t);
  const stale = join(dir, 'stale.pid');
  // A pid no process has: the kernel's pid_max is below 2^22 by default.
  writeFileSync(stale, '4194304\n');
  const result = await hostmux(['enable', '-c', dir, 'beta', '--reload', '--pidfile', stale]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /^Site beta enabled\.$/m);
  assert.match(result.stderr, /the pid file .*stale\.pid is stale: no process 4194304 is running/);
  assert.ok(lstatSync(join(dir, 'sites-enabled', 'beta.ini')).isSymbolicLink());
  const missing = await hostmux(['disable', '-c', dir, 'beta', '--reload', '--pidfile', join(dir, 'none.pid')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read the pid file/);
});

test('serve: a configuration error at start prints every problem and exits 1', async (t) => {
  const dir = tree(t, { 'sites-enabled/bad.ini': '[site]\ndomains = bad.test\nhandler = ../sites/app.mjs\ncolour = blue\n' });
  const [single, cluster] = await Promise.all([
    hostmux(['serve', '-c', dir, '--port', '0', '--workers', '1']),
    hostmux(['serve', '-c', dir, '--port', '0', '--workers', '2']),
  ]);
  for (const result of [single, cluster]) {
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ {2}sites-enabled\/bad\.ini:4 \[site\] colour: unknown key/m);
    assert.doesNotMatch(result.stderr, /listening/);
  }
});

test('serve: a port in use is reported and exits 1, with and without workers', async (t) => {
  const dir = tree(t);
  const busy = await listen((_req, res) => res.end());
  t.after(() => busy.close());
  const [single, cluster] = await Promise.all([
    hostmux(['serve', '-c', dir, '--port', String(busy.port), '--workers', '1']),
    hostmux(['serve', '-c', dir, '--port', String(busy.port), '--workers', '2']),
  ]);
  for (const result of [single, cluster]) {
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /cannot listen on 127\.0\.0\.1 port \d+: .*EADDRINUSE/);
  }
});

test('serve --host: listens on that address only; one SIGINT drains a slow request and exits 0', async (t) => {
  const dir = tree(t);
  const started = start(t, ['-c', dir, '--workers', '1', '--host', '127.0.0.2']);
  const port = Number((await started.waitFor(/listening on http:\/\/127\.0\.0\.2:(\d+)/))[1]);
  // Not on 127.0.0.1: the address given is the one listened on.
  await assert.rejects(new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket.destroy()));
    socket.on('error', reject);
  }), /ECONNREFUSED/);
  const body = new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.2', port, path: '/slow?ms=500', headers: { host: 'alpha.test' }, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        // One SIGINT, once the request is in flight (a second would cut it off).
        if (text === '') started.child.kill('SIGINT');
        text += chunk;
      });
      res.on('end', () => resolve(text));
      res.on('error', reject);
    }).on('error', reject);
  });
  assert.equal(await body, 'started\nfinished\n');
  assert.equal(await started.exited, 0);
});

test('serve --in-process: the serve process itself answers; --watch picks up an enabled site; --drain cuts a slower request, exit 1', async (t) => {
  const dir = tree(t);
  const pidfile = join(dir, 'hostmux.pid');
  const server = await serve(t, ['-c', dir, '--in-process', '--watch', '--drain', '0.5', '--pidfile', pidfile]);
  assert.equal(readFileSync(pidfile, 'utf8').trim(), String(server.child.pid));
  assert.equal(await pidFor(server.port, 'alpha.test'), server.child.pid, 'the serve process itself answers');
  assert.equal((await request(server.port, { host: 'beta.test' })).status, 404);

  // No SIGHUP: the watcher sees the new link.
  const mark = server.log().length;
  assert.equal((await hostmux(['enable', '-c', dir, 'beta'])).code, 0);
  await server.waitFor(/configuration reloaded: added beta; 1 kept/, mark);
  assert.equal(await pidFor(server.port, 'beta.test'), server.child.pid);

  const slow = slowRequest(server.port, 'alpha.test', 5_000);
  await slow.started;
  server.child.kill('SIGTERM');
  await assert.rejects(slow.body, 'the drain bound cuts the request off');
  assert.equal(await server.exited, 1);
  assert.match(server.log(), /cut off 1 request still in flight/);
  assert.ok(!existsSync(pidfile), 'the pid file is removed on exit');
});

test('serve --workers 2: workers answer, SIGHUP reloads all, a bad reload keeps serving, a dead worker is replaced, SIGTERM drains', async (t) => {
  const dir = tree(t);
  const pidfile = join(dir, 'hostmux.pid');
  const server = await serve(t, ['-c', dir, '--workers', '2', '--pidfile', pidfile]);
  const primary = server.child.pid!;
  assert.equal(readFileSync(pidfile, 'utf8').trim(), String(primary), 'the pid file holds the primary');

  // Round-robin over fresh connections reaches both workers, never the primary.
  const pids = new Set<number>();
  for (let i = 0; i < 12 && pids.size < 2; i++) pids.add(await pidFor(server.port, 'alpha.test', 'at start'));
  assert.equal(pids.size, 2, 'two workers answered');
  assert.ok(!pids.has(primary));

  // enable --reload sends SIGHUP to the primary, which starts two new workers on the new tree and logs once.
  assert.equal((await request(server.port, { host: 'beta.test' })).status, 404);
  let mark = server.log().length;
  const enabled = await hostmux(['enable', '-c', dir, 'beta', '--reload', '--pidfile', pidfile]);
  assert.equal(enabled.code, 0, enabled.stderr);
  assert.match(enabled.stdout, new RegExp(`sent SIGHUP to process ${primary}`));
  await server.waitFor(/configuration reloaded: added beta; 1 kept; 2 new workers serve it/, mark);
  const betaPids = new Set<number>();
  for (let i = 0; i < 12 && betaPids.size < 2; i++) betaPids.add(await pidFor(server.port, 'beta.test', 'after the first rolling reload'));
  assert.equal(betaPids.size, 2, 'both new workers serve the new site');
  assert.deepEqual([...betaPids].filter((pid) => pids.has(pid)), [], 'the old workers no longer take requests');

  // Reloads while keep-alive clients keep asking: not one request is dropped.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  t.after(() => agent.destroy());
  let hammering = true;
  const statuses: number[] = [];
  const errors: string[] = [];
  const hammer = Promise.all([0, 1, 2, 3].map(async () => {
    while (hammering) {
      try {
        statuses.push(await statusThrough(agent, server.port, 'beta.test'));
      } catch (error) {
        errors.push(`during the reloads: ${(error as Error).message}`);
      }
    }
  }));
  for (let i = 0; i < 2; i++) {
    mark = server.log().length;
    server.child.kill('SIGHUP');
    await server.waitFor(/configuration reloaded: 2 kept; 2 new workers serve it/, mark);
  }
  hammering = false;
  await hammer;
  assert.deepEqual(errors, []);
  assert.ok(statuses.length > 0);
  assert.deepEqual(statuses.filter((status) => status !== 200), []);

  // A broken tree on SIGHUP: reported once, the old configuration keeps serving.
  writeTree(dir, { 'sites-enabled/broken.ini': '[site]\ndomains = beta.test\n' });
  mark = server.log().length;
  server.child.kill('SIGHUP');
  await server.waitFor(/ERROR root: reload failed, the previous configuration keeps serving: 1 configuration problem: sites-enabled\/broken\.ini \[site\]: /, mark);
  await pidFor(server.port, 'beta.test');
  assert.equal(server.log().slice(mark).match(/reload failed/g)?.length, 1, 'one report, not one per worker');
  rmSync(join(dir, 'sites-enabled', 'broken.ini'));

  // A worker killed outright is replaced, on the same port.
  const victim = await pidFor(server.port, 'alpha.test', 'before the kill');
  mark = server.log().length;
  process.kill(victim, 'SIGKILL');
  await server.waitFor(new RegExp(`worker ${victim} exited with signal SIGKILL; starting another`), mark);
  const replacement = Number((await server.waitFor(new RegExp(`worker (\\d+) is serving, replacing worker ${victim}`), mark))[1]);
  const after = new Set<number>();
  for (let i = 0; i < 12 && after.size < 2; i++) after.add(await pidFor(server.port, 'alpha.test', 'after the kill'));
  assert.equal(after.size, 2, 'the replacement answers too');
  assert.ok(after.has(replacement) && !after.has(victim));

  // SIGTERM: a request in flight finishes, then everything exits 0 and the pid file is gone.
  const slow = slowRequest(server.port, 'alpha.test', 1_000);
  await slow.started;
  server.child.kill('SIGTERM');
  assert.equal(await slow.body, 'started\nfinished\n');
  assert.equal(await server.exited, 0);
  assert.ok(!existsSync(pidfile));
});

test('serve --workers 2: a worker that served for a while is replaced at once; one that dies young waits', { timeout: 60_000 }, async (t) => {
  const server = await serve(t, ['--config', tree(t), '--workers', '2']);
  const victim = await pidFor(server.port, 'alpha.test', 'before the kill');
  // Served for at least a second (a busy machine only makes it longer): a crash at run time, not at start.
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  let mark = server.log().length;
  process.kill(victim, 'SIGKILL');
  await server.waitFor(new RegExp(`worker ${victim} exited with signal SIGKILL; starting another in 0 s`), mark);
  const replacement = Number((await server.waitFor(new RegExp(`worker (\\d+) is serving, replacing worker ${victim}`), mark))[1]);
  // Killed as soon as it serves: what a crash loop looks like, so its replacement is delayed.
  mark = server.log().length;
  process.kill(replacement, 'SIGKILL');
  await server.waitFor(new RegExp(`worker ${replacement} exited with signal SIGKILL; starting another in 0\\.1 s`), mark);
});

test('serve --workers 2: SIGHUP with a bad tree still makes every worker reopen its log files (logrotate)', async (t) => {
  const dir = tree(t, {
    'hostmux.conf': '[server]\nlogging = logging.ini\n',
    'logging.ini': '[logger:access]\nhandlers = access\npropagate = no\n[handler:access]\ndestination = access.log\nformat = combined\n',
  });
  const server = await serve(t, ['-c', dir, '--workers', '2']);
  const access = join(dir, 'access.log');
  const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : []);
  const until = async (what: string, ok: () => boolean) => {
    for (const deadline = Date.now() + 20_000; !ok() && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 25));
    assert.ok(ok(), what);
  };
  // Fresh connections go round-robin: both workers log.
  for (let i = 0; i < 6; i++) await pidFor(server.port, 'alpha.test');
  await until('six access lines', () => lines(access).length === 6);
  renameSync(access, `${access}.1`);
  writeTree(dir, { 'sites-enabled/broken.ini': '[site]\ndomains = alpha.test\n' });
  const mark = server.log().length;
  server.child.kill('SIGHUP');
  await server.waitFor(/reload failed, the previous configuration keeps serving/, mark);
  // The workers' own (quiet) reloads reopen their files; the primary logs nothing when they are done.
  // Reloads run one at a time, so a second refused SIGHUP's report means the first one's workers answered.
  const second = server.log().length;
  server.child.kill('SIGHUP');
  await server.waitFor(/reload failed, the previous configuration keeps serving/, second);
  for (let i = 0; i < 6; i++) await pidFor(server.port, 'alpha.test');
  await until('six lines in the new access.log', () => lines(access).length === 6);
  assert.equal(lines(`${access}.1`).length, 6, 'nothing more went to the rotated file');
});

test('serve --workers 2 --watch --drain: the primary reloads on a change; a request slower than the bound is cut off, exit 1', async (t) => {
  const dir = tree(t);
  const server = await serve(t, ['-c', dir, '--workers', '2', '--watch', '--drain', '0.5']);
  assert.equal((await hostmux(['enable', '-c', dir, 'beta'])).code, 0);
  await server.waitFor(/configuration reloaded: added beta; 1 kept; 2 new workers serve it/);
  await pidFor(server.port, 'beta.test');

  const slow = slowRequest(server.port, 'alpha.test', 5_000);
  await slow.started;
  server.child.kill('SIGTERM');
  await assert.rejects(slow.body);
  assert.equal(await server.exited, 1);
  assert.match(server.log(), /the drain bound cut requests off/);
});

test('serve: a second SIGINT cuts in-flight requests off at once', async (t) => {
  const dir = tree(t);
  const server = await serve(t, ['-c', dir, '--workers', '1']);
  const slow = slowRequest(server.port, 'alpha.test', 20_000);
  await slow.started;
  server.child.kill('SIGINT');
  await server.waitFor(/SIGINT: stopping/);
  server.child.kill('SIGINT');
  await assert.rejects(slow.body);
  assert.equal(await server.exited, 1);
});

/**
 * Resolves once process `pid` handles SIGHUP (Linux: the SigCgt mask of
 * /proc/PID/status). serve installs its signal handlers just before it forks
 * the workers, so this is the moment they are starting.
 */
async function handlesSighup(pid: number): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    if (mask !== undefined && (parseInt(mask.slice(-1), 16) & 1) === 1) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`process ${pid} never handled SIGHUP`);
}

/** Serves upgrades with a line echo; close() says "bye" and ends each connection, except those to /stubborn. */
const ECHO = `
const sockets = new Set();
export function createHandler() {
  const listener = (req, res) => res.end('page\\n');
  listener.upgrade = (req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\\r\\nConnection: Upgrade\\r\\nUpgrade: echo\\r\\n\\r\\n');
    socket.on('data', (data) => socket.write(data));
    if (req.url === '/stubborn') return;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  listener.close = () => {
    for (const socket of sockets) socket.end('bye\\n');
  };
  return listener;
}
`;

/** An upgraded connection: `rest` resolves, once it closes, with all the server sent after the echo of its first line. */
async function openUpgrade(t: TestContext, port: number, host: string, path: string): Promise<{ rest: Promise<string> }> {
  const socket = net.connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => {});
  const opened = '\r\n\r\nhi\n';
  const rest = once(socket, 'close').then(() => received.slice(received.indexOf(opened) + opened.length));
  const until = async (done: () => boolean) => {
    while (!done()) await Promise.race([once(socket, 'data'), rest.then(() => assert.fail(`closed before it was open: ${received}`))]);
  };
  await until(() => received.includes('\r\n\r\n'));
  assert.match(received, /^HTTP\/1\.1 101 /);
  // Open once the echo of a line comes back (bytes sent with the request would be the site's `head`).
  socket.write('hi\n');
  await until(() => received.endsWith(opened));
  return { rest };
}

test('serve: an upgrade during the drain gets 503, and a client resetting it cannot crash the server', { timeout: 30_000 }, async (t) => {
  const dir = tree(t);
  // In process: the primary's "stopping" would otherwise come before its worker's drain.
  const server = await serve(t, ['-c', dir, '--in-process', '--drain', '10']);
  const socket = net.connect(server.port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  socket.write('GET /slow?ms=3000 HTTP/1.1\r\nHost: alpha.test\r\n\r\n');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk));
  while (!received.includes('started')) await once(socket, 'data');
  server.child.kill('SIGTERM');
  await server.waitFor(/SIGTERM: stopping/);
  // Pipelined behind the request in flight, so it reaches the draining server.
  const before = received.length;
  socket.write('GET /chat HTTP/1.1\r\nHost: alpha.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  const closed = once(socket, 'close');
  while (received.length === before) await Promise.race([once(socket, 'data'), closed]);
  assert.match(received.slice(before), /^HTTP\/1\.1 503 /);
  socket.resetAndDestroy();
  assert.equal(await server.exited, 0, server.log());
  assert.doesNotMatch(server.log(), /ECONNRESET|Unhandled/);
});

test('serve --workers 2: SIGTERM while the workers are still starting stops them at once, exit 0', { timeout: 30_000 }, async (t) => {
  const dir = tree(t);
  const server = start(t, ['-c', dir, '--workers', '2', '--drain', '2']);
  await handlesSighup(server.child.pid!);
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0, server.log());
  assert.match(server.log(), /SIGTERM: stopping 2 workers/);
  assert.doesNotMatch(server.log(), /listening on/);
});

test('serve --workers 2: a SIGHUP while the workers are still starting reaches them, and does not hold up the next', { timeout: 30_000 }, async (t) => {
  const dir = tree(t);
  const server = start(t, ['-c', dir, '--workers', '2']);
  await handlesSighup(server.child.pid!);
  server.child.kill('SIGHUP');
  await server.waitFor(/listening on/);
  await server.waitFor(/configuration reloaded: 1 kept; 2 new workers serve it/);
  const mark = server.log().length;
  assert.equal((await hostmux(['enable', '-c', dir, 'beta'])).code, 0);
  server.child.kill('SIGHUP');
  await server.waitFor(/configuration reloaded: added beta; 1 kept; 2 new workers serve it/, mark);
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0, server.log());
});

test('serve: on SIGTERM, sites close() once requests are done, so WebSockets end within the drain, exit 0', { timeout: 30_000 }, async (t) => {
  const dir = tree(t, {
    'sites/echo.mjs': ECHO,
    'sites-enabled/echo.ini': '[site]\ndomains = echo.test\nhandler = ../sites/echo.mjs\n',
  });
  await Promise.all(['1', '2'].map(async (workers) => {
    const server = await serve(t, ['-c', dir, '--workers', workers, '--drain', '10']);
    const connection = await openUpgrade(t, server.port, 'echo.test', '/');
    server.child.kill('SIGTERM');
    assert.equal(await connection.rest, 'bye\n', `--workers ${workers}: close() said goodbye`);
    assert.equal(await server.exited, 0, server.log());
    assert.doesNotMatch(server.log(), /cut off/);
  }));
});

test('serve: an upgraded connection still open when the drain bound expires, after close(), is cut off, exit 1', { timeout: 30_000 }, async (t) => {
  const dir = tree(t, {
    'sites/echo.mjs': ECHO,
    'sites-enabled/echo.ini': '[site]\ndomains = echo.test\nhandler = ../sites/echo.mjs\n',
  });
  const server = await serve(t, ['-c', dir, '--workers', '1', '--drain', '0.5']);
  const polite = await openUpgrade(t, server.port, 'echo.test', '/');
  const stubborn = await openUpgrade(t, server.port, 'echo.test', '/stubborn');
  server.child.kill('SIGTERM');
  assert.equal(await polite.rest, 'bye\n');
  assert.equal(await stubborn.rest, '', 'cut off at the bound');
  assert.equal(await server.exited, 1);
  assert.match(server.log(), /cut off 1 upgraded connection still open/);
});

test('serve: an upgraded connection the sites leave open is cut off by app.close() within the drain, exit 1', { timeout: 30_000 }, async (t) => {
  const dir = tree(t, {
    'sites/echo.mjs': ECHO,
    'sites-enabled/echo.ini': '[site]\ndomains = echo.test\nhandler = ../sites/echo.mjs\n',
  });
  // A drain longer than the application's own 5 s grace for upgraded connections.
  const server = await serve(t, ['-c', dir, '--workers', '1', '--drain', '20']);
  const stubborn = await openUpgrade(t, server.port, 'echo.test', '/stubborn');
  server.child.kill('SIGTERM');
  assert.equal(await stubborn.rest, '', 'cut off');
  assert.equal(await server.exited, 1);
  assert.match(server.log(), /cut off 1 upgraded connection still open after 5 s/);
  assert.match(server.log(), /cut off 1 upgraded connection still open\b(?! after)/);
});

test('check: a site module that never finishes loading fails at --timeout, exit 1', { timeout: 30_000 }, async (t) => {
  const dir = tree(t, {
    'sites/hangs.mjs': 'export function createHandler() {\n  return new Promise(() => {});\n}\n',
    'sites-enabled/hangs.ini': '[site]\ndomains = hangs.test\nhandler = ../sites/hangs.mjs\n',
  });
  const [text, json] = await Promise.all([
    hostmux(['check', '-c', dir, '--timeout', '0.2']),
    hostmux(['check', '-c', dir, '--timeout', '0.2', '--json']),
  ]);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /^hangs\.test +hangs +module/m, 'the table is still printed');
  assert.match(text.stderr, /site modules did not finish loading within 0\.2 s/);
  assert.doesNotMatch(text.stdout, /is ok/);
  assert.equal(json.code, 1);
  const report = JSON.parse(json.stdout) as { ok: boolean; loadTimedOut: boolean };
  assert.equal(report.ok, false);
  assert.equal(report.loadTimedOut, true);
});

test('check: a site whose load_timeout passes is reported as a failed site, naming the timeout, exit 1', { timeout: 30_000 }, async (t) => {
  const dir = tree(t, {
    'sites/hangs.mjs': 'export function createHandler() {\n  return new Promise(() => {});\n}\n',
    'sites-enabled/hangs.ini': '[site]\ndomains = hangs.test\nhandler = ../sites/hangs.mjs\nload_timeout = 0.2\n',
  });
  const result = await hostmux(['check', '-c', dir]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^ {2}hangs \(sites-enabled\/hangs\.ini\): .*hangs\.mjs did not finish loading within 0\.2 s \(load_timeout\)$/m);
  assert.doesNotMatch(result.stderr, /did not finish loading within 30 s/, 'not the --timeout bound');
});

test('a command whose promise can no longer settle exits 1 with a message, not 0 with nothing said', { timeout: 30_000 }, async (t) => {
  const dir = tree(t, {
    'sites/hangs.mjs': 'export function createHandler() {\n  return new Promise(() => {});\n}\n',
    'sites-enabled/hangs.ini': '[site]\ndomains = hangs.test\nhandler = ../sites/hangs.mjs\n',
    // Timers that do not keep the process alive: check's own bound no longer holds it, so the event loop empties.
    'unref-timers.mjs': 'const { setTimeout } = globalThis;\nglobalThis.setTimeout = (...args) => setTimeout(...args).unref();\n',
  });
  const child = spawn(process.execPath, ['--import', pathToFileURL(join(dir, 'unref-timers.mjs')).href, CLI, 'check', '-c', dir], {
    env: childEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 1);
  assert.match(stderr, /hostmux: check stopped before it finished: nothing was left to wait for/);
});

test("serve's server: every response shares one 'close' listener, with no wrapper or closure per request", async (t) => {
  const { createServer } = await import('../src/cli/serve/http-server.ts');
  const seen: ReturnType<http.ServerResponse['rawListeners']>[] = [];
  const app = Object.assign((_req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push(res.rawListeners('close'));
    res.end();
  }, { upgrade: () => {} });
  const served = createServer(app as unknown as Parameters<typeof createServer>[0]);
  const { port } = await served.listen(0, '127.0.0.1');
  t.after(() => served.server.close());
  await request(port, { headers: { connection: 'close' } });
  await request(port, { headers: { connection: 'close' } });
  assert.equal(seen.length, 2);
  assert.equal(seen[0]!.length, 1);
  assert.equal(seen[1]!.length, 1);
  assert.equal(seen[0]![0], seen[1]![0], 'one function for every response');
  assert.ok(!('listener' in seen[0]![0]!), "not once()'s wrapper");
});

test('serve --workers 2: SIGHUP with a FIFO named like a site file is refused without reading it; every worker keeps answering', async (t) => {
  const dir = tree(t);
  const server = await serve(t, ['-c', dir, '--workers', '2']);
  const fifo = join(dir, 'sites-enabled', 'zz-pipe.ini');
  execFileSync('mkfifo', [fifo]);
  let mark = server.log().length;
  server.child.kill('SIGHUP');
  await server.waitFor(/reload failed, the previous configuration keeps serving: .*sites-enabled\/zz-pipe\.ini: is a FIFO, not a file/, mark);
  // Fresh connections reach both workers: neither is held by the FIFO.
  const pids = new Set<number>();
  for (let i = 0; i < 12 && pids.size < 2; i++) pids.add(await pidFor(server.port, 'alpha.test'));
  assert.equal(pids.size, 2, 'both workers answer');
  // The reloads are not stuck either: once the FIFO is gone, the next one goes through.
  rmSync(fifo);
  mark = server.log().length;
  server.child.kill('SIGHUP');
  await server.waitFor(/configuration reloaded: 1 kept; 2 new workers serve it/, mark);
});

/** A config tree at `dir` whose enabled sites are `names`, each claiming NAME.test, all sharing one module. */
function siteTree(dir: string, names: readonly string[]): string {
  const files: Record<string, string | { link: string }> = { 'sites/app.mjs': APP };
  for (const name of names) {
    files[`sites-available/${name}.ini`] = `[site]\ndomains = ${name}.test\nhandler = ../sites/app.mjs\n`;
    files[`sites-enabled/${name}.ini`] = { link: `../sites-available/${name}.ini` };
  }
  return writeTree(dir, files);
}

/** The inodes process `pid` watches (Linux: its inotify descriptors' fdinfo). */
function watchedInodes(pid: number): Set<number> {
  const inodes = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== 'anon_inode:inotify') continue;
    for (const [, ino] of readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').matchAll(/\bino:([0-9a-f]+)/g)) inodes.add(parseInt(ino!, 16));
  }
  return inodes;
}

/** Resolves once `ok()` holds; a bound only against a hang. */
async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(ok(), what);
}

/** Which sites of `names` answer (200) through the server. */
async function answering(port: number, names: readonly string[]): Promise<string[]> {
  const statuses = await Promise.all(names.map((name) => request(port, { host: `${name}.test` }).then((r) => r.status)));
  return names.filter((_name, i) => statuses[i] === 200);
}

const ALL = ['alpha', 'beta', 'delta', 'omega'];

test('serve --watch follows --config through an mv swap and an rm -rf and restore; the old tree is no longer watched', async (t) => {
  const base = tempDir('hostmux-swap-');
  t.after(base.remove);
  const etc = siteTree(join(base.path, 'etc'), ['alpha']);
  const server = await serve(t, ['-c', etc, '--workers', '1', '--watch']);
  const pid = server.child.pid!;
  assert.deepEqual(await answering(server.port, ALL), ['alpha']);

  // The usual deploy swap: the new tree is built beside the old one, then renamed into place.
  siteTree(join(base.path, 'etc.new'), ['alpha', 'beta']);
  let mark = server.log().length;
  renameSync(etc, join(base.path, 'etc.old'));
  renameSync(join(base.path, 'etc.new'), etc);
  await server.waitFor(/configuration reloaded: added beta; 1 kept/, mark);
  assert.deepEqual(await answering(server.port, ALL), ['alpha', 'beta']);
  const old = statSync(join(base.path, 'etc.old', 'sites-enabled')).ino;
  await until('the old tree is no longer watched', () => !watchedInodes(pid).has(old));
  assert.ok(watchedInodes(pid).has(statSync(join(etc, 'sites-enabled')).ino), 'the new tree is');

  // Removed, then restored from elsewhere.
  siteTree(join(base.path, 'backup'), ['alpha', 'delta']);
  mark = server.log().length;
  rmSync(etc, { recursive: true });
  renameSync(join(base.path, 'backup'), etc);
  // The same path: alpha is kept.
  await server.waitFor(/configuration reloaded: added delta; removed beta; 1 kept/, mark);
  assert.deepEqual(await answering(server.port, ALL), ['alpha', 'delta']);
});

test('serve --watch follows a symlinked --config flipped with ln -sfn and mv -T, and with a SIGHUP at the same time', async (t) => {
  const base = tempDir('hostmux-flip-');
  t.after(base.remove);
  siteTree(join(base.path, 'releases', 'v1'), ['alpha']);
  siteTree(join(base.path, 'releases', 'v2'), ['alpha', 'beta']);
  siteTree(join(base.path, 'releases', 'v3'), ['alpha', 'delta']);
  siteTree(join(base.path, 'releases', 'v4'), ['omega']);
  const current = join(base.path, 'current');
  symlinkSync('releases/v1', current);
  const server = await serve(t, ['-c', current, '--workers', '1', '--watch']);
  const pid = server.child.pid!;
  const enabled = (release: string) => statSync(join(base.path, 'releases', release, 'sites-enabled')).ino;

  let mark = server.log().length;
  execFileSync('ln', ['-sfn', 'releases/v2', current]);
  // alpha's handler is now another file (v2's): a site not imported in the primary is kept only for the same path.
  await server.waitFor(/configuration reloaded: added beta; reloaded alpha; 0 kept/, mark);
  assert.deepEqual(await answering(server.port, ALL), ['alpha', 'beta']);
  await until('v1 is no longer watched', () => !watchedInodes(pid).has(enabled('v1')));

  mark = server.log().length;
  symlinkSync('releases/v3', join(base.path, 'current.tmp'));
  execFileSync('mv', ['-T', join(base.path, 'current.tmp'), current]);
  await server.waitFor(/configuration reloaded: added delta; removed beta; reloaded alpha; 0 kept/, mark);
  assert.deepEqual(await answering(server.port, ALL), ['alpha', 'delta']);
  await until('v2 is no longer watched', () => !watchedInodes(pid).has(enabled('v2')));

  // A flip and a SIGHUP at once: whichever reload comes first, the watch ends up on v4 alone.
  mark = server.log().length;
  execFileSync('ln', ['-sfn', 'releases/v4', current]);
  server.child.kill('SIGHUP');
  await server.waitFor(/configuration reloaded: added omega; removed alpha, delta; 0 kept/, mark);
  assert.deepEqual(await answering(server.port, ALL), ['omega']);
  await until('only v4 is watched', () => {
    const watched = watchedInodes(pid);
    return watched.has(enabled('v4')) && !watched.has(enabled('v3'));
  });
});

test("serve --watch follows a Kubernetes ConfigMap update: a new timestamped dir, renamed over '..data'", async (t) => {
  const base = tempDir('hostmux-configmap-');
  t.after(base.remove);
  const volume = join(base.path, 'config');
  // What the kubelet writes: the data in a timestamped dir, reached through `..data`.
  siteTree(join(volume, '..2026_12_01_10_00_00.1'), ['alpha']);
  symlinkSync('..2026_12_01_10_00_00.1', join(volume, '..data'));
  for (const name of ['sites', 'sites-available', 'sites-enabled']) symlinkSync(`..data/${name}`, join(volume, name));
  const server = await serve(t, ['-c', volume, '--workers', '1', '--watch']);
  const pid = server.child.pid!;
  assert.deepEqual(await answering(server.port, ALL), ['alpha']);

  // The update: a new timestamped dir, a `..data_tmp` link to it renamed over `..data`, the old dir removed.
  siteTree(join(volume, '..2026_12_01_10_05_00.2'), ['alpha', 'beta']);
  const oldEnabled = statSync(join(volume, '..2026_12_01_10_00_00.1', 'sites-enabled')).ino;
  const mark = server.log().length;
  symlinkSync('..2026_12_01_10_05_00.2', join(volume, '..data_tmp'));
  renameSync(join(volume, '..data_tmp'), join(volume, '..data'));
  // alpha's handler moved to the new timestamped dir, and the old one is removed below: it is not kept.
  await server.waitFor(/configuration reloaded: added beta; reloaded alpha; 0 kept/, mark);
  assert.deepEqual(await answering(server.port, ALL), ['alpha', 'beta']);
  await until('the old timestamped dir is no longer watched', () => !watchedInodes(pid).has(oldEnabled));
  rmSync(join(volume, '..2026_12_01_10_00_00.1'), { recursive: true });
});

test('init writes a tree that check accepts and serve serves; it refuses to overwrite anything, exit 1', { timeout: 60_000 }, async (t) => {
  const parent = tempDir('hostmux-cli-init-');
  t.after(parent.remove);
  const dir = join(parent.path, 'etc');
  const init = await hostmux(['init', dir]);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /hostmux --config \S+ check/);
  assert.match(init.stdout, /hostmux --config \S+ serve --port 8080/);
  assert.equal(readlinkSync(join(dir, 'sites-enabled', 'hello.ini')), '../sites-available/hello.ini');
  for (const file of ['hostmux.conf', 'logging.ini', 'sites-available/hello.ini', 'sites/hello/app.mjs']) assert.ok(statSync(join(dir, file)).isFile(), file);

  const check = await hostmux(['check', '-c', dir]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /^hello\.localhost +hello +module +sites-available\/hello\.ini$/m);
  assert.match(check.stdout, /is ok: 1 site loaded$/m);

  const server = await serve(t, ['-c', dir, '--workers', '1']);
  const reply = await request(server.port, { host: 'hello.localhost' });
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'Hello from hello\n');
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0);

  // Again into the same tree: every file is there, nothing is touched.
  const before = readFileSync(join(dir, 'hostmux.conf'), 'utf8');
  const again = await hostmux(['init', dir]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already has hostmux\.conf/);
  assert.equal(readFileSync(join(dir, 'hostmux.conf'), 'utf8'), before);

  // One file in the way: nothing else is written. The config dir is the default DIR.
  const other = join(parent.path, 'other');
  writeTree(other, { 'sites/hello/app.mjs': 'mine\n' });
  const blocked = await hostmux(['init', '-c', other]);
  assert.equal(blocked.code, 1);
  assert.match(blocked.stderr, /^hostmux: init writes nothing: .* already has sites\/hello\/app\.mjs$/m);
  assert.deepEqual(readdirSync(other), ['sites']);
  assert.equal(readFileSync(join(other, 'sites/hello/app.mjs'), 'utf8'), 'mine\n');
});
