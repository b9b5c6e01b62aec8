import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pollUntil } from '../../steps/lib/poll.js';

describe('a wait (e.g. for streaming) that counts only the time the process ran', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const signal = new AbortController().signal;

  it('gives up after the bound when the probe never answers', async () => {
    let probes = 0;
    const result = pollUntil(async () => void probes++, { timeoutMs: 3000, intervalMs: 500, signal });
    await vi.advanceTimersByTimeAsync(3500);
    await expect(result).resolves.toBeUndefined();
    expect(probes).toBeGreaterThanOrEqual(6);
  });

  it('held still for a minute (Ctrl-Z), it goes on probing on resume and returns what comes within the rest of the bound', async () => {
    let ready = false;
    const result = pollUntil(async () => (ready ? 'streams' : undefined), { timeoutMs: 3000, intervalMs: 500, signal });
    await vi.advanceTimersByTimeAsync(1000);
    vi.setSystemTime(Date.now() + 60_000);
    await vi.advanceTimersByTimeAsync(1000);
    ready = true;
    await vi.advanceTimersByTimeAsync(500);
    await expect(result).resolves.toBe('streams');
  });
});
