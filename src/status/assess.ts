import { isOtherCluster, type PrimaryReading, type SenderReading, type SlotReading, type StandbyReading } from '../facts/replication-views.js';
import type { Reading, WalFilesystem } from './readings.js';
import { formatBytes, formatSeconds } from '../report.js';
import { namesStandby, parseSyncList, sameName } from '../facts/sync-standbys.js';
import type { StatusHistory } from './history.js';
import type { Thresholds } from './thresholds.js';

/**
 * Judges the readings of one or more refreshes into the document `status` prints: how each
 * standby stands, each slot, the primary's pg_wal, and what needs attention. Pure: the
 * readings, the remembered history and the thresholds in, the status out.
 */

/** One refresh: both hosts read at (nearly) the same moment. */
export interface Sample {
  /** The workstation's clock (ms) when the refresh started. */
  takenAt: number;
  primary: Reading<PrimaryReading>;
  standby: Reading<StandbyReading>;
  /** A cascade's upstream (--upstream): the standby the standby streams from. */
  upstream?: Reading<PrimaryReading>;
  /** How long the refresh took, both hosts in parallel. */
  refreshMs: number;
}

export interface PairContext {
  primary: { label: string; clusterId: string };
  upstream?: { label: string; clusterId: string };
  /** The standby's own addresses: its row in pg_stat_replication has one of them as client_addr; its name, when the run picked a named standby. */
  standby: { label: string; clusterId: string; addresses: readonly string[]; name?: string };
  /** The config file's standbys (README "Several standbys"): each must stream, not only the one picked. */
  listed: readonly string[];
  thresholds: Thresholds;
}

export interface Attention {
  id: 'primary-unavailable' | 'primary-in-recovery' | 'standby-unavailable' | 'standby-other-cluster' | 'standby-not-in-recovery' | 'not-streaming' | 'replay-paused' | 'lag' | 'retained' | 'slot-lost' | 'slot-unreserved' | 'upstream-unavailable';
  host: 'primary' | 'standby' | 'upstream';
  text: string;
}

export interface StandbyRow extends SenderReading {
  /** The row of the standby given with --standby (by its addresses). */
  thisStandby: boolean;
}

export interface SlotStatus extends SlotReading {
  /** Since when it is inactive: the server's inactive_since (17+), else when this workstation first saw it so. */
  inactiveSinceSource: 'server' | 'first seen by this workstation' | null;
  /** restart_lsn stood still while WAL was written: the slot makes pg_wal grow. */
  holdsWal: boolean;
  /** At the current WAL rate, until safe_wal_size is used up and the slot is invalidated. */
  timeToInvalidationSeconds: number | null;
}

export interface PairStatus {
  healthy: boolean;
  attention: Attention[];
  /** The primary's clock at the last refresh (ISO 8601), else the workstation's. */
  sampledAt: string;
  /** The last refresh: one SQL round trip per host, in parallel. */
  refreshMilliseconds: number;
  thresholds: Thresholds;
  primary: {
    host: string;
    cluster: string;
    problem: string | null;
    systemIdentifier: string | null;
    currentLsn: string | null;
    /** WAL written per second over the samples of this run (null with fewer than two). */
    walRateBytesPerSecond: number | null;
    rateWindowSeconds: number | null;
    pgWalBytes: number | null;
    walFilesystemFreeBytes: number | null;
    walFilesystemSizeBytes: number | null;
    /** Free space / WAL rate while a slot holds WAL back; null when pg_wal is not growing. */
    timeToFullSeconds: number | null;
    maxSlotWalKeepBytes: number | null;
    /** '' when off; each standby's sync_state is in its row. */
    synchronousStandbyNames: string | null;
  };
  standbys: StandbyRow[];
  /** Standbys the config file lists or synchronous_standby_names names: judged whether or not the primary sees them. */
  listed: string[];
  standby: {
    host: string;
    cluster: string;
    problem: string | null;
    /** Differs from the primary's when the standby is not a copy of it (never cloned, or another primary's). */
    systemIdentifier: string | null;
    inRecovery: boolean | null;
    /** True for 'paused' and 'pause requested': replay stands still while WAL keeps arriving. */
    replayPaused: boolean | null;
    replayPauseState: string | null;
    receivedLsn: string | null;
    replayedLsn: string | null;
    receivedNotReplayedBytes: number | null;
    lastReplayedTransactionAgeSeconds: number | null;
    receiverStatus: string | null;
    /** The upstream the standby really follows, as its walreceiver reports it. */
    senderHost: string | null;
    senderPort: number | null;
    slotName: string | null;
    lastMessageAt: string | null;
    lastMessageAgeSeconds: number | null;
  };
  slots: SlotStatus[];
  /** A cascade's upstream: the standby this standby streams from, and who streams from it (its pg_stat_replication). */
  upstream?: { host: string; cluster: string; problem: string | null; standbys: StandbyRow[] };
}

