import { formatBytes, formatSeconds } from '../report.js';
import type { LagPoint, PairStatus, SlotStatus, StandbyRow } from './assess.js';

/** `status` as text, for the terminal and the Ink screen alike. */

const bytes = (value: number | null) => (value === null ? 'unknown' : formatBytes(value));
const lag = (value: number | null) => (value === null ? 'none' : formatSeconds(value));

function primaryLines(status: PairStatus): string[] {
  const { primary } = status;
  if (primary.problem) return [`Primary ${primary.host} (${primary.cluster}): ${primary.problem}`];
  const rate = primary.walRateBytesPerSecond === null ? 'WAL rate not measured yet' : `writing ${formatBytes(primary.walRateBytesPerSecond)}/s of WAL (over ${primary.rateWindowSeconds} s)`;
  const disk =
    primary.walFilesystemFreeBytes === null ? 'free space unknown' : `its filesystem has ${formatBytes(primary.walFilesystemFreeBytes)} free of ${bytes(primary.walFilesystemSizeBytes)}`;
  const holders = status.slots.filter((slot) => slot.holdsWal).map((slot) => slot.name);
  const full =
    primary.timeToFullSeconds !== null
      ? `full in about ${formatSeconds(primary.timeToFullSeconds)} at this rate (held by slot ${holders.join(', ')})`
      : holders.length > 0
        ? `held by slot ${holders.join(', ')}, growing once WAL is written`
        : 'not growing (no slot holds WAL back)';
  const cap = primary.maxSlotWalKeepBytes === null ? '' : `; max_slot_wal_keep_size ${formatBytes(primary.maxSlotWalKeepBytes)}`;
  return [`Primary ${primary.host} (${primary.cluster}): at ${primary.currentLsn ?? 'unknown'}, ${rate}`, `  pg_wal ${bytes(primary.pgWalBytes)}, ${disk}; pg_wal ${full}${cap}`];
}

function senderLines(row: StandbyRow): string[] {
  const mark = row.thisStandby ? '▶' : ' ';
  return [
    `${mark} ${row.applicationName || '(no application_name)'} from ${row.clientAddr ?? 'local'}: ${row.state}, ${row.syncState}`,
    `    sent ${row.sentLsn ?? '-'}, write ${row.writeLsn ?? '-'}, flush ${row.flushLsn ?? '-'}, replay ${row.replayLsn ?? '-'}`,
    `    not yet: sent ${bytes(row.notSentBytes)}, written ${bytes(row.sentNotWrittenBytes)}, flushed ${bytes(row.writtenNotFlushedBytes)}, replayed ${bytes(row.flushedNotReplayedBytes)} (${bytes(row.replayGapBytes)} behind in all)`,
    `    write_lag ${lag(row.writeLagSeconds)}, flush_lag ${lag(row.flushLagSeconds)}, replay_lag ${lag(row.replayLagSeconds)}${row.replayLagSeconds === null ? ' (caught up)' : ''}`,
  ];
}

function standbyLines(status: PairStatus): string[] {
  const { standby } = status;
  if (standby.problem) return [`Standby ${standby.host} (${standby.cluster}): ${standby.problem}`];
  if (!standby.inRecovery) return [`Standby ${standby.host} (${standby.cluster}): not in recovery`];
  const upstream = standby.senderHost ? ` from ${standby.senderHost}${standby.senderPort ? `:${standby.senderPort}` : ''}` : '';
  const slot = standby.slotName ? ` on slot ${standby.slotName}` : '';
  const lastMessage =
    standby.lastMessageAt === null ? '' : `; last message received ${standby.lastMessageAt} (${formatSeconds(Math.max(0, standby.lastMessageAgeSeconds ?? 0))} ago)`;
  const lines = [
    `Standby ${standby.host} (${standby.cluster}): in recovery, walreceiver ${standby.receiverStatus ?? 'not running'}${upstream}${slot}${lastMessage}`,
    `  received ${standby.receivedLsn ?? '-'}, replayed ${standby.replayedLsn ?? '-'}: ${bytes(standby.receivedNotReplayedBytes)} received and not replayed`,
  ];
  if (standby.replayPaused) lines.push(`  REPLAY PAUSED (${standby.replayPauseState}): WAL keeps arriving, nothing is applied`);
  return lines;
}

