import type { AnyRequest } from '../routing/request-host.js';

/**
 * Express (and Connect) need no plugin: `expressApp.use(app)` calls the
 * application as middleware, with `next` for hosts no site claims. What
 * hostmux reads of Express is its `trust proxy` setting, below.
 */

/**
 * Under Express, when `trust_proxy` is unset: Express's `trust proxy`
 * setting decides whether the connecting address may forward a host.
 * False outside Express.
 */
export function expressTrusts(req: AnyRequest): boolean {
  const express = (req as { app?: { get?: (name: string) => unknown } }).app;
  if (typeof express?.get !== 'function') return false;
  const trust = express.get('trust proxy fn');
  return typeof trust === 'function' && (trust as (address: string | undefined, hop: number) => unknown)(req.socket?.remoteAddress, 0) === true;
}
