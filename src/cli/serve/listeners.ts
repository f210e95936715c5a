import type { AddressInfo } from 'node:net';
import type { Application } from '../../application.js';
import { internalsOf } from '../../internal.js';
import type { ListenAddress } from '../../config/tls-settings.js';
import { plainFront } from './front.js';
import { loggerOf } from './lifecycle.js';
import { urlOf } from './options.js';
import { createServer, type Served } from './http-server.js';
import { createTlsServer, type TlsServed } from './tls-server.js';

/** `serve`'s listeners: the plain one, and the TLS one when `https` is set. */
export interface Listeners extends Served {
  /** Where the TLS listener listens, once it does. */
  readonly httpsAddress: AddressInfo | undefined;
}

/**
 * The plain listener (ACME challenges and redirect_http before the sites),
 * and beside it, when `--https` or `[server] https` names an address, the
 * TLS one. A drain stops both; the sites close once neither has a request
 * in flight.
 */
export function createListeners(app: Application, https: () => ListenAddress | undefined): Listeners {
  let tls: TlsServed | undefined;
  let httpsAddress: AddressInfo | undefined;
  const plain = createServer(app, plainFront(app, () => httpsAddress?.port));
  const listen = async (port: number, host: string) => {
    const at = https();
    // TLS first: once the plain listener listens (what the primary waits for), both do.
    if (at !== undefined) {
      tls = createTlsServer(app);
      try {
        httpsAddress = await tls.listen(at.port, at.host);
      } catch (error) {
        throw new Error(`cannot listen for https on ${at.host} port ${at.port}: ${(error as Error).message}`, { cause: error });
      }
    }
    return plain.listen(port, host);
  };
  const drain: Served['drain'] = async (ms, close, gentle) => {
    const started = Date.now();
    const quiet = tls?.quiesce(ms);
    let tlsCut = 0;
    const cut = await plain.drain(ms, async () => {
      // The sites close once the TLS listener's requests are done too (within the same bound).
      await quiet;
      if (tls !== undefined && Date.now() - started >= ms) tlsCut = tls.cut();
      await close();
      tls?.cut();
    }, gentle);
    return { ...cut, requests: cut.requests + tlsCut };
  };
  return {
    server: plain.server,
    listen,
    drain,
    take: (socket) => plain.take(socket),
    cutNow: () => {
      tls?.cut();
      plain.cutNow();
    },
    get httpsAddress() {
      return httpsAddress;
    },
  };
}

/** The https address `serve` listens on: `--https`, else `[server] https`. */
export function httpsOf(app: Application, option: ListenAddress | undefined): () => ListenAddress | undefined {
  return () => option ?? internalsOf(app)!.tree.server.https;
}

/** `listening on https://127.0.0.1:8443`, and the certificates' warnings: logged before the plain listener's line. */
export function announceHttps(app: Application, listeners: Listeners): void {
  const address = listeners.httpsAddress;
  if (address !== undefined) loggerOf(app).info(`listening on ${urlOf(address).replace(/^http:/, 'https:')}`);
  logCertificateWarnings(app);
}

/** Each certificate within 14 days of its end, as a warning. */
export function logCertificateWarnings(app: Application): void {
  for (const warning of internalsOf(app)!.tls.warnings) loggerOf(app).warn(warning);
}

/** The primary's line for the workers' TLS listener: the address as configured (`--https`, `[server] https`). */
export function announceHttpsOf(app: Application, options: { readonly https: ListenAddress | undefined }): void {
  const at = httpsOf(app, options.https)();
  if (at !== undefined) loggerOf(app).info(`listening on ${urlOf({ address: at.host, port: at.port }).replace(/^http:/, 'https:')}`);
  logCertificateWarnings(app);
}
