// Routing conformance (README: Routing): one table of cases, run through `app.match()`
// and through real HTTP, as hono's common case tests run every router
// through one suite. The trees live in test/fixtures/routing/; every site
// there is test/fixtures/routing/site.mjs, which answers with its site name
// and the SiteInfo hostmux put on the request.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, createApplication, type Application, type ApplicationOptions } from '../src/index.ts';
import { captureLogger, FIXTURES, listen, rawRequest, request, statusOf, tempDir, type LogRecord, type Running } from './helpers.ts';

const ROUTING = join(FIXTURES, 'routing');
const SITE_MODULE = join(ROUTING, 'site.mjs');
const tree = (name: string): string => join(ROUTING, name);

/** Fails when hostmux logged a warning or an error since `from` (a record index). */
function assertNoTrouble(records: readonly LogRecord[], from = 0): void {
  const trouble = records.slice(from).filter((r) => r.level === 'error' || r.level === 'warn');
  assert.deepEqual(trouble, [], 'hostmux logged a warning or an error');
}

// ---------------------------------------------------------------------------
// The case table.

interface Hit {
  readonly site: string;
  /** The domain or pattern `match()` reports; `null` for the default site. */
  readonly pattern: string | null;
  readonly wildcards: readonly string[];
  /** The normalised host `siteOf(req).hostname` reports. */
  readonly hostname: string;
}

interface Case {
  /** The Host header value. */
  readonly host: string;
  /** A site; `null` when nothing answers (match() null, HTTP 404); `'invalid'` for 400. */
  readonly expect: Hit | null | 'invalid';
}

interface Rule {
  readonly name: string;
  readonly tree: string;
  readonly options?: ApplicationOptions;
  readonly todo?: string;
  readonly cases: readonly Case[];
}

function hit(host: string, site: string, pattern: string | null, wildcards: readonly string[] = [], hostname = host): Case {
  return { host, expect: { site, pattern, wildcards, hostname } };
}
const miss = (host: string): Case => ({ host, expect: null });
const invalid = (host: string): Case => ({ host, expect: 'invalid' });

/** A host name of exactly `length` characters (labels of at most 63) ending in `.suffix`. */
function hostOfLength(length: number, suffix: string): string {
  const labels: string[] = [];
  let remaining = length - suffix.length;
  while (remaining > 0) {
    const size = Math.min(63, remaining - 1);
    assert.ok(size > 0, `cannot build a ${length}-character host`);
    labels.push('x'.repeat(size));
    remaining -= size + 1;
  }
  const host = [...labels, suffix].join('.');
  assert.equal(host.length, length);
  return host;
}

const NAME_253 = hostOfLength(253, 'any.test');
const NAME_254 = hostOfLength(254, 'any.test');
const LABEL_63 = 'l'.repeat(63);
const LABEL_64 = 'l'.repeat(64);

