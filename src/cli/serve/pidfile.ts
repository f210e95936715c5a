import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

/** Writes our pid, atomically (a reader never sees a half-written file). */
export function writePidfile(path: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${process.pid}\n`);
  renameSync(temporary, path);
}

/** Removes the pid file if it still names us: a newer server may have taken it over. */
export function removePidfile(path: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path);
  } catch {
    // Already gone.
  }
}

/**
 * Sends SIGHUP to the process a pid file names. Returns what went wrong, in
 * words for the operator, or undefined when the signal was sent.
 */
export function signalPidfile(path: string, signal: NodeJS.Signals): { pid?: number; error?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (error) {
    return { error: `cannot read the pid file ${path}: ${(error as Error).message}` };
  }
  const pid = Number(text);
  if (!/^\d+$/.test(text) || pid <= 0) return { error: `the pid file ${path} holds no pid: "${text.slice(0, 40)}"` };
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') {
      return { pid, error: `the pid file ${path} is stale: no process ${pid} is running` };
    }
    return { pid, error: `cannot signal process ${pid} (from ${path}): ${(error as Error).message}` };
  }
  return { pid };
}
