/**
 * The one source of truth for doctor's findings: ids (part of the interface), severities,
 * the PostgreSQL log messages that reveal each one (texts from the PostgreSQL sources of
 * 10–18, both the plain and the PG 17+ double-quoted GUC spellings), and the fix. README's
 * troubleshooting table is generated from this list (`npm run docs`).
 */

import type { Side } from '../remote/host.js';

export type Severity = 'error' | 'warning' | 'info';
/** Where a finding lies: one end of the pair, or a cascaded standby's upstream (the hop between). */
export type FindingHost = Side | 'upstream';

export const findingIds = [
  'hba-missing',
  'sysid-mismatch',
  'wal-removed',
  'slot-missing',
  'slot-in-use',
  'wal-senders-exhausted',
  'auth-failed',
  'tls-failed',
  'not-replication-role',
  'primary-unreachable',
  'wal-level-insufficient',
  'recovery-conf-unsupported',
  'hot-standby-params',
  'timeline-diverged',
  'standby-ahead',
  'checkpoint-missing',
  'standby-not-in-recovery',
  'standby-down',
  'slot-inactive',
  'slot-invalidated',
  'replication-lag',
  'primary-conninfo-missing',
  'primary-conninfo-elsewhere',
  'replay-paused',
  'recovery-conflict',
  'application-name-collision',
  'walsender-timeout',
  'archive-failing',
  'archive-space',
  'archive-cleanup',
  'sync-commit-hang',
  'upstream-down',
  'upstream-not-streaming',
] as const;
export type FindingId = (typeof findingIds)[number];

export interface FindingSpec {
  id: FindingId;
  severity: Severity;
  /** Where the cause lies and the fix applies (evidence may come from both hosts). */
  host: FindingHost;
  title: string;
  /** What is wrong underneath, in an operator's words. */
  cause: string;
  /** What to do by hand. */
  fix: string;
  /** What `doctor --fix` does about it, or undefined when it is left to the operator. */
  autoFix?: string;
  /** Log lines that reveal it (matched against both servers' logs). */
  logPatterns: RegExp[];
}

const guc = (name: string) => `"?${name}"?`;
const networkFailures = ['Connection refused', 'timeout expired', 'timed out', 'No route to host', 'Network is unreachable', 'could not translate host name'].join('|');