const RULES: readonly Rule[] = [
  {
    name: 'an exact domain beats every pattern that also matches',
    tree: 'precedence',
    cases: [
      hit('www.exact.test', 'z-exact', 'www.exact.test'),
      hit('exact.test', 'z-exact', 'exact.test'),
      hit('wow.exact.test', 'a-exact-partial', 'w*.exact.test', ['ow']),
      hit('abc.exact.test', 'a-exact-star', '*.exact.test', ['abc']),
      hit('a.b.exact.test', 'a-exact-globstar', '**.exact.test', ['a.b']),
    ],
  },
  {
    name: 'a literal label beats a partial label, even with fewer literal characters',
    tree: 'precedence',
    cases: [
      hit('xyzxyz.ab.litpart.test', 'c-litpart-literal', '*.ab.litpart.test', ['xyzxyz']),
      hit('xyzxyz.abc.litpart.test', 'b-litpart-partial', 'xyzxyz.ab*.litpart.test', ['c']),
    ],
  },
  {
    name: 'a partial label beats *, even with fewer literal characters',
    tree: 'precedence',
    cases: [
      hit('longliteral.api-1.partstar.test', 'c-partstar-partial', '*.api-*.partstar.test', ['longliteral', '1']),
      hit('longliteral.web.partstar.test', 'b-partstar-star', 'longliteral.*.partstar.test', ['web']),
    ],
  },
  {
    name: '* beats **, even with fewer literal characters',
    tree: 'precedence',
    cases: [
      hit('longliteral.x.starglob.test', 'c-starglob-star', '*.*.starglob.test', ['longliteral', 'x']),
      hit('longliteral.x.y.starglob.test', 'b-starglob-globstar', 'longliteral.**.starglob.test', ['x.y']),
      hit('longliteral.starglob.test', 'b-starglob-globstar', 'longliteral.**.starglob.test', ['']),
    ],
  },
  {
    name: 'every partial form inside a label (api-*, web[0-9], ?, {1..3}, x!(b)) matches and beats *',
    tree: 'precedence',
    cases: [
      hit('api-v2.forms.test', 'c-forms-prefix', 'api-*.forms.test', ['v2']),
      hit('api-.forms.test', 'c-forms-prefix', 'api-*.forms.test', ['']),
      hit('web7.forms.test', 'c-forms-class', 'web[0-9].forms.test'),
      hit('web77.forms.test', 'b-forms-star', '*.forms.test', ['web77']),
      hit('q.forms.test', 'c-forms-qmark', '?.forms.test'),
      hit('qq.forms.test', 'b-forms-star', '*.forms.test', ['qq']),
      hit('node2.forms.test', 'c-forms-range', 'node{1..3}.forms.test'),
      hit('node4.forms.test', 'b-forms-star', '*.forms.test', ['node4']),
      hit('xa.forms.test', 'c-forms-extglob', 'x!(b).forms.test'),
      hit('xb.forms.test', 'b-forms-star', '*.forms.test', ['xb']),
      miss('a.b.forms.test'),
    ],
  },
  {
    name: 'a brace label {www,cdn} matches and beats *',
    tree: 'braces',
    cases: [
      hit('www.brace.test', 'braces', '{www,cdn}.brace.test'),
      hit('cdn.brace.test', 'braces', '{www,cdn}.brace.test'),
      hit('ftp.brace.test', 'brace-star', '*.brace.test', ['ftp']),
    ],
  },
  {
    name: 'labels are compared right to left',
    tree: 'precedence',
    cases: [
      hit('www.api.rtl.test', 'c-rtl-rightliteral', '*.api.rtl.test', ['www']),
      hit('www.web.rtl.test', 'b-rtl-leftliteral', 'www.*.rtl.test', ['web']),
    ],
  },
  {
    name: 'a pattern that runs out of labels first loses, even with more literal characters',
    tree: 'precedence',
    cases: [
      hit('p.q.abcd.runout.test', 'c-runout-long', '*.**.a*.runout.test', ['p', 'q', 'bcd']),
      hit('abcd.runout.test', 'b-runout-short', '**.abc*.runout.test', ['', 'd']),
    ],
  },
  {
    name: 'between labels of equal rank, more literal characters win',
    tree: 'precedence',
    cases: [
      hit('web5.literal.test', 'c-literal-more', 'web[0-9].literal.test'),
      hit('wax5.literal.test', 'b-literal-fewer', 'w*[0-9].literal.test', ['ax']),
      hit('api-x.literal.test', 'c-literal-more', 'api-*.literal.test', ['x']),
      hit('abc.literal.test', 'b-literal-fewer', 'a*.literal.test', ['bc']),
    ],
  },
  {
    name: 'then file order: byte order of the file names (not of site names or link targets)',
    tree: 'precedence',
    cases: [
      // sites-enabled/tie-Upper.ini ("U" is 0x55) sorts before tie-lower.ini ("l" is 0x6c).
      hit('aa.tie.test', 'zz-tie-first-file', 'a*.tie.test', ['a']),
      hit('ab.tie.test', 'zz-tie-first-file', 'a*.tie.test', ['b']),
      hit('ba.tie.test', 'aa-tie-second-file', '*a.tie.test', ['b']),
    ],
  },
  {
    name: '*.example.com matches exactly one label: not the apex, not two labels',
    tree: 'precedence',
    cases: [
      hit('a.one.test', 'd-one', '*.one.test', ['a']),
      hit(`${LABEL_63}.one.test`, 'd-one', '*.one.test', [LABEL_63]),
      miss('one.test'),
      miss('a.b.one.test'),
    ],
  },
  {
    name: '**.example.com matches the apex and any depth',
    tree: 'precedence',
    cases: [
      hit('any.test', 'd-any', '**.any.test', ['']),
      hit('a.any.test', 'd-any', '**.any.test', ['a']),
      hit('a.b.c.any.test', 'd-any', '**.any.test', ['a.b.c']),
      hit(NAME_253, 'd-any', '**.any.test', [NAME_253.slice(0, -'.any.test'.length)]),
      miss('any.test.example'),
    ],
  },
  {
    name: 'wildcards: each * and ** part left to right, ** joined with ".", an empty part as ""',
    tree: 'precedence',
    cases: [
      hit('a.b.c.d.mix.test', 'd-mix', '*.**.*.mix.test', ['a', 'b.c', 'd']),
      hit('a.b.mix.test', 'd-mix', '*.**.*.mix.test', ['a', '', 'b']),
      miss('a.mix.test'),
      hit('a-b.dash.test', 'd-dash', '*-*.dash.test', ['a', 'b']),
      hit('-.dash.test', 'd-dash', '*-*.dash.test', ['', '']),
      hit('shop.de', 'd-tld', 'shop.*', ['de']),
      miss('shop.co.uk'),
      miss('www.shop.de'),
    ],
  },
  {
    name: 'an IPv6 literal domain is exact, never a character class',
    tree: 'precedence',
    cases: [
      hit('[::1]', 'd-ipv6', '[::1]'),
      hit('[::1]:8080', 'd-ipv6', '[::1]', [], '[::1]'),
      hit('[2001:db8::1]:443', 'd-ipv6', '[2001:db8::1]', [], '[2001:db8::1]'),
      miss('[::2]'),
      miss('1'),
    ],
  },
  {
    name: 'IPv4 and IPv6 hosts route by their WHATWG form (127.1 is 127.0.0.1), configured or sent',
    tree: 'precedence',
    cases: [
      hit('127.0.0.1', 'd-ipv4', '127.0.0.1'),
      ...['127.1', '0x7f.1', '0177.0.0.1', '2130706433', '127.0.0.01', '127.0.0.1.', '127.0.0.1:000080'].map((sent) =>
        hit(sent, 'd-ipv4', '127.0.0.1', [], '127.0.0.1')),
      ...['[::3]', '[0::3]', '[0:0:0:0:0:0:0:3]'].map((sent) => hit(sent, 'd-ipv4', '[::3]', [], '[::3]')),
      ...['[0::1]', '[::0001]', '[0:0:0:0:0:0:0:1]', '[0:0::1]:443'].map((sent) => hit(sent, 'd-ipv6', '[::1]', [], '[::1]')),
      hit('norm.example.test:000080', 'e-norm', 'norm.example.test', [], 'norm.example.test'),
      miss('127.0.0.2'),
      invalid('1.2.3.4.5'),
      invalid('256.1.1.1'),
      invalid('a.1'),
      invalid('[::1%eth0]'),
      invalid('[fe80::1%25lo]'),
      invalid('norm.example.test:0000065536'),
    ],
  },
  {
    name: 'normalisation: uppercase, port dropped, one trailing dot dropped, empty port, IPv6 brackets kept',
    tree: 'precedence',
    cases: [
      hit('NORM.EXAMPLE.TEST', 'e-norm', 'norm.example.test', [], 'norm.example.test'),
      hit('norm.example.test:8080', 'e-norm', 'norm.example.test', [], 'norm.example.test'),
      hit('norm.example.test:65535', 'e-norm', 'norm.example.test', [], 'norm.example.test'),
      hit('norm.example.test.', 'e-norm', 'norm.example.test', [], 'norm.example.test'),
      hit('norm.example.test:', 'e-norm', 'norm.example.test', [], 'norm.example.test'),
      hit('Norm.Example.Test.:443', 'e-norm', 'norm.example.test', [], 'norm.example.test'),
      hit('WWW.EXACT.TEST:80', 'z-exact', 'www.exact.test', [], 'www.exact.test'),
      hit('X.NORM-PATTERN.TEST.', 'e-norm-pattern', '*.norm-pattern.test', ['x'], 'x.norm-pattern.test'),
      hit('[::1]:8080', 'd-ipv6', '[::1]', [], '[::1]'),
      hit('[2001:DB8::1]', 'd-ipv6', '[2001:db8::1]', [], '[2001:db8::1]'),
      hit(`${NAME_253}.`, 'd-any', '**.any.test', [NAME_253.slice(0, -'.any.test'.length)], NAME_253),
      invalid('norm.example.test..'),
    ],
  },
  {
    name: 'a Unicode configured domain is matched by its punycode host',
    tree: 'precedence',
    cases: [
      hit('xn--bcher-kva.test', 'e-norm', 'xn--bcher-kva.test'),
      hit('XN--BCHER-KVA.TEST', 'e-norm', 'xn--bcher-kva.test', [], 'xn--bcher-kva.test'),
      hit('shop.xn--bcher-kva.test', 'e-norm-pattern', '*.xn--bcher-kva.test', ['shop']),
      invalid('bücher.test'),
    ],
  },
  {
    name: 'a site that is available but not enabled is not routed',
    tree: 'precedence',
    cases: [miss('disabled.test'), miss('x.disabled.test')],
  },
  {
    name: 'no site, no default: match() is null and HTTP answers 404',
    tree: 'precedence',
    cases: [miss('unclaimed.test'), miss('example.com'), miss('exact.test.example'), miss('localhost')],
  },
  {
    name: 'default_site answers a host no site claims',
    tree: 'default-site',
    cases: [
      hit('named.test', 'named', 'named.test'),
      hit('a.named.test', 'named', '*.named.test', ['a']),
      hit('fallback.test', 'fallback', 'fallback.test'),
      hit('other.test', 'fallback', null),
      hit('a.b.named.test', 'fallback', null),
      hit('OTHER.TEST:81', 'fallback', null, [], 'other.test'),
    ],
  },
  {
    name: 'options.defaultSite overrides default_site',
    tree: 'default-site',
    options: { defaultSite: 'named' },
    cases: [hit('other.test', 'named', null), hit('fallback.test', 'fallback', 'fallback.test')],
  },
  {
    name: 'an invalid host is answered 400 even when a default site exists',
    tree: 'default-site',
    cases: [
      invalid('a..named.test'),
      invalid('named.test:99999'),
      invalid(`${LABEL_64}.named.test`),
      invalid(NAME_254),
      // Hosts a browser's URL parser rejects: a site's `new URL()` would throw on them.
      invalid('xn--.named.test'),
      invalid('xn--zz.named.test'),
      invalid('1.2.3.4.5'),
      invalid('256.1.1.1'),
      invalid('[::1%eth0]'),
      invalid('[fe80::1%25lo]'),
    ],
  },
];

