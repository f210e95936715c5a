import { mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import type { Command, Invocation } from '../command.js';
import { changeSites, LINK_OPTION_HELP, LINK_OPTIONS, type Outcome } from '../site-links.js';
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
  }
  return {
    changed: true,
    message: `Site ${name} enabled${replaced}.`,
    effect: { add: { file: shown, realPath: target }, site: name },
    apply: () => {
      if (existing !== undefined) rmSync(enabled);
      mkdirSync(dirname(enabled), { recursive: true });
      symlinkSync(link, enabled);
    },
  };
}

export const enable: Command = {
  name: 'enable',
  summary: 'enable sites: link sites-available/NAME.ini into sites-enabled (a2ensite)',
  synopsis: 'NAME... [--force] [--reload [--admin ADDRESS | --pidfile FILE]]',
  description: [
    'Enables each site NAME (a trailing .ini is accepted) by making the relative link',
    'sites-enabled/NAME.ini -> ../sites-available/NAME.ini. An enabled site is left',
    'as it is. A plain file, or a link to another file, in sites-enabled is never',
    'replaced. Every name is tried; any unknown or refused name makes the exit status 1.',
    'The tree the change would make is checked first: if it has problems (a domain',
    'another site claims, a bad site file), they are printed and nothing is changed,',
    'unless --force. A running server picks the change up on reload.',
  ].join('\n'),
  options: LINK_OPTIONS,
  optionHelp: LINK_OPTION_HELP,
  arity: [1, Infinity],
  run: (invocation: Invocation) => changeSites(enableSite, invocation),
};
