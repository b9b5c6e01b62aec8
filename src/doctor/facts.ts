import { readControlFile } from '../facts/clusters.js';
import type { Host } from '../remote/host.js';
import * as privileged from '../remote/commands.js';
import type { Node } from '../../steps/contract.js';
import { filesystemSpace, hostAddresses, hostClock, resolveName, serverHome, sourceAddressTowards } from '../facts/host.js';
import { archiveDirectoryOf } from '../../steps/lib/wal-archive.js';
import { findPassfileEntry } from '../../steps/lib/passfile.js';
import { liveSettings, runningAddress, settingsFromFiles } from '../facts/live.js';
import { probeReplication, walreceiverConfig, walreceiverSettingNames, type ProbeOutcome } from '../facts/replication.js';
import { hotStandbyMinimums } from '../../steps/lib/standby-config.js';
import { readServerLog, type ServerLog } from './log.js';
import { autoConfValue } from '../facts/auto-conf.js';
import { standbyStatusSql, type StandbyReading } from '../facts/replication-views.js';
import { readSyncState, type SyncState } from '../../steps/sync-standbys.js';

/**
 * Everything doctor knows about a pair, read in one pass over both SSH connections and
 * changing nothing: server state and views while a server runs, its files while it does
 * not, its recent log, and one replication connection tried from the standby the way its
 * walreceiver makes it. What setup reads too comes from the same readers in src/facts, and
 * the standby's replay state and WAL receiver from the statement status reads it with
 * (src/facts/replication-views.ts); only the primary's slots and walsenders are queried here.
 * Judging these facts is diagnose.ts, a pure function.
 */

export interface SlotFact {
  name: string;
  type: string;
  active: boolean;
  activePid: number | null;
  restartLsn: string | null;
  /** reserved/extended/unreserved/lost, PostgreSQL 13+. */
  walStatus: string | null;
  /** Why it was invalidated (wal_removed, idle_timeout, …), PostgreSQL 17+. */
  invalidationReason?: string | null;
  /** WAL the primary keeps for it: current LSN − restart_lsn. */
  retainedBytes: number | null;
}

export interface WalSenderFact {
  pid: number;
  user: string;
  applicationName: string;
  clientAddr: string | null;
  state: string;
  sentLsn: string | null;
  replayLsn: string | null;
  replayBytes: number | null;
  replayLagSeconds: number | null;
}

/** What both servers have in common: where they run, what they are, what they logged. */
interface ServerFacts {
  clusterId: string;
  major: number;
  running: boolean;
  /** Set when the server runs but refuses our SQL (starting up, hot_standby off, …). */
  sqlError?: string;
  /** The host's own clock when it was read, for results that have no timestamp of their own. */
  clock: string;
  inRecovery?: boolean;
  systemIdentifier?: string;
  timeline?: number;
  /** From pg_settings while it answers, else as its files will give them (postgres -C). */
  settings: Record<string, string>;
  settingsSource: string;
  /** pg_controldata's "Database cluster state" while it is stopped. */
  controlState?: string;
  /** The host's own addresses (ip addr). */
  addresses: string[];
  log: ServerLog;
}

export interface PrimaryFacts extends ServerFacts {
  /** Undefined while the primary does not answer. */
  slots?: SlotFact[];
  walSenders: WalSenderFact[];
  /** The conninfo's role; null when it does not exist, undefined when unknown. */
  role?: { canLogin: boolean; replication: boolean } | null;
  oldestWalSegment?: string;
  /** pg_current_wal_flush_lsn(): where its WAL ends, out of recovery. */
  flushLsn?: string;
  /** pg_stat_archiver, while archive_mode is not off. */
  archiver?: ArchiverFact;
  /** The filesystem of the archive directory archive_command names (the wizard's own command). */
  archive?: ArchiveFact;
  /** What the archive must keep: the oldest WAL the primary's checkpoint, a slot or a connected standby still needs. */
  walNeed?: WalNeed;
  /** Every standby's sync_state and the sessions waiting in their commit for standbys (wait_event SyncRep). */
  sync?: SyncState;
}