// ---------------------------------------------------------------------------
// The two entry points.

interface Env {
  readonly app: Application;
  readonly logger: ReturnType<typeof captureLogger>;
  readonly running?: Running;
}

function checkMatch(app: Application, c: Case): void {
  const found = app.match(c.host);
  const label = `match(${JSON.stringify(c.host)})`;
  if (c.expect === null || c.expect === 'invalid') assert.equal(found, null, label);
  else assert.deepEqual(found, { site: c.expect.site, pattern: c.expect.pattern, wildcards: [...c.expect.wildcards] }, label);
}

interface SiteAnswer {
  readonly site: string;
  readonly info: { name: string; hostname: string; wildcards: string[] } | null;
}

/** What the fixture site answered, in the shape a `Hit` expects. */
function answerOf(status: number, body: string, what: string): { site: string; name?: string; hostname?: string; wildcards?: string[] } {
  assert.equal(status, 200, `${what}: status (body ${JSON.stringify(body.slice(0, 100))})`);
  const answer = JSON.parse(body) as SiteAnswer;
  return { site: answer.site, name: answer.info?.name, hostname: answer.info?.hostname, wildcards: answer.info?.wildcards };
}

function expectedAnswer(expect: Hit) {
  return { site: expect.site, name: expect.site, hostname: expect.hostname, wildcards: [...expect.wildcards] };
}

