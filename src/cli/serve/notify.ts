import { execFile } from 'node:child_process';
import { escapeControls } from '../../escape-controls.js';
import type { Logger } from '../../logger.js';

/*
 * Telling systemd (Type=notify) what `serve` is doing: READY=1 once it
 * serves, RELOADING=1 while a reload runs and READY=1 once it is done (so
 * that `systemctl reload` waits for it), STOPPING=1 when it drains.
 *
 * NOTIFY_SOCKET is a unix datagram socket, which Node cannot write to
 * without a native addon: the messages go through systemd's own
 * `systemd-notify`, which is wherever systemd is. It waits until systemd
 * has read each message (its barrier), so none is lost when it exits; the
 * sender is not the main process, hence `NotifyAccess=all` in the unit.
 */

/** systemd-notify waits for systemd to read the message: bounded, so that a stuck socket cannot stall a reload. */
const NOTIFY_TIMEOUT_MS = 10_000;

export interface Notifier {
  ready(status: string): void;
  reloading(): void;
  stopping(): void;
}

const NOBODY: Notifier = { ready: () => {}, reloading: () => {}, stopping: () => {} };

/** CLOCK_MONOTONIC in µs, which RELOADING=1 carries (Node's hrtime reads that clock). */
function monotonicMicros(): string {
  return String(process.hrtime.bigint() / 1000n);
}

/** A notifier for this process; one that does nothing when systemd did not start it (no NOTIFY_SOCKET). */
export function systemdNotifier(log: () => Logger, env: NodeJS.ProcessEnv = process.env): Notifier {
  if (env.NOTIFY_SOCKET === undefined || env.NOTIFY_SOCKET === '') return NOBODY;
  let chain = Promise.resolve();
  let warned = false;
  // In order, one at a time: READY=1 must not overtake the RELOADING=1 before it.
  const send = (...assignments: string[]) => {
    chain = chain.then(() => new Promise<void>((resolve) => {
      execFile('systemd-notify', assignments, { timeout: NOTIFY_TIMEOUT_MS, env }, (error) => {
        if (error !== null && !warned) {
          warned = true;
          log().warn(`cannot tell systemd (NOTIFY_SOCKET is set): systemd-notify ${assignments.join(' ')}: ${error.message.trim()}`);
        }
        resolve();
      });
    }));
  };
  return {
    // One line: systemd reads each line of a message as an assignment, and a status
    // quotes file names and configured values, which may hold a newline.
    ready: (status) => send('READY=1', `STATUS=${escapeControls(status)}`),
    reloading: () => send('RELOADING=1', `MONOTONIC_USEC=${monotonicMicros()}`, 'STATUS=reloading'),
    stopping: () => send('STOPPING=1', 'STATUS=stopping'),
  };
}
