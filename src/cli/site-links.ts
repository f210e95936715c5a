import type { Effect } from './tree-check.js';
import { OK, PROBLEMS, type Invocation } from './command.js';
import { err, out, printProblems } from './output.js';

// What enable and disable share: each name is planned on its own; the tree
// the changes would make is checked (unless --force); only then is the disk
// changed, and the running server told (or the user told how to tell it).

/** What one name came to: a change to apply, nothing to do, or a problem (which makes the exit status 1). */
export interface Outcome {
  readonly changed: boolean;
  readonly problem?: string;
  readonly message?: string;
  readonly effect?: Effect;
  /** Makes the change on disk. */
  readonly apply?: () => void;
}

export const LINK_OPTIONS = {
  force: { type: 'boolean' },
  reload: { type: 'boolean' },
  admin: { type: 'string' },
  pidfile: { type: 'string' },
} as const;

export const LINK_OPTION_HELP: readonly (readonly [string, string])[] = [
  ['--force', 'change the links even when the tree they make has problems'],
  ['--reload', 'then reload the running server and print the result (through its admin listener, [admin] listen)'],
  ['--admin ADDRESS', 'with --reload: the admin listener, HOST:PORT or unix:/PATH'],
  ['--pidfile FILE', 'with --reload, where there is no admin listener: send SIGHUP to the pid FILE holds (the result is in the server\'s log only)'],
];

/** `blog` or `blog.ini` → `blog`; undefined for what cannot be a file in sites-available. */
function siteName(arg: string): string | undefined {
  const name = arg.endsWith('.ini') ? arg.slice(0, -'.ini'.length) : arg;
  if (name === '' || name.startsWith('.') || name.includes('/') || name.includes('\\') || name.includes('\0')) return undefined;
  return name;
}

/** Each name is planned on its own; any problem makes the exit status 1. */
export async function changeSites(plan: (configDir: string, name: string) => Outcome, { configDir, values, positionals }: Invocation): Promise<number> {
  let problems = 0;
  const outcomes: Outcome[] = [];
  for (const arg of positionals) {
    const name = siteName(arg);
    let outcome: Outcome;
    try {
      outcome = name === undefined ? { changed: false, problem: `"${arg}" is not a site name` } : plan(configDir, name);
    } catch (error) {
      outcome = { changed: false, problem: `${arg}: ${(error as Error).message}` };
    }
    if (outcome.problem !== undefined) {
      err(`hostmux: ${outcome.problem}`);
      problems++;
    }
    outcomes.push(outcome);
  }
  const changes = outcomes.filter((outcome) => outcome.changed);
  if (changes.length > 0 && values.force !== true) {
    const { problemsAfter } = await import('./tree-check.js');
    const found = problemsAfter(configDir, changes.map((change) => change.effect!));
    if (found.length > 0) {
      printProblems(configDir, found);
      err('hostmux: nothing was changed: the tree would not load (--force changes it anyway)');
      return PROBLEMS;
    }
  }
  for (const outcome of outcomes) {
    if (outcome.changed) {
      try {
        outcome.apply!();
      } catch (error) {
        err(`hostmux: ${(error as Error).message}`);
        problems++;
        continue;
      }
    }
    if (outcome.message !== undefined) out(outcome.message);
  }
  if (changes.length > 0) problems += await reloadAfter(configDir, values);
  return problems === 0 ? OK : PROBLEMS;
}

/** Tells the running server, as --reload says: through the admin listener, or SIGHUP to --pidfile. The problems it met. */
async function reloadAfter(configDir: string, values: Invocation['values']): Promise<number> {
  if (values.reload !== true) {
    out('To activate the new configuration, reload hostmux serve:');
    out('  hostmux reload    (or kill -HUP $(cat PIDFILE); or run this with --reload)');
    return 0;
  }
  const pidfile = values.pidfile as string | undefined;
  if (pidfile !== undefined && values.admin === undefined) {
    const { signalPidfile } = await import('./serve/pidfile.js');
    const sent = signalPidfile(pidfile, 'SIGHUP');
    if (sent.error !== undefined) {
      err(`hostmux: ${sent.error}; the configuration was changed but not reloaded`);
      return 1;
    }
    out(`Reloading hostmux: sent SIGHUP to process ${sent.pid}; the result is in its log.`);
    return 0;
  }
  const { reloadThroughAdmin } = await import('./admin-commands.js');
  const outcome = await reloadThroughAdmin(configDir, values);
  if (outcome === 'unreachable') err('hostmux: the configuration was changed but not reloaded');
  return outcome === 0 ? 0 : 1;
}