function assertNotFound(reply: { status: number; headers: http.IncomingHttpHeaders; body: string }, host: string, what: string): void {
  assert.equal(reply.status, 404, `${what}: status`);
  assert.match(String(reply.headers['content-type']), /^text\/plain/, `${what}: content-type`);
  assert.ok(reply.body.length > 0 && reply.body.length < 100, `${what}: a short body`);
  assert.ok(!reply.body.toLowerCase().includes(host.toLowerCase()), `${what}: the 404 body echoes the host`);
}

async function checkHttp(port: number, c: Case): Promise<void> {
  const what = `Host: ${JSON.stringify(c.host)}`;
  const reply = await request(port, { host: c.host });
  if (c.expect === 'invalid') assert.equal(reply.status, 400, `${what}: status`);
  else if (c.expect === null) assertNotFound(reply, c.host, what);
  else assert.deepEqual(answerOf(reply.status, reply.body, what), expectedAnswer(c.expect), what);
}

for (const entry of ['match()', 'HTTP'] as const) {
  describe(`routing through ${entry}`, () => {
    const envs = new Map<string, Promise<Env>>();
    const envFor = (rule: Rule): Promise<Env> => {
      const key = `${rule.tree} ${JSON.stringify(rule.options ?? {})}`;
      let env = envs.get(key);
      if (env === undefined) {
        env = (async () => {
          const logger = captureLogger();
          const app = createApplication(tree(rule.tree), { ...rule.options, logger });
          if (entry === 'match()') return { app, logger };
          return { app, logger, running: await listen(app) };
        })();
        envs.set(key, env);
      }
      return env;
    };
    after(async () => {
      for (const pending of envs.values()) {
        const env = await pending.catch(() => undefined);
        await env?.running?.close();
        await env?.app.close();
      }
    });

    for (const rule of RULES) {
      test(rule.name, rule.todo === undefined ? {} : { todo: rule.todo }, async () => {
        const env = await envFor(rule);
        const from = env.logger.records.length;
        for (const c of rule.cases) {
          if (env.running === undefined) checkMatch(env.app, c);
          else await checkHttp(env.running.port, c);
        }
        assertNoTrouble(env.logger.records, from);
      });
    }
  });
}

// ---------------------------------------------------------------------------
// Raw HTTP helpers.

function parseAnswer(raw: string): { status: number; head: string; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  return { status: statusOf(raw), head: raw.slice(0, split), body: split === -1 ? '' : raw.slice(split + 4) };
}

function get(host: string | undefined, { target = '/', version = '1.1', headers = '' } = {}): string {
  return `GET ${target} HTTP/${version}\r\n${host === undefined ? '' : `Host: ${host}\r\n`}${headers}Connection: close\r\n\r\n`;
}

/** Starts `tree` (with a capturing logger) on port 0, runs `body`, then closes both. */
async function withServer(
  treeName: string,
  options: ApplicationOptions,
  body: (port: number, app: Application) => Promise<void>,
  handler?: (app: Application) => http.RequestListener,
): Promise<void> {
  const logger = captureLogger();
  const app = createApplication(tree(treeName), { ...options, logger });
  const running = await listen(handler ? handler(app) : app);
  try {
    await body(running.port, app);
    assertNoTrouble(logger.records);
  } finally {
    await running.close();
    await app.close();
  }
}

