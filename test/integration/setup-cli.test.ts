import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPassfileEntry } from '../../steps/lib/passfile.js';
import { reconnectStandby } from './doctor-lab.js';
import { inHost, lab, labFlags, labReset, pauseCloneOnceCopying, psqlIn, runCli, type CliResult } from './lab.js';

/** Everything setup could change on a host, as text: config files, roles, slots, files, server start. */
function hostSnapshot(host: 'primary' | 'standby'): string {
  const port = host === 'primary' ? '5433' : '5432';
  const sql = (q: string) => inHost(host, ['runuser', '-u', 'postgres', '--', 'psql', '-X', '-At', '-p', port, '-c', q]);
  return [
    inHost(host, ['sh', '-c', 'cd / && find /etc/postgresql /var/lib/postgresql -maxdepth 3 -printf "%p %m %u\\n" | sort; md5sum /etc/postgresql/*/*/*.conf /var/lib/postgresql/*/*/postgresql.auto.conf; cat /var/lib/postgresql/.pgpass 2>/dev/null || true']),
    sql('SELECT rolname, rolpassword FROM pg_authid ORDER BY 1'),
    sql('SELECT slot_name FROM pg_replication_slots ORDER BY 1'),
    sql('SELECT pg_postmaster_start_time()'),
    sql("SELECT name, setting FROM pg_settings WHERE name IN ('listen_addresses', 'wal_level', 'primary_conninfo')"),
  ].join('\n');
}

const password = "p@ss:w'rd\\with spaces";
const secretEnv = { PGREPL_PASSWORD: password };
const otherPassword = 'another:pass\\word';

/** Neither password in anything the run printed (text, JSON, stderr). */
function expectNoSecrets(result: CliResult): void {
  for (const secret of [password, otherPassword]) expect(result.stdout + result.stderr).not.toContain(secret);
}

/** A new replication connection from the standby with this password (not the passfile): 'ok' or PostgreSQL's error. */
function replicationLoginWith(secret: string): string {
  const target = `host=${lab.primaryIp} port=5433 user=repl dbname=replication replication=true passfile=/dev/null connect_timeout=10`;
  try {
    inHost('standby', ['runuser', '-u', 'postgres', '--', 'psql', '-X', '-w', '-At', '-c', 'IDENTIFY_SYSTEM', target], { PGPASSWORD: secret });
    return 'ok';
  } catch (error) {
    return String((error as { stderr?: string }).stderr);
  }
}

/** Ends the standby's walsender on the primary; the walreceiver's next connection must stream again. */
async function expectStreamingAfterReconnect(): Promise<void> {
  const walsender = () => psqlIn('primary', `SELECT pid, state FROM pg_stat_replication WHERE client_addr = '${lab.standbyIp}'`);
  const [oldPid] = walsender().split('|');
  expect(oldPid).not.toBe('');
  reconnectStandby();
  await until(() => {
    const [pid, state] = walsender().split('|');
    return pid !== oldPid && state === 'streaming';
  }, 30_000);
}

interface JsonStep {
  id: string;
  status: string;
  detail: string;
  notes: string[];
}

