import type { Duplex } from 'node:stream';
import type { RedirectSiteFile } from './settings.js';
import { originForm, type AnyRequest } from '../../routing/request-host.js';
import { rejectUpgrade, type AnyResponse } from '../../respond.js';
import type { Site } from '../site.js';

/** A `redirect =` site: the configured target plus the request's path and query. */
export class RedirectSite implements Site {
  readonly kind = 'redirect';
  /** Nothing to load. */
  readonly state = 'ready';
  readonly name: string;
  readonly file: string;
  readonly domains: readonly string[];
  readonly #location: string;
  readonly #status: number;

  constructor(config: RedirectSiteFile, domains: readonly string[]) {
    this.name = config.name;
    this.file = config.file;
    this.domains = domains;
    this.#location = config.location;
    this.#status = config.status;
  }

  handle(req: AnyRequest, res: AnyResponse): void {
    res.statusCode = this.#status;
    res.setHeader('location', this.#location + originForm(req.url ?? '/'));
    res.setHeader('content-length', 0);
    res.end();
  }

  upgrade(_req: unknown, socket: Duplex): void {
    rejectUpgrade(socket, 400);
  }

  load(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
