import type { EventEmitter } from 'node:events';
import { bodyBytes, countBodyBytes } from '../body-bytes.js';
import type { AnyRequest } from '../routing/request-host.js';
import type { AnyResponse } from '../respond.js';
import { responseFinished } from './channels.js';
import type { ResponseFinishedMessage } from './messages.js';

// Per-request state lives on the response under this key, so that the
// 'close' listener is a shared function, not a closure; the body bytes are
// counted by body-bytes.ts, as for the access log.
const FINISH = Symbol('hostmux.diagnostics.finish');

interface FinishState {
  readonly request: AnyRequest;
  readonly site: string;
  readonly start: number;
}

interface Tracked {
  [FINISH]?: FinishState;
  readonly headersSent: boolean;
  readonly statusCode: number;
  readonly writableFinished: boolean;
}

/** 'close' comes once per response, after 'finish' or when the connection went away first. */
function publishFinished(this: Tracked): void {
  const state = this[FINISH];
  if (state === undefined) return;
  this[FINISH] = undefined;
  // A subscriber that left since the request was routed gets nothing.
  if (!responseFinished.hasSubscribers) return;
  const status = this.headersSent ? this.statusCode : 499;
  const message: ResponseFinishedMessage = {
    request: state.request,
    response: this as unknown as AnyResponse,
    site: state.site,
    status,
    duration: performance.now() - state.start,
    bytes: bodyBytes(this as unknown as AnyResponse, state.request.method, status),
    aborted: !this.writableFinished,
  };
  responseFinished.publish(message);
}

/**
 * Tracks one routed response for `hostmux:response:finished`. Called only
 * while the channel has a subscriber: otherwise a response gets no wrapper,
 * no listener and no state.
 */
export function trackFinish(request: AnyRequest, response: AnyResponse, site: string): void {
  const tracked = response as unknown as Tracked;
  tracked[FINISH] = { request, site, start: performance.now() };
  countBodyBytes(response);
  (response as EventEmitter).on('close', publishFinished);
}
