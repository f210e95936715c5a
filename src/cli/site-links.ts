import { OK, PROBLEMS, type Invocation } from './command.js';
import { err, out } from './output.js';
import { signalPidfile } from './serve/pidfile.js';

// What enable and disable share: each name is changed on its own, then the
// running server is told (or the user is told how to tell it).

/** What one name came to: a change, nothing to do, or a problem (which makes the exit status 1). */
export type Outcome = { readonly changed: boolean; readonly problem?: string; readonly message?: string };

/** `blog` or `blog.ini` → `blog`; undefined for what cannot be a file in sites-available. */
function siteName(arg: string): string | undefined {
  const name = arg.endsWith('.ini') ? arg.slice(0, -'.ini'.length) : arg;
  if (name === '' || name.startsWith('.') || name.includes('/') || name.includes('\\') || name.includes('\0')) return undefined;
  return name;
}

/** Each name is done on its own; any problem makes the exit status 1. */
export async function changeSites(change: (configDir: string, name: string) => Outcome, { configDir, values, positionals }: Invocation): Promise<number> {
  let problems = 0;
  let changed = false;
  for (const arg of positionals) {
    const name = siteName(arg);
    let outcome: Outcome;
    try {
      outcome = name === undefined ? { changed: false, problem: `"${arg}" is not a site name` } : change(configDir, name);
    } catch (error) {
      outcome = { changed: false, problem: `${arg}: ${(error as Error).message}` };
    }
    if (outcome.message !== undefined) out(outcome.message);
    if (outcome.problem !== undefined) {
      err(`hostmux: ${outcome.problem}`);
      problems++;
    }
    changed ||= outcome.changed;
  }
  if (changed) {
    const pidfile = values.reload as string | undefined;
    if (pidfile === undefined) {
      out('To activate the new configuration, reload hostmux serve:');
      out('  kill -HUP $(cat PIDFILE)    (PIDFILE as given to serve --pidfile; or run this with --reload PIDFILE)');
    } else {
      const sent = signalPidfile(pidfile, 'SIGHUP');
      if (sent.error !== undefined) {
        err(`hostmux: ${sent.error}; the configuration was changed but not reloaded`);
        problems++;
      } else {
        out(`Reloading hostmux: sent SIGHUP to process ${sent.pid}.`);
      }
    }
  }
  return problems === 0 ? OK : PROBLEMS;
}
