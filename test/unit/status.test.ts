import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { primaryStatusSql, standbyStatusSql, type PrimaryReading, type SenderReading, type SlotReading, type StandbyReading } from '../../src/facts/replication-views.js';
import { assess, type PairContext, type Sample } from '../../src/status/assess.js';
import { emptyHistory, historyPath, loadHistory, recordInactiveSlots, saveHistory, stateDirectory } from '../../src/status/history.js';
import { lagChart } from '../../src/status/render.js';
import { parseThresholds } from '../../src/status/thresholds.js';

/**
 * status's judging half, on readings shaped as the lab pair's (PG 15, primary 10.77.0.11,
 * standby 10.77.0.12, slot pgrepl_10_77_0_12): what needs attention, the WAL rate and
 * time-to-full, first-seen-inactive times, the chart, the thresholds' units.
 */

const slotName = 'pgrepl_10_77_0_12';
const MB = 1024 ** 2;

const sender = (change: Partial<SenderReading> = {}): SenderReading => ({
  pid: 4242,
  applicationName: slotName,
  clientAddr: '10.77.0.12',
  state: 'streaming',
  syncState: 'async',
  sentLsn: '0/3000148',
  writeLsn: '0/3000148',
  flushLsn: '0/3000148',
  replayLsn: '0/3000148',
  notSentBytes: 0,
  sentNotWrittenBytes: 0,
  writtenNotFlushedBytes: 0,
  flushedNotReplayedBytes: 0,
  replayGapBytes: 0,
  writeLagSeconds: null,
  flushLagSeconds: null,
  replayLagSeconds: null,
  ...change,
});

const slot = (change: Partial<SlotReading> = {}): SlotReading => ({
  name: slotName,
  type: 'physical',
  active: true,
  restartLsn: '0/3000148',
  retainedBytes: 0,
  walStatus: 'reserved',
  safeWalSizeBytes: null,
  inactiveSince: null,
  ...change,
});

const systemIdentifier = '7713416206642007751';

const primary = (change: Partial<PrimaryReading> = {}): PrimaryReading => ({
  at: '2026-11-28T22:00:00.000Z',
  systemIdentifier,
  inRecovery: false,
  currentLsn: '0/3000148',
  currentBytes: 50331976,
  pgWalBytes: 48 * MB,
  maxSlotWalKeepBytes: null,
  synchronousStandbyNames: '',
  senders: [sender()],
  slots: [slot()],
  ...change,
});

const standby = (change: Partial<StandbyReading> = {}): StandbyReading => ({
  at: '2026-11-28T22:00:00.000Z',
  systemIdentifier,
  inRecovery: true,
  replayPauseState: 'not paused',
  receivedLsn: '0/3000148',
  replayedLsn: '0/3000148',
  receivedNotReplayedBytes: 0,
  lastReplayedTransactionAgeSeconds: 12,
  receiver: { status: 'streaming', senderHost: '10.77.0.11', senderPort: 5433, slotName, lastMessageAt: '2026-11-28T21:59:58.000Z', lastMessageAgeSeconds: 2 },
  ...change,
});

const sample = (p: PrimaryReading | string, s: StandbyReading | string, takenAt = 0): Sample => ({
  takenAt,
  primary: typeof p === 'string' ? { ok: false, problem: p } : { ok: true, value: p, roundTripMs: 2 },
  standby: typeof s === 'string' ? { ok: false, problem: s } : { ok: true, value: s, roundTripMs: 2 },
  refreshMs: 3,
});

const context: PairContext = {
  primary: { label: 'labadmin@10.77.0.11', clusterId: '15/prod' },
  standby: { label: 'labadmin@10.77.0.12', clusterId: '15/main', addresses: ['127.0.0.1', '10.77.0.12'] },
  listed: [],
  thresholds: parseThresholds({}),
};
const disk = { freeBytes: 1000 * MB, sizeBytes: 4000 * MB };
const ids = (samples: Sample[]) => assess(samples, context, emptyHistory(), disk).attention.map((a) => a.id);