const value = <T>(reading: Reading<T> | undefined): T | undefined => (reading?.ok ? reading.value : undefined);
const serverTime = (reading: PrimaryReading) => Date.parse(reading.at) / 1000;

/** The pg_stat_replication row of the standby given: its client address is one of the standby's own. */
export function isThisStandby(row: SenderReading, addresses: readonly string[]): boolean {
  return row.state !== 'backup' && row.clientAddr !== null && addresses.includes(row.clientAddr);
}

/** WAL per second between the oldest and the newest reading of the primary in the window. */
function walRate(samples: readonly Sample[]): { rate: number; window: number } | undefined {
  const readings = samples.map((s) => value(s.primary)).filter((r): r is PrimaryReading => r?.currentBytes !== null && r?.currentBytes !== undefined);
  const [first, last] = [readings[0], readings.at(-1)];
  if (!first || !last || first === last) return undefined;
  const window = serverTime(last) - serverTime(first);
  if (window <= 0) return undefined;
  return { rate: Math.max(0, (last.currentBytes! - first.currentBytes!) / window), window };
}

function slotStatuses(samples: readonly Sample[], history: StatusHistory, rate: number | undefined): SlotStatus[] {
  const first = samples.map((s) => value(s.primary)).find(Boolean);
  const last = value(samples.at(-1)?.primary);
  if (!last) return [];
  return last.slots.map((slot) => {
    const before = first?.slots.find((s) => s.name === slot.name);
    const holdsWal = before !== undefined && before !== slot && before.restartLsn === slot.restartLsn && (slot.retainedBytes ?? 0) > (before.retainedBytes ?? 0);
    const remembered = slot.active ? undefined : history.firstSeenInactive[slot.name];
    const inactiveSince = slot.inactiveSince ?? remembered ?? null;
    return {
      ...slot,
      inactiveSince,
      inactiveSinceSource: slot.inactiveSince ? 'server' : remembered ? 'first seen by this workstation' : null,
      holdsWal,
      timeToInvalidationSeconds: holdsWal && rate && slot.safeWalSizeBytes !== null ? Math.max(0, slot.safeWalSizeBytes) / rate : null,
    };
  });
}

