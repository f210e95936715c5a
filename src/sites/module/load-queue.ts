import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isClosed, type AnyResponse } from '../../respond.js';
import type { AnyRequest } from '../../routing/request-host.js';

/**
 * A request or an upgrade waiting for its site's module to load: one small
 * record, linked into its queue. The listeners that drop it when its client
 * leaves are shared functions (no closure per waiting request), and it is
 * unlinked at once, so an abandoned request keeps nothing.
 */
export interface Waiter {
  prev: Waiter | undefined;
  next: Waiter | undefined;
  queue: LoadQueue | undefined;
  readonly req: AnyRequest;
  /** The response of a request; undefined for an upgrade. */
  readonly res: AnyResponse | undefined;
  /** The socket of an upgrade; undefined for a request. */
  readonly socket: Duplex | undefined;
  /** The upgrade's first bytes: `head`, then what the client sent while it waited. */
  head: Buffer | undefined;
}

const WAITER = Symbol('hostmux.waiter');
type Marked = { [WAITER]?: Waiter | undefined };

/** An HTTP/1 socket as Node's server drives it; `_paused` and `parser` are its own (see socketOnDrain in node:_http_server). */
interface ServerSocket extends Duplex {
  _paused?: boolean;
  parser?: { resume(): void } | null;
  [WAITING]?: number;
  [PAUSED]?: boolean;
}
/** How many requests of this connection wait for a load. */
const WAITING = Symbol('hostmux.waiting');
/** hostmux paused this connection's reading. */
const PAUSED = Symbol('hostmux.paused');

/**
 * What a waiting upgrade's client may send before it is served (early
 * WebSocket frames): kept for its handler, as `head`. Beyond it the socket
 * is no longer read.
 */
const EARLY_BYTES = 16 * 1024;

/**
 * A waiting upgrade's socket is read, so that a client that leaves is seen
 * at once; what it sends is added to `head`, up to EARLY_BYTES.
 */
function onUpgradeData(this: Duplex & Marked, chunk: Buffer): void {
  const waiter = this[WAITER];
  if (waiter === undefined) return;
  const head = waiter.head === undefined || waiter.head.length === 0 ? chunk : Buffer.concat([waiter.head, chunk]);
  waiter.head = head;
  if (head.length >= EARLY_BYTES) this.pause();
}

/**
 * 'end' of a waiting upgrade's socket: the client is gone (an HTTP server's
 * sockets allow half-open connections, so Node does not close it itself).
 */
function onUpgradeEnd(this: Duplex): void {
  this.destroy();
}

/** 'close' of a waiting response or upgrade socket: the client is gone. */
function onClose(this: Marked): void {
  const waiter = this[WAITER];
  waiter?.queue?.remove(waiter);
}

/**
 * 'close' of a waiting HTTP/1 request. Node closes the requests of a
 * pipelined connection that went away without closing their responses (not
 * yet attached to the socket), so this is how those are seen. A request
 * whose body was read to its end also closes, with its client still there:
 * that one stays.
 */
function onRequestClose(this: IncomingMessage & Marked): void {
  if (cutOff(this)) onClose.call(this);
}

/** An HTTP/1 request destroyed before it was read to its end, or with an error: its connection is gone. */
function cutOff(req: IncomingMessage): boolean {
  return req.errored !== null || (req.destroyed && !req.readableEnded);
}

/**
 * Stops reading a connection that has more than one request waiting (a
 * pipelining client), as Node does itself when responses back up: the
 * parser finishes the chunk in hand, then reads nothing until the wait is
 * over. A connection with a single waiting request is still read, so that a
 * client that leaves is seen at once.
 */
function holdConnection(req: IncomingMessage): void {
  const socket = req.socket as ServerSocket | null;
  if (socket === null || socket.destroyed) return;
  const waiting = (socket[WAITING] ?? 0) + 1;
  socket[WAITING] = waiting;
  if (waiting >= 2 && socket._paused !== true) {
    socket[PAUSED] = true;
    socket._paused = true;
    socket.pause();
  }
}

