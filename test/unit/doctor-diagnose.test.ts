import { describe, expect, it } from 'vitest';
import { diagnose, lagWarningBytes, type Finding } from '../../src/doctor/diagnose.js';
import type { DoctorFacts, PrimaryFacts, StandbyFacts } from '../../src/doctor/facts.js';
import { parseLog } from '../../src/doctor/log.js';

/**
 * The judging half of doctor, on facts as gather reads them from the lab pair (PG 15,
 * primary 10.77.0.11:5433, standby 10.77.0.12, slot pgrepl_10_77_0_12): which causes are
 * current, which log lines prove them, what --fix may do.
 */

const slot = 'pgrepl_10_77_0_12';
const primaryLog = '/var/log/postgresql/postgresql-15-prod.log';
const standbyLog = '/var/log/postgresql/postgresql-15-main.log';

const standbyStart = `2026-11-23 19:36:42.435 UTC [10975] LOG:  starting PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64-pc-linux-gnu
2026-11-23 19:36:42.565 UTC [10979] LOG:  started streaming WAL from primary at 0/3000000 on timeline 1
`;
const hbaStandby = (at: string) =>
  `2026-11-23 ${at} UTC [11480] FATAL:  could not connect to the primary server: connection to server at "10.77.0.11", port 5433 failed: FATAL:  no pg_hba.conf entry for replication connection from host "10.77.0.12", user "repl", no encryption\n`;
const hbaPrimary = (at: string, host = '10.77.0.12') => `2026-11-23 ${at} UTC [11481] repl@[unknown] FATAL:  no pg_hba.conf entry for replication connection from host "${host}", user "repl", no encryption\n`;
const primaryStart = '2026-11-23 19:36:35.026 UTC [10597] LOG:  starting PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64-pc-linux-gnu\n';

const hotStandbySettings = { max_connections: '100', max_worker_processes: '8', max_prepared_transactions: '0', max_locks_per_transaction: '64', max_wal_senders: '10' };

/** What both servers of the running lab pair share: PG 15, one system, timeline 1. */
const runningServer = { major: 15, running: true, clock: '2026-11-23 19:40:00 UTC', systemIdentifier: '7711454321759576451', timeline: 1, settingsSource: 'pg_settings' };

function primaryFacts(change: Partial<PrimaryFacts> = {}, log = primaryStart): PrimaryFacts {
  return {
    ...runningServer,
    clusterId: '15/prod',
    inRecovery: false,
    settings: { wal_level: 'replica', listen_addresses: 'localhost,10.77.0.11', port: '5433', max_slot_wal_keep_size: '-1', ...hotStandbySettings },
    addresses: ['127.0.0.1', '10.77.0.11', '::1'],
    log: { host: 'primary', source: primaryLog, entries: parseLog(log) },
    slots: [{ name: slot, type: 'physical', active: true, activePid: 10980, restartLsn: '0/3000000', walStatus: 'reserved', retainedBytes: 0 }],
    walSenders: [{ pid: 10980, user: 'repl', applicationName: slot, clientAddr: '10.77.0.12', state: 'streaming', sentLsn: '0/3000148', replayLsn: '0/3000148', replayBytes: 0, replayLagSeconds: null }],
    role: { canLogin: true, replication: true },
    oldestWalSegment: '000000010000000000000003',
    ...change,
  };
}

function standbyFacts(change: Partial<StandbyFacts> = {}, log = standbyStart): StandbyFacts {
  return {
    ...runningServer,
    clusterId: '15/main',
    inRecovery: true,
    settings: { primary_conninfo: `host=10.77.0.11 port=5433 user=repl passfile=/var/lib/postgresql/.pgpass application_name=${slot}`, primary_slot_name: slot, hot_standby: 'on', ...hotStandbySettings },
    addresses: ['127.0.0.1', '10.77.0.12', '::1'],
    log: { host: 'standby', source: standbyLog, entries: parseLog(log) },
    receiverStatus: 'streaming',
    replayPaused: false,
    applyBytes: 0,
    replayAgeSeconds: 3600,
    recoveryConf: null,
    standbySignal: true,
    recoverySignal: false,
    backupLabel: false,
    ...change,
  };
}

