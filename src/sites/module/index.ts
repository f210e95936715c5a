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
  // A site keeps its loaded module while its handler file has the content it was imported with.
  keeps: (site, file) => (site as ModuleSite).keepsHandler(file.handler),
  watched: (file) => [file.handler],
};
