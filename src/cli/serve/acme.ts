import type { Application } from '../../application.js';
import { internalsOf } from '../../internal.js';
import type { Logger } from '../../logger.js';
import type { Orderer } from '../../tls/acme-orderer.js';

/**
 * The ACME orderer of a `serve` process (the primary, or the --in-process
 * server), started once the configuration has a `tls = auto` site: the
 * ACME client is imported only then. Call it after start and after each
 * reload; `stop` on shutdown.
 */
export function acmeOrdering(app: Application, log: () => Logger, reload: () => void): { update(): void; stop(): void } {
  const internals = internalsOf(app)!;
  let orderer: Orderer | undefined;
  let starting: Promise<void> | undefined;
  let stopped = false;
  return {
    update: () => {
      if (orderer !== undefined) return orderer.check();
      if (starting !== undefined || internals.tls.auto.length === 0) return;
      starting = import('../../tls/acme-orderer.js').then(({ startOrderer }) => {
        if (stopped) return;
        orderer = startOrderer({
          settings: () => internals.tree.server.acme,
          sites: () => internals.tls.auto,
          log,
          // A new certificate is served once the configuration is read again.
          issued: reload,
        });
      });
    },
    stop: () => {
      stopped = true;
      orderer?.stop();
    },
  };
}
