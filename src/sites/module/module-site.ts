import { IncomingMessage, ServerResponse } from 'node:http';
import { constants as http2 } from 'node:http2';
import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { SiteSettings } from '../../config/site-file.js';
import type { ModuleSiteFile } from './settings.js';
import { siteContext } from '../../attribution.js';
import { fileDigest } from '../../config/read-file.js';
import { describeError, loggableError } from '../../describe-error.js';
import { siteLoaded, siteLoadFailed } from '../../diagnostics/channels.js';
import type { SiteLoadedMessage, SiteLoadFailedMessage } from '../../diagnostics/messages.js';
import type { Logger } from '../../logger.js';
import type { AnyRequest } from '../../routing/request-host.js';
import { answerFailure, destroySiteSocket, rejectUpgrade, sendStatus, type AnyResponse } from '../../respond.js';
import { fetchListener, type FetchHandler } from './fetch-bridge.js';
import { syntaxErrorLocation } from './failure-location.js';
import { LoadQueue, stillThere } from './load-queue.js';
import { siteLogger, type LoggerFactory, type Site, type SiteState } from '../site.js';
import { TIMED_OUT, within } from '../../within.js';

/**
 * What a site module's `createHandler(site)` receives.
 * @public
 */
export interface SiteContext {
  /** The site's name. */
  readonly name: string;
  /** Its domains and patterns, normalised. */
  readonly domains: readonly string[];
  /** Every section of the site file other than `[site]`, as plain objects. */
  readonly settings: SiteSettings;
  /** The absolute path of the configuration directory. */
  readonly configDir: string;
  /** The site file, relative to `configDir` (`sites-enabled/blog.ini`). */
  readonly file: string;
  /** The site's logger. */
  readonly logger: Logger;
}

type Listener = (req: AnyRequest, res: AnyResponse) => unknown;
type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => unknown;
type Closable = { close(): unknown };

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    return keys.length === 0 ? 'an object with no properties' : `an object with ${keys.join(', ')}`;
  }
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}

function hasMethod<K extends string>(value: unknown, key: K): value is Record<K, (...args: unknown[]) => unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null &&
    typeof (value as Record<K, unknown>)[key] === 'function';
}

/**
 * Whether `target` is an Express app (4 or 5): it gives each request and
 * response its own `request`/`response` objects as prototypes, which are
 * HTTP/1's. Node's HTTP/2 request and response then break inside Express,
 * on later ticks hostmux cannot catch, which would end the process.
 */
function needsHttp1(target: unknown): boolean {
  if (typeof target !== 'function') return false;
  try {
    const { request, response } = target as { request?: unknown; response?: unknown };
    return typeof request === 'object' && request !== null && typeof response === 'object' && response !== null &&
      Object.prototype.isPrototypeOf.call(IncomingMessage.prototype, request) &&
      Object.prototype.isPrototypeOf.call(ServerResponse.prototype, response);
  } catch {
    // A getter or Proxy trap of the site's that throws: not an Express app.
    return false;
  }
}

/** A request listener for what a module provided, or undefined when it is none of the shapes. */
function toListener(target: unknown): Listener | undefined {
  if (typeof target === 'function') return target as Listener;
  if (hasMethod(target, 'fetch')) return fetchListener(target as unknown as FetchHandler);
  return undefined;
}

const requireCache = createRequire(import.meta.url).cache;
/** How long close() waits for a load still in flight. */
const LOAD_WAIT_ON_CLOSE_MS = 5_000;
/** The `Retry-After` (seconds) of a 503 for a request beyond `load_queue`. */
export const LOAD_QUEUE_RETRY_AFTER = 5;
const CLOSED = Symbol('site closed');
/** Makes each fresh import of a reloaded site a URL `import()` has not cached. */
let reloads = 0;

/**
 * Forgets the CommonJS modules of the handler's own directory tree (not its
 * node_modules): `import()` of a CommonJS file goes through `require.cache`,
 * so without this a reload would get the old exports back.
 */
function forgetCommonJs(handler: string): void {
  const dir = dirname(handler) + sep;
  for (const path of Object.keys(requireCache)) {
    if (path === handler || (path.startsWith(dir) && !path.includes(`${sep}node_modules${sep}`, dir.length - 1))) {
      delete requireCache[path];
    }
  }
}

/**
 * A `handler =` site. The module is imported on the first request (or
 * `ready()`); concurrent first requests share that one import. A module that
 * fails makes this site answer 503; nothing it throws reaches another site.
 */
