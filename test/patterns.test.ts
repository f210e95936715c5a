// Pattern labels: every accepted label matches any host label in bounded
// time (the hostile cases of test/bench/pattern-cost.ts, run once each,
// untimed), hostmux's own matcher for stars, ? and classes gives
// picomatch's answer and captures, and the forms that cannot be bounded are
// configuration problems.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import picomatch from 'picomatch';
import { ConfigError, createApplication } from '../src/index.ts';
import { starGroups } from '../src/routing/glob-syntax.ts';
import { compileDomain, matchPattern } from '../src/routing/pattern.ts';
import { compileLabelPattern, hostileLabels, WORST_LABELS } from './bench/pattern-cost.ts';
import { captureLogger, tempDir, writeTree } from './helpers.ts';

const SEED = Number(process.env.HOSTMUX_PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** What the label pattern `<label>.t.test` makes of a host label: null, or the wildcards. */
function hostmuxMatch(label: string, host: string): string[] | null {
  const compiled = compileDomain(`${label}.t.test`);
  assert.ok(typeof compiled !== 'string', `${label}: ${JSON.stringify(compiled)}`);
  assert.equal(compiled.kind, 'pattern');
  const wildcards: string[] = [];
  return compiled.kind === 'pattern' && matchPattern(compiled.pattern, [host], wildcards) ? wildcards : null;
}

// A hang guard only: without the bound, the first cases take minutes.
test('the hostile cases of the security report finish, with the right answer', { timeout: 120_000 }, () => {
  assert.equal(hostmuxMatch('*-*-*-*-*-*z', `${'-'.repeat(62)}y`), null);
  assert.equal(hostmuxMatch('*-*-*-*-*-*-*z', `${'-'.repeat(62)}y`), null);
  assert.equal(hostmuxMatch('*a*a*a*a*a*a*a*a*b', 'a'.repeat(63)), null);
  assert.deepEqual(hostmuxMatch('*-*-*-*-*-*z', `${'-'.repeat(62)}z`), ['', '', '', '', '', '-'.repeat(57)]);
  assert.deepEqual(hostmuxMatch('*a*a*a*a*a*a*a*a*b', `${'a'.repeat(62)}b`), [...Array(8).fill(''), 'a'.repeat(54)]);
});

test('every worst-case label of test/bench/pattern-cost.ts loads and finishes on every hostile host label', { timeout: 120_000 }, () => {
  for (const label of WORST_LABELS) {
    const pattern = compileLabelPattern(label);
    for (const host of hostileLabels(label)) matchPattern(pattern, [host], []);
  }
});

test('stars, ? and classes: the same answer and captures as picomatch, on generated labels', (t) => {
  t.diagnostic(`seed ${SEED} (HOSTMUX_PROPERTY_SEED=${SEED} replays it)`);
  const globLabel = fc.array(fc.constantFrom('a', 'b', '-', '*', '*', '?', '[ab]', '[^a]', '[a-b]'), { minLength: 1, maxLength: 8 })
    .map((parts) => parts.join(''))
    // A domain starting with `[` is an IPv6 literal; `*` and `**` alone are
    // whole-label wildcards, matched without a regex (routing.test.ts).
    .filter((label) => /[*?[]/.test(label) && !label.startsWith('[') && !/^\*+$/.test(label));
  const hostLabel = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '-'), minLength: 1, maxLength: 12 });
  fc.assert(
    fc.property(globLabel, hostLabel, (label, host) => {
      const regex = picomatch.makeRe(label, { capture: true, nonegate: true, dot: true });
      const found = regex.exec(host);
      const expected = found === null ? null : starGroups(regex.source).map((group) => found[group] ?? '');
      assert.deepEqual(hostmuxMatch(label, host), expected, `${label} on ${host}`);
    }),
    { seed: SEED, numRuns: 20_000 },
  );
});

/** The problems a site with these domains gets, as messages. */
function domainProblems(domains: string): string[] {
  const dir = tempDir();
  try {
    writeTree(dir.path, { 'sites-enabled/s.ini': `[site]\ndomains = ${domains}\nhandler = ./none.mjs\n` });
    createApplication(dir.path, { logger: captureLogger() });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => {
      assert.equal(p.key, 'domains');
      return p.message;
    });
  } finally {
    dir.remove();
  }
  return [];
}

