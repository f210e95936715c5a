// README: The configuration tree — what createApplication reads, what it
// refuses, and how it reports every problem of a tree in one ConfigError.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseIni } from '../src/config/ini-file.ts';
import { ConfigError, createApplication, type ConfigProblem } from '../src/index.ts';
import { captureLogger, FIXTURES, listen, request, tempDir, writeTree } from './helpers.ts';

const CASES = join(FIXTURES, 'config');
const fixture = (name: string): string => join(CASES, name);

const silent = captureLogger();

/** The ConfigError that `createApplication(dir)` throws (fails the test if it does not). */
function configErrorOf(dir: string): ConfigError {
  let thrown: unknown;
  try {
    createApplication(dir, { logger: silent });
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown instanceof ConfigError, `expected a ConfigError, got ${String(thrown)}`);
  return thrown;
}

interface Expected {
  readonly file: string;
  readonly section?: string;
  readonly key?: string;
  readonly line?: number;
  /** A substring of the problem's message. */
  readonly message: string;
}

const where = (p: Expected | ConfigProblem) => ({ file: p.file, section: p.section, key: p.key, line: p.line });

/** Asserts exactly these problems, in this order: file, section, key and line exact; message by substring. */
function assertProblems(problems: readonly ConfigProblem[], expected: readonly Expected[]): void {
  assert.deepEqual(problems.map(where), expected.map(where), JSON.stringify(problems, null, 2));
  problems.forEach((problem, i) => {
    const wanted = expected[i]!.message;
    assert.ok(problem.message.includes(wanted), `problem ${i}: ${JSON.stringify(problem.message)} should include ${JSON.stringify(wanted)}`);
  });
}

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(vars);
  try {
    return fn();
  } finally {
    apply(saved);
  }
}

/** Runs `fn` against an HTTP server for `app`, then closes both. */
async function serve(app: ReturnType<typeof createApplication>, fn: (port: number) => Promise<void>): Promise<void> {
  const running = await listen(app);
  try {
    await fn(running.port);
  } finally {
    await running.close();
    await app.close();
  }
}

describe('ConfigError', () => {
  test('is an Error and an instance of ConfigError, with code HOSTMUX_CONFIG', () => {
    const err = configErrorOf(fixture('no-kind'));
    assert.ok(err instanceof Error);
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'HOSTMUX_CONFIG');
    assert.equal(err.name, 'ConfigError');
    assert.ok(Array.isArray(err.problems) && err.problems.length > 0);
  });

  test('createApplication on a missing directory throws ConfigError', (t) => {
    const temp = tempDir();
    t.after(temp.remove);
    const missing = join(temp.path, 'no-such-dir');
    const err = configErrorOf(missing);
    assert.equal(err.code, 'HOSTMUX_CONFIG');
    assertProblems(err.problems, [{ file: '.', message: 'cannot be read' }]);
    assert.ok(err.problems[0]!.message.includes(missing), err.problems[0]!.message);
  });
});

