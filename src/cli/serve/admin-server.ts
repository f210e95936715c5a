import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { AdminAddress } from '../../config/admin-conf.js';
import { urlOf } from './options.js';

/** The admin listener's own timeouts: a person or a scraper, never a slow upload. */
const ADMIN_TIMEOUT_MS = 10_000;
/** How often Node checks them (its default, 30 s, would let 10 s run to 40). */
const CHECK_MS = 1_000;
/** Connections at once: operators and scrapers are few; more are refused rather than held. */
const MAX_CONNECTIONS = 64;

/** `http://127.0.0.1:2019` or `unix:/run/hostmux/admin.sock`, as it listens. */
export function describeAdmin(address: AdminAddress, server: http.Server): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  return urlOf(server.address() as AddressInfo);
}

/** Whether something answers on the unix socket at `path`. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Listens for the admin endpoints. A unix socket is made mode 0600 (only
 * this user); a socket file left by a process that died is replaced, one
 * that answers is another server's: an error.
 */
export async function listenAdmin(address: AdminAddress, handler: http.RequestListener): Promise<http.Server> {
  const server = http.createServer({ requestTimeout: ADMIN_TIMEOUT_MS, headersTimeout: ADMIN_TIMEOUT_MS, connectionsCheckingInterval: CHECK_MS }, handler);
  server.maxConnections = MAX_CONNECTIONS;
  if (address.kind === 'unix') {
    let stale = false;
    try {
      stale = lstatSync(address.path).isSocket();
    } catch {
      // Not there: the usual case.
    }
    if (stale) {
      if (await socketAnswers(address.path)) throw new Error(`${address.path} is in use by another server`);
      unlinkSync(address.path);
    }
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (address.kind === 'unix') server.listen(address.path, done);
    else server.listen(address.port, address.host, done);
  });
  if (address.kind === 'unix') chmodSync(address.path, 0o600);
  return server;
}