/** Undoes holdConnection for one request; reading resumes when none is left waiting. */
function releaseConnection(req: IncomingMessage): void {
  const socket = req.socket as ServerSocket | null;
  if (socket === null) return;
  const waiting = (socket[WAITING] ?? 1) - 1;
  socket[WAITING] = waiting;
  if (waiting > 0 || socket[PAUSED] !== true) return;
  socket[PAUSED] = false;
  // As Node's own socketOnDrain resumes a connection it paused.
  if (socket._paused === true && !socket.destroyed) {
    socket._paused = false;
    socket.parser?.resume();
    socket.resume();
  }
}

/** HTTP/2 streams share their session's socket: they are bounded by the queue's cap and the session's stream limit instead. */
function isHttp1(res: AnyResponse): boolean {
  return !('stream' in res);
}

/**
 * The requests and upgrades waiting for one site's load, first come first
 * served, at most `capacity` of them. add, remove and shift are O(1).
 */
export class LoadQueue {
  readonly capacity: number;
  #head: Waiter | undefined;
  #tail: Waiter | undefined;
  #size = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Queues a request; false when the queue is full. */
  addRequest(req: AnyRequest, res: AnyResponse): boolean {
    if (this.#size >= this.capacity) return false;
    const waiter = this.#link({ prev: undefined, next: undefined, queue: this, req, res, socket: undefined, head: undefined });
    (res as Marked)[WAITER] = waiter;
    res.on('close', onClose);
    if (isHttp1(res)) {
      const http1 = req as IncomingMessage & Marked;
      http1[WAITER] = waiter;
      http1.on('close', onRequestClose);
      holdConnection(http1);
    }
    return true;
  }

  /** Queues an upgrade; false when the queue is full. */
  addUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (this.#size >= this.capacity) return false;
    const waiter = this.#link({ prev: undefined, next: undefined, queue: this, req, res: undefined, socket, head });
    (socket as Marked)[WAITER] = waiter;
    socket.on('close', onClose);
    socket.on('data', onUpgradeData);
    socket.on('end', onUpgradeEnd);
    return true;
  }

  /** Takes the first waiter out, detached from its client's events; undefined when empty. */
  shift(): Waiter | undefined {
    const first = this.#head;
    if (first !== undefined) this.remove(first);
    return first;
  }

  /** Unlinks a waiter (served, or its client left) and stops listening for it. */
  remove(waiter: Waiter): void {
    if (waiter.queue !== this) return;
    const { prev, next } = waiter;
    if (prev === undefined) this.#head = next;
    else prev.next = next;
    if (next === undefined) this.#tail = prev;
    else next.prev = prev;
    waiter.prev = waiter.next = waiter.queue = undefined;
    this.#size--;
    const { res, socket } = waiter;
    const req = waiter.req as IncomingMessage & Marked;
    if (res !== undefined) {
      (res as Marked)[WAITER] = undefined;
      res.off('close', onClose);
      if (isHttp1(res)) {
        req[WAITER] = undefined;
        req.off('close', onRequestClose);
        releaseConnection(req);
      }
    } else if (socket !== undefined) {
      (socket as Marked)[WAITER] = undefined;
      socket.off('close', onClose);
      socket.off('data', onUpgradeData);
      socket.off('end', onUpgradeEnd);
      // As Node hands an upgrade over: not flowing, so that the handler's own 'data' listener starts it.
      socket.pause();
      (socket as { readableFlowing: boolean | null }).readableFlowing = null;
    }
  }

  #link(waiter: Waiter): Waiter {
    const tail = this.#tail;
    waiter.prev = tail;
    if (tail === undefined) this.#head = waiter;
    else tail.next = waiter;
    this.#tail = waiter;
    this.#size++;
    return waiter;
  }
}

/** Whether a waiter's client is still there to be answered. */
export function stillThere(waiter: Waiter): boolean {
  const res = waiter.res;
  if (res !== undefined) return !isClosed(res) && !(isHttp1(res) && cutOff(waiter.req as IncomingMessage));
  return waiter.socket !== undefined && !waiter.socket.destroyed;
}