export interface ArchiveFact {
  dir: string;
  freeBytes: number;
  sizeBytes: number;
  /** The files in it (WAL segments, .backup and .history files) and their sizes. */
  files: ArchiveFile[];
  /** The base backups' history files (NAME.backup) and their LABEL lines. */
  backups: BackupHistory[];
  /** pg_archivecleanup on the primary, when one is installed. */
  archiveCleanup?: string;
}

export interface ArchiveFile {
  name: string;
  bytes: number;
}

export interface BackupHistory {
  name: string;
  label: string;
}

export interface WalNeed {
  /** The oldest segment still needed (pg_walfile_name of the least of the LSNs below). */
  keepFrom: string;
  checkpointRedo: string;
  oldestSlotRestart: string | null;
  oldestStandbyReplay: string | null;
  segmentBytes: number;
  maxWalBytes: number;
}

export interface ArchiverFact {
  archivedCount: number;
  lastArchivedWal: string | null;
  lastArchivedAt: string | null;
  failedCount: number;
  lastFailedWal: string | null;
  lastFailedAt: string | null;
  /** The last attempt failed (last_failed_time after last_archived_time): archiving is stuck now. */
  failing: boolean;
  /** Segments waiting in pg_wal for the archiver (.ready in pg_wal/archive_status). */
  waiting: number;
}

export interface StandbyFacts extends ServerFacts {
  receiverStatus?: string;
  replayPaused?: boolean;
  /** Received but not yet replayed. */
  applyBytes?: number;
  /** pg_last_wal_replay_lsn(): how far it has replayed. */
  replayLsn?: string;
  /** now() − pg_last_xact_replay_timestamp(). */
  replayAgeSeconds?: number;
  /** pg_stat_wal_receiver.last_msg_receipt_time, and how long before the check it was. */
  lastMessageAt?: string;
  lastMessageAgeSeconds?: number;
  recoveryConf: string | null;
  standbySignal: boolean;
  recoverySignal: boolean;
  /** A backup_label in its data directory: a copy that has not started yet (or never could). */
  backupLabel: boolean;
}

/** Who the standby follows, as its own recovery configuration says. */
export interface Relationship {
  conninfo?: string;
  /** Where it was read. */
  source: string;
  params: Record<string, string>;
  slotName?: string;
  /** The addresses conninfo's host resolves to on the standby. */
  hostAddresses: string[];
  /** The standby's source address towards that host (what the primary sees). */
  standbyAddress?: string;
  /** The passfile the walreceiver reads (conninfo's passfile, else ~postgres/.pgpass). */
  passfile: string;
  /** The connection looked up in that file: conninfo's, or with none the one the repairs write. */
  passfileKey: PassfileKey;
  /** That file's password for that connection (libpq's lookup); never shown. */
  storedPassword?: string;
}

/** One replication connection from the standby with its primary_conninfo (IDENTIFY_SYSTEM), and when it was tried. */
export interface Probe extends ProbeOutcome {
  clock: string;
}

export interface DoctorFacts {
  primary: PrimaryFacts;
  standby: StandbyFacts;
  relationship: Relationship;
  /** Run only while the standby does not stream. */
  probe?: Probe;
}

const primarySettingNames = ['wal_level', 'max_wal_senders', 'max_replication_slots', 'listen_addresses', 'port', 'max_slot_wal_keep_size', 'wal_keep_size', 'wal_keep_segments', 'synchronous_standby_names', 'wal_sender_timeout', 'idle_replication_slot_timeout', 'archive_mode', 'archive_command'];
/** A server out of recovery writes on this timeline; one in recovery is on its last checkpoint's. */
const timelineSql = `CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id FROM pg_control_checkpoint())
                          ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END`;
