import {
  close, closeSync, fstat, fstatSync, lstat, lstatSync, open, openSync, read, readdir, readdirSync, readSync,
  readlink, readlinkSync, realpath, realpathSync, stat, statSync, type Dirent, type Stats,
} from 'node:fs';
import { performance } from 'node:perf_hooks';
import { mapLimited } from '../map-limited.js';

/**
 * One I/O operation in both forms. The configuration is read by one piece
 * of logic, written as a generator of steps: `createApplication` (which is
 * synchronous) runs it with `runSync`, a reload with `runAsync`, which never
 * blocks the event loop on I/O and lets requests in between slices of work.
 */
export interface Step<T> {
  readonly sync: () => T;
  readonly async: () => Promise<T>;
}

/** A computation that performs Steps and returns R. */
export type Steps<R> = Generator<Step<unknown>, R, unknown>;

/** Performs one step: `const text = yield* perform(step)`. */
export function* perform<T>(step: Step<T>): Steps<T> {
  return (yield step) as T;
}

/** Runs `steps` with synchronous I/O; a failed step throws into the generator. */
export function runSync<R>(steps: Steps<R>): R {
  let next = steps.next();
  while (next.done !== true) {
    let value: unknown;
    try {
      value = next.value.sync();
    } catch (err) {
      next = steps.throw(err);
      continue;
    }
    next = steps.next(value);
  }
  return next.value;
}

/** Runs `steps` with asynchronous I/O. */
export async function runAsync<R>(steps: Steps<R>): Promise<R> {
  let next = steps.next();
  while (next.done !== true) {
    let value: unknown;
    try {
      value = await next.value.async();
    } catch (err) {
      next = steps.throw(err);
      continue;
    }
    next = steps.next(value);
  }
  return next.value;
}

/** How long a run of CPU work (parsing, compiling) may hold the event loop before a reload lets requests in. */
const SLICE_MS = 4;
let sliceStart = performance.now();

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Between units of CPU work: asynchronously, gives the event loop a turn once the slice is used up. */
const CHECKPOINT: Step<void> = {
  sync: () => {},
  async: async () => {
    if (performance.now() - sliceStart < SLICE_MS) return;
    await yieldToLoop();
    sliceStart = performance.now();
  },
};

export function* checkpoint(): Steps<void> {
  yield CHECKPOINT;
}

/** `fn` over `items`: in order when synchronous, at most `limit` at a time when not. */
export function* each<T, R>(items: readonly T[], limit: number, fn: (item: T) => Steps<R>): Steps<R[]> {
  return yield* perform<R[]>({
    sync: () => items.map((item) => runSync(fn(item))),
    async: () => mapLimited(items, limit, (item) => runAsync(fn(item))),
  });
}

/** A step from a synchronous call and its callback form. */
function step<T>(sync: () => T, async: (done: (err: Error | null, value: T) => void) => void): Step<T> {
  return {
    sync,
    async: () => new Promise<T>((resolve, reject) => async((err, value) => (err === null ? resolve(value) : reject(err)))),
  };
}

/** The file system calls the configuration reader makes, as steps. */
export const fsStep = {
  stat: (path: string): Step<Stats> => step(() => statSync(path), (done) => stat(path, done)),
  lstat: (path: string): Step<Stats> => step(() => lstatSync(path), (done) => lstat(path, done)),
  readlink: (path: string): Step<string> => step(() => readlinkSync(path), (done) => readlink(path, done)),
  realpath: (path: string): Step<string> => step(() => realpathSync.native(path), (done) => realpath.native(path, done)),
  readdir: (path: string, recursive: boolean): Step<Dirent[]> =>
    step(() => readdirSync(path, { withFileTypes: true, recursive }), (done) => readdir(path, { withFileTypes: true, recursive }, done)),
  open: (path: string, flags: number): Step<number> => step(() => openSync(path, flags), (done) => open(path, flags, done)),
  fstat: (fd: number): Step<Stats> => step(() => fstatSync(fd), (done) => fstat(fd, done)),
  read: (fd: number, buffer: Buffer, offset: number): Step<number> =>
    step(() => readSync(fd, buffer, offset, buffer.length - offset, null), (done) => read(fd, buffer, offset, buffer.length - offset, null, done)),
  close: (fd: number): Step<void> => step(() => closeSync(fd), (done) => close(fd, (err) => done(err ?? null, undefined))),
};