test('labels that cannot be bounded are configuration problems, with a message that says why', () => {
  assert.deepEqual(domainProblems('+(+(a|aa))b.test'), [
    'label "+(+(a|aa))b" nests a group inside a group: nested groups can take exponential time to match',
  ]);
  assert.deepEqual(domainProblems('{a,{b,c}}.test'), [
    'label "{a,{b,c}}" nests a group inside a group: nested groups can take exponential time to match',
  ]);
  assert.deepEqual(domainProblems('+(a|aa)b.test'), [
    'label "+(a|aa)b" has +(…): a repeated group can take exponential time to match; use * or {a,b} instead',
  ]);
  assert.deepEqual(domainProblems('x*(a|b).test'), [
    'label "x*(a|b)" has *(…): a repeated group can take exponential time to match; use * or {a,b} instead',
  ]);
  const tooMany = 'label "{www,cdn}-*-*" could take too long to match: with braces or extglobs, a label may have at most two * ' +
    '(each * and !(…) counts 64 ways, each {…}, @(…), ?(…) its number of alternatives; at most 4096 in all)';
  assert.deepEqual(domainProblems('{www,cdn}-*-*.test'), [tooMany]);
  // At the bound: two stars, or one with 64 alternatives, or 12 two-way choices.
  assert.deepEqual(domainProblems('@(api)-*-*.test, {a,b,c,d}-*.test, {a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}.test'), []);
  // Stars, ? and classes alone have no bound on their number.
  assert.deepEqual(domainProblems(`${'*a'.repeat(40)}*.test`), []);
});

test('configured domains take the WHATWG form; one no browser can reach is a problem', (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  writeTree(dir.path, {
    'sites-enabled/ip.ini': '[site]\ndomains = 0x7f.1, [0:0::1], 10.0.0.*\nhandler = ./none.mjs\n',
    'sites-enabled/other.ini': '[site]\ndomains = other.test\nhandler = ./none.mjs\n',
  });
  const app = createApplication(dir.path, { logger: captureLogger() });
  assert.deepEqual(app.sites[0]!.domains, ['127.0.0.1', '[::1]', '10.0.0.*']);
  assert.deepEqual(app.match('127.0.0.1'), { site: 'ip', pattern: '127.0.0.1', wildcards: [] });
  assert.deepEqual(app.match('[::1]:8080'), { site: 'ip', pattern: '[::1]', wildcards: [] });
  assert.deepEqual(app.match('10.0.0.0x10'), { site: 'ip', pattern: '10.0.0.*', wildcards: ['16'] });

  assert.deepEqual(domainProblems('xn--zz.test'), ['"xn--zz.test" is a host browsers reject (WHATWG URL), so no request can reach it']);
  assert.deepEqual(domainProblems('1.2.3.4.5'), ['"1.2.3.4.5" is a host browsers reject (WHATWG URL), so no request can reach it']);
  assert.deepEqual(domainProblems('*.xn--zz.test'), ['label "xn--zz" is not valid punycode: browsers reject such a host, so it can never match']);
  assert.deepEqual(domainProblems('[::1%eth0]'), ['"[::1%eth0]" is not a bracketed IPv6 address (as a browser reads it)']);
  const never = (d: string) => `"${d}" can never match: a host ending in a number is an IPv4 address, routed as four decimal numbers 0–255 (127.0.0.1)`;
  assert.deepEqual(domainProblems('*.a.1, *.0x7f.1, *.1'), [never('*.a.1'), never('*.0x7f.1'), never('*.1')]);
  assert.deepEqual(domainProblems('127.1, 127.0.0.1'), ['"127.0.0.1" is listed twice']);
});

test('a huge configured value is cut in its problem message', () => {
  const [message] = domainProblems(`${'x'.repeat(1_000_000)}.test`);
  assert.ok(message !== undefined && message.length < 200, `a ${message?.length}-character message`);
  assert.equal(message, `"${'x'.repeat(100)}…" is longer than 1024 characters`);
});
