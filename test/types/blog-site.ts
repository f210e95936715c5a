// A TypeScript site module, as a user would write one: checked against
// SiteModule by site-module.types.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CreateHandler } from '../../src/index.ts';

export const createHandler: CreateHandler = async (site) => {
  const greeting = await Promise.resolve(`hello from ${site.name}`);
  return Object.assign((_req: IncomingMessage, res: ServerResponse) => res.end(greeting), {
    close: () => site.logger.info('closed'),
  });
};
