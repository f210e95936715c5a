/**
 * The registry of site kinds. Each kind lives in its own folder and exports
 * one descriptor (src/sites/kind.ts); adding a kind is its folder, one line
 * in KINDS and its name in SiteKind.
 */
import { readSiteFile as readSiteFileOf, type ReadSite, type SiteFile } from '../config/site-file.js';
import type { ConfigProblem } from '../errors.js';
import type { ReloadChange, SiteEnvironment, SiteKindDescriptor } from './kind.js';
import { moduleKind } from './module/index.js';
import { proxyKind } from './proxy/index.js';
import { redirectKind } from './redirect/index.js';
import { staticKind } from './static/index.js';
import type { Site } from './site.js';

/** Every kind, in the order configuration messages name their keys (`needs one of handler, proxy, redirect or root`). */
const KINDS = [moduleKind, proxyKind, redirectKind, staticKind] as const;

/**
 * The kinds of site: `'module'` for `handler =`, `'proxy'` for `proxy =`,
 * `'redirect'` for `redirect =`, `'static'` for `root =`.
 * @public
 */
export type SiteKind = 'module' | 'proxy' | 'redirect' | 'static';

// Fails to compile when SiteKind and KINDS disagree.
type Registered = (typeof KINDS)[number]['kind'];
const sameKinds: [SiteKind, Registered] extends [Registered, SiteKind] ? true : never = true;
void sameKinds;

/** The kinds, for the configuration reader. */
export const SITE_KINDS: readonly SiteKindDescriptor[] = KINDS;

const byKind = new Map<string, SiteKindDescriptor>(SITE_KINDS.map((kind) => [kind.kind, kind]));

/** The descriptor of a kind the reader produced (so one that exists). */
function kindOf(name: string): SiteKindDescriptor {
  return byKind.get(name)!;
}

/**
 * Reads one site file's text with every registered kind (see
 * config/site-file.ts, which names none).
 */
export function readSiteFile(text: string, file: string, realPath: string, problems: ConfigProblem[]): ReadSite {
  return readSiteFileOf(text, file, realPath, problems, SITE_KINDS);
}

/** Makes the site a site file describes, with its kind. */
export function createSite(file: SiteFile, env: SiteEnvironment): Site {
  return kindOf(file.kind).create(file, file.domains.map((d) => d.text), env);
}

/** Whether a reload may keep `site` for `file`, its site file unchanged: its kind decides. */
export function keepsSite(site: Site, file: SiteFile, change: ReloadChange): boolean | Promise<boolean> {
  return site.kind === file.kind && kindOf(file.kind).keeps(site, file, change);
}

/** Files besides the site file whose change reloads it under `--watch`. */
export function watchedPaths(file: SiteFile): readonly string[] {
  return kindOf(file.kind).watched(file);
}

/** A site's kind, as `app.sites` shows it. */
export function kindName(site: Site): SiteKind {
  return site.kind as SiteKind;
}
