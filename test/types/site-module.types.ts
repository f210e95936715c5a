// Type-level test of the site-module contract: `tsc -p test` (run by
// `npm test`) checks this file; nothing here runs. Each `@ts-expect-error`
// fails the check if the shape it marks were ever accepted.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import express from 'express';
import { Hono } from 'hono';
import Koa from 'koa';
import type {
  AnyRequest,
  AnyResponse,
  CreateHandler,
  SiteFetchHandler,
  SiteHandler,
  SiteModule,
  SiteRequestListener,
} from '../../src/index.ts';
import * as blog from './blog-site.ts';

// The shapes the README lists.
const listener = ((_req: IncomingMessage, res: ServerResponse) => res.end('hi')) satisfies SiteHandler;
const http2Listener = ((_req: AnyRequest, res: AnyResponse) => res.end('hi')) satisfies SiteRequestListener;
const expressApp = express() satisfies SiteHandler;
const koaCallback = new Koa().callback() satisfies SiteHandler;
const honoApp = new Hono() satisfies SiteHandler;
const fetchObject = { fetch: (request: Request) => new Response(request.url) } satisfies SiteFetchHandler;
const withHooks = Object.assign(express(), {
  close: async () => {},
  upgrade: (_req: IncomingMessage, socket: Duplex, _head: Buffer) => socket.destroy(),
}) satisfies SiteHandler;
const fetchWithHooks = { fetch: async () => new Response('ok'), close() {} } satisfies SiteHandler;

const createHandler: CreateHandler = async (site) => {
  site.logger.info(`${site.name} (${site.file}) serves ${site.domains.join(', ')}`);
  return site.settings.database?.url === undefined ? listener : fetchObject;
};

// Whole modules.
blog satisfies SiteModule;
({ default: expressApp }) satisfies SiteModule;
({ default: honoApp, upgrade: withHooks.upgrade }) satisfies SiteModule;
({ createHandler }) satisfies SiteModule;
({ default: { createHandler } }) satisfies SiteModule; // CommonJS: exports.createHandler

// Wrong shapes.
// @ts-expect-error an object with neither fetch nor a call signature
({ handle: () => {} }) satisfies SiteHandler;
// @ts-expect-error fetch must return a Response
({ fetch: () => 'text' }) satisfies SiteHandler;
// @ts-expect-error createHandler must return a handler
({ createHandler: () => 42 }) satisfies SiteModule;
// @ts-expect-error a module with neither a default export nor createHandler
({ upgrade: withHooks.upgrade }) satisfies SiteModule;
// @ts-expect-error close is a function
({ fetch: fetchObject.fetch, close: true }) satisfies SiteHandler;

export { http2Listener, koaCallback, fetchWithHooks };