function facts(change: { primary?: PrimaryFacts; standby?: StandbyFacts; probe?: DoctorFacts['probe']; relationship?: Partial<DoctorFacts['relationship']> } = {}): DoctorFacts {
  return {
    primary: change.primary ?? primaryFacts(),
    standby: change.standby ?? standbyFacts(),
    relationship: {
      conninfo: `host=10.77.0.11 port=5433 user=repl passfile=/var/lib/postgresql/.pgpass application_name=${slot}`,
      source: 'the running standby (pg_settings)',
      params: { host: '10.77.0.11', port: '5433', user: 'repl', passfile: '/var/lib/postgresql/.pgpass', application_name: slot },
      slotName: slot,
      hostAddresses: ['10.77.0.11'],
      standbyAddress: '10.77.0.12',
      passfile: '/var/lib/postgresql/.pgpass',
      passfileKey: { host: '10.77.0.11', port: 5433, role: 'repl' },
      storedPassword: 'stored secret',
      ...change.relationship,
    },
    probe: change.probe,
  };
}

/** The standby between two walreceiver attempts: not streaming, its slot idle. */
const notStreaming = (log: string) => ({
  standby: standbyFacts({ receiverStatus: undefined }, log),
  primary: primaryFacts({ walSenders: [], slots: [{ name: slot, type: 'physical', active: false, activePid: null, restartLsn: '0/3000000', walStatus: 'reserved', retainedBytes: 4096 }] }, primaryStart + hbaPrimary('19:36:50.112')),
});

const byId = (findings: Finding[], id: string) => findings.filter((f) => f.id === id);
const probeFailed = (output: string) => ({ ok: false, output, clock: '2026-11-23 19:40:00 UTC' });

