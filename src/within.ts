/** What `within` resolves with when the bound passed first. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * `promise`'s value, or TIMED_OUT once `ms` have passed, whichever comes
 * first; the timer is cleared either way. A rejection of `promise` rejects.
 * The timer keeps the process alive unless `unref` is set: with it, a
 * command waiting on a promise nothing else keeps alive would exit early.
 */
export async function within<T>(promise: Promise<T>, ms: number, { unref = false }: { unref?: boolean } = {}): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, ms, TIMED_OUT);
    if (unref) timer.unref();
  });
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}
