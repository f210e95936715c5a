import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';
import type { AnyRequest } from '../routing/request-host.js';
import { bodyBytes, byteLength, countBodyBytes } from '../body-bytes.js';
import type { AnyResponse } from '../respond.js';
import { ACCESS_RECORD } from './format.js';

/** The `access` logger: one line per request hostmux answers or hands to a site. */
export interface AccessLog {
  /**
   * Starts timing a request; its line is written when the response finishes
   * or the connection closes. `site` is the site's name, undefined when
   * hostmux answered on its own (400, 404).
   */
  begin(req: AnyRequest, res: AnyResponse, site: string | undefined): void;
  /**
   * Starts timing an upgrade; its line is written when the socket closes.
   * The status is read from the status line of the first bytes written to
   * the socket, by hostmux or by the site's `upgrade` handler (499 when
   * none was written); the bytes are those written after that head.
   */
  beginUpgrade(req: IncomingMessage, socket: Duplex, site: string | undefined): void;
}

// Per-request state lives on the response under this key, so that the
// listeners below are shared functions rather than closures per request.
const STATE = Symbol('hostmux.access');

type Method = (this: TrackedSocket, ...args: never[]) => unknown;

/** What an access line says of the request, read when it begins. */
interface RequestFields {
  readonly log: Logger;
  readonly site: string | undefined;
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  readonly remoteAddress: string | undefined;
  readonly referer: string | undefined;
  readonly userAgent: string | undefined;
  readonly start: number;
}

function requestFields(log: Logger, req: AnyRequest, url: string | undefined, site: string | undefined): RequestFields {
  const headers = req.headers;
  return {
    log,
    site,
    method: req.method ?? '-',
    url: url ?? '-',
    httpVersion: req.httpVersion,
    // Read now: a destroyed socket (or a closed HTTP/2 stream) no longer knows its peer.
    remoteAddress: req.socket?.remoteAddress,
    referer: headers.referer,
    userAgent: headers['user-agent'],
    start: performance.now(),
  };
}

/** Writes one access line for a request that began with `fields`. */
function logAccess(fields: RequestFields, statusCode: number, bytes: number, message: string): void {
  fields.log.info(
    {
      remoteAddress: fields.remoteAddress,
      method: fields.method,
      url: fields.url,
      httpVersion: fields.httpVersion,
      statusCode,
      bytes,
      referer: fields.referer,
      userAgent: fields.userAgent,
      site: fields.site,
      responseTime: Math.round(performance.now() - fields.start),
      [ACCESS_RECORD]: true,
    },
    message,
  );
}

interface AccessState extends RequestFields {
  done: boolean;
}

interface Tracked {
  [STATE]?: AccessState;
  readonly headersSent: boolean;
  readonly statusCode: number;
  readonly writableFinished: boolean;
}

/** 'close' comes once per response, after 'finish' or when the connection went away first. */
function onClose(this: Tracked): void {
  const state = this[STATE];
  if (state === undefined || state.done) return;
  state.done = true;
  // nginx's 499: the connection closed before any response went out.
  const statusCode = this.headersSent ? this.statusCode : 499;
  logAccess(state, statusCode, bodyBytes(this as unknown as AnyResponse, state.method, statusCode), this.writableFinished ? 'request completed' : 'request aborted');
}

// ---------------------------------------------------------------------------
// Upgrades: hostmux sees only the bytes written to the socket, so the status
// comes from the head written first, and the bytes are those after it.

const UPGRADE = Symbol('hostmux.accessUpgrade');

/** A head longer than this is not looked for further: its status stays unknown. */
const MAX_HEAD = 16 * 1024;
const STATUS_LINE = /^HTTP\/\d\.\d (\d{3})[ \r]/;

interface UpgradeState extends RequestFields {
  /** The status line's code; 0 until one was read. */
  statusCode: number;
  /** The head written so far (latin1), until its blank line; undefined after it. */
  head: string | undefined;
  /** Bytes written after the head. */
  bytes: number;
  readonly write: Method;
  readonly end: Method;
}

interface TrackedSocket {
  [UPGRADE]?: UpgradeState;
  write: Method;
  end: Method;
}

function latin1(chunk: unknown, encoding: unknown): string {
  if (typeof chunk === 'string') return typeof encoding === 'string' && encoding !== 'utf8' && encoding !== 'utf-8' ? Buffer.from(chunk, encoding as BufferEncoding).toString('latin1') : chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
  return '';
}

function observe(state: UpgradeState, chunk: unknown, encoding: unknown): void {
  const length = byteLength(chunk, encoding);
  if (state.head === undefined) {
    state.bytes += length;
    return;
  }
  const before = state.head.length;
  // Only as much as can still belong to the head is decoded.
  const text = state.head + latin1(chunk, encoding).slice(0, MAX_HEAD - before + 4);
  const blank = text.indexOf('\r\n\r\n');
  if (blank === -1 && text.length < MAX_HEAD) {
    state.head = text;
    return;
  }
  state.head = undefined;
  if (blank === -1) {
    state.bytes += length;
    return;
  }
  state.statusCode = Number(STATUS_LINE.exec(text)?.[1] ?? 0);
  state.bytes += length - (blank + 4 - before);
}

/* eslint-disable prefer-rest-params -- the wrappers hand the original write()/end()
   exactly the arguments they got, without an array of their own per call. */
function countingSocketWrite(this: TrackedSocket, chunk: unknown, encoding?: unknown): unknown {
  const state = this[UPGRADE]!;
  observe(state, chunk, encoding);
  return Reflect.apply(state.write, this, arguments);
}

// A socket's end(data) writes data without calling write(): counted here once.
function countingSocketEnd(this: TrackedSocket, chunk?: unknown, encoding?: unknown): unknown {
  const state = this[UPGRADE]!;
  if (typeof chunk !== 'function') observe(state, chunk, encoding);
  return Reflect.apply(state.end, this, arguments);
}
/* eslint-enable prefer-rest-params */

function onUpgradeClose(this: TrackedSocket): void {
  const state = this[UPGRADE];
  if (state === undefined) return;
  this[UPGRADE] = undefined;
  // nginx's 499: the connection closed before an answer hostmux could read went out.
  logAccess(state, state.statusCode === 0 ? 499 : state.statusCode, state.bytes, 'upgrade closed');
}

/** Writes access records to a logger (the `access` logger of a configuration). */
export class AccessLogger implements AccessLog {
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  begin(req: AnyRequest, res: AnyResponse, site: string | undefined): void {
    const tracked = res as unknown as Tracked;
    if (tracked[STATE] !== undefined) return;
    tracked[STATE] = {
      // Express strips a mount path from req.url; the line shows the target as received.
      ...requestFields(this.#log, req, (req as { originalUrl?: string }).originalUrl ?? req.url, site),
      done: false,
    };
    countBodyBytes(res);
    (res as EventEmitter).on('close', onClose);
  }

  beginUpgrade(req: IncomingMessage, socket: Duplex, site: string | undefined): void {
    const tracked = socket as unknown as TrackedSocket;
    if (tracked[UPGRADE] !== undefined) return;
    tracked[UPGRADE] = {
      ...requestFields(this.#log, req, req.url, site),
      statusCode: 0,
      head: '',
      bytes: 0,
      write: tracked.write,
      end: tracked.end,
    };
    tracked.write = countingSocketWrite;
    tracked.end = countingSocketEnd;
    socket.on('close', onUpgradeClose);
  }
}