// ---------------------------------------------------------------------------
// 400 Bad Request, over raw bytes. Run against the tree with a default site,
// so that a host wrongly accepted would be answered 200 by the default site.

interface BadRequest {
  readonly name: string;
  readonly bytes: string | Buffer;
  /** The Host value, also checked with match() (null for an invalid host). */
  readonly host?: string;
}

const badHost = (name: string, host: string): BadRequest => ({ name, bytes: get(host), host });

const BAD_REQUESTS: readonly BadRequest[] = [
  { name: 'two Host headers (even with one value)', bytes: 'GET / HTTP/1.1\r\nHost: named.test\r\nHost: named.test\r\nConnection: close\r\n\r\n' },
  { name: 'two Host headers with different values', bytes: 'GET / HTTP/1.1\r\nHost: named.test\r\nhost: fallback.test\r\nConnection: close\r\n\r\n' },
  badHost('an empty Host', ''),
  badHost('an empty label (a..b)', 'a..named.test'),
  badHost('an empty first label (.a)', '.named.test'),
  badHost('a lone dot', '.'),
  badHost('a space in the host', 'nam ed.test'),
  badHost('an @ in the host', 'user@named.test'),
  badHost('a / in the host', 'named.test/x'),
  badHost('a glob character in the host', 'x*.named.test'),
  badHost('a non-numeric port', 'named.test:8x'),
  badHost('an out-of-range port', 'named.test:99999'),
  badHost('port 65536', 'named.test:65536'),
  badHost('a label over 63 characters', `${LABEL_64}.named.test`),
  badHost('a name over 253 characters', NAME_254),
  {
    name: 'raw non-ASCII bytes (UTF-8 é)',
    bytes: Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: caf'), Buffer.from([0xc3, 0xa9]), Buffer.from('.named.test\r\nConnection: close\r\n\r\n')]),
    host: 'café.named.test',
  },
  badHost('a bad IPv6 literal ([::g])', '[::g]'),
  badHost('an unclosed IPv6 literal', '[::1'),
  badHost('text after an IPv6 literal', '[::1]x'),
  badHost('a bad port after an IPv6 literal', '[::1]:99999'),
  { name: 'a bad Host header although an absolute-form target supplies the host', bytes: get('a..b', { target: 'http://named.test/' }) },
  { name: 'an invalid host in an absolute-form target', bytes: get('named.test', { target: 'http://a..b/' }) },
  { name: 'HTTP/1.1 without a Host header', bytes: get(undefined) },
];

for (const bad of BAD_REQUESTS) {
  test(`400: ${bad.name}`, async () => {
    await withServer('default-site', {}, async (port, app) => {
      const answer = parseAnswer(await rawRequest(port, bad.bytes));
      assert.equal(answer.status, 400, `answer: ${JSON.stringify(answer.head)}`);
      assert.ok(!answer.body.includes('"site"'), 'a site answered');
      if (bad.host !== undefined) assert.equal(app.match(bad.host), null, `match(${JSON.stringify(bad.host)})`);
    });
  });
}

test('400 control: the default-site tree answers a valid unclaimed host with the default site', async () => {
  await withServer('default-site', {}, async (port, app) => {
    const answer = parseAnswer(await rawRequest(port, get('unclaimed.test')));
    assert.equal(answer.status, 200);
    assert.equal((JSON.parse(answer.body) as SiteAnswer).site, 'fallback');
    assert.deepEqual(app.match('unclaimed.test'), { site: 'fallback', pattern: null, wildcards: [] });
  });
});

test('400: a bad Host header although a trusted X-Forwarded-Host supplies the host', async () => {
  await withServer('trust-proxy', {}, async (port) => {
    const good = parseAnswer(await rawRequest(port, get('front.test', { headers: 'X-Forwarded-Host: back.test\r\n' })));
    assert.equal((JSON.parse(good.body) as SiteAnswer).site, 'back');
    const bad = parseAnswer(await rawRequest(port, get('a..b', { headers: 'X-Forwarded-Host: back.test\r\n' })));
    assert.equal(bad.status, 400);
  });
});

// ---------------------------------------------------------------------------
// Requests without a host, 404 and next().

test('HTTP/1.0 without a Host header is unmatched: 404 without a default site', async () => {
  await withServer('precedence', {}, async (port) => {
    const answer = parseAnswer(await rawRequest(port, get(undefined, { version: '1.0' })));
    assert.equal(answer.status, 404);
    // With a Host header, HTTP/1.0 routes as usual.
    const routed = parseAnswer(await rawRequest(port, get('www.exact.test', { version: '1.0' })));
    assert.equal((JSON.parse(routed.body) as SiteAnswer).site, 'z-exact');
  });
});