const utc = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')`;
const numeric = (value: unknown) => (value === null || value === undefined ? undefined : Number(value));
/** '2026-11-28T22:00:01.234Z' as doctor shows times: '2026-11-28 22:00:01 UTC'. */
const utcSecond = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;

async function controlData(node: Node): Promise<Pick<ServerFacts, 'systemIdentifier' | 'timeline' | 'controlState'>> {
  const control = await readControlFile(node.host, node.cluster);
  return { systemIdentifier: control?.systemIdentifier, timeline: control?.timeline, controlState: control?.state };
}

/** Common facts, and what `readLive` reads while the server answers SQL. */
async function serverFacts<Live>(node: Node, settingNames: string[], readLive: () => Promise<Live>): Promise<ServerFacts & { live?: Live }> {
  const [address, now, addresses, log] = await Promise.all([runningAddress(node), hostClock(node.host), hostAddresses(node.host), readServerLog(node)]);
  const base = { clusterId: node.cluster.id, major: node.cluster.major, running: address !== undefined, clock: now, addresses, log };
  let sqlError: string | undefined;
  if (address) {
    try {
      return { ...base, settings: await liveSettings(node.host, address, settingNames), settingsSource: 'pg_settings', live: await readLive() };
    } catch (error) {
      sqlError = error instanceof Error ? error.message : String(error);
    }
  }
  return { ...base, sqlError, ...(await controlData(node)), settings: await settingsFromFiles(node, settingNames), settingsSource: 'its configuration files (postgres -C)' };
}