/** The config file's standbys and those synchronous_standby_names names (not *), each once, without the one picked (judged by its own rules). */
function listedStandbys(context: PairContext, synchronous: string | undefined): string[] {
  const named = (parseSyncList(synchronous ?? '')?.names ?? []).filter((name) => name !== '*');
  const picked = context.standby.name?.toLowerCase();
  const seen = new Set<string>();
  return [...context.listed, ...named].filter((name) => {
    const key = name.toLowerCase();
    if (key === picked || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const otherCluster = (standby: PairStatus['standby'], primary: PairStatus['primary']) => isOtherCluster(standby.systemIdentifier, primary.systemIdentifier);

type Rule = (status: Omit<PairStatus, 'healthy' | 'attention'>) => Attention[];

/** What makes a pair need attention, one rule per cause. */
const rules: Rule[] = [
  ({ primary }) => (primary.problem ? [{ id: 'primary-unavailable', host: 'primary', text: `the primary does not answer: ${primary.problem}` }] : []),
  ({ primary, standbys }) =>
    !primary.problem && primary.currentLsn === null && standbys.length === 0 ? [{ id: 'primary-in-recovery', host: 'primary', text: 'the primary is in recovery: it is a standby itself' }] : [],
  ({ standby }) => (standby.problem ? [{ id: 'standby-unavailable', host: 'standby', text: `the standby does not answer: ${standby.problem}` }] : []),
  ({ standby, primary }) =>
    otherCluster(standby, primary)
      ? [{ id: 'standby-other-cluster', host: 'standby', text: `the standby is not a copy of this primary (system identifier ${standby.systemIdentifier}, the primary's ${primary.systemIdentifier}): it was never cloned from it, e.g. a setup stopped before its clone; run the setup again` }]
      : [],
  ({ standby, primary }) =>
    standby.inRecovery === false && !otherCluster(standby, primary) ? [{ id: 'standby-not-in-recovery', host: 'standby', text: 'the standby is not in recovery: it was promoted and no longer follows the primary' }] : [],
  ({ standby, standbys, primary, upstream }) => {
    if (standby.problem || !standby.inRecovery || otherCluster(standby, primary)) return [];
    if (standby.receiverStatus !== 'streaming') {
      return [{ id: 'not-streaming', host: 'standby', text: `the standby does not stream: its walreceiver is ${standby.receiverStatus ?? 'not running'}` }];
    }
    if (upstream) {
      return upstream.problem || upstream.standbys.some((row) => row.thisStandby) ? [] : [{ id: 'not-streaming', host: 'upstream', text: "the upstream has no walsender for the standby (no pg_stat_replication row from the standby's addresses)" }];
    }
    return primary.problem || standbys.some((row) => row.thisStandby) ? [] : [{ id: 'not-streaming', host: 'primary', text: "the primary has no walsender for the standby (no pg_stat_replication row from the standby's addresses)" }];
  },
  ({ upstream }) => (upstream?.problem ? [{ id: 'upstream-unavailable', host: 'upstream', text: `the upstream ${upstream.host} does not answer: ${upstream.problem}` }] : []),
  ({ standbys }) =>
    standbys
      .filter((row) => row.state !== 'streaming' && row.state !== 'backup')
      .map((row) => ({ id: 'not-streaming', host: 'primary', text: `standby ${row.applicationName} (${row.clientAddr ?? 'local'}) is in state ${row.state}, not streaming` })),
  // Every listed standby, not only the picked one: one that is gone has no row to judge.
  ({ primary, standbys, listed }) => {
    if (primary.problem || primary.currentLsn === null) return [];
    const synchronous = parseSyncList(primary.synchronousStandbyNames ?? '');
    return listed
      .filter((name) => !standbys.some((row) => sameName(row.applicationName, name)))
      .map((name) => {
        const why = namesStandby(synchronous, name) ? `; synchronous_standby_names = '${primary.synchronousStandbyNames}' names it: commits may wait for it` : '';
        return { id: 'not-streaming', host: 'primary', text: `standby ${name} has no walsender on the primary: it does not stream${why}` };
      });
  },
  ({ standby }) =>
    standby.replayPaused
      ? [
          {
            id: 'replay-paused',
            host: 'standby',
            text: `replay is paused on the standby (${standby.replayPauseState}): WAL still arrives but is not applied; SELECT pg_wal_replay_resume() on the standby resumes it`,
          },
        ]
      : [],
  ({ standbys, thresholds }) =>
    standbys.flatMap((row): Attention[] => {
      const who = `standby ${row.applicationName} (${row.clientAddr ?? 'local'})`;
      const late: Attention[] = [];
      if (thresholds.maxLagSeconds !== undefined && (row.replayLagSeconds ?? 0) > thresholds.maxLagSeconds) {
        late.push({ id: 'lag', host: 'primary', text: `${who}: replay_lag ${formatSeconds(row.replayLagSeconds!)} is above --max-lag ${formatSeconds(thresholds.maxLagSeconds)}` });
      }
      if (thresholds.maxLagBytes !== undefined && (row.replayGapBytes ?? 0) > thresholds.maxLagBytes) {
        late.push({ id: 'lag', host: 'primary', text: `${who}: ${formatBytes(row.replayGapBytes!)} not replayed, above --max-lag ${formatBytes(thresholds.maxLagBytes)}` });
      }
      return late;
    }),
  ({ slots, thresholds }) =>
    slots.flatMap((slot): Attention[] => {
      const found: Attention[] = [];
      if ((slot.retainedBytes ?? 0) > thresholds.maxRetainedBytes) {
        found.push({ id: 'retained', host: 'primary', text: `slot ${slot.name} retains ${formatBytes(slot.retainedBytes!)} of WAL, above --max-retained ${formatBytes(thresholds.maxRetainedBytes)}` });
      }
      if (slot.walStatus === 'lost') found.push({ id: 'slot-lost', host: 'primary', text: `slot ${slot.name} is invalidated (wal_status lost): its standby needs a new clone` });
      if (slot.walStatus === 'unreserved') {
        found.push({ id: 'slot-unreserved', host: 'primary', text: `slot ${slot.name} is past max_slot_wal_keep_size (wal_status unreserved): it is invalidated at the next checkpoint unless its standby catches up` });
      }
      return found;
    }),
];

/** The status of the pair from the samples of this run (oldest first) and what earlier runs remembered. */
export function assess(samples: readonly Sample[], context: PairContext, history: StatusHistory, walFilesystem: WalFilesystem | undefined): PairStatus {
  const latest = samples.at(-1);
  if (!latest) throw new Error('assess needs at least one sample');
  const primary = value(latest.primary);
  const standby = value(latest.standby);
  const rate = walRate(samples);
  const slots = slotStatuses(samples, history, rate?.rate);
  const holding = slots.some((slot) => slot.holdsWal);
  const receiver = standby?.receiver ?? null;
  const base: Omit<PairStatus, 'healthy' | 'attention'> = {
    sampledAt: primary?.at ?? new Date(latest.takenAt).toISOString(),
    refreshMilliseconds: Math.round(latest.refreshMs * 10) / 10,
    thresholds: context.thresholds,
    primary: {
      host: context.primary.label,
      cluster: context.primary.clusterId,
      problem: latest.primary.ok ? null : latest.primary.problem,
      systemIdentifier: primary?.systemIdentifier ?? null,
      currentLsn: primary?.currentLsn ?? null,
      walRateBytesPerSecond: rate ? Math.round(rate.rate) : null,
      rateWindowSeconds: rate ? Math.round(rate.window * 10) / 10 : null,
      pgWalBytes: primary?.pgWalBytes ?? null,
      walFilesystemFreeBytes: walFilesystem?.freeBytes ?? null,
      walFilesystemSizeBytes: walFilesystem?.sizeBytes ?? null,
      timeToFullSeconds: holding && rate && rate.rate > 0 && walFilesystem ? Math.round(walFilesystem.freeBytes / rate.rate) : null,
      maxSlotWalKeepBytes: primary?.maxSlotWalKeepBytes ?? null,
      synchronousStandbyNames: primary?.synchronousStandbyNames ?? null,
    },
    standbys: (primary?.senders ?? []).map((row) => ({ ...row, thisStandby: isThisStandby(row, context.standby.addresses) })),
    listed: listedStandbys(context, primary?.synchronousStandbyNames),
    standby: {
      host: context.standby.label,
      cluster: context.standby.clusterId,
      problem: latest.standby.ok ? null : latest.standby.problem,
      systemIdentifier: standby?.systemIdentifier ?? null,
      inRecovery: standby?.inRecovery ?? null,
      replayPaused: standby?.replayPauseState ? standby.replayPauseState !== 'not paused' : null,
      replayPauseState: standby?.replayPauseState ?? null,
      receivedLsn: standby?.receivedLsn ?? null,
      replayedLsn: standby?.replayedLsn ?? null,
      receivedNotReplayedBytes: standby?.receivedNotReplayedBytes ?? null,
      lastReplayedTransactionAgeSeconds: standby?.lastReplayedTransactionAgeSeconds ?? null,
      receiverStatus: receiver?.status ?? null,
      senderHost: receiver?.senderHost ?? null,
      senderPort: receiver?.senderPort ?? null,
      slotName: receiver?.slotName ?? null,
      lastMessageAt: receiver?.lastMessageAt ?? null,
      lastMessageAgeSeconds: receiver?.lastMessageAgeSeconds ?? null,
    },
    slots,
    ...(context.upstream && latest.upstream
      ? {
          upstream: {
            host: context.upstream.label,
            cluster: context.upstream.clusterId,
            problem: latest.upstream.ok ? null : latest.upstream.problem,
            standbys: (value(latest.upstream)?.senders ?? []).map((row) => ({ ...row, thisStandby: isThisStandby(row, context.standby.addresses) })),
          },
        }
      : {}),
  };
  const attention = rules.flatMap((rule) => rule(base));
  return { healthy: attention.length === 0, attention, ...base };
}

/** One point of the lag chart: this standby's unreplayed WAL at one refresh. */
export interface LagPoint {
  at: number;
  replayGapBytes: number | null;
  replayLagSeconds: number | null;
}

export function lagPoint(sample: Sample, addresses: readonly string[]): LagPoint {
  const row = value(sample.primary)?.senders.find((sender) => isThisStandby(sender, addresses));
  return { at: sample.takenAt, replayGapBytes: row?.replayGapBytes ?? null, replayLagSeconds: row?.replayLagSeconds ?? null };
}