export const catalog: Record<FindingId, FindingSpec> = {
  'hba-missing': {
    id: 'hba-missing',
    host: 'primary',
    severity: 'error',
    title: "the primary's pg_hba.conf has no replication entry for the standby",
    cause: 'physical replication connections match only the database keyword "replication" in pg_hba.conf, never "all"',
    fix: 'add "host replication <role> <standby-ip>/32 scram-sha-256" to the primary\'s pg_hba.conf and reload',
    autoFix: 'adds that line (backed up, validated with pg_hba_file_rules) and reloads the primary',
    logPatterns: [
      /no pg_hba\.conf entry for replication connection from host "[^"]+", user "[^"]+"/,
      /pg_hba\.conf rejects replication connection for host "[^"]+", user "[^"]+"/,
    ],
  },
  'sysid-mismatch': {
    id: 'sysid-mismatch',
    host: 'standby',
    severity: 'error',
    title: 'the standby was not cloned from this primary (system identifiers differ)',
    cause: "the standby's data directory comes from another cluster: its own initdb (as a setup that stopped before its clone leaves it), or a copy of another primary",
    fix: 're-clone the standby from the primary with pg_basebackup (the same pgrepl-wizard setup run again does it, as does doctor --fix)',
    autoFix: 're-clones the standby (old data directory kept, renamed)',
    logPatterns: [/database system identifier differs between the primary and standby/],
  },
  'wal-removed': {
    id: 'wal-removed',
    host: 'standby',
    severity: 'error',
    title: 'the primary already removed WAL the standby still needs',
    cause: 'WAL was recycled before the standby received it (no slot, or wal_keep_size too small, and no restore_command)',
    fix: 'use a replication slot (or raise wal_keep_size / set restore_command), then re-clone the standby',
    autoFix: 'creates the slot if there is none, and re-clones the standby using it',
    logPatterns: [/requested WAL segment \S+ has already been removed/],
  },
  'slot-missing': {
    id: 'slot-missing',
    host: 'primary',
    severity: 'error',
    title: "the standby's primary_slot_name names a slot that does not exist on the primary",
    cause: 'the slot was never created, was dropped, or primary_slot_name has a typo',
    fix: "SELECT pg_create_physical_replication_slot('<slot>', true) on the primary, or fix primary_slot_name",
    autoFix: 'creates the slot on the primary',
    logPatterns: [/replication slot "[^"]+" does not exist/],
  },
  'slot-in-use': {
    id: 'slot-in-use',
    host: 'primary',
    severity: 'error',
    title: 'the replication slot is held by another connection',
    cause: 'two standbys share one slot, or a stale walsender still holds it',
    fix: 'give each standby its own slot, or stop whatever holds it (the pid in pg_replication_slots.active_pid): another standby, pg_receivewal, or a stale walsender (pg_terminate_backend(pid))',
    logPatterns: [/replication slot "[^"]+" is active for PID \d+/],
  },
  'wal-senders-exhausted': {
    id: 'wal-senders-exhausted',
    host: 'primary',
    severity: 'error',
    title: 'the primary has no free WAL sender',
    cause: 'max_wal_senders is reached by other standbys, backups or stale connections',
    fix: 'raise max_wal_senders on the primary (needs a restart), or end unused replication connections',
    autoFix:
      "raises max_wal_senders with ALTER SYSTEM and restarts the primary (needs --restart-primary headless); first, on PostgreSQL 12+, raises a standby's max_wal_senders that would be lower than the primary's new value (a standby needs at least the primary's, see hot-standby-params)",
    logPatterns: [new RegExp(`number of requested standby connections exceeds ${guc('max_wal_senders')} \\(currently \\d+\\)`)],
  },
  'auth-failed': {
    id: 'auth-failed',
    host: 'primary',
    severity: 'error',
    title: 'the primary rejects the replication password',
    cause: "the password in the standby's passfile/primary_conninfo does not match the role's, or none is supplied",
    fix: 'set the role\'s password and the same one in the standby\'s passfile (run "pgrepl-wizard setup" with PGREPL_PASSWORD)',
    autoFix: "sets the role's password to the standby's (its passfile or primary_conninfo; PGREPL_PASSWORD wins and is stored in the passfile)",
    logPatterns: [/password authentication failed for user "[^"]+"/, /fe_sendauth: no password supplied/],
  },
  'tls-failed': {
    id: 'tls-failed',
    host: 'standby',
    severity: 'error',
    title: "the standby does not accept the primary's TLS certificate",
    cause:
      "with sslmode=verify-ca or verify-full the standby checks the primary's certificate against sslrootcert: the CA file is missing, the certificate was not signed by that CA, or (verify-full) it does not name the address in primary_conninfo",
    fix: "give the standby the CA that signed the primary's certificate (sslrootcert in primary_conninfo; setup --ssl-root-cert copies it), and a certificate on the primary whose subjectAltName names the host in primary_conninfo (or use that name as host)",
    logPatterns: [
      /SSL error: certificate verify failed/,
      /server certificate for "[^"]+"( \(and \d+ other names?\))? does not match host name "[^"]+"/,
      /server common name "[^"]+" does not match host name "[^"]+"/,
      /root certificate file "[^"]+" does not exist/,
    ],
  },
  'not-replication-role': {
    id: 'not-replication-role',
    host: 'primary',
    severity: 'error',
    title: 'the replication role cannot log in or lacks REPLICATION',
    cause: 'the role was created without LOGIN or REPLICATION, or they were revoked',
    fix: 'ALTER ROLE <role> WITH LOGIN REPLICATION on the primary',
    autoFix: 'runs ALTER ROLE … WITH LOGIN REPLICATION',
    logPatterns: [
      /role "[^"]+" is not permitted to log in/,
      /must be superuser or replication role to start walsender/,
      /permission denied to start WAL sender/,
    ],
  },
  'primary-unreachable': {
    id: 'primary-unreachable',
    host: 'primary',
    severity: 'error',
    title: 'the standby cannot connect to the primary',
    cause: 'the primary does not listen on the address the standby uses (listen_addresses defaults to localhost), the port is wrong, or a firewall blocks it',
    fix: "set listen_addresses on the primary to include its address facing the standby (restart), check the port and firewall",
    autoFix: 'adds the address to listen_addresses and restarts the primary (needs --restart-primary headless)',
    logPatterns: [
      // Network-level causes only: an auth or hba FATAL inside the same wrapper is another finding.
      new RegExp(`(could not connect to the primary server|streaming replication receiver "[^"]+" could not connect to the primary server): .*(${networkFailures})`),
    ],
  },
  'wal-level-insufficient': {
    id: 'wal-level-insufficient',
    host: 'primary',
    severity: 'error',
    title: "the primary's wal_level is below replica",
    cause: 'with wal_level=minimal the primary writes too little WAL for a standby',
    fix: 'set wal_level = replica on the primary (restart), then re-clone the standby',
    autoFix: 'sets wal_level = replica (in postgresql.auto.conf while the primary cannot start) and restarts or starts the primary (a restart needs --restart-primary headless); re-clones a standby that already received minimal WAL',
    logPatterns: [
      new RegExp(`WAL streaming \\(${guc('max_wal_senders')} > 0\\) requires ${guc('wal_level')} "replica" or "logical"`),
      /WAL level not sufficient for making an online backup/,
      // Written by a PG 15 primary that cannot start with a physical slot and wal_level minimal (seen on the lab).
      /physical replication slot "[^"]+" exists, but wal_level < replica/,
      /hot standby is not possible because wal_level was not set to "replica" or higher on the master server/,
      /WAL was generated with wal_level=minimal, cannot continue recovering/,
    ],
  },
  'recovery-conf-unsupported': {
    id: 'recovery-conf-unsupported',
    host: 'standby',
    severity: 'error',
    title: 'recovery.conf on PostgreSQL 12 or later',
    cause: 'since PG 12 a recovery.conf file stops the server; its settings belong in postgresql.auto.conf with standby.signal',
    fix: 'move primary_conninfo/primary_slot_name into postgresql.auto.conf, create standby.signal, drop standby_mode, remove recovery.conf',
    autoFix: 'converts recovery.conf (kept as a backup) and starts the standby',
    logPatterns: [/using recovery command file "[^"]+" is not supported/],
  },
  'hot-standby-params': {
    id: 'hot-standby-params',
    host: 'standby',
    severity: 'error',
    title: 'a standby setting is lower than on the primary',
    cause:
      "max_connections, max_worker_processes, max_prepared_transactions, max_locks_per_transaction and max_wal_senders (PG 12+) must be at least the primary's: the primary writes its values into the WAL when it starts, and a standby that replays higher ones stops (PG 10–13, and PG 14+ while starting) or pauses replay (PG 14+, streaming on with nothing applied); typically the primary was given a higher value first",
    fix: "raise the setting on the standby to the primary's value and restart the standby; raise such settings on every standby before the primary (lower them on the primary first)",
    autoFix: "raises the low settings in the standby's postgresql.auto.conf and restarts it",
    logPatterns: [
      // PG 10–13: FATAL with the setting in the message.
      /hot standby is not possible because \w+ = \d+ is a lower setting than on the master server/,
      // PG 14+: the setting in the DETAIL of a WARNING (replay pauses), of a FATAL at startup, or of a refused promotion.
      /\w+ = \d+ is a lower setting than on the primary server, where its value was \d+/,
      /recovery aborted because of insufficient parameter settings/,
      /hot standby is not possible because of insufficient parameter settings/,
      /promotion is not possible because of insufficient parameter settings/,
    ],
  },
  'timeline-diverged': {
    id: 'timeline-diverged',
    host: 'standby',
    severity: 'error',
    title: "the standby's history forked from the primary's",
    cause: 'the standby (or the primary) was promoted and wrote WAL the other does not have',
    fix: 'rewind the standby with pg_rewind (needs data checksums or wal_log_hints) or re-clone it',
    autoFix: 'rewinds the standby with pg_rewind when pg_rewind --dry-run accepts it, else (or when the rewind fails) re-clones it',
    logPatterns: [
      /highest timeline \d+ of the primary is behind recovery timeline \d+/,
      /requested starting point \S+ on timeline \d+ is not in this server's history/,
      /new timeline \d+ forked off current database system timeline \d+ before current recovery point/,
      /requested timeline \d+ is not a child of this server's history/,
    ],
  },
  'standby-ahead': {
    id: 'standby-ahead',
    host: 'standby',
    severity: 'error',
    title: "the standby is ahead of the primary's WAL on the same timeline",
    cause:
      'the primary went back in time without a new timeline: it was restored from a backup or a snapshot, a standby that was behind took its place (a failover gone wrong), or it lost its newest WAL in a crash (fsync off, a disk that lies); the standby replayed WAL the primary no longer has, so the primary refuses to stream from where the standby is',
    fix: 're-clone the standby from the primary; first find out how the primary lost WAL: transactions the standby has may be missing on the primary',
    autoFix: 're-clones the standby (old data directory kept, renamed)',
    // The same text in PostgreSQL 10–18; on the standby inside "could not receive data from WAL stream: ERROR:  …" (PG 15 on the lab).
    logPatterns: [/requested starting point \S+ is ahead of the WAL flush position of this server \S+/],
  },
  'checkpoint-missing': {
    id: 'checkpoint-missing',
    host: 'standby',
    severity: 'error',
    title: "the standby cannot start: the WAL of the checkpoint it starts from is not in its pg_wal",
    cause:
      'WAL files were deleted from pg_wal (by hand, to free space), or the data directory was copied without its WAL (pg_basebackup -X none, a file copy without pg_wal) and starts with nothing to fetch it from: no standby.signal with primary_conninfo, no restore_command',
    fix: 're-clone the standby with its WAL (pg_basebackup -X stream); never delete files in pg_wal by hand, and never remove backup_label from a copy to make it start (that gives a corrupt cluster)',
    autoFix: 're-clones the standby (old data directory kept, renamed)',
    logPatterns: [
      // PANIC without backup_label, FATAL with one (HINTs: touch recovery.signal (PG 12+; "or standby.signal" 17+), removing backup_label); PG 17+ add " at %X/%X".
      /could not locate a valid checkpoint record/,
      /could not locate required checkpoint record/,
    ],
  },
  'standby-not-in-recovery': {
    id: 'standby-not-in-recovery',
    host: 'standby',
    severity: 'error',
    title: 'the standby runs as a primary (not in recovery)',
    cause: 'it was promoted, standby.signal / recovery.conf is missing, or it is the former primary after a failover (pointed at the new primary as its standby)',
    fix: 'rewind it with pg_rewind (needs data checksums or wal_log_hints), or re-clone it from the primary (a promoted server cannot simply go back)',
    autoFix: 'rewinds the standby with pg_rewind when pg_rewind --dry-run accepts it, else (or when the rewind fails) re-clones it',
    logPatterns: [],
  },
  'standby-down': {
    id: 'standby-down',
    host: 'standby',
    severity: 'error',
    title: 'the standby is not running',
    cause: 'it was stopped, or failed to start (the reason is in its log)',
    fix: 'fix the reason in its log, then start it',
    autoFix: 'starts the standby (after the repairs for the reason in its log) and waits until it accepts read-only connections',
    logPatterns: [],
  },
  'slot-inactive': {
    id: 'slot-inactive',
    host: 'primary',
    severity: 'warning',
    title: 'an inactive replication slot retains WAL on the primary',
    cause: "nothing consumes the slot, so the primary keeps all WAL since its restart_lsn: pg_wal grows until the disk is full",
    fix: 'reconnect its standby, or drop the slot (pg_drop_replication_slot) if no standby uses it; set max_slot_wal_keep_size to cap the risk',
    autoFix: 'drops the slot, only after you confirm it by name (headless: --drop-slot NAME); never the standby\'s own slot',
    logPatterns: [],
  },
  'slot-invalidated': {
    id: 'slot-invalidated',
    host: 'primary',
    severity: 'error',
    title: 'the replication slot was invalidated (wal_status lost)',
    cause:
      'it retained more WAL than max_slot_wal_keep_size allows (PG 13+), or (PG 18) stayed inactive longer than idle_replication_slot_timeout, so the primary released the WAL it held: the standby cannot get that WAL from the primary any more',
    fix: 'drop and recreate the slot, then re-clone the standby (or let it fetch the missing WAL from the archive with restore_command); consider a larger max_slot_wal_keep_size',
    autoFix: 'recreates the slot and re-clones the standby',
    logPatterns: [
      // PG 13–15.
      /invalidating slot "[^"]+" because its restart_lsn \S+ exceeds max_slot_wal_keep_size/,
      // PG 16+, with a DETAIL: "The slot's restart_lsn %X/%X exceeds the limit by N bytes." or (18) "The slot's idle time of Ns exceeds the configured "idle_replication_slot_timeout" duration of Ns."
      /invalidating obsolete replication slot "[^"]+"/,
      // PG 18, to whoever uses it: DETAIL "This replication slot has been invalidated due to "wal_removed"."
      /can no longer access replication slot "[^"]+"/,
    ],
  },
  'replication-lag': {
    id: 'replication-lag',
    host: 'standby',
    severity: 'warning',
    title: 'the standby is behind the primary',
    cause: 'the standby cannot keep up (network, disk, long queries with hot_standby_feedback) or was disconnected for a while',
    fix: 'watch whether the lag shrinks; check the standby\'s I/O and the network (a paused replay is reported as replay-paused)',
    logPatterns: [],
  },
  'primary-conninfo-missing': {
    id: 'primary-conninfo-missing',
    host: 'standby',
    severity: 'error',
    title: 'the standby has no primary_conninfo, so it cannot stream',
    cause:
      'its recovery configuration names no primary: with only restore_command it replays what reaches the archive, with neither it waits for WAL files to appear in its pg_wal, forever, while it looks like a healthy standby',
    fix: 'set primary_conninfo (and primary_slot_name) in the standby\'s postgresql.auto.conf (recovery.conf up to PG 11) and restart it',
    autoFix: "writes primary_conninfo (password in the passfile) and primary_slot_name, and restarts the standby",
    // PG 10–11: 'recovery command file "recovery.conf" specified neither …'; PG 17+ quotes the names. HINT: it polls pg_wal.
    logPatterns: [/specified neither "?primary_conninfo"? nor "?restore_command"?/],
  },
  'primary-conninfo-elsewhere': {
    id: 'primary-conninfo-elsewhere',
    host: 'standby',
    severity: 'info',
    title: "the standby's primary_conninfo names a host that is not an address of the given primary",
    cause: 'a DNS name, a virtual IP or a proxy in between, or the standby follows another server',
    fix: 'make sure the standby should follow this primary; otherwise point --primary at the server it follows',
    logPatterns: [],
  },
  'replay-paused': {
    id: 'replay-paused',
    host: 'standby',
    severity: 'error',
    title: 'replay is paused on the standby',
    cause:
      'someone ran pg_wal_replay_pause() (or recovery reached a target with recovery_target_action = pause): WAL keeps arriving and the walreceiver still says "streaming", but nothing is applied, so the standby shows older and older data and its pg_wal grows',
    fix: 'SELECT pg_wal_replay_resume() on the standby, once whoever paused it is done',
    // PostgreSQL 10–18 log it when replay stops at the pause (with the HINT "Execute pg_wal_replay_resume() to continue.").
    logPatterns: [/recovery has paused/],
  },
  'recovery-conflict': {
    id: 'recovery-conflict',
    host: 'standby',
    severity: 'info',
    title: 'queries on the standby were cancelled by conflicts with recovery',
    cause:
      "replaying the primary's changes (vacuum removing row versions, an exclusive lock such as DROP TABLE, a dropped tablespace or database) needed something a standby query held longer than max_standby_streaming_delay allows",
    fix: 'when the DETAIL names row versions that must be removed: hot_standby_feedback = on on the standby (the primary keeps those rows longer: some bloat); for locks and the rest: raise max_standby_streaming_delay on the standby (replay waits longer: more lag), or run such queries elsewhere',
    logPatterns: [/canceling statement due to conflict with recovery/, /terminating connection due to conflict with recovery/],
  },
  'application-name-collision': {
    id: 'application-name-collision',
    host: 'standby',
    severity: 'warning',
    title: 'several WAL receivers report the same application_name to the primary',
    cause:
      "a standby whose primary_conninfo has no application_name reports its cluster_name from PostgreSQL 12 (Debian sets it to e.g. 15/main on every host) and \"walreceiver\" before 12 or without one, so two such standbys look alike: synchronous_standby_names cannot tell them apart and every monitor mixes them up",
    fix: "give each standby its own application_name in primary_conninfo (e.g. its slot name) and reload it (restart before PostgreSQL 13)",
    logPatterns: [],
  },
  'walsender-timeout': {
    id: 'walsender-timeout',
    host: 'primary',
    severity: 'info',
    title: 'a replication connection was ended for silence (replication timeout)',
    cause:
      "one end heard nothing from the other for wal_sender_timeout (the primary's walsender) or wal_receiver_timeout (the standby's walreceiver), 60 s by default: the network between the hosts dropped or stalled, or the other end was stuck (load, I/O, a full disk); the standby connects again by itself",
    fix: 'check the network between the hosts and the load on the side that went silent; raise wal_sender_timeout on the primary / wal_receiver_timeout on the standby (reload) only for a slow but sound link',
    logPatterns: [/terminating walsender process due to replication timeout/, /terminating walreceiver due to timeout/],
  },
  'archive-failing': {
    id: 'archive-failing',
    host: 'primary',
    severity: 'error',
    title: "the primary's archive_command fails: WAL piles up in its pg_wal",
    cause:
      'a segment leaves pg_wal only once archive_command succeeded for it; while it fails the archiver retries the oldest one, every later segment waits, and pg_wal grows until its filesystem is full and the primary stops',
    fix: "read why in the primary's log (the line before \"archive command failed\": permissions, a full or unmounted archive, a segment already archived with other content) and correct that; the archiver retries by itself",
    // PostgreSQL 10-18 (pgarch.c, shell_archive.c from 15): the exit code with the command as DETAIL, then after three tries the WARNING (10's "transaction log file").
    logPatterns: [/archive command failed with exit code \d+/, /archive command was terminated by signal \d+/, /archiving (write-ahead|transaction) log file "[^"]+" failed too many times, will try again later/],
  },
  'archive-space': {
    id: 'archive-space',
    host: 'primary',
    severity: 'warning',
    title: "the WAL archive's filesystem is almost full",
    cause: 'nothing removes segments from an archive by itself: once its filesystem is full, archive_command fails and WAL piles up in the primary\'s pg_wal',
    fix: 'remove the segments no standby and no base backup you keep still needs (pg_archivecleanup ARCHIVE OLDEST_NEEDED_SEGMENT), or give the archive more space',
    logPatterns: [],
  },
  'archive-cleanup': {
    id: 'archive-cleanup',
    host: 'primary',
    severity: 'warning',
    title: 'the WAL archive holds more WAL than max_wal_size that nothing needs any more',
    cause:
      "nothing removes segments from an archive on the primary by itself (no standby's archive_cleanup_command reads it): it grows until its filesystem is full, then archive_command fails and WAL piles up in the primary's pg_wal",
    fix: "remove the segments older than the oldest one the primary's last checkpoint, every slot and every connected standby still need, with the pg_archivecleanup command shown (it keeps that segment and everything after it); when the archive also serves base backups, clean only up to the oldest base backup you keep (pg_archivecleanup ARCHIVE ITS.backup)",
    autoFix:
      "runs that pg_archivecleanup on the primary as the server's OS user, after the plan listed the files (pg_archivecleanup -n); it keeps the WAL of the oldest base backup in the archive that this wizard's clones did not leave, and reports what it removed and the space freed",
    logPatterns: [],
  },
  'sync-commit-hang': {
    id: 'sync-commit-hang',
    host: 'primary',
    severity: 'error',
    title: 'commits wait for synchronous standbys that are not there: they hang',
    cause:
      "synchronous_standby_names asks every commit to wait until n of the standbys it lists confirm it, and fewer than n of them stream now (stopped, cut off, removed, or never connected under that application_name): each writing transaction has committed locally but its session waits (wait_event SyncRep) until enough of them stream again, for ever if none comes back",
    fix: "bring the missing standbys back (start them: the waiting commits return once enough stream), or lower the list to the standbys that stream (ALTER SYSTEM SET synchronous_standby_names = …; SELECT pg_reload_conf(): the waits end at once), or turn it off (pgrepl-wizard sync --sync-off); cancelling a waiting session does not undo its transaction: 'The transaction has already committed locally, but might not have been replicated to the standby.'",
    autoFix: 'lowers n in synchronous_standby_names to the listed standbys that stream now (the same names and method), or empties it when none streams; ALTER SYSTEM (postgresql.auto.conf backed up) and a reload; then a canary commit must return',
    logPatterns: [],
  },
  'upstream-down': {
    id: 'upstream-down',
    host: 'upstream',
    severity: 'error',
    title: "a cascaded standby's upstream (the standby it streams from) is down: the hop before the standby is broken, not the standby",
    cause: 'the upstream server was stopped or crashed, or its host is unreachable; the standby keeps retrying it and gets no new WAL meanwhile',
    fix: "start the upstream (the reason is in its log), or point the standby at another upstream: the primary, or another standby (setup --standby NAME --upstream OTHER: no new clone, the standby is a copy already)",
    autoFix: "re-points the standby to the primary, after asking: the replication role, settings, pg_hba.conf line and slot on the primary, the standby's primary_conninfo and primary_slot_name, a restart of the standby, and the proof that it streams",
    logPatterns: [],
  },
  'upstream-not-streaming': {
    id: 'upstream-not-streaming',
    host: 'upstream',
    severity: 'error',
    title: "a cascaded standby's upstream runs but does not stream from the primary: the standby behind it gets no new WAL",
    cause: "the upstream's own replication is broken (its walreceiver is not streaming); the cascaded standby itself may be fine",
    fix: 'diagnose the upstream as the standby (doctor --standby UPSTREAM) and repair it there, or point the standby at the primary meanwhile',
    autoFix: 're-points the standby to the primary, after asking (as for upstream-down)',
    logPatterns: [],
  },
};

export interface LogMatch {
  id: FindingId;
  line: string;
}

/** Which catalog entries a log line reveals. */
export function matchLogLine(line: string): FindingId[] {
  return findingIds.filter((id) => catalog[id].logPatterns.some((pattern) => pattern.test(line)));
}

/**
 * Which catalog entries a failed replication connection's client-side text reveals (psql's
 * or pg_basebackup's stderr): the server's own messages inside it, or a network failure.
 */
export function matchConnectionError(text: string): FindingId[] {
  const ids = text.split('\n').flatMap(matchLogLine);
  if (ids.length === 0 && new RegExp(networkFailures).test(text)) ids.push('primary-unreachable');
  return [...new Set(ids)];
}
