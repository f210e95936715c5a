import { appendFileSync, constants, openSync } from 'node:fs';
import { dirname } from 'node:path';
import pino from 'pino';
import { describeError } from '../describe-error.js';
import { escapeControls } from '../escape-controls.js';

/** Where formatted lines go: a console stream or a file. */
export interface Destination {
  write(line: string): void;
  /** Opens the file again under its name (after logrotate renamed it). */
  reopen(): void;
  /** Flushes and closes; never rejects. */
  close(): Promise<void>;
}

type SonicBoom = ReturnType<typeof pino.destination>;

// sonic-boom sets `destroyed` once closed; its typings leave it out.
const isDestroyed = (stream: SonicBoom): boolean => (stream as { destroyed?: boolean }).destroyed === true;

/**
 * stderr and stdout are written through `process.stderr`/`process.stdout`,
 * which Node writes synchronously to files, pipes and terminals: the lines
 * before a crash are not lost. They are never closed.
 */
function consoleDestination(name: 'stderr' | 'stdout'): Destination {
  return {
    write: (line) => void process[name].write(line),
    reopen: () => {},
    close: () => Promise.resolve(),
  };
}
const STDERR = consoleDestination('stderr');
const STDOUT = consoleDestination('stdout');

function reportFailure(path: string, what: string, err: unknown): void {
  process.stderr.write(`${new Date().toISOString()} ERROR hostmux: ${escapeControls(`cannot ${what} log file ${path}: ${describeError(err)}`)}\n`);
}

/** Ends a sonic-boom once its buffer is written; resolves on close or failure. */
function endStream(stream: SonicBoom): Promise<void> {
  if (isDestroyed(stream)) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('close', () => resolve());
    stream.once('error', () => {
      // A failed write leaves the stream waiting; destroying it releases the descriptor.
      if (!isDestroyed(stream)) stream.destroy();
      resolve();
    });
    stream.end();
  });
}

/**
 * A log file, appended to through sonic-boom (asynchronous writes, buffered
 * while one is in flight; pino.destination flushes it on process exit). The
 * descriptor is opened here, synchronously, so that an unopenable path is a
 * configuration problem at load rather than a later 'error' event.
 */
class FileDestination implements Destination {
  readonly #path: string;
  #stream: SonicBoom | undefined;
  /** Streams replaced by reopen() or ended by close(), still flushing. */
  readonly #ending = new Set<Promise<void>>();

  constructor(path: string, fd: number) {
    this.#path = path;
    this.#stream = this.#wrap(fd);
  }

  #wrap(fd: number): SonicBoom {
    const stream = pino.destination({ dest: fd, sync: false });
    stream.on('error', (err: unknown) => reportFailure(this.#path, 'write', err));
    return stream;
  }

  #end(stream: SonicBoom): void {
    const ending = endStream(stream).finally(() => this.#ending.delete(ending));
    this.#ending.add(ending);
  }

  write(line: string): void {
    const stream = this.#stream;
    if (stream !== undefined && !isDestroyed(stream)) {
      stream.write(line);
      return;
    }
    // After close(), a request still in flight from before a reload may log: append it synchronously rather than lose it.
    try {
      appendFileSync(this.#path, line);
    } catch (err) {
      reportFailure(this.#path, 'append to', err);
    }
  }

  reopen(): void {
    const old = this.#stream;
    if (old === undefined) return;
    let fd: number;
    try {
      fd = openLogFile(this.#path);
    } catch (err) {
      // Keep writing to the old file rather than nowhere.
      reportFailure(this.#path, 'reopen', err);
      return;
    }
    this.#stream = this.#wrap(fd);
    // Lines already buffered finish in the old (renamed) file; new ones go to the new file.
    this.#end(old);
  }

  async close(): Promise<void> {
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream !== undefined) this.#end(stream);
    await Promise.all(this.#ending);
  }
}

/**
 * Opens a log file to append to. Non-blocking, so that a FIFO with no
 * reader is an error at once (ENXIO) rather than an open that waits for a
 * reader for ever; writes to a regular file are unaffected, and sonic-boom
 * retries a write a FIFO's reader is not ready for.
 */
function openLogFile(path: string): number {
  return openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK, 0o666);
}

/** Why a log file cannot be opened, in words an operator acts on. */
function openProblem(path: string, err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return `cannot open "${path}": the directory ${dirname(path)} does not exist (hostmux does not create it)`;
    case 'EISDIR':
      return `cannot open "${path}": it is a directory`;
    case 'ENXIO':
      return `cannot open "${path}": it is a FIFO that no process reads`;
    case 'EACCES':
    case 'EPERM':
      return `cannot open "${path}": permission denied`;
    default:
      return `cannot open "${path}": ${err.message}`;
  }
}

/**
 * Opens destinations, sharing one per path: two handlers on one file write
 * through one descriptor, so their lines never interleave mid-line.
 */
export class Destinations {
  readonly #files = new Map<string, FileDestination>();

  /** The destination for `stderr`, `stdout` or an absolute path; a string says why it cannot be opened. */
  open(destination: string): Destination | string {
    if (destination === 'stderr') return STDERR;
    if (destination === 'stdout') return STDOUT;
    let file = this.#files.get(destination);
    if (file === undefined) {
      let fd: number;
      try {
        fd = openLogFile(destination);
      } catch (err) {
        return openProblem(destination, err as NodeJS.ErrnoException);
      }
      this.#files.set(destination, (file = new FileDestination(destination, fd)));
    }
    return file;
  }

  reopen(): void {
    for (const file of this.#files.values()) file.reopen();
  }

  async close(): Promise<void> {
    await Promise.all([...this.#files.values()].map((file) => file.close()));
  }
}

/** The console destination the defaults use. */
export const DEFAULT_DESTINATION: Destination = STDERR;
