import type { AnyRequest } from '../routing/request-host.js';
import type { AnyResponse } from '../respond.js';

/** What every kind of site does for the application. */
export interface Site {
  readonly name: string;
  readonly kind: 'module' | 'redirect';
  /** The site file, relative to the config dir. */
  readonly file: string;
  /** Normalised domains and patterns. */
  readonly domains: readonly string[];
  handle(req: AnyRequest, res: AnyResponse): void;
  /** Loads what the site needs; resolves with why it failed, or undefined. Never rejects. */
  load(): Promise<string | undefined>;
  /** Releases what the site holds. Never rejects. */
  close(): Promise<void>;
}
