import { awakeTimeout } from '../../src/remote/awake-timeout.js';

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Asks `probe` until it returns a value, for at most `timeoutMs` of the time the process ran;
 * undefined on timeout. A run held still (Ctrl-Z) while it waits, e.g. for streaming, goes on
 * waiting what was left on resume instead of giving up after one probe.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs: number; signal: AbortSignal },
): Promise<T | undefined> {
  let expired = false;
  const cancel = awakeTimeout(options.timeoutMs, () => {
    expired = true;
  });
  try {
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (expired) return undefined;
      await sleep(options.intervalMs, options.signal);
    }
  } finally {
    cancel();
  }
}
