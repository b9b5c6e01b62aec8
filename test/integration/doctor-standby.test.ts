import { beforeAll, describe, expect, it } from 'vitest';
import { inHost, psqlIn } from './lab.js';
import { current, diagnoseUntil, errorIds, expectStreamingWithNewRow, fix, logLine, quotedLogLines, setUpWithWizard, slot, standbyData, terminateCopyOnce } from './doctor-lab.js';

/**
 * Doctor against a pair set up by the wizard, broken on the standby's side: stopped,
 * misconfigured, promoted, forked, re-initialised, left behind. Each breakage is diagnosed
 * from the real logs and repaired until the standby streams again.
 */

const startStandby = () => inHost('standby', ['sh', '-c', 'pg_ctlcluster 15 main start >/dev/null 2>&1; echo $?']).trim();
const restartStandby = () => inHost('standby', ['sh', '-c', 'pg_ctlcluster 15 main restart >/dev/null 2>&1; echo $?']).trim();
const standbySystemId = () => psqlIn('standby', 'SELECT system_identifier FROM pg_control_system()');

beforeAll(setUpWithWizard);

describe('doctor on a pair broken on the standby', () => {
  it('standby-down: stopped by an operator; the reason is quoted and --fix starts it', async () => {
    inHost('standby', ['pg_ctlcluster', '15', 'main', 'stop']);
    const finding = current(await diagnoseUntil(['standby-down']), 'standby-down');
    expect(finding.detail).toBe('it was shut down (received fast shutdown request)');
    expect(quotedLogLines(finding, 'standby')).toContainEqual(expect.stringMatching(logLine('LOG:  received fast shutdown request')));

    expect(errorIds(await fix())).toEqual([]);
    await expectStreamingWithNewRow();
  });

  it('recovery-conf-unsupported: a hand-written recovery.conf stops PostgreSQL 15; --fix converts it', async () => {
    inHost('standby', ['pg_ctlcluster', '15', 'main', 'stop']);
    inHost('standby', [
      'sh',
      '-c',
      `cd ${standbyData} && grep '^primary_' postgresql.auto.conf > recovery.conf && echo "standby_mode = 'on'" >> recovery.conf && sed -i '/^primary_/d' postgresql.auto.conf && rm standby.signal && chown postgres: recovery.conf`,
    ]);
    expect(startStandby()).not.toBe('0');
    const report = await diagnoseUntil(['recovery-conf-unsupported', 'standby-down']);
    const finding = current(report, 'recovery-conf-unsupported');
    expect(quotedLogLines(finding, 'standby')).toContainEqual(expect.stringMatching(logLine('FATAL:  using recovery command file "recovery.conf" is not supported')));
    expect(current(report, 'standby-down').detail).toBe('it stopped on: using recovery command file "recovery.conf" is not supported');

    expect(errorIds(await fix())).toEqual([]);
    expect(inHost('standby', ['sh', '-c', `ls ${standbyData} | grep -E '^(recovery|standby)' | sed 's/-[0-9TZ]*$//'`]).trim().split('\n')).toEqual(['recovery.conf.pgrepl-backup', 'standby.signal']);
    await expectStreamingWithNewRow();
  });

  it("hot-standby-params: the standby's max_connections is below the primary's; --fix raises it", async () => {
    psqlIn('standby', 'ALTER SYSTEM SET max_connections = 50');
    expect(restartStandby()).not.toBe('0');
    const finding = current(await diagnoseUntil(['hot-standby-params']), 'hot-standby-params');
    expect(finding.detail).toBe('max_connections = 50 on the standby, 100 on the primary');
    expect(quotedLogLines(finding, 'standby')).toEqual(
      expect.arrayContaining([
        expect.stringMatching(logLine('FATAL:  recovery aborted because of insufficient parameter settings')),
        expect.stringMatching(logLine('DETAIL:  max_connections = 50 is a lower setting than on the primary server, where its value was 100\\.')),
      ]),
    );

    expect(errorIds(await fix())).toEqual([]);
    expect(psqlIn('standby', 'SHOW max_connections')).toBe('100');
    await expectStreamingWithNewRow();
  });

  it('standby-not-in-recovery: promoted; --fix clones it again', async () => {
    psqlIn('standby', 'SELECT pg_promote()');
    const finding = current(await diagnoseUntil(['standby-not-in-recovery']), 'standby-not-in-recovery');
    expect(finding.detail).toBe('15/main runs as a primary on timeline 2 (the primary is on 1)');
    expect(quotedLogLines(finding, 'standby')).toContainEqual(expect.stringMatching(logLine('LOG:  selected new timeline ID: 2')));

    const after = await fix();
    expect(errorIds(after)).toEqual([]);
    expect(after.repairs.steps.find((s) => s.id === 'clone-standby')).toMatchObject({ status: 'done' });
    expect(psqlIn('standby', 'SELECT pg_is_in_recovery()')).toBe('t');
    await expectStreamingWithNewRow();
  });

  it('timeline-diverged: promoted, written to, then made a standby again; --fix clones it again', async () => {
    psqlIn('standby', 'SELECT pg_promote()');
    psqlIn('standby', 'CREATE TABLE written_after_promotion (id int)');
    inHost('standby', ['sh', '-c', `touch ${standbyData}/standby.signal && chown postgres: ${standbyData}/standby.signal`]);
    expect(restartStandby()).toBe('0');
    const finding = current(await diagnoseUntil(['timeline-diverged']), 'timeline-diverged');
    expect(quotedLogLines(finding, 'standby')).toContainEqual(expect.stringMatching(logLine('FATAL:  highest timeline 1 of the primary is behind recovery timeline 2')));

    expect(errorIds(await fix())).toEqual([]);
    expect(psqlIn('standby', "SELECT count(*) FROM pg_tables WHERE tablename = 'written_after_promotion'")).toBe('0');
    await expectStreamingWithNewRow();
  });

  it("sysid-mismatch: the standby was initialised afresh with its old settings; --fix clones it again (a first clone whose WAL sender the primary ends says so, quoting the primary's reason)", async () => {
    const cloned = standbySystemId();
    inHost('standby', [
      'sh',
      '-c',
      `set -e; pg_ctlcluster 15 main stop; cp ${standbyData}/postgresql.auto.conf /tmp/auto.conf; rm -rf ${standbyData};
       runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D ${standbyData} >/dev/null 2>&1;
       cp /tmp/auto.conf ${standbyData}/postgresql.auto.conf; touch ${standbyData}/standby.signal; chown postgres: ${standbyData}/*;
       pg_ctlcluster 15 main start`,
    ]);
    expect(standbySystemId()).not.toBe(cloned);
    const finding = current(await diagnoseUntil(['sysid-mismatch']), 'sysid-mismatch');
    expect(finding.evidence[0].lines[0]).toMatch(new RegExp(`system identifier: primary ${cloned}, standby \\d+$`));
    expect(quotedLogLines(finding, 'standby')).toEqual(
      expect.arrayContaining([
        expect.stringMatching(logLine('FATAL:  database system identifier differs between the primary and standby')),
        expect.stringMatching(logLine(`DETAIL:  The primary's identifier is ${cloned}, the standby's identifier is \\d+\\.`)),
      ]),
    );

    const terminated = terminateCopyOnce();
    const cutShort = await fix();
    expect(await terminated).toBe(0);
    const clone = cutShort.repairs.steps.find((s) => s.id === 'clone-standby');
    expect(clone?.status).toBe('failed');
    if (!clone?.error) throw new Error(`the failed clone carries no error: ${JSON.stringify(clone)}`);
    // Which of pg_basebackup's texts depends on where the copy was when its WAL sender ended (seen: all three).
    expect(clone.error.message).toMatch(/\npg_basebackup: error: (could not read COPY data: server closed the connection unexpectedly|COPY stream ended before last file was finished|backup failed: FATAL:  terminating connection due to administrator command)\n/);
    expect(clone.error.message).toContain("the primary's side of the copy ended before the copy was complete: its WAL sender was terminated (pg_terminate_backend");
    expect(clone.error.message.split("the primary's log during the copy:\n")[1]?.split('\n')).toEqual(
      expect.arrayContaining([expect.stringMatching(logLine('FATAL:  terminating connection due to administrator command')), expect.stringMatching(logLine('STATEMENT:  BASE_BACKUP'))]),
    );
    expect(clone.error.fix).toContain('run the same command again: the clone starts afresh');
    expect(standbySystemId()).not.toBe(cloned);

    expect(errorIds(await fix())).toEqual([]);
    expect(standbySystemId()).toBe(cloned);
    await expectStreamingWithNewRow();
    // Two repairs, each a clone: minutes on a loaded machine.
  }, 300_000);

  it('slot-invalidated and wal-removed: max_slot_wal_keep_size let the primary drop WAL the stopped standby needs; --fix recreates the slot and clones again', async () => {
    psqlIn('primary', "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
    psqlIn('primary', 'SELECT pg_reload_conf()');
    inHost('standby', ['pg_ctlcluster', '15', 'main', 'stop']);
    for (const n of [1, 2, 3, 4]) psqlIn('primary', `INSERT INTO t VALUES (${800 + n}, 'while the standby is down'); SELECT pg_switch_wal()`, 'appdb');
    psqlIn('primary', 'CHECKPOINT');
    expect(startStandby()).toBe('0');
    const report = await diagnoseUntil(['wal-removed', 'slot-invalidated'], 'primary');
    const invalidated = current(report, 'slot-invalidated');
    expect(invalidated.slot).toBe(slot);
    expect(invalidated.detail).toBe(`slot ${slot} was invalidated: it retained more WAL than max_slot_wal_keep_size (1 MB) allows, so the primary released WAL the standby still needs`);
    expect(invalidated.evidence[0].lines).toEqual([expect.stringMatching(new RegExp(`slot ${slot} \\(physical\\): .*, restart_lsn none, wal_status lost$`)), expect.stringMatching(/ max_slot_wal_keep_size = 1 MB$/)]);
    expect(quotedLogLines(invalidated, 'primary')).toContainEqual(expect.stringMatching(logLine(`LOG:  invalidating slot "${slot}" because its restart_lsn \\S+ exceeds max_slot_wal_keep_size`)));
    const removed = current(report, 'wal-removed');
    expect(quotedLogLines(removed, 'standby')).toContainEqual(expect.stringMatching(logLine('FATAL:  could not receive data from WAL stream: ERROR:  requested WAL segment [0-9A-F]{24} has already been removed')));

    psqlIn('primary', 'ALTER SYSTEM RESET max_slot_wal_keep_size');
    psqlIn('primary', 'SELECT pg_reload_conf()');
    expect(errorIds(await fix())).toEqual([]);
    expect(psqlIn('primary', `SELECT wal_status FROM pg_replication_slots WHERE slot_name = '${slot}'`)).toBe('reserved');
    await expectStreamingWithNewRow();
  });
});
