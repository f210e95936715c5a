import { AsyncLocalStorage } from 'node:async_hooks';
import { dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// Whose code raised an uncaught exception or unhandled rejection, two ways.
// By its stack (the default, `attribution = stack`): free on the request
// path, found from the frames once a crash happens. By context
// (`attribution = context`): calls into a site (its handler, upgrade
// handler, module evaluation and createHandler) run inside `siteContext`,
// and Node carries the context into every timer, promise and callback the
// site starts — exact even for a throw from shared library code, but on
// Node 20 AsyncLocalStorage costs every request (see README Performance).
export const siteContext = new AsyncLocalStorage<string>();

/** The name of the site whose code is running now; undefined in hostmux's own code. */
export function siteInContext(): string | undefined {
  return siteContext.getStore();
}

/** A site's own code, for blaming a crash by its stack. */
export interface SiteCode {
  readonly name: string;
  readonly codePath?: string;
}

/** hostmux's own code (dist/ or src/): its frames are never a site's, even under a handler's directory. */
const OWN_CODE = fileURLToPath(new URL('.', import.meta.url));

const FRAME_PATH = /(?:\(|at )(file:\/\/[^\s?#)]+|\/[^\s:)]+)(?:[?#][^\s:)]*)?:\d+:\d+\)?$/;
/** Frames read at most: the first that runs through a site's code decides. */
const MAX_FRAMES = 50;

function frameFile(line: string): string | undefined {
  const found = FRAME_PATH.exec(line);
  if (found === null) return undefined;
  try {
    return found[1]!.startsWith('file:') ? fileURLToPath(found[1]!) : found[1];
  } catch {
    return undefined;
  }
}

/**
 * The sites whose code `error` was thrown from, by its stack (V8 keeps the
 * frames of the awaits that led there too): the first frame in a site's
 * handler file, else the first inside a handler's directory (the deepest
 * such directory). Several sites when they run the same code; none when no
 * frame is a site's (a value that is not an Error has no stack).
 */
export function sitesOfStack(error: unknown, sites: readonly SiteCode[]): string[] {
  let stack: unknown;
  try {
    stack = (error as { stack?: unknown } | null | undefined)?.stack;
  } catch {
    return [];
  }
  if (typeof stack !== 'string') return [];
  const byFile = new Map<string, string[]>();
  const byDir = new Map<string, string[]>();
  for (const { name, codePath } of sites) {
    if (codePath === undefined) continue;
    byFile.set(codePath, [...(byFile.get(codePath) ?? []), name]);
    const dir = dirname(codePath) + sep;
    byDir.set(dir, [...(byDir.get(dir) ?? []), name]);
  }
  const files = stack.split('\n', MAX_FRAMES).map(frameFile).filter((file): file is string => file !== undefined && !file.startsWith(OWN_CODE));
  for (const file of files) {
    const exact = byFile.get(file);
    if (exact !== undefined) return exact;
  }
  for (const file of files) {
    let best: string | undefined;
    for (const dir of byDir.keys()) if (file.startsWith(dir) && (best === undefined || dir.length > best.length)) best = dir;
    if (best !== undefined) return byDir.get(best)!;
  }
  return [];
}
