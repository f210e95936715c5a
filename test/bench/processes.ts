// Child processes of the benchmark: servers and the load generator, each
// optionally pinned to one CPU, talked to over IPC, stopped by pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
export const SERVER_SCRIPT = `${HERE}server.mjs`;
export const LOADGEN_SCRIPT = `${HERE}loadgen.mjs`;
export const MATCH_SCRIPT = `${HERE}match.mjs`;
/** The built command, as users run it. */
export const CLI_SCRIPT = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export type ServerKind = 'bare' | 'hostmux' | 'limits' | 'nometrics' | 'express' | 'fastify' | 'single' | 'send';

export interface Stats {
  readonly cpu: NodeJS.CpuUsage;
  readonly rss: number;
  /** V8's used heap, after a full GC when asked for one (`stats(true)`, server started with --expose-gc). */
  readonly heap: number;
  readonly hits?: Record<string, number>;
  /** Diagnostics messages the server's counting subscriber got (HOSTMUX_BENCH_DIAGNOSTICS=1). */
  readonly published?: number;
}

/** True when util-linux `taskset` can pin a process here. */
export function tasksetAvailable(): boolean {
  const probe = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  return probe.status === 0;
}

const running = new Set<ChildProcess>();

/** Stops every child still running, by pid; for the end and for errors and signals. */
export function stopAll(): void {
  for (const child of running) {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  running.clear();
}

/** Stops every child on any way out of the script: Ctrl-C, an error, or the end. */
export function stopAllOnExit(): void {
  process.once('SIGINT', () => {
    stopAll();
    process.exit(130);
  });
  process.once('exit', stopAll);
}

export interface SpawnOptions {
  /** The CPU to pin to, when taskset is used. */
  readonly cpu?: number;
  readonly taskset?: boolean;
  readonly nodeArgs?: readonly string[];
  readonly env?: Record<string, string>;
}

/** Starts `node script args` with an IPC channel, pinned with taskset when asked. */
export function spawnNode(script: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const nodeArgs = [...(options.nodeArgs ?? []), script, ...args];
  // taskset execs node in place: the pid, stdio and IPC channel stay node's.
  const pinned = options.taskset === true && options.cpu !== undefined;
  const child = spawn(
    pinned ? 'taskset' : process.execPath,
    pinned ? ['-c', String(options.cpu), process.execPath, ...nodeArgs] : nodeArgs,
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...options.env } },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** The next message of `type` from `child`; rejects if it exits first or sends an error. */
export function nextMessage<T>(child: ChildProcess, type: string, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no "${type}" message within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: { type?: string; message?: string }) => {
      if (message?.type === type) done(undefined, message as T);
      else if (message?.type === 'error') done(new Error(message.message));
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(new Error(`child exited (${signal ?? code}) before sending "${type}"`));
    function done(err: Error | undefined, value?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err !== undefined) reject(err);
      else resolve(value!);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Sends `message` and waits for the reply of `type`. */
export function ask<T>(child: ChildProcess, message: object, type: string, timeoutMs?: number): Promise<T> {
  const reply = nextMessage<T>(child, type, timeoutMs);
  child.send(message);
  return reply;
}

export interface RunningServer {
  readonly kind: ServerKind;
  readonly port: number;
  readonly pid: number;
  /** Milliseconds from spawn to listening: process start and loading the sites. */
  readonly startMs: number;
  /** `gc`: a full GC first (the server needs --expose-gc). */
  stats(gc?: boolean): Promise<Stats>;
  /** `app.reload()` in a hostmux server; resolves with how long it took, in ms. */
  reload(): Promise<number>;
  /** Starts a CPU profile in the server (inspector), sampling every `intervalUs`. */
  profileStart(intervalUs?: number): Promise<void>;
  /** Stops it; resolves with the `.cpuprofile` object. */
  profileStop(): Promise<unknown>;
  stop(): Promise<void>;
}

/** Stops `child` by pid: SIGTERM, then SIGKILL if it lingers. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    process.kill(child.pid!, 'SIGTERM');
  });
}

export async function startServer(kind: ServerKind, target: string, options: SpawnOptions = {}): Promise<RunningServer> {
  const started = performance.now();
  const child = spawnNode(SERVER_SCRIPT, [kind, target], options);
  try {
    const { port } = await nextMessage<{ port: number }>(child, 'listening');
    return {
      kind,
      port,
      pid: child.pid!,
      startMs: performance.now() - started,
      stats: (gc) => ask<Stats>(child, { type: 'stats', gc }, 'stats'),
      reload: async () => (await ask<{ ms: number }>(child, { type: 'reload' }, 'reloaded')).ms,
      profileStart: async (intervalUs) => {
        await ask(child, { type: 'profile-start', intervalUs }, 'profile-started');
      },
      profileStop: async () => (await ask<{ profile: unknown }>(child, { type: 'profile-stop' }, 'profile')).profile,
      stop: () => stopChild(child),
    };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

export interface LoadResult {
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly elapsedMs: number;
  /** Latency percentiles, in ms. */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** The load generator's own CPU time during the run. */
  readonly cpuMs: number;
}

export interface LoadGenerator {
  /** One run (of GET `path`, default `/`); with `key`, its latencies are also kept for `latency(key)`. */
  run(port: number, hosts: readonly string[], connections: number, seconds: number, key?: string, path?: string): Promise<LoadResult>;
  /** Latency percentiles (ms) over every run with `key` since the last call. */
  latency(key: string): Promise<{ p50: number; p99: number; max: number; count: number }>;
  stop(): Promise<void>;
}

export async function startLoadGenerator(options: SpawnOptions = {}): Promise<LoadGenerator> {
  const child = spawnNode(LOADGEN_SCRIPT, [], options);
  await nextMessage(child, 'ready');
  return {
    run: (port, hosts, connections, seconds, key, path) =>
      ask<LoadResult>(child, { type: 'run', port, hosts, connections, seconds, key, path }, 'result', (seconds + 60) * 1000),
    latency: (key) => ask(child, { type: 'latency', key }, 'latency'),
    stop: () => stopChild(child),
  };
}

export interface RunningCli {
  readonly port: number;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything it wrote to stderr so far (its log). */
  log(): string;
  /** Resolves once `pattern` appears in the log after `from` (a length of log()). */
  waitFor(pattern: RegExp, from?: number, timeoutMs?: number): Promise<RegExpExecArray>;
  stop(): Promise<void>;
}

/**
 * `hostmux serve --config dir --port 0 ...args` from dist/, as users run it
 * (pinned when asked; workers inherit the pin); resolves once it listens.
 */
export async function startCli(dir: string, args: readonly string[], options: SpawnOptions = {}): Promise<RunningCli> {
  const nodeArgs = [...(options.nodeArgs ?? []), CLI_SCRIPT, 'serve', '--config', dir, '--port', '0', ...args];
  const pinned = options.taskset === true && options.cpu !== undefined;
  const child = spawn(
    pinned ? 'taskset' : process.execPath,
    pinned ? ['-c', String(options.cpu), process.execPath, ...nodeArgs] : nodeArgs,
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...options.env } },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  let log = '';
  const waiters = new Set<() => void>();
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    log += text;
    for (const waiter of waiters) waiter();
  });
  child.once('exit', () => {
    for (const waiter of waiters) waiter();
  });
  const waitFor = (pattern: RegExp, from = 0, timeoutMs = 60_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`no ${pattern} within ${timeoutMs} ms in:\n${log}`)), timeoutMs);
      const check = () => {
        const found = pattern.exec(log.slice(from));
        if (found !== null) done(undefined, found);
        else if (child.exitCode !== null || child.signalCode !== null) done(new Error(`hostmux exited waiting for ${pattern}:\n${log}`));
      };
      function done(err: Error | undefined, found?: RegExpExecArray) {
        clearTimeout(timer);
        waiters.delete(check);
        if (err !== undefined) reject(err);
        else resolve(found!);
      }
      waiters.add(check);
      check();
    });
  try {
    const port = Number((await waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/))[1]);
    return { port, pid: child.pid!, child, log: () => log, waitFor, stop: () => stopChild(child) };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}