describe('configuration errors, one at a time', () => {
  const cases: [string, string, Expected[]][] = [
    ['a line without "="', 'no-equals-line', [
      { file: 'sites-enabled/blog.ini', section: 'site', line: 4, message: 'line "this line has no equals sign" has no "="' },
    ]],
    ['a site without domains', 'missing-domains', [
      { file: 'sites-enabled/blog.ini', section: 'site', key: 'domains', message: 'required key is missing' },
    ]],
    ['a site of no kind', 'no-kind', [
      { file: 'sites-enabled/blog.ini', section: 'site', message: 'needs one of handler, proxy, redirect or root' },
    ]],
    ['a site of two kinds (handler and redirect)', 'two-kinds', [
      { file: 'sites-enabled/blog.ini', section: 'site', key: 'redirect', message: 'has handler and redirect; a site is exactly one kind' },
    ]],
    ['an unknown key in [site]', 'unknown-site-key', [
      { file: 'sites-enabled/blog.ini', section: 'site', key: 'colour', line: 4, message: 'unknown key' },
    ]],
    ['an unknown key in [server]', 'unknown-server-key', [
      { file: 'hostmux.conf', section: 'server', key: 'port', line: 3, message: 'unknown key' },
    ]],
    ['a key outside any section', 'key-outside-section', [
      { file: 'sites-enabled/blog.ini', key: 'stray', line: 2, message: 'outside any section' },
    ]],
    ['an unknown section in hostmux.conf', 'unknown-server-section', [
      { file: 'hostmux.conf', section: 'listen', message: 'unknown section' },
    ]],
    ['a directory where a site file should be (named broken.ini)', 'unreadable-site-file', [
      { file: 'sites-enabled/broken.ini', message: 'is a directory, not a file' },
    ]],
    ['an unset ${VAR} without a default', 'unset-variable', [
      { file: 'sites-enabled/blog.ini', section: 'database', key: 'url', line: 6, message: 'environment variable HOSTMUX_TEST_NEVER_SET is not set' },
    ]],
    ['two site files with one name', 'duplicate-site-name', [
      { file: 'sites-enabled/b.ini', section: 'site', key: 'name', message: 'site name "blog" is already used by sites-enabled/a.ini' },
    ]],
    ['two sites claiming one domain (DUP.test. equals dup.test)', 'duplicate-domain', [
      { file: 'sites-enabled/b.ini', section: 'site', key: 'domains', message: '"dup.test" is already claimed by site a (sites-enabled/a.ini)' },
    ]],
    ['two sites claiming one pattern (*.WILD.Test. equals *.wild.test)', 'duplicate-pattern', [
      { file: 'sites-enabled/b.ini', section: 'site', key: 'domains', message: '"*.wild.test" is already claimed by site a (sites-enabled/a.ini)' },
    ]],
    ['a default_site that names no site', 'unknown-default-site', [
      { file: 'hostmux.conf', section: 'server', key: 'default_site', message: 'names no enabled site: "nosuchsite"' },
    ]],
    ['an invalid domain', 'invalid-domain', [
      { file: 'sites-enabled/blog.ini', section: 'site', key: 'domains', line: 2, message: '"exa mple.test" is not a valid host name' },
    ]],
    ['an invalid pattern', 'invalid-pattern', [
      { file: 'sites-enabled/blog.ini', section: 'site', key: 'domains', line: 2, message: 'label "exa mple" is not a valid host name label' },
    ]],
    ['a redirect that is no http(s) URL', 'bad-redirect-url', [
      { file: 'sites-enabled/blog.ini', section: 'site', key: 'redirect', line: 3, message: '"ftp://files.example" is not an http(s) URL' },
    ]],
    ['a redirect_status other than 301, 302, 307, 308', 'bad-redirect-status', [
      { file: 'sites-enabled/blog.ini', section: 'site', key: 'redirect_status', line: 4, message: '"303" is not 301, 302, 307 or 308' },
    ]],
    ['trust_proxy = maybe', 'bad-trust-proxy', [
      { file: 'hostmux.conf', section: 'server', key: 'trust_proxy', message: '"maybe" is not true or false' },
    ]],
  ];
  for (const [name, dir, expected] of cases) {
    test(name, () => {
      const problems = withEnv({ HOSTMUX_TEST_NEVER_SET: undefined }, () => configErrorOf(fixture(dir)).problems);
      assertProblems(problems, expected);
    });
  }

  test('a dangling symlink in sites-enabled', (t) => {
    const temp = tempDir();
    t.after(temp.remove);
    writeTree(temp.path, {
      'sites-available/blog.ini': '[site]\ndomains = blog.test\nredirect = https://blog.example\n',
      'sites-enabled/blog.ini': { link: '../sites-available/blog.ini' },
      'sites-enabled/gone.ini': { link: '../sites-available/gone.ini' },
    });
    assertProblems(configErrorOf(temp.path).problems, [
      { file: 'sites-enabled/gone.ini', message: 'dangling symlink to "../sites-available/gone.ini"' },
    ]);
  });
});

