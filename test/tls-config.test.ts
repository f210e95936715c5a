// Certificates as configuration: each problem a certificate can have (expired,
// not yet valid, names that do not cover the site, a key that is not its own
// or cannot be read, wildcards with tls = auto), the 14-day warning, and what
// `check` and `list` show of them. Certificates are made at run time.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ConfigError, createApplication, type ConfigProblem } from '../src/index.ts';
import { internalsOf } from '../src/internal.ts';
import { captureLogger, tempDir, writeTree } from './helpers.ts';
import { hostmux } from './serve-helpers.ts';
import { makeCertificate } from './tls-helpers.ts';

const silent = captureLogger();

function dirFor(t: TestContext): string {
  const dir = tempDir('hostmux-tls-config-');
  t.after(dir.remove);
  return dir.path;
}

function problemsOf(dir: string): ConfigProblem[] {
  try {
    createApplication(dir, { logger: silent });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return [...error.problems];
  }
  assert.fail('expected a ConfigError');
}

const site = (domains: string, extra = '') => `[site]\ndomains = ${domains}\nredirect = https://example.com\n${extra}`;

test('certificate problems: expired, not yet valid, names that do not cover, a key not its own, an unreadable key', async (t) => {
  const dir = dirFor(t);
  await makeCertificate(dir, 'expired', ['old.test'], { from: -30, to: -1 });
  await makeCertificate(dir, 'future', ['new.test'], { from: 2, to: 30 });
  await makeCertificate(dir, 'other', ['other.test']);
  await makeCertificate(dir, 'wild', ['*.wild.test']);
  await makeCertificate(dir, 'good', ['good.test']);
  writeFileSync(join(dir, 'garbage.key'), 'not a key\n');
  // A FIFO no process writes: reading it would wait for ever.
  execFileSync('mkfifo', [join(dir, 'fifo.crt')]);
  writeTree(dir, {
    'sites-enabled/fifo.ini': site('fifo.test', 'tls_cert = ../fifo.crt\ntls_key = ../good.key\n'),
    'sites-enabled/expired.ini': site('old.test', 'tls_cert = ../expired.crt\ntls_key = ../expired.key\n'),
    'sites-enabled/future.ini': site('new.test', 'tls_cert = ../future.crt\ntls_key = ../future.key\n'),
    'sites-enabled/mismatch.ini': site('mine.test', 'tls_cert = ../other.crt\ntls_key = ../other.key\n'),
    'sites-enabled/deep.ini': site('a.b.wild.test, **.wild.test', 'tls_cert = ../wild.crt\ntls_key = ../wild.key\n'),
    'sites-enabled/wrongkey.ini': site('good.test', 'tls_cert = ../good.crt\ntls_key = ../other.key\n'),
    'sites-enabled/garbage.ini': site('garbage.test', 'tls_cert = ../good.crt\ntls_key = ../garbage.key\n'),
    'sites-enabled/missing.ini': site('missing.test', 'tls_cert = ../none.crt\ntls_key = ../none.key\n'),
    'sites-enabled/half.ini': site('half.test', 'tls_cert = ../good.crt\n'),
    'sites-enabled/auto.ini': site('auto.test, *.auto.test', 'tls = auto\n'),
    'sites-enabled/both.ini': site('both.test', 'tls = auto\ntls_cert = ../good.crt\n'),
  });
  const problems = problemsOf(dir);
  const byFile = (file: string) => problems.filter((problem) => problem.file === `sites-enabled/${file}.ini`).map((problem) => `${problem.key}: ${problem.message}`);
  assert.match(byFile('expired').join(), /^tls_cert: the certificate .*expired\.crt expired on \d{4}-/);
  assert.match(byFile('future').join(), /^tls_cert: the certificate .*future\.crt is not valid before \d{4}-/);
  assert.deepEqual(byFile('mismatch').map((line) => line.replace(dir, 'DIR')), ['tls_cert: the certificate DIR/other.crt does not cover mine.test (it names other.test)']);
  // A certificate's wildcard covers one label: neither a deeper name nor `**` is covered.
  assert.match(byFile('deep').join(), /does not cover a\.b\.wild\.test, \*\*\.wild\.test \(it names \*\.wild\.test\)/);
  assert.match(byFile('wrongkey').join(), /^tls_cert: the private key .*other\.key is not the key of the certificate .*good\.crt$/);
  assert.match(byFile('garbage').join(), /^tls_cert: the private key .*garbage\.key cannot be used: /);
  assert.match(byFile('missing').join(), /^tls_cert: the certificate .*none\.crt cannot be read: no such file$/);
  assert.deepEqual(byFile('half'), ['tls_cert: needs tls_key beside it (the private key of this certificate)']);
  assert.deepEqual(byFile('auto'), ['tls: tls = auto answers HTTP-01 challenges, which cannot obtain a certificate for a wildcard: "*.auto.test" (name its certificate with tls_cert and tls_key)']);
  assert.deepEqual(byFile('both'), ['tls_cert: tls = auto obtains the certificate: it takes no tls_cert or tls_key']);
  assert.match(byFile('fifo').join(), /^tls_cert: the certificate .*fifo\.crt cannot be read: is a FIFO, not a file$/);
  assert.equal(problems.length, 11, problems.map((problem) => problem.message).join('\n'));
});