test('HTTP/1.0 without a Host header goes to the default site, with hostname ""', async () => {
  await withServer('default-site', {}, async (port) => {
    const answer = parseAnswer(await rawRequest(port, get(undefined, { version: '1.0' })));
    assert.equal(answer.status, 200, answer.head);
    assert.deepEqual(JSON.parse(answer.body), { site: 'fallback', info: { name: 'fallback', hostname: '', wildcards: [] } });
  });
});

test('the 404 for an unclaimed host is short text/plain and does not echo the host', async () => {
  const host = 'zebra-unclaimed-7319.test';
  await withServer('precedence', {}, async (port, app) => {
    assert.equal(app.match(host), null);
    assertNotFound(await request(port, { host }), host, 'unclaimed host');
    const raw = await rawRequest(port, get(host));
    assert.equal(statusOf(raw), 404);
    assert.ok(!raw.includes('zebra'), 'the raw 404 answer echoes the host');
  });
});

test('a host no site claims calls next() under a 3-argument call; claimed and invalid hosts do not', async () => {
  let passedOn = 0;
  const withNext = (app: Application): http.RequestListener => (req, res) =>
    app(req, res, () => {
      passedOn++;
      res.writeHead(299, { 'content-type': 'text/plain' });
      res.end('passed on');
    });
  await withServer('precedence', {}, async (port) => {
    const unclaimed = await request(port, { host: 'unclaimed.test' });
    assert.deepEqual([unclaimed.status, unclaimed.body, passedOn], [299, 'passed on', 1]);
    const claimed = await request(port, { host: 'www.exact.test' });
    assert.deepEqual(answerOf(claimed.status, claimed.body, 'claimed'), expectedAnswer({ site: 'z-exact', pattern: null, wildcards: [], hostname: 'www.exact.test' }));
    assert.equal(passedOn, 1);
    assert.equal(statusOf(await rawRequest(port, get('a..b'))), 400);
    assert.equal(passedOn, 1, 'an invalid host was passed on');
    const noHost = parseAnswer(await rawRequest(port, get(undefined, { version: '1.0' })));
    assert.deepEqual([noHost.status, passedOn], [299, 2], 'HTTP/1.0 without Host is unmatched');
  }, withNext);
});

test('default_site answers before next() is called', async () => {
  let passedOn = 0;
  await withServer('default-site', {}, async (port) => {
    const reply = await request(port, { host: 'unclaimed.test' });
    assert.equal(answerOf(reply.status, reply.body, 'unclaimed').site, 'fallback');
    assert.equal(passedOn, 0);
  }, (app) => (req, res) => app(req, res, () => {
    passedOn++;
    res.end('passed on');
  }));
});

// ---------------------------------------------------------------------------
// Where the host comes from: absolute-form targets and trusted proxies.

async function siteFor(port: number, bytes: string): Promise<SiteAnswer> {
  const answer = parseAnswer(await rawRequest(port, bytes));
  assert.equal(answer.status, 200, `${JSON.stringify(bytes)} → ${answer.head}`);
  return JSON.parse(answer.body) as SiteAnswer;
}

test('an absolute-form target routes by its authority, not the Host header', async () => {
  await withServer('precedence', {}, async (port) => {
    const viaTarget = await siteFor(port, get('abc.exact.test', { target: 'http://www.exact.test/x' }));
    assert.deepEqual(viaTarget, { site: 'z-exact', info: { name: 'z-exact', hostname: 'www.exact.test', wildcards: [] } });
    const withPort = await siteFor(port, get('www.exact.test', { target: 'http://ABC.Exact.TEST:8080/x?y=1' }));
    assert.deepEqual(withPort, { site: 'a-exact-star', info: { name: 'a-exact-star', hostname: 'abc.exact.test', wildcards: ['abc'] } });
    const unclaimed = parseAnswer(await rawRequest(port, get('www.exact.test', { target: 'http://unclaimed.test/' })));
    assert.equal(unclaimed.status, 404);
  });
});

const XFH = (value: string) => ({ headers: `X-Forwarded-Host: ${value}\r\n` });
const FORWARDED = (value: string) => ({ headers: `Forwarded: ${value}\r\n` });

