// The worst per-match cost of the pattern labels hostmux accepts: each
// pattern below against hostile host labels of up to 63 characters, timed
// through the routing code a request uses (matchPattern). The unit tests
// run the same pairs once each, without timing (test/patterns.test.ts).
//
//   node --import tsx test/bench/pattern-cost.ts
import { pathToFileURL } from 'node:url';
import { compileDomain, matchPattern, type Pattern } from '../../src/routing/pattern.ts';

/** 64 overlapping alternatives: every string of a and b of length 1 to 5, then two of 6. */
const AB = Array.from({ length: 64 }, (_, i) => (i + 2).toString(2).slice(1).replace(/0/g, 'a').replace(/1/g, 'b')).join(',');

/** Labels a pattern may have, built to make a backtracking matcher work hardest. */
export const WORST_LABELS: readonly string[] = [
  // The security report's: k stars separated by one character.
  '*-*-*-*-*-*z',
  '*-*-*-*-*-*-*z',
  '*a*a*a*a*a*a*a*a*b',
  // Many stars, ?, classes: the simple form, matched without backtracking.
  `${'*a'.repeat(40)}*b`,
  `${'*?'.repeat(40)}*b`,
  `${'*[ab]'.repeat(30)}*c`,
  `*${'a?'.repeat(30)}*b`,
  `x${'[a-z0-9_-]'.repeat(60)}*`,
  `${'?'.repeat(62)}*z`,
  // Braces and extglobs: picomatch's regex, at the 4096-path bound.
  `{${AB}}*c`,
  `*{${AB}}c`,
  '@(a|aa)'.repeat(12),
  `${'@(a|aa)'.repeat(6)}*b`,
  '{a,aa}'.repeat(12),
  '?(a)'.repeat(12),
  `${'?(a)'.repeat(6)}*b`,
  'x!(a)!(b)',
  'x!(b)*',
  '@(a)*-*',
  '@(a)*a*',
  '{a,b}-*',
];

/** Host labels to try a pattern label on: runs of its characters, with a different last one. */
export function hostileLabels(pattern: string): string[] {
  const letters = new Set(pattern.replace(/[^a-z0-9_-]/g, '') + 'a-');
  const labels: string[] = [];
  for (const c of letters) {
    for (const last of ['y', 'z', 'b', 'c', c]) {
      for (const length of [63, 40, 20]) labels.push(c.repeat(length - 1) + last);
    }
    for (const d of letters) {
      if (d !== c) labels.push((c + d).repeat(32).slice(0, 63), `${(c + d).repeat(31)}y`, `${c}${d.repeat(61)}y`, `x${c}${d.repeat(60)}y`);
    }
  }
  return labels;
}

/** Compiles `<label>.cost.test`; throws if hostmux refuses it. */
export function compileLabelPattern(label: string): Pattern {
  const compiled = compileDomain(`${label}.cost.test`);
  if (typeof compiled === 'string') throw new Error(compiled);
  if (compiled.kind !== 'pattern') throw new Error(`${label} compiled to an exact domain`);
  return compiled.pattern;
}

/** µs per match of `pattern` on `label`: the median of five rounds of at least `ms` each, so that a busy machine's pauses do not count. */
function timeMatch(pattern: Pattern, label: string, ms: number): number {
  const rounds = Array.from({ length: 5 }, () => timeRound(pattern, label, ms / 5)).sort((a, b) => a - b);
  return rounds[2]!;
}

function timeRound(pattern: Pattern, label: string, ms: number): number {
  const host = [label];
  for (let i = 0; i < 50; i++) matchPattern(pattern, host, []);
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < BigInt(ms * 1e6)) {
    for (let i = 0; i < 20; i++) matchPattern(pattern, host, []);
    calls += 20;
    elapsed = process.hrtime.bigint() - start;
  }
  return Number(elapsed) / 1000 / calls;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let worst = { us: 0, label: '', host: '' };
  console.log('| pattern label | worst host label | µs per match |');
  console.log('| --- | --- | ---: |');
  for (const label of WORST_LABELS) {
    const pattern = compileLabelPattern(label);
    // A quick pass over every hostile label, then the three slowest again, longer.
    const quick = hostileLabels(label).map((host) => ({ host, us: timeMatch(pattern, host, 2) }));
    quick.sort((a, b) => b.us - a.us);
    let row = { us: 0, host: '' };
    for (const { host } of quick.slice(0, 3)) {
      const us = timeMatch(pattern, host, 50);
      if (us > row.us) row = { us, host };
    }
    const short = (text: string) => (text.length > 40 ? `${text.slice(0, 37)}…` : text);
    console.log(`| \`${short(label)}\` | \`${short(row.host)}\` (${row.host.length}) | ${row.us.toFixed(2)} |`);
    if (row.us > worst.us) worst = { us: row.us, label, host: row.host };
  }
  console.log(`\nworst: ${worst.us.toFixed(2)} µs per match (${worst.label.slice(0, 60)} on ${worst.host.slice(0, 20)}…, ${process.version})`);
}