describe('trees that are hard to read right', () => {
  test('a missing sites-enabled is blamed on the directory, not on a hostmux.conf that does not exist', (t) => {
    const temp = tempDir();
    t.after(temp.remove);
    assertProblems(configErrorOf(temp.path).problems, [
      { file: 'sites-enabled', message: 'cannot list the directory for the sites glob "sites-enabled/*.ini"' },
    ]);
  });

  test('an indented section header is reported as what ini makes of it', (t) => {
    const temp = tempDir();
    t.after(temp.remove);
    writeTree(temp.path, { 'sites-enabled/a.ini': '[site]\ndomains = a.test\nredirect = https://a.example\n  [extra]\n' });
    assertProblems(configErrorOf(temp.path).problems, [
      { file: 'sites-enabled/a.ini', section: 'site', line: 4, message: 'ini reads an indented section header as a key' },
    ]);
  });

  test('a byte order mark before the first section is dropped', (t) => {
    const temp = tempDir();
    t.after(temp.remove);
    writeTree(temp.path, {
      'hostmux.conf': '\ufeff[server]\ndefault_site = a\n',
      'sites-enabled/a.ini': '\ufeff[site]\ndomains = a.test\nredirect = https://a.example\n',
    });
    const app = createApplication(temp.path, { logger: silent });
    assert.deepEqual(app.sites.map((site) => site.domains), [['a.test']]);
    assert.equal(app.match('other.test')?.site, 'a');
  });

  test('a comma inside a brace glob does not split domains', (t) => {
    const temp = tempDir();
    t.after(temp.remove);
    writeTree(temp.path, {
      'sites-enabled/a.ini': '[site]\ndomains = {www,cdn}.a.test, a.test\ndomains[] = {x,y}.a.test, b.test\nredirect = https://a.example\n',
    });
    const app = createApplication(temp.path, { logger: silent });
    assert.deepEqual(app.sites[0]!.domains, ['{www,cdn}.a.test', 'a.test', '{x,y}.a.test', 'b.test']);
    assert.equal(app.match('cdn.a.test')?.pattern, '{www,cdn}.a.test');
  });
});

describe('one broken site does not hide the problems of another', () => {
  test('a duplicate name is reported when the first site with that name is broken', () => {
    assertProblems(configErrorOf(fixture('duplicate-name-of-broken-site')).problems, [
      { file: 'sites-enabled/a.ini', section: 'site', key: 'redirect', line: 4, message: '"ftp://a.example" is not an http(s) URL' },
      { file: 'sites-enabled/b.ini', section: 'site', key: 'name', message: 'site name "blog" is already used by sites-enabled/a.ini' },
    ]);
  });

  test('a site with a duplicate name still has its domains checked', () => {
    assertProblems(configErrorOf(fixture('duplicate-name-with-bad-domain')).problems, [
      { file: 'sites-enabled/b.ini', section: 'site', key: 'domains', line: 3, message: '"exa mple.test" is not a valid host name' },
      { file: 'sites-enabled/b.ini', section: 'site', key: 'name', message: 'site name "blog" is already used by sites-enabled/a.ini' },
    ]);
  });

  test(
    'a site whose kind is broken still has its domains checked',
    () => {
      assertProblems(configErrorOf(fixture('bad-domain-in-broken-site')).problems, [
        { file: 'sites-enabled/blog.ini', section: 'site', key: 'domains', line: 2, message: '"exa mple.test" is not a valid host name' },
        { file: 'sites-enabled/blog.ini', section: 'site', key: 'redirect', line: 3, message: '"ftp://blog.example" is not an http(s) URL' },
      ]);
    },
  );
});

describe('several problems at once', () => {
  test('are all reported in one ConfigError, and no site module is loaded', async () => {
    const loaded = Symbol.for('hostmux.test.many-problems.loaded');
    const err = configErrorOf(fixture('many-problems'));
    const expected: Expected[] = [
      { file: 'hostmux.conf', section: 'server', key: 'colour', line: 3, message: 'unknown key' },
      { file: 'hostmux.conf', section: 'server', key: 'trust_proxy', message: '"maybe" is not true or false' },
      { file: 'sites-enabled/a.ini', section: 'site', line: 4, message: 'line "a line with no equals sign" has no "="' },
      { file: 'sites-enabled/b.ini', section: 'site', message: 'needs one of handler, proxy, redirect or root' },
      { file: 'sites-enabled/c.ini', section: 'site', key: 'domains', message: '"a.test" is already claimed by site a (sites-enabled/a.ini)' },
    ];
    const byPlace = (a: ConfigProblem | Expected, b: ConfigProblem | Expected) =>
      JSON.stringify(where(a)).localeCompare(JSON.stringify(where(b)));
    assertProblems([...err.problems].sort(byPlace), [...expected].sort(byPlace));

    // Its message lists each problem with its file.
    for (const { file, message } of expected) {
      const line = err.message.split('\n').find((l) => l.includes(file) && l.includes(message));
      assert.ok(line !== undefined, `the message should list ${file}: ${message}\n${err.message}`);
    }
    assert.match(err.message, /^5 configuration problems:/);

    // Nothing half-loaded: the good site's module (d.ini) was never imported.
    // createApplication threw synchronously; give any import it might have
    // started a moment to evaluate before looking.
    await sleep(50);
    assert.equal((globalThis as Record<symbol, unknown>)[loaded], undefined);
  });

  test(
    'problems are listed in file order',
    () => {
      assertProblems(configErrorOf(fixture('problem-order')).problems, [
        { file: 'sites-enabled/a.ini', section: 'site', key: 'domains', line: 2, message: '"exa mple.test" is not a valid host name' },
        { file: 'sites-enabled/b.ini', section: 'site', line: 4, message: 'line "no equals sign here" has no "="' },
      ]);
    },
  );
});