export class ModuleSite implements Site {
  readonly kind = 'module';
  readonly name: string;
  readonly file: string;
  readonly domains: readonly string[];
  /** Only what a load needs is kept: 10,000 sites' parsed files need not stay in memory. */
  readonly #handler: string;
  readonly #settings: SiteSettings;
  readonly #configDir: string;
  readonly #loggers: LoggerFactory;
  #siteLogger: Logger | undefined;
  #listener: Listener | undefined;
  /** The listener is an Express app: HTTP/2 requests are refused, not handed to it. */
  #http1Only = false;
  #refusedHttp2 = false;
  #upgrade: UpgradeListener | undefined;
  #failure: string | undefined;
  /** What the module threw when its load failed, for `hostmux:site:load-failed`. */
  #failureCause: unknown;
  /** The load failed by `load_timeout`. */
  #timedOut = false;
  #loading: Promise<string | undefined> | undefined;
  /** What createHandler returned, then the module: each with a close() of its own. */
  #closables: readonly Closable[] = [];
  #closed = false;
  #closing: Promise<void> | undefined;
  /** The load has settled, loaded or failed. */
  #settled = false;
  /** Import a new instance of the module: this site replaces an earlier one (a reload). */
  readonly #fresh: boolean;
  /** The handler file's digest when it was imported. */
  #digest: string | undefined;
  /** `load_timeout`, in milliseconds. */
  readonly #loadTimeout: number;
  /** Requests and upgrades waiting for the load (at most `load_queue`); made by the first. */
  #waiting: LoadQueue | undefined;
  readonly #loadQueue: number;
  /** Ends the wait for a load still in flight (the site is closing). */
  #stopLoadWait: (() => void) | undefined;

  /** Load in the site's AsyncLocalStorage context (`attribution = context`). */
  readonly #inContext: boolean;

  constructor(config: ModuleSiteFile, domains: readonly string[], configDir: string, loggers: LoggerFactory, fresh: boolean, context: boolean) {
    this.#inContext = context;
    this.name = config.name;
    this.file = config.file;
    this.domains = domains;
    this.#handler = config.handler;
    this.#settings = config.settings;
    this.#configDir = configDir;
    this.#loggers = loggers;
    this.#fresh = fresh;
    this.#loadTimeout = config.loadTimeout;
    this.#loadQueue = config.loadQueue;
  }

  /** The handler file: a crash whose stack runs through it is this site's. */
  get codePath(): string {
    return this.#handler;
  }

