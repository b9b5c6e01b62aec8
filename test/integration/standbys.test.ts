import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { until } from './doctor-lab.js';
import { escapeRegExp, inHost, lab, labResetWithStandbys, labUpWithStandbys, psqlIn, psqlInBackground, runCli, tempDir } from './lab.js';

// Several standbys (README "Several standbys"): a named standby is added to a primary that
// already streams to another, on a lab with a third host (PGW_LAB_STANDBYS=2).
const password = 'standbys-lab-password';
let standby2Ip = '';
let config = '';

/** A config file listing named standbys (name, host, and the upstream of a cascaded one) beside the lab's primary. */
function standbysConfig(file: string, standbys: [name: string, ip: string, upstream?: string][]): string {
  const path = join(tempDir('pgrepl-standbys-'), file);
  const entries = standbys.map(([name, ip, upstream]) => `  - name: ${name}\n    host: labadmin@${ip}\n    cluster: 15/main\n${upstream ? `    upstream: ${upstream}\n` : ''}`).join('');
  writeFileSync(path, `primary: labadmin@${lab.primaryIp}\nprimaryCluster: 15/prod\nidentity: ${lab.key}\nknownHosts: ${lab.knownHosts}\nstandbys:\n${entries}`);
  return path;
}

const setup = (standby: string, env: Record<string, string> = { PGREPL_PASSWORD: password }, file = config) => runCli(['setup', '--config', file, '--standby', standby, '--yes'], env);
const walsender = (name: string) => psqlIn('primary', `SELECT pid FROM pg_stat_replication WHERE application_name = '${name}'`);
const primaryStarted = () => psqlIn('primary', 'SELECT pg_postmaster_start_time()');
const syncStates = () => psqlIn('primary', 'SELECT application_name, sync_state FROM pg_stat_replication ORDER BY 1').split('\n');
const syncSetting = () => psqlIn('primary', 'SHOW synchronous_standby_names');
const sync = (...flags: string[]) => runCli(['sync', '--config', config, ...flags]);
const lab2 = (action: 'start' | 'stop') => inHost('standby2', ['runuser', '-u', 'postgres', '--', 'pg_ctlcluster', '15', 'main', action]);
const streams = (name: string) => until(() => (psqlIn('primary', `SELECT state FROM pg_stat_replication WHERE application_name = '${name}'`) === 'streaming' ? true : undefined), `${name} to stream`);
let row = 4000;
/** The synchronous replication cases run several commands each (sync, doctor, --fix, remove). */
const syncCaseMs = 300_000;
/** A commit on the primary that must return: bounded, so a hang fails the test instead of holding it. */
const commitReturns = () => inHost('primary', ['timeout', '30', 'runuser', '-u', 'postgres', '--', 'psql', '-X', '-At', '-p', '5433', '-d', 'appdb', '-c', `INSERT INTO t VALUES (${++row}, 'committed')`]).trim();

