// "Did you mean …?" for a mistyped name: the known name closest by edit
// distance, ignoring case, when it is close enough to be the one meant.

/** Levenshtein distance, one row at a time (names are short). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, substitute));
    }
    previous = row;
  }
  return previous[b.length]!;
}

/**
 * The name of `known` nearest to `name`, or undefined when none is within
 * a third of the name's length (at least 1, at most 3 edits).
 */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  const wanted = name.toLowerCase();
  const bound = Math.min(3, Math.max(1, Math.floor(wanted.length / 3)));
  let best: string | undefined;
  let bestDistance = bound + 1;
  for (const candidate of known) {
    // Farther apart in length than the bound: not near (and a huge name costs nothing).
    if (Math.abs(candidate.length - wanted.length) > bound) continue;
    const d = distance(wanted, candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** `unknown option "trustproxy" (did you mean "trustProxy"?)`, or the list of known options. */
export function unknownOptionMessage(name: string, known: readonly string[]): string {
  const near = nearestName(name, known);
  const hint = near === undefined ? `the options are ${known.join(', ')}` : `did you mean "${near}"?`;
  const shown = name.length > 100 ? `${name.slice(0, 100)}…` : name;
  return `unknown option ${JSON.stringify(shown)} (${hint})`;
}