describe('doctor diagnosis', () => {
  it('a streaming pair is healthy, and an idle primary is no lag however old the last replayed transaction', () => {
    const { healthy, findings } = diagnose(facts(), false);
    expect(healthy).toBe(true);
    expect(findings).toEqual([]);
  });

  it('old failures before streaming resumed are info, quoting the line and the resumption', () => {
    const log = standbyStart + hbaStandby('19:36:50.113') + '2026-11-23 19:37:00.120 UTC [11690] LOG:  started streaming WAL from primary at 0/3000000 on timeline 1\n';
    const { healthy, findings } = diagnose(facts({ standby: standbyFacts({}, log) }), false);
    expect(healthy).toBe(true);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ id: 'hba-missing', severity: 'info', resolved: true, title: "resolved: the primary's pg_hba.conf has no replication entry for the standby" });
    expect(findings[0].evidence[0].lines).toEqual([hbaStandby('19:36:50.113').trim(), '2026-11-23 19:37:00.120 UTC [11690] LOG:  started streaming WAL from primary at 0/3000000 on timeline 1']);
  });

  it('a failing replication connection now makes the error, quoting both logs as one finding', () => {
    const { primary, standby } = notStreaming(standbyStart + hbaStandby('19:36:50.113'));
    const probe = probeFailed('connection to server at "10.77.0.11", port 5433 failed: FATAL:  no pg_hba.conf entry for replication connection from host "10.77.0.12", user "repl", no encryption');
    const { healthy, findings } = diagnose(facts({ primary, standby, probe }), false);
    expect(healthy).toBe(false);
    const [hba] = byId(findings, 'hba-missing');
    expect(hba.evidence.map((e) => [e.host, e.source])).toEqual([
      ['standby', 'replication connection with primary_conninfo (psql IDENTIFY_SYSTEM)'],
      ['standby', standbyLog],
      ['primary', primaryLog],
    ]);
    expect(hba.fix).toMatchObject({ fixable: true, repairs: ['hba'] });
    expect(hba.fix.text).toContain('"host replication repl 10.77.0.12/32 scram-sha-256"');
  });

  it("superseded failures and the primary's lines about other clients are not quoted", () => {
    const log = standbyStart + hbaStandby('19:36:50.113') + '2026-11-23 19:36:55.114 UTC [11581] FATAL:  could not connect to the primary server: connection to server at "10.77.0.11", port 5433 failed: FATAL:  password authentication failed for user "repl"\n';
    const { primary, standby } = notStreaming(log);
    primary.log.entries = parseLog(primaryStart + hbaPrimary('19:36:55.000', '10.77.0.99'));
    const probe = probeFailed('connection to server at "10.77.0.11", port 5433 failed: FATAL:  password authentication failed for user "repl"');
    const { findings } = diagnose(facts({ primary, standby, probe }), false);
    expect(findings.filter((f) => f.severity === 'error').map((f) => f.id)).toEqual(['auth-failed']);
    expect(findings.some((f) => f.evidence.some((e) => e.host === 'primary' && e.source === primaryLog))).toBe(false);
  });

  it('a cause in the log that a live check no longer shows is info while the standby waits to retry', () => {
    const { primary, standby } = notStreaming(standbyStart + hbaStandby('19:36:50.113'));
    const { healthy, findings } = diagnose(facts({ primary, standby, probe: { ok: true, output: '7711454321759576451|1|0/3000148|', clock: '' } }), false);
    expect(healthy).toBe(true);
    expect(byId(findings, 'hba-missing')[0]).toMatchObject({ severity: 'info', title: "no longer the case, the standby has not retried yet: the primary's pg_hba.conf has no replication entry for the standby" });
  });

  it("the primary's lines from before the standby's current window are the past", () => {
    // The standby was cloned again and stopped; the primary still has the ERROR from before.
    const standby = standbyFacts({ running: false, receiverStatus: undefined, inRecovery: undefined }, standbyStart + '2026-11-23 19:45:00.000 UTC [20000] LOG:  received fast shutdown request\n');
    const { primary } = notStreaming('');
    primary.oldestWalSegment = '00000001000000000000000D';
    primary.log.entries = parseLog(primaryStart + '2026-11-23 19:30:00.000 UTC [12455] repl@[unknown] ERROR:  requested WAL segment 000000010000000000000009 has already been removed\n');
    const { findings } = diagnose(facts({ primary, standby }), false);
    expect(findings.filter((f) => f.severity === 'error').map((f) => f.id)).toEqual(['standby-down']);
    expect(byId(findings, 'standby-down')[0].detail).toBe('it was shut down (received fast shutdown request)');
  });

  it('lag is a warning from the bytes the primary has not seen replayed', () => {
    const behind = primaryFacts({ walSenders: [{ ...primaryFacts().walSenders[0], replayBytes: 2 * lagWarningBytes, replayLagSeconds: 4 }] });
    const [lag] = diagnose(facts({ primary: behind }), false).findings;
    expect(lag).toMatchObject({ id: 'replication-lag', severity: 'warning', detail: '32.0 MB and 4 s behind' });
  });

  it('a paused replay is replay-paused (an error, quoting "recovery has paused"), not lag', () => {
    const behind = primaryFacts({ walSenders: [{ ...primaryFacts().walSenders[0], replayBytes: 2 * lagWarningBytes, replayLagSeconds: 4 }] });
    const paused = standbyFacts(
      { replayPaused: true, applyBytes: 2 * lagWarningBytes },
      standbyStart + '2026-11-28 23:13:47.875 UTC [434] LOG:  recovery has paused\n2026-11-28 23:13:47.875 UTC [434] HINT:  Execute pg_wal_replay_resume() to continue.\n',
    );
    const { findings, healthy } = diagnose(facts({ primary: behind, standby: paused }), false);
    expect(healthy).toBe(false);
    expect(findings.map((f) => f.id)).toEqual(['replay-paused']);
    expect(findings[0]).toMatchObject({ severity: 'error', detail: '32.0 MB received and not replayed while replay is paused', fix: { fixable: false } });
    expect(findings[0].evidence[1].lines).toEqual(['2026-11-28 23:13:47.875 UTC [434] LOG:  recovery has paused', '2026-11-28 23:13:47.875 UTC [434] HINT:  Execute pg_wal_replay_resume() to continue.']);
  });

  it('a paused replay with a hot-standby setting too low (PG 14+ pauses by itself) is hot-standby-params only, quoting the WARNING and the pause', () => {
    // PostgreSQL 15 on the lab after the primary restarted with max_connections = 150.
    const replayed =
      '2026-11-29 02:14:08.057 UTC [1330] WARNING:  hot standby is not possible because of insufficient parameter settings\n' +
      '2026-11-29 02:14:08.057 UTC [1330] DETAIL:  max_connections = 100 is a lower setting than on the primary server, where its value was 150.\n' +
      '2026-11-29 02:14:08.057 UTC [1330] CONTEXT:  WAL redo at 0/302F1E0 for XLOG/PARAMETER_CHANGE: max_connections=150 max_worker_processes=8\n' +
      '2026-11-29 02:14:08.057 UTC [1330] LOG:  recovery has paused\n' +
      '2026-11-29 02:14:08.057 UTC [1330] DETAIL:  If recovery is unpaused, the server will shut down.\n' +
      '2026-11-29 02:14:08.057 UTC [1330] HINT:  You can then restart the server after making the necessary configuration changes.\n';
    const low = standbyFacts({ replayPaused: true, applyBytes: 2048 }, standbyStart + replayed);
    const raised = primaryFacts({ settings: { ...primaryFacts().settings, max_connections: '150' } });
    const { findings } = diagnose(facts({ primary: raised, standby: low }), false);
    expect(findings.map((f) => f.id)).toEqual(['hot-standby-params']);
    expect(findings[0].detail).toBe('max_connections = 100 on the standby, 150 on the primary; replay is paused until the standby is restarted with them');
    expect(findings[0].evidence[0].lines).toEqual(['2026-11-23 19:40:00 UTC  max_connections = 100 on the standby, 150 on the primary', '2026-11-23 19:40:00 UTC  replay paused by it: pg_is_wal_replay_paused() = true, 2.0 kB received and not replayed']);
    expect(findings[0].evidence[1].lines).toHaveLength(5);
    expect(findings[0].fix).toMatchObject({ text: 'raise max_connections to 150 on the standby and restart it; raise such settings on every standby before the primary', repairs: ['standby-settings', 'start-standby'] });
  });

  it('standby queries cancelled by recovery conflicts are info, with the DETAIL and the lever it points to', () => {
    const cancelled =
      '2026-11-28 23:14:12.858 UTC [472] postgres@appdb ERROR:  canceling statement due to conflict with recovery\n' +
      '2026-11-28 23:14:12.858 UTC [472] postgres@appdb DETAIL:  User query might have needed to see row versions that must be removed.\n' +
      '2026-11-28 23:14:12.858 UTC [472] postgres@appdb STATEMENT:  select count(*) from t\n';
    const standby = standbyFacts({ settings: { ...standbyFacts().settings, hot_standby_feedback: 'off', max_standby_streaming_delay: '30000' } }, standbyStart + cancelled);
    const { findings, healthy } = diagnose(facts({ standby }), false);
    expect(healthy).toBe(true);
    const [conflict] = findings;
    expect(conflict).toMatchObject({ id: 'recovery-conflict', severity: 'info', detail: '1 cancelled since the standby started' });
    expect(conflict.fix.text).toMatch(/^set hot_standby_feedback = on on the standby/);
    expect(conflict.evidence[0].lines[0]).toMatch(/hot_standby_feedback = off$/);
    expect(conflict.evidence[0].lines[1]).toMatch(/max_standby_streaming_delay = 30000 ms$/);
    expect(conflict.evidence[1].lines).toEqual(cancelled.split('\n').slice(0, 2));
  });

  it('two WAL receivers with one application_name are a warning; synchronous_standby_names naming it says what is at stake', () => {
    const standby = primaryFacts().walSenders[0];
    const twin = { ...standby, pid: 5151, clientAddr: '10.77.0.13' };
    const backup = { ...standby, pid: 6161, state: 'backup', applicationName: 'pg_basebackup' };
    const plain = diagnose(facts({ primary: primaryFacts({ walSenders: [standby, twin, backup, { ...backup, pid: 6162 }] }) }), false);
    expect(plain.healthy).toBe(true);
    expect(plain.findings.map((f) => [f.id, f.severity, f.detail])).toEqual([['application-name-collision', 'warning', `2 WAL receivers report application_name "${slot}"`]]);
    expect(plain.findings[0].evidence[0].lines[0]).toContain(`application_name "${slot}": pid 10980 from 10.77.0.12 (streaming), pid 5151 from 10.77.0.13 (streaming)`);
    const sync = primaryFacts({ walSenders: [standby, twin], settings: { ...primaryFacts().settings, synchronous_standby_names: `FIRST 1 ("${slot}", other)` } });
    expect(diagnose(facts({ primary: sync }), false).findings[0].fix.text).toContain(`synchronous_standby_names = 'FIRST 1 ("${slot}", other)' names it`);
  });

  it('connections ended by a replication timeout since the servers started are info, with both timeouts', () => {
    const ended = '2026-11-23 19:38:00.518 UTC [1046] repl@[unknown] LOG:  terminating walsender process due to replication timeout\n';
    const primary = primaryFacts({ settings: { ...primaryFacts().settings, wal_sender_timeout: '60000' } }, primaryStart + ended);
    const standby = standbyFacts({ settings: { ...standbyFacts().settings, wal_receiver_timeout: '60000' } });
    const { findings, healthy } = diagnose(facts({ primary, standby }), false);
    expect(healthy).toBe(true);
    expect(findings.map((f) => [f.id, f.severity, f.detail])).toEqual([['walsender-timeout', 'info', "connections ended for silence since the servers started: 1 by the primary's walsender"]]);
    expect(findings[0].evidence[0].lines.map((line) => line.replace(/^.*?  /, ''))).toEqual(['wal_sender_timeout = 60000 ms on the primary', 'wal_receiver_timeout = 60000 ms on the standby']);
    expect(findings[0].evidence[1].lines).toEqual([ended.trim()]);
  });

  it('commits waiting for a listed standby that does not stream are the commit hang, with the sessions and the way out', () => {
    const waiting = [{ pid: 777, user: 'app', database: 'appdb', waitingSeconds: 42, query: "INSERT INTO t VALUES (1, 'x')" }];
    const sync = { setting: `FIRST 2 (${slot}, lab_two)`, synchronousCommit: 'on', standbys: [{ name: slot, clientAddr: '10.77.0.12', state: 'streaming', syncState: 'sync', flushLsn: '0/3000148' }], waiting };
    const settings = { ...primaryFacts().settings, synchronous_standby_names: `FIRST 2 (${slot}, lab_two)` };
    const { healthy, findings } = diagnose(facts({ primary: primaryFacts({ settings, sync }) }), false);
    expect(healthy).toBe(false);
    const hang = findings.find((f) => f.id === 'sync-commit-hang')!;
    expect(hang.detail).toBe('1 of the 2 standbys each commit waits for stream; 1 session(s) wait in their commit now');
    expect(hang.evidence.flatMap((e) => e.lines).join('\n')).toContain("pid 777 (app on appdb) waits in its commit for 42 s: INSERT INTO t VALUES (1, 'x')");
    expect(hang.evidence.flatMap((e) => e.lines).join('\n')).toContain('lab_two: not connected');
    expect(hang.fix.repairs).toEqual(['sync-release']);
    expect(hang.fix.text).toContain(`start lab_two, or set synchronous_standby_names = 'FIRST 1 (${slot}, lab_two)'`);
    // Satisfied: no finding, even with a commit in flight.
    const both = { ...sync, standbys: [...sync.standbys, { name: 'lab_two', clientAddr: '10.77.0.13', state: 'streaming', syncState: 'sync', flushLsn: '0/3000148' }] };
    expect(diagnose(facts({ primary: primaryFacts({ settings, sync: both }) }), false).findings.map((f) => f.id)).not.toContain('sync-commit-hang');
  });

  it("a slot held by someone else is slot-in-use; another idle slot may be dropped, the standby's own never", () => {
    const holder = { pid: 4242, user: 'postgres', applicationName: 'pg_receivewal', clientAddr: null, state: 'streaming', sentLsn: null, replayLsn: null, replayBytes: null, replayLagSeconds: null };
    const primary = primaryFacts({
      walSenders: [holder],
      slots: [
        { name: slot, type: 'physical', active: true, activePid: 4242, restartLsn: '0/3000000', walStatus: 'reserved', retainedBytes: 0 },
        { name: 'old_standby', type: 'physical', active: false, activePid: null, restartLsn: '0/1000000', walStatus: 'reserved', retainedBytes: 48 * 1024 * 1024 },
      ],
    });
    const { findings } = diagnose(facts({ primary, standby: standbyFacts({ receiverStatus: undefined }) }), false);
    expect(byId(findings, 'slot-in-use')[0]).toMatchObject({ detail: 'held by pg_receivewal from a local socket', fix: { fixable: false } });
    expect(byId(findings, 'slot-inactive')[0]).toMatchObject({ slot: 'old_standby', detail: 'slot old_standby retains 48.0 MB of WAL; max_slot_wal_keep_size = -1 (unlimited): pg_wal grows until the disk is full', fix: { repairs: ['drop-slot'] } });

    const idleOwn = primaryFacts({ walSenders: [], slots: [{ name: slot, type: 'physical', active: false, activePid: null, restartLsn: '0/3000000', walStatus: 'reserved', retainedBytes: 0 }] });
    expect(byId(diagnose(facts({ primary: idleOwn, standby: standbyFacts({ receiverStatus: undefined }) }), false).findings, 'slot-inactive')[0].fix.fixable).toBe(false);
  });

  it('a standby ahead of the primary on its timeline is standby-ahead while the primary is behind it, only info once the primary has written past it', () => {
    // PostgreSQL 15 on the lab, the primary put back to an older copy of itself.
    const refused =
      '2026-11-29 03:01:02.331 UTC [2301] FATAL:  could not receive data from WAL stream: ERROR:  requested starting point 0/6000000 is ahead of the WAL flush position of this server 0/30001A8\n';
    const primaryRefused = '2026-11-29 03:01:02.330 UTC [2302] repl@[unknown] ERROR:  requested starting point 0/6000000 is ahead of the WAL flush position of this server 0/30001A8\n';
    const standby = standbyFacts({ receiverStatus: undefined, replayLsn: '0/60000A0' }, standbyStart + refused);
    const idleSlot = [{ name: slot, type: 'physical', active: false, activePid: null, restartLsn: '0/3000000', walStatus: 'reserved', retainedBytes: 424 }];
    const primary = primaryFacts({ walSenders: [], slots: idleSlot, flushLsn: '0/30001A8' }, primaryStart + primaryRefused);
    const [ahead, ...others] = diagnose(facts({ primary, standby }), false).findings.filter((f) => f.severity === 'error');
    expect(others).toEqual([]);
    expect(ahead).toMatchObject({ id: 'standby-ahead', detail: 'the standby is 48.0 MB ahead of the primary (replayed 0/60000A0, primary at 0/30001A8)', fix: { repairs: ['reclone'] } });
    expect(ahead.evidence.map((e) => e.lines)).toEqual([
      ["2026-11-23 19:40:00 UTC  the standby replayed up to 0/60000A0, the primary's WAL ends at 0/30001A8: 48.0 MB the primary does not have"],
      [refused.trim()],
      [primaryRefused.trim()],
    ]);
    const caughtUp = primaryFacts({ walSenders: [], slots: idleSlot, flushLsn: '0/7000000' }, primaryStart + primaryRefused);
    expect(diagnose(facts({ primary: caughtUp, standby }), false).findings.find((f) => f.id === 'standby-ahead')).toMatchObject({ severity: 'info' });
  });

  it('a standby that cannot find its checkpoint record is checkpoint-missing, with the HINTs and whether a backup_label is there', () => {
    // PostgreSQL 15: a copy made with pg_basebackup -X none and started without standby.signal.
    const failed =
      '2026-11-29 03:10:00.100 UTC [2400] FATAL:  could not locate required checkpoint record\n' +
      '2026-11-29 03:10:00.100 UTC [2400] HINT:  If you are restoring from a backup, touch "/var/lib/postgresql/15/main/recovery.signal" and add required recovery options.\n' +
      '\tIf you are not restoring from a backup, try removing the file "/var/lib/postgresql/15/main/backup_label".\n' +
      '\tBe careful: removing "/var/lib/postgresql/15/main/backup_label" will result in a corrupt cluster if restoring from a backup.\n';
    const stopped = standbyFacts({ running: false, inRecovery: undefined, receiverStatus: undefined, backupLabel: true }, standbyStart + failed);
    const [finding] = byId(diagnose(facts({ standby: stopped }), false).findings, 'checkpoint-missing');
    expect(finding).toMatchObject({ severity: 'error', detail: 'the data directory was copied without the WAL its backup_label needs', fix: { repairs: ['reclone'] } });
    expect(finding.evidence[1].lines).toEqual(failed.trim().split('\n'));
    const emptied = standbyFacts({ running: false, inRecovery: undefined, receiverStatus: undefined }, standbyStart + '2026-11-29 03:10:00.100 UTC [2400] PANIC:  could not locate a valid checkpoint record\n');
    expect(byId(diagnose(facts({ standby: emptied }), false).findings, 'checkpoint-missing')[0].detail).toBe("WAL that the data directory's last checkpoint is in was removed from pg_wal");
  });

  it("an invalidated slot names the cap it crossed (invalidation_reason 17+, or the settings) and quotes the primary's line with its DETAIL", () => {
    // PostgreSQL 17's words (the lab's PG 15 writes "invalidating slot … because its restart_lsn … exceeds max_slot_wal_keep_size").
    const invalidating =
      `2026-11-29 03:20:00.100 UTC [3001] LOG:  invalidating obsolete replication slot "${slot}"\n` +
      "2026-11-29 03:20:00.100 UTC [3001] DETAIL:  The slot's restart_lsn 0/3000000 exceeds the limit by 2097152 bytes.\n" +
      '2026-11-29 03:20:00.100 UTC [3001] HINT:  You might need to increase "max_slot_wal_keep_size".\n';
    const lost = [{ name: slot, type: 'physical', active: false, activePid: null, restartLsn: null, walStatus: 'lost', invalidationReason: 'wal_removed', retainedBytes: null }];
    const primary = primaryFacts({ walSenders: [], slots: lost, settings: { ...primaryFacts().settings, max_slot_wal_keep_size: '1' } }, primaryStart + invalidating);
    const [invalidated] = byId(diagnose(facts({ primary, standby: standbyFacts({ receiverStatus: undefined }) }), false).findings, 'slot-invalidated');
    expect(invalidated).toMatchObject({
      severity: 'error',
      slot,
      detail: `slot ${slot} was invalidated: it retained more WAL than max_slot_wal_keep_size (1 MB) allows, so the primary released WAL the standby still needs`,
      fix: { repairs: ['reclone'] },
    });
    expect(invalidated.evidence[0].lines).toEqual([`2026-11-23 19:40:00 UTC  slot ${slot} (physical): inactive, restart_lsn none, wal_status lost, invalidation_reason wal_removed`, '2026-11-23 19:40:00 UTC  max_slot_wal_keep_size = 1 MB']);
    expect(invalidated.evidence[1].lines).toEqual(invalidating.trim().split('\n'));

    const idle = primaryFacts({ walSenders: [], slots: [{ ...lost[0], invalidationReason: 'idle_timeout' }], settings: { ...primaryFacts().settings, idle_replication_slot_timeout: '60' } });
    const [timedOut] = byId(diagnose(facts({ primary: idle, standby: standbyFacts({ receiverStatus: undefined }) }), false).findings, 'slot-invalidated');
    expect(timedOut.detail).toBe(`slot ${slot} was invalidated: it stayed inactive longer than idle_replication_slot_timeout (60 s), so the primary released WAL the standby still needs`);
    expect(timedOut.fix.text).toMatch(/; raise idle_replication_slot_timeout \(or 0 to turn it off\) if standbys may stay away that long$/);
  });

  it('a stopped standby without standby.signal would start as a primary', () => {
    const standby = standbyFacts({ running: false, receiverStatus: undefined, inRecovery: undefined, standbySignal: false, controlState: 'shut down' });
    const [finding] = byId(diagnose(facts({ standby }), false).findings, 'standby-not-in-recovery');
    expect(finding.evidence[0].lines).toEqual(['2026-11-23 19:40:00 UTC  no standby.signal: it would start as a primary (cluster state: shut down)']);
    expect(finding.fix.repairs).toEqual(['reclone']);
  });

  it('a standby without primary_conninfo cannot stream; a conninfo host that is not the primary is info', () => {
    // PostgreSQL 15 on the lab, started with standby.signal and no primary_conninfo.
    const warned =
      '2026-11-29 02:40:01.100 UTC [2210] WARNING:  specified neither primary_conninfo nor restore_command\n' +
      '2026-11-29 02:40:01.100 UTC [2210] HINT:  The database server will regularly poll the pg_wal subdirectory to check for files placed there.\n';
    const alone = standbyFacts({ receiverStatus: undefined }, standbyStart + warned);
    const missing = diagnose(facts({ standby: alone, relationship: { conninfo: undefined, params: {}, hostAddresses: [] } }), false).findings;
    const [none] = byId(missing, 'primary-conninfo-missing');
    expect(none).toMatchObject({ severity: 'error', detail: 'neither primary_conninfo nor restore_command: it has no source of WAL', fix: { repairs: ['recovery-config', 'start-standby'] } });
    expect(none.evidence[0].lines).toEqual(['2026-11-23 19:40:00 UTC  primary_conninfo is empty', '2026-11-23 19:40:00 UTC  no restore_command either: it waits for WAL files to appear in its pg_wal']);
    // The password setup stored for the connection --fix writes, found (never shown).
    expect(none.evidence[1]).toMatchObject({ source: '/var/lib/postgresql/.pgpass', lines: ['2026-11-23 19:40:00 UTC  10.77.0.11:5433:replication:repl: the password setup stored, which --fix writes primary_conninfo with'] });
    expect(none.evidence[2].lines).toEqual(warned.trim().split('\n'));
    const archiveOnly = standbyFacts({ receiverStatus: undefined, settings: { ...standbyFacts().settings, primary_conninfo: '', restore_command: 'cp /archive/%f %p' } });
    const [restoring] = byId(diagnose(facts({ standby: archiveOnly, relationship: { conninfo: undefined, params: {}, hostAddresses: [] } }), false).findings, 'primary-conninfo-missing');
    expect(restoring.detail).toBe('it replays only what reaches the WAL archive (restore_command), never streams');
    expect(restoring.evidence[0].lines[1]).toBe("2026-11-23 19:40:00 UTC  restore_command = 'cp /archive/%f %p'");
    const elsewhere = diagnose(facts({ relationship: { hostAddresses: ['10.99.0.5'] } }), false).findings;
    expect(byId(elsewhere, 'primary-conninfo-elsewhere')[0].severity).toBe('info');
  });

  it('wal_level minimal: a stopped primary is set right in its files; one that ran with it also needs the standby cloned again', () => {
    const minimal = { ...primaryFacts().settings, wal_level: 'minimal', max_wal_senders: '0' };
    const down = primaryFacts({ running: false, settings: minimal, settingsSource: 'its configuration files (postgres -C)', slots: undefined, walSenders: [] });
    expect(byId(diagnose(facts({ primary: down }), false).findings, 'wal-level-insufficient')[0].fix.repairs).toEqual(['primary-wal-level-files', 'start-primary', 'primary-settings']);
    const running = primaryFacts({ settings: minimal, walSenders: [] });
    expect(byId(diagnose(facts({ primary: running }), false).findings, 'wal-level-insufficient')[0].fix.repairs).toEqual(['primary-settings', 'reclone']);
  });

  it('a wrong password is repaired only when doctor knows the password to set', () => {
    const { primary, standby } = notStreaming(standbyStart);
    const probe = probeFailed('connection to server at "10.77.0.11", port 5433 failed: fe_sendauth: no password supplied');
    const unknown = byId(diagnose(facts({ primary, standby, probe, relationship: { storedPassword: undefined } }), false).findings, 'auth-failed')[0];
    expect(unknown.fix.fixable).toBe(false);
    expect(unknown.fix.text).toContain('PGREPL_PASSWORD');
    expect(byId(diagnose(facts({ primary, standby, probe, relationship: { storedPassword: undefined } }), true).findings, 'auth-failed')[0].fix.repairs).toEqual(['role']);
  });
});