describe('setup from the command line', () => {
  /** What the run that stopped before the primary's restart printed (it wrote the settings). */
  let stoppedBeforeRestart = '';
  beforeAll(() => {
    labReset();
    // A passfile someone made world-readable: the new password must never be readable in it.
    inHost('standby', ['sh', '-c', 'umask 022; echo "otherhost:5432:*:bob:not-ours" > /var/lib/postgresql/.pgpass; chown postgres: /var/lib/postgresql/.pgpass']);
  });

  it('without a terminal and without --yes, names the flags to pass and changes nothing', async () => {
    const before = [hostSnapshot('primary'), hostSnapshot('standby')];
    const result = await runCli(['setup', ...labFlags()], secretEnv);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pass --yes (and --restart-primary if the primary may be restarted), or --plan');
    expect([hostSnapshot('primary'), hostSnapshot('standby')]).toEqual(before);
  });

  it('--plan prints the runbook of exact commands and diffs and leaves both hosts byte-for-byte unchanged', async () => {
    const before = [hostSnapshot('primary'), hostSnapshot('standby')];
    const result = await runCli(['setup', '--plan', ...labFlags()], secretEnv);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('# pgrepl-wizard setup plan (nothing has been changed)');
    expect(result.stdout).toContain(`+host    replication     repl            ${lab.standbyIp}/32`);
    expect(result.stdout).toMatch(/\$ .*pg_basebackup -h \S+ -p 5433 -U repl -D \/var\/lib\/postgresql\/15\/main\.pgrepl-new -X stream -S \S+ --checkpoint=fast -l 'pgrepl-wizard clone' -P/);
    expect(result.stdout).toContain('!! RESTARTS THE PRIMARY');
    expect(result.stdout).toContain('!! REPLACES STANDBY DATA');
    expect(result.stdout + result.stderr).not.toContain(password);
    expect([hostSnapshot('primary'), hostSnapshot('standby')]).toEqual(before);
  });

  it('refuses a standby that is the primary itself, before changing anything', async () => {
    const before = hostSnapshot('primary');
    const result = await runCli(['setup', '--yes', '--restart-primary', ...labFlags(['--standby', `root@${lab.primaryIp}`, '--standby-cluster', '15/prod'])], secretEnv);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("[FAILED] Prechecks before any change: the standby root@");
    expect(result.stdout).toContain("is the primary's own cluster");
    expect(hostSnapshot('primary')).toEqual(before);
  });

  it('stops before restarting the primary unless --restart-primary is given, saying how to go on', async () => {
    const result = await runCli(['setup', '--yes', ...labFlags()], secretEnv);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/\[FAILED\] Replication settings on the primary: .*restart/);
    expect(result.stdout).toContain('--restart-primary');
    stoppedBeforeRestart = result.stdout;
    // Nothing on the standby was touched.
    expect(psqlIn('standby', 'SELECT pg_is_in_recovery()')).toBe('f');
  });

  it('with --restart-primary ends with a streaming standby that receives new rows', async () => {
    const result = await runCli(['setup', '--yes', '--restart-primary', '--json', ...labFlags()], secretEnv);
    expect(result.stderr).toBe('');
    const outcome = JSON.parse(result.stdout);
    expect(outcome.ok).toBe(true);
    const statuses = Object.fromEntries(outcome.steps.map((s: JsonStep) => [s.id, s.status]));
    expect(statuses['replication-role']).toBe('already-done'); // created by the run that stopped before the restart
    expect(statuses['clone-standby']).toBe('done');
    // Nothing was left running by an earlier run: the cleanup must not mistake itself for one.
    expect(outcome.steps.find((s: JsonStep) => s.id === 'clone-standby').notes.join('\n')).not.toContain('ending pg_basebackup');
    expect(outcome.steps.find((s: JsonStep) => s.id === 'verify-streaming').detail).toMatch(/canary written at \S+ on the primary was replayed on the standby after \d+ ms/);
    expect(psqlIn('primary', "SELECT state FROM pg_stat_replication WHERE client_addr = '" + lab.standbyIp + "'")).toBe('streaming');
    psqlIn('primary', "INSERT INTO t VALUES (1001, 'arrives on the standby')", 'appdb');
    let seen = '';
    for (let i = 0; i < 50 && seen !== 'arrives on the standby'; i++) {
      seen = psqlIn('standby', 'SELECT note FROM t WHERE id = 1001', 'appdb');
      if (!seen) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(seen).toBe('arrives on the standby');
    expect(outcome.changes.filter((c: { backup?: string }) => c.backup).length).toBeGreaterThanOrEqual(2);
  });

  it('keeps the password out of output, server logs, config and world-readable files', async () => {
    for (const host of ['primary', 'standby'] as const) {
      const found = inHost(host, ['sh', '-c', 'grep -rlF -- "$1" /var/log/postgresql /etc/postgresql /var/lib/postgresql/15 2>/dev/null || true', 'sh', password]);
      expect(found.trim()).toBe('');
    }
    expect(inHost('standby', ['stat', '-c', '%U %a', '/var/lib/postgresql/.pgpass']).trim()).toBe('postgres 600');
    expect(inHost('standby', ['cat', '/var/lib/postgresql/.pgpass'])).toContain('otherhost:5432:*:bob:not-ours');
    expect(psqlIn('standby', 'SHOW primary_conninfo')).not.toContain('password');
  });

  it('a second run changes nothing and says so step by step', async () => {
    const before = inHost('primary', ['sh', '-c', 'ls /etc/postgresql/15/prod /var/lib/postgresql/15/prod | grep -c pgrepl-backup || true']);
    const result = await runCli(['setup', '--yes', '--json', ...labFlags()]);
    const outcome = JSON.parse(result.stdout);
    expect(outcome.ok).toBe(true);
    expect(outcome.steps.map((s: JsonStep) => s.status)).toEqual([...Array(7).fill('already-done'), 'done']);
    expect(outcome.changes).toEqual([]);
    expect(inHost('primary', ['sh', '-c', 'ls /etc/postgresql/15/prod /var/lib/postgresql/15/prod | grep -c pgrepl-backup || true'])).toBe(before);
  });

  it('a re-run with another PGREPL_PASSWORD keeps the working password, names the ignored one, and the standby reconnects', async () => {
    const result = await runCli(['setup', '--yes', '--json', ...labFlags()], { PGREPL_PASSWORD: otherPassword });
    const outcome = JSON.parse(result.stdout);
    expect(outcome.ok).toBe(true);
    const role = outcome.steps.find((s: JsonStep) => s.id === 'replication-role');
    expect(role.detail).toContain('PGREPL_PASSWORD was ignored');
    expect(role.detail).toContain('--rotate-password');
    expectNoSecrets(result);
    expect(replicationLoginWith(password)).toBe('ok');
    await expectStreamingAfterReconnect();
  });

  it('--rotate-password sets the new password on both ends (0600 passfile), the old one no longer logs in, and the standby reconnects', async () => {
    const result = await runCli(['setup', '--yes', '--rotate-password', '--json', ...labFlags()], { PGREPL_PASSWORD: otherPassword });
    const outcome = JSON.parse(result.stdout);
    expect(outcome.ok, result.stdout).toBe(true);
    expectNoSecrets(result);
    const passfile = inHost('standby', ['cat', '/var/lib/postgresql/.pgpass']);
    expect(findPassfileEntry(passfile, lab.primaryIp, 5433, 'repl')).toBe(otherPassword);
    expect(inHost('standby', ['stat', '-c', '%U %a', '/var/lib/postgresql/.pgpass']).trim()).toBe('postgres 600');
    expect(replicationLoginWith(otherPassword)).toBe('ok');
    expect(replicationLoginWith(password)).toContain('password authentication failed for user "repl"');
    await expectStreamingAfterReconnect();
  });

  it('a rotation whose passfile cannot be written sets the role back: exit 1, both ends keep the old password, the standby reconnects', async () => {
    const thirdPassword = 'third password';
    // postgres can no longer create the passfile's temporary file next to it.
    inHost('standby', ['chmod', '0555', '/var/lib/postgresql']);
    let result: CliResult;
    try {
      result = await runCli(['setup', '--yes', '--rotate-password', ...labFlags()], { PGREPL_PASSWORD: thirdPassword });
    } finally {
      inHost('standby', ['chmod', '0755', '/var/lib/postgresql']);
    }
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('[FAILED] Replication role on the primary: the new password is set on the primary but could not be written to /var/lib/postgresql/.pgpass');
    expect(result.stdout).toContain('both ends were set back to the password they had');
    expect(result.stdout + result.stderr).not.toContain(thirdPassword);
    expect(findPassfileEntry(inHost('standby', ['cat', '/var/lib/postgresql/.pgpass']), lab.primaryIp, 5433, 'repl')).toBe(otherPassword);
    expect(replicationLoginWith(otherPassword)).toBe('ok');
    expect(replicationLoginWith(thirdPassword)).toContain('password authentication failed for user "repl"');
    await expectStreamingAfterReconnect();
  });

  it("the primary settings' undo line runs as printed by the operator's own login (sudo where it needs it) and puts the old settings back", async () => {
    const undo = /ALTER SYSTEM SET .*postgresql\.auto\.conf.*\n\s+undo: (.*)/.exec(stoppedBeforeRestart)?.[1];
    expect(undo, stoppedBeforeRestart).toMatch(/^sudo -u postgres cp -p -- \S+ \S+ && sudo -u postgres pg_ctlcluster -m fast 15 prod restart$/);
    inHost('primary', ['runuser', '-u', 'labadmin', '--', 'sh', '-c', undo!]);
    expect(psqlIn('primary', 'SHOW listen_addresses')).toBe('localhost');
  });
});

