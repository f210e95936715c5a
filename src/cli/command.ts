import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Exit codes, as the README's "The hostmux command" states them. */
export const OK = 0;
export const PROBLEMS = 1;
export const USAGE = 2;

/** Bad usage: the message and the usage (of `command`, else of the command run) go to stderr; exit code 2. */
export class UsageError extends Error {
  /**
   * @param hintOnly - print a one-line pointer to --help instead of the
   *   whole usage (the message says all there is to fix)
   */
  constructor(message: string, readonly command?: Command, readonly hintOnly = false) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

/** What a subcommand is run with, once its arguments are parsed. */
export interface Invocation {
  /** The absolute config dir: --config, else $HOSTMUX_HOME, else /etc/hostmux. */
  readonly configDir: string;
  readonly values: Values;
  readonly positionals: readonly string[];
}

export interface Command {
  readonly name: string;
  /** One line for `hostmux --help`. */
  readonly summary: string;
  /** The synopsis after `hostmux [--config DIR] `. */
  readonly synopsis: string;
  /** What the command does, a paragraph. */
  readonly description: string;
  /** The command's own options; --config and --help are added to every command. */
  readonly options: Options;
  /** Help lines for `options`: `['--json', 'print JSON']`. */
  readonly optionHelp: readonly (readonly [string, string])[];
  /** How many positionals it takes. */
  readonly arity: readonly [min: number, max: number];
  /** Runs the command (its code is imported then); resolves with the exit code. */
  run(invocation: Invocation): Promise<number>;
}

/** Options every command takes, before or after its name. */
export const COMMON_OPTIONS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

const COMMON_HELP: readonly (readonly [string, string])[] = [
  ['-c, --config DIR', 'the configuration directory (default: $HOSTMUX_HOME, else /etc/hostmux)'],
  ['-h, --help', 'print this help'],
];

export function commandUsage(command: Command): string {
  const help = [...command.optionHelp, ...COMMON_HELP];
  const width = Math.max(...help.map(([flag]) => flag.length));
  return [
    `Usage: hostmux [--config DIR] ${command.name}${command.synopsis ? ` ${command.synopsis}` : ''}`,
    '',
    command.description,
    '',
    'Options:',
    ...help.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`),
  ].join('\n');
}

/** parseArgs in strict mode; its errors become UsageErrors (exit 2). */
export function parse(args: readonly string[], options: Options, command?: Command): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: [...args], options, strict: true, allowPositionals: command !== undefined });
    return { values: values as Values, positionals };
  } catch (error) {
    const code = String((error as NodeJS.ErrnoException).code);
    const unknown = /^Unknown option '([^']*)'/.exec((error as Error).message)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown !== undefined) {
      const near = unknown.startsWith('--') ? nearest(unknown.slice(2), Object.keys(options)) : undefined;
      throw new UsageError(`unknown option ${unknown}${near === undefined ? '' : ` (did you mean --${near}?)`}`, command, true);
    }
    if (code.startsWith('ERR_PARSE_ARGS')) throw new UsageError((error as Error).message, command);
    throw error;
  }
}

/**
 * Edit distance with transpositions (optimal string alignment): `prot` is 1
 * from `port`, as a typist would count it.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known name nearest to `name`, when it is close enough to be a typo:
 * at most one edit per three letters (at least one); undefined otherwise.
 */
export function nearest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** A non-negative integer option, or a UsageError naming it. */
export function integerOption(values: Values, name: string, fallback: number, min: number, max: number): number {
  const text = values[name];
  if (text === undefined) return fallback;
  const number = Number(text);
  if (typeof text !== 'string' || !/^\d+$/.test(text) || number < min || number > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not "${String(text)}"`);
  }
  return number;
}

/** setTimeout's limit, in seconds. */
const MAX_SECONDS = 2_147_483;

/** A number of seconds (`30`, `0.5`), in milliseconds; or a UsageError naming the option. */
export function secondsOption(values: Values, name: string, fallbackSeconds: number): number {
  const text = values[name];
  if (text === undefined) return fallbackSeconds * 1000;
  const seconds = Number(text);
  if (typeof text !== 'string' || !/^(\d+(\.\d*)?|\.\d+)$/.test(text) || seconds > MAX_SECONDS) {
    throw new UsageError(`--${name} must be a number of seconds, not "${String(text)}"`);
  }
  return Math.round(seconds * 1000);
}
