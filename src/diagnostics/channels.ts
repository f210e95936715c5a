import { channel } from 'node:diagnostics_channel';

/*
 * hostmux's `node:diagnostics_channel` channels, named
 * `hostmux:<noun>:<event>`. Each is made once, here, at module load; every
 * publisher checks `hasSubscribers` first, so that with nobody listening an
 * event costs one property read and builds no message.
 */

/**
 * The names of hostmux's `node:diagnostics_channel` channels. Subscribe with
 * `subscribe(diagnosticsChannels.responseFinished, listener)` from
 * `node:diagnostics_channel`; each channel's message is described by its
 * `*Message` type.
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * import { diagnosticsChannels, type ResponseFinishedMessage } from 'hostmux';
 *
 * subscribe(diagnosticsChannels.responseFinished, (message) => {
 *   const { site, status, duration } = message as ResponseFinishedMessage;
 *   console.log(`${site} ${status} ${duration.toFixed(1)} ms`);
 * });
 * ```
 * @public
 */
export const diagnosticsChannels = Object.freeze({
  /** A request was routed to a site (the default site included): {@link RequestRoutedMessage}. */
  requestRouted: 'hostmux:request:routed',
  /** The response of a routed request closed, finished or aborted: {@link ResponseFinishedMessage}. */
  responseFinished: 'hostmux:response:finished',
  /** A site's module loaded: {@link SiteLoadedMessage}. */
  siteLoaded: 'hostmux:site:loaded',
  /** A site's module failed to load, timed out, or its site closed first: {@link SiteLoadFailedMessage}. */
  siteLoadFailed: 'hostmux:site:load-failed',
  /** A `reload()` settled, taken or refused: {@link ReloadDoneMessage}. */
  reloadDone: 'hostmux:reload:done',
} as const);

export const requestRouted = channel(diagnosticsChannels.requestRouted);
export const responseFinished = channel(diagnosticsChannels.responseFinished);
export const siteLoaded = channel(diagnosticsChannels.siteLoaded);
export const siteLoadFailed = channel(diagnosticsChannels.siteLoadFailed);
export const reloadDone = channel(diagnosticsChannels.reloadDone);
