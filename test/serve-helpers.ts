// Running the built `hostmux` command as a child process: to completion, or
// as a server whose log a test waits on. Shared by the command's tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli', 'main.js');
assert.ok(existsSync(CLI), `${CLI} is missing: run npm run build first`);

/** The environment of every child: no HOSTMUX_HOME unless a test sets it, no test-runner context. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (extra.HOSTMUX_HOME === undefined) delete env.HOSTMUX_HOME;
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  return env;
}

export interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `hostmux ARGS…` to completion. */
export async function hostmux(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const child = spawn(process.execPath, [CLI, ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

export interface Serving {
  readonly child: ChildProcess;
  readonly port: number;
  /** Everything written to stderr so far (the log). */
  log(): string;
  /** Resolves with the first match of `pattern` in the log at or after `from`. */
  waitFor(pattern: RegExp, from?: number): Promise<RegExpExecArray>;
  readonly exited: Promise<number | null>;
}

/** Starts `hostmux serve --port 0 ARGS…` and waits until it listens; killed at the end of the test. */
export async function serve(t: TestContext, args: readonly string[]): Promise<Serving> {
  const started = start(t, args);
  const listening = await started.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
  return { ...started, port: Number(listening[1]) };
}

/** Starts `hostmux serve --port 0 ARGS…` without waiting; killed at the end of the test. */
export function start(t: TestContext, args: readonly string[]): Omit<Serving, 'port'> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((waiter) => waiter());
  child.stderr.on('data', (chunk: Buffer) => {
    log += chunk;
    wake();
  });
  child.stdout.resume();
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  void exited.then(wake);
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const waitFor = (pattern: RegExp, from = 0) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      // A hang guard only: a busy machine can take seconds to start node processes.
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${pattern} in:\n${log}`)), 30_000);
      const check = () => {
        const found = new RegExp(pattern.source, pattern.flags).exec(log.slice(from));
        if (found !== null) done(undefined, found);
        else if (child.exitCode !== null || child.signalCode !== null) done(new Error(`exited waiting for ${pattern}:\n${log}`));
      };
      const done = (error?: Error, found?: RegExpExecArray) => {
        clearTimeout(timer);
        waiters.delete(check);
        if (error !== undefined) reject(error);
        else resolve(found!);
      };
      waiters.add(check);
      check();
    });
  return { child, log: () => log, waitFor, exited };
}

