import type { SiteKindDescriptor } from '../kind.js';
import { ModuleSite } from './module-site.js';
import { readModuleSite, type ModuleSiteFile } from './settings.js';

/** `handler = ./app.mjs`: a module imported on the first request. */
export const moduleKind: SiteKindDescriptor<ModuleSiteFile> = {
  kind: 'module',
  key: 'handler',
  keys: ['load_timeout', 'load_queue'],
  read: readModuleSite,
  create: (file, domains, env) => new ModuleSite(file, domains, env.configDir, env.loggers, env.fresh, env.context),
  // A site keeps its loaded module while the handler file is unchanged.
  keeps: (site) => (site as ModuleSite).handlerUnchanged(),
  watched: (file) => [file.handler],
};