describe('a second named standby', () => {
  let firstWalsender = '';
  let started = '';

  beforeAll(async () => {
    [standby2Ip] = labResetWithStandbys(2);
    config = standbysConfig('standbys.yaml', [['lab_one', lab.standbyIp], ['lab_two', standby2Ip]]);
    const first = await runCli(['setup', '--config', config, '--standby', 'lab_one', '--yes', '--restart-primary'], { PGREPL_PASSWORD: password });
    expect(first.code, first.stderr).toBe(0);
    firstWalsender = walsender('lab_one');
    started = primaryStarted();
    expect(firstWalsender).toMatch(/^\d+$/);
  });

  it("refuses, before any change, a name another standby streams under and a password that is not the shared role's", async () => {
    const taken = await setup('lab_one', { PGREPL_PASSWORD: password }, standbysConfig('taken.yaml', [['lab_one', standby2Ip]]));
    expect(taken.code).toBe(1);
    expect(taken.stdout + taken.stderr).toMatch(new RegExp(`the name lab_one is taken: the primary streams to lab_one from ${escapeRegExp(lab.standbyIp)}, which holds slot lab_one`));

    const otherPassword = await setup('lab_two', { PGREPL_PASSWORD: 'not-the-role-password' });
    expect(otherPassword.code).toBe(1);
    expect(otherPassword.stdout + otherPassword.stderr).toMatch(new RegExp(`role repl has another password than the one given, and lab_one from ${escapeRegExp(lab.standbyIp)} streams as repl with it`));

    // Nothing changed on the primary for the second standby; the first one's role password still logs in.
    expect(psqlIn('primary', `SELECT count(*) FROM pg_hba_file_rules WHERE address = '${standby2Ip}'`)).toBe('0');
    expect(psqlIn('primary', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'lab_two'")).toBe('0');
    psqlIn('primary', "SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'lab_one'");
    await until(() => (psqlIn('primary', "SELECT state FROM pg_stat_replication WHERE application_name = 'lab_one'") === 'streaming' ? true : undefined), 'lab_one to stream again with its stored password');
    firstWalsender = walsender('lab_one');
  });

  it('adds it while the first keeps streaming: no restart, the same walsender, a row on both, two names', async () => {
    const second = await setup('lab_two');
    expect(second.code, second.stderr).toBe(0);

    expect(primaryStarted()).toBe(started);
    expect(walsender('lab_one')).toBe(firstWalsender);
    expect(psqlIn('primary', 'SELECT application_name, host(client_addr), state FROM pg_stat_replication ORDER BY 1').split('\n')).toEqual([
      `lab_one|${lab.standbyIp}|streaming`,
      `lab_two|${standby2Ip}|streaming`,
    ]);
    psqlIn('primary', "INSERT INTO t VALUES (2001, 'for both standbys')", 'appdb');
    for (const host of ['standby', 'standby2'] as const) {
      expect(await until(() => psqlIn(host, 'SELECT note FROM t WHERE id = 2001', 'appdb') || undefined, `the row on ${host}`)).toBe('for both standbys');
    }

    const inspect = await runCli(['inspect', '--config', config, '--standby', 'lab_two']);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(inspect.stdout).toContain(`standbys streaming from it (pg_stat_replication): lab_one from ${lab.standbyIp} (streaming, async, slot lab_one); lab_two from ${standby2Ip} (streaming, async, slot lab_two)`);
    const status = await runCli(['status', '--json', '--config', config, '--standby', 'lab_two']);
    const standbys = (JSON.parse(status.stdout) as { standbys: { applicationName: string; thisStandby: boolean }[] }).standbys;
    expect(standbys.map((row) => [row.applicationName, row.thisStandby]).sort()).toEqual([['lab_one', false], ['lab_two', true]]);
  });

  it('synchronous replication: FIRST 1 and ANY 1 of 2 set while both stream, proven by sync_state and a canary; with one stopped ANY 1 commits go on and FIRST 2 is refused naming it', async () => {
    await streams('lab_two');
    const first = await sync('--sync-first', '1', '--yes');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('FIRST 1 of 2 (priority): every commit waits until the first of lab_one, lab_two that streams');
    expect(first.stdout).toMatch(/pg_stat_replication: lab_one sync, lab_two potential\n.*a canary commit \(\S+\) returned in \d+ ms; flushed by lab_one/);
    expect(first.stdout).toMatch(/undo: sudo -u postgres cp -p -- \S+postgresql\.auto\.conf\.pgrepl-backup-\S+ \S+postgresql\.auto\.conf && sudo -u postgres pg_ctlcluster 15 prod reload/);
    expect(syncStates()).toEqual(['lab_one|sync', 'lab_two|potential']);

    const any = await sync('--sync-any', '1', '--yes');
    expect(any.code, any.stderr).toBe(0);
    expect(any.stderr).toContain('Up to 1 of them may stop and commits go on');
    expect(syncSetting()).toBe('ANY 1 (lab_one, lab_two)');
    expect(syncStates()).toEqual(['lab_one|quorum', 'lab_two|quorum']);

    lab2('stop');
    expect(commitReturns()).toBe('INSERT 0 1');
    const refused = await sync('--sync-first', '2', '--yes');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("synchronous_standby_names = 'FIRST 2 (lab_one, lab_two)' is set only once every standby it names streams: lab_two is not connected");
    expect(syncSetting()).toBe('ANY 1 (lab_one, lab_two)');
  }, syncCaseMs);

  it('FIRST 2 of 2 warns that commits wait for both; with one down doctor finds the commit hang and --fix gets out of it', async () => {
    lab2('start');
    await streams('lab_two');
    const both = await sync('--sync-first', '2', '--yes');
    expect(both.code, both.stderr).toBe(0);
    expect(both.stderr).toContain('WARNING: every commit will wait for all of lab_one, lab_two');
    expect(syncStates()).toEqual(['lab_one|sync', 'lab_two|sync']);

    lab2('stop');
    const held = psqlInBackground('primary', "INSERT INTO t VALUES (2999, 'held by lab_two')", 'appdb');
    await until(() => (psqlIn('primary', "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'") === '1' ? true : undefined), 'the commit to wait on SyncRep');
    const doctor = await runCli(['doctor', '--config', config, '--standby', 'lab_one']);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toContain('sync-commit-hang (primary): commits wait for synchronous standbys that are not there');
    expect(doctor.stdout).toContain('lab_two: not connected');
    expect(doctor.stdout).toMatch(/pid \d+ \(postgres on appdb\) waits in its commit for \d+ s: INSERT INTO t VALUES \(2999/);

    const fixed = await runCli(['doctor', '--config', config, '--standby', 'lab_one', '--fix', '--yes']);
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    expect((await held).stdout.trim()).toBe('INSERT 0 1');
    expect(syncSetting()).toBe('FIRST 1 (lab_one, lab_two)');
    expect(fixed.stdout).toContain('no session waits on SyncRep any more');
    expect(commitReturns()).toBe('INSERT 0 1');
  }, syncCaseMs);

  it('takes it off again in the safe order, shown as a plan: out of synchronous_standby_names first, hba line, connection, slot; commits never wait, the first keeps streaming', async () => {
    lab2('start');
    await streams('lab_two');
    const any = await sync('--sync-any', '1', '--yes');
    expect(any.code, any.stderr).toBe(0);
    firstWalsender = walsender('lab_one');

    const plan = await runCli(['remove', '--config', config, '--standby', 'lab_two', '--plan']);
    expect(plan.code, plan.stderr).toBe(0);
    const order = [
      "take lab_two out of synchronous_standby_names = 'ANY 1 (lab_one, lab_two)' first",
      "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (lab_one)'",
      'remove the pg_hba.conf line setup wrote for lab_two',
      'end the replication connection of lab_two',
      'drop replication slot "lab_two"',
    ].map((text) => plan.stdout.indexOf(text));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);

    const removed = await runCli(['remove', '--config', config, '--standby', 'lab_two', '--yes']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('Result: standby lab_two is off the primary.');
    expect(removed.stdout).toContain("synchronous_standby_names = 'ANY 1 (lab_one)' (was 'ANY 1 (lab_one, lab_two)'), reloaded");
    expect(removed.stdout).toMatch(/a canary commit \(\S+\) returned in \d+ ms; flushed by lab_one/);
    expect(syncSetting()).toBe('ANY 1 (lab_one)');
    expect(psqlIn('primary', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'lab_two'")).toBe('0');
    expect(psqlIn('primary', `SELECT count(*) FROM pg_hba_file_rules WHERE address = '${standby2Ip}'`)).toBe('0');
    expect(psqlIn('primary', "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'lab_two'")).toBe('0');
    expect(walsender('lab_one')).toBe(firstWalsender);
    expect(commitReturns()).toBe('INSERT 0 1');
    expect(await until(() => psqlIn('standby', `SELECT note FROM t WHERE id = ${row}`, 'appdb') || undefined, 'the row on standby')).toBe('committed');

    const off = await sync('--sync-off', '--yes');
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).toContain("Result: synchronous_standby_names = '' (off) (was 'ANY 1 (lab_one)')");
    expect(syncStates()).toEqual(['lab_one|async']);
  }, syncCaseMs);
});

describe('a cascaded standby (primary → lab_one → lab_three)', () => {
  let cascade = '';
  // setup's proof: the canary written on the primary was replayed on lab_three, whose WAL receiver streams from lab_one.
  const throughLabOne = new RegExp(`its WAL receiver streams from ${escapeRegExp(lab.standbyIp)}:5432 \\(pg_stat_wal_receiver.sender_host\\), the upstream labadmin@${escapeRegExp(lab.standbyIp)}, which lists it in pg_stat_replication; a canary written at \\S+ on the primary was replayed`);

  beforeAll(async () => {
    if (!standby2Ip) {
      // Run alone (-t cascaded): the lab with standby2 as it is, lab_one set up (or already).
      [standby2Ip] = labUpWithStandbys(2);
      const first = await runCli(['setup', '--config', standbysConfig('one.yaml', [['lab_one', lab.standbyIp]]), '--standby', 'lab_one', '--yes', '--restart-primary'], { PGREPL_PASSWORD: password });
      expect(first.code, first.stderr).toBe(0);
    }
    cascade = standbysConfig('cascade.yaml', [['lab_one', lab.standbyIp], ['lab_three', standby2Ip, 'lab_one']]);
    // standby2 gets an empty cluster of its own again, so lab_three is really cloned, from lab_one.
    inHost('standby2', ['pg_dropcluster', '--stop', '15', 'main']);
    inHost('standby2', ['pg_createcluster', '15', 'main', '-p', '5432', '--start', '--', '--no-sync']);
  }, 600_000);

  it('is cloned from its upstream standby and streams from it; the canary written on the primary reaches it through lab_one', async () => {
    const run = await runCli(['setup', '--config', cascade, '--standby', 'lab_three', '--yes', '--restart-primary'], { PGREPL_PASSWORD: password });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('the upstream is a hot standby that streams');
    // The steps that act on lab_one say so; the role is still made on the primary.
    for (const title of ['Replication role on the primary', 'Replication settings on the upstream', 'pg_hba.conf rule for the standby on the upstream', 'Replication slot on the upstream', 'Clone the upstream onto the standby', 'Configure the standby to follow the upstream']) {
      expect(run.stdout).toMatch(new RegExp(`\\[(done|already done)\\] ${escapeRegExp(title)}: `));
    }

    // The upstream holds the slot, the hba line and the walsender; the primary knows nothing of lab_three.
    expect(psqlIn('standby', 'SELECT application_name, host(client_addr), state FROM pg_stat_replication')).toBe(`lab_three|${standby2Ip}|streaming`);
    expect(psqlIn('standby', "SELECT active FROM pg_replication_slots WHERE slot_name = 'lab_three'")).toBe('t');
    expect(psqlIn('standby', `SELECT count(*) FROM pg_hba_file_rules WHERE address = '${standby2Ip}' AND 'replication' = ANY(database)`)).toBe('1');
    expect(psqlIn('primary', 'SELECT string_agg(application_name, \',\') FROM pg_stat_replication')).toBe('lab_one');
    expect(psqlIn('standby2', 'SELECT sender_host FROM pg_stat_wal_receiver')).toBe(lab.standbyIp);

    expect(run.stdout).toMatch(throughLabOne);

    const inspect = await runCli(['inspect', '--config', cascade, '--standby', 'lab_three']);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(inspect.stdout).toContain(`standbys streaming from it (pg_stat_replication): lab_three from ${standby2Ip} (streaming, async, slot lab_three)`);
    const status = await runCli(['status', '--json', '--config', cascade, '--standby', 'lab_three']);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    const document = JSON.parse(status.stdout) as { standby: { senderHost: string }; upstream: { standbys: { applicationName: string; thisStandby: boolean }[] } };
    expect(document.standby.senderHost).toBe(lab.standbyIp);
    expect(document.upstream.standbys.map((row) => [row.applicationName, row.thisStandby])).toEqual([['lab_three', true]]);
  }, 300_000);

  it("doctor tells the broken hop from the standby's own fault, and re-points lab_three to the primary when lab_one is down", async () => {
    // doctor's text: "Replication now" names the upstream and its own hop from the primary, never a "primary".
    const diagnosis = () => runCli(['doctor', '--config', cascade, '--standby', 'lab_three']);
    const upstreamLine = `  upstream labadmin@${lab.standbyIp} 15/main:`;

    // The cascaded standby's own fault: it is down, its upstream is fine.
    inHost('standby2', ['pg_ctlcluster', '15', 'main', 'stop']);
    const own = await diagnosis();
    expect(own.stdout).toContain(`Replication now:\n${upstreamLine} running, in recovery, walreceiver streaming (its hop from the primary)\n  standby 15/main: stopped\n`);
    expect(own.stdout).toMatch(/^Errors \(1\)\n  ✗ standby-down \(standby\): /m);
    inHost('standby2', ['pg_ctlcluster', '15', 'main', 'start']);
    await until(() => (psqlIn('standby2', 'SELECT status FROM pg_stat_wal_receiver') === 'streaming' ? true : undefined), 'lab_three to stream from lab_one again');

    // The middle node stops: the hop is broken at the upstream, not at lab_three.
    inHost('standby', ['pg_ctlcluster', '15', 'main', 'stop']);
    const hop = await diagnosis();
    expect(hop.stdout).toContain(`Replication now:\n${upstreamLine} stopped\n`);
    expect(hop.stdout).toMatch(/^Errors \(1\)\n  ✗ upstream-down \(upstream\): /m);

    const fixed = await runCli(['doctor', '--json', '--config', cascade, '--standby', 'lab_three', '--fix', '--yes'], { PGREPL_PASSWORD: password });
    expect(fixed.code, fixed.stderr).toBe(0);
    const report = JSON.parse(fixed.stdout) as { healthy: boolean; repointed: { notes?: string[] } };
    expect(report.healthy).toBe(true);
    // lab_three's slot on the stopped lab_one could not be dropped: the result says so, and how.
    expect(report.repointed.notes).toEqual([expect.stringContaining('slot lab_three is left on the old upstream labadmin@')]);
    expect(fixed.stdout).toContain("run SELECT pg_drop_replication_slot('lab_three') there");
    // The re-point's canary, written on the primary, reached lab_three around the stopped upstream.
    expect(fixed.stdout).toContain('on the primary was replayed on the standby');
    expect(psqlIn('standby2', 'SELECT sender_host FROM pg_stat_wal_receiver')).toBe(lab.primaryIp);
    expect(psqlIn('primary', "SELECT state FROM pg_stat_replication WHERE application_name = 'lab_three'")).toBe('streaming');
  }, 300_000);

  it('setup re-points lab_three from the primary back to lab_one, another standby: the canary reaches it through lab_one, and its slot on the primary is dropped', async () => {
    // lab_one runs again (the doctor case stopped it) and streams from the primary; it still holds lab_three's old slot.
    inHost('standby', ['pg_ctlcluster', '15', 'main', 'start']);
    await until(() => (psqlIn('primary', "SELECT state FROM pg_stat_replication WHERE application_name = 'lab_one'") === 'streaming' ? true : undefined), 'lab_one to stream again');

    const run = await runCli(['setup', '--config', cascade, '--standby', 'lab_three', '--yes'], { PGREPL_PASSWORD: password });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(throughLabOne);
    expect(run.stdout).toContain(`dropped replication slot lab_three on primary labadmin@${lab.primaryIp}`);
    expect(psqlIn('standby2', 'SELECT sender_host FROM pg_stat_wal_receiver')).toBe(lab.standbyIp);
    expect(psqlIn('standby', "SELECT state FROM pg_stat_replication WHERE application_name = 'lab_three'")).toBe('streaming');
    expect(psqlIn('primary', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'lab_three'")).toBe('0');
  }, 300_000);

  it("doctor --fix gives lab_three, which lost its primary_conninfo, one towards its upstream lab_one (the upstream's address and port, not the primary's)", async () => {
    psqlIn('standby2', 'ALTER SYSTEM RESET primary_conninfo');
    inHost('standby2', ['pg_ctlcluster', '15', 'main', 'restart']);
    const broken = await runCli(['doctor', '--config', cascade, '--standby', 'lab_three']);
    expect(broken.stdout).toMatch(/^Errors \(1\)\n  ✗ primary-conninfo-missing \(standby\): /m);

    const fixed = await runCli(['doctor', '--config', cascade, '--standby', 'lab_three', '--fix', '--yes'], { PGREPL_PASSWORD: password });
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    expect(psqlIn('standby2', 'SHOW primary_conninfo')).toContain(`host=${lab.standbyIp} port=5432 `);
    expect(psqlIn('standby2', 'SELECT sender_host FROM pg_stat_wal_receiver')).toBe(lab.standbyIp);
    expect(psqlIn('standby', "SELECT state FROM pg_stat_replication WHERE application_name = 'lab_three'")).toBe('streaming');
  }, 300_000);
});

describe('hand-off to repmgr', () => {
  const repmgrPassword = 'repmgr-lab-password';
  // repmgr as the server's OS user, reading the passfile handoff wrote (runuser keeps root's HOME).
  const repmgr = (host: 'primary' | 'standby' | 'standby2', config: string, args: string[]) =>
    inHost(host, ['runuser', '-u', 'postgres', '--', 'env', 'PGPASSFILE=/var/lib/postgresql/.pgpass', '/usr/lib/postgresql/15/bin/repmgr', '-f', config, ...args]);

  beforeAll(() => {
    // Run alone (-t repmgr): after the cascade cases, lab_one streams from the primary and lab_three from lab_one.
    if (!standby2Ip) [standby2Ip] = labUpWithStandbys(2);
  });

  it('registers the primary and both standbys with the real repmgr: cluster show lists them running, node check passes on each, repmgrd starts', async () => {
    // A cascade: lab_three registers with lab_one as its upstream. No slot is left over from the re-points (repmgr node check calls an inactive one critical).
    const config = standbysConfig('handoff.yaml', [['lab_one', lab.standbyIp], ['lab_three', standby2Ip, 'lab_one']]);

    // The plan (on stderr before the run) names the files and commands, the primary's restart for repmgrd's library among them.
    const run = await runCli(['handoff', '--config', config, '--yes', '--restart-primary'], { PGREPL_REPMGR_PASSWORD: repmgrPassword });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stderr).toContain('/etc/postgresql/15/prod/repmgr.conf');
    expect(run.stderr).toContain('repmgr -f /etc/postgresql/15/main/repmgr.conf standby register');
    expect(run.stderr).toContain("shared_preload_libraries = 'repmgr' (repmgrd needs repmgr's library loaded) and restart it");
    expect(run.stdout).toContain('repmgr node check passes on every node');
    expect(run.stdout).toContain('repmgrd can start on every node');
    expect(run.stdout).toContain('start repmgrd on lab_one as postgres: /usr/lib/postgresql/15/bin/repmgrd -f /etc/postgresql/15/main/repmgr.conf');
    expect(run.stdout + run.stderr).not.toContain(repmgrPassword);

    const primaryName = inHost('primary', ['uname', '-n']).trim();
    const show = repmgr('primary', '/etc/postgresql/15/prod/repmgr.conf', ['cluster', 'show']);
    for (const [name, role] of [[primaryName, 'primary'], ['lab_one', 'standby'], ['lab_three', 'standby']]) {
      expect(show).toMatch(new RegExp(`\\|\\s*${escapeRegExp(name)}\\s*\\|\\s*${role}\\s*\\|\\s*\\*?\\s*running`));
    }
    // execFileSync throws on a non-zero exit: node check passes (exit 0) on each node.
    repmgr('primary', '/etc/postgresql/15/prod/repmgr.conf', ['node', 'check']);
    repmgr('standby', '/etc/postgresql/15/main/repmgr.conf', ['node', 'check']);
    repmgr('standby2', '/etc/postgresql/15/main/repmgr.conf', ['node', 'check']);
    // repmgr stops and starts a node the way the lab does.
    expect(repmgr('standby', '/etc/postgresql/15/main/repmgr.conf', ['node', 'service', '--list-actions', '--action=restart']).trim()).toBe('/usr/bin/pg_ctlcluster -m fast 15 main restart');

    // repmgrd starts on the primary (it exits at once without repmgr's library loaded), repmgr sees it running; stopped again.
    const pidFile = '/tmp/pgw-repmgrd.pid';
    inHost('primary', ['runuser', '-u', 'postgres', '--', 'sh', '-c', '"$0" -f "$1" --pid-file "$2" >/tmp/pgw-repmgrd.log 2>&1', '/usr/lib/postgresql/15/bin/repmgrd', '/etc/postgresql/15/prod/repmgr.conf', pidFile]);
    try {
      const primaryRow = () => repmgr('primary', '/etc/postgresql/15/prod/repmgr.conf', ['service', 'status']).split('\n').find((line) => line.includes(`| ${primaryName} `));
      expect(await until(() => (/\|\s*running\s*\|\s*\d+\s*\|/.test(primaryRow() ?? '') ? true : undefined), "repmgrd to run on the primary")).toBe(true);
    } finally {
      inHost('primary', ['sh', '-c', 'kill "$(cat "$1")"', 'sh', pidFile]);
    }
  }, 300_000);
});
