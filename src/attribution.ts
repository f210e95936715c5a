import { AsyncLocalStorage } from 'node:async_hooks';

// Which site's code is running. Calls into a site (its handler, upgrade
// handler, module evaluation and createHandler) run inside `siteContext`,
// and Node carries the context into every timer, promise and callback the
// site starts: an uncaught exception or unhandled rejection can then be
// blamed on the site that raised it, even from the process-wide listeners.
export const siteContext = new AsyncLocalStorage<string>();

/** The name of the site whose code is running now; undefined in hostmux's own code. */
export function siteInContext(): string | undefined {
  return siteContext.getStore();
}