test('trustProxy: true (option): the first X-Forwarded-Host value, or Forwarded host=, routes', async () => {
  await withServer('precedence', { trustProxy: true }, async (port) => {
    const star = { site: 'a-exact-star', info: { name: 'a-exact-star', hostname: 'abc.exact.test', wildcards: ['abc'] } };
    const exact = { site: 'z-exact', info: { name: 'z-exact', hostname: 'www.exact.test', wildcards: [] } };
    assert.deepEqual(await siteFor(port, get('www.exact.test', XFH('abc.exact.test'))), star);
    assert.deepEqual(await siteFor(port, get('www.exact.test', XFH('abc.exact.test, www.exact.test'))), star);
    assert.deepEqual(await siteFor(port, get('www.exact.test', XFH('ABC.EXACT.TEST:8443'))), star);
    assert.deepEqual(await siteFor(port, get('www.exact.test', FORWARDED('for=192.0.2.1;host=abc.exact.test;proto=https'))), star);
    assert.deepEqual(await siteFor(port, get('www.exact.test', FORWARDED('for=192.0.2.1;host="abc.exact.test:8443"'))), star);
    assert.deepEqual(await siteFor(port, get('www.exact.test', FORWARDED('host=abc.exact.test, host=www.exact.test'))), star);
    // It replaces an absolute-form target's host too.
    assert.deepEqual(await siteFor(port, get('www.exact.test', { target: 'http://www.exact.test/', ...XFH('abc.exact.test') })), star);
    // Without forwarding headers, the Host header routes.
    assert.deepEqual(await siteFor(port, get('www.exact.test')), exact);
    // An invalid forwarded host is a 400.
    assert.equal(statusOf(await rawRequest(port, get('www.exact.test', XFH('a..b')))), 400);
    assert.equal(statusOf(await rawRequest(port, get('www.exact.test', XFH('user@abc.exact.test')))), 400);
    assert.equal(statusOf(await rawRequest(port, get('www.exact.test', FORWARDED('host="a..b"')))), 400);
  });
});

test('trust_proxy = true (hostmux.conf): forwarding headers route; options.trustProxy false overrides it', async () => {
  const back = { site: 'back', info: { name: 'back', hostname: 'back.test', wildcards: [] } };
  const front = { site: 'front', info: { name: 'front', hostname: 'front.test', wildcards: [] } };
  await withServer('trust-proxy', {}, async (port) => {
    assert.deepEqual(await siteFor(port, get('front.test', XFH('back.test'))), back);
    assert.deepEqual(await siteFor(port, get('front.test', FORWARDED('proto=https;host=back.test'))), back);
    assert.deepEqual(await siteFor(port, get('front.test')), front);
    assert.equal(statusOf(await rawRequest(port, get('front.test', XFH('back..test')))), 400);
  });
  await withServer('trust-proxy', { trustProxy: false }, async (port) => {
    assert.deepEqual(await siteFor(port, get('front.test', XFH('back.test'))), front);
    assert.deepEqual(await siteFor(port, get('front.test', FORWARDED('host=back.test'))), front);
    assert.deepEqual(await siteFor(port, get('front.test', XFH('back..test'))), front);
  });
});

test('forwarding headers are ignored by default (trust_proxy unset, no option)', async () => {
  await withServer('precedence', {}, async (port) => {
    const star = { site: 'a-exact-star', info: { name: 'a-exact-star', hostname: 'abc.exact.test', wildcards: ['abc'] } };
    assert.deepEqual(await siteFor(port, get('abc.exact.test', XFH('www.exact.test'))), star);
    assert.deepEqual(await siteFor(port, get('abc.exact.test', FORWARDED('host=www.exact.test'))), star);
    assert.deepEqual(await siteFor(port, get('abc.exact.test', XFH('a..b'))), star);
  });
});

// ---------------------------------------------------------------------------
// Domains that are configuration errors.

function configProblems(treeName: string): { file: string; key?: string; message: string }[] {
  try {
    createApplication(tree(treeName), { logger: captureLogger() });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'HOSTMUX_CONFIG');
    return err.problems.map((p) => ({ file: p.file, key: p.key, message: p.message }));
  }
  assert.fail(`${treeName}: createApplication did not throw`);
}

test('a leading ! is never a negation: such a domain is a configuration error', () => {
  const problems = configProblems('bad-domains');
  for (const [file, domain] of [
    ['sites-enabled/leading-bang.ini', '!www.neg.test'],
    ['sites-enabled/leading-bang-extglob.ini', '!(www).neg.test'],
  ] as const) {
    const problem = problems.find((p) => p.file === file);
    assert.ok(problem, `no problem reported for ${file}`);
    assert.equal(problem.key, 'domains');
    assert.ok(problem.message.includes(domain), problem.message);
  }
  assert.equal(problems.find((p) => p.file === 'sites-enabled/good.ini'), undefined);
});