async function primaryFacts(node: Node, roleName: string | undefined, standbyMajor: number): Promise<PrimaryFacts> {
  const sql = <Row extends Record<string, unknown>>(text: string, params?: unknown[]) => node.host.sql<Row>(node.address!, text, params);
  const walStatus = node.cluster.major >= 13 ? 'wal_status' : 'NULL::text';
  const invalidationReason = node.cluster.major >= 17 ? 'invalidation_reason' : 'NULL::text';
  const { live, ...facts } = await serverFacts(node, [...primarySettingNames, ...hotStandbyMinimums(standbyMajor)], async () => {
    const [state] = await sql<{ in_recovery: boolean; system_identifier: string; timeline: number; oldest_wal: string | null; flush_lsn: string | null }>(
      `SELECT pg_is_in_recovery() AS in_recovery,
              CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_flush_lsn()::text END AS flush_lsn,
              (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,
              ${timelineSql} AS timeline,
              (SELECT min(name) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$') AS oldest_wal`,
    );
    const current = 'CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END';
    const slots = await sql<{ name: string; type: string; active: boolean; active_pid: number | null; restart_lsn: string | null; wal_status: string | null; invalidation_reason: string | null; retained: string | null }>(
      `SELECT slot_name AS name, slot_type AS type, active, active_pid, restart_lsn::text, ${walStatus} AS wal_status, ${invalidationReason} AS invalidation_reason,
              pg_wal_lsn_diff(${current}, restart_lsn)::bigint::text AS retained
         FROM pg_replication_slots WHERE NOT temporary ORDER BY slot_name`,
    );
    const senders = await sql<{ pid: number; usename: string; application_name: string; client_addr: string | null; state: string; sent_lsn: string | null; replay_lsn: string | null; replay_bytes: string | null; replay_lag: number | null }>(
      `SELECT pid, usename, application_name, host(client_addr) AS client_addr, state, sent_lsn::text, replay_lsn::text,
              pg_wal_lsn_diff(${current}, replay_lsn)::bigint::text AS replay_bytes,
              extract(epoch FROM replay_lag)::float8 AS replay_lag
         FROM pg_stat_replication`,
    );
    const [archiver] = await sql<{ archived_count: string; last_archived_wal: string | null; last_archived_at: string | null; failed_count: string; last_failed_wal: string | null; last_failed_at: string | null; failing: boolean; waiting: number; archiving: boolean }>(
      `SELECT archived_count::text, last_archived_wal, ${utc('last_archived_time')} AS last_archived_at,
              failed_count::text, last_failed_wal, ${utc('last_failed_time')} AS last_failed_at,
              coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) AS failing,
              (SELECT count(*) FROM pg_ls_dir('pg_wal/archive_status') f WHERE f LIKE '%.ready')::int AS waiting,
              current_setting('archive_mode') <> 'off' AS archiving
         FROM pg_stat_archiver`,
    );
    const [need] = await sql<WalNeedRow>(walNeedSql);
    const sync = await readSyncState(node);
    const [role] = roleName ? await sql<{ rolcanlogin: boolean; rolreplication: boolean }>('SELECT rolcanlogin, rolreplication FROM pg_roles WHERE rolname = $1', [roleName]) : [];
    return {
      inRecovery: state.in_recovery,
      systemIdentifier: state.system_identifier,
      timeline: state.timeline,
      oldestWalSegment: state.oldest_wal ?? undefined,
      walNeed: need && walNeedOf(need),
      archiver: archiver.archiving
        ? {
            archivedCount: Number(archiver.archived_count),
            lastArchivedWal: archiver.last_archived_wal,
            lastArchivedAt: archiver.last_archived_at,
            failedCount: Number(archiver.failed_count),
            lastFailedWal: archiver.last_failed_wal,
            lastFailedAt: archiver.last_failed_at,
            failing: archiver.failing,
            waiting: archiver.waiting,
          }
        : undefined,
      flushLsn: state.flush_lsn ?? undefined,
      slots: slots.map((s) => ({ name: s.name, type: s.type, active: s.active, activePid: s.active_pid, restartLsn: s.restart_lsn, walStatus: s.wal_status, invalidationReason: s.invalidation_reason, retainedBytes: numeric(s.retained) ?? null })),
      walSenders: senders.map((s) => ({
        pid: s.pid,
        user: s.usename,
        applicationName: s.application_name,
        clientAddr: s.client_addr,
        state: s.state,
        sentLsn: s.sent_lsn,
        replayLsn: s.replay_lsn,
        replayBytes: numeric(s.replay_bytes) ?? null,
        replayLagSeconds: s.replay_lag,
      })),
      role: roleName ? (role ? { canLogin: role.rolcanlogin, replication: role.rolreplication } : null) : undefined,
      sync,
    };
  });
  const dir = facts.settings.archive_mode !== 'off' ? archiveDirectoryOf(facts.settings.archive_command ?? '') : undefined;
  const archive = dir === undefined ? undefined : await readArchive(node, dir);
  return { ...facts, ...live, walSenders: live?.walSenders ?? [], archive };
}

interface WalNeedRow extends Record<string, unknown> {
  keep_from: string;
  redo: string;
  slot: string | null;
  replay: string | null;
  segment_bytes: string;
  max_wal_bytes: string;
}

/**
 * What a primary's WAL archive must keep: the least of its checkpoint's redo, every slot's
 * restart_lsn and every connected standby's replay_lsn (no row in recovery). min(pg_lsn) exists
 * from PostgreSQL 13 only; ORDER BY works from 10.
 */
export const walNeedSql = `SELECT pg_walfile_name(least(c.redo_lsn, s.lsn, r.lsn)) AS keep_from, c.redo_lsn::text AS redo, s.lsn::text AS slot, r.lsn::text AS replay,
              pg_size_bytes(current_setting('wal_segment_size'))::text AS segment_bytes, pg_size_bytes(current_setting('max_wal_size'))::text AS max_wal_bytes
         FROM pg_control_checkpoint() c,
              (SELECT (SELECT restart_lsn FROM pg_replication_slots WHERE restart_lsn IS NOT NULL ORDER BY 1 LIMIT 1) AS lsn) s,
              (SELECT (SELECT replay_lsn FROM pg_stat_replication WHERE replay_lsn IS NOT NULL ORDER BY 1 LIMIT 1) AS lsn) r
        WHERE NOT pg_is_in_recovery()`;

