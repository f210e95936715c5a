// Shared test helpers: real servers on port 0, real clients, trees on disk.
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../src/index.ts';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

export interface Running {
  readonly port: number;
  readonly server: http.Server;
  readonly close: () => Promise<void>;
}

/** Starts `handler` on 127.0.0.1, port 0. Always `await running.close()`. */
export async function listen(handler: http.RequestListener | http.Server): Promise<Running> {
  const server = handler instanceof http.Server ? handler : http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** One request with node:http (fetch() would not let us set Host). */
export function request(
  port: number,
  options: { host?: string; path?: string; method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers = { ...options.headers };
    if (options.host !== undefined) headers.host = options.host;
    const req = http.request(
      { host: '127.0.0.1', port, path: options.path ?? '/', method: options.method ?? 'GET', headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Sends raw bytes over TCP (for requests a client would refuse to send) and
 * resolves with the whole answer once the server closes, or once `idleMs`
 * passed without more bytes after the first ones came. The idle wait starts
 * only with the first byte, so a server slowed by a busy machine is not
 * mistaken for one with nothing to say; if no byte ever comes and the
 * connection stays open, it resolves with '' after `firstByteMs` (a hang guard).
 */
export function rawRequest(port: number, bytes: string | Buffer, idleMs = 300, firstByteMs = Math.max(idleMs, 10_000)): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(finish, ms);
    };
    socket.on('connect', () => {
      socket.write(bytes);
      arm(firstByteMs);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      arm(idleMs);
    });
    socket.on('end', finish);
    socket.on('error', (err) => (chunks.length > 0 ? finish() : reject(err)));
  });
}

/**
 * Sends raw bytes and resolves with the whole answer once the server closes
 * the connection; rejects if it has not within `timeoutMs` (a hang guard),
 * so a test using it can tell "closed" from "went quiet".
 */
export function rawRequestUntilClosed(port: number, bytes: string | Buffer, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close the connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // 'close' also covers a reset: the server closing abruptly counts as closing.
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.on('error', () => {});
    socket.on('end', () => socket.end());
  });
}

/** The status code of a raw HTTP answer (`HTTP/1.1 400 Bad Request` → 400). */
export function statusOf(answer: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(answer);
  if (match === null) throw new Error(`not an HTTP answer: ${JSON.stringify(answer.slice(0, 80))}`);
  return Number(match[1]);
}

/**
 * A temporary directory, removed by the returned function. A server a test
 * started may still write into it (a log file) while it is removed: the
 * retries take the directory again rather than failing the test's hooks.
 */
export function tempDir(prefix = 'hostmux-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => {
    try {
      rmSync(path, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    } catch {
      // A temporary directory left behind is harmless; a failed hook would skip the
      // hooks after it, such as the one that kills that server, and hang the run.
    }
  };
  return { path, remove };
}

/**
 * Writes files into `root`: `{ 'sites-available/a.ini': '…' }`. A value
 * `{ link: '../sites-available/a.ini' }` makes a symlink instead.
 */
export function writeTree(root: string, files: Record<string, string | { link: string }>): string {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    if (typeof content === 'string') writeFileSync(full, content);
    else symlinkSync(content.link, full);
  }
  return root;
}

export interface LogRecord {
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  /** What child loggers added (`{ site: 'blog' }`). */
  readonly bindings: Record<string, unknown>;
  /** The object argument (`{ err }`), `{}` for a message alone. */
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

/** A pino-shaped logger that keeps every record, so tests read them and stderr stays clean. */
export function captureLogger(
  records: LogRecord[] = [],
  bindings: Record<string, unknown> = {},
): Logger & { readonly records: LogRecord[] } {
  const at = (level: LogRecord['level']) => (objOrMsg: unknown, msg?: string) => {
    if (typeof objOrMsg === 'string') records.push({ level, bindings, obj: {}, msg: objOrMsg });
    else records.push({ level, bindings, obj: (objOrMsg ?? {}) as Record<string, unknown>, msg: msg ?? '' });
  };
  return {
    records,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: (more) => captureLogger(records, { ...bindings, ...more }),
  };
}

/** Resolves with `promise`, or rejects with `message` after `ms`: turns a hang into a failure that says why. */
export async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `name{labels} value` lines of the Prometheus text format, by `name{labels}` (the exposition format's own line shape; no escaped spaces in our label values). */
export function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}
