import { rmSync } from 'node:fs';
import type { Command, Invocation } from '../command.js';
import { changeSites, LINK_OPTION_HELP, LINK_OPTIONS, type Outcome } from '../site-links.js';
import { ENABLED, lstatOrUndefined, siteFiles } from '../site-dirs.js';

// `hostmux disable`: its help and its code (a2dissite).

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
  return { changed: true, message: `Site ${name} disabled.`, effect: { remove: `${ENABLED}/${name}.ini`, site: name }, apply: () => rmSync(enabled) };
}

export const disable: Command = {
  name: 'disable',
  summary: 'disable sites: remove their links from sites-enabled (a2dissite)',
  synopsis: 'NAME... [--force] [--reload [--admin ADDRESS | --pidfile FILE]]',
  description: [
    'Disables each site NAME (a trailing .ini is accepted) by removing the link',
    'sites-enabled/NAME.ini. A disabled site is left as it is. A plain file in',
    'sites-enabled is never deleted. Every name is tried; any unknown or refused',
    'name makes the exit status 1. A running server picks the change up on reload',
    '(SIGHUP).',
  ].join('\n'),
  options: LINK_OPTIONS,
  optionHelp: LINK_OPTION_HELP,
  arity: [1, Infinity],
  run: (invocation: Invocation) => changeSites(disableSite, invocation),
};
