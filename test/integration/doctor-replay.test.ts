import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { current, diagnoseUntil, doctor, doctorUntil, errorIds, expectStreamingWithNewRow, fix, logLine, quotedLogLines, setUpWithWizard, slot, standbyData, startReceiveWal, stopProcess } from './doctor-lab.js';
import { inHost, lab, psqlIn } from './lab.js';

/**
 * Doctor on a streaming pair whose standby replays badly, broken for real on the lab: replay
 * paused with pg_wal_replay_pause() (an error, quoting "recovery has paused"), and a standby
 * query cancelled by a conflict with recovery (info, quoting the ERROR and its DETAIL), and a
 * second WAL receiver reporting the standby's application_name (a warning), and a walreceiver
 * that stops answering, ended by the primary after wal_sender_timeout (info), and the primary
 * restarted with a higher max_connections, which pauses the standby's replay (hot-standby-params);
 * then a standby that cannot get WAL: restarted without primary_conninfo, ahead of a primary put
 * back to an older copy of itself, then replaced by a copy without its WAL (backup_label) and
 * stopped on a checkpoint record its pg_wal no longer has; one --fix clones it again.
 */

const labScript = join(import.meta.dirname, '..', 'lab', 'lab.sh');

/** psql on the standby without waiting for it: a query that holds its lock while the test goes on. */
const standbyQuery = (sql: string[]) =>
  promisify(execFile)('bash', [labScript, 'exec', 'standby', 'runuser', '-u', 'postgres', '--', 'psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-p', '5432', '-d', 'appdb', ...sql.flatMap((s) => ['-c', s])]).then(
    () => 'finished',
    (error: { stderr: string }) => error.stderr,
  );

