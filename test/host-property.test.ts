// Property: hostmux reads a host as a browser's URL parser (WHATWG URL, as
// `new URL()`) does. Whatever hostmux accepts, WHATWG accepts and gives the
// same host (hostmux also drops one trailing dot of a name); whatever WHATWG
// rejects, hostmux answers 400. Generated hosts, seeded: the seed is printed
// as a diagnostic, and HOSTMUX_PROPERTY_SEED=<seed> replays a run.
import assert from 'node:assert/strict';
import { domainToASCII } from 'node:url';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { createApplication, type Application } from '../src/index.ts';
import { normalizeHost } from '../src/routing/hostname.ts';
import { captureLogger, listen, rawRequestUntilClosed, statusOf, tempDir, writeTree, type LogRecord, type Running } from './helpers.ts';

const SEED = Number(process.env.HOSTMUX_PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Through normalizeHost, per run of the suite. */
const BULK_RUNS = 100_000;
/** Through app.match(), and over real HTTP. */
const MATCH_RUNS = 10_000;
const HTTP_RUNS = 2_000;

// ---------------------------------------------------------------------------
// Hosts: names, IPv4 addresses however written, IPv6 literals, punycode,
// ports, and noise, each sometimes uppercased or with a trailing dot.

const chars = (text: string) => fc.constantFrom(...text);
const hex = (n: number) => n.toString(16);

const ipv4Part = fc.oneof(
  fc.integer({ min: 0, max: 300 }).map(String),
  fc.integer({ min: 0, max: 0xffffffff }).map(String),
  fc.integer({ min: 0, max: 300 }).map((n) => `0x${hex(n)}`),
  fc.integer({ min: 0, max: 300 }).map((n) => `0${n.toString(8)}`),
  fc.constantFrom('0x', '0X', '00', '09', '0x1g', '1e2', '4294967296'),
);
const ipv4 = fc.array(ipv4Part, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.'));

/** A valid punycode label from a Unicode one, or a broken one. */
const punycode = fc.oneof(
  fc.string({ unit: fc.constantFrom('ü', 'é', 'ß', 'ж', '中', '😀', 'a', '-'), minLength: 1, maxLength: 5 }).map((text) => domainToASCII(text).split('.')[0] || 'xn--a'),
  fc.constantFrom('xn--', 'xn--zz', 'xn--a', 'XN--BCHER-KVA', 'xn--bcher-kva', 'xn--ls8h', 'xn--0', 'xn---', 'xn--a-'),
);
const label = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: chars('abcxyzABXN0189-_'), minLength: 1, maxLength: 8 }) },
  { weight: 1, arbitrary: punycode },
  { weight: 1, arbitrary: fc.constantFrom('localhost', 'l'.repeat(63), 'l'.repeat(64), '0x7f', '1', '255', '256', '-', '_') },
);
const name = fc.tuple(fc.array(label, { minLength: 1, maxLength: 6 }), fc.constantFrom('', '', '.fx.test', '.test'))
  .map(([labels, suffix]) => labels.join('.') + suffix);

const ipv6Piece = fc.oneof(fc.integer({ min: 0, max: 0xffff }).map(hex), fc.constantFrom('', '0', '0000', '00000', 'FFFF', 'g'));
const ipv6Noisy = fc.tuple(
  fc.array(ipv6Piece, { minLength: 1, maxLength: 9 }),
  fc.constantFrom('', '', ':1.2.3.4', ':01.2.3.4', ':256.0.0.1', '%eth0', '%25lo', '::'),
).map(([pieces, tail]) => `[${pieces.join(':')}${tail}]`);
/** Well-formed addresses, spelled with leading zeros, in full or with `::`. */
const ipv6Piece0 = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 3 })).map(([n, pad]) => hex(n).padStart(pad, '0'));
const ipv6Valid = fc.oneof(
  fc.array(ipv6Piece0, { minLength: 8, maxLength: 8 }).map((pieces) => pieces.join(':')),
  fc.tuple(fc.array(ipv6Piece0, { maxLength: 3 }), fc.array(ipv6Piece0, { maxLength: 3 })).map(([a, b]) => `${a.join(':')}::${b.join(':')}`),
).map((address) => `[${address}]`);
const ipv6 = fc.oneof(ipv6Noisy, ipv6Valid);

const noise = fc.string({ unit: chars('a.:-_[]%@/ \\?#*1xX\tü'), maxLength: 12 });

