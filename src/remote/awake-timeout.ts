/**
 * Calls `onExpired` once the process has been able to wait `ms` for an answer, counting only
 * the time it ran. A run suspended longer than the bound (Ctrl-Z, SIGSTOP, a sleeping laptop)
 * must not give up, on resume, on an answer that came meanwhile: Node runs its expired timers
 * before it reads its sockets, so a plain setTimeout fires first and the answer waiting unread
 * in the socket is lost. So the bound ticks every `tickMs`; a tick more than `tickMs` later
 * than due (the process did not run) counts as one tick, and never ends the wait: the sockets
 * are read before the next tick. Returns the cancel function.
 */
export function awakeTimeout(ms: number, onExpired: () => void, tickMs = 1000): () => void {
  let left = ms;
  let last = Date.now();
  let due = 0;
  let timer: NodeJS.Timeout;
  const schedule = () => {
    due = Math.max(1, Math.min(left, tickMs));
    timer = setTimeout(tick, due);
  };
  const tick = () => {
    const now = Date.now();
    // A loaded machine runs a timer late too; only a tick later than a whole tick means a stop.
    const stopped = now - last > due + tickMs;
    left -= stopped ? due : now - last;
    last = now;
    if (left > 0 || stopped) schedule();
    else onExpired();
  };
  schedule();
  return () => clearTimeout(timer);
}