  get state(): SiteState {
    if (this.#loading === undefined) return 'idle';
    if (!this.#settled) return 'loading';
    return this.#listener !== undefined ? 'ready' : 'failed';
  }

  /** Made when the site first logs. */
  #logger(): Logger {
    return (this.#siteLogger ??= siteLogger(this.#loggers, this.name));
  }

  /**
   * Whether a reload whose site file names `handler` may keep this site:
   * the file there has the content this site imported (files the handler
   * imports are not compared). A site never imported is kept only for the
   * same path: it imports on its first request, from the path it holds, and
   * a tree moved to a new directory (a Kubernetes ConfigMap update, a
   * release directory flipped by a symlink) may remove the old one.
   */
  async keepsHandler(handler: string): Promise<boolean> {
    if (this.#loading === undefined) return handler === this.#handler;
    // A failed load is retried by the reload, as nginx would; a load still
    // in flight is not waited for (it may never settle): its digest was taken first.
    if (this.#failure !== undefined || this.#digest === undefined) return false;
    try {
      return (await fileDigest(handler)) === this.#digest;
    } catch {
      return false;
    }
  }

  handle(req: AnyRequest, res: AnyResponse): void {
    const listener = this.#listener;
    if (listener !== undefined) {
      if (this.#http1Only && 'stream' in res) return this.#refuseHttp2(res);
      this.#invoke(listener, req, res);
    } else if (this.#failure !== undefined) {
      sendStatus(res, 503);
    } else if ((this.#waiting ??= new LoadQueue(this.#loadQueue)).addRequest(req, res)) {
      void this.load();
    } else {
      sendStatus(res, 503, LOAD_QUEUE_RETRY_AFTER);
    }
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const upgrade = this.#upgrade;
    if (upgrade !== undefined) {
      try {
        const result = upgrade(req, socket, head);
        if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
          (result as Promise<unknown>).then(undefined, (err: unknown) => this.#upgradeFailed(err, socket));
        }
      } catch (err) {
        this.#upgradeFailed(err, socket);
      }
    } else if (this.#listener !== undefined) {
      rejectUpgrade(socket, 400);
    } else if (this.#failure !== undefined) {
      rejectUpgrade(socket, 503);
    } else if ((this.#waiting ??= new LoadQueue(this.#loadQueue)).addUpgrade(req, socket, head)) {
      void this.load();
    } else {
      rejectUpgrade(socket, 503, LOAD_QUEUE_RETRY_AFTER);
    }
  }

  load(): Promise<string | undefined> {
    if (this.#closed) return Promise.resolve(this.#failure);
    if (this.#loading === undefined) {
      const started = performance.now();
      this.#loading = this.#importWithin().then((failure) => {
        this.#settled = true;
        this.#publishLoad(failure, started);
        this.#serveWaiting();
        return failure;
      });
    }
    return this.#loading;
  }

  /** `hostmux:site:loaded` or `hostmux:site:load-failed`, once per load, when someone listens. */
  #publishLoad(failure: string | undefined, started: number): void {
    const channel = failure === undefined ? siteLoaded : siteLoadFailed;
    if (!channel.hasSubscribers) return;
    const loaded: SiteLoadedMessage = { site: this.name, file: this.file, configDir: this.#configDir, duration: performance.now() - started };
    if (failure === undefined) return channel.publish(loaded);
    const failed: SiteLoadFailedMessage = { ...loaded, error: failure, cause: this.#failureCause, timedOut: this.#timedOut };
    channel.publish(failed);
  }

  /**
   * The import, bounded by `load_timeout`. A load that times out leaves the
   * site failed (503) until a reload retries it; whatever it makes when it
   * settles late is closed then.
   */
  async #importWithin(): Promise<string | undefined> {
    // The module's evaluation and createHandler are the site's code, and so is all they start.
    const importing = this.#inContext ? siteContext.run(this.name, () => this.#import()) : this.#import();
    const stopped = new Promise<typeof CLOSED>((resolve) => (this.#stopLoadWait = () => resolve(CLOSED)));
    const outcome = await within(Promise.race([importing, stopped]), this.#loadTimeout);
    this.#stopLoadWait = undefined;
    if (outcome !== TIMED_OUT && outcome !== CLOSED) return outcome;
    void importing.then(() => this.#closeInstance());
    if (outcome === CLOSED) return this.#failure;
    this.#timedOut = true;
    return this.#loadFailed(`${this.#handler} did not finish loading within ${this.#loadTimeout / 1000} s (load_timeout)`);
  }

  /** Hands every waiting request and upgrade on, in order, now that the load has settled. */
  #serveWaiting(): void {
    const queue = this.#waiting;
    this.#waiting = undefined;
    if (queue === undefined) return;
    for (let waiter = queue.shift(); waiter !== undefined; waiter = queue.shift()) {
      // A client that left while the module loaded has no one to answer.
      if (!stillThere(waiter)) continue;
      if (waiter.res !== undefined) this.handle(waiter.req, waiter.res);
      else this.upgrade(waiter.req as IncomingMessage, waiter.socket!, waiter.head!);
    }
  }

  /**
   * Closes what the module made. A load still in flight is given a few
   * seconds (it may wait on a database that is down and never settle);
   * what it makes after that is closed when it settles.
   */
  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    this.#closed = true;
    // From now on new requests get 503; those already waiting for the load are still served.
    this.#failure ??= `${this.file}: the site is closed`;
    const loading = this.#loading;
    if (loading !== undefined && !this.#settled) {
      const late = (await within(loading, LOAD_WAIT_ON_CLOSE_MS, { unref: true })) === TIMED_OUT;
      if (late) {
        // Those waiting for the load get 503 now, not when it settles.
        this.#stopLoadWait?.();
        this.#logger().warn(`site ${this.name}: closed while its module was still loading; it is closed when the load settles`);
        void loading.then(() => this.#closeInstance());
        return;
      }
    }
    await this.#closeInstance();
  }

  async #closeInstance(): Promise<void> {
    const closables = this.#closables;
    this.#listener = undefined;
    this.#upgrade = undefined;
    this.#closables = [];
    for (const closable of closables) {
      try {
        await closable.close();
      } catch (err) {
        this.#logger().error({ err: loggableError(err) }, `site ${this.name}: close() failed`);
      }
    }
  }

  #invoke(listener: Listener, req: AnyRequest, res: AnyResponse): void {
    try {
      const result = listener(req, res);
      if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
        (result as Promise<unknown>).then(undefined, (err: unknown) => this.#failed(err, res));
      }
    } catch (err) {
      this.#failed(err, res);
    }
  }

  /**
   * RFC 9113's HTTP_1_1_REQUIRED: a browser retries the request over
   * HTTP/1.1 (when the server offers it). Logged once per load.
   */
  #refuseHttp2(res: AnyResponse & { stream: { close(code: number): void } }): void {
    if (!this.#refusedHttp2) {
      this.#refusedHttp2 = true;
      this.#logger().warn(`site ${this.name}: an Express app cannot serve HTTP/2; its HTTP/2 requests are reset with HTTP_1_1_REQUIRED`);
    }
    res.stream.close(http2.NGHTTP2_HTTP_1_1_REQUIRED);
  }

  #upgradeFailed(err: unknown, socket: Duplex): void {
    this.#logger().error({ err: loggableError(err) }, `site ${this.name}: the upgrade handler failed`);
    // What the handler already wrote is unknown: a response now could corrupt it.
    destroySiteSocket(socket);
  }

  #failed(err: unknown, res: AnyResponse): void {
    this.#logger().error({ err: loggableError(err) }, `site ${this.name}: the handler failed`);
    answerFailure(res, 500);
  }

  async #import(): Promise<string | undefined> {
    const handler = this.#handler;
    // Every step runs module code (evaluation, getters, createHandler), so
    // every step is inside the try: a load fails, it never rejects.
    let step = `cannot import ${handler}`;
    try {
      // A FIFO or device here is refused, not waited on.
      this.#digest = await fileDigest(handler);
      let url = pathToFileURL(handler).href;
      if (this.#fresh) {
        forgetCommonJs(handler);
        url += `?hostmux-reload=${++reloads}`;
      }
      const namespace = (await import(url)) as Record<string, unknown>;
      step = `cannot read the exports of ${handler}`;
      const fallback = namespace.default;
      const owner = hasMethod(namespace, 'createHandler') ? namespace : hasMethod(fallback, 'createHandler') ? fallback : undefined;
      let target: unknown = fallback;
      if (owner !== undefined) {
        step = `createHandler() in ${handler} failed`;
        target = await owner.createHandler(this.#context());
        step = `cannot read what createHandler() in ${handler} returned`;
      }
      const listener = toListener(target);
      if (listener === undefined) {
        const found = owner !== undefined
          ? `createHandler() returned ${describe(target)}`
          : `its default export is ${describe(fallback)}; named exports: ${Object.keys(namespace).filter((k) => k !== 'default').join(', ') || 'none'}`;
        return this.#loadFailed(`${handler} provides no request handler (a function, or an object with fetch()): ${found}`);
      }
      // Every close() among what createHandler returned, the default export
      // and the module's own exports; each function once.
      const closables = [target, fallback, namespace].filter((c): c is Closable => hasMethod(c, 'close'));
      this.#closables = closables.filter((c, i) => closables.findIndex((other) => other.close === c.close) === i);
      // `upgrade` beside the handler (on what createHandler returned, or the
      // default export), else a named export of the module.
      step = `cannot read the upgrade export of ${handler}`;
      const upgradeOwner = [target, fallback, namespace].find((c) => hasMethod(c, 'upgrade'));
      if (upgradeOwner !== undefined) {
        const owner = upgradeOwner as { upgrade: UpgradeListener };
        this.#upgrade = (req, socket, head) => owner.upgrade(req, socket, head);
      }
      this.#http1Only = needsHttp1(target);
      this.#listener = listener;
      return undefined;
    } catch (err) {
      const at = await syntaxErrorLocation(err, handler, this.#configDir);
      return this.#loadFailed(`${step}: ${describeError(err)}${at === undefined ? '' : ` (at ${at})`}`, err);
    }
  }

  #context(): SiteContext {
    return Object.freeze({
      name: this.name,
      domains: this.domains,
      settings: this.#settings,
      configDir: this.#configDir,
      file: this.file,
      logger: this.#logger(),
    });
  }

  #loadFailed(message: string, err?: unknown): string {
    this.#failure = `${this.file}: ${message}`;
    this.#failureCause = err;
    this.#logger().error(err === undefined ? {} : { err: loggableError(err) }, `site ${this.name} answers 503: ${this.#failure}`);
    return this.#failure;
  }
}