const port = fc.oneof(
  fc.integer({ min: 0, max: 70_000 }).map(String),
  fc.integer({ min: 0, max: 70_000 }).map((n) => `000${n}`),
  fc.constantFrom('', '0000000000080', '99999999999999999999', '8x', '-1', ' 80'),
);

const host = fc.tuple(
  fc.oneof({ weight: 4, arbitrary: name }, { weight: 3, arbitrary: ipv4 }, { weight: 2, arbitrary: ipv6 }, { weight: 1, arbitrary: noise }),
  fc.boolean(), // uppercase
  fc.boolean(), // trailing dot
  fc.option(port, { freq: 3 }),
).map(([text, upper, dot, p]) => {
  let sent = upper ? text.toUpperCase() : text;
  if (dot && !sent.startsWith('[')) sent += '.';
  return p === null ? sent : `${sent}:${p}`;
});

// ---------------------------------------------------------------------------
// The reference: the host `new URL()` gives for `http://<sent>/`.

/** Characters that end a URL's host or are stripped from it: never part of a Host hostmux reads as one. */
// eslint-disable-next-line no-control-regex -- control characters are what it is about
const URL_STRUCTURE = /[/\\?#@\s\x00-\x1f\x7f]/;

function whatwgHost(sent: string): string | undefined {
  if (URL_STRUCTURE.test(sent)) return undefined;
  try {
    return new URL(`http://${sent}/`).hostname;
  } catch {
    return undefined;
  }
}

/** Fails unless hostmux's host for `sent` agrees with WHATWG's (or is a 400 where WHATWG rejects). */
function checkAgreement(sent: string): string | undefined {
  const routed = normalizeHost(sent);
  const reference = whatwgHost(sent);
  if (reference === undefined) {
    assert.equal(routed, undefined, `WHATWG rejects ${JSON.stringify(sent)}, hostmux routes it as ${JSON.stringify(routed)}`);
    return undefined;
  }
  if (routed === undefined) return undefined; // stricter than WHATWG (`a..b`, `%41`, a long label): a documented 400
  // The one documented difference: hostmux drops a name's trailing dot.
  const expected = reference.endsWith('.') ? reference.slice(0, -1) : reference;
  assert.equal(routed, expected, `host of ${JSON.stringify(sent)}: WHATWG ${JSON.stringify(reference)}`);
  assert.equal(normalizeHost(routed), routed, `${JSON.stringify(routed)} is not a fixed point`);
  return routed;
}

test(`normalizeHost agrees with new URL() on ${BULK_RUNS} generated hosts`, (t) => {
  t.diagnostic(`seed ${SEED} (HOSTMUX_PROPERTY_SEED=${SEED} replays it)`);
  // How the hosts spread, so that a generator change cannot quietly test nothing.
  const seen = { routed: 0, rewritten: 0, ipv4: 0, ipv6: 0, whatwgRejects: 0, stricter: 0 };
  fc.assert(
    fc.property(host, (sent) => {
      const routed = checkAgreement(sent);
      if (routed === undefined) {
        if (whatwgHost(sent) === undefined) seen.whatwgRejects++;
        else seen.stricter++;
        return;
      }
      seen.routed++;
      if (routed !== sent.toLowerCase().replace(/\.?(:\d*)?$/, '')) seen.rewritten++;
      if (/^\d+\.\d+\.\d+\.\d+$/.test(routed)) seen.ipv4++;
      if (routed.startsWith('[')) seen.ipv6++;
    }),
    { seed: SEED, numRuns: BULK_RUNS },
  );
  t.diagnostic(JSON.stringify(seen));
  for (const [what, count] of Object.entries(seen)) assert.ok(count > BULK_RUNS / 100, `only ${count} hosts ${what}`);
});

test('the hosts of the security report: WHATWG-canonical, or 400', () => {
  for (const [sent, routed] of [
    ['127.1', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['127.0.0.01', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    ['[0::1]', '[::1]'],
    ['[::0001]', '[::1]'],
    ['[0:0:0:0:0:0:0:1]', '[::1]'],
    ['[::FFFF:1.2.3.4]:443', '[::ffff:102:304]'],
    ['a.test:000080', 'a.test'],
    ['A.Test:0000065535', 'a.test'],
    ['XN--BCHER-KVA.test', 'xn--bcher-kva.test'],
    ['xn--.fx.test', undefined],
    ['xn--zz.fx.test', undefined],
    ['1.2.3.4.5', undefined],
    ['256.1.1.1', undefined],
    ['a.1', undefined],
    ['[::1%eth0]', undefined],
    ['[fe80::1%25lo]', undefined],
    ['a.test:65536', undefined],
    ['a.test:0000065536', undefined],
  ] as const) {
    assert.equal(normalizeHost(sent), routed, JSON.stringify(sent));
    checkAgreement(sent);
  }
});

// ---------------------------------------------------------------------------
// Through app.match() and over real HTTP, against a tree with a `**`
// pattern site, exact IP sites and a default site, all fetch-style (whose
// `new Request()` would throw on a host WHATWG rejects).

const FETCH_SITE =
  'export default { fetch(request) { return Response.json({ url: request.url }); } };\n';
const dir = tempDir('hostmux-property-');
const records: LogRecord[] = [];
let app: Application;
let running: Running;

before(async () => {
  writeTree(dir.path, {
    'hostmux.conf': '[server]\ndefault_site = fallback\n',
    'sites-enabled/fx.ini': '[site]\ndomains = **.fx.test\nhandler = ../site.mjs\n',
    'sites-enabled/ip.ini': '[site]\ndomains = 127.0.0.1, [0:0::1]\nhandler = ../site.mjs\n',
    'sites-enabled/fallback.ini': '[site]\ndomains = fallback.test\nhandler = ../site.mjs\n',
    'site.mjs': FETCH_SITE,
  });
  app = createApplication(dir.path, { logger: captureLogger(records) });
  running = await listen(app);
});

after(async () => {
  await running?.close();
  await app?.close();
  dir.remove();
});

/** The site and wildcards a routed host must get in this tree. */
function expectedRoute(routed: string): { site: string; pattern: string | null; wildcards: string[] } {
  if (routed === 'fx.test') return { site: 'fx', pattern: '**.fx.test', wildcards: [''] };
  if (routed.endsWith('.fx.test')) return { site: 'fx', pattern: '**.fx.test', wildcards: [routed.slice(0, -'.fx.test'.length)] };
  if (routed === '127.0.0.1' || routed === '[::1]') return { site: 'ip', pattern: routed, wildcards: [] };
  if (routed === 'fallback.test') return { site: 'fallback', pattern: routed, wildcards: [] };
  return { site: 'fallback', pattern: null, wildcards: [] };
}

test(`app.match() routes ${MATCH_RUNS} generated hosts by their WHATWG host`, (t) => {
  t.diagnostic(`seed ${SEED}`);
  fc.assert(
    fc.property(host, (sent) => {
      checkAgreement(sent);
      const routed = normalizeHost(sent);
      const found = app.match(sent);
      if (routed === undefined) assert.equal(found, null, JSON.stringify(sent));
      else assert.deepEqual(found, expectedRoute(routed), JSON.stringify(sent));
    }),
    { seed: SEED + 1, numRuns: MATCH_RUNS },
  );
});

test(`over HTTP, ${HTTP_RUNS} generated Host headers: 400 or the WHATWG host, never a 5xx`, async (t) => {
  t.diagnostic(`seed ${SEED}`);
  // A header line cannot carry CR or LF; everything else is sent as it is (UTF-8).
  const hosts = fc.sample(host, { seed: SEED + 2, numRuns: HTTP_RUNS }).filter((sent) => !/[\r\n]/.test(sent));
  const from = records.length;
  let next = 0;
  const worker = async () => {
    while (next < hosts.length) {
      const sent = hosts[next++]!;
      const what = `Host: ${JSON.stringify(sent)} (seed ${SEED})`;
      const answer = await rawRequestUntilClosed(running.port, Buffer.from(`GET /p HTTP/1.1\r\nHost: ${sent}\r\nConnection: close\r\n\r\n`));
      const status = statusOf(answer);
      // HTTP strips the whitespace around a header value.
      const routed = normalizeHost(sent.replace(/^[ \t]+|[ \t]+$/g, ''));
      if (routed === undefined) {
        assert.equal(status, 400, what);
        continue;
      }
      assert.equal(status, 200, `${what}: ${answer.slice(0, 200)}`);
      // The body may be chunked: find the one JSON object in it.
      const json = /\{"url":"[^"]*"\}/.exec(answer);
      assert.ok(json, `${what}: ${answer.slice(0, 200)}`);
      const body = JSON.parse(json[0]) as { url: string };
      // Request.url may keep the trailing dot that was sent (WHATWG keeps it).
      assert.equal(new URL(body.url).hostname.replace(/\.$/, ''), routed, `${what}: the site's Request.url`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const trouble = records.slice(from).filter((r) => r.level === 'error' || r.level === 'warn');
  assert.deepEqual(trouble, [], 'hostmux logged an error');
});
