/**
 * The replication views of each side in one statement, aggregated into one row: the
 * primary's position, pg_stat_replication and pg_replication_slots; the standby's replay
 * state, positions and pg_stat_wal_receiver. status reads them on every refresh and doctor
 * reads the standby's; only the columns each major has are asked for.
 */

/** One row of the primary's pg_stat_replication. */
export interface SenderReading {
  pid: number;
  applicationName: string;
  clientAddr: string | null;
  state: string;
  syncState: string;
  sentLsn: string | null;
  writeLsn: string | null;
  flushLsn: string | null;
  replayLsn: string | null;
  /** Byte gaps, each stage against the one before it (current → sent → write → flush → replay). */
  notSentBytes: number | null;
  sentNotWrittenBytes: number | null;
  writtenNotFlushedBytes: number | null;
  flushedNotReplayedBytes: number | null;
  /** Current WAL position − replay_lsn: everything the standby has not applied yet. */
  replayGapBytes: number | null;
  /** NULL once the standby has caught up (PostgreSQL clears them when idle). */
  writeLagSeconds: number | null;
  flushLagSeconds: number | null;
  replayLagSeconds: number | null;
}

/** One row of the primary's pg_replication_slots (temporary slots left out). */
export interface SlotReading {
  name: string;
  type: string;
  active: boolean;
  restartLsn: string | null;
  /** Current WAL position − restart_lsn. */
  retainedBytes: number | null;
  /** reserved/extended/unreserved/lost, PostgreSQL 13+. */
  walStatus: string | null;
  /** WAL that can still be written before the slot is invalidated, PostgreSQL 13+ (null: no limit). */
  safeWalSizeBytes: number | null;
  /** The server's inactive_since, PostgreSQL 17+. */
  inactiveSince: string | null;
}

export interface PrimaryReading {
  /** The server's clock (ISO 8601) when it answered. */
  at: string;
  /** pg_control_system(): a standby cloned from this primary has the same. */
  systemIdentifier: string;
  inRecovery: boolean;
  currentLsn: string | null;
  /** The same position as a byte count, for rates. */
  currentBytes: number | null;
  /** Sum of pg_ls_waldir(). */
  pgWalBytes: number | null;
  /** max_slot_wal_keep_size in bytes, PostgreSQL 13+; null when unlimited (-1) or older. */
  maxSlotWalKeepBytes: number | null;
  /** '' when synchronous replication is off. */
  synchronousStandbyNames: string;
  senders: SenderReading[];
  slots: SlotReading[];
}

export interface ReceiverReading {
  status: string;
  senderHost: string | null;
  senderPort: number | null;
  slotName: string | null;
  lastMessageAt: string | null;
  lastMessageAgeSeconds: number | null;
}

/** A type, not an interface: host.sql's rows are records (doctor reads it with columns of its own). */
export type StandbyReading = {
  at: string;
  systemIdentifier: string;
  inRecovery: boolean;
  /** 'not paused', 'pause requested' (14+) or 'paused'. */
  replayPauseState: string | null;
  receivedLsn: string | null;
  replayedLsn: string | null;
  receivedNotReplayedBytes: number | null;
  /** now() − pg_last_xact_replay_timestamp(): how old the last replayed transaction is. */
  lastReplayedTransactionAgeSeconds: number | null;
  /** Null when no walreceiver runs. */
  receiver: ReceiverReading | null;
};

/**
 * The standby's data directory is not a copy of the primary's cluster: both system identifiers
 * are known and differ (e.g. a setup stopped before its clone). Doctor and status both ask this.
 */
export const isOtherCluster = (standbyIdentifier?: string | null, primaryIdentifier?: string | null): boolean =>
  !!standbyIdentifier && !!primaryIdentifier && standbyIdentifier !== primaryIdentifier;

const systemIdentifier = '(SELECT system_identifier::text FROM pg_control_system())';
const lsnBytes = (lsn: string) => `pg_wal_lsn_diff(${lsn}, '0/0')::float8`;
const seconds = (interval: string) => `extract(epoch FROM ${interval})::float8`;
const gap = (from: string, to: string) => `pg_wal_lsn_diff(${from}, ${to})::float8`;

/**
 * The primary's statement for its major: the columns each version has. `cascading`: the same
 * read of a cascade's upstream, a standby whose walsenders send what it has received.
 */
