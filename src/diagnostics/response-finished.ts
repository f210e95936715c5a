import type { EventEmitter } from 'node:events';
import type { AnyRequest } from '../routing/request-host.js';
import type { AnyResponse } from '../respond.js';
import { responseFinished } from './channels.js';
import type { ResponseFinishedMessage } from './messages.js';

// Per-request state lives on the response under this key, so that the
// wrappers and the 'close' listener are shared functions, not closures.
const FINISH = Symbol('hostmux.diagnostics.finish');

type Method = (this: Tracked, ...args: never[]) => unknown;

interface FinishState {
  readonly request: AnyRequest;
  readonly site: string;
  readonly start: number;
  /** Body bytes the site wrote, counted in write()/end(). */
  bytes: number;
  /** Inside end(): HTTP/2's end() writes its chunk through write(), which must not count it twice. */
  inEnd: boolean;
  readonly write: Method;
  readonly end: Method;
}

interface Tracked {
  [FINISH]?: FinishState;
  write: Method;
  end: Method;
  readonly headersSent: boolean;
  readonly statusCode: number;
  readonly writableFinished: boolean;
}

function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

/* eslint-disable prefer-rest-params -- the wrappers hand the original write()/end()
   exactly the arguments they got, without an array of their own per call. */
function countingWrite(this: Tracked, chunk: unknown, encoding?: unknown): unknown {
  const state = this[FINISH]!;
  if (!state.inEnd) state.bytes += byteLength(chunk, encoding);
  return Reflect.apply(state.write, this, arguments);
}

function countingEnd(this: Tracked, chunk?: unknown, encoding?: unknown): unknown {
  const state = this[FINISH]!;
  state.bytes += byteLength(chunk, encoding);
  state.inEnd = true;
  try {
    return Reflect.apply(state.end, this, arguments);
  } finally {
    state.inEnd = false;
  }
}
/* eslint-enable prefer-rest-params */

/** 'close' comes once per response, after 'finish' or when the connection went away first. */
function publishFinished(this: Tracked): void {
  const state = this[FINISH];
  if (state === undefined) return;
  this[FINISH] = undefined;
  // A subscriber that left since the request was routed gets nothing.
  if (!responseFinished.hasSubscribers) return;
  const status = this.headersSent ? this.statusCode : 499;
  // Node sends no body for these, whatever the site wrote.
  const bodiless = state.request.method === 'HEAD' || status === 204 || status === 304 || status < 200;
  const message: ResponseFinishedMessage = {
    request: state.request,
    response: this as unknown as AnyResponse,
    site: state.site,
    status,
    duration: performance.now() - state.start,
    bytes: bodiless ? 0 : state.bytes,
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
  tracked[FINISH] = { request, site, start: performance.now(), bytes: 0, inEnd: false, write: tracked.write, end: tracked.end };
  tracked.write = countingWrite;
  tracked.end = countingEnd;
  (response as EventEmitter).on('close', publishFinished);
}
