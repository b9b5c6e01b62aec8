import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inHost, lab, labFlags, labReset, psqlIn, runCli } from './lab.js';
import { current, diagnoseUntil, doctor, errorIds, expectStreamingWithNewRow, fix, password, type Repairs } from './doctor-lab.js';

/**
 * doctor --fix on a standby promoted by mistake and written to on both sides: pg_rewind brings
 * it back when the standby logs hint bits (wal_log_hints), a clone again when it cannot, with
 * pg_rewind's own reason. One pair, set up once with a WAL archive the standby reads too (the
 * lab's state directory is at the same path in both hosts); each case leaves it streaming.
 */

/** doctor --fix stops, rewinds or clones, starts and proves streaming: minutes on a busy 2-core machine. */
const slow = 300_000;

const archive = `${lab.dir}/wal-archive`;
const restartStandby = () => inHost('standby', ['pg_ctlcluster', '15', 'main', 'restart']);
const rowOn = (host: 'primary' | 'standby', id: number) => psqlIn(host, `SELECT note FROM t WHERE id = ${id}`, 'appdb');

async function until(probe: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const exists = (path: string) => inHost('standby', ['sh', '-c', 'test -f "$1" && echo yes || echo no', 'sh', path]).trim() === 'yes';
const archived = (name: string) => exists(`${archive}/${name}`);

/**
 * Without it, recovery found the promoted standby's 00000002.history through restore_command and
 * the repaired standby did not start ("requested timeline 2 does not contain minimum recovery point").
 */
function expectStrayTimelineSetAside({ steps, changes }: Repairs): void {
  const setAside = steps.find((s) => s.id === 'set-aside-stray-timelines');
  expect(setAside?.status, JSON.stringify(steps)).toBe('done');
  const folder = new RegExp(`out of the WAL archive ${archive} into (${archive}-stray-timelines-\\d{8}T\\d{6}Z)`).exec(setAside?.detail ?? '')?.[1];
  expect(folder, setAside?.detail).toBeDefined();
  // Runnable as printed: every path quoted (as the operator's login user, through sudo).
  expect(changes.find((change) => change.backup === folder)?.undo).toBe(`sudo -u postgres find ${folder} -maxdepth 1 -type f -exec mv -n -t ${archive} -- '{}' +`);
  expect(exists(`${folder}/00000002.history`)).toBe(true);
  expect(archived('00000002.history')).toBe(false);
  // The primary's own timeline stays: its segments are still there.
  expect(inHost('standby', ['sh', '-c', 'ls -- "$1" | grep -c "^00000001"', 'sh', archive]).trim()).not.toBe('0');
}

/**
 * The standby promoted, then a row written on each side. Soon after the clone, as here, the
 * promoted standby no longer has the WAL of the last checkpoint before the fork: pg_rewind needs
 * it, and the rewind copies it from the primary.
 */
async function promoteByMistake(stray: number, written: number): Promise<void> {
  psqlIn('standby', 'SELECT pg_promote()');
  await until(() => psqlIn('standby', 'SELECT pg_is_in_recovery()') === 'f', 'the promotion');
  psqlIn('standby', `INSERT INTO t VALUES (${stray}, 'written on the promoted standby')`, 'appdb');
  psqlIn('primary', `INSERT INTO t VALUES (${written}, 'written on the primary after the fork')`, 'appdb');
  current(await diagnoseUntil(['standby-not-in-recovery']), 'standby-not-in-recovery');
}

beforeAll(async () => {
  labReset();
  inHost('primary', ['sh', '-c', 'rm -rf -- "$1" "$1"-stray-timelines-*', 'sh', archive]);
  const setup = await runCli(['setup', '--yes', '--restart-primary', '--wal-log-hints', '--archive-dir', archive, '--standby-archive-dir', archive, ...labFlags()], { PGREPL_PASSWORD: password });
  expect(setup.code, setup.stdout + setup.stderr).toBe(0);
  expect(setup.stdout + setup.stderr).toContain('wal_log_hints = on: the standby gets the same from the clone, so doctor --fix can rewind either server later');
});

afterAll(() => {
  inHost('primary', ['sh', '-c', 'rm -rf -- "$1" "$1"-stray-timelines-*', 'sh', archive]);
});

describe('doctor --fix on a standby whose history forked', () => {
  it('set up with --wal-log-hints: pg_rewind brings the standby back, its own settings kept, the stray row gone', async () => {
    expect([psqlIn('primary', 'SHOW wal_log_hints'), psqlIn('standby', 'SHOW wal_log_hints')]).toEqual(['on', 'on']);
    psqlIn('standby', "ALTER SYSTEM SET work_mem = '7MB'");
    // The clone gave the standby the primary's archive_mode and archive_command: once promoted it archives its timeline 2.
    await promoteByMistake(990, 991);
    await until(() => archived('00000002.history'), "the promoted standby's timeline history in the shared archive");

    const after = await fix();
    expect(errorIds(after)).toEqual([]);
    const steps = after.repairs.steps.map((s) => [s.id, s.status]);
    expect(steps).toContainEqual(['rewind-standby', 'done']);
    expectStrayTimelineSetAside(after.repairs);
    expect(steps.map(([id]) => id)).not.toContain('clone-standby');
    const rewound = after.repairs.steps.find((s) => s.id === 'rewind-standby')?.detail;
    expect(rewound).toMatch(/pg_rewind copied \d+\.\d MB in [\d.]+ s \(need to copy \d+ MB \(total source directory size is \d+ MB\)\)/);
    // The standby's archive serves the WAL it recycled; 15 reads restore_command from /etc with --config-file.
    expect(rewound).toContain(`restored from its archive (--restore-target-wal runs its restore_command = 'cp ${archive}/%f %p'), read from /etc/postgresql/15/main/postgresql.conf (--config-file)`);
    expect(psqlIn('standby', 'SELECT pg_is_in_recovery()')).toBe('t');
    expect(rowOn('standby', 991)).toBe('written on the primary after the fork');
    expect(rowOn('standby', 990)).toBe('');
    expect(psqlIn('standby', 'SHOW work_mem')).toBe('7MB');
    await expectStreamingWithNewRow();
  }, slow);

  it('wal_log_hints off, no data checksums: pg_rewind says why, and the standby is cloned again instead', async () => {
    psqlIn('standby', 'ALTER SYSTEM SET wal_log_hints = off');
    restartStandby();
    await promoteByMistake(992, 993);

    const after = await fix();
    expect(errorIds(after)).toEqual([]);
    expect(after.repairs.notes.join('\n')).toContain('pg_rewind cannot be used: "target server needs to use either data checksums or "wal_log_hints = on"" (pg_rewind --dry-run)');
    expect(after.repairs.steps.map((s) => [s.id, s.status])).toContainEqual(['clone-standby', 'done']);
    expectStrayTimelineSetAside(after.repairs);
    expect(rowOn('standby', 993)).toBe('written on the primary after the fork');
    expect(rowOn('standby', 992)).toBe('');
    // The clone brings the primary's postgresql.auto.conf, which has neither: both are written again.
    expect(psqlIn('standby', 'SHOW restore_command')).toBe(`cp ${archive}/%f %p`);
    expect(psqlIn('standby', 'SHOW archive_cleanup_command')).toMatch(new RegExp(`^/usr/lib/postgresql/15/bin/pg_archivecleanup ${archive} %r$`));
    await expectStreamingWithNewRow();
  }, slow);

  it('after a failover the former primary follows the new one: doctor --fix with the roles swapped rewinds it', async () => {
    // The failover: the standby is promoted and written to; the former primary takes a last write, then crashes.
    psqlIn('standby', 'SELECT pg_promote()');
    await until(() => psqlIn('standby', 'SELECT pg_is_in_recovery()') === 'f', 'the promotion');
    psqlIn('standby', "INSERT INTO t VALUES (994, 'written on the new primary')", 'appdb');
    psqlIn('primary', "INSERT INTO t VALUES (995, 'written on the former primary after the failover')", 'appdb');
    inHost('primary', ['pg_ctlcluster', '15', 'prod', 'stop', '-m', 'immediate']);
    const swapped = ['--primary', `labadmin@${lab.standbyIp}`, '--primary-cluster', '15/main', '--standby', `labadmin@${lab.primaryIp}`, '--standby-cluster', '15/prod'];

    const before = await doctor(swapped);
    expect(current(before, 'standby-not-in-recovery').detail).toContain('the former primary (the primary was promoted on a later timeline, a failover)');
    // The former primary has no stored replication password: the operator gives it, as to setup.
    const after = await fix(swapped, { PGREPL_PASSWORD: password });
    expect(errorIds(after), JSON.stringify(after.findings)).toEqual([]);
    const steps = after.repairs.steps.map((s) => [s.id, s.status]);
    expect(steps).toEqual(expect.arrayContaining([['pg-hba', 'done'], ['standby-passfile', 'done'], ['rewind-standby', 'done'], ['verify-streaming', 'done']]));
    expect(steps.map(([id]) => id)).not.toContain('clone-standby');
    expect(psqlIn('primary', 'SELECT pg_is_in_recovery()')).toBe('t');
    expect(rowOn('primary', 994)).toBe('written on the new primary');
    expect(rowOn('primary', 995)).toBe('');
    expect(psqlIn('standby', `SELECT state FROM pg_stat_replication WHERE client_addr = '${lab.primaryIp}'`)).toBe('streaming');
    psqlIn('standby', "INSERT INTO t VALUES (996, 'written on the new primary after the rejoin')", 'appdb');
    await until(() => rowOn('primary', 996) !== '', 'the row on the former primary');
  }, slow);
});
