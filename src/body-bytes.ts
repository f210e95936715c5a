import type { AnyResponse } from './respond.js';

// The body bytes a site wrote to its response, counted at write()/end()
// rather than read from Content-Length: right for chunked and streamed
// bodies, and an aborted response shows the bytes so far. The access log and
// the diagnostics channel both want the count: a response is wrapped once,
// however many ask. The count lives on the response under a symbol, so the
// wrappers are shared functions, not closures per request.

const COUNT = Symbol('hostmux.bodyBytes');

type Method = (this: Counted, ...args: never[]) => unknown;

interface Count {
  bytes: number;
  /** Inside end(): HTTP/2's end() writes its chunk through write(), which must not count it twice. */
  inEnd: boolean;
  readonly write: Method;
  readonly end: Method;
}

interface Counted {
  [COUNT]?: Count;
  write: Method;
  end: Method;
}

/** The bytes a write() or end() argument will put on the wire. */
export function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

/* eslint-disable prefer-rest-params -- the wrappers hand the original write()/end()
   exactly the arguments they got, without an array of their own per call. */
function countingWrite(this: Counted, chunk: unknown, encoding?: unknown): unknown {
  const count = this[COUNT]!;
  if (!count.inEnd) count.bytes += byteLength(chunk, encoding);
  return Reflect.apply(count.write, this, arguments);
}

function countingEnd(this: Counted, chunk?: unknown, encoding?: unknown): unknown {
  const count = this[COUNT]!;
  count.bytes += byteLength(chunk, encoding);
  count.inEnd = true;
  try {
    return Reflect.apply(count.end, this, arguments);
  } finally {
    count.inEnd = false;
  }
}
/* eslint-enable prefer-rest-params */

/** Starts counting the body bytes written to `res`; once per response, whoever asks. */
export function countBodyBytes(res: AnyResponse): void {
  const counted = res as unknown as Counted;
  if (counted[COUNT] !== undefined) return;
  counted[COUNT] = { bytes: 0, inEnd: false, write: counted.write, end: counted.end };
  counted.write = countingWrite;
  counted.end = countingEnd;
}

/**
 * The body bytes of `res` that reached the wire so far: 0 for an answer
 * Node sends no body with (to HEAD; 1xx, 204, 304), whatever the site wrote;
 * 0 when they were not counted.
 */
export function bodyBytes(res: AnyResponse, method: string | undefined, status: number): number {
  if (method === 'HEAD' || status === 204 || status === 304 || status < 200) return 0;
  return (res as unknown as Counted)[COUNT]?.bytes ?? 0;
}
