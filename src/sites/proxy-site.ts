import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxySiteFile } from '../config/site-file.js';
import type { AnyRequest } from '../routing/request-host.js';
import { rejectUpgrade, sendStatus, type AnyResponse } from '../respond.js';
import type { LoggerSource, Site } from './site.js';

/** A `proxy =` site: forwards requests and upgrades to an upstream HTTP server (SPEC 5). */
export class ProxySite implements Site {
  readonly kind = 'proxy';
  readonly name: string;
  readonly file: string;
  readonly domains: readonly string[];

  constructor(config: ProxySiteFile, domains: readonly string[], _logger: LoggerSource, _trustProxy: boolean) {
    this.name = config.name;
    this.file = config.file;
    this.domains = domains;
  }

  handle(_req: AnyRequest, res: AnyResponse): void {
    sendStatus(res, 502);
  }

  upgrade(_req: IncomingMessage, socket: Duplex): void {
    rejectUpgrade(socket, 502);
  }

  load(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
