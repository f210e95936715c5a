import { formatProblem, plural, type ConfigProblem } from '../errors.js';
import { escapeControls } from '../escape-controls.js';

export { plural };

/** Rows as aligned columns; the last column is not padded, so no line ends in spaces. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
    .join('\n');
}

// The streams' own write, taken before anything can replace it: check
// discards what the sites write while it loads them, and the command's own
// words must still get out (main's last word on a hang comes then).
const writeOut = process.stdout.write.bind(process.stdout);
const writeErr = process.stderr.write.bind(process.stderr);

export function out(text: string): void {
  writeOut(`${text}\n`);
}

export function err(text: string): void {
  writeErr(`${text}\n`);
}

export function json(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

/** Every configuration problem on stderr, under one heading. */
export function printProblems(configDir: string, problems: readonly ConfigProblem[]): void {
  err(`hostmux: ${plural(problems.length, 'configuration problem')} in ${configDir}:`);
  // A file name or a configured value may hold control characters: one line each, nothing for the terminal to act on.
  for (const problem of problems) err(`  ${escapeControls(formatProblem(problem))}`);
}