async function until(probe: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('doctor: replay on the standby', () => {
  beforeAll(setUpWithWizard);

  it('replay-paused: pg_wal_replay_pause() on the standby is an error quoting "recovery has paused", gone once resumed', async () => {
    psqlIn('standby', 'SELECT pg_wal_replay_pause()');
    psqlIn('primary', `INSERT INTO t SELECT g, 'while paused' FROM generate_series(700000, 710000) g`, 'appdb');
    const report = await diagnoseUntil(['replay-paused']);
    expect(report.code).toBe(1);
    const paused = current(report, 'replay-paused');
    expect(paused.evidence[0].lines[0]).toMatch(/pg_is_wal_replay_paused\(\) = true; walreceiver streaming; \d+(\.\d)? [kMG]?B received and not replayed/);
    expect(quotedLogLines(paused, 'standby')).toEqual([expect.stringMatching(logLine('LOG:  recovery has paused')), expect.stringMatching(logLine('HINT:  Execute pg_wal_replay_resume\\(\\) to continue\\.'))]);
    expect(paused.fix.text).toContain('SELECT pg_wal_replay_resume() on the standby');
    // The lag it causes is this cause, not a second finding.
    expect(report.findings.map((f) => f.id)).not.toContain('replication-lag');

    psqlIn('standby', 'SELECT pg_wal_replay_resume()');
    const resumed = await doctorUntil((r) => r.healthy);
    expect(resumed.code).toBe(0);
    expect(resumed.findings.map((f) => f.id)).not.toContain('replay-paused');
    await expectStreamingWithNewRow();
  });

  it('recovery-conflict: a standby query cancelled by a DROP TABLE on the primary is info with its DETAIL and the lever', async () => {
    psqlIn('standby', "ALTER SYSTEM SET max_standby_streaming_delay = '1s'");
    psqlIn('standby', 'SELECT pg_reload_conf()');
    psqlIn('primary', 'CREATE TABLE conflict_t (i int); INSERT INTO conflict_t VALUES (1)', 'appdb');
    await until(() => psqlIn('standby', "SELECT count(*) FROM pg_class WHERE relname = 'conflict_t'", 'appdb') === '1', 'conflict_t on the standby');
    await until(() => psqlIn('standby', 'SHOW max_standby_streaming_delay') === '1s', 'the reload on the standby');

    const query = standbyQuery(['BEGIN', 'SELECT count(*) FROM conflict_t', 'SELECT pg_sleep(120)', 'COMMIT']);
    await until(() => psqlIn('standby', "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'conflict_t'", 'appdb') === '1', 'the standby query holding its lock');
    psqlIn('primary', 'DROP TABLE conflict_t', 'appdb');
    expect(await query).toContain('canceling statement due to conflict with recovery');

    const report = await doctor();
    expect(report.code).toBe(0);
    expect(report.healthy).toBe(true);
    const conflict = report.findings.find((f) => f.id === 'recovery-conflict')!;
    expect(conflict.severity).toBe('info');
    // One query, cancelled once. Under load PostgreSQL may log a second conflict for it: the startup
    // process signals the backend every 5 ms until its transaction is gone, and a signal that lands
    // while the ERROR is being reported ends the connection at the next command read ("terminating
    // connection due to conflict with recovery"). Both are in the log, so both are counted.
    const [, count] = /^(\d+) cancelled since the standby started$/.exec(conflict.detail ?? '') ?? [];
    expect(['1', '2'], conflict.detail).toContain(count);
    expect(conflict.evidence[0].lines).toEqual([expect.stringMatching(/hot_standby_feedback = off$/), expect.stringMatching(/max_standby_streaming_delay = 1000 ms$/)]);
    const quoted = quotedLogLines(conflict, 'standby');
    expect(quoted.slice(0, 2)).toEqual([
      expect.stringMatching(logLine('ERROR:  canceling statement due to conflict with recovery')),
      expect.stringMatching(logLine('DETAIL:  User was holding a relation lock for too long\\.')),
    ]);
    if (count === '2') expect(quoted[2]).toMatch(logLine('(FATAL:  terminating connection|ERROR:  canceling statement) due to conflict with recovery'));
    else expect(quoted).toHaveLength(2);
    expect(conflict.fix.text).toMatch(/^raise max_standby_streaming_delay on the standby/);

    psqlIn('standby', 'ALTER SYSTEM RESET max_standby_streaming_delay');
    psqlIn('standby', 'SELECT pg_reload_conf()');
  });

  it("application-name-collision: a second WAL receiver reporting the standby's application_name is a warning naming both", async () => {
    const receiver = await startReceiveWal('/tmp/receivewal-same-name', undefined, slot);
    const report = await doctorUntil((r) => r.findings.some((f) => f.id === 'application-name-collision'));
    expect(report.code).toBe(0);
    const collision = report.findings.find((f) => f.id === 'application-name-collision')!;
    expect(collision).toMatchObject({ severity: 'warning', detail: `2 WAL receivers report application_name "${slot}"` });
    const [line] = collision.evidence[0].lines;
    expect(line).toContain(`from ${lab.standbyIp} (streaming)`);
    expect(line).toContain('from a local socket (streaming)');
    expect(collision.fix.text).toContain('give each standby its own application_name in primary_conninfo');

    stopProcess(receiver);
    const alone = await doctorUntil((r) => !r.findings.some((f) => f.id === 'application-name-collision'));
    expect(alone.healthy).toBe(true);
  });

  it('walsender-timeout: a walreceiver that stops answering is ended by the primary after wal_sender_timeout: info quoting it, with both timeouts', async () => {
    psqlIn('primary', "ALTER SYSTEM SET wal_sender_timeout = '2s'");
    psqlIn('primary', 'SELECT pg_reload_conf()');
    await until(() => psqlIn('primary', 'SHOW wal_sender_timeout') === '2s', 'the reload on the primary');
    const walreceiver = psqlIn('standby', 'SELECT pid FROM pg_stat_wal_receiver');
    const senders = () => psqlIn('primary', `SELECT count(*) FROM pg_stat_replication WHERE client_addr = '${lab.standbyIp}'`);
    // A stopped walreceiver sends no replies: the primary's walsender gives up on it.
    inHost('standby', ['kill', '-STOP', walreceiver]);
    try {
      await until(() => senders() === '0', "the primary's walsender for the standby to end");
    } finally {
      // Back to the default before the walreceiver wakes: a loaded lab may not answer within 2 s.
      psqlIn('primary', 'ALTER SYSTEM RESET wal_sender_timeout');
      psqlIn('primary', 'SELECT pg_reload_conf()');
      inHost('standby', ['kill', '-CONT', walreceiver]);
    }
    const report = await doctorUntil((r) => r.healthy && r.findings.some((f) => f.id === 'walsender-timeout'));
    expect(report.code).toBe(0);
    const timeout = report.findings.find((f) => f.id === 'walsender-timeout')!;
    // A loaded lab can miss the 2 s a second time right after the walreceiver wakes: one or more.
    expect(timeout.severity).toBe('info');
    expect(timeout.detail).toMatch(/^connections ended for silence since the servers started: \d+ by the primary's walsender$/);
    expect(timeout.evidence[0].lines).toEqual([expect.stringMatching(/wal_sender_timeout = \d+ ms on the primary$/), expect.stringMatching(/wal_receiver_timeout = 60000 ms on the standby$/)]);
    const quoted = quotedLogLines(timeout, 'primary');
    expect(quoted.length).toBeGreaterThan(0);
    for (const line of quoted) expect(line).toMatch(logLine('LOG:  terminating walsender process due to replication timeout'));
    expect(timeout.fix.text).toContain('check the network between the hosts');
  });

  it("hot-standby-params: the primary restarted with a higher max_connections pauses the standby's replay (PG 14+): an error quoting the WARNING, not replay-paused; --fix raises it on the standby", async () => {
    psqlIn('primary', 'ALTER SYSTEM SET max_connections = 150');
    inHost('primary', ['pg_ctlcluster', '15', 'prod', 'restart']);
    const report = await diagnoseUntil(['hot-standby-params']);
    const low = current(report, 'hot-standby-params');
    expect(low.detail).toBe('max_connections = 100 on the standby, 150 on the primary; replay is paused until the standby is restarted with them');
    expect(low.evidence[0].lines[1]).toMatch(/replay paused by it: pg_is_wal_replay_paused\(\) = true, \d+(\.\d)? [kMG]?B received and not replayed$/);
    expect(quotedLogLines(low, 'standby')).toEqual([
      expect.stringMatching(logLine('WARNING:  hot standby is not possible because of insufficient parameter settings')),
      expect.stringMatching(logLine('DETAIL:  max_connections = 100 is a lower setting than on the primary server, where its value was 150\\.')),
      expect.stringMatching(logLine('LOG:  recovery has paused')),
      expect.stringMatching(logLine('DETAIL:  If recovery is unpaused, the server will shut down\\.')),
      expect.stringMatching(logLine('HINT:  You can then restart the server after making the necessary configuration changes\\.')),
    ]);
    expect(low.fix.text).toBe('raise max_connections to 150 on the standby and restart it; raise such settings on every standby before the primary');
    expect(report.findings.map((f) => f.id)).not.toContain('replay-paused');

    expect(errorIds(await fix())).toEqual([]);
    expect(psqlIn('standby', 'SHOW max_connections')).toBe('150');
    await expectStreamingWithNewRow();
  });

  it('primary-conninfo-missing: a standby restarted without primary_conninfo (and no restore_command) waits for WAL forever: an error quoting its WARNING; --fix writes it back with the password setup stored', async () => {
    psqlIn('standby', 'ALTER SYSTEM RESET primary_conninfo');
    inHost('standby', ['pg_ctlcluster', '15', 'main', 'restart']);
    const report = await diagnoseUntil(['primary-conninfo-missing']);
    const missing = current(report, 'primary-conninfo-missing');
    expect(missing.detail).toBe('neither primary_conninfo nor restore_command: it has no source of WAL');
    // The examination finds the password setup stored for the connection --fix writes (setup's role, the primary as given).
    expect(missing.evidence.find((e) => e.source === '/var/lib/postgresql/.pgpass')?.lines).toEqual([
      expect.stringMatching(new RegExp(`${lab.primaryIp.replace(/\./g, '\\.')}:5433:replication:repl: the password setup stored, which --fix writes primary_conninfo with$`)),
    ]);
    expect(quotedLogLines(missing, 'standby')).toEqual([
      expect.stringMatching(logLine('WARNING:  specified neither primary_conninfo nor restore_command')),
      expect.stringMatching(logLine('HINT:  The database server will regularly poll the pg_wal subdirectory to check for files placed there\\.')),
    ]);

    // Nothing on the standby names the role now: --fix uses setup's (repl), never the OS user's role, and
    // the password setup stored for it in the passfile (no PGREPL_PASSWORD).
    expect(errorIds(await fix())).toEqual([]);
    expect(psqlIn('standby', 'SHOW primary_conninfo')).toContain(`application_name=${slot}`);
    await expectStreamingWithNewRow();
  });

  it('standby-ahead: the primary put back to an older copy of itself is behind its standby: an error quoting "requested starting point … is ahead of the WAL flush position", repaired by a re-clone (run in the next case)', async () => {
    const primaryData = '/var/lib/postgresql/15/prod';
    inHost('primary', ['sh', '-c', `set -e; pg_ctlcluster 15 prod stop; rm -rf /tmp/prod-copy; cp -a ${primaryData} /tmp/prod-copy; pg_ctlcluster 15 prod start`]);
    // WAL the standby replays and the copy will not have.
    for (const n of [1, 2, 3]) psqlIn('primary', `INSERT INTO t VALUES (${900 + n}, 'lost by the restore'); SELECT pg_switch_wal()`, 'appdb');
    await until(() => psqlIn('standby', 'SELECT count(*) FROM t WHERE id BETWEEN 901 AND 903', 'appdb') === '3', 'the rows on the standby');
    inHost('primary', ['sh', '-c', `set -e; pg_ctlcluster 15 prod stop; rm -rf ${primaryData}; mv /tmp/prod-copy ${primaryData}; pg_ctlcluster 15 prod start`]);

    const report = await diagnoseUntil(['standby-ahead']);
    const ahead = current(report, 'standby-ahead');
    expect(ahead.detail).toMatch(/^the standby is \d+(\.\d)? [kMG]?B ahead of the primary \(replayed [0-9A-F]+\/[0-9A-F]+, primary at [0-9A-F]+\/[0-9A-F]+\)$/);
    const lsn = '[0-9A-F]+/[0-9A-F]+';
    expect(quotedLogLines(ahead, 'standby')).toContainEqual(
      expect.stringMatching(logLine(`FATAL:  could not receive data from WAL stream: ERROR:  requested starting point ${lsn} is ahead of the WAL flush position of this server ${lsn}`)),
    );
    expect(quotedLogLines(ahead, 'primary')).toContainEqual(expect.stringMatching(logLine(`ERROR:  requested starting point ${lsn} is ahead of the WAL flush position of this server ${lsn}`)));
    expect(report.findings.map((f) => f.id)).not.toContain('timeline-diverged');
    expect(ahead.fix).toMatchObject({ fixable: true, action: 're-clones the standby (old data directory kept, renamed)' });
  });

  it('checkpoint-missing: a copy without its WAL stops on "could not locate required checkpoint record" with backup_label\'s HINTs; with backup_label removed and pg_wal emptied, on "could not locate a valid checkpoint record": errors quoting each; --fix clones again, with the password setup stored', async () => {
    // Over the standby left ahead by the case before: a copy made without its WAL (pg_basebackup -X none,
    // no -R: no primary_conninfo either) put in place of its data directory.
    inHost('standby', [
      'sh',
      '-c',
      `pg_ctlcluster 15 main stop; rm -rf ${standbyData}.copy && runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_basebackup -h ${lab.primaryIp} -p 5433 -U repl -D ${standbyData}.copy -X none -c fast 2>/dev/null && rm -rf ${standbyData} && mv ${standbyData}.copy ${standbyData}; pg_ctlcluster 15 main start >/dev/null 2>&1; true`,
    ]);
    const copied = current(await diagnoseUntil(['checkpoint-missing', 'standby-down']), 'checkpoint-missing');
    expect(copied.detail).toBe('the data directory was copied without the WAL its backup_label needs');
    expect(copied.evidence[0].lines[0]).toMatch(/backup_label present: a copy whose backup_label names a checkpoint no WAL in pg_wal holds$/);
    // PostgreSQL 15's words; the unit tests hold the other majors' (17+ add " at %X/%X", "or standby.signal").
    expect(quotedLogLines(copied, 'standby')).toEqual([
      expect.stringMatching(logLine('FATAL:  could not locate required checkpoint record$')),
      expect.stringMatching(logLine(`HINT:  If you are restoring from a backup, touch "${standbyData}/recovery.signal" and add required recovery options\\.$`)),
      `\tIf you are not restoring from a backup, try removing the file "${standbyData}/backup_label".`,
      `\tBe careful: removing "${standbyData}/backup_label" will result in a corrupt cluster if restoring from a backup.`,
    ]);

    // What that HINT warns about: backup_label removed (and nothing in pg_wal).
    inHost('standby', ['sh', '-c', `pg_ctlcluster 15 main stop; rm -f ${standbyData}/backup_label ${standbyData}/pg_wal/0000*; pg_ctlcluster 15 main start >/dev/null 2>&1; true`]);
    const report = await diagnoseUntil(['checkpoint-missing', 'standby-down']);
    const missing = current(report, 'checkpoint-missing');
    expect(missing.detail).toBe("WAL that the data directory's last checkpoint is in was removed from pg_wal");
    expect(missing.evidence[0].lines[0]).toMatch(/no backup_label: the checkpoint pg_control names is not in pg_wal$/);
    expect(quotedLogLines(missing, 'standby')).toEqual([expect.stringMatching(logLine('PANIC:  could not locate a valid checkpoint record$'))]);
    expect(current(report, 'standby-down').detail).toBe('it stopped on: could not locate a valid checkpoint record');

    // The data directory names no primary now: the repairs read the password setup stored in the passfile.
    const after = await fix();
    expect(errorIds(after)).toEqual([]);
    expect(after.repairs.steps.find((s) => s.id === 'clone-standby')).toMatchObject({ status: 'done' });
    expect(psqlIn('standby', 'SELECT pg_is_in_recovery()')).toBe('t');
    await expectStreamingWithNewRow();
  });
});