function slotLine(slot: SlotStatus): string {
  const state = slot.active
    ? 'active'
    : `inactive${slot.inactiveSince ? ` since ${slot.inactiveSince}${slot.inactiveSinceSource === 'server' ? '' : ' (first seen by this workstation)'}` : ''}`;
  const walStatus = slot.walStatus ? `, wal_status ${slot.walStatus}` : '';
  const safe = slot.walStatus === null ? '' : `, safe_wal_size ${slot.safeWalSizeBytes === null ? 'unlimited' : formatBytes(slot.safeWalSizeBytes)}`;
  const invalidation = slot.timeToInvalidationSeconds === null ? '' : `, invalidated in about ${formatSeconds(slot.timeToInvalidationSeconds)} at this rate`;
  return `  ${slot.name} (${slot.type}): ${state}${walStatus}, ${bytes(slot.retainedBytes)} of WAL retained${slot.holdsWal ? ' and growing' : ''}${safe}${invalidation}`;
}

export function statusLines(status: PairStatus): string[] {
  const lines = [`Replication status at ${status.sampledAt} (one refresh: ${status.refreshMilliseconds} ms)`, '', ...primaryLines(status), ''];
  lines.push(status.standbys.length > 0 ? 'Standbys streaming from the primary (pg_stat_replication; ▶ is the standby given):' : 'No standby is connected to the primary.');
  lines.push(...status.standbys.flatMap(senderLines), '');
  if (status.upstream) {
    const { host, cluster, problem, standbys } = status.upstream;
    lines.push(
      problem
        ? `The upstream ${host} (${cluster}), the standby the standby follows, does not answer: ${problem}`
        : standbys.length > 0
          ? `Standbys streaming from the upstream ${host} (${cluster}; a cascade):`
          : `No standby is connected to the upstream ${host} (${cluster}).`,
      ...standbys.flatMap(senderLines),
      '',
    );
  }
  lines.push(...standbyLines(status), '');
  lines.push(status.slots.length > 0 ? 'Replication slots on the primary:' : 'No replication slots on the primary.', ...status.slots.map(slotLine), '');
  if (status.attention.length > 0) {
    lines.push(`Needs attention (${status.attention.length}):`, ...status.attention.map((item) => `  ✗ ${item.id} (${item.host}): ${item.text}`), '');
  }
  lines.push(status.healthy ? 'Result: healthy.' : 'Result: needs attention.');
  return lines;
}

const levels = ' ▁▂▃▄▅▆▇█';

/**
 * The standby's unreplayed WAL over the last `windowMs`, one column per time slice (the
 * largest value in it), `height` rows of block characters; a gap is a slice with no reading.
 */
export function lagChart(points: readonly LagPoint[], now: number, width: number, height = 4, windowMs = 5 * 60_000): string[] {
  const columns = Math.max(10, width);
  const slice = windowMs / columns;
  const buckets: (number | null)[] = Array.from({ length: columns }, () => null);
  for (const point of points) {
    const column = Math.floor((point.at - (now - windowMs)) / slice);
    if (column < 0 || column >= columns || point.replayGapBytes === null) continue;
    buckets[column] = Math.max(buckets[column] ?? 0, point.replayGapBytes);
  }
  const top = Math.max(1, ...buckets.map((b) => b ?? 0));
  const rows = Array.from({ length: height }, (_, index) => {
    const row = height - 1 - index;
    return buckets
      .map((bucket) => {
        if (bucket === null) return ' ';
        // A reading of zero still shows as the lowest mark: "measured, nothing behind".
        const eighths = Math.max(row === 0 ? 1 : 0, Math.round((bucket / top) * height * 8) - row * 8);
        return levels[Math.min(8, Math.max(0, eighths))];
      })
      .join('');
  });
  const latest = points.at(-1);
  const heading = `Not yet replayed on the standby, last ${Math.round(windowMs / 60_000)} min (top ${formatBytes(top)}; now ${latest?.replayGapBytes === null || !latest ? 'unknown' : formatBytes(latest.replayGapBytes)}, replay_lag ${lag(latest?.replayLagSeconds ?? null)}):`;
  return [heading, ...rows.map((row) => `│${row}`), `└${'─'.repeat(columns)}`];
}
