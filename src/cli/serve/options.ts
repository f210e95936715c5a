import type { AdminAddress } from '../../config/admin-conf.js';
import type { ListenAddress } from '../../config/tls-settings.js';

/** `serve`'s options, parsed and checked. */
export interface ServeOptions {
  readonly configDir: string;
  readonly port: number;
  readonly host: string;
  readonly workers: number;
  /** --drain, in milliseconds. */
  readonly drainMs: number;
  readonly watch: boolean;
  /** --sticky: connections by client address to one worker (or `[server] sticky`). */
  readonly sticky: boolean;
  /** --in-process: no primary, no workers; for development. */
  readonly inProcess: boolean;
  readonly pidfile: string | undefined;
  /** --admin: the admin listener's address, over `[admin] listen`. */
  readonly admin: AdminAddress | undefined;
  /** --https: the TLS listener's address, over `[server] https`. */
  readonly https: ListenAddress | undefined;
}

/** `http://127.0.0.1:8080`, `http://[::1]:8080`. */
export function urlOf(address: { address: string; port: number }): string {
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/** Set (to `1`) in a worker's environment when the primary hands it connections. */
export const STICKY_ENV = 'HOSTMUX_STICKY';