describe('what a valid tree gives', () => {
  test('${VAR} and ${VAR:-default} have shell meaning', async () => {
    const env = { HOSTMUX_TEST_SET: 'from-env', HOSTMUX_TEST_EMPTY: '', HOSTMUX_TEST_UNSET: undefined };
    const app = withEnv(env, () => createApplication(fixture('env-expansion'), { logger: silent }));
    assert.deepEqual(app.sites.map((s) => [s.name, s.domains]), [['env', ['from-env.test']], ['other', ['other.test']]]);
    // default_site = ${HOSTMUX_TEST_UNSET:-env}
    assert.deepEqual(app.match('nobody.test'), { site: 'env', pattern: null, wildcards: [] });
    await serve(app, async (port) => {
      // trust_proxy = ${HOSTMUX_TEST_EMPTY:-yes}: the forwarded host routes.
      const forwarded = await request(port, { host: 'from-env.test', headers: { 'x-forwarded-host': 'other.test' } });
      assert.equal(forwarded.status, 308);
      assert.equal(forwarded.headers.location, 'https://other.example/');
      const reply = await request(port, { host: 'from-env.test' });
      assert.equal(reply.status, 200);
      assert.deepEqual(JSON.parse(reply.body).settings, {
        values: {
          set: 'from-env',
          set_with_default: 'from-env',
          unset_with_default: 'fallback',
          empty_with_default: 'fallback',
          empty: '',
          embedded: 'xy-from-env',
          no_braces: '$HOSTMUX_TEST_SET',
          list: ['from-env', 'second'],
        },
      });
    });
  });

  test('a comment after a section header is a comment: `[database] ; …` starts [database]', () => {
    const app = createApplication(fixture('section-header-comment'), { logger: silent });
    assert.deepEqual(app.sites.map((site) => site.name), ['blog']);
    const problems: ConfigProblem[] = [];
    const parsed = parseIni('[site]   ; the site\nname = blog\n[database] ; where the posts live\nurl = pg\n[cache]# hash too\nhost = h\n', 'blog.ini', problems);
    assert.deepEqual(problems, []);
    assert.deepEqual(parsed.sections.get('site')?.values, { name: 'blog' });
    assert.deepEqual(parsed.sections.get('database')?.values, { url: 'pg' });
    assert.deepEqual(parsed.sections.get('cache')?.values, { host: 'h' });
    // Anything else after the `]` is still no header.
    const trailing: ConfigProblem[] = [];
    parseIni('[site] trailing\nname = blog\n', 'blog.ini', trailing);
    assert.deepEqual(trailing.map((p) => p.message), ['line "[site] trailing" has no "=" (write key = value)']);
  });

  test('settings reach the site as written: every other section, dotted names whole, key[] lists', async () => {
    const app = createApplication(fixture('settings'), { logger: silent });
    await serve(app, async (port) => {
      const reply = await request(port, { host: 'blog.test' });
      assert.equal(reply.status, 200);
      assert.deepEqual(JSON.parse(reply.body), {
        name: 'blog',
        file: 'sites-enabled/blog.ini',
        domains: ['blog.test'],
        settings: {
          database: {
            url: 'postgres://db.test/blog',
            pool: '10',
            ssl: 'true',
            password: 's3cret;#not-a-comment',
            empty: '',
          },
          'cache.redis': { host: '127.0.0.1', port: '6379' },
          'logger:site.blog': { level: 'debug' },
          features: { flags: ['search', 'comments'], only: ['one'] },
        },
      });
    });
  });

  test('domains: comma-separated, domains[] lines, normalised, Unicode to punycode', () => {
    const app = createApplication(fixture('domains-lists'), { logger: silent });
    assert.deepEqual(
      app.sites.map((s) => [s.name, s.domains]),
      [
        ['commas', ['one.test', 'two.test', 'three.test']],
        ['lines', ['four.test', 'five.test', 'six.test', '*.seven.test']],
        ['unicode', ['xn--bcher-kva.test', '*.xn--bcher-kva.test', 'shop.example.com']],
      ],
    );
    assert.equal(app.match('xn--bcher-kva.test')?.site, 'unicode');
    assert.equal(app.match('a.xn--bcher-kva.test')?.site, 'unicode');
    assert.equal(app.match('six.test')?.site, 'lines');
  });

  test('a site is named after its file unless name = says otherwise', () => {
    const app = createApplication(fixture('site-names'), { logger: silent });
    assert.deepEqual(
      app.sites.map((s) => ({ ...s })),
      [
        { name: 'shop', kind: 'redirect', domains: ['shop.test'], file: 'sites-enabled/shop.ini' },
        { name: 'blog', kind: 'redirect', domains: ['blog.test'], file: 'sites-enabled/web-1.ini' },
      ],
    );
  });

  test('junk in sites-enabled is ignored: dotfiles, editor leftovers, other extensions', (t) => {
    // Generated, not on disk: *~, *.swp and *.bak are in many global gitignores.
    const junk = 'this is junk: reading it would be a configuration error\n';
    const files = {
      'sites-enabled/blog.ini': '[site]\ndomains = blog.test\nredirect = https://blog.example\n',
      'sites-enabled/.hidden.ini': junk,
      'sites-enabled/.blog.ini.swp': junk,
      'sites-enabled/blog.ini.swp': junk,
      'sites-enabled/blog.ini~': junk,
      'sites-enabled/blog.ini.bak': junk,
      'sites-enabled/blog.ini.dpkg-old': junk,
      'sites-enabled/blog.ini.dpkg-dist': junk,
      'sites-enabled/blog.ini.dpkg-new': junk,
      'sites-enabled/shop.conf': junk,
      'sites-enabled/README': junk,
    };
    // The default glob; one that takes every extension; one that also names dotfiles.
    for (const conf of [undefined, '[server]\nsites = sites-enabled/*\n', '[server]\nsites = sites-enabled/*, sites-enabled/.*\n']) {
      const temp = tempDir();
      t.after(temp.remove);
      writeTree(temp.path, conf === undefined ? files : { ...files, 'hostmux.conf': conf });
      const app = createApplication(temp.path, { logger: silent });
      assert.deepEqual(app.sites.map((s) => s.file), ['sites-enabled/blog.ini'], `with hostmux.conf ${JSON.stringify(conf)}`);
    }
  });

  test('site files are taken in byte order of their names, which breaks a pattern tie', () => {
    const app = createApplication(fixture('byte-order'), { logger: silent });
    // Locale order would be a, B, Z.
    assert.deepEqual(app.sites.map((s) => s.file), ['sites-enabled/B.ini', 'sites-enabled/Z.ini', 'sites-enabled/a.ini']);
    // *-x.pattern.test (B.ini) and x-*.pattern.test (a.ini) rank the same.
    assert.deepEqual(app.match('x-x.pattern.test'), { site: 'B', pattern: '*-x.pattern.test', wildcards: ['x'] });
  });

  test('byte order is UTF-8 byte order, not UTF-16 code unit order', (t) => {
    const temp = tempDir();
    t.after(temp.remove);
    const site = (name: string) => `[site]\nname = ${name}\ndomains = ${name}.test\nredirect = https://${name}.example\n`;
    // U+FF21 is EF BC A1 in UTF-8 (0xFF21 in UTF-16); U+1F600 is F0 9F 98 80 (0xD83D…).
    writeTree(temp.path, {
      'sites-enabled/\u{1F600}.ini': site('emoji'),
      'sites-enabled/\uFF21.ini': site('fullwidth'),
    });
    const app = createApplication(temp.path, { logger: silent });
    assert.deepEqual(app.sites.map((s) => s.name), ['fullwidth', 'emoji']);
  });

  test('a relative handler resolves against the real location of a linked site file', async (t) => {
    const temp = tempDir();
    t.after(temp.remove);
    writeTree(temp.path, {
      'sites-available/blog.ini': '[site]\ndomains = blog.test\nhandler = ./blog.mjs\n',
      'sites-available/blog.mjs': "export default (req, res) => res.end('next to the real file');\n",
      // Where the handler would be if it resolved against the link's directory.
      'sites-enabled/blog.mjs': "export default (req, res) => res.end('next to the link');\n",
      'sites-enabled/blog.ini': { link: '../sites-available/blog.ini' },
    });
    const app = createApplication(temp.path, { logger: silent });
    await serve(app, async (port) => {
      const reply = await request(port, { host: 'blog.test' });
      assert.equal(reply.status, 200);
      assert.equal(reply.body, 'next to the real file');
    });
  });

  test('a site answers the same whether enabled by link or by copy', async (t) => {
    const answers: string[] = [];
    for (const enable of ['link', 'copy'] as const) {
      const temp = tempDir();
      t.after(temp.remove);
      writeTree(temp.path, {
        'sites-available/blog.ini': '[site]\ndomains = blog.test\nhandler = ../sites/blog/server.mjs\n',
        'sites/blog/server.mjs': "import { basename } from 'node:path';\nexport default (req, res) => res.end(`blog module in ${basename(import.meta.dirname)}`);\n",
      });
      if (enable === 'link') writeTree(temp.path, { 'sites-enabled/blog.ini': { link: '../sites-available/blog.ini' } });
      else {
        mkdirSync(join(temp.path, 'sites-enabled'));
        copyFileSync(join(temp.path, 'sites-available/blog.ini'), join(temp.path, 'sites-enabled/blog.ini'));
      }
      const app = createApplication(temp.path, { logger: silent });
      await serve(app, async (port) => {
        const reply = await request(port, { host: 'blog.test' });
        assert.equal(reply.status, 200, `enabled by ${enable}`);
        answers.push(reply.body);
      });
    }
    assert.deepEqual(answers, ['blog module in blog', 'blog module in blog']);
  });

  test('sites = takes a comma-separated list of globs relative to the config dir', () => {
    const app = createApplication(fixture('sites-globs'), { logger: silent });
    assert.deepEqual(app.sites.map((s) => [s.name, s.file]), [
      ['a', 'more/a.ini'],
      ['c', 'more/deep/down/c.ini'],
      ['b', 'vhosts/b.ini'],
    ]);
  });

  test('without hostmux.conf the defaults apply', async () => {
    const app = createApplication(fixture('no-server-conf'), { logger: silent });
    // sites = sites-enabled/*.ini: sites-available/c.ini is not read.
    assert.deepEqual(app.sites.map((s) => s.file), ['sites-enabled/a.ini', 'sites-enabled/b.ini']);
    // No default_site.
    assert.equal(app.match('nobody.test'), null);
    await serve(app, async (port) => {
      // trust_proxy unset, standalone: false.
      const reply = await request(port, { host: 'a.test', headers: { 'x-forwarded-host': 'b.test' } });
      assert.equal(reply.status, 308);
      assert.equal(reply.headers.location, 'https://a.example/');
      assert.equal((await request(port, { host: 'nobody.test' })).status, 404);
    });
  });
});

