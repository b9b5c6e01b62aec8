import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { awakeTimeout } from '../../src/remote/awake-timeout.js';

/** The process held still (SIGSTOP) for `ms`: the wall clock moves on, and on resume the overdue timer runs at once. */
function suspendFor(ms: number): void {
  vi.setSystemTime(Date.now() + ms);
  vi.advanceTimersToNextTimer();
}

describe('a query bound that counts only the time the process ran', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('ends the wait after the bound when nothing answers', () => {
    const expired = vi.fn();
    awakeTimeout(3000, expired);
    vi.advanceTimersByTime(2999);
    expect(expired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(expired).toHaveBeenCalledOnce();
  });

  it('does not count a suspension: after resume the process still waits what was left of the bound', () => {
    const expired = vi.fn();
    awakeTimeout(3000, expired);
    vi.advanceTimersByTime(500);
    suspendFor(60_000);
    vi.advanceTimersByTime(1000);
    expect(expired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    expect(expired).toHaveBeenCalledOnce();
  });

  it('never ends the wait on the first tick after a resume, so an answer read meanwhile wins', () => {
    const expired = vi.fn();
    awakeTimeout(3000, expired);
    vi.advanceTimersByTime(2500);
    suspendFor(60_000);
    expect(expired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(expired).toHaveBeenCalledOnce();
  });

  it('is not called once cancelled (the answer came)', () => {
    const expired = vi.fn();
    const cancel = awakeTimeout(3000, expired);
    vi.advanceTimersByTime(1000);
    cancel();
    vi.advanceTimersByTime(10_000);
    expect(expired).not.toHaveBeenCalled();
  });
});
