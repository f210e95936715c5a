import type { ReloadResult } from '../application/types.js';

/**
 * The message of `hostmux:reload:done`: published when a `reload()` (or
 * SIGHUP, or `--watch`) settles. `ok` tells which: the new configuration
 * was taken (`result`), or refused and the old one kept (`error`, usually a
 * `ConfigError`). A `reload()` after `close()` rejects at once and publishes
 * nothing.
 * @public
 */
export type ReloadDoneMessage =
  | { readonly ok: true; readonly configDir: string; readonly duration: number; readonly result: ReloadResult; readonly error: undefined }
  | { readonly ok: false; readonly configDir: string; readonly duration: number; readonly result: undefined; readonly error: unknown };
