import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';
import { destroySiteSocket } from '../respond.js';
import { within } from '../within.js';

/**
 * How long `app.close()` gives the sites' `close()` and then the upgraded
 * connections (a WebSocket's closing handshake) before it cuts those
 * connections off.
 */
export const UPGRADE_CLOSE_GRACE_MS = 5_000;

/** Resolves once every socket of `sockets` has closed (each removes itself on 'close'). */
function allClosed(sockets: ReadonlySet<Duplex>): Promise<void> {
  return Promise.all([...sockets].map((socket) => (socket.destroyed ? Promise.resolve() : once(socket, 'close').catch(() => {})))).then(() => {});
}

/**
 * Waits for the sites' close and then their upgraded connections, for at
 * most UPGRADE_CLOSE_GRACE_MS; then destroys the connections still open
 * (a site's close() may leave them, or wait for them).
 */
export async function endUpgrades(sitesClosed: Promise<unknown>, upgraded: Set<Duplex>, logger: Logger): Promise<number> {
  await within(sitesClosed.then(() => allClosed(upgraded)), UPGRADE_CLOSE_GRACE_MS);
  const left = [...upgraded];
  if (left.length === 0) return 0;
  const what = left.length === 1 ? '1 upgraded connection' : `${left.length} upgraded connections`;
  logger.warn(`closing: cut off ${what} still open after ${UPGRADE_CLOSE_GRACE_MS / 1000} s`);
  for (const socket of left) destroySiteSocket(socket);
  // Their 'close' (and access lines) before the log files close.
  await allClosed(new Set(left));
  return left.length;
}