describe('options override the files', () => {
  test('defaultSite overrides default_site', () => {
    const fromFile = createApplication(fixture('options'), { logger: silent });
    assert.deepEqual(fromFile.match('nobody.test'), { site: 'a', pattern: null, wildcards: [] });
    const overridden = createApplication(fixture('options'), { logger: silent, defaultSite: 'b' });
    assert.deepEqual(overridden.match('nobody.test'), { site: 'b', pattern: null, wildcards: [] });
  });

  test('trustProxy overrides trust_proxy', async () => {
    const forwarded = { host: 'a.test', headers: { 'x-forwarded-host': 'b.test' } };
    // trust_proxy = yes in hostmux.conf: the forwarded host routes.
    await serve(createApplication(fixture('options'), { logger: silent }), async (port) => {
      assert.equal((await request(port, forwarded)).headers.location, 'https://b.example/');
    });
    await serve(createApplication(fixture('options'), { logger: silent, trustProxy: false }), async (port) => {
      assert.equal((await request(port, forwarded)).headers.location, 'https://a.example/');
    });
  });

  const bad: [string, unknown, RegExp][] = [
    ['options that are not an object', null, /options must be an object/],
    ['a defaultSite that is not a string', { defaultSite: 42 }, /options\.defaultSite must be a site name/],
    ['a trustProxy that is not a boolean', { trustProxy: 'yes' }, /options\.trustProxy must be true or false/],
    ['a logger without the logger methods', { logger: { log() {} } }, /options\.logger must be a pino-compatible logger/],
    ['a defaultSite that names no site', { defaultSite: 'nosuchsite' }, /options\.defaultSite names no enabled site: "nosuchsite"/],
  ];
  for (const [name, options, message] of bad) {
    test(`${name} throws TypeError HOSTMUX_INVALID_OPTION`, () => {
      assert.throws(
        () => createApplication(fixture('options'), options as Parameters<typeof createApplication>[1]),
        (err: unknown) => {
          assert.ok(err instanceof TypeError, String(err));
          assert.equal((err as { code?: unknown }).code, 'HOSTMUX_INVALID_OPTION');
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }

  test('a configDir that is not a string throws TypeError HOSTMUX_INVALID_OPTION', () => {
    for (const dir of [undefined, 42, '']) {
      assert.throws(() => createApplication(dir as string), { name: 'TypeError', code: 'HOSTMUX_INVALID_OPTION', message: /configDir must be a directory path/ });
    }
  });
});

describe('load_timeout and load_queue', () => {
  /** The problems of a tree with one handler site whose [site] section ends with `lines`. */
  function problemsOf(lines: string, kind = 'handler = ../app.mjs'): readonly ConfigProblem[] {
    const temp = tempDir();
    try {
      writeTree(temp.path, { 'sites-enabled/app.ini': `[site]\ndomains = app.test\n${kind}\n${lines}\n` });
      return configErrorOf(temp.path).problems;
    } finally {
      temp.remove();
    }
  }

  const bad: [string, string, string][] = [
    ['load_timeout = 0', 'load_timeout', '"0" is not a positive number of seconds (at most 2147483)'],
    ['load_timeout = -1', 'load_timeout', '"-1" is not a positive number of seconds (at most 2147483)'],
    ['load_timeout = 30s', 'load_timeout', '"30s" is not a positive number of seconds (at most 2147483)'],
    ['load_timeout =', 'load_timeout', '"" is not a positive number of seconds (at most 2147483)'],
    ['load_timeout = 9999999', 'load_timeout', '"9999999" is not a positive number of seconds (at most 2147483)'],
    ['load_queue = -1', 'load_queue', '"-1" is not a whole number from 0 to 1000000'],
    ['load_queue = 1.5', 'load_queue', '"1.5" is not a whole number from 0 to 1000000'],
    ['load_queue = many', 'load_queue', '"many" is not a whole number from 0 to 1000000'],
    ['load_queue = 1000001', 'load_queue', '"1000001" is not a whole number from 0 to 1000000'],
    ['load_queue =', 'load_queue', '"" is not a whole number from 0 to 1000000'],
  ];
  for (const [line, key, message] of bad) {
    test(`${line} is a configuration error at its key and line`, () => {
      const problems = problemsOf(line);
      assertProblems(problems, [{ file: 'sites-enabled/app.ini', section: 'site', key, line: 4, message }]);
      assert.equal(problems[0]!.message, message);
    });
  }

  test('both keys only apply to a handler site', () => {
    for (const kind of ['proxy = http://127.0.0.1:9001', 'redirect = https://example.com']) {
      assertProblems(problemsOf('load_timeout = 5\nload_queue = 10', kind), [
        { file: 'sites-enabled/app.ini', section: 'site', key: 'load_timeout', line: 4, message: 'only applies to a handler site' },
        { file: 'sites-enabled/app.ini', section: 'site', key: 'load_queue', line: 5, message: 'only applies to a handler site' },
      ]);
    }
  });

  test('valid values, 0 for load_queue included, load', async () => {
    const temp = tempDir();
    try {
      writeTree(temp.path, {
        'sites-enabled/a.ini': '[site]\ndomains = a.test\nhandler = ../a.mjs\nload_timeout = 2.5\nload_queue = 0\n',
        'sites-enabled/b.ini': '[site]\ndomains = b.test\nhandler = ../b.mjs\nload_timeout = 2147483\nload_queue = 1000000\n',
      });
      const app = createApplication(temp.path, { logger: silent });
      assert.deepEqual(app.sites.map((s) => s.name), ['a', 'b']);
      await app.close();
    } finally {
      temp.remove();
    }
  });
});