test('a key the process cannot read is a problem with its file', { skip: process.getuid?.() === 0 && 'root reads every file' }, async (t) => {
  const dir = dirFor(t);
  const made = await makeCertificate(dir, 'good', ['good.test']);
  chmodSync(made.key, 0o000);
  writeTree(dir, { 'sites-enabled/good.ini': site('good.test', 'tls_cert = ../good.crt\ntls_key = ../good.key\n') });
  assert.match(problemsOf(dir).map((problem) => problem.message).join(), /the private key .*good\.key cannot be read: EACCES/);
});

test('[server]: https, redirect_http, the default pair, [acme]; each bad value is a problem', async (t) => {
  const dir = dirFor(t);
  await makeCertificate(dir, 'expired', ['old.test'], { from: -30, to: -1 });
  writeTree(dir, {
    'hostmux.conf': '[server]\nhttps = nowhere\nredirect_http = maybe\ntls_cert = expired.crt\ntls_key = expired.key\n[acme]\ndirectory = ftp://ca\nemail = nobody\nfoo = 1\n[other]\n',
    'sites-enabled/a.ini': site('a.test'),
  });
  const problems = problemsOf(dir).map((problem) => `[${problem.section}] ${problem.key}: ${problem.message}`.replace(dir, 'DIR')).sort();
  assert.deepEqual(problems.sort(), [
    '[acme] directory: "ftp://ca" is not an http(s) URL',
    '[acme] email: "nobody" is not an e-mail address',
    '[acme] foo: unknown key (known keys: directory, email, ca_cert, storage)',
    '[other] undefined: unknown section (hostmux.conf has [server], [admin], [acme])',
    '[server] https: "nowhere" is not ADDRESS:PORT (0.0.0.0:443, [::]:443)',
    '[server] redirect_http: "maybe" is not true or false',
    '[server] tls_cert: the certificate DIR/expired.crt expired on DATE',
  ].sort().map((line) => line.replace('DATE', problems.at(-1)!.split('expired on ')[1]!)));
});

test('the 14-day warning, and which sites the default certificate covers', async (t) => {
  const dir = dirFor(t);
  await makeCertificate(dir, 'soon', ['soon.test'], { to: 5 });
  await makeCertificate(dir, 'default', ['*.default.test', 'default.test']);
  writeTree(dir, {
    'hostmux.conf': '[server]\ntls_cert = default.crt\ntls_key = default.key\n',
    'sites-enabled/soon.ini': site('soon.test', 'tls_cert = ../soon.crt\ntls_key = ../soon.key\n'),
    'sites-enabled/covered.ini': site('x.default.test'),
    'sites-enabled/plain.ini': site('plain.test'),
  });
  const app = createApplication(dir, { logger: silent });
  t.after(() => app.close());
  const tls = internalsOf(app)!.tls;
  assert.equal(tls.warnings.length, 1);
  assert.match(tls.warnings[0]!, /^the certificate of site soon \(.*soon\.crt\) expires on \d{4}-.*, in [45] days$/);
  assert.deepEqual(tls.rows.map((row) => [row.site, row.source, row.names.join(' ')]), [
    ['covered', 'default', '*.default.test default.test'],
    ['plain', 'none', ''],
    ['soon', 'file', 'soon.test'],
  ]);
  assert.equal(tls.hasCertificate('covered'), true);
  assert.equal(tls.hasCertificate('plain'), false);
});

test('check lists each certificate and warns; list shows https', async (t) => {
  const dir = dirFor(t);
  await makeCertificate(dir, 'soon', ['soon.test'], { to: 5 });
  writeTree(dir, {
    'sites-enabled/soon.ini': site('soon.test', 'tls_cert = ../soon.crt\ntls_key = ../soon.key\n'),
    'sites-enabled/auto.ini': site('auto.test', 'tls = auto\n'),
    'sites-enabled/plain.ini': site('plain.test'),
  });
  const checked = await hostmux(['check', '-c', dir]);
  assert.equal(checked.code, 0, checked.stderr);
  const rows = checked.stdout.trimEnd().split('\n').slice(-5, -1).map((line) => line.split(/ {2,}/));
  assert.deepEqual(rows[0], ['SITE', 'CERTIFICATE', 'NAMES', 'EXPIRES']);
  assert.deepEqual(rows[1], ['auto', 'auto', '-', '- (no certificate obtained yet: served over plain HTTP until ACME issues one)']);
  assert.deepEqual(rows[2], ['plain', 'none', '-', '-']);
  assert.deepEqual(rows[3]!.slice(0, 3), ['soon', 'file', 'soon.test']);
  assert.match(checked.stderr, /^hostmux: warning: the certificate of site soon .* expires on .*, in [45] days$/m);

  const listed = await hostmux(['list', '-c', dir]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(listed.stdout.trimEnd().split('\n').map((line) => line.split(/ {2,}/)), [
    ['NAME', 'STATUS', 'HTTPS', 'DOMAINS'],
    ['auto', 'enabled (only in sites-enabled)', 'https (auto)', 'auto.test'],
    ['plain', 'enabled (only in sites-enabled)', '-', 'plain.test'],
    ['soon', 'enabled (only in sites-enabled)', 'https', 'soon.test'],
  ]);
});
