import picomatch from 'picomatch';
import { runSync } from '../config/steps.js';
import { readTree } from '../config/tree.js';
import type { ConfigProblem } from '../errors.js';
import { readLoggingConfigSteps } from '../logging/config.js';
import { buildRoutingTable } from '../routing/build.js';
import { SITE_KINDS } from '../sites/index.js';
import type { FoundFile } from '../config/discover.js';

/** What a change does to the site files a reload would read. */
export interface Effect {
  /** The site the change is about: a problem it causes is reported against its file. */
  readonly site: string;
  readonly add?: FoundFile;
  /** A site file, relative to the config dir. */
  readonly remove?: string;
}

/**
 * The problems of the tree that `effects` would make, read without
 * touching the disk (a server watching the tree sees nothing). A site
 * being enabled is routed last, so that a domain it takes from another
 * site is reported against its own file, not the other's.
 */
export function problemsAfter(configDir: string, effects: readonly Effect[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const removed = new Set(effects.flatMap((effect) => (effect.remove === undefined ? [] : [effect.remove])));
  const tree = readTree(configDir, problems, SITE_KINDS, (found, globs) => {
    // An added link counts only where the `sites` globs would find it.
    const matches = picomatch(globs as string[]);
    const added = effects.flatMap((effect) => (effect.add !== undefined && matches(effect.add.file) ? [effect.add] : []));
    const replaced = new Set(added.map((file) => file.file));
    return [...found.filter((file) => !removed.has(file.file) && !replaced.has(file.file)), ...added];
  });
  const adding = new Set(effects.filter((effect) => effect.add !== undefined).map((effect) => effect.site));
  const ordered = [...tree.sites.filter((site) => !adding.has(site.name)), ...tree.sites.filter((site) => adding.has(site.name))];
  runSync(buildRoutingTable(ordered.map((site) => ({ name: site.name, file: site.file, domains: site.domains, ownerFor: () => undefined })), problems));
  const { defaultSite, logging } = tree.server;
  if (defaultSite !== undefined && !tree.sites.some((site) => site.name === defaultSite)) {
    problems.push({ file: 'hostmux.conf', section: 'server', key: 'default_site', message: `names no enabled site: "${defaultSite}"` });
  }
  if (logging !== undefined) runSync(readLoggingConfigSteps(configDir, logging, problems));
  return problems;
}