describe('a setup that dies during the clone (killed, as when the SSH connection drops)', () => {
  const cli = join(import.meta.dirname, '..', '..', 'bin', 'pgrepl-wizard.js');
  const sideDirectoryMb = () => Number(inHost('standby', ['sh', '-c', 'du -sm /var/lib/postgresql/15/main.pgrepl-new 2>/dev/null | cut -f1']).trim() || 0);

  beforeAll(() => {
    labReset();
    // About 160 MB: the copy is paused before the kill, so it cannot end first.
    inHost('primary', ['runuser', '-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pgbench', '-q', '-i', '-s', '10', '-p', '5433', 'appdb']);
  });

  it("leaves the standby's old data in place, and the next run completes the job", async () => {
    const oldIdentifier = psqlIn('standby', 'SELECT system_identifier FROM pg_control_system()');
    const paused = pauseCloneOnceCopying('/var/lib/postgresql/15/main.pgrepl-new');
    const run = spawn('node', [cli, 'setup', '--yes', '--restart-primary', ...labFlags()], { env: { ...process.env, ...secretEnv }, stdio: 'ignore' });
    await paused;
    // No chance to clean up: pg_basebackup (stopped mid-copy) lives on, holding the slot.
    run.kill('SIGKILL');
    const controlData = inHost('standby', ['runuser', '-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_controldata', '-D', '/var/lib/postgresql/15/main']);
    expect(controlData).toContain(`Database system identifier:           ${oldIdentifier}`);

    const result = await runCli(['setup', '--yes', '--restart-primary', '--json', ...labFlags()], secretEnv);
    const outcome = JSON.parse(result.stdout);
    expect(outcome.ok).toBe(true);
    const clone = outcome.steps.find((s: JsonStep) => s.id === 'clone-standby');
    expect(clone.status).toBe('done');
    expect(clone.notes.join('\n')).toMatch(/ending pg_basebackup \(process group \d+\) left running by an interrupted earlier run/);
    // Ended: nothing left but the dead copy (a zombie) under the sudo our pause stopped with it.
    expect(inHost('standby', ['sh', '-c', 'ps -C pg_basebackup -o stat= | grep -v "^Z" || true']).trim()).toBe('');
    inHost('standby', ['pkill', '-CONT', '-x', 'sudo']);
    expect(psqlIn('standby', 'SELECT count(*) FROM pgbench_branches', 'appdb')).toBe('10');
    expect(sideDirectoryMb()).toBe(0);
  });
});

