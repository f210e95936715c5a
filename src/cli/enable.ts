import { mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { OK, PROBLEMS, type Invocation } from './command.js';
import { err, out } from './output.js';
import { signalPidfile } from './pidfile.js';
import { ENABLED, lstatOrUndefined, realpathOrUndefined, siteFiles } from './site-dirs.js';

/** What one name came to: a change, nothing to do, or a problem (which makes the exit status 1). */
type Outcome = { readonly changed: boolean; readonly problem?: string; readonly message?: string };

/** `blog` or `blog.ini` → `blog`; undefined for what cannot be a file in sites-available. */
function siteName(arg: string): string | undefined {
  const name = arg.endsWith('.ini') ? arg.slice(0, -'.ini'.length) : arg;
  if (name === '' || name.startsWith('.') || name.includes('/') || name.includes('\\') || name.includes('\0')) return undefined;
  return name;
}

function enableSite(configDir: string, name: string): Outcome {
  const { available, enabled } = siteFiles(configDir, name);
  const shown = `${ENABLED}/${name}.ini`;
  const target = realpathOrUndefined(available);
  if (lstatOrUndefined(available) === undefined || target === undefined) {
    return { changed: false, problem: `site ${name} does not exist: there is no readable sites-available/${name}.ini` };
  }
  const link = relative(dirname(enabled), available);
  const existing = lstatOrUndefined(enabled);
  let replaced = '';
  if (existing !== undefined) {
    if (!existing.isSymbolicLink()) return { changed: false, problem: `${shown} is a file, not a link: not touching it` };
    const points = realpathOrUndefined(enabled);
    if (points === target) return { changed: false, message: `Site ${name} already enabled` };
    // Another site's link, or one made by hand: not ours to replace. A dangling one is broken anyway.
    if (points !== undefined) return { changed: false, problem: `${shown} links to ${readlinkSync(enabled)}, not to ${link}: not touching it` };
    replaced = ` (replaced a dangling link to ${readlinkSync(enabled)})`;
    rmSync(enabled);
  }
  mkdirSync(dirname(enabled), { recursive: true });
  symlinkSync(link, enabled);
  return { changed: true, message: `Site ${name} enabled${replaced}.` };
}

function disableSite(configDir: string, name: string): Outcome {
  const { available, enabled } = siteFiles(configDir, name);
  const existing = lstatOrUndefined(enabled);
  if (existing === undefined) {
    if (lstatOrUndefined(available) === undefined) {
      return { changed: false, problem: `site ${name} does not exist: there is no sites-enabled/${name}.ini or sites-available/${name}.ini` };
    }
    return { changed: false, message: `Site ${name} already disabled` };
  }
  if (!existing.isSymbolicLink()) return { changed: false, problem: `${ENABLED}/${name}.ini is a file, not a link: not touching it` };
  rmSync(enabled);
  return { changed: true, message: `Site ${name} disabled.` };
}

/** enable and disable: each name is done on its own; any problem makes the exit status 1. */
async function run(change: typeof enableSite, { configDir, values, positionals }: Invocation): Promise<number> {
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

/** `hostmux enable NAME…`: see commands.ts. */
export const enable = (invocation: Invocation): Promise<number> => run(enableSite, invocation);

/** `hostmux disable NAME…`: see commands.ts. */
export const disable = (invocation: Invocation): Promise<number> => run(disableSite, invocation);
