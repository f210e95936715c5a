import type { AnyRequest } from '../routing/request-host.js';
import type { AnyResponse } from '../respond.js';

/**
 * The message of `hostmux:request:routed`: published when hostmux hands a
 * request to a site, before the site sees it. Requests hostmux answers
 * itself (400, 404) or leaves to the host framework are not published;
 * upgrades are not either.
 * @public
 */
export interface RequestRoutedMessage {
  /** The request, as the site gets it. */
  readonly request: AnyRequest;
  /** Its response: the same object `hostmux:response:finished` carries. */
  readonly response: AnyResponse;
  /** The site's name. */
  readonly site: string;
  /** The host name the request was routed by, normalised (`''` when it had none and went to the default site). */
  readonly host: string;
}

/**
 * The message of `hostmux:response:finished`: published when the response
 * of a routed request closes, whether it finished or the client left first.
 * Only requests routed while the channel had a subscriber are tracked.
 * @public
 */
export interface ResponseFinishedMessage {
  /** The request: the same object `hostmux:request:routed` carried. */
  readonly request: AnyRequest;
  /** Its response, closed now. */
  readonly response: AnyResponse;
  /** The site's name. */
  readonly site: string;
  /** The status sent; 499 when the client left before any response went out (as the access log says). */
  readonly status: number;
  /** Milliseconds from routing to the response's close, with fractions. */
  readonly duration: number;
  /** Body bytes the site wrote (0 for HEAD, 1xx, 204 and 304), as the access log counts them. */
  readonly bytes: number;
  /** True when the response closed before it was finished (the client left, or the site destroyed it). */
  readonly aborted: boolean;
}

/**
 * The message of `hostmux:site:loaded`: a site's module was imported and
 * gave a handler (module sites only: other kinds have nothing to load).
 * @public
 */
export interface SiteLoadedMessage {
  /** The site's name. */
  readonly site: string;
  /** Its site file, relative to `configDir`. */
  readonly file: string;
  /** The application's configuration directory, absolute. */
  readonly configDir: string;
  /** Milliseconds the load took, with fractions. */
  readonly duration: number;
}

/**
 * The message of `hostmux:site:load-failed`: a site's load ended without a
 * handler; the site answers 503 until a reload. Each load publishes once,
 * `loaded` or `load-failed`.
 * @public
 */
export interface SiteLoadFailedMessage extends SiteLoadedMessage {
  /** Why, as the log line and `ready()`'s `SiteLoadError` say it. */
  readonly error: string;
  /** What the module threw, when it threw; undefined for a timeout or a module without a handler. */
  readonly cause: unknown;
  /** True when `load_timeout` passed first. */
  readonly timedOut: boolean;
}
