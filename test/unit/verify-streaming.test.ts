import { describe, expect, it } from 'vitest';
import { describeStreaming } from '../../steps/verify-streaming.js';

describe("verify-streaming's account of a pair that does not stream", () => {
  it('gives no received-but-not-applied figure when the receive position is behind replay (no WAL receiver since the start)', () => {
    const text = describeStreaming({ primary: undefined, standby: { status: null, apply_bytes: '-142656', replay_paused: false } }, 'lab_three', 'upstream');
    expect(text).toBe("the upstream has no replication connection from the standby; the standby's WAL receiver is not running");
  });

  it('gives the figure while it streams', () => {
    const text = describeStreaming({ primary: undefined, standby: { status: 'streaming', apply_bytes: '8192', replay_paused: true } }, 'lab_one');
    expect(text).toBe("the primary has no replication connection from the standby; the standby's WAL receiver is streaming, 8192 bytes received but not yet applied, and its replay is paused (pg_is_wal_replay_paused())");
  });
});