export function primaryStatusSql(major: number, cascading = false): string {
  const current = cascading ? 'pg_last_wal_receive_lsn()' : 'pg_current_wal_lsn()';
  const slotColumns =
    major >= 13
      ? `wal_status AS "walStatus", CASE WHEN safe_wal_size IS NULL THEN NULL ELSE safe_wal_size::float8 END AS "safeWalSizeBytes"`
      : `NULL::text AS "walStatus", NULL::float8 AS "safeWalSizeBytes"`;
  const inactiveSince = major >= 17 ? `to_char(inactive_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')` : 'NULL::text';
  const keepSize = major >= 13 ? `pg_size_bytes(NULLIF(current_setting('max_slot_wal_keep_size'), '-1'))::float8` : 'NULL::float8';
  return `
SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
       ${systemIdentifier} AS "systemIdentifier",
       pg_is_in_recovery() AS "inRecovery",
       CASE WHEN NOT pg_is_in_recovery() THEN ${current}::text END AS "currentLsn",
       CASE WHEN NOT pg_is_in_recovery() THEN ${lsnBytes(current)} END AS "currentBytes",
       (SELECT sum(size)::float8 FROM pg_ls_waldir()) AS "pgWalBytes",
       ${keepSize} AS "maxSlotWalKeepBytes",
       current_setting('synchronous_standby_names') AS "synchronousStandbyNames",
       coalesce((SELECT json_agg(r ORDER BY r."applicationName", r.pid) FROM (
         SELECT pid, application_name AS "applicationName", host(client_addr) AS "clientAddr", state, sync_state AS "syncState",
                sent_lsn::text AS "sentLsn", write_lsn::text AS "writeLsn", flush_lsn::text AS "flushLsn", replay_lsn::text AS "replayLsn",
                ${gap(current, 'sent_lsn')} AS "notSentBytes",
                ${gap('sent_lsn', 'write_lsn')} AS "sentNotWrittenBytes",
                ${gap('write_lsn', 'flush_lsn')} AS "writtenNotFlushedBytes",
                ${gap('flush_lsn', 'replay_lsn')} AS "flushedNotReplayedBytes",
                ${gap(current, 'replay_lsn')} AS "replayGapBytes",
                ${seconds('write_lag')} AS "writeLagSeconds", ${seconds('flush_lag')} AS "flushLagSeconds", ${seconds('replay_lag')} AS "replayLagSeconds"
           FROM pg_stat_replication WHERE ${cascading ? 'pg_is_in_recovery()' : 'NOT pg_is_in_recovery()'}) r), '[]') AS senders,
       coalesce((SELECT json_agg(s ORDER BY s.name) FROM (
         SELECT slot_name AS name, slot_type AS type, active, restart_lsn::text AS "restartLsn",
                CASE WHEN NOT pg_is_in_recovery() THEN ${gap(current, 'restart_lsn')} END AS "retainedBytes",
                ${slotColumns}, ${inactiveSince} AS "inactiveSince"
           FROM pg_replication_slots WHERE NOT temporary) s), '[]') AS slots`;
}

/** The standby's statement: replay pause (pg_get_wal_replay_pause_state from 14), positions, its walreceiver. */
export function standbyStatusSql(major: number): string {
  // PostgreSQL 14 added the three-state function; before it pg_is_wal_replay_paused() (its
  // name since 10) only says whether a pause was requested, which is all 10–13 track.
  const pauseState = major >= 14 ? 'pg_get_wal_replay_pause_state()' : `CASE WHEN pg_is_wal_replay_paused() THEN 'paused' ELSE 'not paused' END`;
  // sender_host/sender_port arrived in 11; on 10 the host is read from the (masked) conninfo.
  const sender =
    major >= 11
      ? 'sender_host AS "senderHost", sender_port AS "senderPort"'
      : `substring(conninfo FROM 'host=([^ ]+)') AS "senderHost", substring(conninfo FROM 'port=([0-9]+)')::int AS "senderPort"`;
  return `
SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
       ${systemIdentifier} AS "systemIdentifier",
       pg_is_in_recovery() AS "inRecovery",
       CASE WHEN pg_is_in_recovery() THEN ${pauseState} END AS "replayPauseState",
       pg_last_wal_receive_lsn()::text AS "receivedLsn",
       pg_last_wal_replay_lsn()::text AS "replayedLsn",
       -- Right after a restart the walreceiver reports the segment it starts from, behind replay: nothing is waiting then.
       greatest(0, ${gap('pg_last_wal_receive_lsn()', 'pg_last_wal_replay_lsn()')}) AS "receivedNotReplayedBytes",
       ${seconds('now() - pg_last_xact_replay_timestamp()')} AS "lastReplayedTransactionAgeSeconds",
       (SELECT row_to_json(w) FROM (
          SELECT status, ${sender}, slot_name AS "slotName",
                 to_char(last_msg_receipt_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "lastMessageAt",
                 ${seconds('now() - last_msg_receipt_time')} AS "lastMessageAgeSeconds"
            FROM pg_stat_wal_receiver) w) AS receiver`;
}