describe('status: what needs attention', () => {
  it('judges every listed standby: one of the config file or of synchronous_standby_names without a walsender does not stream, the picked one by its own rules', () => {
    const listed = { ...context, standby: { ...context.standby, name: slotName }, listed: [slotName, 'lab_two', 'lab_three'] };
    const status = assess([sample(primary({ synchronousStandbyNames: 'ANY 1 (lab_two, lab_four)' }), standby())], listed, emptyHistory(), disk);
    expect(status.listed).toEqual(['lab_two', 'lab_three', 'lab_four']);
    expect(status.attention.map((a) => a.text)).toEqual([
      "standby lab_two has no walsender on the primary: it does not stream; synchronous_standby_names = 'ANY 1 (lab_two, lab_four)' names it: commits may wait for it",
      'standby lab_three has no walsender on the primary: it does not stream',
      "standby lab_four has no walsender on the primary: it does not stream; synchronous_standby_names = 'ANY 1 (lab_two, lab_four)' names it: commits may wait for it",
    ]);
    expect(status.standbys[0].syncState).toBe('async');
  });

  it('a streaming pair with nothing behind is healthy, its row marked as the standby given', () => {
    const status = assess([sample(primary(), standby())], context, emptyHistory(), disk);
    expect(status.healthy).toBe(true);
    expect(status.standbys[0].thisStandby).toBe(true);
    expect(status.standby).toMatchObject({ senderHost: '10.77.0.11', senderPort: 5433, slotName, replayPaused: false });
  });

  it('replay paused is flagged although the walreceiver still says streaming (14+: pause requested too)', () => {
    const paused = standby({ replayPauseState: 'paused', receivedNotReplayedBytes: 2 * MB });
    expect(ids([sample(primary(), paused)])).toEqual(['replay-paused']);
    expect(ids([sample(primary(), standby({ replayPauseState: 'pause requested' }))])).toEqual(['replay-paused']);
  });

  it('a standby that does not stream, is down or was promoted needs attention', () => {
    expect(ids([sample(primary({ senders: [] }), standby({ receiver: { ...standby().receiver!, status: 'waiting' } }))])).toEqual(['not-streaming']);
    expect(ids([sample(primary({ senders: [] }), standby({ receiver: null }))])).toEqual(['not-streaming']);
    expect(ids([sample(primary({ senders: [] }), standby())])).toEqual(['not-streaming']);
    expect(ids([sample(primary({ senders: [] }), '15/main is not running')])).toEqual(['standby-unavailable']);
    expect(ids([sample(primary(), standby({ inRecovery: false, replayPauseState: null, receiver: null }))])).toEqual(['standby-not-in-recovery']);
    // Never cloned (its own initdb): another cluster, not a promoted copy, and nothing else about it.
    expect(ids([sample(primary({ senders: [] }), standby({ systemIdentifier: '7713416222771306552', inRecovery: false, replayPauseState: null, receiver: null }))])).toEqual(['standby-other-cluster']);
    expect(ids([sample(primary({ senders: [sender({ state: 'catchup' })] }), standby())])).toEqual(['not-streaming']);
  });

  it('a pg_basebackup walsender is not a standby that fails to stream', () => {
    expect(ids([sample(primary({ senders: [sender(), sender({ pid: 9, state: 'backup', applicationName: 'pg_basebackup' })] }), standby())])).toEqual([]);
  });

  it('crosses --max-lag by time or by size, --max-retained by size, and wal_status lost/unreserved', () => {
    const late = sender({ replayLagSeconds: 31, replayGapBytes: 65 * MB });
    const status = assess([sample(primary({ senders: [late] }), standby())], context, emptyHistory(), disk);
    expect(status.attention.map((a) => a.text)).toEqual([
      `standby ${slotName} (10.77.0.12): replay_lag 31.0 s is above --max-lag 30.0 s`,
      `standby ${slotName} (10.77.0.12): 65.0 MB not replayed, above --max-lag 64.0 MB`,
    ]);
    const onlySize = { ...context, thresholds: parseThresholds({ maxLag: '64MB' }) };
    expect(assess([sample(primary({ senders: [late] }), standby())], onlySize, emptyHistory(), disk).attention).toHaveLength(1);
    const slots = [slot({ name: 'a', retainedBytes: 11 * 1024 * MB }), slot({ name: 'b', walStatus: 'lost' }), slot({ name: 'c', walStatus: 'unreserved' })];
    expect(ids([sample(primary({ slots }), standby())])).toEqual(['retained', 'slot-lost', 'slot-unreserved']);
  });

  it('a primary that does not answer or is in recovery needs attention', () => {
    expect(ids([sample('15/prod is not running', standby())])).toEqual(['primary-unavailable']);
    expect(ids([sample(primary({ inRecovery: true, currentLsn: null, currentBytes: null, senders: [] }), standby())])).toContain('primary-in-recovery');
  });
});