export const walNeedOf = (row: WalNeedRow): WalNeed => ({
  keepFrom: row.keep_from,
  checkpointRedo: row.redo,
  oldestSlotRestart: row.slot,
  oldestStandbyReplay: row.replay,
  segmentBytes: Number(row.segment_bytes),
  maxWalBytes: Number(row.max_wal_bytes),
});

/** The archive directory's files, base backup labels, filesystem and pg_archivecleanup; undefined when it cannot be read. */
export async function readArchive(node: Node, dir: string): Promise<ArchiveFact | undefined> {
  const [space, listing, cleanup] = await Promise.all([
    filesystemSpace(node.host, dir),
    node.host.exec(privileged.archiveContents(dir), { as: 'postgres' }),
    node.host.exec(privileged.findArchiveCleanup(node.cluster.binDir), { as: 'postgres' }),
  ]);
  if (!space || listing.code !== 0) return undefined;
  const rows = listing.stdout.split('\n').filter(Boolean).map((line) => line.split('\t'));
  return {
    dir,
    ...space,
    files: rows.map(([name, bytes]) => ({ name, bytes: Number(bytes) })),
    backups: rows.filter(([name]) => name.endsWith('.backup')).map(([name, , ...label]) => ({ name, label: label.join('\t') })),
    archiveCleanup: cleanup.stdout.trim().split('\n')[0] || undefined,
  };
}

async function standbyFacts(node: Node): Promise<StandbyFacts> {
  const { host, cluster } = node;
  const dir = cluster.dataDirectory;
  const exists = async (name: string) => (await host.exec(privileged.pathExists(`${dir}/${name}`), { as: 'postgres' })).code === 0;
  const [recoveryConf, standbySignal, recoverySignal, backupLabel] = await Promise.all([host.readFile(`${dir}/recovery.conf`, 'postgres'), exists('standby.signal'), exists('recovery.signal'), exists('backup_label')]);
  // restore_command is a setting from PG 12 (recovery.conf before).
  const names = [...walreceiverSettingNames, ...hotStandbyMinimums(cluster.major), 'archive_cleanup_command', 'hot_standby', 'hot_standby_feedback', 'max_standby_streaming_delay', 'wal_receiver_timeout', ...(cluster.major >= 12 ? ['restore_command'] : [])];
  const { live, ...facts } = await serverFacts(node, names, async () => {
    // The statement status reads the standby with, and the identity doctor needs beside it.
    const [row] = await host.sql<StandbyReading & { timeline: number }>(
      node.address!,
      `SELECT ${timelineSql} AS timeline, replication.*
         FROM (${standbyStatusSql(cluster.major)}) replication`,
    );
    const { inRecovery, receiver } = row;
    return {
      inRecovery,
      systemIdentifier: row.systemIdentifier,
      timeline: row.timeline,
      replayPaused: row.replayPauseState === null ? undefined : row.replayPauseState !== 'not paused',
      // Nothing received yet is no amount; after a promotion both positions stand still and say nothing.
      applyBytes: inRecovery && row.receivedLsn !== null ? (row.receivedNotReplayedBytes ?? undefined) : undefined,
      replayAgeSeconds: inRecovery ? (row.lastReplayedTransactionAgeSeconds ?? undefined) : undefined,
      replayLsn: inRecovery ? (row.replayedLsn ?? undefined) : undefined,
      receiverStatus: receiver?.status,
      lastMessageAt: receiver?.lastMessageAt ? utcSecond(receiver.lastMessageAt) : undefined,
      lastMessageAgeSeconds: receiver?.lastMessageAgeSeconds ?? undefined,
    };
  });
  return { ...facts, ...live, recoveryConf, standbySignal, recoverySignal, backupLabel };
}

