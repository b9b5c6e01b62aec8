import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { until } from './doctor-lab.js';
import { escapeRegExp, inHost, lab, labResetWithStandbys, psqlIn, runCli, tempDir } from './lab.js';

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

  it('takes it off again in the safe order, shown as a plan: hba line, connection, slot; the first keeps streaming', async () => {
    psqlIn('primary', "ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (lab_two)'");
    psqlIn('primary', 'SELECT pg_reload_conf()');
    const refused = await runCli(['remove', '--config', config, '--standby', 'lab_two', '--yes']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/synchronous_standby_names = 'FIRST 1 \(lab_two\)' names lab_two/);
    psqlIn('primary', 'ALTER SYSTEM RESET synchronous_standby_names');
    psqlIn('primary', 'SELECT pg_reload_conf()');

    const plan = await runCli(['remove', '--config', config, '--standby', 'lab_two', '--plan']);
    expect(plan.code, plan.stderr).toBe(0);
    const order = ['remove the pg_hba.conf line setup wrote for lab_two', 'end the replication connection of lab_two', 'drop replication slot "lab_two"'].map((text) => plan.stdout.indexOf(text));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);

    const removed = await runCli(['remove', '--config', config, '--standby', 'lab_two', '--yes']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('Result: standby lab_two is off the primary.');
    expect(psqlIn('primary', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'lab_two'")).toBe('0');
    expect(psqlIn('primary', `SELECT count(*) FROM pg_hba_file_rules WHERE address = '${standby2Ip}'`)).toBe('0');
    expect(psqlIn('primary', "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'lab_two'")).toBe('0');
    expect(walsender('lab_one')).toBe(firstWalsender);
    psqlIn('primary', "INSERT INTO t VALUES (2002, 'after lab_two left')", 'appdb');
    expect(await until(() => psqlIn('standby', 'SELECT note FROM t WHERE id = 2002', 'appdb') || undefined, 'the row on standby')).toBe('after lab_two left');
  });
});

describe('a cascaded standby (primary → lab_one → lab_three)', () => {
  let cascade = '';

  beforeAll(async () => {
    cascade = standbysConfig('cascade.yaml', [['lab_one', lab.standbyIp], ['lab_three', standby2Ip, 'lab_one']]);
    // standby2 gets an empty cluster of its own again, so lab_three is really cloned, from lab_one.
    inHost('standby2', ['pg_dropcluster', '--stop', '15', 'main']);
    inHost('standby2', ['pg_createcluster', '15', 'main', '-p', '5432', '--start', '--', '--no-sync']);
  });

  it('is cloned from its upstream standby and streams from it; a row written on the primary reaches it through lab_one', async () => {
    const run = await runCli(['setup', '--config', cascade, '--standby', 'lab_three', '--yes', '--restart-primary'], { PGREPL_PASSWORD: password });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('the upstream is a hot standby that streams');

    // The upstream holds the slot, the hba line and the walsender; the primary knows nothing of lab_three.
    expect(psqlIn('standby', 'SELECT application_name, host(client_addr), state FROM pg_stat_replication')).toBe(`lab_three|${standby2Ip}|streaming`);
    expect(psqlIn('standby', "SELECT active FROM pg_replication_slots WHERE slot_name = 'lab_three'")).toBe('t');
    expect(psqlIn('standby', `SELECT count(*) FROM pg_hba_file_rules WHERE address = '${standby2Ip}' AND 'replication' = ANY(database)`)).toBe('1');
    expect(psqlIn('primary', 'SELECT string_agg(application_name, \',\') FROM pg_stat_replication')).toBe('lab_one');
    expect(psqlIn('standby2', 'SELECT sender_host FROM pg_stat_wal_receiver')).toBe(lab.standbyIp);

    psqlIn('primary', "INSERT INTO t VALUES (3001, 'down the chain')", 'appdb');
    expect(await until(() => psqlIn('standby2', 'SELECT note FROM t WHERE id = 3001', 'appdb') || undefined, 'the row on standby2')).toBe('down the chain');

    const inspect = await runCli(['inspect', '--config', cascade, '--standby', 'lab_three']);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(inspect.stdout).toContain(`standbys streaming from it (pg_stat_replication): lab_three from ${standby2Ip} (streaming, async, slot lab_three)`);
    const status = await runCli(['status', '--json', '--config', cascade, '--standby', 'lab_three']);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    const document = JSON.parse(status.stdout) as { standby: { senderHost: string }; upstream: { standbys: { applicationName: string; thisStandby: boolean }[] } };
    expect(document.standby.senderHost).toBe(lab.standbyIp);
    expect(document.upstream.standbys.map((row) => [row.applicationName, row.thisStandby])).toEqual([['lab_three', true]]);
  });
});
