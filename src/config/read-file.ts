import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import type { ConfigProblem } from '../errors.js';
import { fsStep, perform, runAsync, runSync, type Steps } from './steps.js';

/** hostmux.conf, a site file and logging.ini are each read only up to this size. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/**
 * Every configuration file is opened by one rule: non-blocking, so that a
 * FIFO opens at once instead of waiting for a writer forever (and a serial
 * device does not wait for carrier), and never as a controlling terminal;
 * then the open handle is checked, so that what is read is what was checked.
 */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

/** Why a path that should be a regular file is not one; undefined for a regular file. */
export function notAFile(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined;
  if (stats.isFIFO()) return 'is a FIFO, not a file';
  if (stats.isDirectory()) return 'is a directory, not a file';
  if (stats.isCharacterDevice()) return 'is a character device, not a file';
  if (stats.isBlockDevice()) return 'is a block device, not a file';
  if (stats.isSocket()) return 'is a socket, not a file';
  return 'is not a regular file';
}

/** Which files a size problem is about, as its message says it: `site files are`. */
export type LimitedFiles = 'site files are' | 'hostmux.conf is' | 'logging.ini is';

const MIB = 1024 * 1024;

/** `3 MiB`, `3.2 MiB`; in bytes just over the limit, where MiB would round to it. */
function sizeOf(bytes: number): string {
  const mib = (bytes / MIB).toFixed(1).replace(/\.0$/, '');
  return mib === '1' ? `${bytes} bytes` : `${mib} MiB`;
}

function tooLarge(bytes: number, orMore: boolean, files: LimitedFiles): string {
  return `is ${orMore ? 'over 1 MiB' : sizeOf(bytes)}; ${files} limited to 1 MiB`;
}

/** Why a path that should be a file cannot be opened, in words an operator acts on. */
export function* whyUnopenable(path: string, err: unknown): Steps<string> {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    try {
      if ((yield* perform(fsStep.lstat(path))).isSymbolicLink()) return `dangling symlink to "${yield* perform(fsStep.readlink(path))}"`;
    } catch {
      return 'no such file';
    }
  }
  if (code === 'ENXIO') {
    // What open() refuses with ENXIO (a socket, a device without its driver) is not a file either.
    try {
      return notAFile(yield* perform(fsStep.stat(path))) ?? `cannot read the file: ${(err as Error).message}`;
    } catch {
      // Reported as it is, below.
    }
  }
  return `cannot read the file: ${(err as Error).message}`;
}

/** What reading a configuration file gave: its text, or why not (`absent`: no such file and no symlink). */
export type FileText =
  | { readonly text: string; readonly problem?: undefined }
  | { readonly text?: undefined; readonly problem: string; readonly absent: boolean };

/**
 * Opens `path` by the rule above and passes its descriptor, checked to be
 * a regular file, to `use`; closes it whatever happens. A failure to open
 * or a non-file is `{ problem }`.
 */
function* withFile<R>(path: string, use: (fd: number, stats: Stats) => Steps<R>): Steps<R | { problem: string; absent: boolean }> {
  let fd: number;
  try {
    fd = yield* perform(fsStep.open(path, OPEN_FLAGS));
  } catch (err) {
    const problem = yield* whyUnopenable(path, err);
    return { problem, absent: problem === 'no such file' };
  }
  try {
    const stats = yield* perform(fsStep.fstat(fd));
    const problem = notAFile(stats);
    if (problem !== undefined) return { problem, absent: false };
    return yield* use(fd, stats);
  } catch (err) {
    return { problem: `cannot read the file: ${(err as Error).message}`, absent: false };
  } finally {
    try {
      yield* perform(fsStep.close(fd));
    } catch {
      // Nothing to do about a failed close of a file opened read-only.
    }
  }
}

/**
 * Reads a configuration file as UTF-8 (a byte order mark dropped), at most
 * MAX_CONFIG_FILE_BYTES of it: a larger file is a problem, not read whole.
 */
export function* readConfigText(path: string, files: LimitedFiles): Steps<FileText> {
  return yield* withFile(path, function* (fd, stats): Steps<FileText> {
    if (stats.size > MAX_CONFIG_FILE_BYTES) return { problem: tooLarge(stats.size, false, files), absent: false };
    // One byte more than fstat says, to see a file that grew since.
    let buffer = Buffer.allocUnsafe(stats.size + 1);
    let length = 0;
    for (;;) {
      const wanted = buffer.length - length;
      const read = yield* perform(fsStep.read(fd, buffer, length));
      length += read;
      // A regular file reads short only at its end: no second read to see 0.
      if (read < wanted) break;
      if (length === buffer.length) {
        if (length > MAX_CONFIG_FILE_BYTES) return { problem: tooLarge(length, true, files), absent: false };
        const larger = Buffer.allocUnsafe(Math.min(length * 2, MAX_CONFIG_FILE_BYTES + 1));
        buffer.copy(larger);
        buffer = larger;
      }
    }
    const text = buffer.toString('utf8', 0, length);
    // Editors on Windows write a BOM, which would make the first line unreadable to ini.
    return { text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
  });
}

/** Reads a configuration file; a failure becomes a problem and `undefined`. */
export function* readConfigFileSteps(
  path: string,
  file: string,
  problems: ConfigProblem[],
  files: LimitedFiles = 'site files are',
): Steps<string | undefined> {
  const read = yield* readConfigText(path, files);
  if (read.problem !== undefined) problems.push({ file, message: read.problem });
  return read.text;
}

/** readConfigFileSteps, synchronously. */
export function readConfigFile(path: string, file: string, problems: ConfigProblem[]): string | undefined {
  return runSync(readConfigFileSteps(path, file, problems));
}

const DIGEST_CHUNK = 64 * 1024;

/**
 * A digest of a file's content (a handler module, any size), opened by the
 * same rule: a FIFO or device is refused rather than waited on.
 * @throws an Error saying why (`is a FIFO, not a file`), when it is not a readable regular file
 */
export async function fileDigest(path: string): Promise<string> {
  const result = await runAsync(withFile(path, function* (fd): Steps<{ digest: string }> {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(DIGEST_CHUNK);
    for (;;) {
      const read = yield* perform(fsStep.read(fd, buffer, 0));
      if (read === 0) break;
      hash.update(buffer.subarray(0, read));
    }
    return { digest: hash.digest('base64') };
  }));
  if ('problem' in result) throw new Error(result.problem);
  return result.digest;
}