describe('status: WAL rate, time-to-full, inactive slots', () => {
  const stopped = (seconds: number, written: number): PrimaryReading =>
    primary({
      at: new Date(Date.parse('2026-11-28T22:00:00.000Z') + seconds * 1000).toISOString(),
      currentBytes: 50331976 + written,
      senders: [],
      slots: [slot({ active: false, retainedBytes: 1 * MB + written })],
    });

  it('a slot whose restart_lsn stands still while WAL is written makes pg_wal grow: time-to-full is free space / WAL rate', () => {
    const status = assess([sample(stopped(0, 0), 'down'), sample(stopped(2, 4 * MB), 'down', 2000)], context, emptyHistory(), disk);
    expect(status.primary.walRateBytesPerSecond).toBe(2 * MB);
    expect(status.primary.rateWindowSeconds).toBe(2);
    expect(status.slots[0].holdsWal).toBe(true);
    expect(status.primary.timeToFullSeconds).toBe(500);
  });

  it('with an active slot that follows, pg_wal is not growing: no time-to-full', () => {
    const moving = (seconds: number, lsn: string, bytes: number) => primary({ at: `2026-11-28T22:00:0${seconds}.000Z`, currentBytes: bytes, slots: [slot({ restartLsn: lsn, retainedBytes: 0 })] });
    const status = assess([sample(moving(0, '0/3000148', 0), standby()), sample(moving(2, '0/3400148', 4 * MB), standby(), 2000)], context, emptyHistory(), disk);
    expect(status.primary.walRateBytesPerSecond).toBe(2 * MB);
    expect(status.primary.timeToFullSeconds).toBeNull();
  });

  it('safe_wal_size (13+) gives the time until the slot is invalidated', () => {
    const limited = (seconds: number, written: number) => ({ ...stopped(seconds, written), slots: [slot({ active: false, retainedBytes: written, safeWalSizeBytes: 100 * MB - written })] });
    const status = assess([sample(limited(0, 0), 'down'), sample(limited(2, 4 * MB), 'down', 2000)], context, emptyHistory(), disk);
    expect(status.slots[0].timeToInvalidationSeconds).toBe(48);
  });

  it('inactive since: the server says so from 17, else the first time this workstation saw it inactive', () => {
    const history = recordInactiveSlots(emptyHistory(), [{ name: slotName, active: false }], '2026-11-28T20:00:00.000Z');
    const older = assess([sample(stopped(0, 0), 'down')], context, history, disk).slots[0];
    expect(older).toMatchObject({ inactiveSince: '2026-11-28T20:00:00.000Z', inactiveSinceSource: 'first seen by this workstation' });
    const pg17 = primary({ slots: [slot({ active: false, inactiveSince: '2026-11-28T19:00:00Z' })] });
    expect(assess([sample(pg17, 'down')], context, history, disk).slots[0]).toMatchObject({ inactiveSince: '2026-11-28T19:00:00Z', inactiveSinceSource: 'server' });
  });
});

