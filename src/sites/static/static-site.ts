import { realpath, type Stats } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { sep } from 'node:path';
import type { Duplex } from 'node:stream';
import send from 'send';
import type { StaticSiteFile } from './settings.js';
import { originForm, type AnyRequest } from '../../routing/request-host.js';
import { abortResponse, rejectUpgrade, type AnyResponse } from '../../respond.js';
import type { Site } from '../site.js';

/** What a send stream carries for the module-level listeners below (so no closure per request). */
const SITE = Symbol('hostmux.static.site');
const FALLBACK = Symbol('hostmux.static.fallback');
interface Stream extends send.SendStream {
  [SITE]: StaticSite;
  [FALLBACK]?: true;
  req: AnyRequest;
  res: AnyResponse;
}

/** send's own `send(path, stat)`, called once a file is known to be inside the root. */
let sendFileOf: ((this: send.SendStream, path: string, stat: Stats) => void) | undefined;

/** The fixed answer to a request the site does not serve a file for; the body never echoes the request. */
function answer(res: AnyResponse, status: number, headers?: Record<string, string>): void {
  if (res.headersSent) {
    if (!res.writableEnded) abortResponse(res);
    return;
  }
  const body = `${STATUS_CODES[status] ?? status}\n`;
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  if (headers !== undefined) for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  if (status === 400 && !('stream' in res)) res.setHeader('connection', 'close');
  res.end(body);
}

/** send's errors: 404 serves the fallback when there is one; the rest are answered as send decided. */
function onError(this: Stream, error: { status?: number; headers?: Record<string, string> }): void {
  const site = this[SITE];
  const status = error.status ?? 500;
  if (status === 404 && site.fallback !== undefined && this[FALLBACK] === undefined && !this.res.headersSent) {
    site.serve(this.req, this.res, site.fallback, true);
    return;
  }
  // 416 carries Content-Range (the size); nothing else send attaches is wanted.
  const range = error.headers?.['Content-Range'];
  answer(this.res, status, range === undefined ? undefined : { 'content-range': range });
}

/**
 * A directory asked for without its slash: a permanent redirect adding it,
 * query kept (as nginx does). A directory asked for with its slash reaches
 * here only when there is no index: 403, as nginx without autoindex.
 */
function onDirectory(this: Stream, res: AnyResponse): void {
  const target = originForm(this.req.url ?? '/');
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  if (path.endsWith('/')) {
    answer(res, 403);
    return;
  }
  // One leading slash: `//evil.example/dir` must not become a redirect to another host.
  const location = `/${path.replace(/^\/+/, '')}/${query === -1 ? '' : target.slice(query)}`;
  res.statusCode = 301;
  res.setHeader('location', location);
  res.setHeader('content-length', 0);
  res.end();
}

/**
 * Replaces send's `send(path, stat)` when symlinks are not followed: the
 * file's real path must be inside the root's real path, or it is not found.
 */
function sendContained(this: Stream, path: string, stat: Stats): void {
  const site = this[SITE];
  const known = site.containment(path);
  if (known !== undefined) {
    if (known) sendFileOf!.call(this, path, stat);
    else this.error(404);
    return;
  }
  const root = site.realRoot;
  realpath.native(path, (error, real) => {
    if (error !== null) return this.onStatError(error);
    const inside = real.startsWith(root === sep ? root : root + sep);
    site.rememberContainment(path, inside);
    if (inside) sendFileOf!.call(this, path, stat);
    else this.error(404);
  });
}

/**
 * How long one path's symlink check is trusted, as nginx's
 * `open_file_cache_valid` trusts its own: a `realpath` on libuv's thread
 * pool per request costs a fifth of a small file's throughput. The file is
 * still opened and stat'ed afresh on every request.
 */
const CHECK_VALID_MS = 1_000;
/** Paths a site remembers; past this many the memory starts again. */
const CHECK_MEMORY = 4_096;

/** A `root =` site: files under one directory, served with `send`. */
export class StaticSite implements Site {
  readonly kind = 'static';
  /** Nothing to load. */
  readonly state = 'ready';
  readonly name: string;
  readonly file: string;
  readonly domains: readonly string[];
  readonly realRoot: string;
  readonly fallback: string | undefined;
  readonly #options: send.SendOptions;
  readonly #cacheControl: string | undefined;
  readonly #followSymlinks: boolean;
  /** Path → whether its real path is inside the root, and when that was checked. */
  readonly #checked = new Map<string, { readonly inside: boolean; readonly at: number }>();

  constructor(config: StaticSiteFile, domains: readonly string[]) {
    this.name = config.name;
    this.file = config.file;
    this.domains = domains;
    this.realRoot = config.realRoot;
    this.fallback = config.fallback;
    this.#cacheControl = config.cacheControl;
    this.#followSymlinks = config.followSymlinks;
    this.#options = {
      root: config.realRoot,
      index: config.index,
      // Dotfiles are not found (404), as if absent; a dot directory too.
      dotfiles: 'ignore',
      etag: true,
      lastModified: true,
      // No Cache-Control unless cache_control says one, as nginx.
      cacheControl: false,
    };
  }

  handle(req: AnyRequest, res: AnyResponse): void {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') {
      answer(res, 405, { allow: 'GET, HEAD' });
      return;
    }
    const target = originForm(req.url ?? '/');
    const query = target.indexOf('?');
    this.serve(req, res, query === -1 ? target : target.slice(0, query), false);
  }

  /** Streams `path` (still percent-encoded, relative to the root) with send. */
  serve(req: AnyRequest, res: AnyResponse, path: string, fallback: boolean): void {
    if (this.#cacheControl !== undefined) res.setHeader('cache-control', this.#cacheControl);
    const stream = send(req, path, this.#options) as Stream;
    stream[SITE] = this;
    if (fallback) stream[FALLBACK] = true;
    if (!this.#followSymlinks) {
      sendFileOf ??= (Object.getPrototypeOf(stream) as { send: typeof sendFileOf }).send;
      stream.send = sendContained;
    }
    stream.on('error', onError);
    stream.on('directory', onDirectory);
    stream.pipe(res as NodeJS.WritableStream);
  }

  /** Whether `path` is inside the root, as checked within CHECK_VALID_MS; undefined when it must be checked. */
  containment(path: string): boolean | undefined {
    const known = this.#checked.get(path);
    return known !== undefined && performance.now() - known.at < CHECK_VALID_MS ? known.inside : undefined;
  }

  rememberContainment(path: string, inside: boolean): void {
    if (this.#checked.size >= CHECK_MEMORY) this.#checked.clear();
    this.#checked.set(path, { inside, at: performance.now() });
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
