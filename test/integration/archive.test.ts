import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { current, doctorUntil, expectStreamingWithNewRow, logLine, password, quotedLogLines, slot, standbyLog, until } from './doctor-lab.js';
import { inHost, lab, labFlags, labReset, psqlIn, runCli } from './lab.js';

/**
 * WAL archiving end to end on one lab pair: an archive both hosts mount (the lab's state
 * directory appears at its own path in both hosts), set up by `setup --archive-dir
 * --standby-archive-dir`. The standby names it by another path (a symbolic link), as a shared
 * filesystem mounted elsewhere on the standby would be.
 */

const archive = `${lab.dir}/wal-archive`;
const standbyArchive = `${lab.dir}/wal-archive-as-the-standby-mounts-it`;

/** The oldest WAL segment still in the primary's pg_wal. */
const oldestOnPrimary = () => psqlIn('primary', `SELECT min(name) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'`);

describe('a WAL archive the standby reads too', () => {
  beforeAll(async () => {
    labReset();
    inHost('primary', ['rm', '-rf', '--', archive]);
    inHost('primary', ['ln', '-sfn', '--', archive, standbyArchive]);
    const setup = await runCli(['setup', '--yes', '--restart-primary', '--archive-dir', archive, '--standby-archive-dir', standbyArchive, ...labFlags()], { PGREPL_PASSWORD: password });
    expect(setup.code, setup.stdout + setup.stderr).toBe(0);
  });

  afterAll(() => {
    inHost('primary', ['rm', '-rf', '--', archive, standbyArchive]);
  });

  it('gives the standby restore_command, archive_cleanup_command and, for the day it is promoted, archive_command for the archive at its own path', () => {
    expect(psqlIn('standby', 'SHOW restore_command')).toBe(`cp ${standbyArchive}/%f %p`);
    expect(psqlIn('standby', 'SHOW archive_cleanup_command')).toMatch(new RegExp(`^/usr/lib/postgresql/\\d+/bin/pg_archivecleanup ${standbyArchive} %r$`));
    expect(psqlIn('standby', 'SHOW archive_command')).toMatch(new RegExp(` archive-wal ${standbyArchive} %p %f$`));
    expect(psqlIn('primary', 'SHOW archive_command')).toMatch(new RegExp(` archive-wal ${archive} %p %f$`));
    // The probe that proved the standby reads the same directory is gone.
    expect(inHost('primary', ['ls', '-A', archive])).not.toContain('.pgrepl-probe-');
  });

  it('lets a standby without a slot that fell behind catch up from the archive, then stream', async () => {
    // A standby that streams without a slot: the primary keeps no WAL for it.
    psqlIn('standby', "ALTER SYSTEM SET primary_slot_name = ''");
    inHost('standby', ['pg_ctlcluster', '15', 'main', 'stop']);
    await until(() => (psqlIn('primary', `SELECT active FROM pg_replication_slots WHERE slot_name = '${slot}'`) === 'f' ? true : undefined), 'the slot to be released');
    psqlIn('primary', `SELECT pg_drop_replication_slot('${slot}')`);
    const needed = psqlIn('primary', 'SELECT pg_walfile_name(pg_current_wal_lsn())');

    // More WAL than the primary keeps: it archives and removes segments at each checkpoint.
    for (let row = 100; oldestOnPrimary() <= needed; row++) {
      psqlIn('primary', `INSERT INTO t VALUES (${row}, 'while the standby was down')`, 'appdb');
      psqlIn('primary', 'SELECT pg_switch_wal()');
      psqlIn('primary', 'CHECKPOINT');
      if (row > 200) throw new Error(`the primary still keeps ${needed} (oldest: ${oldestOnPrimary()})`);
    }
    psqlIn('primary', "INSERT INTO t VALUES (1000, 'after the gap')", 'appdb');

    inHost('standby', ['pg_ctlcluster', '15', 'main', 'start']);
    const note = await until(() => psqlIn('standby', 'SELECT note FROM t WHERE id = 1000', 'appdb') || undefined, 'the row on the standby', 120_000);
    expect(note).toBe('after the gap');
    expect(inHost('standby', ['cat', standbyLog])).toContain(`restored log file "${needed}" from archive`);
    await until(() => (psqlIn('primary', `SELECT state FROM pg_stat_replication WHERE client_addr = '${lab.standbyIp}'`) === 'streaming' ? true : undefined), 'streaming', 60_000);
  });

  it('reports an archive_command that fails, quoting the log line, until the archive can be written again', async () => {
    // The archive no longer writable by the server's OS user: the next segment cannot be archived.
    inHost('primary', ['chmod', '0500', archive]);
    psqlIn('primary', "SELECT pg_switch_wal() FROM (SELECT pg_logical_emit_message(true, 'pgw', 'x')) m");
    const failing = (report: Awaited<ReturnType<typeof doctorUntil>>) => report.findings.some((f) => f.id === 'archive-failing' && quotedLogLines(f, 'primary').length > 0);
    const report = await doctorUntil(failing, 90_000);
    const finding = current(report, 'archive-failing');
    expect(finding.severity).toBe('error');
    expect(quotedLogLines(finding, 'primary')).toEqual(expect.arrayContaining([expect.stringMatching(logLine('archive command failed with exit code 1'))]));
    expect(quotedLogLines(finding, 'primary')).toEqual(expect.arrayContaining([expect.stringMatching(/DETAIL: {2}The failed archive command was: sh -c /)]));
    expect(finding.evidence.find((e) => e.source === 'pg_stat_archiver')?.lines.join('\n')).toMatch(/failed_count = [1-9]\d*, last_failed_wal = [0-9A-F]{24} at /);
    expect(report.code).toBe(1);

    inHost('primary', ['chmod', '0700', archive]);
    psqlIn('primary', "SELECT pg_switch_wal() FROM (SELECT pg_logical_emit_message(true, 'pgw', 'y')) m");
    const healed = await doctorUntil((next) => !next.findings.some((f) => f.id === 'archive-failing'), 120_000);
    expect(healed.findings.map((f) => f.id)).not.toContain('archive-failing');
  });

  it('proposes cleaning an archive only the primary reads with the exact pg_archivecleanup command, and --fix removes exactly what nothing needs', async () => {
    // The standby no longer cleans the archive: the runbook's primary-only archive.
    psqlIn('standby', 'ALTER SYSTEM RESET archive_cleanup_command');
    psqlIn('standby', 'SELECT pg_reload_conf()');
    // It grows past max_wal_size (set to its minimum, two segments) with segments nothing needs.
    psqlIn('primary', "ALTER SYSTEM SET max_wal_size = '32MB'");
    psqlIn('primary', 'SELECT pg_reload_conf()');
    for (let row = 300; row < 305; row++) {
      psqlIn('primary', `INSERT INTO t VALUES (${row}, 'archive grows')`, 'appdb');
      psqlIn('primary', 'SELECT pg_switch_wal()');
    }
    psqlIn('primary', 'CHECKPOINT');
    const report = await doctorUntil((next) => next.findings.some((f) => f.id === 'archive-cleanup'), 90_000);
    const finding = current(report, 'archive-cleanup');
    const command = /: (\S+\/pg_archivecleanup \S+ ([0-9A-F]{24}))$/.exec(finding.detail ?? '');
    expect(command, finding.detail).not.toBeNull();
    const [, shown, keep] = command!;
    expect(finding.fix.text).toContain(shown);
    // The setup's own clone left a backup history file, which holds nothing back.
    expect(inHost('primary', ['ls', archive])).toMatch(/^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$/m);

    const segments = () => inHost('primary', ['ls', archive]).split('\n').filter((name) => /^[0-9A-F]{24}$/.test(name));
    const before = segments();
    const removable = before.filter((name) => name.slice(8) < keep.slice(8));
    expect(removable.length).toBeGreaterThan(2);
    const fixed = await runCli(['doctor', '--fix', '--yes', '--json', ...labFlags()]);
    const outcome = JSON.parse(fixed.stdout) as { findings: { id: string }[]; repairs: { steps: { id: string; status: string; detail: string }[] } };
    const step = outcome.repairs.steps.find((s) => s.id === 'archive-cleanup');
    expect(step?.status, fixed.stdout + fixed.stderr).toBe('done');
    // It reports the command it ran, what it removed and the space freed.
    expect(step?.detail).toContain(`ran ${shown}: removed ${removable.length} WAL file(s), ${removable[0]} to ${removable.at(-1)}, `);
    expect(step?.detail).toMatch(/, \d+(\.\d+)? MB freed \(/);
    // Exactly the segments before the one still needed are gone; that one and later ones stay.
    expect(segments().filter((name) => name.slice(8) <= before.at(-1)!.slice(8))).toEqual(before.filter((name) => name.slice(8) >= keep.slice(8)));
    expect(outcome.findings.map((f) => f.id)).not.toContain('archive-cleanup');
    await expectStreamingWithNewRow();
  });
});
