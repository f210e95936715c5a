import { mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import type { Command, Invocation } from '../command.js';
import { changeSites, type Outcome } from '../site-links.js';
import { ENABLED, lstatOrUndefined, realpathOrUndefined, siteFiles } from '../site-dirs.js';

// `hostmux enable`: its help and its code (a2ensite).

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

export const enable: Command = {
  name: 'enable',
  summary: 'enable sites: link sites-available/NAME.ini into sites-enabled (a2ensite)',
  synopsis: 'NAME... [--reload PIDFILE]',
  description: [
    'Enables each site NAME (a trailing .ini is accepted) by making the relative link',
    'sites-enabled/NAME.ini -> ../sites-available/NAME.ini. An enabled site is left',
    'as it is. A plain file, or a link to another file, in sites-enabled is never',
    'replaced. Every name is tried; any unknown or refused name makes the exit status 1.',
    'A running server picks the change up on reload (SIGHUP).',
  ].join('\n'),
  options: { reload: { type: 'string' } },
  optionHelp: [['--reload PIDFILE', 'then send SIGHUP to the hostmux serve whose pid PIDFILE holds']],
  arity: [1, Infinity],
  run: (invocation: Invocation) => changeSites(enableSite, invocation),
};