async function until(condition: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${condition}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a setup with a generated password that stops at the primary\'s restart', () => {
  beforeAll(() => {
    labReset();
  }, 600_000);

  it('stores the password on the standby with the role, so the next run, given none, finishes', async () => {
    const stopped = await runCli(['setup', '--yes', ...labFlags()]);
    expect(stopped.code).toBe(1);
    expect(stopped.stdout).toMatch(/\[FAILED\] Replication settings on the primary: .*restart/);
    expect(stopped.stdout).toContain('The replication password was generated; it is stored only in /var/lib/postgresql/.pgpass on the standby');
    expect(inHost('standby', ['stat', '-c', '%a %U', '/var/lib/postgresql/.pgpass']).trim()).toBe('600 postgres');

    // Doctor on the half-finished pair: a standby never cloned is another cluster, not a promoted one.
    const doctor = await runCli(['doctor', ...labFlags()]);
    expect(doctor.stdout).toContain('sysid-mismatch');
    expect(doctor.stdout).toContain('the same pgrepl-wizard setup run again does it');
    expect(doctor.stdout).not.toContain('standby-not-in-recovery');
    const status = JSON.parse((await runCli(['status', '--json', ...labFlags()])).stdout);
    expect(status.attention.map((a: { id: string }) => a.id)).toEqual(['standby-other-cluster']);

    const finished = await runCli(['setup', '--yes', '--restart-primary', ...labFlags()]);
    expect(finished.code, finished.stdout + finished.stderr).toBe(0);
    expect(finished.stdout).toMatch(/\[already done\] Replication role on the primary: .*that password in \/var\/lib\/postgresql\/\.pgpass is kept/);
    expect(psqlIn('primary', "SELECT state FROM pg_stat_replication WHERE client_addr = '" + lab.standbyIp + "'")).toBe('streaming');
  });
});