describe('status: history on the workstation', () => {
  it('keeps a first-seen time once set, and forgets slots that are active again or gone', () => {
    const first = recordInactiveSlots(emptyHistory(), [{ name: 'a', active: false }, { name: 'b', active: true }], 'T1');
    const second = recordInactiveSlots(first, [{ name: 'a', active: false }, { name: 'c', active: false }], 'T2');
    expect(second.firstSeenInactive).toEqual({ a: 'T1', c: 'T2' });
    expect(recordInactiveSlots(second, [{ name: 'a', active: true }], 'T3').firstSeenInactive).toEqual({});
  });

  it('lives in $XDG_STATE_HOME/pgrepl-wizard (default ~/.local/state), one file per primary cluster, mode 0600', async () => {
    const home = mkdtempSync(join(tmpdir(), 'pgrepl-state-'));
    expect(stateDirectory({ XDG_STATE_HOME: home })).toBe(join(home, 'pgrepl-wizard'));
    expect(stateDirectory({ HOME: '/home/op' })).toMatch(/\.local\/state\/pgrepl-wizard$/);
    const path = historyPath('labadmin@10.77.0.11', '15/prod', { XDG_STATE_HOME: home });
    expect(path).toBe(join(home, 'pgrepl-wizard', 'status-labadmin@10.77.0.11-15_prod.json'));
    await saveHistory(path, { firstSeenInactive: { a: 'T1' } });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ firstSeenInactive: { a: 'T1' } });
    expect(await loadHistory(path)).toEqual({ firstSeenInactive: { a: 'T1' } });
    expect(await loadHistory(join(home, 'missing.json'))).toEqual(emptyHistory());
  });
});

describe('status: thresholds carry their unit', () => {
  it('reads times and sizes in PostgreSQL units, with defaults', () => {
    expect(parseThresholds({})).toEqual({ maxLagSeconds: 30, maxLagBytes: 64 * MB, maxRetainedBytes: 10 * 1024 * MB });
    expect(parseThresholds({ maxLag: '30s' })).toEqual({ maxLagSeconds: 30, maxLagBytes: undefined, maxRetainedBytes: 10 * 1024 * MB });
    expect(parseThresholds({ maxLag: '500ms,1.5GB', maxRetained: '512MB' })).toEqual({ maxLagSeconds: 0.5, maxLagBytes: 1.5 * 1024 * MB, maxRetainedBytes: 512 * MB });
    expect(parseThresholds({ maxLag: '2min' }).maxLagSeconds).toBe(120);
  });

  it.each([
    [{ maxLag: '30' }, '--max-lag 30: a limit needs a number and its unit'],
    [{ maxLag: '30s,1min' }, '--max-lag 30s,1min: two times'],
    [{ maxRetained: '1h' }, '--max-retained 1h: WAL retained is a size'],
    [{ maxLag: 'fast' }, '--max-lag fast: a limit needs a number and its unit'],
  ])('%j is a usage error', (options, message) => {
    expect(() => parseThresholds(options)).toThrow(message);
  });
});

describe('status: the lag chart', () => {
  it('draws one column per time slice, the largest value of each, and leaves slices without a reading empty', () => {
    const now = 300_000;
    const points = [
      { at: 0, replayGapBytes: 0, replayLagSeconds: null },
      { at: 150_000, replayGapBytes: 8 * MB, replayLagSeconds: 1 },
      { at: 299_000, replayGapBytes: 4 * MB, replayLagSeconds: 0.5 },
    ];
    const [heading, ...rest] = lagChart(points, now, 10, 2, 300_000);
    expect(heading).toBe('Not yet replayed on the standby, last 5 min (top 8.0 MB; now 4.0 MB, replay_lag 500 ms):');
    expect(rest).toEqual(['│     █    ', '│▁    █   █', `└${'─'.repeat(10)}`]);
  });
});

describe('status: one statement per host, the columns of each major', () => {
  it('asks 14+ for the three-state pause and 10–13 for pg_is_wal_replay_paused()', () => {
    expect(standbyStatusSql(14)).toContain('pg_get_wal_replay_pause_state()');
    expect(standbyStatusSql(13)).toContain('pg_is_wal_replay_paused()');
    expect(standbyStatusSql(13)).not.toContain('pg_get_wal_replay_pause_state');
    expect(standbyStatusSql(10)).not.toContain('sender_host');
    expect(standbyStatusSql(11)).toContain('sender_host');
  });

  it('reads wal_status and safe_wal_size from 13, inactive_since from 17', () => {
    expect(primaryStatusSql(12)).not.toMatch(/wal_status|safe_wal_size|max_slot_wal_keep_size/);
    expect(primaryStatusSql(13)).toMatch(/wal_status AS "walStatus".*safe_wal_size/s);
    expect(primaryStatusSql(16)).not.toContain('inactive_since');
    expect(primaryStatusSql(17)).toContain('inactive_since');
  });
});
