import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Exit codes, as SPEC 7 fixes them. */
export const OK = 0;
export const PROBLEMS = 1;
export const USAGE = 2;

/** Bad usage: the message and the usage (of `command`, else of the command run) go to stderr; exit code 2. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: Command) {
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
    if (String((error as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError((error as Error).message, command);
    }
    throw error;
  }
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
