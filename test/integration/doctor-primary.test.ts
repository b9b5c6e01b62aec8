import { beforeAll, describe, expect, it } from 'vitest';
import { inHost, lab, labFlags, psqlIn, runCli } from './lab.js';
import {
  current,
  diagnoseUntil,
  doctor,
  errorIds,
  expectStreamingWithNewRow,
  fix,
  logLine,
  primaryHba,
  quotedLogLines,
  reconnectStandby,
  resolvedUntil,
  setUpWithWizard,
  slot,
  standbyLog,
  startReceiveWal,
  stopProcess,
  until,
  waitForSlotHolder,
} from './doctor-lab.js';

/**
 * Doctor against a pair set up by the wizard, broken on the primary's side the ways
 * operators break it, one after another: diagnose from the real logs, repair, prove the
 * standby streams again, break the next thing.
 */

const ip = lab.standbyIp.replace(/\./g, '\\.');

beforeAll(setUpWithWizard);

describe('doctor on a healthy pair', () => {
  it('reports no errors and exits 0; asking to fix without a way to confirm is a usage error', async () => {
    const report = await doctor();
    expect(report.code).toBe(0);
    expect(report.healthy).toBe(true);
    expect(errorIds(report)).toEqual([]);

    const unconfirmed = await runCli(['doctor', '--fix', ...labFlags()]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('pass --yes');
    const stray = await runCli(['doctor', '--drop-slot', 'x', ...labFlags()]);
    expect(stray.code).toBe(2);
  });

  it('an inactive slot is a warning, a paused replay the error replay-paused that --fix leaves to whoever paused it; --fix drops the slot only when it is named', async () => {
    psqlIn('primary', "SELECT pg_create_physical_replication_slot('old_standby', true)");
    psqlIn('standby', 'SELECT pg_wal_replay_pause()');
    // Two filled segments: the old slot keeps them, and the paused standby is that far behind.
    for (const n of [1, 2]) psqlIn('primary', `INSERT INTO t VALUES (${900 + n}, 'segment ${n}'); SELECT pg_switch_wal()`, 'appdb');
    const report = await doctor();
    expect(report.code).toBe(1);
    expect(errorIds(report)).toEqual(['replay-paused']);
    const inactive = current(report, 'slot-inactive');
    expect(inactive).toMatchObject({ severity: 'warning', host: 'primary', slot: 'old_standby' });
    expect(inactive.detail).toMatch(/^slot old_standby retains \d+\.\d MB of WAL; max_slot_wal_keep_size = -1 \(unlimited\)/);
    // The lag a pause causes is that cause, not a second finding.
    expect(report.findings.map((f) => f.id)).not.toContain('replication-lag');
    expect(current(report, 'replay-paused').fix.text).toContain('pg_wal_replay_resume()');

    // Someone paused replay on purpose: --fix does not resume it.
    const fixed = await fix();
    expect(errorIds(fixed)).toEqual(['replay-paused']);
    expect(psqlIn('standby', 'SELECT pg_is_wal_replay_paused()')).toBe('t');
    expect(psqlIn('primary', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'old_standby'")).toBe('1');
    psqlIn('standby', 'SELECT pg_wal_replay_resume()');
    const dropped = await fix(['--drop-slot', 'old_standby']);
    expect(dropped.code).toBe(0);
    expect(psqlIn('primary', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'old_standby'")).toBe('0');
    expect(dropped.findings.map((f) => f.id)).not.toContain('slot-inactive');
    await expectStreamingWithNewRow();
  });
});

describe('doctor on a pair broken on the primary', () => {
  it('hba-missing: quotes both logs, adds the pg_hba line, and the old lines are no longer errors', async () => {
    inHost('primary', ['sed', '-i', '/pgrepl-wizard/d', primaryHba]);
    psqlIn('primary', 'SELECT pg_reload_conf()');
    reconnectStandby();
    const report = await diagnoseUntil(['hba-missing']);
    expect(report.code).toBe(1);
    const finding = current(report, 'hba-missing');
    expect(finding.host).toBe('primary');
    const message = `no pg_hba\\.conf entry for replication connection from host "${ip}", user "repl"`;
    expect(quotedLogLines(finding, 'standby')).toContainEqual(expect.stringMatching(logLine(`FATAL:  could not connect to the primary server: .*${message}`)));
    expect(quotedLogLines(finding, 'primary')).toContainEqual(expect.stringMatching(logLine(`repl@\\[unknown\\] FATAL:  ${message}`)));
    expect(finding.fix.fixable).toBe(true);

    const after = await fix();
    expect(after.code).toBe(0);
    expect(after.healthy).toBe(true);
    expect(after.findings.find((f) => f.id === 'hba-missing')).toMatchObject({ severity: 'info', resolved: true });
    await expectStreamingWithNewRow();
  });

  it('auth-failed: the role password changed; --fix sets it back to the one in the standby passfile', async () => {
    psqlIn('primary', "ALTER ROLE repl PASSWORD 'changed behind the standby''s back'");
    reconnectStandby();
    const finding = current(await diagnoseUntil(['auth-failed']), 'auth-failed');
    expect(quotedLogLines(finding, 'standby')).toContainEqual(expect.stringMatching(logLine('FATAL:  could not connect to the primary server: .*password authentication failed for user "repl"')));
    expect(quotedLogLines(finding, 'primary')).toContainEqual(expect.stringMatching(logLine('DETAIL:  Connection matched pg_hba\\.conf line \\d+')));

    const after = await fix();
    expect(errorIds(after)).toEqual([]);
    await expectStreamingWithNewRow();
  });

  it('not-replication-role: REPLICATION revoked; --fix grants it again', async () => {
    psqlIn('primary', 'ALTER ROLE repl NOREPLICATION');
    reconnectStandby();
    const finding = current(await diagnoseUntil(['not-replication-role']), 'not-replication-role');
    expect(finding.evidence[0].lines[0]).toMatch(/UTC {2}role repl has no REPLICATION$/);
    expect(quotedLogLines(finding, 'standby')).toContainEqual(expect.stringMatching(logLine('must be superuser or replication role to start walsender')));

    expect(errorIds(await fix())).toEqual([]);
    expect(psqlIn('primary', "SELECT rolreplication FROM pg_roles WHERE rolname = 'repl'")).toBe('t');
    await expectStreamingWithNewRow();
  });

  it('slot-missing: the slot was dropped; --fix creates it', async () => {
    psqlIn(
      'primary',
      `DO $$ BEGIN LOOP BEGIN
         PERFORM pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '${slot}' AND active;
         PERFORM pg_drop_replication_slot('${slot}'); EXIT;
       EXCEPTION WHEN object_in_use THEN PERFORM pg_sleep(0.05); END; END LOOP; END $$`,
    );
    const finding = current(await diagnoseUntil(['slot-missing']), 'slot-missing');
    expect(finding.slot).toBe(slot);
    expect(quotedLogLines(finding, 'standby')).toContainEqual(expect.stringMatching(logLine(`FATAL:  could not start WAL streaming: ERROR:  replication slot "${slot}" does not exist`)));

    expect(errorIds(await fix())).toEqual([]);
    await expectStreamingWithNewRow();
  });

  it('primary-unreachable: listen_addresses is localhost; --fix needs --restart-primary to restart the primary', async () => {
    psqlIn('primary', "ALTER SYSTEM SET listen_addresses = 'localhost'");
    inHost('primary', ['pg_ctlcluster', '15', 'prod', 'restart']);
    const finding = current(await diagnoseUntil(['primary-unreachable']), 'primary-unreachable');
    expect(finding.detail).toBe(`the primary listens on 'localhost', not on ${lab.primaryIp}`);
    expect(quotedLogLines(finding, 'standby')).toContainEqual(expect.stringMatching(logLine('FATAL:  could not connect to the primary server: .*Connection refused')));

    const refused = await fix();
    expect(refused.code).toBe(1);
    expect(refused.repairs.steps.find((s) => s.id === 'primary-settings')).toMatchObject({ status: 'failed' });
    expect(refused.repairs.steps.find((s) => s.id === 'primary-settings')!.detail).toContain('only take effect after a restart of the primary');
    expect(errorIds(refused)).toContain('primary-unreachable');

    expect(errorIds(await fix(['--restart-primary']))).toEqual([]);
    await expectStreamingWithNewRow();
  });

  it("wal-senders-exhausted: pg_receivewal holds the only WAL sender; --fix raises max_wal_senders on the standby first, then on the primary", async () => {
    // Lowered on both as a pair stays valid (PG 12+: the standby's at least the primary's): on the
    // primary first, then on the standby once it has replayed the primary's restart.
    psqlIn('primary', 'ALTER SYSTEM SET max_wal_senders = 1');
    inHost('primary', ['pg_ctlcluster', '15', 'prod', 'restart']);
    const restarted = psqlIn('primary', 'SELECT pg_current_wal_lsn()');
    await until(() => (psqlIn('standby', `SELECT pg_last_wal_replay_lsn() >= '${restarted}'`) === 't' ? true : undefined), "the standby to replay the primary's restart");
    psqlIn('standby', 'ALTER SYSTEM SET max_wal_senders = 1');
    inHost('standby', ['pg_ctlcluster', '15', 'main', 'stop']);
    const receiver = await startReceiveWal('/tmp/receivewal-senders');
    try {
      inHost('standby', ['pg_ctlcluster', '15', 'main', 'start']);
      const finding = current(await diagnoseUntil(['wal-senders-exhausted']), 'wal-senders-exhausted');
      expect(finding.detail).toMatch(/^max_wal_senders = 1; in use by: pid \d+ pg_receivewal from a local socket/);
      expect(quotedLogLines(finding, 'primary')).toContainEqual(expect.stringMatching(logLine('FATAL:  number of requested standby connections exceeds max_wal_senders \\(currently 1\\)')));

      const linesBefore = Number(inHost('standby', ['sh', '-c', `wc -l < ${standbyLog}`]).trim());
      const after = await fix(['--restart-primary']);
      expect(errorIds(after)).toEqual([]);
      const order = after.repairs.steps.map((step) => step.id);
      expect(order.indexOf('standby-minimums')).toBeGreaterThanOrEqual(0);
      expect(order.indexOf('standby-minimums')).toBeLessThan(order.indexOf('primary-settings'));
      expect(psqlIn('standby', 'SHOW max_wal_senders')).toBe(psqlIn('primary', 'SHOW max_wal_senders'));
      // The standby never ran below the primary: it did not pause or stop on the primary's restart.
      expect(inHost('standby', ['tail', '-n', `+${linesBefore + 1}`, standbyLog])).not.toMatch(/insufficient parameter settings|recovery has paused/);
      await expectStreamingWithNewRow();
    } finally {
      stopProcess(receiver);
    }
  });

  it('slot-in-use: another client holds the slot; doctor names it, and once it lets go the old lines are only info', async () => {
    inHost('standby', ['pg_ctlcluster', '15', 'main', 'stop']);
    const receiver = await startReceiveWal('/tmp/receivewal-slot', slot);
    let stopped = false;
    try {
      await waitForSlotHolder(slot);
      inHost('standby', ['pg_ctlcluster', '15', 'main', 'start']);
      const report = await diagnoseUntil(['slot-in-use']);
      const finding = current(report, 'slot-in-use');
      expect(finding.detail).toBe('held by pg_receivewal from a local socket');
      expect(finding.fix.fixable).toBe(false);
      expect(quotedLogLines(finding, 'standby')).toContainEqual(expect.stringMatching(logLine(`could not start WAL streaming: ERROR:  replication slot "${slot}" is active for PID \\d+`)));

      stopProcess(receiver);
      stopped = true;
      const healed = await resolvedUntil('slot-in-use');
      expect(healed.code).toBe(0);
      expect(healed.findings.find((f) => f.id === 'slot-in-use')).toMatchObject({ severity: 'info', resolved: true });
      await expectStreamingWithNewRow();
    } finally {
      if (!stopped) stopProcess(receiver);
    }
  });

  it('wal-level-insufficient: wal_level minimal keeps the primary from starting; --fix sets it in its files and starts it', async () => {
    psqlIn('primary', "ALTER SYSTEM SET wal_level = 'minimal'");
    psqlIn('primary', 'ALTER SYSTEM SET max_wal_senders = 0');
    // The restart fails: the primary stays down.
    expect(inHost('primary', ['sh', '-c', 'pg_ctlcluster 15 prod restart >/dev/null 2>&1; echo $?']).trim()).not.toBe('0');
    const report = await diagnoseUntil(['wal-level-insufficient'], 'primary');
    const finding = current(report, 'wal-level-insufficient');
    expect(finding.detail).toBe('wal_level = minimal on the primary, which therefore does not start');
    expect(quotedLogLines(finding, 'primary')).toContainEqual(expect.stringMatching(logLine(`FATAL:  physical replication slot "${slot}" exists, but wal_level < replica`)));
    expect(current(report, 'primary-unreachable').detail).toMatch(/^the primary's cluster 15\/prod is not running/);

    const after = await fix();
    expect(errorIds(after)).toEqual([]);
    expect(psqlIn('primary', 'SHOW wal_level')).toBe('replica');
    await expectStreamingWithNewRow();
  });
});
