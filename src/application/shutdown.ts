import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';

/**
 * How long `app.close()` gives the sites' `close()` and then the upgraded
 * connections (a WebSocket's closing handshake) before it cuts those
 * connections off.
 */
const UPGRADE_CLOSE_GRACE_MS = 5_000;

/** Resolves once every socket of `sockets` has closed (each removes itself on 'close'). */
function allClosed(sockets: ReadonlySet<Duplex>): Promise<void> {
  return Promise.all([...sockets].map((socket) => (socket.destroyed ? undefined : once(socket, 'close').catch(() => {})))).then(() => {});
}

/**
 * Waits for the sites' close and then their upgraded connections, for at
 * most UPGRADE_CLOSE_GRACE_MS; then destroys the connections still open
 * (a site's close() may leave them, or wait for them).
 */
export async function endUpgrades(sitesClosed: Promise<unknown>, upgraded: Set<Duplex>, logger: Logger): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, UPGRADE_CLOSE_GRACE_MS)));
  await Promise.race([sitesClosed.then(() => allClosed(upgraded)), expired]);
  clearTimeout(timer);
  const left = [...upgraded];
  if (left.length === 0) return 0;
  const what = left.length === 1 ? '1 upgraded connection' : `${left.length} upgraded connections`;
  logger.warn(`closing: cut off ${what} still open after ${UPGRADE_CLOSE_GRACE_MS / 1000} s`);
  for (const socket of left) socket.destroy();
  // Their 'close' (and access lines) before the log files close.
  await allClosed(new Set(left));
  return left.length;
}
