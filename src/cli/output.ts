import type { ConfigProblem } from '../errors.js';

/** One configuration problem as `file:line [section] key: message`, the form ConfigError's message uses. */
export function formatProblem(problem: ConfigProblem): string {
  let where = problem.file;
  if (problem.line !== undefined) where += `:${problem.line}`;
  if (problem.section !== undefined) where += ` [${problem.section}]`;
  if (problem.key !== undefined) where += ` ${problem.key}`;
  return `${where}: ${problem.message}`;
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Rows as aligned columns; the last column is not padded, so no line ends in spaces. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
    .join('\n');
}

export function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function err(text: string): void {
  process.stderr.write(`${text}\n`);
}

export function json(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

/** Every configuration problem on stderr, under one heading. */
export function printProblems(configDir: string, problems: readonly ConfigProblem[]): void {
  err(`hostmux: ${plural(problems.length, 'configuration problem')} in ${configDir}:`);
  for (const problem of problems) err(`  ${formatProblem(problem)}`);
}
