#!/usr/bin/env node
// The `hostmux` command: `hostmux [--config DIR] COMMAND [OPTIONS]`.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { COMMON_OPTIONS, OK, PROBLEMS, USAGE, UsageError, commandUsage, parse, type Command } from './command.js';
import { check } from './commands/check.js';
import { disable } from './commands/disable.js';
import { enable } from './commands/enable.js';
import { init } from './commands/init.js';
import { list } from './commands/list.js';
import { match } from './commands/match.js';
import { reload } from './commands/reload.js';
import { serve } from './commands/serve.js';
import { status } from './commands/status.js';
import { stop } from './commands/stop.js';
import { err, out } from './output.js';
const DEFAULT_CONFIG_DIR = '/etc/hostmux';

// Each command's file holds its help and its code; it imports what its code
// needs (the application, the serve machinery) only when it runs, so that
// --help and bad usage answer at once.
const COMMANDS: readonly Command[] = [init, serve, reload, status, stop, check, list, match, enable, disable];

function mainUsage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    'Usage: hostmux [--config DIR] COMMAND [OPTIONS]',
    '',
    'Serves many web sites from one Node.js process, routed by host name,',
    'configured by a directory with hostmux.conf, sites-available/ and sites-enabled/.',
    '',
    'Commands:',
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Options:',
    '  -c, --config DIR  the configuration directory (default: $HOSTMUX_HOME, else /etc/hostmux)',
    '  -h, --help        print this help',
    '  --version         print the version',
    '',
    'Run `hostmux COMMAND --help` for what a command takes.',
    'Exit status: 0 all is well, 1 problems were found, 2 bad usage (reload, status, stop: or no server answered).',
  ].join('\n');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Index of the command name: the first argument that is not a leading option or its value. */
function commandIndex(argv: readonly string[]): number {
  let index = 0;
  while (index < argv.length) {
    const arg = argv[index]!;
    if (arg === '--config' || arg === '-c') index += 2;
    else if (arg.startsWith('-') && arg !== '-') index += 1;
    else break;
  }
  return Math.min(index, argv.length);
}

/** The command being run, for the usage a UsageError prints. */
let current: Command | undefined;

async function main(argv: readonly string[]): Promise<number> {
  const index = commandIndex(argv);
  const global = parse(argv.slice(0, index), { ...COMMON_OPTIONS, version: { type: 'boolean' } });
  if (global.values.version === true) {
    out(version());
    return OK;
  }
  let name = argv[index];
  let rest = argv.slice(index + 1);
  let help = global.values.help === true;
  // `hostmux help [COMMAND]` is `hostmux [COMMAND] --help`.
  if (name === 'help') {
    help = true;
    name = rest[0];
    rest = rest.slice(1);
  }
  if (name === undefined) {
    if (help) {
      out(mainUsage());
      return OK;
    }
    throw new UsageError('no command given');
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) throw new UsageError(`unknown command "${name}"`);
  current = command;
  const { values, positionals } = parse(rest, { ...COMMON_OPTIONS, ...command.options }, command);
  if (help || values.help === true) {
    out(commandUsage(command));
    return OK;
  }
  const [min, max] = command.arity;
  if (positionals.length < min) throw new UsageError(`${command.name}: missing ${command.synopsis.split(' ').find((word) => /^[A-Z]/.test(word))}`, command);
  if (positionals.length > max) throw new UsageError(`${command.name}: unexpected argument "${positionals[max]}"`, command);
  const dir = (values.config as string | undefined) ?? (global.values.config as string | undefined) ?? (process.env.HOSTMUX_HOME || DEFAULT_CONFIG_DIR);
  return command.run({ configDir: resolve(dir), values, positionals });
}

// The command's promise still pending with nothing left to run (a promise
// that never settles): Node would exit 0 with nothing said.
process.once('beforeExit', () => {
  err(`hostmux: ${current?.name ?? 'the command'} stopped before it finished: nothing was left to wait for`);
  process.exit(PROBLEMS);
});

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      const command = error.command ?? current;
      if (error.hintOnly) {
        err(`hostmux: ${error.message}`);
        err(`Run 'hostmux ${command === undefined ? '' : `${command.name} `}--help' for the options.`);
      } else {
        err(`hostmux: ${error.message}\n`);
        err(command === undefined ? mainUsage() : commandUsage(command));
      }
      process.exit(USAGE);
    }
    err(`hostmux: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(PROBLEMS);
  },
);