/** A recovery setting as the standby runs with it: a setting from PG 12, a recovery.conf line before. */
export const recoverySetting = (standby: StandbyFacts, name: string): string | undefined =>
  (standby.major >= 12 ? standby.settings[name] : autoConfValue(standby.recoveryConf ?? '', name)) || undefined;

/** Whom the standby follows, as the walreceiver reads it (the same reading setup's verification uses). */
function readRelationship(standby: StandbyFacts): Pick<Relationship, 'conninfo' | 'source' | 'params' | 'slotName'> {
  const { conninfo, slotName, params, fromRecoveryConf } = walreceiverConfig(standby.major, standby.settings, standby.recoveryConf);
  const source = fromRecoveryConf ? 'recovery.conf' : standby.settingsSource === 'pg_settings' ? 'the running standby (pg_settings)' : standby.settingsSource;
  return { conninfo, source, params, slotName };
}

/** The walreceiver's next connection, made now: one replication connection with primary_conninfo. */
async function probe(node: Node, relationship: Relationship): Promise<Probe> {
  const [outcome, clock] = await Promise.all([probeReplication(node, Object.entries(relationship.params)), hostClock(node.host)]);
  return { ...outcome, clock };
}

/** The walreceiver's role: conninfo's user, else the OS user it runs as. */
export const replicationUser = (relationship: Pick<Relationship, 'params'>, owner: string) => relationship.params.user ?? owner;

/**
 * The passfile and its line for the walreceiver's connection: primary_conninfo's, or, with none,
 * the one the repairs write (`unnamed`: the primary as given, setup's role), whose password setup
 * stored there.
 */
async function passfileFacts(standby: Host, read: Pick<Relationship, 'conninfo' | 'params'>, owner: string, unnamed: PassfileKey): Promise<Pick<Relationship, 'passfile' | 'passfileKey' | 'storedPassword'>> {
  const passfile = read.params.passfile ?? `${await serverHome(standby)}/.pgpass`;
  const content = await standby.readFile(passfile, 'postgres');
  const { host = '', port = '5432' } = read.params;
  const key = read.conninfo === undefined ? unnamed : { host, port: Number(port), role: replicationUser(read, owner) };
  return { passfile, passfileKey: key, storedPassword: content === null ? undefined : findPassfileEntry(content, key.host, key.port, key.role) };
}

/** A passfile line's connection: host, port and role. */
export interface PassfileKey {
  host: string;
  port: number;
  role: string;
}

/** `unnamedRole`: the role the repairs use when no primary_conninfo names one (setup's). */
export async function gatherFacts(primaryNode: Node, standbyNode: Node, unnamedRole: string): Promise<DoctorFacts> {
  const standby = await standbyFacts(standbyNode);
  const read = readRelationship(standby);
  const owner = standbyNode.cluster.owner;
  const host = read.params.hostaddr ?? read.params.host;
  const [primary, hostAddresses, passfile] = await Promise.all([
    primaryFacts(primaryNode, read.conninfo !== undefined ? replicationUser(read, owner) : undefined, standbyNode.cluster.major),
    host && !host.startsWith('/') ? resolveName(standbyNode.host, host.split(',')[0]) : Promise.resolve([]),
    passfileFacts(standbyNode.host, read, owner, { host: primaryNode.host.address, port: primaryNode.cluster.port, role: unnamedRole }),
  ]);
  const relationship: Relationship = {
    ...read,
    ...passfile,
    hostAddresses,
    standbyAddress: hostAddresses[0] ? await sourceAddressTowards(standbyNode.host, hostAddresses[0], '--standby-address').catch(() => undefined) : undefined,
  };
  const streaming = standby.receiverStatus === 'streaming';
  return { primary, standby, relationship, probe: !streaming && relationship.conninfo !== undefined ? await probe(standbyNode, relationship) : undefined };
}