test('a glob picomatch cannot compile ({www) is a configuration error, not a pattern that never matches', () => {
  const problem = configProblems('bad-domains').find((p) => p.file === 'sites-enabled/unbalanced-brace.ini');
  assert.ok(problem, 'no problem reported for the unbalanced brace');
  assert.equal(problem.key, 'domains');
  assert.match(problem.message, /\{www/);
});

// ---------------------------------------------------------------------------
// 10,000 sites, generated.

test('10,000 sites (80% exact, 10% *., 10% **.): first and last of each kind route through match() and HTTP', async () => {
  const dir = tempDir('hostmux-routing-10k-');
  try {
    const enabled = join(dir.path, 'sites-enabled');
    mkdirSync(enabled);
    for (let n = 0; n < 10_000; n++) {
      const domain = n < 8_000 ? `site${n}.test` : n < 9_000 ? `*.site${n}.test` : `**.site${n}.test`;
      const text = `[site]\nname = site${n}\ndomains = ${domain}\nhandler = ${SITE_MODULE}\n`;
      writeFileSync(join(enabled, `site${String(n).padStart(5, '0')}.ini`), text);
    }
    const logger = captureLogger();
    const app = createApplication(dir.path, { logger });
    try {
      assert.equal(app.sites.length, 10_000);
      const cases: Case[] = [
        hit('site0.test', 'site0', 'site0.test'),
        hit('SITE7999.TEST:8080', 'site7999', 'site7999.test', [], 'site7999.test'),
        hit('a.site8000.test', 'site8000', '*.site8000.test', ['a']),
        hit('zz.site8999.test', 'site8999', '*.site8999.test', ['zz']),
        hit('site9000.test', 'site9000', '**.site9000.test', ['']),
        hit('site9999.test', 'site9999', '**.site9999.test', ['']),
        hit('a.b.site9999.test', 'site9999', '**.site9999.test', ['a.b']),
        miss('site10000.test'),
        miss('a.site0.test'),
        miss('site8000.test'),
        miss('a.b.site8999.test'),
      ];
      for (const c of cases) checkMatch(app, c);
      const running = await listen(app);
      try {
        for (const c of cases) await checkHttp(running.port, c);
      } finally {
        await running.close();
      }
      assertNoTrouble(logger.records);
    } finally {
      await app.close();
    }
  } finally {
    dir.remove();
  }
});

// ---------------------------------------------------------------------------
// Decisions on edge cases (README: Operations › Decisions on edge cases).

test('two ** in one pattern: the left one takes the fewest labels', (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  mkdirSync(join(dir.path, 'sites-enabled'));
  writeFileSync(join(dir.path, 'sites-enabled/two.ini'), `[site]\ndomains = **.cdn.**.example.com\nhandler = ${SITE_MODULE}\n`);
  const app = createApplication(dir.path, { logger: captureLogger() });
  assert.deepEqual(app.match('a.cdn.b.cdn.c.example.com'), { site: 'two', pattern: '**.cdn.**.example.com', wildcards: ['a', 'b.cdn.c'] });
  assert.deepEqual(app.match('cdn.example.com'), { site: 'two', pattern: '**.cdn.**.example.com', wildcards: ['', ''] });
  assert.equal(app.match('cdn.example.org'), null);
});

test('with trust proxy, X-Forwarded-Host wins over Forwarded: host=', async () => {
  await withServer('trust-proxy', {}, async (port) => {
    const both = get('front.test', { headers: 'Forwarded: host=front.test\r\nX-Forwarded-Host: back.test\r\n' });
    assert.equal((await siteFor(port, both)).site, 'back');
  });
});

test('with trust proxy, Forwarded is parsed as RFC 7239: quoted strings, escapes, any case, several elements and lines', async () => {
  await withServer('trust-proxy', {}, async (port) => {
    const siteOf = async (headers: string) => (await siteFor(port, get('front.test', { headers }))).site;
    // A comma or semicolon inside a quoted string splits nothing.
    assert.equal(await siteOf('Forwarded: for="1.2.3.4,5";host=back.test\r\n'), 'back');
    assert.equal(await siteOf('Forwarded: for="x;host=front.test";host=back.test\r\n'), 'back');
    // Parameter names in any case, a quoted host with a port, an escaped character.
    assert.equal(await siteOf('Forwarded: For=192.0.2.1;HOST="Back.Test:8443"\r\n'), 'back');
    assert.equal(await siteOf('Forwarded: host="back\\.test"\r\n'), 'back');
    // The first element counts, across header lines: it has no host here, so Host routes.
    assert.equal(await siteOf('Forwarded: host=back.test, host=front.test\r\n'), 'back');
    assert.equal(await siteOf('Forwarded: host=back.test\r\nForwarded: host=front.test\r\n'), 'back');
    assert.equal(await siteOf('Forwarded: for=192.0.2.1\r\nForwarded: host=back.test\r\n'), 'front');
    // A malformed Forwarded is a 400, even when X-Forwarded-Host supplies the host; so is
    // host named twice in the element that counts.
    for (const headers of [
      'Forwarded: for="1.2.3.4\r\n',
      'Forwarded: host=back.test;\r\n',
      'Forwarded: host=back.test,,for=a\r\n',
      'Forwarded: host\r\n',
      'Forwarded: host=back test\r\n',
      'Forwarded: host=back.test;HOST=front.test\r\n',
      'Forwarded: for="x\r\nX-Forwarded-Host: back.test\r\n',
    ]) {
      assert.equal(statusOf(await rawRequest(port, get('front.test', { headers }))), 400, headers);
    }
    // host twice in a later element does not decide the route.
    assert.equal(await siteOf('Forwarded: host=back.test, host=a;host=b\r\n'), 'back');
  });
  // Without trust, Forwarded is not read at all, malformed or not.
  await withServer('trust-proxy', { trustProxy: false }, async (port) => {
    assert.equal((await siteFor(port, get('front.test', { headers: 'Forwarded: for="1.2.3.4\r\n' }))).site, 'front');
  });
});