describe('two servers cloned from one VM image (same /etc/machine-id, host name, data directory path and port)', () => {
  const primaryName = () => inHost('primary', ['uname', '-n']).trim();
  let standbyName: string;
  const psqlInImageTwin = (sql: string, database = 'postgres') =>
    inHost('standby', ['runuser', '-u', 'postgres', '--', 'psql', '-X', '-At', '-p', '5433', '-d', database, '-c', sql]).trim();

  beforeAll(() => {
    labReset();
    standbyName = inHost('standby', ['uname', '-n']).trim();
    // The lab's hosts already share /etc/machine-id (one machine); give the standby the
    // primary's host name and a cluster at the primary's data directory path and port.
    expect(inHost('standby', ['cat', '/etc/machine-id'])).toBe(inHost('primary', ['cat', '/etc/machine-id']));
    inHost('standby', ['hostname', primaryName()]);
    inHost('standby', ['pg_dropcluster', '--stop', '15', 'main']);
    inHost('standby', ['pg_createcluster', '15', 'prod', '-p', '5433', '--start', '--', '--no-sync']);
  });

  afterAll(() => {
    inHost('standby', ['hostname', standbyName]);
  });

  it('are set up as a pair: the standby streams and receives new rows', async () => {
    expect(inHost('standby', ['uname', '-n'])).toBe(inHost('primary', ['uname', '-n']));
    const result = await runCli(['setup', '--yes', '--restart-primary', ...labFlags(['--standby-cluster', '15/prod'])], secretEnv);
    expect(result.stdout).not.toContain("is the primary's own cluster");
    expect(result.code).toBe(0);
    expect(psqlIn('primary', "SELECT state FROM pg_stat_replication WHERE client_addr = '" + lab.standbyIp + "'")).toBe('streaming');
    psqlIn('primary', "INSERT INTO t VALUES (1002, 'reaches the image twin')", 'appdb');
    let seen = '';
    for (let i = 0; i < 50 && seen !== 'reaches the image twin'; i++) {
      seen = psqlInImageTwin('SELECT note FROM t WHERE id = 1002', 'appdb');
      if (!seen) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(seen).toBe('reaches the image twin');
  });
});
